//! `POST /logout` from a browser signed in with the refresh cookie, through the real handler:
//! `{}` ends the cookie's session and clears the cookie, from a trusted origin only.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use lambda_http::http::StatusCode;
use serde_json::json;
use shared::testing::{
    WEB_ORIGIN, auth_status, event, from_browser, lambda_event, new_user, parts, set_cookie,
    sign_in, state, with_header, with_json_body,
};

/// `POST /logout` with `{}` and the cookie only (no bearer token: it may have expired).
fn cookie_logout(origin: &str, token: &str) -> serde_json::Value {
    let mut event = with_header(event("logout/ok"), "content-type", "application/json");
    event["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("authorization");
    from_browser(with_json_body(event, &json!({})), origin, Some(token))
}

#[tokio::test]
async fn the_cookie_alone_signs_out_and_is_cleared() {
    let state = state().await;
    let session = sign_in(&state, &new_user(&state, "logout-cookie").await).await;

    let answer = logout::handler(
        &state,
        lambda_event(&cookie_logout(WEB_ORIGIN, &session.refresh_token)),
    )
    .await;
    let cleared = set_cookie(&answer).expect("the cookie is cleared");
    let (status, headers, body) = parts(answer);

    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(
        cleared.starts_with("refresh_token=; Max-Age=0; Path=/; HttpOnly"),
        "{cleared}"
    );
    assert_eq!(headers["access-control-allow-origin"], WEB_ORIGIN);
    assert_eq!(
        auth_status(&state, &session.bearer).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn another_origin_cannot_sign_a_browser_out_with_its_cookie() {
    let state = state().await;
    let session = sign_in(&state, &new_user(&state, "logout-cookie-evil").await).await;

    let answer = logout::handler(
        &state,
        lambda_event(&cookie_logout(
            "https://evil.example",
            &session.refresh_token,
        )),
    )
    .await;
    assert!(set_cookie(&answer).is_none());
    let (status, _, body) = parts(answer);

    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    assert_eq!(
        auth_status(&state, &session.bearer).await,
        StatusCode::OK,
        "nothing ended"
    );
}
