//! `POST /refresh` with the browser's refresh cookie, through the real handler: the next token
//! goes back in the cookie and never in the body, only trusted origins may use it, a refused
//! cookie is cleared, and two tabs refreshing at once converge instead of signing each other out.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::json;
use shared::AppState;
use shared::runtime::EventResponse;
use shared::testing::{
    SignedIn, WEB_ORIGIN, cookie_token, create_user, event, from_browser, lambda_event, parts,
    set_cookie, sign_in, state, unique_email, with_json_body,
};
use tokio::task::JoinSet;

const PASSWORD: &str = "correct horse battery staple";

async fn signed_in(state: &AppState, tag: &str) -> SignedIn {
    let user = create_user(state, &unique_email(tag), PASSWORD).await;
    sign_in(state, &user).await
}

/// `POST /refresh` with `{}` and the cookie, from `origin`.
async fn refresh_with_cookie(state: &AppState, origin: &str, token: &str) -> EventResponse {
    let event = from_browser(
        with_json_body(event("refresh/ok"), &json!({})),
        origin,
        Some(token),
    );
    refresh::handler(state, lambda_event(&event)).await
}

#[tokio::test]
async fn the_cookie_rotates_into_a_new_cookie_and_the_body_holds_no_refresh_token() {
    let state = state().await;
    let first = signed_in(&state, "cookie-refresh").await;

    let answer = refresh_with_cookie(&state, WEB_ORIGIN, &first.refresh_token).await;
    let cookie = set_cookie(&answer).expect("a new cookie");
    let (status, headers, body) = parts(answer);

    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());
    let next = cookie_token(&cookie);
    assert_ne!(next, first.refresh_token, "rotated");
    assert!(
        cookie.starts_with("refresh_token=")
            && cookie.contains("; Path=/; HttpOnly; SameSite=Strict")
            && !cookie.contains("Max-Age=0;"),
        "{cookie}"
    );
    // A page of the allowed origin may read the answer, and only that origin.
    assert_eq!(headers["access-control-allow-origin"], WEB_ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["vary"], "Origin");
    // The new cookie refreshes again; the body mode is untouched by the cookie mode.
    let again = refresh_with_cookie(&state, WEB_ORIGIN, next).await;
    assert_eq!(again.status_code, 200);
}

#[tokio::test]
async fn another_origin_may_not_use_the_cookie_and_changes_nothing() {
    let state = state().await;
    let first = signed_in(&state, "cookie-origin").await;

    let answer = refresh_with_cookie(&state, "https://evil.example", &first.refresh_token).await;
    assert!(set_cookie(&answer).is_none());
    let (status, headers, body) = parts(answer);
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    assert!(headers.get("access-control-allow-origin").is_none());
    // The session did not rotate: its first token is still the current one.
    let stored = state
        .users
        .get_session(&first.session.user_id, &first.session.id)
        .await
        .expect("read")
        .expect("alive");
    assert_eq!(stored.generation, 0);
}

#[tokio::test]
async fn a_reused_cookie_ends_the_session_and_is_cleared() {
    let state = state().await;
    let first = signed_in(&state, "cookie-reuse").await;
    let second = refresh_with_cookie(&state, WEB_ORIGIN, &first.refresh_token).await;
    let second = cookie_token(&set_cookie(&second).expect("cookie")).to_owned();
    let third = refresh_with_cookie(&state, WEB_ORIGIN, &second).await;
    assert_eq!(third.status_code, 200);

    // The first token is two generations old: reuse, whatever the grace.
    let answer = refresh_with_cookie(&state, WEB_ORIGIN, &first.refresh_token).await;
    let cleared = set_cookie(&answer).expect("the cookie is cleared");
    let (status, _, body) = parts(answer);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_grant");
    assert!(
        cleared.starts_with("refresh_token=; Max-Age=0;"),
        "{cleared}"
    );
    assert!(
        state
            .users
            .get_session(&first.session.user_id, &first.session.id)
            .await
            .expect("read")
            .is_none(),
        "the session ended"
    );
}

/// Two tabs share one cookie jar: both refresh at once with the same cookie, both succeed, and
/// both are handed the same next token, so neither signs the other out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_tabs_refreshing_at_once_converge_on_one_cookie() {
    let state = Arc::new(state().await);
    let first = signed_in(&state, "cookie-tabs").await;
    let mut tabs = JoinSet::new();
    for _ in 0..2 {
        let (state, token) = (state.clone(), first.refresh_token.clone());
        tabs.spawn(async move { refresh_with_cookie(&state, WEB_ORIGIN, &token).await });
    }
    let answers = tabs.join_all().await;
    let cookies: Vec<String> = answers
        .iter()
        .map(|answer| {
            assert_eq!(answer.status_code, 200);
            cookie_token(&set_cookie(answer).expect("cookie")).to_owned()
        })
        .collect();
    assert_eq!(cookies[0], cookies[1], "one next token for both tabs");
    let again = refresh_with_cookie(&state, WEB_ORIGIN, &cookies[0]).await;
    assert_eq!(
        again.status_code, 200,
        "and it is the session's current one"
    );
}

#[tokio::test]
async fn without_a_cookie_or_a_token_the_field_is_missing_as_before() {
    let state = state().await;
    let event = from_browser(
        with_json_body(event("refresh/ok"), &json!({})),
        WEB_ORIGIN,
        None,
    );
    let (status, _, body) = parts(refresh::handler(&state, lambda_event(&event)).await);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["details"]["refresh_token"], "is required");
}
