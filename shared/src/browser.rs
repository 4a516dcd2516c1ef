//! What a browser needs from the API, in one place: CORS for the configured origins only
//! ([`Browser::grant`], [`Browser::preflight`]), and the refresh token in an `HttpOnly` cookie
//! that no page script can read ([`RefreshCookie`]), accepted only from trusted origins
//! ([`Browser::check_origin`]).
//!
//! The cookie is opt-in at sign-in (`"refresh_token_delivery": "cookie"` on `POST /login` and
//! `POST /register`) and then follows the token: a refresh that reads it answers with the next
//! one in it. Its attributes:
//! - `HttpOnly`: scripts never see it (an injected script can use the session while the page is
//!   open, but cannot carry the refresh token away).
//! - `SameSite=Strict`: the browser sends it only on requests from the API's own site, never on
//!   a request started by another site; the web client reaches it by `fetch`, never by a
//!   navigation, so `Lax` would buy nothing.
//! - `Secure` (and the name prefix `__Host-` or `__Secure-`) whenever the page's origin is https;
//!   only a loopback development origin is http.
//! - `Path`: the API's base path (`/`, or `/<stage>` behind a named stage): the narrowest path
//!   that holds both routes that read it, `POST /refresh` and `POST /logout`. `__Host-` needs
//!   `Path=/`, so it is the prefix at the root and `__Secure-` under a stage.
//!
//! A request the cookie authenticates is refused with `403 origin_not_allowed` unless its
//! `Origin` is trusted (an allowed origin or `APP_BASE_URL`'s) and its body is JSON: a content
//! type no cross-origin page can send without a preflight that this API grants only to allowed
//! origins.

use lambda_http::http::header::{self, HeaderValue};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use secrecy::SecretString;

use crate::config::BrowserSettings;
use crate::error::ApiError;

/// The response headers a cross-origin page may read besides the safelisted ones.
pub const EXPOSED_HEADERS: &str = "ETag, Retry-After, WWW-Authenticate";
/// The request headers a cross-origin page may send besides the safelisted ones.
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type, If-Match";
/// The methods of this API's routes.
pub const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// How long a browser may reuse a preflight's answer: two hours, Chromium's ceiling (Firefox
/// allows a day; a longer value buys nothing).
pub const PREFLIGHT_MAX_AGE_SECONDS: u64 = 7200;
/// The cookie's name without its prefix.
pub const COOKIE_NAME: &str = "refresh_token";

/// The browser policy of a function instance, built once per cold start.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    settings: BrowserSettings,
}

impl Browser {
    /// The policy of `settings` ([`crate::config::ALLOWED_ORIGINS`], `APP_BASE_URL`'s origin).
    pub fn new(settings: BrowserSettings) -> Self {
        Self { settings }
    }

    /// Whether `origin` is granted CORS.
    fn allowed(&self, origin: &str) -> bool {
        self.settings.allowed_origins.iter().any(|o| o == origin)
    }

    /// Whether a request from `origin` may use the refresh cookie: an allowed origin, or the web
    /// client's own (when it shares the API's origin, it needs no CORS).
    fn trusted(&self, origin: &str) -> bool {
        self.allowed(origin) || self.settings.app_origin == origin
    }

