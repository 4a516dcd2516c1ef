//! `POST /email/verify`: (re)sends a verification link and code to the account's address. The
//! message is queued and sent by the mailer; an address already verified is sent nothing. The
//! answer is `202` either way.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::auth::authenticate;
use shared::mail::{MailJob, Mailing};
use shared::response::accepted;
use shared::runtime::{Event, EventResponse, respond};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &Mailing, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        verify_email(state, request)
    })
    .await
}

async fn verify_email(state: &Mailing, request: Request) -> Result<Response<Body>, ApiError> {
    let user = authenticate(state, &request).await?.user;
    if user.email_verified {
        tracing::info!(user_id = %user.id, "address already verified; nothing to send");
    } else {
        let job = MailJob::VerifyEmail {
            user_id: user.id,
            address: user.email.as_str().to_owned(),
        };
        state.outbox.send(&job).await?;
        tracing::info!(user_id = %user.id, "verification queued");
    }
    Ok(accepted())
}
