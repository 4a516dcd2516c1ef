//! The one answer to every sign-in (register, login, refresh): a new access token for the
//! session, the session's current refresh token, and the user.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::response::json_response;
use crate::session::{RefreshToken, Session};
use crate::state::AppState;
use crate::token::AccessToken;
use crate::user::User;

/// Signs `user` in to `session`: issues an access token and answers `status` with
/// [`TokenResponse`].
pub fn signed_in(
    state: &AppState,
    status: StatusCode,
    user: &User,
    session: &Session,
) -> Result<Response<Body>, ApiError> {
    let access = state
        .tokens
        .issue(&user.id, &session.id, user.email_verified)?;
    let refresh = state.refresh_tokens.current(session);
    Ok(json_response(
        status,
        &TokenResponse::new(&access, &refresh, user),
    ))
}

/// The body of a successful register, login or refresh: a bearer token, the session's refresh
/// token and the user they belong to.
#[derive(Debug, Serialize)]
pub struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: &'a str,
    user: &'a User,
}

impl<'a> TokenResponse<'a> {
    /// The response for `user` signed in with `token` and `refresh`.
    pub fn new(token: &'a AccessToken, refresh: &'a RefreshToken, user: &'a User) -> Self {
        Self {
            access_token: token.expose_secret(),
            token_type: "Bearer",
            expires_in: token.expires_in,
            refresh_token: refresh.expose_secret(),
            user,
        }
    }
}
