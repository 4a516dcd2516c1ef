//! Bearer-token authentication for protected routes.

use lambda_http::Request;
use lambda_http::http::header;

use crate::error::ApiError;
use crate::token::TokenService;
use crate::user::UserId;

/// Who a valid token says is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user the token was issued to.
    pub user_id: UserId,
    /// The token's `jti`.
    pub token_id: String,
}

/// Checks the `Authorization: Bearer <token>` header (RFC 6750).
///
/// - No `Authorization` header, or one with another scheme (`Basic ...`): no bearer token was
///   presented, [`ApiError::MissingToken`], whose challenge carries no error code (§3.1).
/// - More than one `Authorization` header (API Gateway joins repeats with commas, which a JWT
///   never holds), an empty bearer token, or one that fails verification:
///   [`ApiError::InvalidToken`], challenged with `error="invalid_token"`.
///
/// Both are 401s with `WWW-Authenticate`; the reason is logged at debug level only.
pub fn authenticate(tokens: &TokenService, request: &Request) -> Result<Principal, ApiError> {
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::MissingToken);
    };
    let rejected = |reason: &'static str| {
        tracing::debug!(reason, "authorization rejected");
        ApiError::InvalidToken
    };
    if values.next().is_some() {
        return Err(rejected("more than one authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| rejected("authorization header is not text"))?;
    if value.contains(',') {
        return Err(rejected("more than one authorization header"));
    }
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        tracing::debug!("authorization header is not a bearer token");
        return Err(ApiError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(rejected("empty bearer token"));
    }
    let claims = tokens.verify(token).map_err(|rejected| {
        tracing::debug!(reason = %rejected, "access token rejected");
        ApiError::InvalidToken
    })?;
    let user_id = UserId::parse(&claims.sub).ok_or_else(|| rejected("subject is not a user id"))?;
    Ok(Principal {
        user_id,
        token_id: claims.jti,
    })
}
