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
pub type FieldErrors = BTreeMap<String, String>;

/// Everything that can go wrong in a request. The doc comment of each variant names its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `bad_request`: the event could not be made into an HTTP request (an unusable path or
    /// an undecodable body); refused before any handler runs.
    #[error("The request could not be understood.")]
    BadRequest,
    /// 400 `malformed_json`: the body is not syntactically valid JSON, or has a key twice.
    #[error("The request body is not valid JSON.")]
    MalformedJson,
    /// 400 `validation_failed`: the JSON is well formed but fields are missing, of the wrong type
    /// or invalid; `details` says which.
    #[error("The request body has missing or invalid fields.")]
    Validation(FieldErrors),
    /// 400 `invalid_code`: the link's token or the emailed code is unknown, used, expired, dead
    /// after too many wrong tries, or wrong; one answer for all, whether or not the address has
    /// an account.
    #[error("The link or code is invalid or has expired.")]
    InvalidCode,
    /// 401 `invalid_credentials`: unknown email or wrong password; deliberately indistinguishable.
    #[error("The email or password is incorrect.")]
    InvalidCredentials,
    /// 401 `invalid_grant`: the refresh token is unknown, expired, malformed, of an ended session,
    /// or was already used (which ends its session); deliberately one answer for all.
    #[error("The refresh token is invalid or has expired.")]
    InvalidGrant,
    /// 401 `missing_token`: no `Authorization` header, or one with another scheme than `Bearer`,
    /// on a route that needs a token.
    #[error("This endpoint requires a bearer token.")]
    MissingToken,
    /// 401 `invalid_token`: the bearer token is malformed, expired, not yet valid, badly signed,
    /// for another issuer or audience, or its user no longer exists; or `Authorization` was sent
    /// more than once.
    #[error("The access token is invalid or has expired.")]
    InvalidToken,
    /// 403 `email_not_verified`: the password is right, but this deployment signs in only
    /// accounts whose address was verified (`EMAIL_VERIFICATION_REQUIRED`); confirm the code
    /// mailed at registration, or ask for another (`POST /email/verify` needs a session: use
    /// `POST /password/forgot`, whose reset also verifies the address).
    #[error("The email address of this account is not verified yet.")]
    EmailNotVerified,
    /// 403 `origin_not_allowed`: the refresh cookie was presented from a page whose origin is
    /// not trusted (`ALLOWED_ORIGINS`, `APP_BASE_URL`): refused, so that no other site can use a
    /// browser's session.
    #[error("Requests with the refresh cookie are accepted only from the web client's origins.")]
    OriginNotAllowed,
    /// 404 `session_not_found`: not one of the caller's live sessions (whoever's it is).
    #[error("No such session.")]
    SessionNotFound,
    /// 409 `email_taken`: an account with this email (in any letter case) already exists.
    #[error("An account with this email already exists.")]
    EmailTaken,
    /// 412 `precondition_failed`: `If-Match` names another version of the resource, or it
    /// changed while the request was being handled; nothing was written.
    #[error("The resource has changed; fetch it again and retry.")]
    PreconditionFailed,
    /// 413 `payload_too_large`: the body is over [`crate::json_body::MAX_BODY_BYTES`].
    #[error("The request body is too large.")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: the body is not sent as `application/json`, or with a
    /// `Content-Encoding` other than `identity`.
    #[error("The request body must be sent as application/json, without content encoding.")]
    UnsupportedMediaType,
    /// 429 `too_many_attempts`: too many failed sign-ins for this email; retry after
    /// `Retry-After` seconds. Answered alike whether or not the account exists.
    #[error("Too many failed attempts. Please wait before trying again.")]
    TooManyAttempts {
        /// Seconds until the next attempt is allowed (sent as `Retry-After`).
        retry_after: u64,
    },
    /// 503 `service_unavailable`: the database throttled, timed out or is unreachable. Retryable;
    /// the response carries `Retry-After`.
    #[error("The service is temporarily unavailable. Please retry shortly.")]
    Unavailable(#[source] BoxError),
    /// 500 `internal_error`: a bug or an unexpected state. The cause is logged only.
    #[error("An internal error occurred.")]
    Internal(#[source] BoxError),
}

impl From<crate::password::HashError> for ApiError {
    fn from(error: crate::password::HashError) -> Self {
        Self::internal(error)
    }
}

impl ApiError {
    /// Wraps any error as a 500, keeping it as the logged cause.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest | Self::MalformedJson | Self::Validation(_) | Self::InvalidCode => {
                StatusCode::BAD_REQUEST
            }
            Self::InvalidCredentials
            | Self::InvalidGrant
            | Self::MissingToken
            | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::EmailNotVerified | Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::SessionNotFound => StatusCode::NOT_FOUND,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code clients match on (listed in docs/api.md).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::MalformedJson => "malformed_json",
            Self::Validation(_) => "validation_failed",
            Self::InvalidCode => "invalid_code",
            Self::EmailNotVerified => "email_not_verified",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidGrant => "invalid_grant",
            Self::SessionNotFound => "session_not_found",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::EmailTaken => "email_taken",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyAttempts { .. } => "too_many_attempts",
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
        let mut response = crate::response::json_response(status, &envelope);
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
            Self::TooManyAttempts { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
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

    /// One value of every variant. A variant left out here fails
    /// `every_variant_is_sampled_documented_and_mapped` below, which reads the enum's source.
    fn every_variant() -> Vec<ApiError> {
        vec![
            ApiError::BadRequest,
            ApiError::MalformedJson,
            ApiError::Validation(FieldErrors::from([("email".into(), "is required".into())])),
            ApiError::InvalidCode,
            ApiError::InvalidCredentials,
            ApiError::InvalidGrant,
            ApiError::MissingToken,
            ApiError::InvalidToken,
            ApiError::EmailNotVerified,
            ApiError::OriginNotAllowed,
            ApiError::SessionNotFound,
            ApiError::EmailTaken,
            ApiError::PreconditionFailed,
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::TooManyAttempts { retry_after: 4 },
            ApiError::Unavailable("throttled".into()),
            ApiError::Internal("boom".into()),
        ]
    }

    /// `(variant name, status, code)` for each variant of the enum as written in this file: the
    /// first doc line of each variant reads "NNN `code`: ...".
    fn declared_variants() -> Vec<(String, u16, String)> {
        let source = include_str!("error.rs");
        let body = source
            .split_once("pub enum ApiError {")
            .and_then(|(_, rest)| rest.split_once("\n}\n"))
            .map(|(body, _)| body)
            .expect("the enum is in this file");
        let mut declared = Vec::new();
        let mut doc: Option<&str> = None;
        for line in body.lines().map(str::trim) {
            if let Some(text) = line.strip_prefix("/// ") {
                doc.get_or_insert(text);
            } else if line.starts_with(|c: char| c.is_ascii_uppercase()) {
                let name: String = line
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                let text = doc.take().expect("every variant has a doc comment");
                let (status, rest) = text.split_once(' ').expect("/// NNN `code`: ...");
                let code = rest.split('`').nth(1).expect("a `code`");
                declared.push((name, status.parse().expect("a status"), code.to_owned()));
            } else if line.starts_with(|c: char| c.is_ascii_lowercase()) {
                doc = None; // a field of a struct variant, with its own doc comment
            }
        }
        declared
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
            ("email".into(), "is required".into()),
            ("password".into(), "must be a string".into()),
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
    fn every_variant_is_sampled_documented_and_mapped() {
        let sampled: Vec<_> = every_variant()
            .iter()
            .map(|error| {
                let debug = format!("{error:?}");
                let name: String = debug
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                (name, error.status().as_u16(), error.code().to_owned())
            })
            .collect();
        let declared = declared_variants();
        assert!(declared.len() >= 13, "parsed {declared:?}");
        assert_eq!(
            sampled, declared,
            "samples vs the enum's variants and doc comments"
        );
    }

    #[test]
    fn the_api_doc_error_table_lists_exactly_these_codes_and_statuses() {
        let readme = include_str!("../../docs/api.md");
        let mut documented: Vec<(u16, String)> = readme
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let status = cells.get(1)?.parse::<u16>().ok()?;
                let code = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((status, code.to_owned()))
            })
            .collect();
        let mut actual: Vec<(u16, String)> = every_variant()
            .iter()
            .map(|e| (e.status().as_u16(), e.code().to_owned()))
            .collect();
        documented.sort();
        actual.sort();
        assert_eq!(documented, actual);
    }

    #[test]
    fn codes_are_stable_lower_snake_case_and_documented_in_docs_api_md() {
        let readme = include_str!("../../docs/api.md");
        for error in every_variant() {
            let code = error.code();
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code} is not lower_snake_case"
            );
            assert!(
                readme.contains(&format!("`{code}`")),
                "error code `{code}` is missing from docs/api.md"
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
    fn too_many_attempts_says_when_to_retry() {
        let (status, headers, body) = rendered(ApiError::TooManyAttempts { retry_after: 8 });
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "8");
        assert_eq!(body["error"]["code"], "too_many_attempts");
    }
}
