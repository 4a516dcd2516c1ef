//! The request lifecycle shared by every function: [`serve`] turns a handler's `Result` into a
//! response (and logs it), plus what a handler reads from the request API Gateway delivered:
//! where it came from, its path parameters, its `If-Match`. Responses are built by
//! [`crate::response`], bodies parsed by [`crate::json_body`].

use std::future::Future;
use std::time::Instant;

use lambda_http::http::{HeaderValue, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

use crate::error::ApiError;
use crate::response::etag;
use crate::session::ClientInfo;

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
        let response = handle(request).await.unwrap_or_else(error_response);
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

/// The response to `error`, logged as [`serve`] logs every error: for a handler that adds to an
/// error's answer (a refused refresh cookie is also cleared).
pub fn error_response(error: ApiError) -> Response<Body> {
    log_error(&error);
    error.into_response()
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
/// Where the request came from: the source IP as API Gateway saw it, and the user agent the
/// client claims (API Gateway's `userAgent` is the client's `User-Agent` header, verbatim).
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

/// The address the request came from, as API Gateway saw it (`requestContext.http.sourceIp`):
/// what the login throttle counts failures by.
pub fn source_address(request: &Request) -> Option<String> {
    client_info(request).ip_address
}

/// A path parameter of the route (`{id}` in `/sessions/{id}`), as API Gateway (or the local
/// emulator, which does the same) extracted it.
pub fn path_parameter(request: &Request, name: &str) -> Option<String> {
    request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(name).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_strong_tags_and_accepts_star_or_absence() {
        let with = |value: Option<&'static str>| {
            let mut request = lambda_http::http::Request::new(Body::Empty);
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
}
