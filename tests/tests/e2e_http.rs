//! End to end over HTTP: the local API (`cargo lambda watch` with the template's routes) in front
//! of the real functions and the local DynamoDB, as `make test` starts them.

use std::time::Duration;

use serde_json::{Value, json};
use ureq::Agent;

struct Reply {
    status: u16,
    www_authenticate: Option<String>,
    raw: String,
    json: Value,
}

fn base_url() -> String {
    std::env::var("E2E_BASE_URL")
        .expect("E2E_BASE_URL is set by `make test` to the local API it starts")
}

fn agent() -> Agent {
    Agent::new_with_config(
        Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

fn reply(result: Result<lambda_http::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = result.expect("the local API answers");
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let raw = response.body_mut().read_to_string().expect("a text body");
    Reply {
        status: response.status().as_u16(),
        www_authenticate,
        json: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    }
}

fn post(path: &str, content_type: &str, body: &str) -> Reply {
    reply(
        agent()
            .post(format!("{}{path}", base_url()))
            .header("content-type", content_type)
            .send(body),
    )
}

fn post_json(path: &str, body: &Value) -> Reply {
    post(path, "application/json", &body.to_string())
}

fn get_profile(authorization: Option<&str>) -> Reply {
    let mut request = agent().get(format!("{}/profile", base_url()));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    reply(request.call())
}

fn unique_email(tag: &str) -> String {
    shared::testing::unique_email(tag)
}

const PASSWORD: &str = "correct horse battery staple";

#[test]
fn register_then_login_then_profile() {
    let email = unique_email("e2e-flow");
    let registered = post_json(
        "/register",
        &json!({"email": email.to_uppercase(), "password": PASSWORD, "name": "Ada"}),
    );
    assert_eq!(registered.status, 201, "{}", registered.raw);
    let user = registered.json["user"].clone();
    assert_eq!(user["email"], email);

    let logged_in = post_json("/login", &json!({"email": email, "password": PASSWORD}));
    assert_eq!(logged_in.status, 200, "{}", logged_in.raw);
    assert_eq!(logged_in.json["user"], user);
    let token = logged_in.json["access_token"].as_str().expect("token");

    let me = get_profile(Some(&format!("Bearer {token}")));
    assert_eq!(me.status, 200, "{}", me.raw);
    assert_eq!(me.json, user);

    // The token from registration works as well.
    let first = registered.json["access_token"].as_str().expect("token");
    assert_eq!(get_profile(Some(&format!("Bearer {first}"))).json, user);
}

#[test]
fn registering_a_taken_email_is_409() {
    let email = unique_email("e2e-taken");
    let body = json!({"email": email, "password": PASSWORD});
    assert_eq!(post_json("/register", &body).status, 201);
    let again = post_json("/register", &body);
    assert_eq!(again.status, 409);
    assert_eq!(again.json["error"]["code"], "email_taken");
}

#[test]
fn wrong_password_and_unknown_email_are_indistinguishable() {
    let email = unique_email("e2e-enum");
    assert_eq!(
        post_json("/register", &json!({"email": email, "password": PASSWORD})).status,
        201
    );
    let wrong = post_json(
        "/login",
        &json!({"email": email, "password": "not the password"}),
    );
    let unknown = post_json(
        "/login",
        &json!({"email": unique_email("e2e-nobody"), "password": "not the password"}),
    );
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.raw, unknown.raw, "byte-identical bodies");
    assert_eq!(wrong.json["error"]["code"], "invalid_credentials");
}

#[test]
fn bad_requests_are_4xx_never_5xx() {
    let malformed = post("/register", "application/json", "{\"email\":");
    assert_eq!(
        (malformed.status, malformed.json["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );

    let missing = post_json("/register", &json!({"password": PASSWORD}));
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json["error"]["details"],
        json!({"email": "is required"})
    );

    let not_json = post("/login", "text/plain", "email=a@example.com");
    assert_eq!(not_json.status, 415);

    let huge = post_json(
        "/register",
        &json!({"email": "a@example.com", "password": "x".repeat(20_000)}),
    );
    assert_eq!(huge.status, 413);
}

#[test]
fn profile_without_a_valid_token_is_401_with_a_challenge() {
    let missing = get_profile(None);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json["error"]["code"], "missing_token");
    assert!(
        missing
            .www_authenticate
            .is_some_and(|c| c.starts_with("Bearer"))
    );

    let garbage = get_profile(Some("Bearer not.a.token"));
    assert_eq!(garbage.status, 401);
    assert_eq!(garbage.json["error"]["code"], "invalid_token");
    assert!(
        garbage
            .www_authenticate
            .is_some_and(|c| c.contains("invalid_token"))
    );
}
