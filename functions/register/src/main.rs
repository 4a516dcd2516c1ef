//! Lambda entry point: everything slow happens once here, per cold start.

use lambda_http::{Error, service_fn};
use shared::AppState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = AppState::cold_start().await?;
    lambda_http::run(service_fn(|request| register::handler(&state, request))).await
}
