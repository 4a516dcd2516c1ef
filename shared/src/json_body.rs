//! Strict JSON request bodies: one pass that parses and validates every field, refusing unknown
//! fields, repeated keys, wrong content types and encodings, and oversize bodies.

use std::fmt::Display;

use lambda_http::Request;
use lambda_http::http::header;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{ApiError, FieldErrors};

/// The largest request body accepted; anything bigger is a 413 before it is parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
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

/// `400 validation_failed` for a required field `name` that is missing, for a handler that finds
/// it missing after parsing (a field that may come from elsewhere, as a refresh token from the
/// browser's cookie).
pub fn missing_field(name: &str) -> ApiError {
    ApiError::Validation([(name.to_owned(), "is required".to_owned())].into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;
    use lambda_http::http::HeaderValue;
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
}
