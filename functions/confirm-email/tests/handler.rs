//! `POST /email/confirm` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts. Codes are issued as the mailer issues them.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use shared::AppState;
use shared::codes::{MAX_CODE_ATTEMPTS, Purpose};
use shared::email::Email;
use shared::testing::{
    code_of, event, holder_of, issue_code, lambda_event, mailing_state, new_user, parts, state,
    stored_user, stored_users_with_email, token_of, unique_email, with_json_body,
};
use tokio::task::JoinSet;

const PASSWORD: &str = "correct horse battery staple";

async fn confirm(state: &AppState, body: Value) -> (StatusCode, Value) {
    let event = with_json_body(event("confirm-email/ok"), &body);
    let (status, _, body) = parts(confirm_email::handler(state, lambda_event(&event)).await);
    (status, body)
}

fn invalid_code() -> Value {
    json!({"error": {"code": "invalid_code", "message": "The link or code is invalid or has expired."}})
}

#[tokio::test]
async fn the_link_verifies_the_address_once() {
    let state = state().await;
    let user = new_user(&state, "confirm-link").await;
    let issued = issue_code(&state, user.id, Purpose::Verify, user.email.as_str()).await;

    let (status, body) = confirm(&state, json!({"token": token_of(&issued)})).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["id"], user.id.to_string());
    assert_eq!(body["user"]["email_verified"], true);
    let stored = stored_user(&state, &user.id).await;
    assert!(stored.email_verified);
    let again = confirm(&state, json!({"token": token_of(&issued)})).await;
    assert_eq!(
        again,
        (StatusCode::BAD_REQUEST, invalid_code()),
        "single use"
    );
}

#[tokio::test]
async fn the_typed_code_verifies_the_address_with_spaces_or_hyphens() {
    let state = state().await;
    let user = new_user(&state, "confirm-code").await;
    let issued = issue_code(&state, user.id, Purpose::Verify, user.email.as_str()).await;
    let code = code_of(&issued);
    let typed = format!("{}-{}", &code[..4], &code[4..]);

    let (status, body) = confirm(
        &state,
        json!({"email": user.email.as_str().to_uppercase(), "code": typed}),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email_verified"], true);
}

/// Five wrong codes kill the code, even for the right one after them; an address without any
/// code, or without an account, answers exactly the same.
#[tokio::test]
async fn wrong_codes_are_limited_and_answered_alike_for_any_address() {
    let state = state().await;
    let user = new_user(&state, "confirm-guess").await;
    let issued = issue_code(&state, user.id, Purpose::Verify, user.email.as_str()).await;
    let right = code_of(&issued);
    let wrong = format!(
        "{:08}",
        (right.parse::<u32>().expect("digits") + 1) % 100_000_000
    );

    for _ in 0..MAX_CODE_ATTEMPTS {
        let answer = confirm(&state, json!({"email": user.email.as_str(), "code": wrong})).await;
        assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid_code()));
    }
    let answer = confirm(&state, json!({"email": user.email.as_str(), "code": right})).await;
    assert_eq!(
        answer,
        (StatusCode::BAD_REQUEST, invalid_code()),
        "dead after 5 tries"
    );
    // The link dies with it: one code, two ways to present it.
    let answer = confirm(&state, json!({"token": token_of(&issued)})).await;
    assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid_code()));

    for (email, code) in [
        (unique_email("confirm-nobody"), "12345678".to_owned()),
        (
            new_user(&state, "confirm-no-code")
                .await
                .email
                .as_str()
                .to_owned(),
            "12345678".to_owned(),
        ),
        ("not an address".to_owned(), "12345678".to_owned()),
        (user.email.as_str().to_owned(), "1234".to_owned()),
    ] {
        let answer = confirm(&state, json!({"email": email, "code": code})).await;
        assert_eq!(
            answer,
            (StatusCode::BAD_REQUEST, invalid_code()),
            "{email} {code}"
        );
    }
    for token in ["not-a-token", "", &token_of(&issued)[..20]] {
        let answer = confirm(&state, json!({"token": token})).await;
        assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid_code()), "{token}");
    }
    let not_a_token = event("confirm-email/not-a-token");
    let (status, _, body) = parts(confirm_email::handler(&state, lambda_event(&not_a_token)).await);
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid_code()));
}

