//! A Lambda authorizer for API Gateway HTTP APIs (payload 2.0, simple responses), for a product's
//! own routes on this API or on its own HTTP API: it allows a request whose `Authorization` is a
//! valid access token **of a live session** (the same check as this API's own routes: logout
//! ends the token at once here too) and passes `sub`, `sid` and `email_verified` to the
//! integration as the authorizer context (`$context.authorizer.sub`, or
//! `requestContext.authorizer.lambda.sub` in the integration's event).
//!
//! Anything wrong with the token is a deny (API Gateway answers `403`); the database being
//! unavailable is an invocation error (API Gateway answers `500`, and a client retries), never a
//! deny that would look like a revoked token. Result caching: off by default in the template;
//! with a TTL, a logged-out token keeps passing for up to that TTL.

use aws_lambda_events::event::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use shared::auth::authenticate_header;
use shared::{ApiError, AppState};

/// What the authorizer answers.
pub type Decision = ApiGatewayV2CustomAuthorizerSimpleResponse;

/// The Lambda handler: one authorizer event in, allow (with context) or deny out.
pub async fn handler(
    state: &AppState,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<Decision, lambda_runtime::Error> {
    shared::runtime::invocation(env!("CARGO_PKG_NAME"), decide(state, event.payload)).await
}

async fn decide(
    state: &AppState,
    request: ApiGatewayV2CustomAuthorizerV2Request,
) -> Result<Decision, lambda_runtime::Error> {
    // The identity source the route configures ($request.header.Authorization), or the header.
    let authorization = request
        .identity_source
        .as_ref()
        .and_then(|sources| sources.first().cloned())
        .or_else(|| {
            request
                .headers
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        });
    let Some(authorization) = authorization else {
        tracing::info!(allowed = false, "no Authorization");
        return Ok(deny());
    };
    match authenticate_header(state, &authorization).await {
        Ok(authenticated) => {
            tracing::info!(allowed = true, user_id = %authenticated.user.id, "authorized");
            let mut decision = Decision::default();
            decision.is_authorized = true;
            decision.context = json!({
                "sub": authenticated.user.id.to_string(),
                "sid": authenticated.principal.session_id.to_string(),
                "email_verified": authenticated.user.email_verified,
            });
            Ok(decision)
        }
        Err(error @ (ApiError::Unavailable(_) | ApiError::Internal(_))) => {
            tracing::error!(code = error.code(), error = %error, "cannot decide");
            Err(error.into())
        }
        Err(error) => {
            tracing::info!(allowed = false, code = error.code(), "denied");
            Ok(deny())
        }
    }
}

fn deny() -> Decision {
    let mut decision = Decision::default();
    decision.is_authorized = false;
    decision.context = json!({});
    decision
}
