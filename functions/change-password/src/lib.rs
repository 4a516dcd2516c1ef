//! `PUT /password`: replaces the password, checked and hashed as sign-in and registration do it,
//! and ends every other session of the user at once (the calling one continues). A "your password
//! was changed" notice is queued to the account's address, as after a reset.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use shared::ApiError;
use shared::auth::authenticate;
use shared::credentials::verify_credentials;
use shared::http::source_address;
use shared::json_body::parse_json_body;
use shared::mail::{MailJob, Mailing, Notice};
use shared::response::no_content;
use shared::runtime::{Event, EventResponse, respond};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &Mailing, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        change_password(state, request)
    })
    .await
}

async fn change_password(state: &Mailing, request: Request) -> Result<Response<Body>, ApiError> {
    let authenticated = authenticate(state, &request).await?;
    let user = &authenticated.user;
    let (current, new) = parse_json_body(&request, |fields| {
        let current = fields.required("current_password", |raw| {
            Ok::<_, Infallible>(SecretString::from(raw))
        });
        let new = fields.required("new_password", |raw| {
            state.password_policy.parse(raw, Some(&user.email))
        });
        Some((current?, new?))
    })?;
    let stored = verify_credentials(
        state,
        Ok(user.email.clone()),
        current,
        source_address(&request).as_deref(),
    )
    .await?
    .stored;
    let hash = state.passwords.hash(new).await?;
    state
        .users
        .change_password(&stored.user, &hash, &authenticated.session)
        .await?;
    tracing::info!(user_id = %user.id, "password changed; every other session is over");
    let notice = MailJob::Notice {
        address: user.email.as_str().to_owned(),
        notice: Notice::PasswordChanged,
    };
    if let Err(error) = state.outbox.send(&notice).await {
        // The change holds; only its notice is lost. Never report it as failed.
        tracing::error!(code = error.code(), error = %error, "password changed; its notice could not be queued");
    }
    Ok(no_content())
}
