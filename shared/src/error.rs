//! The API's one error type and its one JSON envelope.
//!
//! Every failure a handler can meet is an [`ApiError`]; [`ApiError::into_response`] is the only
//! code that turns one into an HTTP response. Client mistakes are 4xx with a stable `code`;
//! 5xx bodies are generic and their cause goes to the log, never to the client.

use std::collections::BTreeMap;
use std::error::Error as StdError;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A boxed error cause, kept for the log.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// Field name → what is wrong with it. Messages never echo the submitted value.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// Everything that can go wrong in a request. The doc comment of each variant names its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `malformed_json`: the body is not syntactically valid JSON.
    #[error("The request body is not valid JSON.")]
    MalformedJson,
    /// 400 `validation_failed`: the JSON is well formed but fields are missing, of the wrong type
    /// or invalid; `details` says which.
    #[error("The request body has missing or invalid fields.")]
    Validation(FieldErrors),
    /// 401 `invalid_credentials`: unknown email or wrong password; deliberately indistinguishable.
    #[error("The email or password is incorrect.")]
    InvalidCredentials,
    /// 401 `missing_token`: no `Authorization: Bearer` token on a route that needs one.
    #[error("This endpoint requires a bearer token.")]
    MissingToken,
    /// 401 `invalid_token`: the token is malformed, expired, not yet valid, badly signed, for
    /// another issuer or audience, or its user no longer exists.
    #[error("The access token is invalid or has expired.")]
    InvalidToken,
    /// 405 `method_not_allowed`: the route exists but not with this method.
    #[error("This method is not allowed on this route.")]
    MethodNotAllowed {
        /// The method the route does accept (sent back in `Allow`).
        allow: &'static str,
    },
    /// 409 `email_taken`: an account with this email (in any letter case) already exists.
    #[error("An account with this email already exists.")]
    EmailTaken,
    /// 413 `payload_too_large`: the body is over [`crate::http::MAX_BODY_BYTES`].
    #[error("The request body is too large.")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: the body is not sent as `application/json`.
    #[error("The request body must be sent as application/json.")]
    UnsupportedMediaType,
    /// 503 `service_unavailable`: the database throttled, timed out or is unreachable. Retryable;
    /// the response carries `Retry-After`.
    #[error("The service is temporarily unavailable. Please retry shortly.")]
    Unavailable(#[source] BoxError),
    /// 500 `internal_error`: a bug or an unexpected state. The cause is logged only.
    #[error("An internal error occurred.")]
    Internal(#[source] BoxError),
}

impl ApiError {
    /// Wraps any error as a 500, keeping it as the logged cause.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson | Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials | Self::MissingToken | Self::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code clients match on (listed in the README).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::Validation(_) => "validation_failed",
            Self::InvalidCredentials => "invalid_credentials",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::EmailTaken => "email_taken",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Renders the error as the JSON envelope, with the headers its status calls for.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let details = match &self {
            Self::Validation(fields) => Some(fields),
            _ => None,
        };
        let envelope = Envelope {
            error: ErrorBody {
                code: self.code(),
                message: self.to_string(),
                details,
            },
        };
        let mut response = crate::http::json_response(status, &envelope);
        let headers = response.headers_mut();
        match &self {
            Self::MissingToken => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(BEARER));
            }
            Self::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(BEARER_INVALID_TOKEN),
                );
            }
            Self::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        response
    }
}

/// RFC 6750 §3: a bare challenge when no token was sent.
const BEARER: &str = "Bearer realm=\"accounts\"";
/// RFC 6750 §3.1: the challenge when a token was sent but is no good.
const BEARER_INVALID_TOKEN: &str = "Bearer realm=\"accounts\", error=\"invalid_token\", \
     error_description=\"The access token is invalid or has expired\"";

#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a FieldErrors>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rendered(error: ApiError) -> (StatusCode, lambda_http::http::HeaderMap, Value) {
        let response = error.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let body = serde_json::from_slice(response.body().as_ref()).expect("JSON body");
        (status, headers, body)
    }

    fn every_variant() -> Vec<ApiError> {
        vec![
            ApiError::MalformedJson,
            ApiError::Validation(FieldErrors::from([("email", "is required".to_owned())])),
            ApiError::InvalidCredentials,
            ApiError::MissingToken,
            ApiError::InvalidToken,
            ApiError::MethodNotAllowed { allow: "POST" },
            ApiError::EmailTaken,
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::Unavailable("throttled".into()),
            ApiError::Internal("boom".into()),
        ]
    }

    #[test]
    fn email_taken_renders_the_documented_envelope() {
        let (status, headers, body) = rendered(ApiError::EmailTaken);
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body,
            json!({"error": {"code": "email_taken",
                             "message": "An account with this email already exists."}})
        );
    }

    #[test]
    fn validation_errors_carry_field_details() {
        let fields = FieldErrors::from([
            ("email", "is required".to_owned()),
            ("password", "must be a string".to_owned()),
        ]);
        let (status, _, body) = rendered(ApiError::Validation(fields));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(
            body["error"]["details"],
            json!({"email": "is required", "password": "must be a string"})
        );
    }

    #[test]
    fn status_mapping_matches_the_documented_table() {
        let expected = [
            ("malformed_json", 400),
            ("validation_failed", 400),
            ("invalid_credentials", 401),
            ("missing_token", 401),
            ("invalid_token", 401),
            ("method_not_allowed", 405),
            ("email_taken", 409),
            ("payload_too_large", 413),
            ("unsupported_media_type", 415),
            ("service_unavailable", 503),
            ("internal_error", 500),
        ];
        let actual: Vec<_> = every_variant()
            .iter()
            .map(|e| (e.code(), e.status().as_u16()))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn codes_are_stable_lower_snake_case_and_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        for error in every_variant() {
            let code = error.code();
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code} is not lower_snake_case"
            );
            assert!(
                readme.contains(&format!("`{code}`")),
                "error code `{code}` is missing from README.md"
            );
        }
    }

    #[test]
    fn token_errors_challenge_with_www_authenticate() {
        let (_, headers, _) = rendered(ApiError::MissingToken);
        assert_eq!(headers[header::WWW_AUTHENTICATE], BEARER);
        let (_, headers, _) = rendered(ApiError::InvalidToken);
        let challenge = headers[header::WWW_AUTHENTICATE].to_str().expect("ascii");
        assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""));
    }

    #[test]
    fn server_errors_say_nothing_about_their_cause() {
        for error in [
            ApiError::Internal("secret table name exploded".into()),
            ApiError::Unavailable("secret table name throttled".into()),
        ] {
            let retry = matches!(error, ApiError::Unavailable(_));
            let (_, headers, body) = rendered(error);
            assert!(!body.to_string().contains("secret"), "{body}");
            assert_eq!(headers.contains_key(header::RETRY_AFTER), retry);
        }
    }

    #[test]
    fn method_not_allowed_names_the_allowed_method() {
        let (_, headers, _) = rendered(ApiError::MethodNotAllowed { allow: "GET" });
        assert_eq!(headers[header::ALLOW], "GET");
    }
}
