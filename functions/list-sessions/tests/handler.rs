//! `GET /sessions` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use lambda_http::http::StatusCode;
use serde_json::Value;
use shared::AppState;
use shared::testing::{event, lambda_event, new_user, parts, sign_in, state, with_header};

async fn list(state: &AppState, bearer: &str) -> (StatusCode, Value) {
    let event = with_header(event("list-sessions/ok"), "authorization", bearer);
    let (status, _, body) = parts(list_sessions::handler(state, lambda_event(&event)).await);
    (status, body)
}

#[tokio::test]
async fn lists_the_callers_live_sessions_newest_first_with_the_current_one_marked() {
    let state = state().await;
    let user = new_user(&state, "sessions-list").await;
    // Creation times have second precision: a second apart, the order is certain.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let older = sign_in(&state, &user).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let newer = sign_in(&state, &user).await;
    let someone_else = sign_in(&state, &new_user(&state, "sessions-other").await).await;
    let ended = sign_in(&state, &user).await;
    state
        .users
        .end_session(&user.id, &ended.session.id)
        .await
        .expect("ended");

    let (status, body) = list(&state, &older.bearer).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let sessions = body["sessions"].as_array().expect("a list");
    let ids: Vec<&str> = sessions
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    // register's own session (create_user) is the oldest.
    assert_eq!(ids.len(), 3, "{body}");
    assert_eq!(ids[0], newer.session.id.to_string());
    assert_eq!(ids[1], older.session.id.to_string());
    assert!(!ids.contains(&someone_else.session.id.to_string().as_str()));
    let current: Vec<bool> = sessions.iter().map(|s| s["current"] == true).collect();
    assert_eq!(current, [false, true, false]);
    let first = &sessions[1];
    assert_eq!(first["user_agent"], "test-agent/1.0");
    assert_eq!(first["ip_address"], "203.0.113.7");
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(
            first[field].as_str().is_some_and(|t| t.ends_with('Z')),
            "{field}"
        );
    }
    assert_eq!(
        first.as_object().map(|o| o.len()),
        Some(7),
        "id, created_at, last_used_at, expires_at, user_agent, ip_address, current"
    );
}

/// Listing follows every page: forced down to one item per page, all sessions still come back.
#[tokio::test]
async fn listing_pages_through_every_session() {
    let mut state = state().await;
    let user = new_user(&state, "sessions-paging").await;
    let mut signed_in = Vec::new();
    for _ in 0..5 {
        signed_in.push(sign_in(&state, &user).await);
    }
    state.users = state.users.clone().with_page_size(1);
    let (status, body) = list(&state, &signed_in[0].bearer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["sessions"].as_array().map(Vec::len),
        Some(6),
        "5 + register's"
    );
}

#[tokio::test]
async fn the_user_agent_and_ip_come_from_the_request_context_cleaned() {
    let state = state().await;
    let user = new_user(&state, "sessions-agent").await;
    let mut login = shared::testing::with_json_body(
        event("login/ok"),
        &serde_json::json!({"email": user.email.as_str(), "password": "correct horse battery staple"}),
    );
    login["requestContext"]["http"]["userAgent"] =
        Value::String(format!("Evil\u{7}\u{202e}Agent {}", "x".repeat(400)));
    login["requestContext"]["http"]["sourceIp"] = Value::String("198.51.100.4".into());
    let (status, _, body) = parts(login::handler(&state, lambda_event(&login)).await);
    assert_eq!(status, StatusCode::OK, "{body}");
    let bearer = format!("Bearer {}", body["access_token"].as_str().expect("token"));

    let (_, body) = list(&state, &bearer).await;
    let current = body["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["current"] == true))
        .expect("the current session");
    let agent = current["user_agent"].as_str().expect("an agent");
    assert!(agent.starts_with("EvilAgent xxx"), "{agent}");
    assert_eq!(
        agent.chars().count(),
        shared::session::MAX_USER_AGENT_LENGTH
    );
    assert_eq!(current["ip_address"], "198.51.100.4");
}

#[tokio::test]
async fn without_a_valid_token_it_is_401() {
    let state = state().await;
    for (name, code) in [
        ("list-sessions/missing-token", "missing_token"),
        ("list-sessions/expired-token", "invalid_token"),
        ("list-sessions/ok", "invalid_token"),
    ] {
        let (status, _, body) =
            parts(list_sessions::handler(&state, lambda_event(&event(name))).await);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(body["error"]["code"], code, "{name}");
    }
}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused_with_its_challenge() {
    let state = state().await;
    shared::testing::assert_standard_bearer_refusals("list-sessions", |event| {
        list_sessions::handler(&state, event)
    })
    .await;
}

/// A session started on a password since changed is over, even when the sweep that should have
/// removed its item failed (injected): it is not listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_an_old_password_are_not_listed_even_if_their_items_remain() {
    let state = state().await;
    let user = new_user(&state, "list-old-password").await;
    let me = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;
    let sweep_fails = shared::testing::Interleave::fail("Query");
    let interleaved = shared::testing::interleaved_state(sweep_fails.clone()).await;
    let stored = state.users.find_by_email(&user.email).await.expect("read");
    let stored = stored.expect("exists").user;
    let password = state
        .password_policy
        .parse("a brand new passphrase", None)
        .expect("valid");
    let hash = state.passwords.hash(password).await.expect("hashed");
    interleaved
        .users
        .change_password(&stored, &hash, &me.session)
        .await
        .expect("changed");
    assert!(sweep_fails.ran(), "the sweep failed");
    let remaining = state
        .users
        .get_session(&user.id, &other.session.id)
        .await
        .expect("read");
    assert!(remaining.is_some(), "the other session's item remains");

    let (status, body) = list(&state, &me.bearer).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<&str> = body["sessions"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [me.session.id.to_string()]);
}
