//! Lambda entry point: everything slow happens once here, per cold start.

use lambda_http::{Error, service_fn};
use shared::AppState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = AppState::from_env().await.inspect_err(|error| {
        tracing::error!(%error, "refusing to start");
    })?;
    lambda_http::run(service_fn(|request| profile::handler(&state, request))).await
}
