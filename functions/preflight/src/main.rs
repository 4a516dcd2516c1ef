//! Lambda entry point: the cold start and the runtime loop, shared by every function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::run(env!("CARGO_CRATE_NAME"), preflight::handler).await
}
