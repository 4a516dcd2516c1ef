//! HTTP glue shared by every function: the request wrapper that turns a handler's `Result` into a
//! response (and logs it), JSON responses, and strict JSON request-body parsing.

use std::fmt::Display;
use std::future::Future;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::error::{ApiError, FieldErrors};
use crate::session::ClientInfo;

/// The largest request body accepted; anything bigger is a 413 before it is parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Runs one request through `handle` and always answers with an HTTP response.
///
/// This is the single place where an [`ApiError`] becomes a response (`lambda_http` would turn
/// an `Err` into a Lambda invocation error, a bare 500 from the HTTP API). It also writes one log
/// line per request with the status and latency; it never logs headers or bodies.
/// [`crate::runtime::respond`] calls it.
///
/// It does not check the method: a function only receives its own route's events (API Gateway
/// and the local emulator route by method and path, and a test keeps both tables equal to the
/// template), and any other method or path never reaches a function: it is the router's 404.
pub async fn serve<F, Fut>(request: Request, handle: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = Instant::now();
    let span = tracing::info_span!(
        "request",
        route = route_key(&request).unwrap_or("-"),
        method = %request.method(),
        path = %request.uri().path(),
        apigw_request_id = api_gateway_request_id(&request).unwrap_or("-"),
    );
    async move {
        let response = handle(request).await.unwrap_or_else(|error| {
            log_error(&error);
            error.into_response()
        });
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request completed"
        );
        response
    }
    .instrument(span)
    .await
}

/// The route API Gateway matched, e.g. `DELETE /sessions/{id}`: which function's logs a line
/// belongs to, whatever the path held.
fn route_key(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.route_key.as_deref(),
        #[allow(unreachable_patterns)] // other event sources exist only with other features
        _ => None,
    }
}

fn api_gateway_request_id(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.as_deref(),
        #[allow(unreachable_patterns)] // other event sources exist only with other features
        _ => None,
    }
}

/// Server errors are logged with their whole cause chain; client errors only by code.
pub(crate) fn log_error(error: &ApiError) {
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

/// The entity tag of a resource at `version` (the user item's optimistic-locking version): a
/// strong tag, `"<version>"`.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from(version)
        .to_str()
        .ok()
        .and_then(|digits| HeaderValue::from_str(&format!("\"{digits}\"")).ok())
        .unwrap_or_else(|| HeaderValue::from_static("\"0\""))
}

/// A JSON response carrying the `ETag` of `version`.
pub fn json_response_with_etag(
    status: StatusCode,
    body: &impl Serialize,
    version: u64,
) -> Response<Body> {
    let mut response = json_response(status, body);
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// Checks `If-Match` (RFC 9110 §13.1.1) against the current `version`: absent or `*` passes;
/// otherwise one of the listed strong tags must be the current one (weak tags never match).
/// A mismatch is [`ApiError::PreconditionFailed`], before anything is written.
pub fn check_if_match(request: &Request, version: u64) -> Result<(), ApiError> {
    let values: Vec<&HeaderValue> = request.headers().get_all(header::IF_MATCH).iter().collect();
    if values.is_empty() {
        return Ok(());
    }
    let current = etag(version);
    let matches = values.iter().any(|value| {
        value.to_str().is_ok_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.as_bytes() == current.as_bytes())
        })
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed)
    }
}

/// `204 No Content`, with the headers every response of this API carries.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where the request came from, as API Gateway saw it (not as the client's headers claim).
pub fn client_info(request: &Request) -> ClientInfo {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => ClientInfo::new(
            context.http.user_agent.as_deref(),
            context.http.source_ip.as_deref(),
        ),
        #[allow(unreachable_patterns)] // other event sources exist only with other features
        _ => ClientInfo::default(),
    }
}

/// A path parameter of the route (`{id}` in `/sessions/{id}`), as API Gateway (or the local
/// emulator, which does the same) extracted it.
pub fn path_parameter(request: &Request, name: &str) -> Option<String> {
    request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(name).map(str::to_owned))
}

