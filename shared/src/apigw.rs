//! API Gateway HTTP API (payload 2.0) events to `http` types and back, so that no client can make
//! the conversion panic: the workaround for an upstream fault, isolated here so that it can be
//! deleted in one commit once `lambda_http` is fixed.
//!
//! `lambda_http`'s own conversion (1.3.2) `unwrap`s a URL it builds from the client's `Host` and
//! `X-Forwarded-Proto` headers: `X-Forwarded-Proto: a b` or `Host: [::1` panicked the function.
//! So [`into_request`] takes the event as raw JSON, [`sanitise`]s it (dropping what cannot be a
//! valid header, host or scheme, percent-encoding the query), refuses what is still unusable
//! ([`Rejected`], which [`crate::runtime::respond`] answers with `400 bad_request`), and only then
//! hands it to `lambda_http`'s conversion, which can no longer fail. [`into_event_response`]
//! builds the HTTP API response.

use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::aws_lambda_events::encodings::Body as EventBody;
use lambda_http::http::header::{HOST, SET_COOKIE};
use lambda_http::http::{HeaderName, HeaderValue};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// Longest request target (path and query) accepted, in bytes. API Gateway's own limit is
/// lower; this bound keeps the `http` crate's URI length limit (64 KiB) out of reach.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// Why an event could not be turned into a request (logged, never sent).
#[derive(Debug, PartialEq, Eq)]
pub struct Rejected(pub &'static str);

/// Sanitises a raw event and converts it with `lambda_http`'s own conversion.
pub fn into_request(mut event: Value) -> Result<Request, Rejected> {
    drop_invalid_headers(&mut event);
    let mut typed: ApiGatewayV2httpRequest =
        serde_json::from_value(event).map_err(|_| Rejected("not an HTTP API 2.0 event"))?;
    sanitise(&mut typed)?;
    Ok(Request::from(LambdaRequest::ApiGatewayV2(typed)))
}

/// Removes header entries whose name or value could not be an HTTP header: the event's
/// deserialiser would otherwise refuse the whole event.
fn drop_invalid_headers(event: &mut Value) {
    let Some(headers) = event.get_mut("headers").and_then(Value::as_object_mut) else {
        return;
    };
    headers.retain(|name, value| {
        HeaderName::from_bytes(name.as_bytes()).is_ok()
            && value
                .as_str()
                .is_some_and(|value| HeaderValue::from_str(value).is_ok())
    });
}

/// Makes a typed event safe for `lambda_http`'s conversion, which builds
/// `{x-forwarded-proto}://{host}{path}?{query}` and unwraps every parse on the way.
///
/// - `X-Forwarded-Proto` survives only as `http` or `https` (API Gateway sets it; the function
///   never needs a client's version of it).
/// - The path gets a leading `/` and the query is percent-encoded where it holds bytes a URI may
///   not; together they must fit [`MAX_TARGET_BYTES`]. A base64 body must decode.
/// - Then the URI the conversion will build is built here first, with the same parsers; if the
///   client's `Host` (or the context's `domainName`) makes it fail, both are dropped (the
///   function never uses them), and if it still fails the event is refused.
pub fn sanitise(event: &mut ApiGatewayV2httpRequest) -> Result<(), Rejected> {
    let forwarded_proto = HeaderName::from_static("x-forwarded-proto");
    let proto = event
        .headers
        .get(&forwarded_proto)
        .and_then(|value| value.to_str().ok())
        .map(str::to_ascii_lowercase);
    match proto.as_deref() {
        Some("http") => {
            event
                .headers
                .insert(forwarded_proto, HeaderValue::from_static("http"));
        }
        Some("https") => {
            event
                .headers
                .insert(forwarded_proto, HeaderValue::from_static("https"));
        }
        _ => {
            event.headers.remove(&forwarded_proto);
        }
    }

    let path = event.raw_path.get_or_insert_with(|| "/".to_owned());
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if let Some(query) = &mut event.raw_query_string {
        *query = percent_encode_query(query);
    }
    let target = path.len() + event.raw_query_string.as_ref().map_or(0, String::len);
    if target > MAX_TARGET_BYTES {
        return Err(Rejected("the request target is too long"));
    }
    if event.is_base64_encoded {
        use base64::Engine as _;
        let decodes = event.body.as_deref().is_none_or(|body| {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_ok()
        });
        if !decodes {
            return Err(Rejected("the body is not valid base64"));
        }
    }

    if request_uri(event).is_none() {
        event.headers.remove(HOST);
        event.request_context.domain_name = None;
        if request_uri(event).is_none() {
            return Err(Rejected("no valid request URI can be built"));
        }
    }
    Ok(())
}

/// The URI `lambda_http` 1.3.2 builds for this event (`build_request_uri` and
/// `apigw_path_with_stage` in its `request.rs`), or `None` where its `unwrap`s would panic.
fn request_uri(event: &ApiGatewayV2httpRequest) -> Option<lambda_http::http::Uri> {
    let host = event
        .headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .or(event.request_context.domain_name.as_deref());
    let raw_path = event.raw_path.as_deref().unwrap_or_default();
    let path = match event.request_context.stage.as_deref() {
        _ if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_some() => {
            raw_path.to_owned()
        }
        None | Some("$default") => raw_path.to_owned(),
        Some(stage) if raw_path.starts_with(&format!("/{stage}/")) => raw_path.to_owned(),
        Some(stage) => format!("/{stage}{raw_path}"),
    };
    let mut uri = match host {
        None => url::Url::parse(&format!("http://localhost{path}"))
            .ok()?
            .path()
            .to_owned(),
        Some(host) => {
            let scheme = event
                .headers
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("https");
            url::Url::parse(&format!("{scheme}://{host}{path}"))
                .ok()?
                .to_string()
        }
    };
    if let Some(query) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    lambda_http::http::Uri::try_from(uri).ok()
}

/// RFC 3986 `pchar` and `/`, plus `%` (the URL parser re-encodes anything else it meets).
fn is_path_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&byte)
}

