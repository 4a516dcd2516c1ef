//! `PATCH /profile` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use std::sync::Arc;

use lambda_http::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use shared::mail::{MailJob, Mailing, Notice};
use shared::testing::{
    Interleave, SignedIn, create_user, event, holder_of, interleaved_state, lambda_event, mailing,
    mailing_state, new_user, parts, sign_in, unique_email, with_header, with_json_body,
};

async fn mailing_interleaved(interleave: Interleave) -> Mailing {
    mailing(interleaved_state(interleave).await).await.0
}
use shared::user::DisplayName;
use tokio::task::JoinSet;

const PASSWORD: &str = "correct horse battery staple";

async fn patch(state: &Mailing, me: &SignedIn, event: Value) -> (StatusCode, HeaderMap, Value) {
    let event = with_header(event, "authorization", &me.bearer);
    parts(update_profile::handler(state, lambda_event(&event)).await)
}

fn with_body(name: &str, body: &Value) -> Value {
    with_json_body(event(name), body)
}

#[tokio::test]
async fn the_name_changes_and_the_etag_moves_on() {
    let state = mailing_state().await.0;
    let user = new_user(&state, "patch-name").await;
    let me = sign_in(&state, &user).await;

    let first = with_header(event("update-profile/ok"), "if-match", "\"1\"");
    let (status, headers, body) = patch(&state, &me, first).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Ada King");
    assert_eq!(body["email"], user.email.as_str());
    assert_eq!(headers[header::ETAG], "\"2\"");
    // null clears it.
    let (status, headers, body) = patch(&state, &me, event("update-profile/clear-name")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], Value::Null);
    assert_eq!(headers[header::ETAG], "\"3\"");
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_nothing_is_written() {
    let state = mailing_state().await.0;
    let user = new_user(&state, "patch-stale").await;
    let me = sign_in(&state, &user).await;
    let (status, _, body) = patch(&state, &me, event("update-profile/stale-if-match")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(body["error"]["code"], "precondition_failed");
    let (current, _) = state
        .users
        .get_with_session(&user.id, &me.session.id)
        .await
        .expect("read");
    let current = current.expect("the user");
    assert_eq!(
        (current.version, current.name),
        (1, None),
        "nothing written"
    );
}

/// RFC 9110 §13.2.1: a request that would be refused without its precondition is refused the
/// same way with one; a stale `If-Match` does not turn a bad body into a 412.
#[tokio::test]
async fn a_bad_body_is_400_even_with_a_stale_if_match() {
    let state = mailing_state().await.0;
    let me = sign_in(&state, &new_user(&state, "patch-order").await).await;
    let stale = event("update-profile/stale-if-match");
    for body in [json!({}), json!({"name": 7}), json!({"nmae": "Ada"})] {
        let (status, _, answer) = patch(&state, &me, with_json_body(stale.clone(), &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "validation_failed");
    }
}

/// Two PATCHes with the same If-Match, at once: exactly one 200, one 412. Which check refuses the
/// second depends on timing (usually the If-Match check, after the first has written); the next
/// test forces the conditional write itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_patches_with_one_etag_give_one_200_and_one_412() {
    let state = Arc::new(mailing_state().await.0);
    let user = new_user(&state, "patch-race").await;
    let me = Arc::new(sign_in(&state, &user).await);
    let mut racers = JoinSet::new();
    for name in ["First", "Second"] {
        let (state, me) = (state.clone(), me.clone());
        racers.spawn(async move {
            let event = with_header(
                with_body("update-profile/ok", &json!({"name": name})),
                "if-match",
                "\"1\"",
            );
            patch(&state, &me, event).await.0
        });
    }
    let mut statuses: Vec<u16> = racers
        .join_all()
        .await
        .iter()
        .map(StatusCode::as_u16)
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
}

/// The conditional write, forced: another change of the account lands between this PATCH's read
/// (which its If-Match matched) and its write, every time. 412, and only the other change is
/// stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_landing_between_the_read_and_the_write_is_412_and_writes_nothing() {
    let state = mailing_state().await.0;
    let user = new_user(&state, "patch-interleaved").await;
    let me = sign_in(&state, &user).await;
    let read = user.clone();
    let other_change = Interleave::before("UpdateItem", move || {
        tokio::runtime::Handle::current().block_on(async move {
            let name = DisplayName::parse("Other").expect("valid");
            let other = mailing_state().await.0;
            let changed = other.users.update_name(&read, Some(&name)).await;
            changed.expect("the other change lands");
        });
    });
    let interleaved = mailing_interleaved(other_change.clone()).await;
    let mine = with_header(
        with_body("update-profile/ok", &json!({"name": "Mine"})),
        "if-match",
        &format!("\"{}\"", user.version),
    );

    let (status, _, body) = patch(&interleaved, &me, mine).await;

    assert!(other_change.ran(), "the other change was interleaved");
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(body["error"]["code"], "precondition_failed");
    let stored = state.users.find_by_email(&user.email).await.expect("read");
    let stored = stored.expect("exists").user;
    assert_eq!(
        stored.name.map(|n| n.as_str().to_owned()).as_deref(),
        Some("Other")
    );
    assert_eq!(stored.version, user.version + 1, "one write: the other one");
}

