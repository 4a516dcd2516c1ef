//! Test support (feature `testing`): API Gateway events from `events/`, state pointed at the
//! local DynamoDB server `make test` starts, and fake DynamoDB endpoints for fault tests.
//!
//! Every state built here records what its handlers do ([`record`]): their DynamoDB calls, argon2
//! work, answers and log lines, which `make test` checks afterwards.
//!
//! Tests share one table and isolate themselves by key space: every test registers its own
//! unique emails ([`unique_email`]), so they run in parallel without interfering.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test support: a panic is a test failure

use std::path::PathBuf;

use aws_sdk_dynamodb::config::Intercept;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::http::StatusCode;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::runtime::{Event, EventResponse};
use crate::state::{AppState, sdk_config_loader};

mod interleave;
mod record;
pub use interleave::Interleave;
pub use record::{ActionLog, DynamoCall, Recorder, ServiceLog};

mod mail;
pub use mail::*;

type Item = std::collections::HashMap<String, AttributeValue>;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("shared/ has a parent")
        .to_path_buf()
}

/// Loads `events/<name>.json`, an API Gateway HTTP API (payload v2) request.
pub fn event(name: &str) -> Value {
    let path = workspace_root().join("events").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The names (as [`event`] takes them) of the checked-in events of `route` whose file name starts
/// with `prefix`, e.g. every `profile/hostile-*`.
pub fn events_named(route: &str, prefix: &str) -> Vec<String> {
    let folder = workspace_root().join("events").join(route);
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("reading {}: {error}", folder.display()))
        .filter_map(|entry| {
            let file = entry.ok()?.file_name().into_string().ok()?;
            let stem = file.strip_suffix(".json")?;
            stem.starts_with(prefix).then(|| format!("{route}/{stem}"))
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no events/{route}/{prefix}*.json");
    names
}

/// Replaces the event's body with `body` serialised as JSON.
pub fn with_json_body(mut event: Value, body: &Value) -> Value {
    event["body"] = Value::String(body.to_string());
    event["isBase64Encoded"] = Value::Bool(false);
    event
}

/// The web client's origin under `make dev` and `make test` (dev/local.env's `ALLOWED_ORIGINS`).
pub const WEB_ORIGIN: &str = "http://localhost:9002";

/// The event as a browser page at `origin` sends it, with the refresh cookie `cookie` if given
/// (`refresh_token=<cookie>`: the name on an http origin at the API's root).
pub fn from_browser(event: Value, origin: &str, cookie: Option<&str>) -> Value {
    let event = with_header(event, "origin", origin);
    match cookie {
        Some(token) => with_header(
            event,
            "cookie",
            &format!("theme=dark; refresh_token={token}"),
        ),
        None => event,
    }
}

/// The one `Set-Cookie` of an answer (payload 2.0 carries them in `cookies`), if any.
pub fn set_cookie(response: &EventResponse) -> Option<String> {
    assert!(response.cookies.len() <= 1, "{:?}", response.cookies);
    assert!(
        !response.headers.contains_key("set-cookie"),
        "cookies travel in `cookies`"
    );
    response.cookies.first().cloned()
}

/// The refresh token a `Set-Cookie` holds (empty when it clears the cookie).
pub fn cookie_token(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value)
        .expect("name=value")
}

/// Sets (or replaces) a request header on the event.
pub fn with_header(mut event: Value, name: &str, value: &str) -> Value {
    event["headers"][name.to_ascii_lowercase()] = Value::String(value.to_owned());
    event
}

/// Replaces every occurrence of `from` in the event's body with `to` (used to give each test its
/// own email while keeping the rest of the checked-in payload).
pub fn replace_in_body(mut event: Value, from: &str, to: &str) -> Value {
    let body = event["body"]
        .as_str()
        .expect("event has a text body")
        .replace(from, to);
    event["body"] = Value::String(body);
    event
}

/// The invocation Lambda would hand a function for this event: what every handler test feeds
/// the real handler, through the same conversion the deployed function runs.
pub fn lambda_event(event: &Value) -> Event {
    LambdaEvent::new(event.clone(), Context::default())
}

/// A unique address for one test's key space, e.g. `register-3f2a…@example.com`.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The status, headers and parsed JSON body of a response (`null` when it has no body).
pub fn parts(response: EventResponse) -> (StatusCode, lambda_http::http::HeaderMap, Value) {
    assert!(!response.is_base64_encoded, "JSON answers are sent as text");
    let status = u16::try_from(response.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .expect("an HTTP status");
    let json = match &response.body {
        None => Value::Null,
        Some(body) => serde_json::from_slice(body.as_ref()).expect("a JSON body"),
    };
    (status, response.headers, json)
}

pub(crate) fn test_config() -> Config {
    record::install();
    Config::from_env().unwrap_or_else(|error| {
        panic!("{error}: handler tests need the local DynamoDB that `make test` starts")
    })
}

/// State wired to the local DynamoDB server, configured from the environment `make test` sets.
pub async fn state() -> AppState {
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    let dynamodb = dynamodb_client(&sdk, None::<Recorder>);
    AppState::with_dynamodb(config, &sdk, dynamodb)
        .await
        .expect("state builds")
}

/// The JWKS function's state ([`crate::state::TokenKeys`]), configured as [`state`] is.
pub async fn keys_state() -> crate::state::TokenKeys {
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    crate::state::TokenKeys::new(config, &sdk)
        .await
        .expect("state builds")
}

/// The discovery function's state ([`crate::state::Discovery`]), configured as [`state`] is.
pub fn discovery_state() -> crate::state::Discovery {
    crate::state::Discovery::new(test_config())
}

/// The DynamoDB budget (`DYNAMODB_TIMEOUT_MS`) of states over a fake endpoint: a fake that never
/// answers costs a test this long, whatever the machine's speed, and the verdict (a clean 503) is
/// the same at any budget.
pub const FAULT_BUDGET_MS: &str = "1000";

/// State whose DynamoDB calls go to `endpoint` instead (a fake from this module), within
/// [`FAULT_BUDGET_MS`].
pub async fn state_with_dynamodb_at(endpoint: &str) -> AppState {
    record::install();
    let config = Config::from_lookup(|name| {
        if name == crate::config::DYNAMODB_TIMEOUT_MS.name {
            Some(FAULT_BUDGET_MS.to_owned())
        } else {
            std::env::var(name).ok()
        }
    })
    .expect("valid test configuration");
    let sdk = sdk_config_loader(&config)
        .endpoint_url(endpoint)
        .load()
        .await;
    let dynamodb = dynamodb_client(&sdk, None::<Recorder>);
    AppState::with_dynamodb(config, &sdk, dynamodb)
        .await
        .expect("state builds")
}

/// Three broken DynamoDBs: connection refused, throttling, never answering.
pub async fn outage_endpoints() -> [String; 3] {
    [
        refused_endpoint().await,
        throttling_endpoint().await,
        hanging_endpoint().await,
    ]
}

/// Asserts a response is the API's clean, generic 503.
pub fn assert_service_unavailable(response: EventResponse) {
    let (status, headers, body) = parts(response);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let retry_after = crate::error::RETRY_AFTER_SECONDS.to_string();
    assert_eq!(
        headers[lambda_http::http::header::RETRY_AFTER],
        retry_after.as_str()
    );
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": "service_unavailable",
            "message": "The service is temporarily unavailable. Please retry shortly."}})
    );
}

