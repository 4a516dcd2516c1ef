//! `GET /sessions`: the caller's live sessions, newest first. A session started on a password
//! since changed is over even if its item is still there (a sweep that failed): it is not listed.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shared::auth::authenticate;
use shared::clock::now_seconds;
use shared::response::json_response;
use shared::runtime::{Event, EventResponse, respond};
use shared::session::SessionView;
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        list_sessions(state, request)
    })
    .await
}

#[derive(Serialize)]
struct Sessions<'a> {
    sessions: Vec<SessionView<'a>>,
}

async fn list_sessions(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let authenticated = authenticate(state, &request).await?;
    let (user, current) = (&authenticated.user, authenticated.session.id);
    let sessions = state.users.sessions(&user.id, now_seconds()).await?;
    let sessions = sessions
        .iter()
        .filter(|session| session.is_current_for(user))
        .map(|session| SessionView::new(session, session.id == current))
        .collect();
    Ok(json_response(StatusCode::OK, &Sessions { sessions }))
}