/// Parses a JSON object body and validates its fields in one pass.
///
/// `build` pulls each field through [`JsonFields::required`] / [`JsonFields::optional`]; every
/// problem is collected, so a client learns about all bad fields at once (400
/// `validation_failed` with `details`): missing, mistyped or invalid fields, fields `build` did
/// not ask for (a typo such as `nmae` is refused, not dropped), and a key given twice (never
/// "last one wins"). A wrong content type or any `Content-Encoding` is 415, oversize 413, and
/// a body that is not JSON 400 `malformed_json`. Valid JSON of the wrong shape, such as a
/// 360-digit number where a string belongs, is a validation error, not malformed.
pub fn parse_json_body<T>(
    request: &Request,
    build: impl FnOnce(&mut JsonFields) -> Option<T>,
) -> Result<T, ApiError> {
    let mut fields = JsonFields::from_request(request)?;
    let value = build(&mut fields);
    for unknown in std::mem::take(&mut fields.fields).into_keys() {
        fields
            .errors
            .entry(unknown)
            .or_insert_with(|| "is not a known field".to_owned());
    }
    match (value, fields.errors.is_empty()) {
        (Some(value), true) => Ok(value),
        (_, false) => Err(ApiError::Validation(fields.errors)),
        (None, true) => Err(ApiError::internal(
            "a body parser returned None without recording a field error",
        )),
    }
}

/// The fields of a JSON object body not yet taken, and the problems found so far.
#[derive(Debug)]
pub struct JsonFields {
    fields: std::collections::BTreeMap<String, Box<RawValue>>,
    errors: FieldErrors,
}

impl JsonFields {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        if !is_json_content_type(request) || has_content_encoding(request) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes: &[u8] = request.body().as_ref();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        // Syntax first, without converting numbers (so no "number out of range" for valid JSON).
        let raw: &RawValue = serde_json::from_slice(bytes).map_err(|_| ApiError::MalformedJson)?;
        if !raw.get().starts_with('{') {
            return Err(ApiError::Validation(FieldErrors::from([(
                "body".to_owned(),
                "must be a JSON object".to_owned(),
            )])));
        }
        let Members(members) =
            serde_json::from_str(raw.get()).map_err(|_| ApiError::MalformedJson)?;
        let mut fields = std::collections::BTreeMap::new();
        let mut errors = FieldErrors::new();
        for (name, value) in members {
            match fields.entry(name) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                std::collections::btree_map::Entry::Occupied(slot) => {
                    errors.insert(slot.key().clone(), "is given more than once".to_owned());
                }
            }
        }
        Ok(Self { fields, errors })
    }

    /// A string field that must be present; `parse` turns it into a domain value.
    pub fn required<T, E: Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.fields.remove(name);
        self.string(name, raw.as_deref(), parse)
    }

    /// A string field that may be absent. `null` is not absent: it is refused (a field that
    /// may be `null` is [`JsonFields::nullable`], which the contract says so for).
    pub fn optional<T, E: Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        match self.fields.remove(name) {
            None => Some(None),
            Some(raw) if raw.get() == "null" => self.reject(name, "must be a string"),
            Some(raw) => self.string(name, Some(&raw), parse).map(Some),
        }
    }

    /// A string field of a partial update, where absent and `null` differ: `Some(None)` absent
    /// (leave it), `Some(Some(None))` `null` (clear it), `Some(Some(Some(value)))` set it.
    pub fn nullable<T, E: Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<Option<T>>> {
        match self.fields.remove(name) {
            None => Some(None),
            Some(raw) if raw.get() == "null" => Some(Some(None)),
            Some(raw) => self
                .string(name, Some(&raw), parse)
                .map(|value| Some(Some(value))),
        }
    }

    /// Records a problem found across fields (e.g. one field required by another).
    pub fn refuse<T>(&mut self, name: &'static str, problem: impl Display) -> Option<T> {
        self.reject(name, problem)
    }

    fn string<T, E: Display>(
        &mut self,
        name: &'static str,
        raw: Option<&RawValue>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        if self.errors.contains_key(name) {
            return None; // given twice: already reported
        }
        let Some(raw) = raw.filter(|raw| raw.get() != "null") else {
            return self.reject(name, "is required");
        };
        match serde_json::from_str::<String>(raw.get()) {
            Ok(text) => match parse(&text) {
                Ok(value) => Some(value),
                Err(problem) => self.reject(name, problem),
            },
            Err(_) => self.reject(name, "must be a string"),
        }
    }

    fn reject<T>(&mut self, name: &'static str, problem: impl Display) -> Option<T> {
        self.errors.insert(name.to_owned(), problem.to_string());
        None
    }
}

