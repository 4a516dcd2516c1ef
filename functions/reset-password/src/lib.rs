//! `POST /password/reset`: `{"token", "new_password"}` or `{"email", "code", "new_password"}`
//! sets a new password with a mailed reset code. One transaction replaces the hash, ends every
//! session of the account (all its refresh and access tokens die), marks the address verified
//! and kills every other code of the account; a "your password was changed" notice is queued.
//! It signs nobody in. A password the register policy refuses is `400 validation_failed` and
//! leaves the code unused; any failure of the code is `400 invalid_code`.

use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use shared::ApiError;
use shared::browser::clear_cookie;
use shared::codes::Purpose;
use shared::error::FieldErrors;
use shared::json_body::parse_json_body;
use shared::mail::{MailJob, Mailing, Notice};
use shared::recovery::{Presented, current, unlock};
use shared::response::no_content;
use shared::runtime::{Event, EventResponse, respond};
use shared::store::APPLY_ATTEMPTS;

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &Mailing, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        reset_password(state, request)
    })
    .await
}

async fn reset_password(state: &Mailing, request: Request) -> Result<Response<Body>, ApiError> {
    let (presented, new_password) = parse_json_body(&request, |fields| {
        let new_password = fields.required("new_password", |raw| {
            // The rules that need no account first; the one that does (not the address) below.
            state
                .password_policy
                .parse(raw, None)
                .map(|_| SecretString::from(raw))
        });
        let presented = Presented::from_fields(fields);
        Some((presented?, new_password?))
    })?;
    let unlocked = unlock(state, &presented, &[Purpose::Reset]).await?;
    let (record, proof) = (unlocked.record, unlocked.proof);
    let mut user = unlocked.user;
    let password = state
        .password_policy
        .parse(new_password.expose_secret(), Some(&user.email))
        .map_err(|problem| {
            ApiError::Validation(FieldErrors::from([(
                "new_password".to_owned(),
                problem.to_string(),
            )]))
        })?;
    let hash = state.passwords.hash(password).await?;
    for attempt in 1..=APPLY_ATTEMPTS {
        match state
            .users
            .reset_password(&user, &record, &proof, &hash)
            .await
        {
            Ok(updated) => {
                tracing::info!(user_id = %updated.id, "password reset; every session is over");
                let notice = MailJob::Notice {
                    address: updated.email.as_str().to_owned(),
                    notice: Notice::PasswordChanged,
                };
                if let Err(error) = state.outbox.send(&notice).await {
                    // The reset holds; only its notice is lost. Never report it as failed.
                    tracing::error!(code = error.code(), error = %error, "password reset; its notice could not be queued");
                }
                // Every session is over, this browser's too, if it had one.
                return Ok(clear_cookie(&request, no_content()));
            }
            Err(ApiError::PreconditionFailed) if attempt < APPLY_ATTEMPTS => {
                user = current(state, &user.id, &record).await?;
            }
            Err(error) => return Err(error),
        }
    }
    Err(ApiError::PreconditionFailed)
}
