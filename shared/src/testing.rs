//! Test support (feature `testing`): API Gateway events from `events/`, state pointed at the
//! local DynamoDB server `make test` starts, and fake DynamoDB endpoints for fault tests.
//!
//! Tests share one table and isolate themselves by key space: every test registers its own
//! unique emails ([`unique_email`]), so they run in parallel without interfering.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test support: a panic is a test failure

use std::path::PathBuf;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::{AppState, sdk_config_loader};

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

/// Replaces the event's body with `body` serialised as JSON.
pub fn with_json_body(mut event: Value, body: &Value) -> Value {
    event["body"] = Value::String(body.to_string());
    event["isBase64Encoded"] = Value::Bool(false);
    event
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

/// Turns an event into the `Request` `lambda_http` would hand the handler.
pub fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event")
}

/// A unique address for one test's key space, e.g. `register-3f2a…@example.com`.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The status, headers and parsed JSON body of a response.
pub fn parts(response: Response<Body>) -> (StatusCode, lambda_http::http::HeaderMap, Value) {
    let (parts, body) = response.into_parts();
    let json = serde_json::from_slice(body.as_ref()).expect("a JSON body");
    (parts.status, parts.headers, json)
}

fn test_config() -> Config {
    Config::from_env().unwrap_or_else(|error| {
        panic!("{error}: handler tests need the local DynamoDB that `make test` starts")
    })
}

/// State wired to the local DynamoDB server, configured from the environment `make test` sets.
pub async fn state() -> AppState {
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    AppState::new(config, &sdk).await.expect("state builds")
}

/// State whose DynamoDB calls go to `endpoint` instead (a fake from this module).
pub async fn state_with_dynamodb_at(endpoint: &str) -> AppState {
    let config = test_config();
    let sdk = sdk_config_loader(&config)
        .endpoint_url(endpoint)
        .load()
        .await;
    AppState::new(config, &sdk).await.expect("state builds")
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
pub fn assert_service_unavailable(response: Response<Body>) {
    let (status, headers, body) = parts(response);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers[lambda_http::http::header::RETRY_AFTER], "1");
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
        .parse(password)
        .expect("valid password");
    let hash = crate::password::hash(password).await.expect("hashed");
    let user = crate::user::User::new(email, None);
    state.users.create(&user, &hash).await.expect("created");
    user
}

/// How many user items in the test table hold `email` (a scan: tests only).
pub async fn stored_users_with_email(email: &str) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue;
    let config = test_config();
    let sdk = sdk_config_loader(&config).load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let mut count = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(&config.table_name)
            .filter_expression("#email = :email AND #entity = :user")
            .expression_attribute_names("#email", "email")
            .expression_attribute_names("#entity", "entity")
            .expression_attribute_values(":email", AttributeValue::S(email.to_owned()))
            .expression_attribute_values(":user", AttributeValue::S("user".to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        count += page.items().len();
        start = page.last_evaluated_key;
        if start.is_none() {
            return count;
        }
    }
}
