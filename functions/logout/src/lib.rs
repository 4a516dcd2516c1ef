//! `POST /logout`: ends the session of every credential presented: the bearer token's, and the
//! refresh token's in the body or, with a JSON body without one (`{}`), in the browser's refresh
//! cookie (from a trusted origin only). A refresh token is answered `204` whether or not it was
//! valid (RFC 7009 §2.2), so a client whose access token has expired can still sign out. A
//! browser's refresh cookie is cleared.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use shared::auth::{authenticate, presents_credentials};
use shared::browser::clear_cookie;
use shared::json_body::{missing_field, parse_json_body};
use shared::response::no_content;
use shared::runtime::{Event, EventResponse, respond};
use shared::session::PresentedToken;
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| logout(state, request)).await
}

async fn logout(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    // Everything is checked before anything ends: a request that is refused changes nothing.
    let bearer = if presents_credentials(&request) {
        Some(authenticate(state, &request).await?.principal)
    } else {
        None
    };
    // A body is parsed strictly whenever there is one (with a bearer token too: a malformed body
    // is a 400, never silently ignored); without a bearer token it is the only credential.
    let refresh_token = if request.body().is_empty() {
        None
    } else {
        let in_body = parse_json_body(&request, |fields| {
            fields.optional("refresh_token", |raw| {
                Ok::<_, Infallible>(SecretString::from(raw))
            })
        })?;
        match in_body {
            Some(token) => Some(token),
            // A JSON body without a token: the browser's cookie, from a trusted origin only.
            None => match state.browser.cookie_credential(&request)? {
                Some((_, token)) => Some(token),
                None if bearer.is_none() => return Err(missing_field("refresh_token")),
                None => None,
            },
        }
    };
    if bearer.is_none() && refresh_token.is_none() {
        return Err(ApiError::MissingToken);
    }

    if let Some(principal) = bearer {
        state
            .users
            .end_session(&principal.user_id, &principal.session_id)
            .await?;
        tracing::info!(user_id = %principal.user_id, "signed out");
    }
    // Ends the refresh token's session if it is valid; answers the same whether or not it was.
    if let Some(presented) = refresh_token
        .as_ref()
        .and_then(|raw| PresentedToken::parse(raw.expose_secret()))
    {
        let session = state
            .users
            .get_session(&presented.user_id, &presented.session_id)
            .await?;
        if let Some(session) = session.filter(|s| state.refresh_tokens.verify(s, &presented)) {
            state
                .users
                .end_session(&session.user_id, &session.id)
                .await?;
            tracing::info!(user_id = %session.user_id, "signed out with a refresh token");
        }
    }
    Ok(clear_cookie(&request, no_content()))
}
