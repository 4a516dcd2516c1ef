//! `POST /login` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts. Each test creates its own account (its own key space).

#![allow(clippy::expect_used)] // helpers of tests and examples: a panic is the failure

use std::time::Duration;

use lambda_http::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use shared::AppState;
use shared::clock::Clock;
use shared::runtime::EventResponse;
use shared::testing::{
    DynamoCall, Interleave, assert_service_unavailable, create_user, event, events_named,
    interleaved_state, lambda_event, outage_endpoints, parts, recording_state, replace_in_body,
    state, state_with, state_with_dynamodb_at, stored_hash, unique_email,
};
use shared::user::User;
use tokio::task::JoinSet;

const PASSWORD: &str = "correct horse battery staple";
const SAMPLE_EMAIL: &str = "ada.lovelace@example.com";
const UNKNOWN_SAMPLE_EMAIL: &str = "nobody@example.com";

async fn raw(state: &AppState, event: &Value) -> EventResponse {
    login::handler(state, lambda_event(event)).await
}

async fn login(state: &AppState, event: &Value) -> (StatusCode, HeaderMap, Value) {
    parts(raw(state, event).await)
}

/// A checked-in login event, aimed at `email` instead of its sample address (each test its own
/// address: the throttle counts per email).
fn login_event(name: &str, email: &str) -> Value {
    let event = event(name);
    let sample = [SAMPLE_EMAIL, UNKNOWN_SAMPLE_EMAIL]
        .into_iter()
        .find(|sample| {
            event["body"]
                .as_str()
                .is_some_and(|body| body.contains(sample))
        })
        .expect("the event holds a sample address");
    replace_in_body(event, sample, email)
}

fn ok_event(email: &str) -> Value {
    // events/login/ok.json spells the address in upper case.
    replace_in_body(event("login/ok"), "ADA.LOVELACE@example.com", email)
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

    let (status, headers, body) = login(&state, &ok_event(&email.to_uppercase())).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], state.tokens.ttl().as_secs());
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

    let wrong = raw(&state, &login_event("login/wrong-password", &email)).await;
    let unknown_event = login_event("login/unknown-email", &unique_email("login-nobody"));
    let unknown = raw(&state, &unknown_event).await;

    assert_eq!(wrong.status_code, 401);
    assert_eq!(wrong, unknown, "status, headers and body byte for byte");
    assert_eq!(parts(wrong).2, invalid_credentials());
}

/// The DynamoDB work of a failed sign-in must not depend on whether the account exists: the
/// same operations on the same kinds of item with the same consistency, as many times.
#[tokio::test]
async fn unknown_email_and_wrong_password_make_the_same_dynamodb_calls() {
    let (state, recorder) = recording_state().await;
    let email = unique_email("login-calls");
    create_user(&state, &email, PASSWORD).await;
    recorder.take();

    let wrong = login(&state, &login_event("login/wrong-password", &email)).await;
    let mut wrong_calls = recorder.take();
    let nobody = unique_email("login-calls-nobody");
    let unknown = login(&state, &login_event("login/unknown-email", &nobody)).await;
    let mut unknown_calls = recorder.take();

    assert_eq!(
        (wrong.0, unknown.0),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    // The throttle and the account lookup run concurrently: compare in a fixed order.
    wrong_calls.sort();
    unknown_calls.sort();
    let call = |operation, item: &str, consistent| DynamoCall {
        operation,
        item: item.to_owned(),
        consistent,
    };
    assert_eq!(
        wrong_calls,
        [
            call("GetItem", "EMAIL", true),
            // The source's counter and the email's.
            call("GetItem", "THROTTLE", true),
            call("GetItem", "THROTTLE", true),
            call("GetItem", "USER", true),
            // Both counted in one transaction.
            call("PutItem", "THROTTLE", false),
            call("PutItem", "THROTTLE", false),
        ]
    );
    assert_eq!(unknown_calls, wrong_calls);
}

// That the unknown-email path does the same argon2 work as a wrong password (a dummy
// verification) is held deterministically from the records, by dev/tests/test_records.py (every
// `401` of `POST /login` ran exactly one verification); how alike the two take in time is a
// statistical question for `make bench` (bench/routes, "login timing check").

#[tokio::test]
async fn an_address_that_does_not_parse_is_just_invalid_credentials() {
    let state = state().await;
    let event = login_event("login/wrong-password", "not-an-address");
    let (status, _, body) = login(&state, &event).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, invalid_credentials());
}

