//! Structured JSON logs, one line per event, filtered by `RUST_LOG` (default `info`).

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

/// Installs the JSON log subscriber for this process, writing to stdout (CloudWatch in AWS);
/// `function` is the running function's crate, its log target.
pub fn init(function: &'static str) {
    // Fails only if a subscriber is already installed, which is then the one to keep.
    let _ = tracing::subscriber::set_global_default(subscriber(
        std::io::stdout,
        default_filter(),
        &[function],
    ));
}

/// The filter from `RUST_LOG` (`target=level` directives, e.g. `info,shared=debug`), or `info`
/// when it is unset or does not parse.
///
/// `Targets` rather than `EnvFilter`: the same directive syntax without span and field
/// filters, and without the regex engine those need: 0.4 MB (5 %) less per function binary
/// (docs/benchmarks.md).
pub fn default_filter() -> Targets {
    std::env::var(crate::config::RUST_LOG.name)
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// The subscriber the functions use, writing to `writer`.
pub fn subscriber<W>(
    writer: W,
    filter: Targets,
    functions: &[&'static str],
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    Registry::default().with(json_layer(writer, filter, functions))
}

/// The JSON log layer of [`subscriber`], writing to `writer`; the tests record every line a
/// handler writes through it.
///
/// Only our own crates may log at `trace`: `shared` and the `functions` given. Every dependency
/// is capped at `debug`, whatever `RUST_LOG` asks for, because at `trace` the AWS SDK prints
/// whole HTTP messages: DynamoDB responses (password hashes, session seeds), Secrets Manager
/// responses (the signing key) and SigV4 signing material.
pub fn json_layer<S, W>(
    writer: W,
    filter: Targets,
    functions: &[&'static str],
) -> impl Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let never_wire_bodies = functions.iter().chain(&["shared"]).fold(
        Targets::new().with_default(LevelFilter::DEBUG),
        |targets, target| targets.with_target(*target, LevelFilter::TRACE),
    );
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(filter.and(never_wire_bodies))
}
