//! The real binary refuses to start, with a message naming the variable, when its configuration
//! is incomplete (every function shares this cold start: `AppState::cold_start`).

#![allow(clippy::expect_used)] // helpers of tests and examples: a panic is the failure

use std::process::Command;

fn run_with(env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_register"))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn a_missing_table_name_stops_the_function_with_the_variable_named() {
    let (ok, output) = run_with(&[
        ("HMAC_KEY", &"k".repeat(40)),
        ("TOKEN_KEYS_FILE", "/nonexistent/keys.json"),
    ]);
    assert!(!ok);
    assert!(output.contains("TABLE_NAME must be set"), "{output}");
}

#[test]
fn a_missing_signing_key_stops_the_function_with_both_variables_named() {
    let (ok, output) = run_with(&[("TABLE_NAME", "users")]);
    assert!(!ok);
    assert!(output.contains("HMAC_KEY_SECRET_ARN"), "{output}");
    assert!(output.contains("HMAC_KEY (locally)"), "{output}");
}

#[test]
fn a_short_signing_key_stops_the_function_without_printing_it() {
    let (ok, output) = run_with(&[
        ("TABLE_NAME", "users"),
        ("HMAC_KEY", "tiny-key"),
        ("TOKEN_KEYS_FILE", "/nonexistent/keys.json"),
        ("MAIL_QUEUE_URL", "http://127.0.0.1:9/000000000000/mail"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    assert!(!ok);
    assert!(
        output.contains("HMAC_KEY: the HMAC key must be at least 32 bytes"),
        "{output}"
    );
    assert!(!output.contains("tiny-key"), "{output}");
}
