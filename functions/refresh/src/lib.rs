//! `POST /refresh`: a refresh token for a new access token and a new refresh token (rotation on
//! every use), with reuse detection.
//!
//! The presented token's generation decides: the current one rotates the session (one
//! conditional write); the one just rotated, within the reuse grace, gets the session's current
//! token without rotating (so concurrent refreshes converge on one token); anything older is
//! reuse of a token that was stolen or leaked, and ends the whole session.
//!
//! The token comes in the body (`{"refresh_token": …}`, every client) or, for a browser that
//! signed in asking for it, in the `HttpOnly` refresh cookie with a body of `{}` from a trusted
//! origin ([`shared::browser`]); the next token goes back the way the presented one came. A
//! cookie that is refused is cleared.

use std::convert::Infallible;

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use shared::clock::now_millis;
use shared::http::error_response;
use shared::json_body::{missing_field, parse_json_body};
use shared::runtime::{Event, EventResponse, respond};
use shared::session::{PresentedToken, Refresh};
use shared::signin::{Delivery, signed_in};
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| refresh(state, request)).await
}

/// Rotation races: a refresh that lost one re-reads the session once and answers from it.
const ATTEMPTS: usize = 2;

async fn refresh(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let in_body = parse_json_body(&request, |fields| {
        fields.optional("refresh_token", |raw| {
            Ok::<_, Infallible>(SecretString::from(raw))
        })
    })?;
    if let Some(raw) = in_body {
        return rotate(state, raw, &Delivery::Body).await;
    }
    // No token in the body: the browser's cookie, or the field is missing as it always was.
    let Some((cookie, raw)) = state.browser.cookie_credential(&request)? else {
        return Err(missing_field("refresh_token"));
    };
    let clear = cookie.clear();
    match rotate(state, raw, &Delivery::Cookie(cookie)).await {
        // A dead token is of no use to keep: the browser forgets it.
        Err(ApiError::InvalidGrant) => {
            let mut response = error_response(ApiError::InvalidGrant);
            response.headers_mut().append(header::SET_COOKIE, clear);
            Ok(response)
        }
        answer => answer,
    }
}

/// Checks the presented token and answers with the session's next one, as `delivery` says.
async fn rotate(
    state: &AppState,
    raw: SecretString,
    delivery: &Delivery,
) -> Result<Response<Body>, ApiError> {
    let rejected = |reason: &'static str| {
        tracing::debug!(reason, "refresh token rejected");
        ApiError::InvalidGrant
    };
    let presented =
        PresentedToken::parse(raw.expose_secret()).ok_or_else(|| rejected("malformed"))?;
    let (user, session) = state
        .users
        .get_with_session(&presented.user_id, &presented.session_id)
        .await?;
    let (Some(user), Some(mut session)) = (user, session) else {
        return Err(rejected("no such session"));
    };
    if !session.is_current_for(&user) {
        return Err(rejected("session started on an old password"));
    }
    if !state.refresh_tokens.verify(&session, &presented) {
        return Err(rejected("not a token of this session"));
    }
    let settings = *state.refresh_tokens.settings();
    for _ in 0..ATTEMPTS {
        let now = now_millis();
        match session.refresh_decision(presented.generation, now, settings.reuse_grace) {
            Refresh::Expired => return Err(rejected("session expired")),
            Refresh::Rotate => {
                let rotated = session.rotated(now, &settings);
                if state.users.rotate(&rotated).await? {
                    return signed_in(state, StatusCode::OK, &user, &rotated, delivery);
                }
                // A concurrent refresh rotated first, or the session ended: look again.
                session = state
                    .users
                    .get_session(&user.id, &session.id)
                    .await?
                    .ok_or_else(|| rejected("session ended"))?;
            }
            // Two tabs, or a retry: the same session's current token, no new rotation.
            Refresh::Grace => {
                return signed_in(state, StatusCode::OK, &user, &session, delivery);
            }
            Refresh::Reuse => {
                tracing::warn!(
                    user_id = %user.id,
                    session_id = %session.id,
                    "refresh token reuse detected; the session is ended"
                );
                state.users.end_session(&user.id, &session.id).await?;
                return Err(ApiError::InvalidGrant);
            }
        }
    }
    Err(rejected("kept losing rotation races"))
}
