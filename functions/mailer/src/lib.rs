//! The mailer: the SQS consumer that turns queued [`MailJob`]s into mail, sent through Amazon SES
//! v2. No HTTP request calls it; Lambda's event source mapping hands it batches of up to 10
//! messages and retries what it reports failed (partial batch responses), moving a message that
//! keeps failing to the dead-letter queue.
//!
//! For each message it checks that the mail is still due (the account still has that address,
//! that pending change, that address is unverified...), applies the per-address send limit,
//! issues the code (replacing, and so killing, the previous code of the same purpose: a
//! duplicate delivery never leaves two live codes) and sends. A message SES refuses for good (a
//! rejected address) is logged and dropped; throttling, timeouts and 5xx are retried. A message
//! that cannot be read fails alone.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use lambda_runtime::LambdaEvent;
use secrecy::ExposeSecret as _;
use shared::AppState;
use shared::clock::now_seconds;
use shared::codes::{Issued, Purpose};
use shared::email::Email;
use shared::error::ApiError;
use shared::mail::{MailJob, Notice};
use shared::state::{FunctionState, StartupError};
use shared::store::MailLimits;

/// What the mailer builds once per cold start: the shared state and the SES client.
#[derive(Debug)]
pub struct Mailer {
    app: AppState,
    ses: aws_sdk_sesv2::Client,
}

impl Mailer {
    /// A mailer over `app`, sending through `ses`.
    pub fn new(app: AppState, ses: aws_sdk_sesv2::Client) -> Self {
        Self { app, ses }
    }
}

impl FunctionState for Mailer {
    async fn from_env() -> Result<Self, StartupError> {
        let (app, sdk) = AppState::from_env_with_sdk().await?;
        Ok(Self::new(app, aws_sdk_sesv2::Client::new(&sdk)))
    }
}

/// The Lambda handler: one batch in, the ids of the messages to retry out. It never fails the
/// invocation as a whole: one bad message must not send its batch back.
pub async fn handler(
    state: &Mailer,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    Ok(
        shared::runtime::invocation(env!("CARGO_PKG_NAME"), handle_batch(state, event.payload))
            .await,
    )
}

async fn handle_batch(state: &Mailer, batch: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in batch.records {
        let id = message.message_id.clone().unwrap_or_default();
        match handle(state, &message).await {
            Ok(outcome) => tracing::info!(message_id = %id, outcome, "message handled"),
            Err(Retry(reason)) => {
                tracing::warn!(message_id = %id, reason = %reason, "message failed; it will be retried");
                response.add_failure(id);
            }
        }
    }
    tracing::info!(
        failed = response.batch_item_failures.len(),
        "invocation completed"
    );
    response
}

/// Why a message goes back to the queue.
#[derive(Debug)]
struct Retry(String);

impl From<ApiError> for Retry {
    fn from(error: ApiError) -> Self {
        let mut reason = format!("{}: {error}", error.code());
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            reason.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        Self(reason)
    }
}

/// Handles one message: `Ok` with what was done (sent, or why nothing was due), or [`Retry`].
async fn handle(state: &Mailer, message: &SqsMessage) -> Result<&'static str, Retry> {
    let job: MailJob = message
        .body
        .as_deref()
        .and_then(|body| serde_json::from_str(body).ok())
        .ok_or_else(|| Retry("the message is not a mail job".to_owned()))?;
    let app = &state.app;
    let address = Email::from_stored(job.address().to_owned());
    let issued = match &job {
        MailJob::VerifyEmail { user_id, .. } => {
            let user = app.users.get_user(user_id).await?;
            let Some(user) = user.filter(|u| u.email == address && !u.email_verified) else {
                return Ok("not due: the account is gone, moved or already verified");
            };
            Some((user.id, Purpose::Verify))
        }
        MailJob::ConfirmEmailChange { user_id, .. } => {
            let user = app.users.get_user(user_id).await?;
            let Some(user) = user.filter(|u| u.pending_email.as_ref() == Some(&address)) else {
                return Ok("not due: the change was confirmed, replaced or dropped");
            };
            Some((user.id, Purpose::ChangeEmail))
        }
        MailJob::ResetPassword { .. } => {
            let Some(stored) = app.users.find_by_email(&address).await? else {
                return Ok("not due: no account has the address");
            };
            Some((stored.user.id, Purpose::Reset))
        }
        MailJob::Notice { .. } => None,
    };
    let limits = MailLimits {
        min_interval_seconds: app.mail.min_interval.as_secs(),
        hourly_limit: app.mail.hourly_limit,
    };
    let kind = job.kind();
    let Some(stamp) = app.users.admit_mail(address.as_str(), kind, limits).await? else {
        return Ok("not sent: over the address's send limit");
    };
    let issued = match issued {
        Some((user_id, purpose)) => {
            let issued = app
                .codes
                .issue(user_id, purpose, address.clone(), now_seconds());
            if !app.users.save_code(&issued.record).await? {
                // Deleted since it was read: nothing stored, nothing to send.
                app.users.release_mail(address.as_str(), kind, stamp).await;
                return Ok("not due: the account was deleted meanwhile");
            }
            Some(issued)
        }
        None => None,
    };
    let (subject, body) = compose(app, &job, issued.as_ref());
    match send(state, &address, subject, body).await {
        Ok(()) => Ok("sent"),
        Err(Failure::Permanent(reason)) => {
            tracing::error!(reason = %reason, "SES refused the message for good; dropped");
            Ok("dropped: refused by SES")
        }
        Err(Failure::Transient(reason)) => {
            // Not sent: the retry may send it.
            app.users.release_mail(address.as_str(), kind, stamp).await;
            Err(Retry(reason))
        }
    }
}

