//! `POST /password/reset` through the real handler, fed the payloads in events/, against the
//! local DynamoDB and SQS `make test` starts. Codes are issued as the mailer issues them.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use shared::codes::Purpose;
use shared::email::Email;
use shared::mail::{MailJob, Mailing, Notice};
use shared::testing::{
    auth_status, code_of, create_user, event, issue_code, lambda_event, mailing_state, parts,
    sign_in, stored_user, token_of, unique_email, with_json_body,
};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn reset(state: &Mailing, body: Value) -> (StatusCode, Value) {
    let event = with_json_body(event("reset-password/ok"), &body);
    let (status, _, body) = parts(reset_password::handler(state, lambda_event(&event)).await);
    (status, body)
}

async fn refresh(state: &Mailing, token: &str) -> StatusCode {
    let event = with_json_body(event("refresh/ok"), &json!({"refresh_token": token}));
    parts(refresh::handler(state, lambda_event(&event)).await).0
}

async fn login(state: &Mailing, email: &str, password: &str) -> StatusCode {
    let event = with_json_body(
        event("login/ok"),
        &json!({"email": email, "password": password}),
    );
    parts(login::handler(state, lambda_event(&event)).await).0
}

fn invalid_code() -> Value {
    json!({"error": {"code": "invalid_code", "message": "The link or code is invalid or has expired."}})
}

