//! Nothing secret ever reaches a log line: runs register, login (good and bad) and profile (good
//! and bad) through the real handlers with every log level enabled, captures what the
//! production JSON subscriber writes, and searches it for the password, the stored hash, the
//! tokens, the signing key and the Authorization header.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use shared::testing::{event, parts, request, state, unique_email, with_header, with_json_body};

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

#[tokio::test]
async fn no_password_hash_token_or_key_is_ever_logged() {
    let logs = Captured::default();
    let subscriber = shared::telemetry::subscriber(logs.clone(), "trace".parse().expect("filter"));
    let _guard = tracing::subscriber::set_default(subscriber);

    let state = state().await;
    let email = unique_email("logs");
    let password = "Tr0ub4dor&3-very-secret-password";

    let registered = parts(
        register::handler(
            &state,
            request(&with_json_body(
                event("register/ok"),
                &json!({"email": email, "password": password, "name": "Ada"}),
            )),
        )
        .await
        .expect("never Err"),
    );
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
    let (status, _, body) = parts(
        login::handler(&state, request(&login(password)))
            .await
            .expect("never Err"),
    );
    assert_eq!(status, 200);
    let login_token = body["access_token"].as_str().expect("token").to_owned();
    let (status, _, _) = parts(
        login::handler(&state, request(&login("wrong-but-also-secret")))
            .await
            .expect("never Err"),
    );
    assert_eq!(status, 401);

    let bearer = format!("Bearer {login_token}");
    let (status, _, _) = parts(
        profile::handler(
            &state,
            request(&with_header(event("profile/ok"), "authorization", &bearer)),
        )
        .await
        .expect("never Err"),
    );
    assert_eq!(status, 200);
    let bad_token = event("profile/tampered-token")["headers"]["authorization"]
        .as_str()
        .expect("header")
        .to_owned();
    let (status, _, _) = parts(
        profile::handler(&state, request(&event("profile/tampered-token")))
            .await
            .expect("never Err"),
    );
    assert_eq!(status, 401);

    let stored = state
        .users
        .find_by_email(&shared::email::Email::parse(&email).expect("valid"))
        .await
        .expect("read")
        .expect("stored");
    let signing_key = std::env::var("TOKEN_SIGNING_KEY").expect("set by make test");
    let logs = String::from_utf8(logs.0.lock().expect("not poisoned").clone()).expect("utf-8");

    // The capture really captured: one completion line per request, with statuses.
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let completed = lines
        .iter()
        .filter(|l| l["message"] == "request completed")
        .count();
    assert_eq!(completed, 5, "{logs}");

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
