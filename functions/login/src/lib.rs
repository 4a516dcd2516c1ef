//! `POST /login`: exchanges email and password for a new session: an access token and a refresh
//! token (in the body, or in the `HttpOnly` cookie for a browser that asks for it with
//! `"refresh_token_delivery": "cookie"`).
//!
//! The check itself is `shared::credentials::verify_credentials`: unknown email and wrong
//! password are indistinguishable (the same 401 body, the same DynamoDB work, the same argon2
//! work), repeated failures for one email are throttled, known or not, and a hash made with
//! weaker argon2 parameters than the configured ones is replaced.

use std::convert::Infallible;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use shared::credentials::verify_credentials;
use shared::email::Email;
use shared::http::{client_info, source_address};
use shared::json_body::parse_json_body;
use shared::runtime::{Event, EventResponse, respond};
use shared::session::Session;
use shared::signin::{Delivery, signed_in};
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| login(state, request)).await
}

async fn login(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let (email, password, cookie) = parse_json_body(&request, |fields| {
        // No format rules here: an address that does not parse simply has no account, and
        // password rules apply to new passwords only.
        let email = fields.required("email", |raw| Ok::<_, Infallible>(raw.to_owned()));
        let password = fields.required("password", |raw| {
            Ok::<_, Infallible>(SecretString::from(raw))
        });
        let cookie = Delivery::wants_cookie(fields);
        Some((email?, password?, cookie?))
    })?;
    let delivery = Delivery::asked(state, &request, cookie)?;

    // An address that does not parse has no account, but is throttled like one.
    let email = Email::parse(&email).map_err(|_| email.trim().to_lowercase());
    let verified =
        verify_credentials(state, email, password, source_address(&request).as_deref()).await?;
    if state.mail.verification_required && !verified.stored.user.email_verified {
        // Only after the right password: the answer reveals nothing to someone without it.
        tracing::info!(user_id = %verified.stored.user.id, "sign-in refused: address not verified");
        return Err(ApiError::EmailNotVerified);
    }
    let stored = verified.upgrade_hash(state).await;
    let user = stored.user;
    let session = Session::start(
        &user,
        client_info(&request),
        state.refresh_tokens.settings(),
    );
    // Only if the password just verified is still the account's (a password change or a
    // deletion may have raced this sign-in).
    state
        .users
        .start_session(&session, &stored.password_hash)
        .await?;
    tracing::info!(user_id = %user.id, "signed in");
    signed_in(state, StatusCode::OK, &user, &session, &delivery)
}
