//! `GET /profile` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use lambda_http::http::{StatusCode, header};
use serde_json::{Value, json};
use shared::testing::{create_user, event, parts, request, state, unique_email, with_header};

async fn profile(event: &Value) -> (StatusCode, lambda_http::http::HeaderMap, Value) {
    let state = state().await;
    parts(
        profile::handler(&state, request(event))
            .await
            .expect("never Err"),
    )
}

#[tokio::test]
async fn a_valid_token_returns_the_signed_in_user() {
    let state = state().await;
    let email = unique_email("profile-ok");
    let user = create_user(&state, &email, "correct horse battery staple").await;
    let token = state.tokens.issue(&user.id).expect("issued");
    let event = with_header(
        event("profile/ok"),
        "authorization",
        &format!("Bearer {}", token.expose_secret()),
    );

    let (status, headers, body) = profile(&event).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        body,
        json!({"id": user.id.to_string(), "email": email, "name": null,
               "created_at": user.created_at})
    );
}

#[tokio::test]
async fn a_missing_token_is_401_missing_token_with_a_bearer_challenge() {
    let (status, headers, body) = profile(&event("profile/missing-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"accounts\""
    );
    assert_eq!(body["error"]["code"], "missing_token");
}

#[tokio::test]
async fn every_bad_token_is_401_invalid_token() {
    let cases = [
        "profile/not-bearer",
        "profile/expired-token",
        "profile/not-yet-valid-token",
        "profile/alg-none-token",
        "profile/tampered-token",
        "profile/wrong-key-token",
        "profile/wrong-algorithm-token",
        "profile/wrong-issuer-token",
        "profile/wrong-audience-token",
        "profile/string-exp-token",
        // Signed correctly, but for a user that does not exist (e.g. deleted).
        "profile/unknown-user-token",
        // The placeholder left in the sample event for `cargo lambda invoke`.
        "profile/ok",
    ];
    for name in cases {
        let (status, headers, body) = profile(&event(name)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(body["error"]["code"], "invalid_token", "{name}");
        let challenge = headers[header::WWW_AUTHENTICATE].to_str().expect("ascii");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
    }
}

#[tokio::test]
async fn other_methods_get_405() {
    let mut event = event("profile/missing-token");
    event["requestContext"]["http"]["method"] = json!("DELETE");
    let (status, headers, _) = profile(&event).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET");
}
