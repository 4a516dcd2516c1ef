//! `POST /register` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts. Each test registers its own emails (its own key space).

#![allow(clippy::expect_used)] // helpers of tests and examples: a panic is the failure

use std::sync::Arc;

use lambda_http::http::{StatusCode, header};
use serde_json::{Value, json};
use shared::mail::{MailJob, Notice};
use shared::testing::{
    assert_service_unavailable, event, events_named, lambda_event, mailing, mailing_state,
    outage_endpoints, parts, replace_in_body, state, state_with_dynamodb_at,
    stored_users_with_email, unique_email, with_json_body,
};
use tokio::task::JoinSet;

async fn register(event: &Value) -> (StatusCode, lambda_http::http::HeaderMap, Value) {
    let state = mailing_state().await.0;
    parts(register::handler(&state, lambda_event(event)).await)
}

/// The checked-in event with this test's own address in place of the sample one.
fn ok_event(email: &str) -> Value {
    replace_in_body(event("register/ok"), "Ada.Lovelace@Example.com", email)
}

#[tokio::test]
async fn register_returns_201_with_the_user_and_a_working_token() {
    let mixed_case = unique_email("Register-OK").replace("@example.com", "@Example.COM");
    let (status, headers, body) = register(&ok_event(&mixed_case)).await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let user = &body["user"];
    assert_eq!(
        user["email"],
        mixed_case.to_lowercase(),
        "trimmed and lower-cased"
    );
    assert_eq!(user["name"], "Ada Lovelace");
    assert!(
        user["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(
        user.as_object().map(|u| u.len()),
        Some(6),
        "id, email, name, created_at, email_verified, pending_email only"
    );
    let state = mailing_state().await.0;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], state.tokens.ttl().as_secs());

    let claims = state
        .tokens
        .verify(body["access_token"].as_str().expect("token"))
        .expect("the issued token verifies");
    assert_eq!(claims.sub, user["id"].as_str().expect("id"));
    assert!(
        !body.to_string().contains("argon2"),
        "no hash in the response"
    );
}

#[tokio::test]
async fn register_without_a_name_stores_null() {
    let email = unique_email("register-no-name");
    let event = replace_in_body(
        event("register/ok-without-name"),
        "grace@example.com",
        &email,
    );
    let (status, _, body) = register(&event).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["name"], Value::Null);
}

#[tokio::test]
async fn register_with_taken_email_in_any_case_returns_409() {
    let email = unique_email("register-taken");
    let (first, _, _) = register(&ok_event(&email)).await;
    assert_eq!(first, StatusCode::CREATED);

    let (status, _, body) = register(&ok_event(&email.to_uppercase())).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"error": {"code": "email_taken",
                         "message": "An account with this email already exists."}})
    );
    assert_eq!(stored_users_with_email(&email).await, 1);
}