/// Percent-encodes every byte RFC 3986 does not allow in a query, and `%` not followed by two
/// hex digits. Already-valid queries come back unchanged.
fn percent_encode_query(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    for (index, &byte) in bytes.iter().enumerate() {
        let escape_ok = byte == b'%'
            && bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(index + 2).is_some_and(u8::is_ascii_hexdigit);
        if escape_ok || (byte != b'%' && (is_path_byte(byte) || byte == b'?')) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The HTTP API response for `response`: JSON (and any UTF-8) as text, anything else base64,
/// `Set-Cookie` moved to `cookies` as payload 2.0 requires.
pub fn into_event_response(response: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(SET_COOKIE);
    let (body, is_base64_encoded) = match body {
        Body::Empty => (None, false),
        Body::Text(text) => (Some(EventBody::Text(text)), false),
        Body::Binary(bytes) => match String::from_utf8(bytes) {
            Ok(text) => (Some(EventBody::Text(text)), false),
            Err(error) => (Some(EventBody::Binary(error.into_bytes())), true),
        },
        _ => (None, false),
    };
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = headers;
    answer.body = body;
    answer.is_base64_encoded = is_base64_encoded;
    answer.cookies = cookies;
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use lambda_http::http::{Method, StatusCode};
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    use proptest::prelude::*;
    use serde_json::json;

    fn base_event() -> Value {
        json!({
            "version": "2.0",
            "routeKey": "GET /profile",
            "rawPath": "/profile",
            "rawQueryString": "",
            "headers": {"host": "api.example.com", "x-forwarded-proto": "https"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "a1b2c3d4e5",
                "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
                "http": {"method": "GET", "path": "/profile", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
                "requestId": "id", "routeKey": "GET /profile", "stage": "$default",
                "time": "23/Nov/2026:21:47:07 +0000", "timeEpoch": 1795384027000u64
            },
            "isBase64Encoded": false
        })
    }

    fn with_header(name: &str, value: &str) -> Value {
        let mut event = base_event();
        event["headers"][name] = Value::String(value.to_owned());
        event
    }

    /// Client-controlled headers that make `lambda_http` 1.3.2 panic.
    const HOSTILE: [(&str, &str); 6] = [
        ("x-forwarded-proto", "a b"),
        ("x-forwarded-proto", "1"),
        ("x-forwarded-proto", ""),
        ("host", "exa mple.com"),
        ("host", "[::1"),
        ("host", "example.com:99999"),
    ];

    /// The upstream fault, reduced: `lambda_http` 1.3.2's own conversion panics on these headers.
    /// When this test starts failing, upstream has fixed it (and `sanitise` may shrink).
    #[test]
    fn upstream_conversion_panics_on_client_controlled_headers() {
        for (name, value) in HOSTILE {
            let raw = with_header(name, value).to_string();
            let outcome = std::panic::catch_unwind(|| lambda_http::request::from_str(&raw));
            assert!(
                outcome.is_err(),
                "{name}: {value:?} no longer panics upstream"
            );
        }
    }

    #[test]
    fn hostile_headers_convert_after_sanitising() {
        let more = [("host", "1.2.3.4.5"), ("host", "example.123")];
        for (name, value) in HOSTILE.into_iter().chain(more) {
            let request = into_request(with_header(name, value)).expect("converted");
            assert_eq!(request.uri().path(), "/profile", "{name}: {value:?}");
            assert_eq!(request.method(), Method::GET);
        }
    }

    #[test]
    fn well_formed_headers_are_kept() {
        let request = into_request(with_header("x-forwarded-proto", "HTTP")).expect("converted");
        assert_eq!(request.headers()["x-forwarded-proto"], "http");
        assert_eq!(request.headers()[HOST], "api.example.com");
        assert_eq!(request.uri().to_string(), "http://api.example.com/profile");
    }

    #[test]
    fn invalid_header_values_are_dropped_not_fatal() {
        let mut event = base_event();
        event["headers"]["x-bad"] = json!("line\nbreak");
        event["headers"]["bad name"] = json!("v");
        event["headers"]["x-number"] = json!(5);
        let request = into_request(event).expect("converted");
        assert!(!request.headers().contains_key("x-bad"));
        assert!(!request.headers().contains_key("x-number"));
    }

    #[test]
    fn unusable_events_are_refused_with_the_envelope() {
        let mut bad_body = base_event();
        bad_body["body"] = json!("%%%");
        bad_body["isBase64Encoded"] = json!(true);
        let mut bad_method = base_event();
        bad_method["requestContext"]["http"]["method"] = json!("GE T");
        let mut long = base_event();
        long["rawQueryString"] = json!("a".repeat(MAX_TARGET_BYTES + 1));
        for event in [bad_body, bad_method, long, json!([1, 2]), json!({})] {
            assert!(into_request(event.clone()).is_err(), "{event}");
            let answer = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime")
                .block_on(crate::runtime::respond(
                    &crate::browser::Browser::default(),
                    LambdaEvent::new(event, lambda_runtime::Context::default()),
                    |_| async { Err(ApiError::internal("never reached")) },
                ));
            assert_eq!(answer.status_code, 400);
            let body = answer.body.expect("a body");
            let body: Value = serde_json::from_slice(body.as_ref()).expect("JSON");
            assert_eq!(body["error"]["code"], "bad_request");
        }
    }

    #[test]
    fn queries_are_percent_encoded_only_where_needed() {
        assert_eq!(percent_encode_query("a=1&b=%20x"), "a=1&b=%20x");
        assert_eq!(percent_encode_query("q=a b"), "q=a%20b");
        assert_eq!(percent_encode_query("%zz=ü"), "%25zz=%C3%BC");
        assert_eq!(
            percent_encode_query("x=\"<>\\^`{|}#"),
            "x=%22%3C%3E%5C%5E%60%7B%7C%7D%23"
        );
    }

    #[test]
    fn responses_go_back_as_payload_2_0_text() {
        let response = ApiError::InvalidToken.into_response();
        let answer = into_event_response(response);
        assert_eq!(
            answer.status_code,
            i64::from(StatusCode::UNAUTHORIZED.as_u16())
        );
        assert!(!answer.is_base64_encoded);
        assert!(matches!(answer.body, Some(EventBody::Text(_))));
        assert!(answer.headers.contains_key("www-authenticate"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever a client puts in the headers, path or query, the event converts or is refused;
        /// nothing panics.
        #[test]
        fn no_event_makes_the_conversion_panic(
            host in proptest::option::of("\\PC{0,24}"),
            proto in proptest::option::of("\\PC{0,8}"),
            domain in proptest::option::of("\\PC{0,24}"),
            stage in proptest::option::of("\\PC{0,8}"),
            path in "\\PC{0,32}",
            query in "\\PC{0,32}",
        ) {
            let mut event = base_event();
            for (name, value) in [("host", &host), ("x-forwarded-proto", &proto)] {
                match value {
                    Some(value) => event["headers"][name] = json!(value),
                    None => { event["headers"].as_object_mut().expect("map").remove(name); }
                }
            }
            event["requestContext"]["domainName"] = json!(domain);
            event["requestContext"]["stage"] = json!(stage);
            event["rawPath"] = json!(path);
            event["rawQueryString"] = json!(query);
            if let Ok(request) = into_request(event) {
                prop_assert_eq!(request.method(), Method::GET);
            }
        }
    }
}
