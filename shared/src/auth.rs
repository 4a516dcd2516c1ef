//! Authentication for protected routes: one call, [`authenticate`], turns a request into who is
//! calling, in which live session, as which user.

use lambda_http::Request;
use lambda_http::http::header;

use crate::clock::now_seconds;
use crate::error::ApiError;
use crate::session::{Session, SessionId};
use crate::state::AppState;
use crate::token::TokenService;
use crate::user::{User, UserId};

/// Who a valid token says is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user the token was issued to.
    pub user_id: UserId,
    /// The session it was issued in.
    pub session_id: SessionId,
}

/// An authenticated request: the caller, their live session and their account.
#[derive(Debug)]
pub struct Authenticated {
    /// What the token says.
    pub principal: Principal,
    /// The session the token belongs to, alive now.
    pub session: Session,
    /// The account (without its password hash).
    pub user: User,
}

/// The one authentication step of every protected route: a valid bearer token
/// ([`verify_bearer`]) whose session is alive and whose user exists, checked with one strongly
/// consistent DynamoDB round trip that also reads the user. A token whose session has ended
/// (logout, reuse detection, expiry), was started on a password since changed, or whose user is
/// gone is [`ApiError::InvalidToken`].
pub async fn authenticate(state: &AppState, request: &Request) -> Result<Authenticated, ApiError> {
    let principal = verify_bearer(&state.tokens, request)?;
    check_session(state, principal).await
}

/// [`authenticate`] for one `Authorization` value, as a Lambda authorizer receives it (its
/// identity source): the same token rules, and the same session check, so a route behind the
/// authorizer stops accepting a token the moment its session ends, as this API's own routes do.
pub async fn authenticate_header(
    state: &AppState,
    authorization: &str,
) -> Result<Authenticated, ApiError> {
    let principal = verify_bearer_value(&state.tokens, authorization)?;
    check_session(state, principal).await
}

/// The session check of [`authenticate`]: the token's session is alive, its user exists, and the
/// session was started on the account's current password. One strongly consistent round trip.
async fn check_session(state: &AppState, principal: Principal) -> Result<Authenticated, ApiError> {
    let (user, session) = state
        .users
        .get_with_session(&principal.user_id, &principal.session_id)
        .await?;
    let Some(session) = session.filter(|session| session.is_live(now_seconds())) else {
        tracing::debug!(user_id = %principal.user_id, "token of an ended session");
        return Err(ApiError::InvalidToken);
    };
    let Some(user) = user else {
        tracing::debug!(user_id = %principal.user_id, "token for a user that no longer exists");
        return Err(ApiError::InvalidToken);
    };
    if !session.is_current_for(&user) {
        tracing::debug!(user_id = %principal.user_id, "token of a session started on an old password");
        return Err(ApiError::InvalidToken);
    }
    Ok(Authenticated {
        principal,
        session,
        user,
    })
}

/// Whether the request carries an `Authorization` header at all.
pub fn presents_credentials(request: &Request) -> bool {
    request.headers().contains_key(header::AUTHORIZATION)
}

/// Checks the `Authorization: Bearer <token>` header (RFC 6750).
///
/// - No `Authorization` header, or one with another scheme (`Basic ...`): no bearer token was
///   presented, [`ApiError::MissingToken`], whose challenge carries no error code (§3.1).
/// - More than one `Authorization` header (API Gateway joins repeats with commas, which a JWT
///   never holds), an empty bearer token, or one that fails verification:
///   [`ApiError::InvalidToken`], challenged with `error="invalid_token"`.
///
/// Both are 401s with `WWW-Authenticate`; the reason is logged at debug level only. This checks
/// the token alone: routes call [`authenticate`], which also checks the session.
pub fn verify_bearer(tokens: &TokenService, request: &Request) -> Result<Principal, ApiError> {
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
    verify_bearer_value(tokens, value)
}

/// [`verify_bearer`] for one header value already read.
pub fn verify_bearer_value(tokens: &TokenService, value: &str) -> Result<Principal, ApiError> {
    let rejected = |reason: &'static str| {
        tracing::debug!(reason, "authorization rejected");
        ApiError::InvalidToken
    };
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
    let session_id =
        SessionId::parse(&claims.sid).ok_or_else(|| rejected("sid is not a session id"))?;
    Ok(Principal {
        user_id,
        session_id,
    })
}
