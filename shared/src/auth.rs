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

/// Checks the `Authorization: Bearer <token>` header.
///
/// No header is [`ApiError::MissingToken`]; anything else wrong ([`ApiError::InvalidToken`]): a
/// header that is not a bearer token, or a token that fails verification. Both are 401s with
/// `WWW-Authenticate`; the reason is logged at debug level only.
pub fn authenticate(tokens: &TokenService, request: &Request) -> Result<Principal, ApiError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::MissingToken);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            tracing::debug!("authorization header is not a bearer token");
            ApiError::InvalidToken
        })?;
    let claims = tokens.verify(token).map_err(|rejected| {
        tracing::debug!(reason = %rejected, "access token rejected");
        ApiError::InvalidToken
    })?;
    let user_id = UserId::parse(&claims.sub).ok_or_else(|| {
        tracing::debug!("token subject is not a user id");
        ApiError::InvalidToken
    })?;
    Ok(Principal {
        user_id,
        token_id: claims.jti,
    })
}
