//! `GET /.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517): every
//! published key (`next`, `current`, `previous`), with `kid`, `alg` and `use: sig`. Public and
//! cacheable (`Cache-Control: public, max-age=3600`); built from the keyset loaded at cold start.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::response::public_json_response;
use shared::runtime::{Event, EventResponse, respond};
use shared::state::TokenKeys;
use shared::token::JWKS_MAX_AGE_SECONDS;

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &TokenKeys, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| jwks(state, request)).await
}

async fn jwks(state: &TokenKeys, _request: Request) -> Result<Response<Body>, ApiError> {
    let jwks = state
        .tokens
        .jwks()
        .ok_or_else(|| ApiError::internal("HS256 keys are secret: there is no JWKS"))?;
    Ok(public_json_response(&jwks, JWKS_MAX_AGE_SECONDS))
}
