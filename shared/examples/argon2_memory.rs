//! Peak resident memory of password hashing in one process, as a Lambda instance sees it:
//! sequential hashes and verifications on the blocking pool, then a burst of concurrent ones.
//!
//!     cargo run --release -p shared --example argon2_memory [SEQUENTIAL] [CONCURRENT]
//!
//! Prints VmHWM (peak RSS) and VmRSS from /proc/self/status after each phase, and the hash time.

#![allow(clippy::expect_used)] // helpers of tests and examples: a panic is the failure

use std::sync::Arc;
use std::time::Instant;

use secrecy::SecretString;
use shared::password::{Argon2Settings, PasswordHasher, PasswordPolicy};

fn status(field: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .map(|line| line[field.len() + 1..].trim().to_owned())
        .unwrap_or_else(|| "?".to_owned())
}

fn report(phase: &str) {
    eprintln!(
        "{phase:<34} VmHWM {:>10}  VmRSS {:>10}",
        status("VmHWM"),
        status("VmRSS")
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a count"));
    let sequential = args.next().unwrap_or(200);
    let concurrent = args.next().unwrap_or(20);
    let hasher = Arc::new(PasswordHasher::new(Argon2Settings::default()).expect("parameters"));
    let policy = PasswordPolicy::new(8);
    report("start");

    let started = Instant::now();
    let mut stored = None;
    for i in 0..sequential {
        let password = policy
            .parse(&format!("memory probe {i}"), None)
            .expect("policy");
        let hash = hasher.hash(password).await.expect("hash");
        let candidate = SecretString::from(format!("memory probe {i}"));
        let verified = hasher
            .verify(candidate, Some(hash.clone()))
            .await
            .expect("verify");
        assert!(verified.matches);
        stored = Some(hash);
    }
    let per_hash = started.elapsed().as_secs_f64() * 1000.0 / (2 * sequential) as f64;
    report(&format!("after {sequential} hash+verify pairs"));
    eprintln!("{:<34} {per_hash:.1} ms", "mean per hash or verify");

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrent {
        let hasher = Arc::clone(&hasher);
        let stored = stored.clone();
        tasks.spawn(async move {
            let candidate = SecretString::from("memory probe 0".to_owned());
            hasher.verify(candidate, stored).await.expect("verify")
        });
    }
    while tasks.join_next().await.is_some() {}
    report(&format!("after {concurrent} concurrent verifies"));
}