/// The subject and plain-text body of `job`'s message.
fn compose(app: &AppState, job: &MailJob, issued: Option<&Issued>) -> (String, String) {
    let product = &app.mail.product_name;
    let code_part = |issued: &Issued, what: &str| {
        let lifetime = app.codes.lifetimes().of(issued.record.purpose);
        format!(
            "{what}, open this link:\n\n    {link}\n\nor enter this code:\n\n    {code}\n\n\
             It works once, within {valid}. If you did not ask for this, ignore this message.",
            link = issued.link(&app.mail.app_base_url),
            code = issued.code.expose_secret(),
            valid = human(lifetime),
        )
    };
    match (job, issued) {
        (MailJob::VerifyEmail { .. }, Some(issued)) => (
            format!("Confirm your email address for {product}"),
            code_part(
                issued,
                &format!("To confirm this address for your {product} account"),
            ),
        ),
        (MailJob::ConfirmEmailChange { .. }, Some(issued)) => (
            format!("Confirm your new email address for {product}"),
            code_part(
                issued,
                &format!("To move your {product} account to this address"),
            ),
        ),
        (MailJob::ResetPassword { .. }, Some(issued)) => (
            format!("Reset your {product} password"),
            code_part(issued, &format!("To choose a new {product} password")),
        ),
        (MailJob::Notice { notice, .. }, _) => notice_text(product, *notice),
        // A code job always carries its code (see `handle`).
        _ => (
            format!("A message from {product}"),
            String::from("This message was sent in error; you can ignore it."),
        ),
    }
}

fn notice_text(product: &str, notice: Notice) -> (String, String) {
    match notice {
        Notice::PasswordChanged => (
            format!("Your {product} password was changed"),
            format!(
                "The password of your {product} account was just changed, and every device \
                 signed in to it was signed out.\n\nIf this was not you, reset your password \
                 now with \"Forgot password\"."
            ),
        ),
        Notice::EmailChangeRequested => (
            format!("A request to change your {product} email address"),
            format!(
                "Someone signed in to your {product} account asked to move it to another \
                 address. Nothing changes until that address is confirmed.\n\nIf this was not \
                 you, change your password now: it also cancels the request."
            ),
        ),
        Notice::SignUpAttempt => (
            format!("Someone tried to sign up for {product} with your address"),
            format!(
                "Someone tried to create a {product} account with this address, which already \
                 has one. Your account is unchanged.\n\nIf it was you, sign in instead, or \
                 use \"Forgot password\"."
            ),
        ),
    }
}

/// `3600 s` → "1 hour", `86400 s` → "24 hours", `900 s` → "15 minutes".
fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (count, unit) = if seconds.is_multiple_of(3600) {
        (seconds / 3600, "hour")
    } else {
        (seconds.div_ceil(60), "minute")
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

enum Failure {
    /// SES will never send this message (a rejected address or content): drop it.
    Permanent(String),
    /// Throttling, a timeout, a 5xx, or a state of the account that must be fixed (sending
    /// paused, sender not verified): retry, and let the dead-letter queue hold what never goes.
    Transient(String),
}

async fn send(state: &Mailer, to: &Email, subject: String, body: String) -> Result<(), Failure> {
    let text = |data: String| Content::builder().data(data).charset("UTF-8").build();
    let (subject, body) = match (text(subject), text(body)) {
        (Ok(subject), Ok(body)) => (subject, body),
        _ => {
            return Err(Failure::Permanent(
                "the message could not be built".to_owned(),
            ));
        }
    };
    let message = Message::builder()
        .subject(subject)
        .body(Body::builder().text(body).build())
        .build();
    let result = state
        .ses
        .send_email()
        .from_email_address(&state.app.mail.from)
        .destination(Destination::builder().to_addresses(to.as_str()).build())
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error) => Err(classify(error)),
    }
}

fn classify(error: SdkError<SendEmailError, aws_sdk_sesv2::config::http::HttpResponse>) -> Failure {
    let permanent = matches!(
        error.as_service_error(),
        Some(SendEmailError::MessageRejected(_) | SendEmailError::BadRequestException(_))
    );
    // The error's code and status only: SES's messages name addresses ("...failed the check:
    // ada@example.com"), and no address is ever logged.
    use aws_sdk_sesv2::error::ProvideErrorMetadata as _;
    let reason = match &error {
        SdkError::ServiceError(context) => format!(
            "SES {} ({})",
            context.err().code().unwrap_or("an unnamed error"),
            context.raw().status().as_u16()
        ),
        other => format!("SES unreachable: {other}"),
    };
    if permanent {
        Failure::Permanent(reason)
    } else {
        Failure::Transient(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(human(Duration::from_secs(900)), "15 minutes");
        assert_eq!(human(Duration::from_secs(60)), "1 minute");
    }
}
