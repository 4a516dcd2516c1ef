//! Lambda entry point: the cold start and the runtime loop over authorizer events.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::run_events(env!("CARGO_CRATE_NAME"), authorizer::handler).await
}
