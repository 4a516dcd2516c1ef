//! Login throttling: exponential backoff after repeated failures, counted atomically in
//! DynamoDB, before any password hashing, on two counters per attempt.
//!
//! - **Per source** (the email and the source address API Gateway saw): after `threshold`
//!   consecutive failures from one address, that address's attempts on the email wait 1 s, 2 s,
//!   4 s … up to the cap. Someone guessing from elsewhere never holds the owner back.
//! - **Per email**, from all sources together: after `address_limit` consecutive failures (at
//!   most 100, NIST SP 800-63B), every attempt on the email backs off the same way. That stops
//!   distributed guessing, and is high enough that one source cannot reach it before its own
//!   backoff has slowed it to a few guesses an hour.
//!
//! Each attempt is counted when it starts (pessimistically, as if it will fail): both counters
//! in one transaction, each conditional on what was read. So a burst of parallel guesses cannot
//! slip through between a check and a count: only the writer that saw the current counts gets
//! in, the rest are answered 429. A success resets both of its counters.
//!
//! Backoff, not a lockout: the longest wait is the cap (15 minutes by default). The counters
//! forget a day after their last attempt (TTL). Keys are `THROTTLE#` + a keyed hash (of the
//! normalised email, or of email and source): the table never holds an address in clear, and
//! unknown emails are counted exactly like existing ones, so a 429 says nothing about whether an
//! account exists.

use std::time::Duration;

use aws_lc_rs::hmac;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use base64::Engine as _;

use super::item::{self, ThrottleState};
use super::storage_error;
use crate::clock::{Clock, millis};
use crate::config::ThrottleSettings;
use crate::error::ApiError;

/// How long a counter is remembered after its last attempt (or after its lock ends).
const MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// The login throttle over the users table.
#[derive(Clone)]
pub struct LoginThrottle {
    client: Client,
    table: String,
    key: hmac::Key,
    settings: ThrottleSettings,
    clock: Clock,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("table", &self.table)
            .field("key", &"[REDACTED]")
            .field("settings", &self.settings)
            .finish()
    }
}

/// An admitted attempt: report a success through [`LoginThrottle::succeeded`]; a failure needs
/// nothing more (it was counted on admission).
#[derive(Debug)]
#[must_use = "a successful sign-in must reset the throttle"]
pub struct Admission {
    subjects: [String; 2],
}

/// One counter of an attempt: its subject, what was read of it, and when it locks.
struct Counter {
    subject: String,
    stored: Option<ThrottleState>,
    current: ThrottleState,
    threshold: u32,
}

