//! `POST /logout` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use lambda_http::http::{StatusCode, header};
use serde_json::{Value, json};
use shared::AppState;
use shared::testing::{
    auth_status, event, lambda_event, new_user, parts, sign_in, state, with_header, with_json_body,
};

async fn logout(
    state: &AppState,
    event: &Value,
) -> (StatusCode, lambda_http::http::HeaderMap, Value) {
    parts(logout::handler(state, lambda_event(event)).await)
}

#[tokio::test]
async fn a_bearer_token_ends_its_own_session_at_once() {
    let state = state().await;
    let user = new_user(&state, "logout-bearer").await;
    let this = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;

    let event = with_header(event("logout/ok"), "authorization", &this.bearer);
    let (status, headers, body) = logout(&state, &event).await;

    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null, "no body");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        auth_status(&state, &this.bearer).await,
        StatusCode::UNAUTHORIZED
    );
    let stored = state
        .users
        .get_session(&user.id, &this.session.id)
        .await
        .expect("read");
    assert!(stored.is_none(), "its refresh token is dead too");
    assert_eq!(
        auth_status(&state, &other.bearer).await,
        StatusCode::OK,
        "only that one"
    );
}

#[tokio::test]
async fn a_refresh_token_ends_its_session_without_an_access_token() {
    let state = state().await;
    let user = new_user(&state, "logout-refresh").await;
    let session = sign_in(&state, &user).await;
    let event = with_json_body(
        event("logout/refresh-token"),
        &json!({"refresh_token": session.refresh_token}),
    );
    assert_eq!(logout(&state, &event).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        auth_status(&state, &session.bearer).await,
        StatusCode::UNAUTHORIZED
    );
}

/// RFC 7009 §2.2: an invalid refresh token is answered like a valid one.
#[tokio::test]
async fn an_invalid_refresh_token_still_gets_204() {
    let state = state().await;
    for name in ["logout/unknown-refresh-token", "logout/refresh-token"] {
        let (status, _, body) = logout(&state, &event(name)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}: {body}");
    }
}

#[tokio::test]
async fn without_credentials_or_with_a_bad_token_it_is_401() {
    let state = state().await;
    let (status, headers, body) = logout(&state, &event("logout/no-credentials")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "missing_token");
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"accounts\""
    );

    let (status, _, body) = logout(&state, &event("logout/expired-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_token");
}

#[tokio::test]
async fn logging_out_twice_is_401_the_second_time() {
    let state = state().await;
    let session = sign_in(&state, &new_user(&state, "logout-twice").await).await;
    let event = with_header(event("logout/ok"), "authorization", &session.bearer);
    assert_eq!(logout(&state, &event).await.0, StatusCode::NO_CONTENT);
    assert_eq!(logout(&state, &event).await.0, StatusCode::UNAUTHORIZED);
}

/// With a bearer token the body is still parsed strictly (never silently ignored), and a refresh
/// token in it ends its session too; a refused request ends nothing.
#[tokio::test]
async fn a_bearer_token_with_a_body_ends_both_sessions_and_a_bad_body_ends_none() {
    let state = state().await;
    let user = new_user(&state, "logout-both").await;
    let this = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;

    // (`{}` with a bearer token is fine: a browser's sign-out whose refresh cookie is gone.)
    for bad in [json!({"refresh_token": 7}), json!({"token": "x"})] {
        let event = with_json_body(bearer_with_body(&this.bearer), &bad);
        let (status, _, body) = logout(&state, &event).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "validation_failed");
    }
    assert_eq!(auth_status(&state, &this.bearer).await, StatusCode::OK);

    let event = with_json_body(
        bearer_with_body(&this.bearer),
        &json!({"refresh_token": other.refresh_token}),
    );
    assert_eq!(logout(&state, &event).await.0, StatusCode::NO_CONTENT);
    for ended in [&this, &other] {
        assert_eq!(
            auth_status(&state, &ended.bearer).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

fn bearer_with_body(bearer: &str) -> Value {
    let event = with_header(event("logout/ok"), "authorization", bearer);
    with_header(event, "content-type", "application/json")
}