#[tokio::test]
async fn an_expired_code_or_one_replaced_by_a_newer_one_is_dead() {
    let state = state().await;
    let user = new_user(&state, "confirm-expired").await;
    let mut expired = issue_code(&state, user.id, Purpose::Verify, user.email.as_str()).await;
    expired.record.expires_at = shared::clock::now_seconds() - 1;
    state.users.save_code(&expired.record).await.expect("saved");
    assert_eq!(
        confirm(&state, json!({"token": token_of(&expired)})).await,
        (StatusCode::BAD_REQUEST, invalid_code())
    );

    let first = issue_code(&state, user.id, Purpose::Verify, user.email.as_str()).await;
    let second = issue_code(&state, user.id, Purpose::Verify, user.email.as_str()).await;
    assert_eq!(
        confirm(&state, json!({"token": token_of(&first)})).await,
        (StatusCode::BAD_REQUEST, invalid_code())
    );
    assert_eq!(
        confirm(&state, json!({"token": token_of(&second)})).await.0,
        StatusCode::OK
    );
}

/// A reset code is no verification code, whatever route it is sent to.
#[tokio::test]
async fn a_code_of_another_purpose_proves_nothing_here() {
    let state = state().await;
    let user = new_user(&state, "confirm-purpose").await;
    let reset = issue_code(&state, user.id, Purpose::Reset, user.email.as_str()).await;
    for body in [
        json!({"token": token_of(&reset)}),
        json!({"email": user.email.as_str(), "code": code_of(&reset)}),
    ] {
        assert_eq!(
            confirm(&state, body).await,
            (StatusCode::BAD_REQUEST, invalid_code())
        );
    }
}

/// Twenty confirmations of one code at once: exactly one succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_cannot_be_used_twice_under_twenty_concurrent_confirmations() {
    let state = Arc::new(state().await);
    let user = new_user(&state, "confirm-race").await;
    let issued = issue_code(&state, user.id, Purpose::Verify, user.email.as_str()).await;
    let mut attempts = JoinSet::new();
    for n in 0..20 {
        let state = state.clone();
        let body = if n % 2 == 0 {
            json!({"token": token_of(&issued)})
        } else {
            json!({"email": user.email.as_str(), "code": code_of(&issued)})
        };
        attempts.spawn(async move { confirm(&state, body).await });
    }
    let mut statuses = Vec::new();
    while let Some(answer) = attempts.join_next().await {
        let (status, body) = answer.expect("ran");
        assert!(
            status == StatusCode::OK || body == invalid_code(),
            "{status} {body}"
        );
        statuses.push(status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1);
}

/// An account with a pending change to `new`, and the code mailed there.
async fn pending_change(
    state: &AppState,
    tag: &str,
    new: &str,
) -> (shared::user::User, shared::codes::Issued) {
    let user = new_user(state, tag).await;
    let new = Email::parse(new).expect("valid");
    let user = state
        .users
        .request_email_change(&user, None, &new)
        .await
        .expect("recorded");
    let issued = issue_code(state, user.id, Purpose::ChangeEmail, new.as_str()).await;
    (user, issued)
}

