//! `POST /login` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts. Each test creates its own account (its own key space).

use std::time::{Duration, Instant};

use lambda_http::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use shared::AppState;
use shared::testing::{
    assert_service_unavailable, create_user, event, outage_endpoints, parts, replace_in_body,
    request, state, state_with_dynamodb_at, unique_email,
};

const PASSWORD: &str = "correct horse battery staple";
const SAMPLE_EMAIL: &str = "ada.lovelace@example.com";

async fn login(state: &AppState, event: &Value) -> (StatusCode, HeaderMap, Value) {
    parts(
        login::handler(state, request(event))
            .await
            .expect("never Err"),
    )
}

/// A checked-in login event, aimed at `email` instead of the sample address.
fn login_event(name: &str, email: &str) -> Value {
    replace_in_body(event(name), SAMPLE_EMAIL, email)
}

fn invalid_credentials() -> Value {
    json!({"error": {"code": "invalid_credentials",
                     "message": "The email or password is incorrect."}})
}

#[tokio::test]
async fn login_with_the_right_password_returns_a_token_in_any_email_case() {
    let state = state().await;
    let email = unique_email("login-ok");
    let user = create_user(&state, &email, PASSWORD).await;
    // events/login/ok.json spells the address in upper case.
    let event = replace_in_body(
        event("login/ok"),
        "ADA.LOVELACE@example.com",
        &email.to_uppercase(),
    );

    let (status, headers, body) = login(&state, &event).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["id"], user.id.to_string());
    assert_eq!(body["user"]["email"], email);
    let claims = state
        .tokens
        .verify(body["access_token"].as_str().expect("token"))
        .expect("valid token");
    assert_eq!(claims.sub, user.id.to_string());
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_byte_identical_401s() {
    let state = state().await;
    let email = unique_email("login-enum");
    create_user(&state, &email, PASSWORD).await;

    let wrong = login_event("login/wrong-password", &email);
    let unknown = login_event("login/unknown-email", &unique_email("login-nobody"));
    let raw = |event: &Value| {
        let state = &state;
        let request = request(event);
        async move { login::handler(state, request).await.expect("never Err") }
    };
    let wrong = raw(&wrong).await;
    let unknown = raw(&unknown).await;

    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), unknown.status());
    assert_eq!(wrong.headers(), unknown.headers());
    assert_eq!(
        wrong.body().as_ref(),
        unknown.body().as_ref(),
        "byte-identical bodies"
    );
    let body: Value = serde_json::from_slice(wrong.body().as_ref()).expect("json");
    assert_eq!(body, invalid_credentials());
}

/// The unknown-email path must do the same argon2 work as a wrong password. Without the dummy
/// verification it is ~20x faster, far outside the bounds below; with it, the two medians are
/// within a few percent. The bounds are wide so a loaded machine cannot make this flaky.
#[tokio::test]
async fn unknown_email_takes_about_as_long_as_a_wrong_password() {
    let state = state().await;
    let email = unique_email("login-timing");
    create_user(&state, &email, PASSWORD).await;
    let wrong = login_event("login/wrong-password", &email);
    let unknown = login_event("login/unknown-email", &unique_email("login-nobody"));

    let (mut wrong_times, mut unknown_times) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        for (event, times) in [(&wrong, &mut wrong_times), (&unknown, &mut unknown_times)] {
            let started = Instant::now();
            let (status, _, _) = login(&state, event).await;
            times.push(started.elapsed());
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (wrong, unknown) = (median(&mut wrong_times), median(&mut unknown_times));
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    assert!(
        (0.4..=2.5).contains(&ratio),
        "unknown email {unknown:?} vs wrong password {wrong:?} (ratio {ratio:.2})"
    );
}

#[tokio::test]
async fn an_address_that_does_not_parse_is_just_invalid_credentials() {
    let state = state().await;
    let event = login_event("login/wrong-password", "not-an-address");
    let (status, _, body) = login(&state, &event).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, invalid_credentials());
}

#[tokio::test]
async fn bad_requests_get_400_with_stable_codes() {
    let state = state().await;
    let (status, _, body) = login(&state, &event("login/missing-password")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["details"], json!({"password": "is required"}));

    let (status, _, body) = login(&state, &event("login/malformed-json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_json");
}

#[tokio::test]
async fn database_outages_and_throttling_become_a_clean_503() {
    for endpoint in outage_endpoints().await {
        let state = state_with_dynamodb_at(&endpoint).await;
        let started = Instant::now();
        let response = login::handler(&state, request(&event("login/ok"))).await;
        assert_service_unavailable(response.expect("never Err"));
        // DYNAMODB_TIMEOUT_MS (3 s in dev/local.env) bounds even a server that never answers.
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
    }
}
