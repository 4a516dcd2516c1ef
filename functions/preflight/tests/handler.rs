//! `OPTIONS` (CORS preflights) through the real handler, fed the payloads in events/.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use lambda_http::http::StatusCode;
use shared::testing::{event, lambda_event, parts, state};

#[tokio::test]
async fn an_allowed_origin_is_granted_the_apis_methods_and_headers_for_two_hours() {
    let state = state().await;
    let (status, headers, body) =
        parts(preflight::handler(&state.browser, lambda_event(&event("preflight/ok"))).await);

    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:9002"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(
        headers["access-control-allow-methods"],
        "GET, POST, PUT, PATCH, DELETE"
    );
    assert_eq!(
        headers["access-control-allow-headers"],
        "Authorization, Content-Type, If-Match"
    );
    assert_eq!(headers["access-control-max-age"], "7200");
    assert_eq!(headers["vary"], "Origin");
}

#[tokio::test]
async fn any_other_origin_is_granted_nothing() {
    let state = state().await;
    let (status, headers, _) = parts(
        preflight::handler(
            &state.browser,
            lambda_event(&event("preflight/other-origin")),
        )
        .await,
    );

    assert_eq!(status, StatusCode::NO_CONTENT);
    for granted in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
    ] {
        assert!(headers.get(granted).is_none(), "{granted}");
    }
}