#[tokio::test]
async fn bad_requests_get_4xx_with_stable_codes() {
    let cases = [
        (
            "register/shape-invalid-email",
            400,
            "validation_failed",
            vec!["email"],
        ),
        (
            "register/shape-short-password",
            400,
            "validation_failed",
            vec!["password"],
        ),
        (
            "register/shape-missing-fields",
            400,
            "validation_failed",
            vec!["email", "password"],
        ),
        (
            "register/shape-wrong-types",
            400,
            "validation_failed",
            vec!["email", "name", "password"],
        ),
        ("register/malformed-json", 400, "malformed_json", vec![]),
        ("register/not-json", 415, "unsupported_media_type", vec![]),
        ("register/too-large", 413, "payload_too_large", vec![]),
        (
            "register/gzip-encoded",
            415,
            "unsupported_media_type",
            vec![],
        ),
        ("register/invalid-base64-body", 400, "bad_request", vec![]),
        ("register/binary-body", 400, "malformed_json", vec![]),
        (
            "register/shape-unknown-field",
            400,
            "validation_failed",
            vec!["nmae"],
        ),
        (
            "register/duplicate-key",
            400,
            "validation_failed",
            vec!["email"],
        ),
        (
            "register/shape-huge-number",
            400,
            "validation_failed",
            vec!["password"],
        ),
        (
            "register/common-password",
            400,
            "validation_failed",
            vec!["password"],
        ),
        (
            "register/password-is-email",
            400,
            "validation_failed",
            vec!["password"],
        ),
        (
            "register/invisible-name",
            400,
            "validation_failed",
            vec!["name"],
        ),
        (
            "register/ip-address-email",
            400,
            "validation_failed",
            vec!["email"],
        ),
    ];
    for (name, status, code, fields) in cases {
        let (actual, _, body) = register(&event(name)).await;
        assert_eq!(actual.as_u16(), status, "{name}: {body}");
        assert_eq!(body["error"]["code"], code, "{name}");
        let details: Vec<&str> = body["error"]["details"]
            .as_object()
            .map(|d| d.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(details, fields, "{name}");
    }
}

#[tokio::test]
async fn the_details_explain_each_refusal_without_echoing_it() {
    let (_, _, body) = register(&event("register/shape-unknown-field")).await;
    assert_eq!(
        body["error"]["details"],
        json!({"nmae": "is not a known field"})
    );
    let (_, _, body) = register(&event("register/duplicate-key")).await;
    assert_eq!(
        body["error"]["details"],
        json!({"email": "is given more than once"})
    );
    let (_, _, body) = register(&event("register/common-password")).await;
    let detail = body["error"]["details"]["password"]
        .as_str()
        .expect("a detail");
    assert!(detail.contains("too common"), "{detail}");
    assert!(
        !body.to_string().to_lowercase().contains("password1"),
        "{body}"
    );
}

#[tokio::test]
async fn an_internationalised_domain_is_one_account_in_either_spelling() {
    let local = unique_email("idn").replace("@example.com", "");
    let unicode = replace_in_body(event("register/idn-email"), "IDN", &local);
    let (status, _, body) = register(&unicode).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["user"]["email"],
        format!("{local}@xn--bcher-kva.example")
    );

    let ascii = with_json_body(
        event("register/ok"),
        &json!({"email": format!("{local}@xn--bcher-kva.example"),
                "password": "correct horse battery staple"}),
    );
    let (status, _, body) = register(&ascii).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn greek_final_sigma_and_its_capital_are_one_mailbox() {
    let tag = uuid_tag();
    let register_as = |local: &str| {
        with_json_body(
            event("register/ok"),
            &json!({"email": format!("{local}-{tag}@x.example"),
                    "password": "correct horse battery staple"}),
        )
    };
    let (status, _, body) = register(&register_as("ΑΣ")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for variant in ["ας", "ασ"] {
        let (status, _, body) = register(&register_as(variant)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{variant}: {body}");
    }
}

fn uuid_tag() -> String {
    unique_email("t")
        .split('@')
        .next()
        .expect("local")
        .to_owned()
}

/// Headers that made `lambda_http` panic before any project code ran: each now gets the same
/// answer as the well-formed request.
#[tokio::test]
async fn hostile_headers_cannot_crash_register() {
    for name in events_named("register", "hostile-") {
        let email = unique_email("register-hostile");
        let event = replace_in_body(event(&name), "Ada.Lovelace@Example.com", &email);
        let (status, _, body) = register(&event).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
    }
}

#[tokio::test]
async fn passwords_are_counted_in_characters_up_to_the_maximum() {
    use shared::password::MAX_PASSWORD_LENGTH;
    let minimum = state().await.password_policy.min_length();
    let cases = [
        ("é".repeat(minimum), StatusCode::CREATED),
        ("🔑".repeat(MAX_PASSWORD_LENGTH), StatusCode::CREATED),
        ("x".repeat(MAX_PASSWORD_LENGTH + 1), StatusCode::BAD_REQUEST),
    ];
    for (password, expected) in cases {
        let email = unique_email("register-length");
        let event = with_json_body(
            event("register/ok"),
            &json!({"email": email, "password": password}),
        );
        let (status, _, body) = register(&event).await;
        assert_eq!(status, expected, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_registrations_of_one_email_create_exactly_one_account() {
    let email = unique_email("register-race");
    let state = Arc::new(mailing_state().await.0);
    let mut attempts = JoinSet::new();
    for i in 0..20 {
        // Vary the letter case too: the race is on the normalised address.
        let variant = if i % 2 == 0 {
            email.clone()
        } else {
            email.to_uppercase()
        };
        let event = lambda_event(&ok_event(&variant));
        let state = Arc::clone(&state);
        attempts.spawn(async move { parts(register::handler(&state, event).await) });
    }
    let results = attempts.join_all().await;

    let statuses: Vec<u16> = results.iter().map(|(s, _, _)| s.as_u16()).collect();
    let created: Vec<_> = results
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "statuses: {statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(
        stored_users_with_email(&email).await,
        1,
        "one account stored"
    );
    let winner = created[0].2["user"]["id"].as_str().expect("id").to_owned();
    let stored = state
        .users
        .find_by_email(&shared::email::Email::parse(&email).expect("valid"))
        .await
        .expect("read")
        .expect("the account exists");
    assert_eq!(
        stored.user.id.to_string(),
        winner,
        "the claim points at the winner"
    );
}

#[tokio::test]
async fn database_outages_and_throttling_become_a_clean_503() {
    for endpoint in outage_endpoints().await {
        let state = mailing(state_with_dynamodb_at(&endpoint).await).await.0;
        let event = ok_event(&unique_email("register-outage"));
        assert_service_unavailable(register::handler(&state, lambda_event(&event)).await);
    }
}

#[tokio::test]
async fn a_new_account_is_sent_a_verification_and_starts_unverified() {
    let (state, queue) = mailing_state().await;
    let email = unique_email("register-verify");
    let (status, _, body) = parts(register::handler(&state, lambda_event(&ok_event(&email))).await);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["email_verified"], false);
    assert_eq!(body["user"]["pending_email"], Value::Null);
    let id = shared::user::UserId::parse(body["user"]["id"].as_str().expect("an id"))
        .expect("a user id");
    assert_eq!(
        queue.jobs().await,
        vec![MailJob::VerifyEmail {
            user_id: id,
            address: email
        }]
    );
}

/// With `EMAIL_VERIFICATION_REQUIRED=true`: one answer for a new and a taken address (status,
/// headers, body), no session, and the right message queued for each; the new account cannot sign
/// in until its address is confirmed, and then it can.
#[tokio::test]
async fn when_verification_is_required_new_and_taken_addresses_get_one_answer() {
    let app = shared::testing::state_with(&[("EMAIL_VERIFICATION_REQUIRED", "true")]).await;
    let (state, queue) = mailing(app).await;
    let taken = shared::testing::new_user(&state, "register-required-taken").await;
    let fresh = unique_email("register-required-new");

    let mut answers = Vec::new();
    for email in [fresh.as_str(), taken.email.as_str()] {
        let (status, headers, body) =
            parts(register::handler(&state, lambda_event(&ok_event(email))).await);
        answers.push((status, headers, body));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        (answers[0].0, &answers[0].2),
        (StatusCode::ACCEPTED, &json!({}))
    );
    let jobs = queue.jobs().await;
    assert!(
        matches!(&jobs[0], MailJob::VerifyEmail { address, .. } if *address == fresh),
        "{jobs:?}"
    );
    assert_eq!(
        jobs[1],
        MailJob::Notice {
            address: taken.email.as_str().to_owned(),
            notice: Notice::SignUpAttempt
        }
    );
    assert_eq!(stored_users_with_email(&fresh).await, 1);

    let login = |email: String| {
        let state = &state;
        async move {
            let body = json!({"email": email, "password": "correct horse battery staple"});
            let event = with_json_body(event("login/ok"), &body);
            parts(login::handler(state, lambda_event(&event)).await)
        }
    };
    let (status, _, body) = login(fresh.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "email_not_verified");
    let (status, _, body) = login(fresh.clone()).await.clone();
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("email_not_verified"))
    );
    // A wrong password is still the plain 401: the 403 needs the right one.
    let wrong = json!({"email": fresh, "password": "wrong horse battery staple"});
    let (status, _, _) = parts(
        login::handler(
            &state,
            lambda_event(&with_json_body(event("login/ok"), &wrong)),
        )
        .await,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let MailJob::VerifyEmail { user_id, .. } = jobs[0].clone() else {
        unreachable!()
    };
    let issued =
        shared::testing::issue_code(&state, user_id, shared::codes::Purpose::Verify, &fresh).await;
    let presented = shared::recovery::Presented::Token(shared::testing::token_of(&issued).into());
    let unlocked = shared::recovery::unlock(&state, &presented, &[shared::codes::Purpose::Verify])
        .await
        .expect("unlocks");
    state
        .users
        .confirm_address(&unlocked.user, &unlocked.record, &unlocked.proof)
        .await
        .expect("confirmed");
    let (status, _, body) = login(fresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email_verified"], true);
}
