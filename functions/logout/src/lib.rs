//! `POST /logout`: ends a session. With a bearer token, that token's session; without one, the
//! session of the refresh token in the body, answering `204` whether or not it was valid
//! (RFC 7009 §2.2), so a client whose access token has expired can still sign out.

use std::convert::Infallible;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use shared::auth::{authenticate, presents_credentials};
use shared::http::{no_content, parse_json_body};
use shared::runtime::{Event, EventResponse, respond};
use shared::session::PresentedToken;
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(event, Method::POST, |request| logout(state, request)).await
}

async fn logout(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    if presents_credentials(&request) {
        let authenticated = authenticate(state, &request).await?;
        let principal = &authenticated.principal;
        state
            .users
            .end_session(&principal.user_id, &principal.session_id)
            .await?;
        tracing::info!(user_id = %principal.user_id, "signed out");
        return Ok(no_content());
    }
    if request.body().is_empty() {
        return Err(ApiError::MissingToken);
    }
    let raw = parse_json_body(&request, |fields| {
        fields.required("refresh_token", |raw| {
            Ok::<_, Infallible>(SecretString::from(raw))
        })
    })?;
    if let Some(presented) = PresentedToken::parse(raw.expose_secret()) {
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
    Ok(no_content())
}