/// A loopback address where nothing listens: every connection is refused.
pub async fn refused_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{address}")
}

/// A fake DynamoDB that accepts connections and never answers (a timeout).
pub async fn hanging_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

/// A fake DynamoDB that answers every request as real DynamoDB does when throttling.
pub async fn throttling_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the request head (the SDK's requests are small); the body is irrelevant.
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buffer).await;
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate of requests exceeds the allowed throughput."}"#;
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     x-amzn-requestid: fake\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}")
}

/// Stores a user with `password` through the real store (hash included), for tests that need an
/// existing account.
pub async fn create_user(state: &AppState, email: &str, password: &str) -> crate::user::User {
    let email = crate::email::Email::parse(email).expect("valid email");
    let password = state
        .password_policy
        .parse(password, Some(&email))
        .expect("valid password");
    let hash = state.passwords.hash(password).await.expect("hashed");
    let user = crate::user::User::new(email, None);
    let session = crate::session::Session::start(
        &user,
        crate::session::ClientInfo::default(),
        state.refresh_tokens.settings(),
    );
    state
        .users
        .create(&user, &hash, Some(&session))
        .await
        .expect("created");
    user
}

/// A new account for one test (its own unique email), with a password that meets the policy.
pub async fn new_user(state: &AppState, tag: &str) -> crate::user::User {
    create_user(state, &unique_email(tag), "correct horse battery staple").await
}