/// Five failures, then backoff: 429 with `Retry-After`, the same for an account that exists and
/// one that does not, and the wait doubles with the next failure.
#[tokio::test]
async fn five_failures_throttle_known_and_unknown_emails_alike() {
    // The throttle reads a clock that moves only when the test says: the waits it announces are
    // exact however slowly a loaded machine runs the attempts.
    let mut state = state_with(&[("LOGIN_THROTTLE_BASE_DELAY_SECONDS", "3")]).await;
    let clock = Clock::manual(shared::clock::now_millis());
    state.login_throttle = state.login_throttle.clone().with_clock(clock.clone());
    let known = unique_email("login-throttle");
    create_user(&state, &known, PASSWORD).await;
    let unknown = unique_email("login-throttle-nobody");

    let settings = state.login_throttle.settings();
    let mut answers = Vec::new();
    for email in [&known, &unknown] {
        let wrong = login_event("login/wrong-password", email);
        for attempt in 1..=settings.threshold {
            let (status, _, _) = login(&state, &wrong).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{email} attempt {attempt}"
            );
        }
        // Throttled even with the right password, and before any argon2 work (what each 429
        // cost is held by dev/tests/test_records.py, from the records, not by a clock).
        answers.push(raw(&state, &ok_event(email)).await);
    }
    assert_eq!(
        answers[0], answers[1],
        "a 429 says nothing about the account"
    );
    let (status, headers, body) = parts(answers.remove(0));
    let base = settings.base_delay;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        headers[header::RETRY_AFTER],
        base.as_secs().to_string().as_str()
    );
    assert_eq!(body["error"]["code"], "too_many_attempts");

    // Until the first delay has passed, still refused, and told the time left.
    clock.advance(base - Duration::from_secs(1));
    let (status, headers, _) = login(&state, &ok_event(&known)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    // After the first delay one more guess is allowed; its failure doubles the wait.
    clock.advance(Duration::from_secs(1));
    let wrong = login_event("login/wrong-password", &known);
    assert_eq!(login(&state, &wrong).await.0, StatusCode::UNAUTHORIZED);
    let (status, headers, _) = login(&state, &wrong).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let doubled = (base * 2).as_secs().to_string();
    assert_eq!(headers[header::RETRY_AFTER], doubled.as_str());
}

