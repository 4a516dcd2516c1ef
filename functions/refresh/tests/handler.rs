//! `POST /refresh` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts: rotation, reuse detection, the grace, races.

use std::sync::Arc;

use lambda_http::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use shared::AppState;
use shared::runtime::EventResponse;
use shared::session::{ClientInfo, Session};
use shared::testing::{
    Interleave, SignedIn, auth_status, create_user, event, interleaved_state, lambda_event, parts,
    sign_in, state, state_with, unique_email, with_header, with_json_body,
};
use tokio::task::JoinSet;

const PASSWORD: &str = "correct horse battery staple";

async fn raw(state: &AppState, token: &str) -> EventResponse {
    let event = with_json_body(event("refresh/ok"), &json!({"refresh_token": token}));
    refresh::handler(state, lambda_event(&event)).await
}

async fn refresh(state: &AppState, token: &str) -> (StatusCode, HeaderMap, Value) {
    parts(raw(state, token).await)
}

async fn signed_in(state: &AppState, tag: &str) -> (shared::user::User, SignedIn) {
    let user = create_user(state, &unique_email(tag), PASSWORD).await;
    let session = sign_in(state, &user).await;
    (user, session)
}

fn invalid_grant() -> Value {
    json!({"error": {"code": "invalid_grant",
                     "message": "The refresh token is invalid or has expired."}})
}

#[tokio::test]
async fn a_refresh_rotates_both_tokens_and_keeps_the_session() {
    let state = state().await;
    let (user, first) = signed_in(&state, "refresh-ok").await;

    let (status, _, body) = refresh(&state, &first.refresh_token).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], state.tokens.ttl().as_secs());
    assert_eq!(body["user"]["id"], user.id.to_string());
    let rotated = body["refresh_token"].as_str().expect("refresh token");
    assert_ne!(rotated, first.refresh_token, "rotation on every use");
    let access = body["access_token"].as_str().expect("access token");
    let claims = state.tokens.verify(access).expect("valid");
    assert_eq!(claims.sid, first.session.id.to_string(), "the same session");
    assert_eq!(
        auth_status(&state, &format!("Bearer {access}")).await,
        StatusCode::OK
    );
    // And the rotated token rotates again.
    let (status, _, again) = refresh(&state, rotated).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_ne!(again["refresh_token"], body["refresh_token"]);
}

#[tokio::test]
async fn every_bad_refresh_token_gets_one_identical_answer() {
    let state = state().await;
    let (user, ended) = signed_in(&state, "refresh-bad").await;
    state
        .users
        .end_session(&user.id, &ended.session.id)
        .await
        .expect("ended");

    // A session past its lifetime that DynamoDB's TTL has not removed yet.
    let mut expired = Session::start(
        &user,
        ClientInfo::default(),
        state.refresh_tokens.settings(),
    );
    expired.created_at -= 10_000_000;
    expired.last_used_at -= 10_000_000;
    expired.expires_at = expired.last_used_at + 60;
    let (hash, _) = shared::testing::stored_hash(&state, user.email.as_str()).await;
    let hash = shared::password::PasswordHashString::from_stored(hash);
    state
        .users
        .start_session(&expired, &hash)
        .await
        .expect("stored");
    let expired_token = state.refresh_tokens.current(&expired);

    let (_, live) = signed_in(&state, "refresh-bad-live").await;
    // The live session's token with another MAC.
    let (head, _) = live.refresh_token.rsplit_once('.').expect("a mac");
    let forged = format!("{head}.{}", "A".repeat(43));

    let mut answers = Vec::new();
    for token in [
        ended.refresh_token.as_str(),
        expired_token.expose_secret(),
        forged.as_str(),
        "not-a-refresh-token",
        live.bearer.trim_start_matches("Bearer "),
    ] {
        answers.push(raw(&state, token).await);
    }
    for name in [
        "refresh/malformed-token",
        "refresh/forged-token",
        "refresh/access-token-instead",
    ] {
        answers.push(refresh::handler(&state, lambda_event(&event(name))).await);
    }
    for answer in &answers {
        assert_eq!(answer, &answers[0], "one identical answer");
    }
    let (status, _, body) = parts(answers.remove(0));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, invalid_grant());
    // A forged token for a live session is not reuse: the session lives on.
    assert_eq!(auth_status(&state, &live.bearer).await, StatusCode::OK);
}

