//! Structured JSON logs, one line per event, filtered by `RUST_LOG` (default `info`).

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Installs the JSON log subscriber for this process, writing to stdout (CloudWatch in AWS).
pub fn init() {
    // Fails only if a subscriber is already installed, which is then the one to keep.
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout, default_filter()));
}

/// The filter from `RUST_LOG`, or `info`.
pub fn default_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Crates allowed to log at `trace`: ours. Every dependency is capped at `debug`, whatever
/// `RUST_LOG` asks for, because at `trace` the AWS SDK prints whole HTTP messages: DynamoDB
/// responses (password hashes among them), Secrets Manager responses (the signing key) and
/// SigV4 signing material.
const TRACE_ALLOWED: [&str; 4] = ["shared", "register", "login", "profile"];

/// The subscriber the functions use, writing to `writer`; tests capture logs with it.
pub fn subscriber<W>(writer: W, filter: EnvFilter) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let never_wire_bodies = TRACE_ALLOWED.iter().fold(
        Targets::new().with_default(LevelFilter::DEBUG),
        |targets, target| targets.with_target(*target, LevelFilter::TRACE),
    );
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(filter.and(never_wire_bodies));
    Registry::default().with(json)
}
