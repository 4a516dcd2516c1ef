//! `GET /.well-known/openid-configuration`: OpenID Connect Discovery metadata for verifiers (API
//! Gateway's JWT authorizer, JWKS libraries): the `issuer` (every token's `iss`), the `jwks_uri`
//! and the signing algorithm. Public and cacheable, like the JWKS.

use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::ApiError;
use shared::response::public_json_response;
use shared::runtime::{Event, EventResponse, respond};
use shared::state::Discovery;
use shared::token::JWKS_MAX_AGE_SECONDS;

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &Discovery, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        openid_configuration(state, request)
    })
    .await
}

async fn openid_configuration(
    state: &Discovery,
    _request: Request,
) -> Result<Response<Body>, ApiError> {
    let issuer = &state.issuer;
    let algorithm = &state.algorithm;
    let document = json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
        // What OpenID Discovery requires of every provider; this API issues access tokens only.
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [algorithm],
        "token_endpoint_auth_methods_supported": ["none"],
    });
    Ok(public_json_response(&document, JWKS_MAX_AGE_SECONDS))
}
