//! `POST /password/forgot` through the real handler, fed the payloads in events/, against the
//! local DynamoDB and SQS `make test` starts.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use lambda_http::http::StatusCode;
use serde_json::json;
use shared::mail::MailJob;
use shared::testing::{
    event, lambda_event, mailing, new_user, parts, recording_state, unique_email, with_json_body,
};

/// A known and an unknown address: the same status, headers and body, and the same work (no
/// DynamoDB call at all, one queued message of the same kind), so nothing tells them apart.
#[tokio::test]
async fn known_and_unknown_addresses_get_the_same_answer_after_the_same_work() {
    let (app, recorder) = recording_state().await;
    let (state, queue) = mailing(app).await;
    let known = new_user(&state, "forgot-known").await;
    let unknown = unique_email("forgot-unknown");
    recorder.take();

    let mut answers = Vec::new();
    for address in [known.email.as_str(), unknown.as_str()] {
        let event = with_json_body(event("forgot-password/ok"), &json!({"email": address}));
        let (status, headers, body) =
            parts(forgot_password::handler(&state, lambda_event(&event)).await);
        answers.push((status, headers, body));
        assert_eq!(recorder.take(), vec![], "no DynamoDB call for {address}");
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        (answers[0].0, &answers[0].2),
        (StatusCode::ACCEPTED, &json!({}))
    );
    assert_eq!(
        queue.jobs().await,
        vec![
            MailJob::ResetPassword {
                address: known.email.as_str().to_owned()
            },
            MailJob::ResetPassword { address: unknown },
        ]
    );
}

#[tokio::test]
async fn an_address_is_normalised_and_a_non_address_is_400() {
    let (state, queue) = mailing(shared::testing::state().await).await;
    let spaced = with_json_body(
        event("forgot-password/ok"),
        &json!({"email": "  Ada.Lovelace@EXAMPLE.com "}),
    );
    let (status, _, _) = parts(forgot_password::handler(&state, lambda_event(&spaced)).await);
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        queue.jobs().await,
        vec![MailJob::ResetPassword {
            address: "ada.lovelace@example.com".to_owned()
        }]
    );

    let bad = event("forgot-password/shape-invalid-email");
    let (status, _, body) = parts(forgot_password::handler(&state, lambda_event(&bad)).await);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(queue.jobs().await, vec![]);
}
