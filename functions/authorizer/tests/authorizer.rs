//! The authorizer through its real handler, fed API Gateway's authorizer payload (events/), against
//! the local DynamoDB `make test` starts.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use aws_lambda_events::event::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::AppState;
use shared::testing::{event, new_user, outage_endpoints, sign_in, state, state_with_dynamodb_at};

const PLACEHOLDER: &str = "REPLACE_WITH_AN_ACCESS_TOKEN_FROM_REGISTER_OR_LOGIN";

fn authorizer_event(
    authorization: Option<&str>,
) -> LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request> {
    let mut event = event("authorizer/ok");
    match authorization {
        Some(value) => {
            let text = event
                .to_string()
                .replace(&format!("Bearer {PLACEHOLDER}"), value);
            event = serde_json::from_str(&text).expect("JSON");
        }
        None => {
            event["identitySource"] = json!([]);
            event["headers"]
                .as_object_mut()
                .expect("headers")
                .remove("authorization");
        }
    }
    LambdaEvent::new(
        serde_json::from_value(event).expect("an authorizer event"),
        Context::default(),
    )
}

async fn decide(state: &AppState, authorization: Option<&str>) -> (bool, Value) {
    let decision = authorizer::handler(state, authorizer_event(authorization))
        .await
        .expect("a decision");
    (decision.is_authorized, decision.context)
}

#[tokio::test]
async fn a_live_session_is_allowed_with_its_claims_in_the_context() {
    let state = state().await;
    let user = new_user(&state, "authorizer-ok").await;
    let me = sign_in(&state, &user).await;

    let (allowed, context) = decide(&state, Some(&me.bearer)).await;

    assert!(allowed);
    assert_eq!(
        context,
        json!({"sub": user.id.to_string(), "sid": me.session.id.to_string(), "email_verified": false})
    );
}

/// Logout is immediate behind the authorizer too: the token still verifies, its session is over.
#[tokio::test]
async fn an_ended_session_is_denied_at_once() {
    let state = state().await;
    let user = new_user(&state, "authorizer-logout").await;
    let me = sign_in(&state, &user).await;
    assert!(decide(&state, Some(&me.bearer)).await.0);
    state
        .users
        .end_session(&user.id, &me.session.id)
        .await
        .expect("ended");
    assert_eq!(decide(&state, Some(&me.bearer)).await, (false, json!({})));
}

#[tokio::test]
async fn no_token_a_bad_token_or_another_scheme_is_denied() {
    let state = state().await;
    for authorization in [
        None,
        Some("Bearer not-a-jwt"),
        Some("Basic YWRhOmFkYQ=="),
        Some("Bearer "),
    ] {
        assert_eq!(
            decide(&state, authorization).await,
            (false, json!({})),
            "{authorization:?}"
        );
    }
}

/// A database outage is no deny (which would look like a revoked token): the invocation fails
/// and API Gateway answers 500, which clients retry.
#[tokio::test]
async fn an_outage_fails_the_invocation_instead_of_denying() {
    let healthy = state().await;
    let user = new_user(&healthy, "authorizer-outage").await;
    let me = sign_in(&healthy, &user).await;
    for endpoint in outage_endpoints().await {
        let state = state_with_dynamodb_at(&endpoint).await;
        let result = authorizer::handler(&state, authorizer_event(Some(&me.bearer))).await;
        assert!(result.is_err(), "{endpoint}");
    }
}
