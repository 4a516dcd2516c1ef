//! `DELETE /sessions`: "sign out everywhere else": ends every session of the caller but the
//! current one.

use lambda_http::{Body, Request, Response};
use shared::auth::authenticate;
use shared::clock::now_seconds;
use shared::response::no_content;
use shared::runtime::{Event, EventResponse, respond};
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        end_other_sessions(state, request)
    })
    .await
}

async fn end_other_sessions(
    state: &AppState,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let authenticated = authenticate(state, &request).await?;
    let ended = state
        .users
        .end_sessions_except(
            &authenticated.user.id,
            &authenticated.session.id,
            now_seconds(),
        )
        .await?;
    tracing::info!(user_id = %authenticated.user.id, ended, "other sessions ended");
    Ok(no_content())
}
