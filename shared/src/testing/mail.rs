//! Mail in handler tests: an outbox on a queue of the test's own (the `make test` poller drains
//! the shared one), the jobs it received, codes issued without the mailer, and the mail the local
//! SES (moto) sent, read back from what `dev/moto_server.py` records of it.

use secrecy::ExposeSecret as _;
use serde_json::Value;

use super::record::ServiceLog;
use super::{state, test_config};
use crate::codes::{Issued, Purpose};
use crate::email::Email;
use crate::mail::{MailJob, Mailing, Outbox};
use crate::state::{AppState, sdk_config_loader};
use crate::user::UserId;

/// The SDK configuration of the test environment (endpoints from `make test`'s variables).
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_loader(&test_config()).load().await
}

/// A queue of one test's own, on the local SQS.
#[derive(Debug, Clone)]
pub struct TestQueue {
    /// Its URL.
    pub url: String,
    client: aws_sdk_sqs::Client,
}

impl TestQueue {
    /// A new, empty queue.
    pub async fn new() -> Self {
        let sdk = sdk_config().await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        let name = format!("test-{}", uuid::Uuid::new_v4().simple());
        let url = client
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("queue created")
            .queue_url
            .expect("a queue url");
        Self { url, client }
    }

    /// Takes every message on the queue: `(message id, body)`, oldest first.
    pub async fn take(&self) -> Vec<(String, String)> {
        let mut taken = Vec::new();
        loop {
            let output = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("received");
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return taken;
            }
            for message in messages {
                self.client
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(message.receipt_handle.clone().expect("a handle"))
                    .send()
                    .await
                    .expect("deleted");
                taken.push((
                    message.message_id.expect("an id"),
                    message.body.expect("a body"),
                ));
            }
        }
    }

    /// Takes every job on the queue, oldest first.
    pub async fn jobs(&self) -> Vec<MailJob> {
        self.take()
            .await
            .into_iter()
            .map(|(_, body)| serde_json::from_str(&body).expect("a mail job"))
            .collect()
    }
}

/// `app` with an outbox on a new queue of the test's own (its SQS calls recorded), and that queue.
///
/// Its SQS client waits up to 10 s per attempt, not the functions' 1 s: on a loaded CI machine
/// the local SQS can take over a second to answer, and a `SendMessage` retried after its first
/// attempt landed queues the job twice (SQS is at-least-once; the mailer drops such a copy by its
/// per-kind interval), which the tests' exact look at the queue would report as two jobs.
pub async fn mailing(app: AppState) -> (Mailing, TestQueue) {
    let queue = TestQueue::new().await;
    let sdk = sdk_config().await;
    let config = aws_sdk_sqs::config::Builder::from(&sdk)
        .interceptor(ServiceLog)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(std::time::Duration::from_secs(10))
                .operation_timeout(std::time::Duration::from_secs(30))
                .build(),
        )
        .build();
    let outbox = Outbox::new(aws_sdk_sqs::Client::from_conf(config), queue.url.clone());
    (Mailing { app, outbox }, queue)
}

/// [`super::state`] with an outbox on a queue of the test's own.
pub async fn mailing_state() -> (Mailing, TestQueue) {
    mailing(state().await).await
}

/// A code issued and stored as the mailer would, without mail: its token and code in hand.
pub async fn issue_code(
    state: &AppState,
    user_id: UserId,
    purpose: Purpose,
    address: &str,
) -> Issued {
    let issued = state.codes.issue(
        user_id,
        purpose,
        Email::from_stored(address.to_owned()),
        crate::clock::now_seconds(),
    );
    assert!(
        state.users.save_code(&issued.record).await.expect("saved"),
        "the account exists"
    );
    issued
}

/// The token of an issued code, in the clear (tests only).
pub fn token_of(issued: &Issued) -> String {
    issued.token.expose_secret().to_owned()
}

/// The code of an issued code, in the clear (tests only).
pub fn code_of(issued: &Issued) -> String {
    issued.code.expose_secret().to_owned()
}

/// One message the local SES sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    /// The sender.
    pub from: String,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl SentMail {
    /// The token of the link in the body (`…#token=<token>`), if any.
    pub fn token(&self) -> Option<String> {
        let start = self.body.find("#token=")? + "#token=".len();
        let token: String = self.body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            .collect();
        Some(token)
    }

    /// The link in the body, if any.
    pub fn link(&self) -> Option<String> {
        self.body
            .split_whitespace()
            .find(|word| word.contains("#token="))
            .map(str::to_owned)
    }

    /// The 8-digit code in the body, if any.
    pub fn code(&self) -> Option<String> {
        self.body
            .split_whitespace()
            .find(|word| word.len() == 8 && word.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
    }
}

/// Every message the local SES has sent to `to`, oldest first (as `dev/moto_server.py` records
/// them at `/local/sent-mail.json`).
pub async fn sent_mail(to: &str) -> Vec<SentMail> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SESV2")
        .expect("AWS_ENDPOINT_URL_SESV2: handler tests run under `make test`");
    let to = to.to_owned();
    tokio::task::spawn_blocking(move || {
        let text = ureq::get(&format!("{endpoint}/local/sent-mail.json"))
            .call()
            .expect("the local endpoint answers")
            .into_body()
            .read_to_string()
            .expect("a body");
        let sent: Vec<Value> = serde_json::from_str(&text).expect("JSON");
        sent.iter()
            .filter(|m| {
                m["to"]
                    .as_array()
                    .is_some_and(|to_all| to_all.iter().any(|a| a.as_str() == Some(to.as_str())))
            })
            .map(|m| SentMail {
                from: m["from"].as_str().unwrap_or_default().to_owned(),
                subject: m["subject"].as_str().unwrap_or_default().to_owned(),
                body: m["body"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    })
    .await
    .expect("the read finished")
}
