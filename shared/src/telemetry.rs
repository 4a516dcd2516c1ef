//! Structured JSON logs, one line per event, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON log subscriber for this process, writing to stdout (CloudWatch in AWS).
pub fn init() {
    // Fails only if a subscriber is already installed, which is then the one to keep.
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout, default_filter()));
}

/// The filter from `RUST_LOG`, or `info`.
pub fn default_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The subscriber the functions use, writing to `writer`; tests capture logs with it.
pub fn subscriber<W>(writer: W, filter: EnvFilter) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}
