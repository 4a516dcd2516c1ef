//! `POST /email/verify` through the real handler, fed the payloads in events/, against the local
//! DynamoDB and SQS `make test` starts.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use lambda_http::http::StatusCode;
use serde_json::json;
use shared::codes::Purpose;
use shared::mail::MailJob;
use shared::testing::{
    assert_standard_bearer_refusals, event, issue_code, lambda_event, mailing_state, new_user,
    parts, sign_in, token_of, with_header,
};

#[tokio::test]
async fn an_unverified_account_gets_a_verification_queued_and_202() {
    let (state, queue) = mailing_state().await;
    let user = new_user(&state, "verify-email").await;
    let bearer = sign_in(&state, &user).await.bearer;
    let event = with_header(event("verify-email/ok"), "authorization", &bearer);

    let (status, _, body) = parts(verify_email::handler(&state, lambda_event(&event)).await);

    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, json!({}));
    assert_eq!(
        queue.jobs().await,
        vec![MailJob::VerifyEmail {
            user_id: user.id,
            address: user.email.as_str().to_owned()
        }]
    );
}

#[tokio::test]
async fn a_verified_address_is_sent_nothing_and_answered_alike() {
    let (state, queue) = mailing_state().await;
    let user = new_user(&state, "verify-email-done").await;
    let issued = issue_code(&state, user.id, Purpose::Verify, user.email.as_str()).await;
    let confirm = shared::testing::with_json_body(
        event("confirm-email/ok"),
        &json!({"token": token_of(&issued)}),
    );
    assert_eq!(
        parts(confirm_email::handler(&state, lambda_event(&confirm)).await).0,
        StatusCode::OK
    );
    let bearer = sign_in(&state, &user).await.bearer;
    let event = with_header(event("verify-email/ok"), "authorization", &bearer);

    let (status, _, body) = parts(verify_email::handler(&state, lambda_event(&event)).await);

    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({})));
    assert_eq!(queue.jobs().await, vec![]);
}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused() {
    let (state, _queue) = mailing_state().await;
    assert_standard_bearer_refusals("verify-email", |event| verify_email::handler(&state, event))
        .await;
}
