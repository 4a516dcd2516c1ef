//! `POST /login`: exchanges email and password for an access token.
//!
//! Unknown email and wrong password are indistinguishable: the same 401 body, and the same
//! argon2 work (an unknown email is verified against a dummy hash).

use std::convert::Infallible;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use secrecy::SecretString;
use shared::email::Email;
use shared::http::{json_response, parse_json_body, serve};
use shared::password;
use shared::token::TokenResponse;
use shared::{ApiError, AppState};

/// The Lambda handler: never returns `Err` for anything a client can send.
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    serve(request, "POST", |request| login(state, request)).await
}

async fn login(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let (email, password) = parse_json_body(&request, |fields| {
        // No format rules here: an address that does not parse simply has no account, and
        // password rules apply to new passwords only.
        let email = fields.required("email", |raw| Ok::<_, Infallible>(raw.to_owned()));
        let password = fields.required("password", |raw| {
            Ok::<_, Infallible>(SecretString::from(raw))
        });
        Some((email?, password?))
    })?;

    let stored = match Email::parse(&email) {
        Ok(email) => state.users.find_by_email(&email).await?,
        Err(_) => None,
    };
    let (user, hash) = match stored {
        Some(stored) => (Some(stored.user), Some(stored.password_hash)),
        None => (None, None),
    };
    // Always one argon2 verification, whether or not the account exists.
    let verified = password::verify(password, hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        return Err(ApiError::InvalidCredentials);
    };
    tracing::info!(user_id = %user.id, "signed in");

    let token = state.tokens.issue(&user.id)?;
    Ok(json_response(
        StatusCode::OK,
        &TokenResponse::new(&token, &user),
    ))
}