#[tokio::test]
async fn a_missing_refresh_token_is_a_validation_error() {
    let state = state().await;
    let (status, _, body) =
        parts(refresh::handler(&state, lambda_event(&event("refresh/missing-token"))).await);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["details"],
        json!({"refresh_token": "is required"})
    );
}

/// Presenting a rotated token after the grace ends the whole session: its newest refresh token
/// and every access token issued in it stop working at once.
#[tokio::test]
async fn reuse_after_the_grace_ends_the_whole_session() {
    let state = state_with(&[("REFRESH_REUSE_GRACE_SECONDS", "0")]).await;
    let (_, first) = signed_in(&state, "refresh-reuse").await;
    let (status, _, body) = refresh(&state, &first.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    let newest = body["refresh_token"].as_str().expect("token").to_owned();
    let newest_access = format!("Bearer {}", body["access_token"].as_str().expect("token"));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let (status, _, body) = refresh(&state, &first.refresh_token).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, invalid_grant()));

    assert_eq!(refresh(&state, &newest).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth_status(&state, &newest_access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth_status(&state, &first.bearer).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Within the grace the just-rotated token answers with the session's current refresh token:
/// no new rotation, no second valid token.
#[tokio::test]
async fn within_the_grace_the_rotated_token_gets_the_current_one() {
    let state = state().await;
    let (_, first) = signed_in(&state, "refresh-grace").await;
    let (_, _, rotated) = refresh(&state, &first.refresh_token).await;
    let current = rotated["refresh_token"].as_str().expect("token");

    let (status, _, again) = refresh(&state, &first.refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        again["refresh_token"], current,
        "the current token, not a new one"
    );
    assert_ne!(
        again["access_token"], rotated["access_token"],
        "a fresh access token"
    );
    // The session is intact and the current token still rotates.
    assert_eq!(refresh(&state, current).await.0, StatusCode::OK);
}

/// Twenty refreshes with one token at once: no 5xx, every answer carries the same new refresh
/// token, and afterwards that token is the session's one valid token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refreshes_converge_on_one_token() {
    let state = Arc::new(state().await);
    let (_, first) = signed_in(&state, "refresh-race").await;
    let mut attempts = JoinSet::new();
    for _ in 0..20 {
        let (state, token) = (state.clone(), first.refresh_token.clone());
        attempts.spawn(async move { refresh(&state, &token).await });
    }
    let answers = attempts.join_all().await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _, _)| s.as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let tokens: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|(_, _, body)| body["refresh_token"].as_str().expect("token"))
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "one refresh token for everyone: {tokens:?}"
    );
    let winner = tokens.into_iter().next().expect("one").to_owned();

    let stored = state
        .users
        .get_session(&first.session.user_id, &first.session.id)
        .await
        .expect("read")
        .expect("alive");
    assert_eq!(stored.generation, 1, "rotated exactly once");
    assert_eq!(
        state.refresh_tokens.current(&stored).expose_secret(),
        winner
    );
    let (status, _, next) = refresh(&state, &winner).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(next["refresh_token"], winner.as_str());
}

