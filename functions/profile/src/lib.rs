//! `GET /profile`: the signed-in user, with an `ETag` for `PATCH /profile`'s `If-Match`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::auth::authenticate;
use shared::response::json_response_with_etag;
use shared::runtime::{Event, EventResponse, respond};
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| profile(state, request)).await
}

async fn profile(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let authenticated = authenticate(state, &request).await?;
    let user = &authenticated.user;
    Ok(json_response_with_etag(StatusCode::OK, user, user.version))
}
