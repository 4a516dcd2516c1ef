//! Latency benchmark: argon2 alone, then each handler end to end against the local DynamoDB.
//!
//!     make bench          # starts moto, builds in release mode, runs this, stops moto
//!
//! Prints a Markdown table (p50/p95/max over N runs). Figures include moto's own latency
//! (a Python server, a few ms per call), so DynamoDB in AWS is faster than what is measured here.

#![allow(clippy::expect_used, clippy::print_stdout)] // a benchmark's job is to print

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::AppState;
use shared::testing::{
    create_user, event, request, state, unique_email, with_header, with_json_body,
};

const PASSWORD: &str = "correct horse battery staple";

async fn measure<F, Fut>(runs: usize, mut run: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    run().await; // warm-up
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        run().await;
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// Times `handler` on the events `next_event` makes, checking each answer's status.
async fn measure_handler(
    state: &AppState,
    runs: usize,
    handler: impl AsyncFn(&AppState, Request) -> Result<Response<Body>, lambda_http::Error>,
    expected_status: u16,
    mut next_event: impl FnMut() -> Value,
) -> Vec<Duration> {
    measure(runs, || {
        let request = request(&next_event());
        let handler = &handler;
        async move {
            let response = handler(state, request).await.expect("never Err");
            assert_eq!(response.status(), expected_status);
        }
    })
    .await
}

fn row(name: &str, times: &[Duration]) {
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    println!(
        "| {name} | {} | {} | {} | {} |",
        times.len(),
        ms(pct(0.5)),
        ms(pct(0.95)),
        ms(times[times.len() - 1])
    );
}

#[tokio::main]
async fn main() {
    let state = state().await;
    println!("| operation | runs | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|");

    let hashes = measure(20, || async {
        let password = state.password_policy.parse(PASSWORD).expect("valid");
        shared::password::hash(password).await.expect("hash");
    })
    .await;
    row("argon2id hash (m=19456, t=2, p=1)", &hashes);

    let registrations = measure_handler(&state, 30, register::handler, 201, || {
        let body = json!({"email": unique_email("bench"), "password": PASSWORD});
        with_json_body(event("register/ok"), &body)
    })
    .await;
    row("POST /register (handler + DynamoDB)", &registrations);

    let email = unique_email("bench-login");
    let user = create_user(&state, &email, PASSWORD).await;
    let logins = measure_handler(&state, 30, login::handler, 200, || {
        with_json_body(
            event("login/ok"),
            &json!({"email": email, "password": PASSWORD}),
        )
    })
    .await;
    row("POST /login, right password", &logins);

    let unknown = measure_handler(&state, 30, login::handler, 401, || {
        let body = json!({"email": unique_email("bench-nobody"), "password": PASSWORD});
        with_json_body(event("login/ok"), &body)
    })
    .await;
    row("POST /login, unknown email", &unknown);

    let token = state.tokens.issue(&user.id).expect("token");
    let bearer = format!("Bearer {}", token.expose_secret());
    let profiles = measure_handler(&state, 100, profile::handler, 200, || {
        with_header(event("profile/ok"), "authorization", &bearer)
    })
    .await;
    row("GET /profile", &profiles);
}