#[tokio::test]
async fn a_successful_login_resets_the_count() {
    let state = state().await;
    let email = unique_email("login-reset");
    create_user(&state, &email, PASSWORD).await;
    let wrong = login_event("login/wrong-password", &email);
    let threshold = state.login_throttle.settings().threshold;
    for _ in 1..threshold {
        assert_eq!(login(&state, &wrong).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&state, &ok_event(&email)).await.0, StatusCode::OK);
    for attempt in 1..=threshold {
        let (status, _, _) = login(&state, &wrong).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt} after the reset"
        );
    }
    assert_eq!(login(&state, &wrong).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_thresholds_come_from_configuration() {
    let mut state = state_with(&[
        ("LOGIN_THROTTLE_THRESHOLD", "2"),
        ("LOGIN_THROTTLE_BASE_DELAY_SECONDS", "30"),
    ])
    .await;
    let clock = Clock::manual(shared::clock::now_millis());
    state.login_throttle = state.login_throttle.clone().with_clock(clock);
    let wrong = login_event("login/wrong-password", &unique_email("login-config"));
    for _ in 0..2 {
        assert_eq!(login(&state, &wrong).await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, headers, _) = login(&state, &wrong).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("seconds");
    assert_eq!(retry, 30);
}

/// A burst of parallel guesses cannot slip past the count: each attempt is counted by a
/// conditional write on the count it read, so at most the threshold's worth get to argon2.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_get_no_more_than_the_threshold() {
    let state = std::sync::Arc::new(state().await);
    let email = unique_email("login-burst");
    create_user(&state, &email, PASSWORD).await;
    let wrong = login_event("login/wrong-password", &email);
    let mut attempts = JoinSet::new();
    for _ in 0..20 {
        let (state, wrong) = (state.clone(), wrong.clone());
        attempts.spawn(async move { login(&state, &wrong).await.0 });
    }
    let statuses = attempts.join_all().await;
    let guessed = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(guessed + throttled, 20, "{statuses:?}");
    assert!(
        (1..=5).contains(&guessed),
        "{guessed} guesses got through: {statuses:?}"
    );
}

/// The failure is counted (the throttle item exists, keyed by the address's HMAC) and no item
/// holds the address: without the first half, a login that wrote nothing would pass the second.
#[tokio::test]
async fn the_throttle_counts_an_unknown_address_without_storing_it() {
    let state = state().await;
    let email = unique_email("login-clear");
    assert_eq!(
        shared::testing::throttle_failures(&state, &email).await,
        None
    );
    let wrong = login_event("login/wrong-password", &email);
    assert_eq!(login(&state, &wrong).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        shared::testing::throttle_failures(&state, &email).await,
        Some(1),
        "the failure is counted"
    );
    let local = email.split('@').next().expect("local part");
    assert_eq!(
        shared::testing::items_mentioning(local).await,
        0,
        "no item holds the unknown address"
    );
}

#[tokio::test]
async fn bad_requests_get_400_with_stable_codes() {
    let state = state().await;
    let (status, _, body) = login(&state, &event("login/shape-missing-password")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["details"], json!({"password": "is required"}));

    let (status, _, body) = login(&state, &event("login/malformed-json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_json");
}

/// Headers that made `lambda_http` panic before any project code ran: each now gets the same
/// answer as the well-formed request.
#[tokio::test]
async fn hostile_headers_cannot_crash_login() {
    let state = state().await;
    let email = unique_email("login-hostile");
    create_user(&state, &email, PASSWORD).await;
    for name in events_named("login", "hostile-") {
        let event = replace_in_body(event(&name), "ADA.LOVELACE@example.com", &email);
        let (status, _, body) = login(&state, &event).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
}

#[tokio::test]
async fn database_outages_and_throttling_become_a_clean_503() {
    for endpoint in outage_endpoints().await {
        let state = state_with_dynamodb_at(&endpoint).await;
        // DYNAMODB_TIMEOUT_MS bounds even a server that never answers (fault states use 1 s):
        // without it this would wait forever, so a generous cap turns that into a failure.
        let answer =
            tokio::time::timeout(Duration::from_secs(120), raw(&state, &event("login/ok")))
                .await
                .expect("bounded by DYNAMODB_TIMEOUT_MS");
        assert_service_unavailable(answer);
    }
}

/// Raising the argon2 parameters is a configuration change: a hash made with the old ones is
/// replaced at the next successful login (conditional on the version read), and the account
/// keeps working.
#[tokio::test]
async fn a_login_upgrades_a_hash_made_with_weaker_parameters() {
    let old = state().await;
    let email = unique_email("login-rehash");
    let user = create_user(&old, &email, PASSWORD).await;
    let stronger = state_with(&[("ARGON2_MEMORY_KIB", "38912"), ("ARGON2_ITERATIONS", "3")]).await;
    let (before, version) = stored_hash(&stronger, &email).await;
    assert!(before.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

    let (status, _, body) = login(&stronger, &ok_event(&email)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (after, new_version) = stored_hash(&stronger, &email).await;
    assert!(
        after.starts_with("$argon2id$v=19$m=38912,t=3,p=1$"),
        "{after:.30}"
    );
    assert_eq!(new_version, version + 1);
    assert_eq!(user.version, version);
    // Both configurations still verify it; nothing is rehashed twice.
    assert_eq!(login(&stronger, &ok_event(&email)).await.0, StatusCode::OK);
    assert_eq!(stored_hash(&stronger, &email).await.0, after);
    assert_eq!(login(&old, &ok_event(&email)).await.0, StatusCode::OK);
}

/// A sign-in that verified the password just before a password change (or a deletion) must not
/// leave a session behind: the session is written only if the hash it verified is still the
/// account's.
#[tokio::test]
async fn a_session_is_not_started_on_a_password_that_changed_meanwhile() {
    use shared::password::PasswordHashString;
    use shared::session::{ClientInfo, Session};
    let state = state().await;
    let email = unique_email("login-race-change");
    let user = create_user(&state, &email, PASSWORD).await;
    let (verified, _) = stored_hash(&state, &email).await;
    let verified = PasswordHashString::from_stored(verified);

    // The password changes between the verification and the session write.
    let new = state
        .password_policy
        .parse("a brand new passphrase", None)
        .expect("valid");
    let new_hash = state.passwords.hash(new).await.expect("hashed");
    let (_, version) = stored_hash(&state, &email).await;
    let mut current = user.clone();
    current.version = version;
    let changed = state
        .users
        .set_password_hash(&current, &new_hash)
        .await
        .expect("written");
    assert!(changed.is_some());

    let session = Session::start(
        &user,
        ClientInfo::default(),
        state.refresh_tokens.settings(),
    );
    let started = state.users.start_session(&session, &verified).await;
    assert!(
        matches!(started, Err(shared::ApiError::InvalidCredentials)),
        "{started:?}"
    );
    let stored = state
        .users
        .get_session(&user.id, &session.id)
        .await
        .expect("read");
    assert!(stored.is_none(), "no session was written");
    // With the current hash it starts.
    state
        .users
        .start_session(&session, &new_hash)
        .await
        .expect("started");
}

/// Runs `change` on the account from another request's state, blocking the handler that is
/// waiting for it (an [`Interleave`] hook).
fn meanwhile<F, Fut>(change: F) -> impl FnOnce() + Send + 'static
where
    F: FnOnce(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    move || {
        tokio::runtime::Handle::current().block_on(async move { change(state().await).await });
    }
}

fn deletion_of(user: User) -> impl FnOnce() + Send + 'static {
    meanwhile(move |other| async move {
        other
            .users
            .delete_account(&user)
            .await
            .expect("deleted meanwhile");
    })
}

/// Signs `email` in through `interleaved` and expects the one refusal, with no session started.
async fn assert_refused_leaving_no_session(interleaved: &AppState, user: &User, email: &str) {
    let sessions = || async {
        let now = shared::clock::now_seconds();
        let found = state().await.users.sessions(&user.id, now).await;
        found
            .expect("read")
            .into_iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
    };
    let before = sessions().await;
    let (status, _, body) = login(interleaved, &ok_event(email)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body, invalid_credentials());
    let started: Vec<_> = sessions()
        .await
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert!(started.is_empty(), "a session was started: {started:?}");
}

/// The account is deleted between login's read of the email claim and its read of the
/// user (forced, every time): no account, so `401 invalid_credentials`, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_between_the_claim_and_the_user_read_is_invalid_credentials() {
    let state = state().await;
    let email = unique_email("login-deleted-in-lookup");
    let user = create_user(&state, &email, PASSWORD).await;
    let deletion = Interleave::before_touching("GetItem", "USER", deletion_of(user.clone()));
    let interleaved = interleaved_state(deletion.clone()).await;

    assert_refused_leaving_no_session(&interleaved, &user, &email).await;
    assert!(deletion.ran(), "the deletion was interleaved");
}

/// The deletion commits between login's password check and its session write (forced):
/// `401 invalid_credentials`, and the session is never written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_between_the_password_check_and_the_session_write_is_invalid_credentials() {
    let state = state().await;
    let email = unique_email("login-deleted-before-session");
    let user = create_user(&state, &email, PASSWORD).await;
    let deletion =
        Interleave::before_touching("TransactWriteItems", "USER", deletion_of(user.clone()));
    let interleaved = interleaved_state(deletion.clone()).await;

    assert_refused_leaving_no_session(&interleaved, &user, &email).await;
    assert!(deletion.ran(), "the deletion was interleaved");
}

/// The same window, with a password change instead: the password login verified is no longer
/// the account's, so no session starts on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_between_the_check_and_the_session_write_is_invalid_credentials() {
    let state = state().await;
    let email = unique_email("login-rehashed-before-session");
    let user = create_user(&state, &email, PASSWORD).await;
    let read = user.clone();
    let change = Interleave::before_touching(
        "TransactWriteItems",
        "USER",
        meanwhile(move |other| async move {
            let password = other
                .password_policy
                .parse("a brand new passphrase", None)
                .expect("valid");
            let hash = other.passwords.hash(password).await.expect("hashed");
            let changed = other.users.set_password_hash(&read, &hash).await;
            changed.expect("answered").expect("changed meanwhile");
        }),
    );
    let interleaved = interleaved_state(change.clone()).await;

    assert_refused_leaving_no_session(&interleaved, &user, &email).await;
    assert!(change.ran(), "the password change was interleaved");
}

/// The same checked-in event, as if sent from `source`.
fn from_source(mut event: Value, source: &str) -> Value {
    event["requestContext"]["http"]["sourceIp"] = json!(source);
    event
}

/// Someone who knows the address guesses from one source until that source is
/// held; the owner, from another source, signs in every time meanwhile.
#[tokio::test]
async fn a_stranger_guessing_does_not_hold_the_owner_back() {
    let state = state().await;
    let email = unique_email("login-owner");
    create_user(&state, &email, PASSWORD).await;
    let guess = from_source(login_event("login/wrong-password", &email), "198.51.100.66");
    let owner = from_source(ok_event(&email), "203.0.113.7");

    let (mut held, mut owner_ok) = (0, 0);
    for _ in 0..20 {
        let (status, _, _) = login(&state, &guess).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            held += 1;
        }
        if login(&state, &owner).await.0 == StatusCode::OK {
            owner_ok += 1;
        }
    }
    assert!(held > 0, "the guessing source is held back");
    assert_eq!(owner_ok, 20, "the owner signed in every time");
}