/// The answer to a PATCH that committed is lost (a 500 injected on the way back)
/// and the SDK's retry fails its own condition: the write recognises itself and answers 200
/// with the new ETag, not `412 … nothing written`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_a_committed_patch_is_still_200() {
    let state = mailing_state().await.0;
    let user = new_user(&state, "patch-answer-lost").await;
    let me = sign_in(&state, &user).await;
    let lost = Interleave::lose_answer("UpdateItem");
    let interleaved = mailing_interleaved(lost.clone()).await;
    let mine = with_body("update-profile/ok", &json!({"name": "Mine"}));

    let (status, headers, body) = patch(&interleaved, &me, mine).await;

    assert!(lost.ran(), "the answer was lost");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Mine");
    let version = user.version + 1;
    assert_eq!(headers[header::ETAG], format!("\"{version}\"").as_str());
    let stored = state.users.find_by_email(&user.email).await.expect("read");
    assert_eq!(
        stored.expect("exists").user.version,
        version,
        "written once"
    );
}

#[tokio::test]
async fn an_email_change_waits_for_the_new_address_and_tells_the_old_one() {
    let (state, queue) = mailing_state().await;
    let old = unique_email("patch-email-old");
    let user = create_user(&state, &old, PASSWORD).await;
    let me = sign_in(&state, &user).await;
    let new = unique_email("Patch-Email-NEW");

    let change = with_body(
        "update-profile/change-email",
        &json!({"email": new, "current_password": PASSWORD, "name": "Ada King"}),
    );
    let (status, headers, body) = patch(&state, &me, change).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["email"], old,
        "the account keeps its address until confirmed"
    );
    assert_eq!(
        body["pending_email"],
        new.to_lowercase(),
        "normalised as register does"
    );
    assert_eq!(
        body["name"], "Ada King",
        "a name given with it applies at once"
    );
    assert_eq!(body["email_verified"], false);
    assert_eq!(headers[header::ETAG], "\"2\"");
    assert_eq!(
        queue.jobs().await,
        vec![
            MailJob::ConfirmEmailChange {
                user_id: user.id,
                address: new.to_lowercase()
            },
            MailJob::Notice {
                address: old.clone(),
                notice: Notice::EmailChangeRequested
            },
        ]
    );
    // Nothing moved: the old address still signs in, the new one is nobody's.
    assert_eq!(holder_of(&state, &old).await, Some(user.id));
    assert_eq!(holder_of(&state, &new).await, None);

    // A second change replaces the pending one.
    let newer = unique_email("patch-email-newer");
    let (status, _, body) = patch(&state, &me, body_with_password(&newer, PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pending_email"], newer);
    assert_eq!(queue.jobs().await.len(), 2);
}

#[tokio::test]
async fn changing_the_email_needs_the_right_current_password() {
    let state = mailing_state().await.0;
    let user = new_user(&state, "patch-reauth").await;
    let me = sign_in(&state, &user).await;
    let new = unique_email("patch-reauth-new");

    let (status, _, body) = patch(
        &state,
        &me,
        with_body(
            "update-profile/shape-email-without-password",
            &json!({"email": new}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["details"],
        json!({"current_password": "is required to change the email"})
    );

    let wrong = body_with_password(&new, "wrong horse battery staple");
    let (status, _, body) = patch(&state, &me, wrong.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_credentials");
    // Counted by the login throttle, like a failed sign-in.
    let threshold = state.login_throttle.settings().threshold;
    for _ in 1..threshold {
        assert_eq!(
            patch(&state, &me, wrong.clone()).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, headers, _) = patch(&state, &me, body_with_password(&new, PASSWORD)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key(header::RETRY_AFTER));
}

fn body_with_password(email: &str, password: &str) -> Value {
    with_body(
        "update-profile/change-email",
        &json!({"email": email, "current_password": password}),
    )
}

#[tokio::test]
async fn requests_that_change_nothing_or_something_unknown_are_400() {
    let state = mailing_state().await.0;
    let me = sign_in(&state, &new_user(&state, "patch-400").await).await;
    let (status, _, body) =
        patch(&state, &me, event("update-profile/shape-nothing-to-change")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["details"],
        json!({"body": "must change the name or the email"})
    );
    let (status, _, body) = patch(
        &state,
        &me,
        with_body("update-profile/ok", &json!({"nmae": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"]["nmae"], "is not a known field");
}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused_with_its_challenge() {
    let state = mailing_state().await.0;
    shared::testing::assert_standard_bearer_refusals("update-profile", |event| {
        update_profile::handler(&state, event)
    })
    .await;
}
