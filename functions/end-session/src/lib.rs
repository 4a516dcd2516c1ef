//! `DELETE /sessions/{id}`: ends one of the caller's sessions (their current one included).

use lambda_http::{Body, Request, Response};
use shared::auth::authenticate;
use shared::browser::clear_cookie;
use shared::clock::now_seconds;
use shared::http::path_parameter;
use shared::response::no_content;
use shared::runtime::{Event, EventResponse, respond};
use shared::session::SessionId;
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| end_session(state, request)).await
}

async fn end_session(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let authenticated = authenticate(state, &request).await?;
    // Sessions are keyed under their user: another user's session id finds nothing here, and
    // answers exactly like an id that exists nowhere.
    let id = path_parameter(&request, "id")
        .and_then(|raw| SessionId::parse(&raw))
        .ok_or(ApiError::SessionNotFound)?;
    let user_id = authenticated.user.id;
    if state
        .users
        .end_live_session(&user_id, &id, now_seconds())
        .await?
    {
        tracing::info!(user_id = %user_id, session_id = %id, "session ended");
        // Ending the session this browser is in: its refresh cookie goes with it.
        if id == authenticated.session.id {
            Ok(clear_cookie(&request, no_content()))
        } else {
            Ok(no_content())
        }
    } else {
        Err(ApiError::SessionNotFound)
    }
}
