//! The one answer to every sign-in (register, login, refresh): a new access token for the
//! session, the session's current refresh token (in the body, or in the browser's cookie), and
//! the user.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::browser::RefreshCookie;
use crate::clock::now_seconds;
use crate::error::ApiError;
use crate::json_body::JsonFields;
use crate::response::json_response;
use crate::session::{RefreshToken, Session};
use crate::state::AppState;
use crate::token::AccessToken;
use crate::user::User;

/// The optional field of `POST /login` and `POST /register` that asks for the refresh token in
/// the cookie: `"refresh_token_delivery": "cookie"` (`"body"`, the default, as before).
pub const DELIVERY_FIELD: &str = "refresh_token_delivery";

/// Where a sign-in's refresh token goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// In the JSON body, `refresh_token` (every client; the default).
    Body,
    /// In the `HttpOnly` refresh cookie, and not in the body (a browser that asked for it).
    Cookie(RefreshCookie),
}

impl Delivery {
    /// Reads [`DELIVERY_FIELD`]: `Some(true)` for `"cookie"`, `Some(false)` for `"body"` or
    /// absent, `None` (a field error) for anything else.
    pub fn wants_cookie(fields: &mut JsonFields) -> Option<bool> {
        fields
            .optional(DELIVERY_FIELD, |raw| match raw {
                "cookie" => Ok(true),
                "body" => Ok(false),
                _ => Err("must be `body` or `cookie`"),
            })
            .map(|choice| choice.unwrap_or(false))
    }

    /// The delivery a sign-in asked for: the cookie only for a browser page of a trusted origin
    /// (`403 origin_not_allowed` otherwise, before anything is written).
    pub fn asked(state: &AppState, request: &Request, cookie: bool) -> Result<Self, ApiError> {
        if !cookie {
            return Ok(Self::Body);
        }
        state.browser.check_origin(request)?;
        RefreshCookie::for_request(request)
            .map(Self::Cookie)
            .ok_or(ApiError::OriginNotAllowed)
    }
}

/// Signs `user` in to `session`: issues an access token and answers `status` with
/// [`TokenResponse`], the refresh token delivered as `delivery` says.
pub fn signed_in(
    state: &AppState,
    status: StatusCode,
    user: &User,
    session: &Session,
    delivery: &Delivery,
) -> Result<Response<Body>, ApiError> {
    let access = state
        .tokens
        .issue(&user.id, &session.id, user.email_verified)?;
    let refresh = state.refresh_tokens.current(session);
    let Delivery::Cookie(cookie) = delivery else {
        return Ok(json_response(
            status,
            &TokenResponse::new(&access, Some(&refresh), user),
        ));
    };
    let mut response = json_response(status, &TokenResponse::new(&access, None, user));
    let lifetime = session.expires_at.saturating_sub(now_seconds());
    let set_cookie = cookie
        .set(refresh.expose_secret(), lifetime)
        .ok_or_else(|| ApiError::internal("a refresh token that is not a cookie value"))?;
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie);
    Ok(response)
}

/// The body of a successful register, login or refresh: a bearer token, the session's refresh
/// token (unless it went into the cookie) and the user they belong to.
#[derive(Debug, Serialize)]
pub struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    user: &'a User,
}

impl<'a> TokenResponse<'a> {
    /// The response for `user` signed in with `token`, and `refresh` when it travels in the body.
    pub fn new(token: &'a AccessToken, refresh: Option<&'a RefreshToken>, user: &'a User) -> Self {
        Self {
            access_token: token.expose_secret(),
            token_type: "Bearer",
            expires_in: token.expires_in,
            refresh_token: refresh.map(RefreshToken::expose_secret),
            user,
        }
    }
}
