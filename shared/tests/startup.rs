//! Cold start against the local AWS endpoint `make test` starts (moto speaks Secrets Manager as
//! well as DynamoDB): the signing key is read from the secret named by its ARN, and a missing or
//! short key stops start-up with a message naming the variable.

#![allow(clippy::expect_used)] // helpers of tests and examples: a panic is the failure

use secrecy::SecretString;
use shared::config::{Config, TOKEN_SIGNING_KEY, TOKEN_SIGNING_KEY_SECRET_ARN};
use shared::state::{AppState, StartupError, sdk_config_loader};
use shared::token::{SigningKey, TokenService, TokenSettings};

fn local_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("set by `make test` to the local server")
}

/// The test environment's configuration with `overrides` (an empty value unsets a variable).
fn config(overrides: &[(&str, &str)]) -> Config {
    Config::from_lookup(
        |name| match overrides.iter().find(|(key, _)| *key == name) {
            Some((_, value)) => Some((*value).to_owned()),
            None => std::env::var(name).ok(),
        },
    )
    .expect("valid configuration")
}

async fn start(config: Config) -> Result<AppState, StartupError> {
    let sdk = sdk_config_loader(&config)
        .endpoint_url(local_endpoint())
        .load()
        .await;
    AppState::new(config, &sdk).await
}

async fn secret_holding(value: &str) -> String {
    let config = config(&[]);
    let sdk = sdk_config_loader(&config)
        .endpoint_url(local_endpoint())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(format!("signing-key-{}", uuid::Uuid::new_v4()))
        .secret_string(value)
        .send()
        .await
        .expect("secret created")
        .arn
        .expect("an ARN")
}

#[tokio::test]
async fn the_signing_key_is_read_from_the_secret_named_by_its_arn() {
    let key = "a-64-character-key-from-secrets-manager-0123456789abcdefghijklmn";
    let arn = secret_holding(key).await;
    let state = start(config(&[
        (TOKEN_SIGNING_KEY.name, ""),
        (TOKEN_SIGNING_KEY_SECRET_ARN.name, &arn),
    ]))
    .await
    .expect("starts");

    let user = shared::user::UserId::new();
    let token = state
        .tokens
        .issue(&user, &shared::session::SessionId::new(), false)
        .expect("issued");
    // A verifier holding only the secret's value accepts the token: that key signed it.
    let settings = TokenSettings {
        issuer: std::env::var("TOKEN_ISSUER").unwrap_or_else(|_| "accounts-api".into()),
        audience: std::env::var("TOKEN_AUDIENCE").unwrap_or_else(|_| "accounts-api".into()),
        ttl: std::time::Duration::from_secs(900),
    };
    let verifier = TokenService::hs256(
        &SigningKey::new(SecretString::from(key)).expect("long enough"),
        settings,
    );
    assert_eq!(
        verifier.verify(token.expose_secret()).expect("valid").sub,
        user.to_string()
    );
}

#[tokio::test]
async fn a_short_secret_refuses_to_start_naming_the_variable() {
    let arn = secret_holding("too-short-key").await;
    let error = start(config(&[
        (TOKEN_SIGNING_KEY.name, ""),
        (TOKEN_SIGNING_KEY_SECRET_ARN.name, &arn),
    ]))
    .await
    .expect_err("refuses");
    let message = error.to_string();
    assert!(
        message.starts_with(TOKEN_SIGNING_KEY_SECRET_ARN.name),
        "{message}"
    );
    assert!(message.contains("at least 32 bytes"), "{message}");
    assert!(
        !message.contains("too-short-key"),
        "the key leaked into: {message}"
    );
}

#[tokio::test]
async fn an_unreadable_secret_refuses_to_start_naming_the_variable() {
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf";
    let error = start(config(&[
        (TOKEN_SIGNING_KEY.name, ""),
        (TOKEN_SIGNING_KEY_SECRET_ARN.name, arn),
    ]))
    .await
    .expect_err("refuses");
    assert!(matches!(error, StartupError::Secret(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(TOKEN_SIGNING_KEY_SECRET_ARN.name),
        "{error}"
    );
}

#[tokio::test]
async fn a_short_inline_key_refuses_to_start_naming_the_variable() {
    let error = start(config(&[(TOKEN_SIGNING_KEY.name, "short")]))
        .await
        .expect_err("refuses");
    let message = error.to_string();
    assert!(message.starts_with("TOKEN_SIGNING_KEY: "), "{message}");
    assert!(
        !message.contains("short,") && !message.ends_with("short"),
        "{message}"
    );
}
