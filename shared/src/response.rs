//! The responses every route sends: JSON with the headers every answer carries, `204`, and the
//! entity tag of the user item's version.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

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

/// `204 No Content`, with the headers every response of this API carries.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `200 OK` with `body`, cacheable by anyone for `max_age_seconds` (public documents: the JWKS,
/// the discovery document).
pub fn public_json_response(body: &impl Serialize, max_age_seconds: u64) -> Response<Body> {
    let mut response = json_response(StatusCode::OK, body);
    let value = format!("public, max-age={max_age_seconds}");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// `202 Accepted` with an empty JSON object: the request was taken; what follows (mail) happens
/// off the request path, and the answer is the same whatever it will be.
pub fn accepted() -> Response<Body> {
    json_response(StatusCode::ACCEPTED, &serde_json::json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_responses_are_not_cacheable() {
        let response = json_response(StatusCode::OK, &serde_json::json!({"ok": true}));
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