#[tokio::test]
async fn confirming_a_change_moves_the_account_and_frees_the_old_address() {
    let (state, _queue) = mailing_state().await;
    let new = unique_email("confirm-move-new");
    let (user, issued) = pending_change(&state, "confirm-move", &new).await;
    let old = user.email.as_str().to_owned();

    let (status, body) = confirm(&state, json!({"email": new, "code": code_of(&issued)})).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], new);
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(body["user"]["pending_email"], Value::Null);
    assert_eq!(holder_of(&state, &new).await, Some(user.id));
    assert_eq!(
        holder_of(&state, &old).await,
        None,
        "the old address is free at once"
    );
    let again = with_json_body(
        event("register/ok"),
        &json!({"email": old, "password": PASSWORD}),
    );
    let (status, _, _) = parts(register::handler(&state, lambda_event(&again)).await);
    assert_eq!(status, StatusCode::CREATED);
    // The link of the same code is used up with it.
    assert_eq!(
        confirm(&state, json!({"token": token_of(&issued)})).await,
        (StatusCode::BAD_REQUEST, invalid_code())
    );
}

#[tokio::test]
async fn an_address_taken_before_the_confirmation_is_409_and_nothing_moves() {
    let state = state().await;
    let new = unique_email("confirm-taken");
    let (user, issued) = pending_change(&state, "confirm-taken-owner", &new).await;
    shared::testing::create_user(&state, &new, PASSWORD).await;

    let (status, body) = confirm(&state, json!({"token": token_of(&issued)})).await;

    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "email_taken");
    let stored = stored_user(&state, &user.id).await;
    assert_eq!(stored.email, user.email);
    assert_eq!(
        stored.pending_email.as_ref().map(Email::as_str),
        Some(new.as_str())
    );
    assert_eq!(stored_users_with_email(&new).await, 1);
}

#[tokio::test]
async fn a_replaced_pending_change_kills_its_code() {
    let state = state().await;
    let first = unique_email("confirm-replaced-1");
    let (user, issued) = pending_change(&state, "confirm-replaced", &first).await;
    let second = Email::parse(&unique_email("confirm-replaced-2")).expect("valid");
    state
        .users
        .request_email_change(&user, None, &second)
        .await
        .expect("replaced");
    assert_eq!(
        confirm(&state, json!({"token": token_of(&issued)})).await,
        (StatusCode::BAD_REQUEST, invalid_code())
    );
    assert_eq!(
        confirm(&state, json!({"email": first, "code": code_of(&issued)})).await,
        (StatusCode::BAD_REQUEST, invalid_code())
    );
}

/// A confirmed email change and a registration of the same address, at once: the address ends
/// up held by exactly one account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_email_change_racing_a_registration_of_the_address_has_one_holder() {
    let (state, _queue) = mailing_state().await;
    let state = Arc::new(state);
    for round in 0..5 {
        let contested = unique_email(&format!("contested-{round}"));
        let (_, issued) = pending_change(&state, "confirm-vs-register", &contested).await;
        let change = {
            let (state, token) = (state.clone(), token_of(&issued));
            tokio::spawn(async move { confirm(&state, json!({"token": token})).await.0 })
        };
        let registration = {
            let (state, contested) = (state.clone(), contested.clone());
            tokio::spawn(async move {
                let body = json!({"email": contested, "password": PASSWORD});
                let event = with_json_body(event("register/ok"), &body);
                parts(register::handler(&state, lambda_event(&event)).await).0
            })
        };
        let (change, registration) = (change.await.expect("ran"), registration.await.expect("ran"));
        let winners = [
            change == StatusCode::OK,
            registration == StatusCode::CREATED,
        ];
        assert_eq!(
            winners.iter().filter(|w| **w).count(),
            1,
            "{change} / {registration}"
        );
        assert!(change == StatusCode::OK || change == StatusCode::CONFLICT);
        assert!(registration == StatusCode::CREATED || registration == StatusCode::CONFLICT);
        assert_eq!(stored_users_with_email(&contested).await, 1);
    }
}

#[tokio::test]
async fn a_body_with_both_forms_or_half_of_one_is_400() {
    let state = state().await;
    for name in [
        "confirm-email/shape-both-forms",
        "confirm-email/shape-email-without-code",
    ] {
        let (status, _, body) =
            parts(confirm_email::handler(&state, lambda_event(&event(name))).await);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(body["error"]["code"], "validation_failed", "{name}");
    }
}
