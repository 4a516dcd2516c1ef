//! `DELETE /profile` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use shared::AppState;
use shared::codes::Purpose;
use shared::testing::{
    Interleave, SignedIn, auth_status, event, interleaved_state, issue_code, items_mentioning,
    lambda_event, new_user, parts, sign_in, state, stored_users_with_email, with_header,
    with_json_body,
};
use tokio::task::JoinSet;

const PASSWORD: &str = "correct horse battery staple";

async fn delete(state: &AppState, me: &SignedIn, event: Value) -> (StatusCode, Value) {
    let event = with_header(event, "authorization", &me.bearer);
    let (status, _, body) = parts(delete_account::handler(state, lambda_event(&event)).await);
    (status, body)
}

async fn refresh_status(state: &AppState, token: &str) -> StatusCode {
    let event = with_json_body(event("refresh/ok"), &json!({"refresh_token": token}));
    parts(refresh::handler(state, lambda_event(&event)).await).0
}

#[tokio::test]
async fn the_account_its_claim_and_every_session_go_and_the_address_is_free_at_once() {
    let state = state().await;
    let user = new_user(&state, "delete-ok").await;
    let me = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;
    // Mailed codes outstanding: they go with the account.
    let pending = shared::email::Email::parse(&shared::testing::unique_email("delete-pending"))
        .expect("valid");
    let user = state
        .users
        .request_email_change(&user, None, &pending)
        .await
        .expect("recorded");
    for (purpose, address) in [
        (Purpose::Verify, user.email.as_str()),
        (Purpose::Reset, user.email.as_str()),
        (Purpose::ChangeEmail, pending.as_str()),
    ] {
        issue_code(&state, user.id, purpose, address).await;
    }

    let (status, body) = delete(&state, &me, event("delete-account/ok")).await;

    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for session in [&me, &other] {
        assert_eq!(
            auth_status(&state, &session.bearer).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            refresh_status(&state, &session.refresh_token).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(stored_users_with_email(user.email.as_str()).await, 0);
    assert_eq!(
        items_mentioning(&user.id.to_string()).await,
        0,
        "no session, no claim, no code left"
    );
    let again = json!({"email": user.email.as_str(), "password": PASSWORD});
    let register = with_json_body(event("register/ok"), &again);
    let (mailing, _queue) = shared::testing::mailing_state().await;
    let (status, _, body) = parts(register::handler(&mailing, lambda_event(&register)).await);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let login = with_json_body(event("login/ok"), &again);
    assert_eq!(
        parts(login::handler(&state, lambda_event(&login)).await).0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_wrong_or_missing_password_deletes_nothing() {
    let state = state().await;
    let user = new_user(&state, "delete-wrong").await;
    let me = sign_in(&state, &user).await;
    let wrong = with_json_body(
        event("delete-account/ok"),
        &json!({"current_password": "wrong horse battery staple"}),
    );
    let (status, body) = delete(&state, &me, wrong).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_credentials"))
    );
    let (status, body) = delete(&state, &me, event("delete-account/shape-missing-password")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(auth_status(&state, &me.bearer).await, StatusCode::OK);
    assert_eq!(stored_users_with_email(user.email.as_str()).await, 1);
}

/// Deletion racing refreshes: once it has answered, no session of the account refreshes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn once_deletion_has_answered_no_session_refreshes() {
    let state = Arc::new(state().await);
    let user = new_user(&state, "delete-race").await;
    let me = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;
    let mut racers = JoinSet::new();
    for _ in 0..10 {
        let (state, token) = (state.clone(), other.refresh_token.clone());
        racers.spawn(async move { refresh_status(&state, &token).await });
    }
    let (status, _) = delete(&state, &me, event("delete-account/ok")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let during = racers.join_all().await;
    assert!(during.iter().all(|s| s.as_u16() < 500), "{during:?}");
    assert_eq!(
        refresh_status(&state, &other.refresh_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(items_mentioning(&user.id.to_string()).await, 0);
}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused_with_its_challenge() {
    let state = state().await;
    shared::testing::assert_standard_bearer_refusals("delete-account", |event| {
        delete_account::handler(&state, event)
    })
    .await;
}

/// A deletion refused because the account changed after it was read (a change
/// forced between the read and the deletion) ends nothing: 412, every session still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_deletion_ends_no_session() {
    let state = state().await;
    let user = new_user(&state, "delete-refused").await;
    let me = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;
    let read = user.clone();
    let change = Interleave::before_touching("TransactWriteItems", "USER", move || {
        tokio::runtime::Handle::current().block_on(async move {
            let other = shared::testing::state().await;
            let changed = other.users.update_name(&read, None).await;
            changed.expect("the account changes meanwhile");
        });
    });
    let interleaved = interleaved_state(change.clone()).await;

    let (status, body) = delete(&interleaved, &me, event("delete-account/ok")).await;

    assert!(change.ran(), "the change was interleaved");
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    for session in [&me, &other] {
        assert_eq!(auth_status(&state, &session.bearer).await, StatusCode::OK);
        assert_eq!(
            refresh_status(&state, &session.refresh_token).await,
            StatusCode::OK
        );
    }
}