/// Logout racing refreshes, unforced: once logout has answered, no refresh of that session
/// succeeds, and no racer fails with a 5xx. The two tests after it force each order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn once_logout_has_answered_no_refresh_succeeds() {
    let state = Arc::new(state().await);
    let (_, session) = signed_in(&state, "refresh-logout-race").await;
    let mut racers = JoinSet::new();
    for _ in 0..10 {
        let (state, token) = (state.clone(), session.refresh_token.clone());
        racers.spawn(async move { refresh(&state, &token).await.0 });
    }
    let logout = with_header(event("logout/ok"), "authorization", &session.bearer);
    let (status, _, _) = parts(logout::handler(&state, lambda_event(&logout)).await);
    // Racers that finished before logout may have rotated; none may 5xx.
    let during = racers.join_all().await;
    assert!(during.iter().all(|s| s.as_u16() < 500), "{during:?}");
    if status != StatusCode::NO_CONTENT {
        // A rotation got in first and ended the bearer's token? No: access tokens survive
        // rotation. Logout must have succeeded.
        panic!("logout answered {status}");
    }
    assert_eq!(
        refresh(&state, &session.refresh_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let stored = state
        .users
        .get_session(&session.session.user_id, &session.session.id)
        .await
        .expect("read");
    assert!(stored.is_none(), "the session is gone");
}

async fn log_out(bearer: &str) -> StatusCode {
    let state = state().await;
    let event = with_header(event("logout/ok"), "authorization", bearer);
    parts(logout::handler(&state, lambda_event(&event)).await).0
}

/// A logout landing between a refresh's read of the session and its rotation, every time: the
/// refresh is refused like any ended session's, and the rotation never recreates the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_between_the_read_and_the_rotation_wins() {
    let state = state().await;
    let (_, session) = signed_in(&state, "refresh-then-logout").await;
    let bearer = session.bearer.clone();
    let logout = Interleave::before("UpdateItem", move || {
        let status = tokio::runtime::Handle::current().block_on(log_out(&bearer));
        assert_eq!(status, StatusCode::NO_CONTENT, "the interleaved logout");
    });
    let interleaved = interleaved_state(logout.clone()).await;

    let (status, _, body) = refresh(&interleaved, &session.refresh_token).await;

    assert!(logout.ran(), "the logout was interleaved");
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, invalid_grant()));
    let stored = state
        .users
        .get_session(&session.session.user_id, &session.session.id)
        .await
        .expect("read");
    assert!(stored.is_none(), "the session stays ended");
}

/// A refresh landing between a logout's read of the session and its delete, every time: the
/// logout still ends the session, and the token the refresh handed out is dead with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_between_the_logout_read_and_its_delete_loses() {
    let state = state().await;
    let (_, session) = signed_in(&state, "logout-then-refresh").await;
    let token = session.refresh_token.clone();
    let rotated = Arc::new(std::sync::Mutex::new(None));
    let rotated_by_hook = rotated.clone();
    let refresh_first = Interleave::before("DeleteItem", move || {
        let (status, _, body) = tokio::runtime::Handle::current().block_on(async {
            let state = shared::testing::state().await;
            refresh(&state, &token).await
        });
        assert_eq!(status, StatusCode::OK, "the interleaved refresh: {body}");
        *rotated_by_hook.lock().expect("not poisoned") =
            body["refresh_token"].as_str().map(str::to_owned);
    });
    let interleaved = interleaved_state(refresh_first.clone()).await;
    let logout = with_header(event("logout/ok"), "authorization", &session.bearer);

    let (status, _, _) = parts(logout::handler(&interleaved, lambda_event(&logout)).await);

    assert!(refresh_first.ran(), "the refresh was interleaved");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let rotated = rotated
        .lock()
        .expect("not poisoned")
        .clone()
        .expect("a new token");
    assert_eq!(refresh(&state, &rotated).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn register_and_login_start_sessions_whose_tokens_refresh() {
    let (state, _queue) = shared::testing::mailing_state().await;
    let email = unique_email("refresh-from-login");
    let body = json!({"email": email, "password": PASSWORD});
    let registered = parts(
        register::handler(
            &state,
            lambda_event(&with_json_body(event("register/ok"), &body)),
        )
        .await,
    );
    let logged_in = parts(
        login::handler(
            &state,
            lambda_event(&with_json_body(event("login/ok"), &body)),
        )
        .await,
    );
    for (status, _, body) in [registered, logged_in] {
        assert!(status.is_success(), "{body}");
        let token = body["refresh_token"].as_str().expect("a refresh token");
        assert_eq!(refresh(&state, token).await.0, StatusCode::OK);
    }
}
