//! Latency benchmark: argon2 alone, then each handler end to end against the local DynamoDB.
//!
//!     make bench          # starts moto, builds in release mode, runs this, stops moto
//!
//! Prints a Markdown table (p50/p95/max over N runs). Figures include moto's own latency
//! (a Python server, a few ms per call), so DynamoDB in AWS is faster than what is measured here.

#![allow(clippy::expect_used, clippy::print_stdout)] // a benchmark's job is to print

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::json;
use shared::testing::{
    create_user, event, request, state, unique_email, with_header, with_json_body,
};

const PASSWORD: &str = "correct horse battery staple";

async fn measure<F, Fut>(runs: usize, mut run: F) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    run(usize::MAX).await; // warm-up
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let started = Instant::now();
        run(i).await;
        times.push(started.elapsed());
    }
    times.sort();
    times
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

    let hashes = measure(20, |_| async {
        let password = state.password_policy.parse(PASSWORD).expect("valid");
        shared::password::hash(password).await.expect("hash");
    })
    .await;
    row("argon2id hash (m=19456, t=2, p=1)", &hashes);

    let registers = measure(30, |_| {
        let body = json!({"email": unique_email("bench"), "password": PASSWORD});
        let request = request(&with_json_body(event("register/ok"), &body));
        let state = &state;
        async move {
            let response = register::handler(state, request).await.expect("never Err");
            assert_eq!(response.status(), 201);
        }
    })
    .await;
    row("POST /register (handler + DynamoDB)", &registers);

    let email = unique_email("bench-login");
    let user = create_user(&state, &email, PASSWORD).await;
    let logins = measure(30, |_| {
        let body = json!({"email": email, "password": PASSWORD});
        let request = request(&with_json_body(event("login/ok"), &body));
        let state = &state;
        async move {
            let response = login::handler(state, request).await.expect("never Err");
            assert_eq!(response.status(), 200);
        }
    })
    .await;
    row("POST /login, right password", &logins);

    let unknown = measure(30, |_| {
        let body = json!({"email": unique_email("bench-nobody"), "password": PASSWORD});
        let request = request(&with_json_body(event("login/ok"), &body));
        let state = &state;
        async move {
            let response = login::handler(state, request).await.expect("never Err");
            assert_eq!(response.status(), 401);
        }
    })
    .await;
    row("POST /login, unknown email", &unknown);

    let token = state.tokens.issue(&user.id).expect("token");
    let bearer = format!("Bearer {}", token.expose_secret());
    let profiles = measure(100, |_| {
        let request = request(&with_header(event("profile/ok"), "authorization", &bearer));
        let state = &state;
        async move {
            let response = profile::handler(state, request).await.expect("never Err");
            assert_eq!(response.status(), 200);
        }
    })
    .await;
    row("GET /profile", &profiles);
}
