//! Cold start against the local Secrets Manager `make test` starts (moto, beside SQS and SES):
//! the HMAC key and the access-token keyset are read from the secrets named by
//! their ARNs, and a missing or short key stops start-up with a message naming the variable.

#![allow(clippy::expect_used)] // helpers of tests and examples: a panic is the failure

use secrecy::SecretString;
use shared::config::{
    Config, HMAC_KEY, HMAC_KEY_SECRET_ARN, TOKEN_KEYS_FILE, TOKEN_KEYS_SECRET_ARN,
    TOKEN_SIGNING_ALG,
};
use shared::state::{AppState, StartupError, sdk_config_loader};

fn local_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").expect("set by `make test` to the local moto")
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

/// Both keys from Secrets Manager, by ARN, as in AWS: the HMAC key (a refresh token made with a
/// key derived from the secret's value verifies) and the access-token keyset (its current key
/// signs, and its JWKS publishes it).
#[tokio::test]
async fn the_keys_are_read_from_the_secrets_named_by_their_arns() {
    let key = "a-64-character-key-from-secrets-manager-0123456789abcdefghijklmn";
    let hmac_arn = secret_holding(key).await;
    let pem = shared::keys::generate::es256_pem();
    let keyset = shared::keys::generate::keyset(&[("current", "ES256", &pem)]);
    let keys_arn = secret_holding(&keyset).await;
    let state = start(config(&[
        (HMAC_KEY.name, ""),
        (HMAC_KEY_SECRET_ARN.name, &hmac_arn),
        (TOKEN_KEYS_FILE.name, ""),
        (TOKEN_KEYS_SECRET_ARN.name, &keys_arn),
        (TOKEN_SIGNING_ALG.name, "ES256"),
    ]))
    .await
    .expect("starts");

    let user = shared::user::UserId::new();
    let token = state
        .tokens
        .issue(&user, &shared::session::SessionId::new(), false)
        .expect("issued");
    let header = jsonwebtoken::decode_header(token.expose_secret()).expect("a JWT");
    let jwks = state.tokens.jwks().expect("published");
    assert_eq!(header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
    assert_eq!(
        state
            .tokens
            .verify(token.expose_secret())
            .expect("valid")
            .sub,
        user.to_string()
    );
    // The refresh-token key is derived from the HMAC secret's value, as before the switch.
    let derived = shared::token::SigningKey::new(SecretString::from(key))
        .expect("long enough")
        .derive("accounts-api/refresh-token/v1");
    let elsewhere = shared::session::RefreshTokens::new(derived, *state.refresh_tokens.settings());
    let user = shared::user::User::new(
        shared::email::Email::parse("ada@example.com").expect("valid"),
        None,
    );
    let session = shared::session::Session::start(
        &user,
        shared::session::ClientInfo::default(),
        state.refresh_tokens.settings(),
    );
    assert_eq!(
        elsewhere.current(&session).expose_secret(),
        state.refresh_tokens.current(&session).expose_secret()
    );
}

#[tokio::test]
async fn a_short_secret_refuses_to_start_naming_the_variable() {
    let arn = secret_holding("too-short-key").await;
    let error = start(config(&[
        (HMAC_KEY.name, ""),
        (HMAC_KEY_SECRET_ARN.name, &arn),
    ]))
    .await
    .expect_err("refuses");
    let message = error.to_string();
    assert!(message.starts_with(HMAC_KEY_SECRET_ARN.name), "{message}");
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
        (HMAC_KEY.name, ""),
        (HMAC_KEY_SECRET_ARN.name, arn),
    ]))
    .await
    .expect_err("refuses");
    assert!(matches!(error, StartupError::Secret(..)), "{error:?}");
    assert!(
        error.to_string().contains(HMAC_KEY_SECRET_ARN.name),
        "{error}"
    );
}

#[tokio::test]
async fn a_short_inline_key_refuses_to_start_naming_the_variable() {
    let error = start(config(&[(HMAC_KEY.name, "short")]))
        .await
        .expect_err("refuses");
    let message = error.to_string();
    assert!(message.starts_with("HMAC_KEY: "), "{message}");
    assert!(
        !message.contains("short,") && !message.ends_with("short"),
        "{message}"
    );
}
