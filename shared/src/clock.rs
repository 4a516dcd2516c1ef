//! The one clock: epoch times for stored state and RFC 3339 for what clients see.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
