//! `GET /profile` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use lambda_http::http::{StatusCode, header};
use serde_json::{Value, json};
use shared::testing::{
    Interleave, assert_service_unavailable, create_user, event, events_named, interleaved_state,
    lambda_event, new_user, parts, recording_state, sign_in, state, unique_email, with_header,
};

async fn profile(event: &Value) -> (StatusCode, lambda_http::http::HeaderMap, Value) {
    let state = state().await;
    parts(profile::handler(&state, lambda_event(event)).await)
}

#[tokio::test]
async fn a_valid_token_returns_the_signed_in_user() {
    let state = state().await;
    let email = unique_email("profile-ok");
    let user = create_user(&state, &email, "correct horse battery staple").await;
    let bearer = sign_in(&state, &user).await.bearer;
    let event = with_header(event("profile/ok"), "authorization", &bearer);

    let (status, headers, body) = profile(&event).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        headers[header::ETAG],
        format!("\"{}\"", user.version).as_str()
    );
    assert_eq!(
        body,
        json!({"id": user.id.to_string(), "email": email, "name": null,
               "created_at": user.created_at, "email_verified": false,
               "pending_email": null})
    );
}

#[tokio::test]
async fn a_missing_token_is_401_missing_token_with_a_bearer_challenge() {
    // No header, or another scheme: no bearer token was presented, so the challenge carries no
    // error code (RFC 6750 §3.1).
    for name in ["profile/missing-token", "profile/not-bearer"] {
        let (status, headers, body) = profile(&event(name)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"accounts\"",
            "{name}"
        );
        assert_eq!(body["error"]["code"], "missing_token", "{name}");
    }
}

#[tokio::test]
async fn every_bad_token_is_401_invalid_token() {
    let cases = [
        "profile/two-authorization-headers",
        "profile/expired-token",
        "profile/not-yet-valid-token",
        "profile/alg-none-token",
        "profile/tampered-token",
        "profile/wrong-key-token",
        "profile/wrong-algorithm-token",
        "profile/wrong-issuer-token",
        "profile/wrong-audience-token",
        "profile/string-exp-token",
        // Signed correctly, but for a user that does not exist (e.g. deleted).
        "profile/unknown-user-token",
        // The placeholder left in the sample event for `cargo lambda invoke`.
        "profile/ok",
    ];
    for name in cases {
        let (status, headers, body) = profile(&event(name)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(body["error"]["code"], "invalid_token", "{name}");
        let challenge = headers[header::WWW_AUTHENTICATE].to_str().expect("ascii");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
    }
}

async fn signed_in_user() -> (String, Value) {
    let state = state().await;
    let email = unique_email("profile-hostile");
    let user = create_user(&state, &email, "correct horse battery staple").await;
    let bearer = sign_in(&state, &user).await.bearer;
    let expected = json!({"id": user.id.to_string(), "email": email, "name": null,
                          "created_at": user.created_at, "email_verified": false,
               "pending_email": null});
    (bearer, expected)
}

/// Headers that made `lambda_http` panic before any project code ran, and a query string full
/// of bytes a URI may not hold: each now gets the same answer as the well-formed request.
#[tokio::test]
async fn hostile_headers_and_queries_cannot_crash_profile() {
    let (authorization, expected) = signed_in_user().await;
    let mut names = events_named("profile", "hostile-");
    names.push("profile/odd-query-string".to_owned());
    for name in names {
        let event = with_header(event(&name), "authorization", &authorization);
        let (status, _, body) = profile(&event).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body, expected, "{name}");
    }
}

#[tokio::test]
async fn a_stored_address_todays_rules_refuse_still_reads_back() {
    let state = state().await;
    let user = create_user(
        &state,
        &unique_email("profile-legacy"),
        "correct horse battery staple",
    )
    .await;
    shared::testing::overwrite_user_email(&user.id, "rt@127.0.0.1").await;
    let bearer = sign_in(&state, &user).await.bearer;
    let event = with_header(event("profile/ok"), "authorization", &bearer);
    let (status, _, body) = profile(&event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "rt@127.0.0.1");
}

