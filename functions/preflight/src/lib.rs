//! `OPTIONS` on every path: the answer to a browser's CORS preflight. An allowed origin
//! (`ALLOWED_ORIGINS`) is granted this API's methods and headers, with credentials, for two
//! hours; any other origin is granted nothing, so its browser never sends the request. The policy
//! is `shared::browser`'s, the same one that grants every other response.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::browser::Browser;
use shared::runtime::{Event, EventResponse, respond};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(browser: &Browser, event: Event) -> EventResponse {
    respond(browser, event, |request| preflight(browser, request)).await
}

async fn preflight(browser: &Browser, request: Request) -> Result<Response<Body>, ApiError> {
    Ok(browser.preflight(&request))
}