/// What a protected route says to `authorization`: `200 OK` if it would serve the request, else
/// the status of its refusal. It runs the one authentication step every protected route runs.
pub async fn auth_status(state: &AppState, authorization: &str) -> StatusCode {
    let event = with_header(event("profile/ok"), "authorization", authorization);
    let request = crate::apigw::into_request(event).expect("a valid event");
    match crate::auth::authenticate(state, &request).await {
        Ok(_) => StatusCode::OK,
        Err(error) => error.status(),
    }
}

/// The account with `id` as stored now (it must exist).
pub async fn stored_user(state: &AppState, id: &crate::user::UserId) -> crate::user::User {
    state
        .users
        .get_user(id)
        .await
        .expect("read")
        .expect("the account exists")
}

/// The id of the account that holds `email` now, if any.
pub async fn holder_of(state: &AppState, email: &str) -> Option<crate::user::UserId> {
    let email = crate::email::Email::parse(email).expect("valid email");
    let found = state.users.find_by_email(&email).await.expect("read");
    found.map(|stored| stored.user.id)
}

/// The stored password hash and version of the account at `email`.
pub async fn stored_hash(state: &AppState, email: &str) -> (String, u64) {
    let email = crate::email::Email::parse(email).expect("valid");
    let stored = state
        .users
        .find_by_email(&email)
        .await
        .expect("read")
        .expect("stored");
    (
        stored.password_hash.as_str().to_owned(),
        stored.user.version,
    )
}

/// A new live session for `user`, as a sign-in would start it, with its tokens.
#[derive(Debug)]
pub struct SignedIn {
    /// The session.
    pub session: crate::session::Session,
    /// `Bearer <access token>`, ready for an `Authorization` header.
    pub bearer: String,
    /// The session's current refresh token.
    pub refresh_token: String,
}

/// Signs `user` in as it is stored now (its current password): starts a session through the
/// real store and issues its tokens.
pub async fn sign_in(state: &AppState, user: &crate::user::User) -> SignedIn {
    let email = crate::email::Email::from_stored(user.email.as_str().to_owned());
    let stored = state.users.find_by_email(&email).await.expect("read");
    let stored = stored.expect("the account exists");
    let session = crate::session::Session::start(
        &stored.user,
        crate::session::ClientInfo::new(Some("test-agent/1.0"), Some("203.0.113.7")),
        state.refresh_tokens.settings(),
    );
    state
        .users
        .start_session(&session, &stored.password_hash)
        .await
        .expect("started");
    let access = state
        .tokens
        .issue(&user.id, &session.id, user.email_verified)
        .expect("issued");
    let refresh = state.refresh_tokens.current(&session);
    SignedIn {
        bearer: format!("Bearer {}", access.expose_secret()),
        refresh_token: refresh.expose_secret().to_owned(),
        session,
    }
}

/// A DynamoDB client for `sdk` that logs what handlers call ([`ActionLog`]), plus `extra`.
fn dynamodb_client(
    sdk: &aws_config::SdkConfig,
    extra: Option<impl Intercept + 'static>,
) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(ActionLog);
    if let Some(extra) = extra {
        config = config.interceptor(extra);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// State over the local DynamoDB whose client runs `interleave`'s hook before the operation it
/// names (see [`Interleave`]). Use a multi-threaded test runtime.
pub async fn interleaved_state(interleave: Interleave) -> AppState {
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    let dynamodb = dynamodb_client(&sdk, Some(interleave));
    AppState::with_dynamodb(config, &sdk, dynamodb)
        .await
        .expect("state builds")
}

/// The stored failure count of the login throttle for `email` (normalised), or `None` when no
/// throttle item exists for it.
pub async fn throttle_failures(state: &AppState, email: &str) -> Option<u64> {
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    let subject = state.login_throttle.subject(email);
    let item = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(&config.table_name)
        .key(
            crate::store::PARTITION_KEY,
            AttributeValue::S(format!("THROTTLE#{subject}")),
        )
        .key(
            crate::store::SORT_KEY,
            AttributeValue::S("LOGIN".to_owned()),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("read")
        .item?;
    item.get("failures")?.as_n().ok()?.parse().ok()
}

/// State over the local DynamoDB whose every call is recorded.
pub async fn recording_state() -> (AppState, Recorder) {
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    let recorder = Recorder::default();
    let dynamodb = dynamodb_client(&sdk, Some(recorder.clone()));
    let state = AppState::with_dynamodb(config, &sdk, dynamodb)
        .await
        .expect("state builds");
    (state, recorder)
}

/// State over the local DynamoDB with a login throttle configured by `vars` (variable, value)
/// on top of the test environment.
pub async fn state_with(vars: &[(&str, &str)]) -> AppState {
    record::install();
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| (*value).to_owned())
            .or_else(|| std::env::var(name).ok())
    })
    .expect("valid test configuration");
    let sdk = sdk_config_loader(&config).load().await;
    let dynamodb = dynamodb_client(&sdk, None::<Recorder>);
    AppState::with_dynamodb(config, &sdk, dynamodb)
        .await
        .expect("state builds")
}

