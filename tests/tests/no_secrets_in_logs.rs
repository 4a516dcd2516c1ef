//! Nothing secret ever reaches a log line: runs register, login (good and bad) and profile (good
//! and bad) through the real handlers with every log level enabled, captures what the
//! production JSON subscriber writes, and searches it for the password, the stored hash, the
//! tokens, the signing key and the Authorization header.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use shared::testing::{
    event, lambda_event, parts, state, unique_email, with_header, with_json_body,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Logs from every thread are captured: the subscriber is this process's global one (the test
/// binary holds this one test), so argon2's blocking-pool threads and the runtime's workers
/// write to it too; a marker logged from a fresh thread proves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_hash_token_or_key_is_ever_logged() {
    let logs = Captured::default();
    use shared::telemetry::crate_of;
    let functions = [
        crate_of(&register::handler),
        crate_of(&login::handler),
        crate_of(&profile::handler),
        crate_of(&refresh::handler),
        crate_of(&logout::handler),
        crate_of(&list_sessions::handler),
        crate_of(&end_session::handler),
        crate_of(&end_other_sessions::handler),
        crate_of(&update_profile::handler),
        crate_of(&change_password::handler),
        crate_of(&delete_account::handler),
    ];
    let subscriber =
        shared::telemetry::subscriber(logs.clone(), "trace".parse().expect("filter"), &functions);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    std::thread::spawn(|| tracing::info!("marker from another thread"))
        .join()
        .expect("thread ran");

    let state = state().await;
    let email = unique_email("logs");
    let password = "Tr0ub4dor&3-very-secret-password";
    let call = |event: Value| {
        let state = &state;
        async move {
            let event = lambda_event(&event);
            let route = event.payload["routeKey"]
                .as_str()
                .expect("a route")
                .to_owned();
            let response = match route.as_str() {
                "POST /register" => register::handler(state, event).await,
                "POST /login" => login::handler(state, event).await,
                "GET /profile" => profile::handler(state, event).await,
                "POST /refresh" => refresh::handler(state, event).await,
                "POST /logout" => logout::handler(state, event).await,
                "GET /sessions" => list_sessions::handler(state, event).await,
                "DELETE /sessions/{id}" => end_session::handler(state, event).await,
                "DELETE /sessions" => end_other_sessions::handler(state, event).await,
                "PATCH /profile" => update_profile::handler(state, event).await,
                "PUT /password" => change_password::handler(state, event).await,
                "DELETE /profile" => delete_account::handler(state, event).await,
                other => panic!("no handler for {other}"),
            };
            parts(response)
        }
    };

    let registered = call(with_json_body(
        event("register/ok"),
        &json!({"email": email, "password": password, "name": "Ada"}),
    ))
    .await;
    assert_eq!(registered.0, 201, "{}", registered.2);
    let register_token = registered.2["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    let login = |password: &str| {
        with_json_body(
            event("login/ok"),
            &json!({"email": email, "password": password}),
        )
    };
    let (status, _, body) = call(login(password)).await;
    assert_eq!(status, 200);
    let login_token = body["access_token"].as_str().expect("token").to_owned();
    let login_claims = state.tokens.verify(&login_token).expect("valid");
    let login_session = shared::session::SessionId::parse(&login_claims.sid).expect("an id");
    let user_id = shared::user::UserId::parse(&login_claims.sub).expect("an id");
    let seed = seed_of(&user_id, &login_session).await;
    let (status, _, _) = call(login("wrong-but-also-secret")).await;
    assert_eq!(status, 401);
    // A refused new password (too common) and a throttled sign-in log nothing secret either.
    let (status, _, _) = call(with_json_body(
        event("register/ok"),
        &json!({"email": unique_email("logs-common"), "password": "Password123"}),
    ))
    .await;
    assert_eq!(status, 400);
    for _ in 0..5 {
        call(login("wrong-but-also-secret")).await;
    }
    let (status, _, _) = call(login(password)).await;
    assert_eq!(status, 429);

    let bearer = format!("Bearer {login_token}");
    let (status, _, _) = call(with_header(event("profile/ok"), "authorization", &bearer)).await;
    assert_eq!(status, 200);
    let bad_token = event("profile/tampered-token")["headers"]["authorization"]
        .as_str()
        .expect("header")
        .to_owned();
    let (status, _, _) = call(event("profile/tampered-token")).await;
    assert_eq!(status, 401);

    // Sessions: refresh (rotation, then reuse), list, end one, end the others, logout by token.
    let first_refresh = registered.2["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let refresh =
        |token: &str| with_json_body(event("refresh/ok"), &json!({"refresh_token": token}));
    let (status, _, rotated) = call(refresh(&first_refresh)).await;
    assert_eq!(status, 200);
    let rotated_refresh = rotated["refresh_token"].as_str().expect("token").to_owned();
    let (status, _, _) = call(refresh("v1.not.a.real.token")).await;
    assert_eq!(status, 401);
    let (status, _, sessions) = call(with_header(
        event("list-sessions/ok"),
        "authorization",
        &bearer,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(sessions["sessions"].as_array().map(Vec::len), Some(2));
    let mut end_one = with_header(event("end-session/ok"), "authorization", &bearer);
    end_one["pathParameters"]["id"] = json!(shared::session::SessionId::new().to_string());
    let (status, _, _) = call(end_one).await;
    assert_eq!(status, 404);
    let (status, _, _) = call(with_header(
        event("end-other-sessions/ok"),
        "authorization",
        &bearer,
    ))
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = call(with_json_body(
        event("logout/refresh-token"),
        &json!({"refresh_token": rotated_refresh}),
    ))
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = call(with_header(event("logout/ok"), "authorization", &bearer)).await;
    assert_eq!(status, 204);

    // Account management on a second account: email change, password change (a wrong current
    // one first), deletion. Old and new passwords and both hashes must stay out of the logs.
    let second_email = unique_email("logs-account");
    let old_password = "Old-secret-passphrase-42";
    let new_password = "New-secret-passphrase-43";
    let (status, _, second) = call(with_json_body(
        event("register/ok"),
        &json!({"email": second_email, "password": old_password}),
    ))
    .await;
    assert_eq!(status, 201);
    let second_bearer = format!("Bearer {}", second["access_token"].as_str().expect("token"));
    let old_hash = shared::testing::stored_hash(&state, &second_email).await.0;
    let moved_email = unique_email("logs-moved");
    let (status, _, _) = call(with_header(
        with_json_body(
            event("update-profile/change-email"),
            &json!({"email": moved_email, "current_password": old_password}),
        ),
        "authorization",
        &second_bearer,
    ))
    .await;
    assert_eq!(status, 200);
    let change = |current: &str| {
        with_header(
            with_json_body(
                event("change-password/ok"),
                &json!({"current_password": current, "new_password": new_password}),
            ),
            "authorization",
            &second_bearer,
        )
    };
    assert_eq!(call(change("wrong-current-secret-99")).await.0, 401);
    assert_eq!(call(change(old_password)).await.0, 204);
    let new_hash = shared::testing::stored_hash(&state, &moved_email).await.0;
    let (status, _, _) = call(with_header(
        with_json_body(
            event("delete-account/ok"),
            &json!({"current_password": new_password}),
        ),
        "authorization",
        &second_bearer,
    ))
    .await;
    assert_eq!(status, 204);

    let stored = state
        .users
        .find_by_email(&shared::email::Email::parse(&email).expect("valid"))
        .await
        .expect("read")
        .expect("stored");
    let signing_key = std::env::var("TOKEN_SIGNING_KEY").expect("set by make test");
    let logs = String::from_utf8(logs.0.lock().expect("not poisoned").clone()).expect("utf-8");

    // The capture really captured: every thread, one completion line per request.
    assert!(logs.contains("marker from another thread"), "{logs}");
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let completed = lines
        .iter()
        .filter(|l| l["message"] == "request completed")
        .count();
    assert_eq!(completed, 24, "{logs}");

    let secrets = [
        ("password", password.to_owned()),
        ("wrong password", "wrong-but-also-secret".to_owned()),
        ("password hash", stored.password_hash.as_str().to_owned()),
        (
            "hash digest",
            stored
                .password_hash
                .as_str()
                .rsplit('$')
                .next()
                .expect("digest")
                .to_owned(),
        ),
        ("register token", register_token.clone()),
        ("login token", login_token.clone()),
        (
            "token signature",
            login_token
                .rsplit('.')
                .next()
                .expect("signature")
                .to_owned(),
        ),
        ("rejected token", bad_token),
        ("common password", "Password123".to_owned()),
        ("old password", old_password.to_owned()),
        ("new password", new_password.to_owned()),
        (
            "wrong current password",
            "wrong-current-secret-99".to_owned(),
        ),
        ("old hash", old_hash),
        ("new hash", new_hash),
        ("refresh token", first_refresh.clone()),
        ("rotated refresh token", rotated_refresh.clone()),
        (
            "refresh token MAC",
            first_refresh.rsplit('.').next().expect("mac").to_owned(),
        ),
        ("session seed", seed),
        ("signing key", signing_key),
    ];
    for (what, secret) in secrets {
        let leak = logs
            .lines()
            .find(|l| l.contains(&secret))
            .map(|l| l.chars().take(600).collect::<String>());
        assert!(leak.is_none(), "the {what} appears in the logs: {leak:?}");
    }
    let header = logs
        .lines()
        .find(|l| l.to_ascii_lowercase().contains("authorization"));
    assert!(header.is_none(), "a header was logged: {header:?}");
}

/// A session's stored seed (base64), read straight from the table.
async fn seed_of(user: &shared::user::UserId, session: &shared::session::SessionId) -> String {
    let config = shared::config::Config::from_env().expect("config");
    let sdk = shared::state::sdk_config_loader(&config).load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let item = client
        .get_item()
        .table_name(&config.table_name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("SESSION#{session}")),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("read")
        .item;
    match item.and_then(|item| item.get("seed").cloned()) {
        Some(aws_sdk_dynamodb::types::AttributeValue::S(seed)) => seed,
        other => panic!("no seed stored: {other:?}"),
    }
}
