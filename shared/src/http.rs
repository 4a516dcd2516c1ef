//! HTTP glue shared by every function: the request wrapper that turns a handler's `Result` into a
//! response (and logs it), JSON responses, and strict JSON request-body parsing.

use std::fmt::Display;
use std::future::Future;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::error::{ApiError, FieldErrors};

/// The largest request body accepted; anything bigger is a 413 before it is parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Runs one request through `handle` and always answers with an HTTP response.
///
/// This is the single place where an [`ApiError`] becomes a response: `lambda_http` would turn an
/// `Err` into a Lambda invocation error (a bare 500 from the HTTP API), so this function never
/// returns one. It also checks the method (a 405 for anything but `method`) and writes one log
/// line per request with the status and latency; it never logs headers or bodies.
pub async fn serve<F, Fut>(
    request: Request,
    method: &'static str,
    handle: F,
) -> Result<Response<Body>, lambda_http::Error>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = Instant::now();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        apigw_request_id = api_gateway_request_id(&request).unwrap_or("-"),
    );
    async move {
        let result = if request.method().as_str() == method {
            handle(request).await
        } else {
            Err(ApiError::MethodNotAllowed { allow: method })
        };
        let response = result.unwrap_or_else(|error| {
            log_error(&error);
            error.into_response()
        });
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request completed"
        );
        Ok(response)
    }
    .instrument(span)
    .await
}

fn api_gateway_request_id(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.as_deref(),
        #[allow(unreachable_patterns)] // other event sources exist only with other features
        _ => None,
    }
}

/// Server errors are logged with their whole cause chain; client errors only by code.
fn log_error(error: &ApiError) {
    if error.status().is_server_error() {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        tracing::error!(code = error.code(), causes = ?causes, "request failed");
    } else {
        tracing::info!(code = error.code(), "request rejected");
    }
}

/// A JSON response with the headers every response of this API carries.
///
/// `Cache-Control: no-store` because responses hold personal data and tokens (RFC 6749 §5.1).
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let (status, bytes) = match serde_json::to_vec(body) {
        Ok(bytes) => (status, bytes),
        Err(error) => {
            // Our response types always serialise; this is a bug worth a loud log line.
            tracing::error!(%error, "response did not serialise");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error":{"code":"internal_error","message":"An internal error occurred."}}"#
                    .to_vec(),
            )
        }
    };
    let mut response = Response::new(Body::Binary(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Parses a JSON object body and validates its fields in one pass.
///
/// `build` pulls each field through [`JsonFields::required`] / [`JsonFields::optional`]; every
/// problem is collected, so a client learns about all bad fields at once (400
/// `validation_failed` with `details`). Wrong content type is 415, oversize 413, and a body that
/// is not JSON 400 `malformed_json`.
pub fn parse_json_body<T>(
    request: &Request,
    build: impl FnOnce(&mut JsonFields) -> Option<T>,
) -> Result<T, ApiError> {
    let mut fields = JsonFields::from_request(request)?;
    let value = build(&mut fields);
    match (value, fields.errors.is_empty()) {
        (Some(value), true) => Ok(value),
        (_, false) => Err(ApiError::Validation(fields.errors)),
        (None, true) => Err(ApiError::internal(
            "a body parser returned None without recording a field error",
        )),
    }
}

/// The fields of a JSON object body, and the problems found in them so far.
#[derive(Debug)]
pub struct JsonFields {
    object: Map<String, Value>,
    errors: FieldErrors,
}

impl JsonFields {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        if !is_json_content_type(request) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes: &[u8] = request.body().as_ref();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(object)) => Ok(Self {
                object,
                errors: FieldErrors::new(),
            }),
            Ok(_) => Err(ApiError::Validation(FieldErrors::from([(
                "body",
                "must be a JSON object".to_owned(),
            )]))),
            Err(_) => Err(ApiError::MalformedJson),
        }
    }

    /// A string field that must be present; `parse` turns it into a domain value.
    pub fn required<T, E: Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match self.object.get(name) {
            None | Some(Value::Null) => self.reject(name, "is required"),
            Some(Value::String(raw)) => match parse(raw) {
                Ok(value) => Some(value),
                Err(problem) => self.reject(name, problem),
            },
            Some(_) => self.reject(name, "must be a string"),
        }
    }

    /// A string field that may be absent or `null`.
    pub fn optional<T, E: Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(_) => self.required(name, parse).map(Some),
        }
    }

    fn reject<T>(&mut self, name: &'static str, problem: impl Display) -> Option<T> {
        self.errors.insert(name, problem.to_string());
        None
    }
}

fn is_json_content_type(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/x");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body)).expect("valid request")
    }

    fn name_only(request: &Request) -> Result<String, ApiError> {
        parse_json_body(request, |f| {
            f.required("name", |s| Ok::<_, Infallible>(s.to_owned()))
        })
    }

    #[test]
    fn json_with_charset_parameter_is_accepted() {
        let req = request(Some("Application/JSON; charset=utf-8"), r#"{"name":"a"}"#);
        assert_eq!(name_only(&req).expect("parsed"), "a");
    }

    #[test]
    fn other_or_missing_content_types_are_415() {
        for content_type in [None, Some("text/plain"), Some("application/jsonx")] {
            let req = request(content_type, r#"{"name":"a"}"#);
            assert!(matches!(
                name_only(&req),
                Err(ApiError::UnsupportedMediaType)
            ));
        }
    }

    #[test]
    fn bodies_over_the_limit_are_413() {
        let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        let req = request(Some("application/json"), &big);
        assert!(matches!(name_only(&req), Err(ApiError::PayloadTooLarge)));
    }

    #[test]
    fn broken_or_empty_json_is_malformed() {
        for body in ["{", "", "nope", "{\"name\": \"a\",}"] {
            let req = request(Some("application/json"), body);
            assert!(
                matches!(name_only(&req), Err(ApiError::MalformedJson)),
                "{body}"
            );
        }
    }

    #[test]
    fn non_objects_missing_and_mistyped_fields_are_validation_errors() {
        let cases = [
            ("[1,2]", "body", "must be a JSON object"),
            ("{}", "name", "is required"),
            (r#"{"name":null}"#, "name", "is required"),
            (r#"{"name":12345678}"#, "name", "must be a string"),
        ];
        for (body, field, problem) in cases {
            let req = request(Some("application/json"), body);
            match name_only(&req) {
                Err(ApiError::Validation(details)) => assert_eq!(details[field], problem),
                other => panic!("{body}: expected validation error, got {other:?}"),
            }
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once_without_echoing_values() {
        let req = request(
            Some("application/json"),
            r#"{"a": 5, "b": "hunter2-secret"}"#,
        );
        let result = parse_json_body(&req, |f| {
            let a = f.required("a", |s| Ok::<_, Infallible>(s.to_owned()));
            let b = f.required("b", |_| Err::<String, _>("is too weak"));
            let c = f.optional("c", |s| Ok::<_, Infallible>(s.to_owned()));
            Some((a?, b?, c?))
        });
        let Err(ApiError::Validation(details)) = result else {
            panic!("expected validation error");
        };
        assert_eq!(details.len(), 2);
        assert!(!format!("{details:?}").contains("hunter2"));
    }

    #[test]
    fn json_responses_are_not_cacheable() {
        let response = json_response(StatusCode::OK, &serde_json::json!({"ok": true}));
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