#[tokio::test]
async fn a_reset_replaces_the_password_ends_every_session_and_kills_every_other_code() {
    let (state, queue) = mailing_state().await;
    let email = unique_email("reset");
    let user = create_user(&state, &email, PASSWORD).await;
    let sessions = [sign_in(&state, &user).await, sign_in(&state, &user).await];
    let verify = issue_code(&state, user.id, Purpose::Verify, &email).await;
    let pending = Email::parse(&unique_email("reset-pending")).expect("valid");
    let user = state
        .users
        .request_email_change(&user, None, &pending)
        .await
        .expect("recorded");
    let change = issue_code(&state, user.id, Purpose::ChangeEmail, pending.as_str()).await;
    let issued = issue_code(&state, user.id, Purpose::Reset, &email).await;

    let (status, body) = reset(
        &state,
        json!({"token": token_of(&issued), "new_password": NEW_PASSWORD}),
    )
    .await;

    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    for session in &sessions {
        assert_eq!(
            auth_status(&state, &session.bearer).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            refresh(&state, &session.refresh_token).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&state, &email, PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(&state, &email, NEW_PASSWORD).await, StatusCode::OK);
    let stored = stored_user(&state, &user.id).await;
    assert!(stored.email_verified, "the code proved the address");
    assert_eq!(stored.pending_email, None, "the pending change is dropped");
    for dead in [&verify, &change] {
        let record = &dead.record;
        let found = state
            .users
            .code(&record.address, record.purpose, &user.id)
            .await
            .expect("read");
        assert_eq!(found, None, "{:?} code deleted", record.purpose);
    }
    assert_eq!(
        queue.jobs().await,
        vec![MailJob::Notice {
            address: email.clone(),
            notice: Notice::PasswordChanged
        }]
    );
    let again = reset(
        &state,
        json!({"token": token_of(&issued), "new_password": "yet another passphrase"}),
    )
    .await;
    assert_eq!(
        again,
        (StatusCode::BAD_REQUEST, invalid_code()),
        "single use"
    );
}

#[tokio::test]
async fn the_typed_code_works_too() {
    let (state, _queue) = mailing_state().await;
    let email = unique_email("reset-code");
    let user = create_user(&state, &email, PASSWORD).await;
    let issued = issue_code(&state, user.id, Purpose::Reset, &email).await;
    let (status, _) = reset(
        &state,
        json!({"email": email, "code": code_of(&issued), "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(login(&state, &email, NEW_PASSWORD).await, StatusCode::OK);
}

#[tokio::test]
async fn a_refused_password_leaves_the_code_unused() {
    let (state, queue) = mailing_state().await;
    let email = unique_email("reset-weak");
    let user = create_user(&state, &email, PASSWORD).await;
    let issued = issue_code(&state, user.id, Purpose::Reset, &email).await;
    for weak in ["Password1", "short", email.as_str()] {
        let (status, body) = reset(
            &state,
            json!({"token": token_of(&issued), "new_password": weak}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weak}");
        assert_eq!(body["error"]["code"], "validation_failed", "{weak}");
        assert!(
            body["error"]["details"]["new_password"].is_string(),
            "{body}"
        );
    }
    let common = event("reset-password/common-new-password");
    let (status, _, body) = parts(reset_password::handler(&state, lambda_event(&common)).await);
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("validation_failed"))
    );
    assert_eq!(queue.jobs().await, vec![]);
    let (status, _) = reset(
        &state,
        json!({"token": token_of(&issued), "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_bad_code_is_invalid_code_and_a_verification_code_resets_nothing() {
    let (state, _queue) = mailing_state().await;
    let email = unique_email("reset-bad");
    let user = create_user(&state, &email, PASSWORD).await;
    let verify = issue_code(&state, user.id, Purpose::Verify, &email).await;
    for body in [
        json!({"token": token_of(&verify), "new_password": NEW_PASSWORD}),
        json!({"email": email, "code": code_of(&verify), "new_password": NEW_PASSWORD}),
        json!({"token": "nope", "new_password": NEW_PASSWORD}),
        json!({"email": unique_email("reset-nobody"), "code": "12345678", "new_password": NEW_PASSWORD}),
    ] {
        assert_eq!(
            reset(&state, body).await,
            (StatusCode::BAD_REQUEST, invalid_code())
        );
    }
    assert_eq!(login(&state, &email, PASSWORD).await, StatusCode::OK);
    let missing = event("reset-password/shape-missing-password");
    let (status, _, body) = parts(reset_password::handler(&state, lambda_event(&missing)).await);
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("validation_failed"))
    );
}

/// A reset and refreshes of a session of the account, at once: whatever the order, no session
/// is usable afterwards (the reset's credentials generation ends them all, including one a
/// refresh rotated meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_racing_a_refresh_leaves_no_live_session() {
    let (state, _queue) = mailing_state().await;
    let state = Arc::new(state);
    for round in 0..5 {
        let email = unique_email(&format!("reset-race-{round}"));
        let user = create_user(&state, &email, PASSWORD).await;
        let me = sign_in(&state, &user).await;
        let issued = issue_code(&state, user.id, Purpose::Reset, &email).await;
        let refreshing = {
            let (state, token) = (state.clone(), me.refresh_token.clone());
            tokio::spawn(async move {
                let event = with_json_body(event("refresh/ok"), &json!({"refresh_token": token}));
                parts(refresh::handler(&state, lambda_event(&event)).await)
            })
        };
        let resetting = {
            let state = state.clone();
            tokio::spawn(async move {
                reset(
                    &state,
                    json!({"token": token_of(&issued), "new_password": NEW_PASSWORD}),
                )
                .await
                .0
            })
        };
        let (refreshed, reset_status) = (
            refreshing.await.expect("ran"),
            resetting.await.expect("ran"),
        );
        assert_eq!(reset_status, StatusCode::NO_CONTENT);
        assert_eq!(
            auth_status(&state, &me.bearer).await,
            StatusCode::UNAUTHORIZED
        );
        if refreshed.0 == StatusCode::OK {
            let body = refreshed.2;
            let bearer = format!("Bearer {}", body["access_token"].as_str().expect("a token"));
            let token = body["refresh_token"].as_str().expect("a token");
            assert_eq!(
                auth_status(&state, &bearer).await,
                StatusCode::UNAUTHORIZED,
                "round {round}"
            );
            assert_eq!(
                refresh(&state, token).await,
                StatusCode::UNAUTHORIZED,
                "round {round}"
            );
        }
        let now = shared::clock::now_seconds();
        let sessions = state.users.sessions(&user.id, now).await.expect("read");
        let account = stored_user(&state, &user.id).await;
        assert!(
            sessions.iter().all(|s| !s.is_current_for(&account)),
            "round {round}: a session outlived the reset"
        );
    }
}
