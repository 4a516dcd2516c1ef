//! The one clock: epoch times for stored state and RFC 3339 for what clients see.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A clock a component reads "now" from: the system's, or (in tests) one that moves only when
/// told, so that a verdict about a wait ("retry after 3 s", "the lock has ended") never depends
/// on how fast the machine runs the test.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that reads `start` (epoch milliseconds) until [`Clock::advance`] moves it.
    pub fn manual(start: u64) -> Self {
        Self(Some(Arc::new(AtomicU64::new(start))))
    }

    /// Now, in epoch milliseconds.
    pub fn now_millis(&self) -> u64 {
        match &self.0 {
            None => now_millis(),
            Some(manual) => manual.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward by `by` (the system clock moves by itself: no effect).
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.0 {
            manual.fetch_add(millis(by), Ordering::SeqCst);
        }
    }
}

/// Now, in epoch seconds.
pub fn now_seconds() -> u64 {
    now_millis() / 1000
}

/// Now, in epoch milliseconds.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// A duration in whole milliseconds, saturating.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Epoch seconds as RFC 3339 UTC with second precision.
pub fn rfc3339(seconds: u64) -> String {
    use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
    DateTime::from_secs(i64::try_from(seconds).unwrap_or(i64::MAX))
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now_millis(), 1_000);
        clock.clone().advance(Duration::from_millis(2_500));
        assert_eq!(clock.now_millis(), 3_500, "clones share one time");
        let system = Clock::system();
        system.advance(Duration::from_secs(3_600));
        assert!(system.now_millis().abs_diff(now_millis()) < 60_000);
    }
}
