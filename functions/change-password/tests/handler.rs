//! `PUT /password` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use shared::AppState;
use shared::mail::{MailJob, Mailing, Notice};
use shared::testing::{
    Interleave, SignedIn, auth_status, event, interleaved_state, lambda_event, mailing,
    mailing_state, new_user, parts, sign_in, with_header, with_json_body,
};
use tokio::task::JoinSet;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn change(state: &Mailing, me: &SignedIn, event: Value) -> (StatusCode, Value) {
    let event = with_header(event, "authorization", &me.bearer);
    let (status, _, body) = parts(change_password::handler(state, lambda_event(&event)).await);
    (status, body)
}

async fn login_status(state: &AppState, email: &str, password: &str) -> StatusCode {
    let body = json!({"email": email, "password": password});
    let event = with_json_body(event("login/ok"), &body);
    parts(login::handler(state, lambda_event(&event)).await).0
}

async fn refresh_status(state: &AppState, token: &str) -> StatusCode {
    let event = with_json_body(event("refresh/ok"), &json!({"refresh_token": token}));
    parts(refresh::handler(state, lambda_event(&event)).await).0
}

#[tokio::test]
async fn the_password_changes_and_every_other_session_ends() {
    let (state, queue) = mailing_state().await;
    let user = new_user(&state, "password-ok").await;
    let me = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;

    let (status, body) = change(&state, &me, event("change-password/ok")).await;

    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        queue.jobs().await,
        vec![MailJob::Notice {
            address: user.email.as_str().to_owned(),
            notice: Notice::PasswordChanged
        }],
        "the owner is told"
    );
    assert_eq!(
        auth_status(&state, &me.bearer).await,
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(
        refresh_status(&state, &me.refresh_token).await,
        StatusCode::OK
    );
    assert_eq!(
        auth_status(&state, &other.bearer).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh_status(&state, &other.refresh_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_status(&state, user.email.as_str(), PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_status(&state, user.email.as_str(), NEW_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_current_password_and_the_policy_are_checked() {
    let state = mailing_state().await.0;
    let user = new_user(&state, "password-checks").await;
    let me = sign_in(&state, &user).await;
    let wrong = with_json_body(
        event("change-password/ok"),
        &json!({"current_password": "wrong horse battery staple", "new_password": NEW_PASSWORD}),
    );
    let (status, body) = change(&state, &me, wrong).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_credentials"))
    );

    let (status, body) = change(&state, &me, event("change-password/common-new-password")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["details"]["new_password"].is_string(),
        "{body}"
    );

    let (status, body) = change(&state, &me, event("change-password/shape-missing-fields")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["details"],
        json!({"current_password": "is required", "new_password": "is required"})
    );
    assert_eq!(
        login_status(&state, user.email.as_str(), PASSWORD).await,
        StatusCode::OK
    );
}

/// A password change racing refreshes of another session: once the change has answered, that
/// session can no longer be refreshed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn once_the_change_has_answered_no_other_session_refreshes() {
    let state = Arc::new(mailing_state().await.0);
    let user = new_user(&state, "password-race").await;
    let me = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;
    let mut racers = JoinSet::new();
    for _ in 0..10 {
        let (state, token) = (state.clone(), other.refresh_token.clone());
        racers.spawn(async move { refresh_status(&state, &token).await });
    }
    let (status, _) = change(&state, &me, event("change-password/ok")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let during = racers.join_all().await;
    assert!(during.iter().all(|s| s.as_u16() < 500), "{during:?}");
    assert_eq!(
        refresh_status(&state, &other.refresh_token).await,
        StatusCode::UNAUTHORIZED
    );
    let left = state.users.sessions(&user.id, 0).await.expect("listed");
    assert_eq!(
        left.iter().map(|s| s.id).collect::<Vec<_>>(),
        [me.session.id]
    );
}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused_with_its_challenge() {
    let state = mailing_state().await.0;
    shared::testing::assert_standard_bearer_refusals("change-password", |event| {
        change_password::handler(&state, event)
    })
    .await;
}

/// After a change through `interleaved`, the caller's session goes on, every other is over, and
/// only the new password signs in.
async fn assert_changed(interleaved: &Mailing, fault: &Interleave, tag: &str) {
    let state = mailing_state().await.0;
    let user = new_user(&state, tag).await;
    let me = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;

    let (status, body) = change(interleaved, &me, event("change-password/ok")).await;

    assert!(fault.ran(), "the fault was injected");
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(auth_status(&state, &me.bearer).await, StatusCode::OK);
    assert_eq!(
        refresh_status(&state, &me.refresh_token).await,
        StatusCode::OK
    );
    assert_eq!(
        auth_status(&state, &other.bearer).await,
        StatusCode::UNAUTHORIZED,
        "the other access token is over"
    );
    assert_eq!(
        refresh_status(&state, &other.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "the other refresh token is over"
    );
    assert_eq!(
        login_status(&state, user.email.as_str(), NEW_PASSWORD).await,
        StatusCode::OK
    );
}

/// The sweep of the other sessions fails (its Query, then its batch delete,
/// injected): the change still answers 204 and every other session is over, because ending them
/// is part of the change itself (the credentials generation), not of the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sweep_leaves_no_other_session_usable() {
    for operation in ["Query", "BatchWriteItem"] {
        let fault = Interleave::fail(operation);
        let interleaved = mailing(interleaved_state(fault.clone()).await).await.0;
        assert_changed(&interleaved, &fault, "password-sweep-fails").await;
    }
}

/// The answer to the change is lost after it committed (a 500 injected on the
/// way back) and the SDK retries it: the retry carries the same request token, so it gets the
/// first answer. 204, not 412, and the change holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_a_committed_change_is_still_204() {
    let fault = Interleave::lose_answer("TransactWriteItems").touching("USER");
    let interleaved = mailing(interleaved_state(fault.clone()).await).await.0;
    assert_changed(&interleaved, &fault, "password-answer-lost").await;
}
