//! `GET /profile`: the signed-in user.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use shared::auth::authenticate;
use shared::http::{json_response, serve};
use shared::{ApiError, AppState};

/// The Lambda handler: never returns `Err` for anything a client can send.
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    serve(request, "GET", |request| profile(state, request)).await
}

async fn profile(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let principal = authenticate(&state.tokens, &request)?;
    // A valid token for a deleted account is no longer a credential.
    let user = state.users.get(&principal.user_id).await?.ok_or_else(|| {
        tracing::debug!(user_id = %principal.user_id, "token for a user that no longer exists");
        ApiError::InvalidToken
    })?;
    Ok(json_response(StatusCode::OK, &user))
}
