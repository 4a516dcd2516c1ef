//! Mail, off the request path: a request puts a [`MailJob`] on the SQS queue ([`Outbox`]) and
//! answers at once; the mailer function issues the code the message carries and sends it through
//! SES, with retries and a dead-letter queue instead of a user waiting.
//!
//! Only the functions that send mail build an [`Outbox`] ([`Mailing`] is their state), so the SQS
//! client is linked into those binaries alone.

use std::ops::Deref;

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::SdkError;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::{AppState, FunctionState, StartupError};
use crate::user::UserId;

/// One message to send, as it travels on the queue (JSON). Addresses are normalised ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MailJob {
    /// A link and code proving that `address` is account `user_id`'s.
    VerifyEmail {
        /// The account.
        user_id: UserId,
        /// Its address when the job was queued.
        address: String,
    },
    /// A password reset link and code for the account at `address`, if one exists: the mailer
    /// looks it up, so the request does the same work for every address.
    ResetPassword {
        /// The address given.
        address: String,
    },
    /// A link and code moving account `user_id` to `address`.
    ConfirmEmailChange {
        /// The account.
        user_id: UserId,
        /// The address it asked to move to.
        address: String,
    },
    /// A message without a code, telling the owner of `address` what happened.
    Notice {
        /// Where it goes.
        address: String,
        /// What it says.
        notice: Notice,
    },
}

impl MailJob {
    /// The address the message goes to (for a reset, the one the account must have).
    pub fn address(&self) -> &str {
        match self {
            Self::VerifyEmail { address, .. }
            | Self::ResetPassword { address }
            | Self::ConfirmEmailChange { address, .. }
            | Self::Notice { address, .. } => address,
        }
    }

    /// The kind of message, as the per-address send limit counts it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::VerifyEmail { .. } => "verify_email",
            Self::ResetPassword { .. } => "reset_password",
            Self::ConfirmEmailChange { .. } => "confirm_email_change",
            Self::Notice { notice, .. } => notice.kind(),
        }
    }
}

/// What a [`MailJob::Notice`] tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// The account's password was just changed or reset.
    PasswordChanged,
    /// Someone signed in to the account asked to move it to another address.
    EmailChangeRequested,
    /// Someone tried to register an account with this address, which already has one.
    SignUpAttempt,
}

impl Notice {
    fn kind(self) -> &'static str {
        match self {
            Self::PasswordChanged => "password_changed",
            Self::EmailChangeRequested => "email_change_requested",
            Self::SignUpAttempt => "sign_up_attempt",
        }
    }
}

/// Puts [`MailJob`]s on the mail queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Outbox {
    /// An outbox on `queue_url`, through a client built once per cold start.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Queues `job`: one `SendMessage`. Throttling, timeouts and 5xx are a retryable 503.
    #[tracing::instrument(skip_all, fields(kind = job.kind()))]
    pub async fn send(&self, job: &MailJob) -> Result<(), ApiError> {
        let body = serde_json::to_string(job).map_err(ApiError::internal)?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(queue_error)?;
        tracing::debug!("mail queued");
        Ok(())
    }
}

/// Maps an SQS SDK error: transport failures, throttling and 5xx are a retryable 503, anything
/// else (a missing queue, a denied call) a 500.
fn queue_error<E>(error: SdkError<E, HttpResponse>) -> ApiError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(context) => {
            let status = context.raw().status();
            status.is_server_error() || status.as_u16() == 429
        }
        _ => false,
    };
    if retryable {
        ApiError::Unavailable(Box::new(error))
    } else {
        ApiError::Internal(Box::new(error))
    }
}

/// The state of a function that sends mail: the shared state and the outbox.
#[derive(Debug)]
pub struct Mailing {
    /// What every function has.
    pub app: AppState,
    /// The mail queue.
    pub outbox: Outbox,
}

impl Deref for Mailing {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl FunctionState for Mailing {
    /// Reads the environment and builds the clients, the SQS one included.
    async fn from_env() -> Result<Self, StartupError> {
        let (app, sdk) = AppState::from_env_with_sdk().await?;
        let outbox = Outbox::new(aws_sdk_sqs::Client::new(&sdk), app.mail.queue_url.clone());
        Ok(Self { app, outbox })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jobs_travel_as_tagged_json_and_refuse_unknown_fields() {
        let user_id = UserId::new();
        let job = MailJob::ConfirmEmailChange {
            user_id,
            address: "new@example.com".into(),
        };
        let value = serde_json::to_value(&job).expect("serialises");
        assert_eq!(
            value,
            json!({"kind": "confirm_email_change", "user_id": user_id.to_string(),
                   "address": "new@example.com"})
        );
        assert_eq!(
            serde_json::from_value::<MailJob>(value).expect("parses"),
            job
        );
        let notice =
            json!({"kind": "notice", "address": "a@example.com", "notice": "sign_up_attempt"});
        let parsed: MailJob = serde_json::from_value(notice).expect("parses");
        assert_eq!(parsed.kind(), "sign_up_attempt");
        for bad in [
            json!({"kind": "reset_password", "address": "a@example.com", "extra": 1}),
            json!({"kind": "launch_missiles"}),
            json!({"kind": "verify_email", "user_id": "nope", "address": "a@example.com"}),
        ] {
            assert!(
                serde_json::from_value::<MailJob>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
