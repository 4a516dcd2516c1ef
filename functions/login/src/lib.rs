//! `POST /login`: exchanges email and password for a new session: an access token and a refresh
//! token.
//!
//! Unknown email and wrong password are indistinguishable: the same 401 body, the same DynamoDB
//! work (see `UserStore::find_by_email`) and the same argon2 work (an unknown email is verified
//! against a dummy hash). Repeated failures for one email are throttled (`LoginThrottle`), known
//! or not.

use std::convert::Infallible;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use shared::auth::signed_in;
use shared::email::Email;
use shared::http::{client_info, parse_json_body};
use shared::password;
use shared::runtime::{Event, EventResponse, respond};
use shared::session::Session;
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(event, Method::POST, |request| login(state, request)).await
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

    let email = Email::parse(&email).map_err(|_| email.trim().to_lowercase());
    // Throttled by the normalised email (or, when it does not parse, by what was typed), known
    // or not; the throttle and the account lookup run side by side, and both come before any
    // argon2 work.
    let subject = match &email {
        Ok(email) => email.as_str(),
        Err(typed) => typed.as_str(),
    };
    let lookup = async {
        match &email {
            Ok(email) => state.users.find_by_email(email).await,
            Err(_) => Ok(None),
        }
    };
    let (admission, stored) = tokio::join!(state.login_throttle.admit(subject), lookup);
    let admission = admission?;
    let (user, hash) = match stored? {
        Some(stored) => (Some(stored.user), Some(stored.password_hash)),
        None => (None, None),
    };
    // Always one argon2 verification, whether or not the account exists.
    let verified = password::verify(password, hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        return Err(ApiError::InvalidCredentials);
    };
    let session = Session::start(
        user.id,
        client_info(&request),
        state.refresh_tokens.settings(),
    );
    state.users.start_session(&session).await?;
    state.login_throttle.succeeded(admission).await;
    tracing::info!(user_id = %user.id, "signed in");
    signed_in(state, StatusCode::OK, &user, &session)
}