/// State over the local DynamoDB whose access-token keyset is `keys` (`(state, alg, pem)`, see
/// [`crate::keys::generate`]), for rotation tests.
pub async fn state_with_keyset(keys: &[(&str, &str, &str)]) -> AppState {
    let folder = workspace_root().join("target").join("test-keysets");
    std::fs::create_dir_all(&folder).expect("a folder");
    let file = folder.join(format!("{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, crate::keys::generate::keyset(keys)).expect("written");
    let current = keys
        .iter()
        .find(|(state, _, _)| *state == "current")
        .map_or("ES256", |(_, alg, _)| *alg);
    let path = file.to_string_lossy().into_owned();
    state_with(&[("TOKEN_KEYS_FILE", &path), ("TOKEN_SIGNING_ALG", current)]).await
}

/// Every item in the test table (a scan: tests only).
async fn all_items() -> Vec<Item> {
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(&config.table_name)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// How many user items in the test table hold `email`.
pub async fn stored_users_with_email(email: &str) -> usize {
    let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    all_items()
        .await
        .iter()
        .filter(|item| {
            text(item, "entity").as_deref() == Some("user")
                && text(item, "email").as_deref() == Some(email)
        })
        .count()
}

/// How many items in the test table hold `text` in any string attribute, key included.
pub async fn items_mentioning(text: &str) -> usize {
    all_items()
        .await
        .iter()
        .filter(|item| {
            item.values()
                .any(|value| value.as_s().is_ok_and(|s| s.contains(text)))
        })
        .count()
}

/// Rewrites a stored user's email attribute directly, as an item written under older rules
/// would hold it (tests only).
pub async fn overwrite_user_email(id: &crate::user::UserId, email: &str) {
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .update_item()
        .table_name(&config.table_name)
        .key(
            crate::store::PARTITION_KEY,
            AttributeValue::S(format!("USER#{id}")),
        )
        .key(crate::store::SORT_KEY, AttributeValue::S("USER".to_owned()))
        .update_expression("SET #email = :email")
        .expression_attribute_names("#email", "email")
        .expression_attribute_values(":email", AttributeValue::S(email.to_owned()))
        .send()
        .await
        .expect("update");
}

/// A protected route's standard refusals, through its handler: `events/<route>/missing-token`
/// is `401 missing_token` with a bare `Bearer realm` challenge, `events/<route>/expired-token`
/// is `401 invalid_token` with an `invalid_token` challenge (RFC 6750 §3.1). `dev/make_events.py`
/// writes both events for every route whose operation requires a bearer token.
pub async fn assert_standard_bearer_refusals<F, Fut>(route: &str, handler: F)
where
    F: Fn(Event) -> Fut,
    Fut: Future<Output = EventResponse>,
{
    use lambda_http::http::header::WWW_AUTHENTICATE;
    for (case, code, challenge) in [
        (
            "missing-token",
            "missing_token",
            "Bearer realm=\"accounts\"",
        ),
        (
            "expired-token",
            "invalid_token",
            "Bearer realm=\"accounts\", error=\"invalid_token\"",
        ),
    ] {
        let name = format!("{route}/{case}");
        let (status, headers, body) = parts(handler(lambda_event(&event(&name))).await);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(body["error"]["code"], code, "{name}");
        let header = headers[WWW_AUTHENTICATE].to_str().expect("a text header");
        let (exact, extended) = (
            header == challenge,
            header.starts_with(&format!("{challenge}, ")),
        );
        assert!(
            exact || (code == "invalid_token" && extended),
            "{name}: {header}"
        );
    }
}
