//! `POST /register`: creates an account and queues a verification link and code to its address.
//!
//! By default it also signs the account in (`201`, its first session). With
//! `EMAIL_VERIFICATION_REQUIRED=true` it starts no session and answers `202 {}` alike for a new
//! and a taken address, after the same work (the argon2 hash, the one transaction, one queued
//! message): the new account is sent its verification, the owner of a taken address a notice
//! that someone tried to sign up with it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::email::Email;
use shared::http::client_info;
use shared::json_body::parse_json_body;
use shared::mail::{MailJob, Mailing, Notice};
use shared::password::Password;
use shared::response::accepted;
use shared::runtime::{Event, EventResponse, respond};
use shared::session::Session;
use shared::signin::{Delivery, signed_in};
use shared::user::{DisplayName, User};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &Mailing, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| register(state, request)).await
}

#[derive(Debug)]
struct Registration {
    email: Email,
    password: Password,
    name: Option<DisplayName>,
    cookie: bool,
}

async fn register(state: &Mailing, request: Request) -> Result<Response<Body>, ApiError> {
    let input = parse_json_body(&request, |fields| {
        let email = fields.required("email", Email::parse);
        let password = fields.required("password", |raw| {
            state.password_policy.parse(raw, email.as_ref())
        });
        // Absent and `null` both mean no name.
        let name = fields
            .nullable("name", DisplayName::parse)
            .map(Option::flatten);
        let cookie = Delivery::wants_cookie(fields);
        Some(Registration {
            email: email?,
            password: password?,
            name: name?,
            cookie: cookie?,
        })
    })?;
    let delivery = Delivery::asked(state, &request, input.cookie)?;

    let hash = state.passwords.hash(input.password).await?;
    let user = User::new(input.email, input.name);
    let verification = MailJob::VerifyEmail {
        user_id: user.id,
        address: user.email.as_str().to_owned(),
    };
    if state.mail.verification_required {
        // No session until the address is proven; one answer for a new and a taken address.
        let job = match state.users.create(&user, &hash, None).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, "account created; awaiting verification");
                verification
            }
            Err(ApiError::EmailTaken) => {
                tracing::info!("registration for a taken address; its owner is told");
                MailJob::Notice {
                    address: user.email.as_str().to_owned(),
                    notice: Notice::SignUpAttempt,
                }
            }
            Err(error) => return Err(error),
        };
        queue(state, &job).await;
        return Ok(accepted());
    }
    let session = Session::start(
        &user,
        client_info(&request),
        state.refresh_tokens.settings(),
    );
    // The user, the email claim and the first session: one transaction.
    state.users.create(&user, &hash, Some(&session)).await?;
    tracing::info!(user_id = %user.id, "account created");
    queue(state, &verification).await;
    signed_in(state, StatusCode::CREATED, &user, &session, &delivery)
}

/// Queues `job` after the account is written: a failure is logged, never answered (the
/// account exists; `POST /email/verify` or `POST /password/forgot` sends another message).
async fn queue(state: &Mailing, job: &MailJob) {
    if let Err(error) = state.outbox.send(job).await {
        tracing::error!(code = error.code(), error = %error, "account written; its mail could not be queued");
    }
}