/// Failures from many sources together reach the email's own limit, after which
/// every attempt on it waits, the right password from a new source too (no existence oracle:
/// the same for an unknown address).
#[tokio::test]
async fn failures_from_many_sources_reach_the_email_wide_limit() {
    let state = state_with(&[
        ("LOGIN_THROTTLE_ADDRESS_LIMIT", "5"),
        ("LOGIN_THROTTLE_BASE_DELAY_SECONDS", "60"),
        ("LOGIN_THROTTLE_MAX_DELAY_SECONDS", "60"),
    ])
    .await;
    for known in [true, false] {
        let email = unique_email("login-distributed");
        if known {
            create_user(&state, &email, PASSWORD).await;
        }
        for source in 1..=5 {
            let guess = from_source(
                login_event("login/wrong-password", &email),
                &format!("198.51.100.{source}"),
            );
            assert_eq!(login(&state, &guess).await.0, StatusCode::UNAUTHORIZED);
        }
        let fresh = from_source(ok_event(&email), "203.0.113.99");
        let (status, headers, _) = login(&state, &fresh).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "known: {known}");
        assert!(headers.contains_key(header::RETRY_AFTER));
    }
}

/// A browser page of an allowed origin asks for the refresh token as a cookie: it gets an
/// `HttpOnly`, `SameSite=Strict` cookie and no `refresh_token` in the body (so no script of the
/// page ever holds it), and the CORS grant that lets the page read the answer.
#[tokio::test]
async fn a_browser_can_take_the_refresh_token_as_an_http_only_cookie() {
    let state = state().await;
    let email = unique_email("login-cookie");
    create_user(&state, &email, PASSWORD).await;

    let answer = raw(&state, &login_event("login/cookie", &email)).await;
    let cookie = shared::testing::set_cookie(&answer).expect("a refresh cookie");
    let (status, headers, body) = parts(answer);

    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());
    let token = shared::testing::cookie_token(&cookie);
    assert!(token.starts_with("v1."), "{cookie}");
    let max_age: u64 = cookie
        .split("; ")
        .find_map(|attribute| attribute.strip_prefix("Max-Age="))
        .and_then(|seconds| seconds.parse().ok())
        .expect("Max-Age");
    assert!(
        (1..=state.refresh_tokens.settings().idle_ttl.as_secs()).contains(&max_age),
        "{cookie}"
    );
    assert!(
        cookie.ends_with("; Path=/; HttpOnly; SameSite=Strict"),
        "http origin: not Secure: {cookie}"
    );
    assert_eq!(
        headers["access-control-allow-origin"],
        shared::testing::WEB_ORIGIN
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(
        headers["access-control-expose-headers"],
        "ETag, Retry-After, WWW-Authenticate"
    );
}

/// The same sign-in from another site's page: refused before the password is checked, no
/// cookie, no session, no CORS grant. Without the field, or with `body`, nothing changes.
#[tokio::test]
async fn another_origin_cannot_ask_for_the_cookie() {
    let state = state().await;
    let email = unique_email("login-cookie-evil");
    let user = create_user(&state, &email, PASSWORD).await;
    let now = shared::clock::now_seconds();
    let before = state
        .users
        .sessions(&user.id, now)
        .await
        .expect("read")
        .len();

    let answer = raw(&state, &login_event("login/cookie-other-origin", &email)).await;
    assert!(shared::testing::set_cookie(&answer).is_none());
    let (status, headers, body) = parts(answer);
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    assert!(headers.get("access-control-allow-origin").is_none());
    let after = state
        .users
        .sessions(&user.id, now)
        .await
        .expect("read")
        .len();
    assert_eq!(after, before, "no session started");

    let (status, _, body) =
        login(&state, &login_event("login/shape-unknown-delivery", &email)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["details"]["refresh_token_delivery"],
        "must be `body` or `cookie`"
    );
}