/// An object's members in order, duplicates kept, values unparsed.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
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

/// Bodies are read as sent: any `Content-Encoding` but `identity` (gzip, br, ...) is refused.
fn has_content_encoding(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|value| {
            value.to_str().map_or(true, |value| {
                value
                    .split(',')
                    .any(|coding| !coding.trim().eq_ignore_ascii_case("identity"))
            })
        })
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

    fn json(body: &str) -> Request {
        request(Some("application/json"), body)
    }

    fn name_only(request: &Request) -> Result<String, ApiError> {
        parse_json_body(request, |f| {
            f.required("name", |s| Ok::<_, Infallible>(s.to_owned()))
        })
    }

    fn details(result: Result<impl std::fmt::Debug, ApiError>) -> FieldErrors {
        match result {
            Err(ApiError::Validation(details)) => details,
            other => panic!("expected a validation error, got {other:?}"),
        }
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
    fn content_encodings_other_than_identity_are_415() {
        for (encoding, accepted) in [
            ("gzip", false),
            ("br", false),
            ("identity, gzip", false),
            ("identity", true),
            ("Identity", true),
        ] {
            let mut req = json(r#"{"name":"a"}"#);
            req.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            let result = name_only(&req);
            assert_eq!(result.is_ok(), accepted, "{encoding}: {result:?}");
            if !accepted {
                assert!(matches!(result, Err(ApiError::UnsupportedMediaType)));
            }
        }
    }

    #[test]
    fn bodies_over_the_limit_are_413() {
        let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert!(matches!(
            name_only(&json(&big)),
            Err(ApiError::PayloadTooLarge)
        ));
    }

    #[test]
    fn broken_or_empty_json_is_malformed() {
        for body in ["{", "", "nope", "{\"name\": \"a\",}", "{\"name\": 01}"] {
            assert!(
                matches!(name_only(&json(body)), Err(ApiError::MalformedJson)),
                "{body}"
            );
        }
    }

    #[test]
    fn non_objects_missing_and_mistyped_fields_are_validation_errors() {
        let huge_number = "9".repeat(360);
        let huge = format!(r#"{{"name":{huge_number}}}"#);
        let huge_float = format!(r#"{{"name":1e{huge_number}}}"#);
        let cases = [
            ("[1,2]", "body", "must be a JSON object"),
            ("12", "body", "must be a JSON object"),
            ("{}", "name", "is required"),
            (r#"{"name":null}"#, "name", "is required"),
            (r#"{"name":12345678}"#, "name", "must be a string"),
            (huge.as_str(), "name", "must be a string"),
            (huge_float.as_str(), "name", "must be a string"),
            (r#"{"name":{"a":1,"a":2}}"#, "name", "must be a string"),
        ];
        for (body, field, problem) in cases {
            assert_eq!(details(name_only(&json(body)))[field], problem, "{body}");
        }
    }

    #[test]
    fn unknown_fields_are_named_not_dropped() {
        let found = details(name_only(&json(r#"{"name":"a","nmae":"b","x":1}"#)));
        assert_eq!(
            found,
            FieldErrors::from([
                ("nmae".into(), "is not a known field".into()),
                ("x".into(), "is not a known field".into()),
            ])
        );
    }

    #[test]
    fn a_key_given_twice_is_refused_whatever_its_values() {
        for body in [
            r#"{"name":"a","name":"b"}"#,
            r#"{"name":"a","name":"a"}"#,
            r#"{"name":"a","name":null}"#,
        ] {
            let found = details(name_only(&json(body)));
            assert_eq!(
                found,
                FieldErrors::from([("name".into(), "is given more than once".into())]),
                "{body}"
            );
        }
    }

    /// `optional` fields may be absent but not `null`; `nullable` ones tell `null` from absent.
    #[test]
    fn null_is_refused_by_optional_fields_and_kept_by_nullable_ones() {
        let parse = |body: &str| {
            parse_json_body(&json(body), |f| {
                let o = f.optional("o", |s| Ok::<_, Infallible>(s.to_owned()));
                let n = f.nullable("n", |s| Ok::<_, Infallible>(s.to_owned()));
                Some((o?, n?))
            })
        };
        assert_eq!(parse("{}").expect("absent"), (None, None));
        assert_eq!(
            parse(r#"{"n": null}"#).expect("null name"),
            (None, Some(None))
        );
        assert_eq!(
            details(parse(r#"{"o": null}"#))["o"],
            "must be a string",
            "null is not absent"
        );
    }

    /// Secrets in every kind of bad field: a refused value, a wrong type, an unknown field, a
    /// duplicate. The framework's own messages must carry none of them.
    #[test]
    fn every_bad_field_is_reported_at_once_without_echoing_values() {
        let req = json(
            r#"{"a": {"pw": "hunter2-a"}, "b": "hunter2-b", "c": 987654321,
                "d": "hunter2-d", "d": "hunter2-d2", "zz": "hunter2-zz"}"#,
        );
        let mut seen = None;
        let result = parse_json_body(&req, |f| {
            let a = f.required("a", |s| Ok::<_, Infallible>(s.to_owned()));
            let b = f.required("b", |s| {
                seen = Some(s.to_owned());
                Err::<String, _>("is too weak")
            });
            let c = f.required("c", |s| Ok::<_, Infallible>(s.to_owned()));
            let d = f.optional("d", |s| Ok::<_, Infallible>(s.to_owned()));
            Some((a?, b?, c?, d?))
        });
        assert_eq!(
            seen.as_deref(),
            Some("hunter2-b"),
            "the parser got the value"
        );
        let details = details(result);
        assert_eq!(
            details.keys().collect::<Vec<_>>(),
            ["a", "b", "c", "d", "zz"],
            "all at once"
        );
        let rendered = ApiError::Validation(details).into_response();
        let body = std::str::from_utf8(rendered.body().as_ref()).expect("utf-8");
        assert!(
            !body.contains("hunter2") && !body.contains("987654321"),
            "{body}"
        );
    }

    #[test]
    fn if_match_compares_strong_tags_and_accepts_star_or_absence() {
        let with = |value: Option<&'static str>| {
            let mut request = json("{}");
            if let Some(value) = value {
                request
                    .headers_mut()
                    .insert(header::IF_MATCH, HeaderValue::from_static(value));
            }
            check_if_match(&request, 7)
        };
        assert_eq!(etag(7), "\"7\"");
        for passing in [None, Some("\"7\""), Some("*"), Some("\"3\", \"7\"")] {
            assert!(with(passing).is_ok(), "{passing:?}");
        }
        for failing in [Some("\"6\""), Some("W/\"7\""), Some("7"), Some("")] {
            assert!(
                matches!(with(failing), Err(ApiError::PreconditionFailed)),
                "{failing:?}"
            );
        }
    }

    #[test]
    fn json_responses_are_not_cacheable() {
        let response = json_response(StatusCode::OK, &serde_json::json!({"ok": true}));
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
