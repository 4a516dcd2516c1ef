//! `POST /password/forgot`: queues a password reset for an address. The answer is `202 {}` for
//! every well-formed address, after the same work (one SQS message, no DynamoDB call) whether or
//! not an account has it: the mailer looks the account up, and sends nothing to an address that
//! has none.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::email::Email;
use shared::json_body::parse_json_body;
use shared::mail::{MailJob, Mailing};
use shared::response::accepted;
use shared::runtime::{Event, EventResponse, respond};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &Mailing, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        forgot_password(state, request)
    })
    .await
}

async fn forgot_password(state: &Mailing, request: Request) -> Result<Response<Body>, ApiError> {
    let email = parse_json_body(&request, |fields| fields.required("email", Email::parse))?;
    let job = MailJob::ResetPassword {
        address: email.as_str().to_owned(),
    };
    state.outbox.send(&job).await?;
    tracing::info!("password reset queued");
    Ok(accepted())
}
