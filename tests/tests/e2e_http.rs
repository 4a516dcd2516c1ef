//! End to end over HTTP: the local API (`cargo lambda watch` with the template's routes) in front
//! of the real functions and the local DynamoDB, as `make test` starts them.

#![allow(clippy::expect_used)] // helpers of tests and examples: a panic is the failure

use std::time::Duration;

use serde_json::{Value, json};
use ureq::Agent;

struct Reply {
    status: u16,
    www_authenticate: Option<String>,
    etag: Option<String>,
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
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let raw = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status: response.status().as_u16(),
        www_authenticate,
        etag,
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

/// Sends one raw HTTP/1.1 request, headers exactly as given (a client library would refuse or
/// rewrite some of them, e.g. `Host`), and returns the status and the body.
fn raw_request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let address = base_url().trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).expect("the local API listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("host: {address}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(request.as_bytes()).expect("sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The headers that made `lambda_http` panic (a 500 "Lambda panicked", and with
/// `panic = "abort"` a dead process): every route answers them as if they were well formed.
#[test]
fn hostile_headers_crash_no_route() {
    let email = unique_email("e2e-hostile");
    let registered = post_json("/register", &json!({"email": email, "password": PASSWORD}));
    assert_eq!(registered.status, 201, "{}", registered.raw);
    let token = registered.json["access_token"].as_str().expect("token");
    let bearer = format!("Bearer {token}");
    let hostile: [(&str, &str); 6] = [
        ("x-forwarded-proto", "a b"),
        ("x-forwarded-proto", "1"),
        ("x-forwarded-proto", ""),
        ("host", "exa mple.com"),
        ("host", "[::1"),
        ("host", "example.com:99999"),
    ];
    let login = json!({"email": email, "password": PASSWORD}).to_string();
    for header in hostile {
        let json_headers = [header, ("content-type", "application/json")];
        let (status, body) = raw_request("POST", "/login", &json_headers, &login);
        assert_eq!(status, 200, "{header:?}: {body}");
        let fresh = json!({"email": unique_email("e2e-hostile"), "password": PASSWORD});
        let (status, body) = raw_request("POST", "/register", &json_headers, &fresh.to_string());
        assert_eq!(status, 201, "{header:?}: {body}");
        let (status, body) =
            raw_request("GET", "/profile", &[header, ("authorization", &bearer)], "");
        assert_eq!(status, 200, "{header:?}: {body}");
        assert_eq!(body["email"], email);
    }
}

#[test]
fn bodies_are_parsed_strictly_and_explain_themselves() {
    let typo = post_json(
        "/register",
        &json!({"email": unique_email("e2e-strict"), "password": PASSWORD, "nmae": "Ada"}),
    );
    assert_eq!(typo.status, 400, "{}", typo.raw);
    assert_eq!(
        typo.json["error"]["details"],
        json!({"nmae": "is not a known field"})
    );

    let twice = post(
        "/login",
        "application/json",
        r#"{"email": "a@example.com", "password": "x", "password": "y"}"#,
    );
    assert_eq!(twice.status, 400, "{}", twice.raw);
    assert_eq!(
        twice.json["error"]["details"],
        json!({"password": "is given more than once"})
    );

    let huge_number = format!(r#"{{"email": {}, "password": "x"}}"#, "9".repeat(360));
    let wrong_shape = post("/login", "application/json", &huge_number);
    assert_eq!(wrong_shape.status, 400);
    assert_eq!(wrong_shape.json["error"]["code"], "validation_failed");

    let (status, body) = raw_request(
        "POST",
        "/register",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        "{}",
    );
    assert_eq!(
        (status, &body["error"]["code"]),
        (415, &json!("unsupported_media_type"))
    );

    let common = post_json(
        "/register",
        &json!({"email": unique_email("e2e-common"), "password": "Password1"}),
    );
    assert_eq!(common.status, 400);
    assert!(common.json["error"]["details"]["password"].is_string());
}

#[test]
fn authorization_must_be_one_bearer_token() {
    // Another scheme: no bearer token was presented, so no error code in the challenge.
    let basic = get_profile(Some("Basic YWRhOnB3"));
    assert_eq!(basic.status, 401);
    assert_eq!(basic.json["error"]["code"], "missing_token");
    assert_eq!(
        basic.www_authenticate.as_deref(),
        Some("Bearer realm=\"accounts\"")
    );
    // Repeated headers reach the function joined with a comma (API Gateway's payload 2.0; the
    // local emulator keeps only one of two separate headers, so the joined form is sent here).
    let email = unique_email("e2e-two-auth");
    let token =
        post_json("/register", &json!({"email": email, "password": PASSWORD})).json["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
    let twice = get_profile(Some(&format!("Bearer {token}, Bearer {token}")));
    assert_eq!(twice.status, 401);
    assert_eq!(twice.json["error"]["code"], "invalid_token");
    assert!(
        twice
            .www_authenticate
            .is_some_and(|c| c.contains("error=\"invalid_token\""))
    );
}

#[test]
fn repeated_failures_are_throttled_for_known_and_unknown_emails_alike() {
    let known = unique_email("e2e-throttle");
    assert_eq!(
        post_json("/register", &json!({"email": known, "password": PASSWORD})).status,
        201
    );
    let unknown = unique_email("e2e-throttle-nobody");
    // The local API runs with dev/local.env.
    let setting = |name: &str| -> u32 {
        let env = std::fs::read_to_string(shared::testing::workspace_root().join("dev/local.env"))
            .expect("dev/local.env");
        env.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} in dev/local.env"))
    };
    let threshold = setting("LOGIN_THROTTLE_THRESHOLD");
    // `make test` starts the local API with a longer first delay (see dev/run-tests.sh).
    let base_delay = std::env::var("E2E_THROTTLE_BASE_DELAY_SECONDS")
        .unwrap_or_else(|_| setting("LOGIN_THROTTLE_BASE_DELAY_SECONDS").to_string());
    let mut throttled = Vec::new();
    for email in [&known, &unknown] {
        for attempt in 1..=threshold {
            let wrong = post_json("/login", &json!({"email": email, "password": "nope nope"}));
            assert_eq!(
                wrong.status, 401,
                "{email} attempt {attempt}: {}",
                wrong.raw
            );
        }
        let mut request = agent().post(format!("{}/login", base_url()));
        request = request.header("content-type", "application/json");
        let mut response = request
            .send(json!({"email": email, "password": PASSWORD}).to_string())
            .expect("answered");
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.body_mut().read_to_string().expect("body");
        throttled.push((response.status().as_u16(), retry_after, body));
    }
    assert_eq!(throttled[0].0, 429, "{:?}", throttled[0]);
    let retry_after: u64 = throttled[0]
        .1
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("seconds");
    let base_delay: u64 = base_delay.parse().expect("seconds");
    assert!(
        (base_delay - 1..=base_delay).contains(&retry_after),
        "{retry_after} vs {base_delay}"
    );
    assert!(throttled[0].2.contains("too_many_attempts"));
    // Retry-After counts down in whole seconds between the two requests: compare the status and
    // the body, and that both say to wait about the first delay.
    assert_eq!(
        (throttled[0].0, &throttled[0].2),
        (throttled[1].0, &throttled[1].2),
        "the same answer whether or not the account exists"
    );
    let other: u64 = throttled[1]
        .1
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("seconds");
    assert!((base_delay - 1..=base_delay).contains(&other), "{other}");
}

fn send(method: &str, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Reply {
    let url = format!("{}{path}", base_url());
    let agent = agent();
    let result = match (method, body) {
        ("GET", _) => {
            let mut request = agent.get(&url);
            if let Some(bearer) = bearer {
                request = request.header("authorization", bearer);
            }
            request.call()
        }
        ("DELETE", _) => {
            let mut request = agent.delete(&url);
            if let Some(bearer) = bearer {
                request = request.header("authorization", bearer);
            }
            request.call()
        }
        (_, body) => {
            let mut request = agent.post(&url);
            if let Some(bearer) = bearer {
                request = request.header("authorization", bearer);
            }
            match body {
                Some(body) => request
                    .header("content-type", "application/json")
                    .send(body.to_string()),
                None => request.send_empty(),
            }
        }
    };
    reply(result)
}

fn refresh_with(token: &str) -> Reply {
    send(
        "POST",
        "/refresh",
        None,
        Some(&json!({"refresh_token": token})),
    )
}

fn bearer_of(reply: &Reply) -> String {
    format!(
        "Bearer {}",
        reply.json["access_token"]
            .as_str()
            .expect("an access token")
    )
}

fn refresh_token_of(reply: &Reply) -> String {
    reply.json["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

/// The whole session lifecycle over HTTP: register → refresh (rotation) → the grace → reuse
/// detection → a second sign-in → sessions (list, end one, end the others) → logout.
#[test]
fn the_session_lifecycle() {
    let email = unique_email("e2e-sessions");
    let registered = post_json("/register", &json!({"email": email, "password": PASSWORD}));
    assert_eq!(registered.status, 201, "{}", registered.raw);
    let t0 = refresh_token_of(&registered);

    // Rotation on every use.
    let first = refresh_with(&t0);
    assert_eq!(first.status, 200, "{}", first.raw);
    let t1 = refresh_token_of(&first);
    assert_ne!(t1, t0);
    assert_eq!(get_profile(Some(&bearer_of(&first))).status, 200);
    // Within the grace, the just-rotated token answers with the current one.
    let retried = refresh_with(&t0);
    assert_eq!(retried.status, 200, "{}", retried.raw);
    assert_eq!(refresh_token_of(&retried), t1);
    let second = refresh_with(&t1);
    assert_eq!(second.status, 200);
    let t2 = refresh_token_of(&second);
    // Reuse: t0 is two generations old. The whole session ends.
    let reused = refresh_with(&t0);
    assert_eq!(reused.status, 401);
    assert_eq!(reused.json["error"]["code"], "invalid_grant");
    assert_eq!(
        refresh_with(&t2).status,
        401,
        "the newest token died with it"
    );
    assert_eq!(
        get_profile(Some(&bearer_of(&second))).status,
        401,
        "and its access tokens"
    );

    // Three sign-ins: list them, end one, end the others.
    let sign_in = || post_json("/login", &json!({"email": email, "password": PASSWORD}));
    let (phone, laptop, tablet) = (sign_in(), sign_in(), sign_in());
    let me = bearer_of(&phone);
    let listed = send("GET", "/sessions", Some(&me), None);
    assert_eq!(listed.status, 200, "{}", listed.raw);
    let sessions = listed.json["sessions"].as_array().expect("a list").clone();
    assert_eq!(sessions.len(), 3, "{}", listed.raw);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    // The laptop's session id is its access token's `sid` claim.
    let laptop_token = laptop.json["access_token"].as_str().expect("token");
    let payload = laptop_token.split('.').nth(1).expect("a JWT payload");
    let claims: Value = serde_json::from_str(&decode_base64url(payload)).expect("JSON claims");
    let laptop_sid = claims["sid"].as_str().expect("a sid").to_owned();
    assert!(
        sessions.iter().any(|s| s["id"] == laptop_sid.as_str()),
        "listed"
    );
    let ended = send(
        "DELETE",
        &format!("/sessions/{laptop_sid}"),
        Some(&me),
        None,
    );
    assert_eq!(ended.status, 204, "{}", ended.raw);
    assert_eq!(get_profile(Some(&bearer_of(&laptop))).status, 401);
    let again = send(
        "DELETE",
        &format!("/sessions/{laptop_sid}"),
        Some(&me),
        None,
    );
    assert_eq!(
        (again.status, &again.json["error"]["code"]),
        (404, &json!("session_not_found"))
    );

    let others = send("DELETE", "/sessions", Some(&me), None);
    assert_eq!(others.status, 204);
    assert_eq!(get_profile(Some(&bearer_of(&tablet))).status, 401);
    assert_eq!(get_profile(Some(&me)).status, 200);

    // Logout with the refresh token alone (an expired access token), then nothing works.
    let out = send(
        "POST",
        "/logout",
        None,
        Some(&json!({"refresh_token": refresh_token_of(&phone)})),
    );
    assert_eq!(out.status, 204, "{}", out.raw);
    assert_eq!(get_profile(Some(&me)).status, 401);
    assert_eq!(refresh_with(&refresh_token_of(&phone)).status, 401);
    // And logging out with a bearer token of a fresh sign-in.
    let last = sign_in();
    assert_eq!(
        send("POST", "/logout", Some(&bearer_of(&last)), None).status,
        204
    );
    assert_eq!(get_profile(Some(&bearer_of(&last))).status, 401);
}

fn decode_base64url(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|b| *b == byte) else {
            continue;
        };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request with a bearer token, a JSON body and extra headers, for any method.
fn send_json(
    method: &str,
    path: &str,
    bearer: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Reply {
    let url = format!("{}{path}", base_url());
    let agent = agent();
    let builder = match method {
        "PATCH" => agent.patch(&url),
        "PUT" => agent.put(&url),
        "POST" => agent.post(&url),
        "DELETE" => agent.delete(&url).force_send_body(),
        other => panic!("no body for {other}"),
    };
    let mut builder = builder
        .header("authorization", bearer)
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    reply(builder.send(body.to_string()))
}

/// Account management over HTTP: the ETag and If-Match, a name change, an email change with
/// re-authentication, a password change that ends the other sessions, and deletion, after which
/// the address can be registered again.
#[test]
fn account_management_end_to_end() {
    let email = unique_email("e2e-account");
    let registered = post_json("/register", &json!({"email": email, "password": PASSWORD}));
    assert_eq!(registered.status, 201, "{}", registered.raw);
    let me = bearer_of(&registered);
    let other_device = bearer_of(&post_json(
        "/login",
        &json!({"email": email, "password": PASSWORD}),
    ));

    let profile = get_profile(Some(&me));
    let etag = profile.etag.clone().expect("an ETag");
    let renamed = send_json(
        "PATCH",
        "/profile",
        &me,
        &json!({"name": "Ada"}),
        &[("if-match", &etag)],
    );
    assert_eq!(renamed.status, 200, "{}", renamed.raw);
    assert_eq!(renamed.json["name"], "Ada");
    assert_ne!(renamed.etag.as_deref(), Some(etag.as_str()));
    let stale = send_json(
        "PATCH",
        "/profile",
        &me,
        &json!({"name": "Eve"}),
        &[("if-match", &etag)],
    );
    assert_eq!(
        (stale.status, &stale.json["error"]["code"]),
        (412, &json!("precondition_failed"))
    );
    assert_eq!(
        get_profile(Some(&me)).json["name"],
        "Ada",
        "nothing written"
    );

    let moved = unique_email("e2e-account-moved");
    let wrong = send_json(
        "PATCH",
        "/profile",
        &me,
        &json!({"email": moved, "current_password": "not the password"}),
        &[],
    );
    assert_eq!(wrong.status, 401);
    let changed = send_json(
        "PATCH",
        "/profile",
        &me,
        &json!({"email": moved, "current_password": PASSWORD}),
        &[],
    );
    assert_eq!(changed.status, 200, "{}", changed.raw);
    // The move waits for a code mailed to the new address (dev/tests/test_mail_flows.py follows
    // it through the mail): until then the account keeps its address.
    assert_eq!(changed.json["email"], email);
    assert_eq!(changed.json["pending_email"], moved);
    assert_eq!(
        post_json("/login", &json!({"email": moved, "password": PASSWORD})).status,
        401
    );

    let new_password = "a brand new passphrase";
    let password = send_json(
        "PUT",
        "/password",
        &me,
        &json!({"current_password": PASSWORD, "new_password": new_password}),
        &[],
    );
    assert_eq!(password.status, 204, "{}", password.raw);
    assert_eq!(
        get_profile(Some(&other_device)).status,
        401,
        "other sessions end"
    );
    assert_eq!(get_profile(Some(&me)).status, 200, "this one goes on");
    assert_eq!(
        post_json("/login", &json!({"email": email, "password": new_password})).status,
        200
    );

    let deleted = send_json(
        "DELETE",
        "/profile",
        &me,
        &json!({"current_password": new_password}),
        &[],
    );
    assert_eq!(deleted.status, 204, "{}", deleted.raw);
    assert_eq!(get_profile(Some(&me)).status, 401);
    assert_eq!(
        post_json("/register", &json!({"email": email, "password": PASSWORD})).status,
        201,
        "the address is free at once"
    );
}

/// A method or path the API does not have never reaches a function: the router answers 404
/// itself (as docs/api.md's error table says), with the emulator's own body rather than the
/// project's envelope. Nothing is registered by the wrong method either.
#[test]
fn unknown_methods_and_paths_are_the_routers_404_and_reach_no_function() {
    let email = unique_email("e2e-method");
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    for method in ["PUT", "PATCH", "DELETE", "GET"] {
        let request = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("{}/register", base_url()))
            .header("content-type", "application/json")
            .body(body.clone())
            .expect("a request");
        let answer = reply(agent().run(request));
        assert_eq!(answer.status, 404, "{method} /register: {}", answer.raw);
        assert!(answer.json.get("error").is_none(), "{}", answer.raw);
    }
    let unknown = reply(agent().get(format!("{}/users", base_url())).call());
    assert_eq!(unknown.status, 404, "{}", unknown.raw);
    // The address is still free: none of those requests registered it.
    assert_eq!(
        post_json("/register", &json!({"email": email, "password": PASSWORD})).status,
        201
    );
}

/// An emulator gap, reduced for upstream (docs/upstream/cargo-lambda-non-utf8-body.md):
/// `cargo lambda watch` cannot put a body that is not UTF-8 into an event and answers `500`
/// itself, without calling the function. API Gateway delivers such a body base64-encoded and
/// the function answers `400 malformed_json` (the handler test `register/binary-body` holds
/// that). When this test starts failing, the emulator delivers such bodies: delete this test,
/// the document and schemathesis' `filter_body` hook, and let the local run prove the 400.
#[test]
fn the_local_emulator_answers_a_body_that_is_not_utf8_itself() {
    let response = agent()
        .post(format!("{}/register", base_url()))
        .header("content-type", "application/json")
        .send(&b"{\"email\": \"\xff\"}"[..]);
    let reply = reply(response);
    assert_eq!(reply.status, 500, "{}", reply.raw);
    assert!(
        reply.json.get("error").is_none(),
        "not our envelope: the function never ran: {}",
        reply.raw
    );
}

/// A browser's session over HTTP, through the emulator as API Gateway routes it: the CORS
/// preflight (OPTIONS reaches the preflight function), a sign-in that puts the refresh token in
/// an `HttpOnly` cookie, a refresh and a sign-out with only that cookie; and another site's page
/// granted nothing and refused the cookie.
#[test]
fn a_browser_session_lives_in_the_refresh_cookie() {
    const ORIGIN: &str = shared::testing::WEB_ORIGIN;
    let preflight = |origin: &str| {
        agent()
            .run(
                lambda_http::http::Request::builder()
                    .method("OPTIONS")
                    .uri(format!("{}/refresh", base_url()))
                    .header("origin", origin)
                    .header("access-control-request-method", "POST")
                    .header("access-control-request-headers", "content-type")
                    .body(())
                    .expect("a request"),
            )
            .expect("an answer")
    };
    let granted = preflight(ORIGIN);
    assert_eq!(granted.status(), 204);
    assert_eq!(granted.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        granted.headers()["access-control-allow-credentials"],
        "true"
    );
    let refused = preflight("http://localhost:9999");
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let send = |path: &str, origin: &str, cookie: Option<&str>, body: &Value| {
        let mut request = agent()
            .post(format!("{}{path}", base_url()))
            .header("content-type", "application/json")
            .header("origin", origin);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let mut response = request.send(body.to_string()).expect("an answer");
        let set_cookie: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("text").to_owned())
            .collect();
        let status = response.status().as_u16();
        let allowed = response
            .headers()
            .get("access-control-allow-origin")
            .cloned();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, set_cookie, allowed, json)
    };
    let email = unique_email("e2e-cookie");
    let (status, _, _, _) = send(
        "/register",
        ORIGIN,
        None,
        &json!({"email": email, "password": PASSWORD}),
    );
    assert_eq!(status, 201);
    let login = json!({"email": email, "password": PASSWORD, "refresh_token_delivery": "cookie"});

    let (status, cookies, allowed, body) = send("/login", "https://evil.example", None, &login);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("origin_not_allowed"))
    );
    assert!(cookies.is_empty() && allowed.is_none());

    let (status, cookies, allowed, body) = send("/login", ORIGIN, None, &login);
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(allowed.expect("granted"), ORIGIN);
    let [cookie] = cookies.as_slice() else {
        panic!("one cookie: {cookies:?}")
    };
    assert!(cookie.contains("; HttpOnly; SameSite=Strict"), "{cookie}");
    let jar = cookie.split(';').next().expect("name=value").to_owned();

    let (status, cookies, _, body) = send("/refresh", ORIGIN, Some(&jar), &json!({}));
    assert_eq!(status, 200, "{body}");
    let next = cookies[0].split(';').next().expect("name=value").to_owned();
    assert_ne!(next, jar, "rotated");

    let (status, _, _, body) = send("/refresh", "https://evil.example", Some(&next), &json!({}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("origin_not_allowed"))
    );

    let (status, cookies, _, _) = send("/logout", ORIGIN, Some(&next), &json!({}));
    assert_eq!(status, 204);
    assert!(
        cookies[0].starts_with("refresh_token=; Max-Age=0;"),
        "{cookies:?}"
    );
    let (status, _, _, body) = send("/refresh", ORIGIN, Some(&next), &json!({}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_grant"))
    );
}
