//! `DELETE /profile`: deletes the account after checking the current password: the user and its
//! email claim together (a refused deletion ends nothing), then its sessions. The address can be
//! registered again at once.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use shared::auth::authenticate;
use shared::browser::clear_cookie;
use shared::credentials::verify_credentials;
use shared::http::source_address;
use shared::json_body::parse_json_body;
use shared::response::no_content;
use shared::runtime::{Event, EventResponse, respond};
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        delete_account(state, request)
    })
    .await
}

async fn delete_account(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let authenticated = authenticate(state, &request).await?;
    let password = parse_json_body(&request, |fields| {
        fields.required("current_password", |raw| {
            Ok::<_, Infallible>(SecretString::from(raw))
        })
    })?;
    let email = authenticated.user.email.clone();
    let stored = verify_credentials(
        state,
        Ok(email),
        password,
        source_address(&request).as_deref(),
    )
    .await?
    .stored;
    state.users.delete_account(&stored.user).await?;
    tracing::info!(user_id = %stored.user.id, "account deleted");
    Ok(clear_cookie(&request, no_content()))
}