impl LoginThrottle {
    /// A throttle keyed by `key` (derived from the signing key), over `table`.
    pub fn new(
        client: Client,
        table: impl Into<String>,
        key: hmac::Key,
        settings: ThrottleSettings,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            key,
            settings,
            clock: Clock::system(),
        }
    }

    /// The same throttle reading the time from `clock` (tests move a manual one).
    #[must_use]
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// The backoff this throttle applies.
    pub fn settings(&self) -> ThrottleSettings {
        self.settings
    }

    /// The stored subject for a normalised email: base64url(HMAC-SHA256(key, email)).
    pub(crate) fn subject(&self, email: &str) -> String {
        self.keyed(email.as_bytes())
    }

    /// The stored subject for a normalised email tried from `source` (an IP address; `None`,
    /// where API Gateway gave none, is one source of its own).
    pub(crate) fn source_subject(&self, email: &str, source: Option<&str>) -> String {
        let message = format!("source\0{email}\0{}", source.unwrap_or("-"));
        self.keyed(message.as_bytes())
    }

    fn keyed(&self, message: &[u8]) -> String {
        let tag = hmac::sign(&self.key, message);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Counts a new attempt for `email` (normalised) from `source`, or refuses it with
    /// [`ApiError::TooManyAttempts`]: while the source's or the email's lock runs, or when a
    /// concurrent attempt counted first. Two consistent reads side by side and, when admitted,
    /// one transaction of two conditional writes.
    #[tracing::instrument(skip_all)]
    pub async fn admit(&self, email: &str, source: Option<&str>) -> Result<Admission, ApiError> {
        let now = self.clock.now_millis();
        let (by_source, by_email) = tokio::join!(
            self.read(
                self.source_subject(email, source),
                self.settings.threshold,
                now
            ),
            self.read(self.subject(email), self.settings.address_limit, now),
        );
        let counters = [by_source?, by_email?];
        let locked_until = counters
            .iter()
            .map(|c| c.current.locked_until)
            .max()
            .unwrap_or(0);
        if locked_until > now {
            return Err(ApiError::TooManyAttempts {
                retry_after: (locked_until - now).div_ceil(1000),
            });
        }
        let mut writes = Vec::new();
        for counter in &counters {
            let next = self.next_state(counter.current, counter.threshold, now);
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item::throttle_item(&counter.subject, next)));
            let put = match counter.stored {
                // Conditional on exactly what was read: a concurrent attempt makes this fail.
                Some(stored) => {
                    let (name, value) = item::failures_attribute(stored);
                    put.condition_expression("#failures = :read")
                        .expression_attribute_names("#failures", name)
                        .expression_attribute_values(":read", value)
                }
                None => put
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", item::PARTITION_KEY),
            };
            let put = put.build().map_err(ApiError::internal)?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Admission {
                subjects: counters.map(|counter| counter.subject),
            }),
            // A condition failed or a concurrent transaction held a counter: another attempt for
            // the same email counted first.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(TransactWriteItemsError::is_transaction_canceled_exception) =>
            {
                tracing::info!("concurrent sign-in attempt for the same email; refused");
                Err(ApiError::TooManyAttempts { retry_after: 1 })
            }
            Err(error) => Err(storage_error(error)),
        }
    }

    /// One counter as stored now (an expired one that TTL has not removed yet counts as none).
    async fn read(&self, subject: String, threshold: u32, now: u64) -> Result<Counter, ApiError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::throttle_key(&subject)))
            .consistent_read(true)
            .send()
            .await
            .map_err(storage_error)?
            .item;
        let stored = found
            .as_ref()
            .map(ThrottleState::try_from)
            .transpose()
            .map_err(ApiError::internal)?;
        let current = stored
            .filter(|state| state.expires_at * 1000 > now)
            .unwrap_or_default();
        Ok(Counter {
            subject,
            stored,
            current,
            threshold,
        })
    }

    /// Resets both counters of the attempt after a successful sign-in (the other sources'
    /// counters stay). A failure here is logged, not returned: the password was right, and the
    /// worst outcome is an earlier backoff next time.
    #[tracing::instrument(skip_all)]
    pub async fn succeeded(&self, admission: Admission) {
        let [by_source, by_email] = &admission.subjects;
        let reset = |subject: &String| {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(item::throttle_key(subject)))
                .send()
        };
        let (first, second) = tokio::join!(reset(by_source), reset(by_email));
        for result in [first.map(drop), second.map(drop)] {
            if let Err(error) = result {
                let error = aws_sdk_dynamodb::error::DisplayErrorContext(error);
                tracing::warn!(error = %error, "could not reset the login throttle");
            }
        }
    }

    /// A counter with `threshold` after admitting one more attempt at `now` (epoch ms).
    fn next_state(&self, current: ThrottleState, threshold: u32, now: u64) -> ThrottleState {
        let failures = current.failures.saturating_add(1);
        let locked_until = match failures.checked_sub(threshold) {
            None => 0,
            Some(beyond) => now + millis(self.delay(beyond)),
        };
        ThrottleState {
            failures,
            locked_until,
            expires_at: (locked_until.max(now) + millis(MEMORY)).div_ceil(1000),
        }
    }

    /// The wait after the attempt `beyond` places past the threshold: base × 2^beyond, capped.
    fn delay(&self, beyond: u32) -> Duration {
        let factor = 2u32.checked_pow(beyond).unwrap_or(u32::MAX);
        self.settings
            .base_delay
            .checked_mul(factor)
            .map_or(self.settings.max_delay, |delay| {
                delay.min(self.settings.max_delay)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        let sdk = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        LoginThrottle::new(
            Client::from_conf(sdk),
            "t",
            hmac::Key::new(hmac::HMAC_SHA256, b"test-key-test-key-test-key-test-key"),
            ThrottleSettings::default(),
        )
    }

    #[test]
    fn the_delay_doubles_past_the_threshold_up_to_the_cap() {
        let throttle = throttle();
        let mut state = ThrottleState::default();
        let mut delays = Vec::new();
        for _ in 0..16 {
            state = throttle.next_state(state, 5, 1_000_000);
            delays.push(state.locked_until.saturating_sub(1_000_000) / 1000);
        }
        assert_eq!(
            delays,
            [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
        );
        assert_eq!(state.failures, 16);
        assert_eq!(state.expires_at, 1_000 + 900 + MEMORY.as_secs());
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let throttle = throttle();
        let state = ThrottleState {
            failures: u32::MAX - 1,
            ..ThrottleState::default()
        };
        let next = throttle.next_state(state, 5, 5_000);
        assert_eq!(next.failures, u32::MAX);
        assert_eq!(next.locked_until, 5_000 + 900_000);
        assert_eq!(throttle.next_state(next, 5, 5_000).failures, u32::MAX);
    }

    #[test]
    fn the_email_wide_counter_waits_for_its_own_limit() {
        let throttle = throttle();
        let mut state = ThrottleState::default();
        for _ in 0..100 {
            state = throttle.next_state(state, 100, 1_000_000);
        }
        assert_eq!(
            state.locked_until,
            1_000_000 + 1_000,
            "the 100th failure: 1 s"
        );
        state = throttle.next_state(
            ThrottleState {
                failures: 98,
                ..state
            },
            100,
            1_000_000,
        );
        assert_eq!(state.locked_until, 0, "99 failures: no wait yet");
    }

    #[test]
    fn source_subjects_differ_by_source_and_from_the_email_subject() {
        let throttle = throttle();
        let email = "ada@example.com";
        let here = throttle.source_subject(email, Some("203.0.113.7"));
        assert_ne!(here, throttle.source_subject(email, Some("198.51.100.7")));
        assert_ne!(here, throttle.source_subject(email, None));
        assert_ne!(here, throttle.subject(email));
        assert_eq!(here, throttle.source_subject(email, Some("203.0.113.7")));
        assert!(!here.contains("203") && !here.contains("ada"));
    }

    #[test]
    fn subjects_are_keyed_hashes_not_the_email() {
        let throttle = throttle();
        let subject = throttle.subject("ada@example.com");
        assert_eq!(subject, throttle.subject("ada@example.com"));
        assert_ne!(subject, throttle.subject("ada@example.org"));
        assert!(!subject.contains("ada"));
        assert_eq!(subject.len(), 43, "256 bits, base64url");
    }
}