    /// Adds the CORS grant to `response` when `origin` (the request's `Origin`) is allowed; with
    /// origins configured, marks every response as varying by `Origin`, so that no cache serves
    /// one origin's grant to another.
    pub fn grant(&self, origin: Option<&HeaderValue>, response: &mut Response<Body>) {
        if self.settings.allowed_origins.is_empty() {
            return;
        }
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = origin.filter(|o| o.to_str().is_ok_and(|o| self.allowed(o))) else {
            return;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }

    /// The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`): `204`,
    /// granting this API's methods and headers for two hours to an allowed origin, and nothing to
    /// any other (the browser then refuses the actual request). [`crate::runtime::respond`] adds
    /// the grant itself, as to every response.
    pub fn preflight(&self, request: &Request) -> Response<Body> {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        let asks = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|value| value.to_str().ok())
            .and_then(|method| Method::from_bytes(method.as_bytes()).ok());
        let granted = origin(request).is_some_and(|origin| self.allowed(origin));
        if granted
            && asks.is_some_and(|method| {
                ALLOWED_METHODS
                    .split(", ")
                    .any(|allowed| allowed == method.as_str())
            })
        {
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(PREFLIGHT_MAX_AGE_SECONDS),
            );
        }
        response
    }

    /// The refresh cookie a request presents, with the cookie it is read under, for the routes
    /// that accept it (`POST /refresh`, `POST /logout`) once the body held no token: `None`
    /// without one; `403 origin_not_allowed` when a refresh cookie (under any of its names)
    /// comes from an untrusted origin. Only the name this request's origin sets is read: an
    /// unprefixed cookie planted by a sibling host never stands in for a `__Host-` one.
    pub fn cookie_credential(
        &self,
        request: &Request,
    ) -> Result<Option<(RefreshCookie, SecretString)>, ApiError> {
        if !carries_refresh_cookie(request) {
            return Ok(None);
        }
        self.check_origin(request)?;
        let cookie = RefreshCookie::for_request(request).ok_or(ApiError::OriginNotAllowed)?;
        Ok(cookie.read(request).map(|token| (cookie, token)))
    }

    /// Checks a request that the refresh cookie authenticates: its `Origin` must be trusted
    /// (`403 origin_not_allowed` otherwise). The handler also parses its body as JSON, which a
    /// cross-origin page cannot send without a preflight.
    pub fn check_origin(&self, request: &Request) -> Result<(), ApiError> {
        match origin(request) {
            Some(origin) if self.trusted(origin) => Ok(()),
            _ => {
                tracing::info!("refresh cookie refused: the request's origin is not trusted");
                Err(ApiError::OriginNotAllowed)
            }
        }
    }
}

/// Every name the refresh cookie can have.
const COOKIE_NAMES: [&str; 3] = [
    "__Host-refresh_token",
    "__Secure-refresh_token",
    COOKIE_NAME,
];

/// The request's cookies, as `(name, value)`.
fn cookies(request: &Request) -> impl Iterator<Item = (&str, &str)> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// Whether the request carries a refresh cookie under any of its names.
fn carries_refresh_cookie(request: &Request) -> bool {
    cookies(request).any(|(name, _)| COOKIE_NAMES.contains(&name))
}

/// The request's `Origin`, if it sent exactly one readable one.
fn origin(request: &Request) -> Option<&str> {
    let mut values = request.headers().get_all(header::ORIGIN).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

/// The refresh cookie as it is named and scoped for one request: by its origin's scheme and the
/// API's stage. Only browsers send `Origin` with a `POST`, and only browsers keep cookies, so a
/// request without `Origin` has no cookie to set, read or clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshCookie {
    name: &'static str,
    secure: bool,
    path: String,
}

impl RefreshCookie {
    /// The cookie for `request`, or `None` when it carries no `Origin` (not a browser).
    pub fn for_request(request: &Request) -> Option<Self> {
        let secure = origin(request)?.starts_with("https://");
        let path = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context
                .stage
                .as_deref()
                .filter(|stage| !stage.is_empty() && *stage != "$default")
                .map(|stage| format!("/{stage}")),
            #[allow(unreachable_patterns)] // other event sources exist only with other features
            _ => None,
        }
        .unwrap_or_else(|| "/".to_owned());
        let name = match (secure, path.as_str()) {
            (true, "/") => "__Host-refresh_token",
            (true, _) => "__Secure-refresh_token",
            (false, _) => COOKIE_NAME,
        };
        Some(Self { name, secure, path })
    }

    /// The cookie's name: `__Host-refresh_token`, `__Secure-refresh_token` or `refresh_token`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The refresh token the request's `Cookie` header holds under this name, if any.
    pub fn read(&self, request: &Request) -> Option<SecretString> {
        cookies(request)
            .find(|(name, _)| *name == self.name)
            .map(|(_, value)| SecretString::from(value.trim_matches('"').to_owned()))
    }

    /// `Set-Cookie` holding `token` for `max_age_seconds` (the session's remaining lifetime).
    pub fn set(&self, token: &str, max_age_seconds: u64) -> Option<HeaderValue> {
        HeaderValue::from_str(&self.attributes(token, max_age_seconds)).ok()
    }

    /// `Set-Cookie` that deletes it.
    pub fn clear(&self) -> HeaderValue {
        HeaderValue::from_str(&self.attributes("", 0))
            .unwrap_or_else(|_| HeaderValue::from_static("refresh_token=; Max-Age=0; Path=/"))
    }

    fn attributes(&self, value: &str, max_age_seconds: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={value}; Max-Age={max_age_seconds}; Path={}; HttpOnly; SameSite=Strict{secure}",
            self.name, self.path
        )
    }
}

