//! Per-email login throttling: exponential backoff after repeated failures, counted atomically
//! in DynamoDB, before any password hashing.
//!
//! Each attempt is counted when it starts (pessimistically, as if it will fail) with one
//! conditional write on what was read, and a success deletes the counter. So a burst of parallel
//! guesses cannot slip through between a check and a count: only the writer that saw the current
//! count gets in, the rest are answered 429. Once the count reaches the threshold, every admitted
//! attempt also sets the next lock (base delay, doubled per further attempt, capped), so after
//! `threshold` failures each further guess waits 1 s, 2 s, 4 s … up to the cap.
//!
//! Backoff, not a lockout: the longest wait is the cap (15 minutes by default), so a third party
//! who knows an address can slow its owner down but never lock them out for long. The counter
//! forgets a day after its last attempt (TTL). The key is `THROTTLE#` + a keyed hash of the
//! normalised email: the table never holds the address in clear, and unknown emails are counted
//! exactly like existing ones, so a 429 says nothing about whether an account exists.

use std::time::Duration;

use aws_lc_rs::hmac;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use base64::Engine as _;

use super::item::{self, ThrottleState};
use super::{conditional, storage_error};
use crate::clock::{millis, now_millis};
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
    subject: String,
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
        }
    }

    /// The backoff this throttle applies.
    pub fn settings(&self) -> ThrottleSettings {
        self.settings
    }

    /// The stored subject for a normalised email: base64url(HMAC-SHA256(key, email)).
    pub(crate) fn subject(&self, email: &str) -> String {
        let tag = hmac::sign(&self.key, email.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Counts a new attempt for `email` (normalised), or refuses it with
    /// [`ApiError::TooManyAttempts`]: while a lock runs, or when a concurrent attempt for the same
    /// email got in first. Always one consistent read and, when admitted, one conditional write.
    #[tracing::instrument(skip_all)]
    pub async fn admit(&self, email: &str) -> Result<Admission, ApiError> {
        let subject = self.subject(email);
        let now = now_millis();
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
        // An expired counter that TTL has not removed yet counts as none.
        let current = stored
            .filter(|state| state.expires_at * 1000 > now)
            .unwrap_or_default();
        if current.locked_until > now {
            return Err(ApiError::TooManyAttempts {
                retry_after: (current.locked_until - now).div_ceil(1000),
            });
        }
        let next = self.next_state(current, now);

        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::throttle_item(&subject, next)));
        put = match stored {
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
        if conditional(
            put.send().await,
            PutItemError::is_conditional_check_failed_exception,
        )? {
            Ok(Admission { subject })
        } else {
            tracing::info!("concurrent sign-in attempt for the same email; refused");
            Err(ApiError::TooManyAttempts { retry_after: 1 })
        }
    }

    /// Resets the counter after a successful sign-in. A failure here is logged, not returned:
    /// the password was right, and the worst outcome is an earlier backoff next time.
    #[tracing::instrument(skip_all)]
    pub async fn succeeded(&self, admission: Admission) {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::throttle_key(&admission.subject)))
            .send()
            .await;
        if let Err(error) = result {
            let error = aws_sdk_dynamodb::error::DisplayErrorContext(error);
            tracing::warn!(error = %error, "could not reset the login throttle");
        }
    }

    /// The counter after admitting one more attempt at `now` (epoch milliseconds).
    fn next_state(&self, current: ThrottleState, now: u64) -> ThrottleState {
        let failures = current.failures.saturating_add(1);
        let locked_until = match failures.checked_sub(self.settings.threshold) {
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
            state = throttle.next_state(state, 1_000_000);
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
        let next = throttle.next_state(state, 5_000);
        assert_eq!(next.failures, u32::MAX);
        assert_eq!(next.locked_until, 5_000 + 900_000);
        assert_eq!(throttle.next_state(next, 5_000).failures, u32::MAX);
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