/// Access tokens die with their session: once it is ended, the same (unexpired) token is refused
/// in the very next request.
#[tokio::test]
async fn a_token_of_an_ended_session_is_refused_at_once() {
    let state = state().await;
    let user = create_user(
        &state,
        &unique_email("profile-ended"),
        "correct horse battery staple",
    )
    .await;
    let signed_in = sign_in(&state, &user).await;
    let event = with_header(event("profile/ok"), "authorization", &signed_in.bearer);
    assert_eq!(profile(&event).await.0, StatusCode::OK);

    state
        .users
        .end_session(&user.id, &signed_in.session.id)
        .await
        .expect("ended");
    let (status, headers, body) = profile(&event).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_token");
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
}

/// The session check costs no extra round trip: the user and the session are one read.
#[tokio::test]
async fn the_session_check_and_the_user_read_are_one_round_trip() {
    let (state, recorder) = recording_state().await;
    let user = create_user(
        &state,
        &unique_email("profile-calls"),
        "correct horse battery staple",
    )
    .await;
    let bearer = sign_in(&state, &user).await.bearer;
    recorder.take();
    let event = with_header(event("profile/ok"), "authorization", &bearer);
    let (status, _, _) = parts(profile::handler(&state, lambda_event(&event)).await);
    assert_eq!(status, StatusCode::OK);
    let calls = recorder.take();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (calls[0].operation, calls[0].consistent),
        ("BatchGetItem", true)
    );
}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused_with_its_challenge() {
    let state = state().await;
    shared::testing::assert_standard_bearer_refusals("profile", |event| {
        profile::handler(&state, event)
    })
    .await;
}

/// Keys DynamoDB leaves unprocessed (its throttling signal) are retried with
/// backoff; a valid token is never told it is invalid because of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprocessed_reads_are_retried_then_answered_503_never_401() {
    let state = state().await;
    let user = new_user(&state, "profile-unprocessed").await;
    let bearer = sign_in(&state, &user).await.bearer;
    let event = with_header(event("profile/ok"), "authorization", &bearer);

    let once = Interleave::unprocessed_batch_reads(1);
    let retried = interleaved_state(once.clone()).await;
    let (status, _, body) = parts(profile::handler(&retried, lambda_event(&event)).await);
    assert!(once.ran());
    assert_eq!(status, StatusCode::OK, "retried: {body}");

    let always = Interleave::unprocessed_batch_reads(4);
    let throttled = interleaved_state(always.clone()).await;
    assert_service_unavailable(profile::handler(&throttled, lambda_event(&event)).await);
    assert!(always.ran());
}

/// Key rotation, as the functions see it: a token signed by the key that is now `previous` still
/// serves; one signed by a key that was removed is `401 invalid_token`; one signed by a key this
/// deployment knows only as `next` (another instance promoted it first) is refused too.
#[tokio::test]
async fn a_rotation_keeps_previous_tokens_and_refuses_removed_and_next_keys() {
    use shared::keys::generate::es256_pem;
    use shared::testing::state_with_keyset;
    let (old, new) = (es256_pem(), es256_pem());
    let before = state_with_keyset(&[("current", "ES256", &old), ("next", "ES256", &new)]).await;
    let during =
        state_with_keyset(&[("previous", "ES256", &old), ("current", "ES256", &new)]).await;
    let after = state_with_keyset(&[("current", "ES256", &new)]).await;
    let user = new_user(&before, "profile-rotation").await;
    let answer = async |state: &shared::AppState, bearer: &str| {
        let event = with_header(event("profile/ok"), "authorization", bearer);
        let (status, _, body) = parts(profile::handler(state, lambda_event(&event)).await);
        (status, body["error"]["code"].as_str().map(str::to_owned))
    };
    let by_old = sign_in(&before, &user).await.bearer;
    assert_eq!(
        answer(&during, &by_old).await,
        (StatusCode::OK, None),
        "previous verifies"
    );
    assert_eq!(
        answer(&after, &by_old).await,
        (StatusCode::UNAUTHORIZED, Some("invalid_token".to_owned())),
        "a removed key's token"
    );
    let by_new = sign_in(&after, &user).await.bearer;
    assert_eq!(
        answer(&before, &by_new).await,
        (StatusCode::UNAUTHORIZED, Some("invalid_token".to_owned())),
        "next does not verify"
    );
    assert_eq!(answer(&during, &by_new).await, (StatusCode::OK, None));
}