/// Ends the browser's copy of a session that has just ended: adds the `Set-Cookie` that clears
/// the refresh cookie to `response` when `request` came from a browser. Every route that ends
/// the caller's own session calls it (sign-out, deleting the account, ending the current
/// session, a password reset).
pub fn clear_cookie(request: &Request, mut response: Response<Body>) -> Response<Body> {
    if let Some(cookie) = RefreshCookie::for_request(request) {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clear());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn browser() -> Browser {
        Browser::new(BrowserSettings {
            allowed_origins: vec!["http://localhost:9002".into()],
            app_origin: "https://app.example.com".into(),
        })
    }

    fn request(origin: Option<&str>, cookie: Option<&str>) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/refresh");
        if let Some(origin) = origin {
            builder = builder.header(header::ORIGIN, origin);
        }
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder.body(Body::Empty).expect("request")
    }

    #[test]
    fn only_allowed_origins_are_granted_and_every_answer_varies_by_origin() {
        for (origin, granted) in [
            (Some("http://localhost:9002"), true),
            (Some("http://localhost:9003"), false),
            (Some("https://app.example.com"), false), // trusted for the cookie, not for CORS
            (None, false),
        ] {
            let mut response = Response::new(Body::Empty);
            let value = origin.map(HeaderValue::from_static);
            browser().grant(value.as_ref(), &mut response);
            let headers = response.headers();
            assert_eq!(headers[header::VARY], "Origin");
            assert_eq!(
                headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_some(),
                granted,
                "{origin:?}"
            );
            if granted {
                assert_eq!(
                    headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                    origin.unwrap()
                );
                assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
                assert_eq!(
                    headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
                    EXPOSED_HEADERS
                );
            }
        }
        let mut response = Response::new(Body::Empty);
        Browser::default().grant(Some(&HeaderValue::from_static("http://x")), &mut response);
        assert!(
            response.headers().is_empty(),
            "no origins configured: no CORS at all"
        );
    }

    #[test]
    fn cookies_are_read_by_name_and_only_trusted_origins_may_use_them() {
        let cookie = RefreshCookie::for_request(&request(
            Some("http://localhost:9002"),
            Some("other=1; refresh_token=abc.def; x=y"),
        ))
        .expect("a browser's request");
        assert_eq!(cookie.name(), "refresh_token");
        let read = cookie.read(&request(None, Some("other=1; refresh_token=abc.def")));
        assert_eq!(
            read.map(|t| t.expose_secret().to_owned()).as_deref(),
            Some("abc.def")
        );
        assert!(
            cookie
                .read(&request(None, Some("refresh_tokenx=1")))
                .is_none()
        );
        assert!(RefreshCookie::for_request(&request(None, Some("refresh_token=a"))).is_none());

        let check = |origin| browser().check_origin(&request(origin, None));
        assert!(check(Some("http://localhost:9002")).is_ok());
        assert!(check(Some("https://app.example.com")).is_ok());
        assert!(matches!(
            check(Some("https://evil.example")),
            Err(ApiError::OriginNotAllowed)
        ));
        assert!(matches!(check(None), Err(ApiError::OriginNotAllowed)));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_with_a_host_prefix_on_https() {
        let https = RefreshCookie::for_request(&request(Some("https://app.example.com"), None))
            .expect("cookie");
        assert_eq!(
            https.set("t", 60).expect("header"),
            "__Host-refresh_token=t; Max-Age=60; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            https.clear(),
            "__Host-refresh_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        let http = RefreshCookie::for_request(&request(Some("http://localhost:9002"), None))
            .expect("cookie");
        assert_eq!(
            http.set("t", 60).expect("header"),
            "refresh_token=t; Max-Age=60; Path=/; HttpOnly; SameSite=Strict"
        );
    }
}
