//! Everything a function needs, built once per cold start, outside the handler.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use secrecy::{ExposeSecret, SecretString};

use crate::browser::Browser;
use crate::codes::OneTimeCodes;
use crate::config::{
    ARGON2_ITERATIONS, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, Config, ConfigError, HMAC_KEY,
    HMAC_KEY_SECRET_ARN, KeySource, KeysetSource, MailSettings, TOKEN_KEYS_FILE,
    TOKEN_KEYS_SECRET_ARN, TOKEN_SIGNING_ALG,
};
use crate::keys::{KeySet, KeySetError};
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::session::RefreshTokens;
use crate::store::{LoginThrottle, UserStore};
use crate::token::{KeyTooShort, SigningKey, TokenService, TokenSettings};

/// The shared state of one function instance.
#[derive(Debug)]
pub struct AppState {
    /// Users in DynamoDB.
    pub users: UserStore,
    /// Per-email login backoff, in the same table.
    pub login_throttle: LoginThrottle,
    /// Refresh tokens and session lifetimes.
    pub refresh_tokens: RefreshTokens,
    /// Access token issue and verification.
    pub tokens: TokenService,
    /// Rules for new passwords.
    pub password_policy: PasswordPolicy,
    /// argon2id hashing and verification with the configured parameters.
    pub passwords: PasswordHasher,
    /// One-time codes (links and codes in mail): issue and check.
    pub codes: OneTimeCodes,
    /// Mail settings: the queue, links, sender, limits, whether sign-in needs a verified address.
    pub mail: MailSettings,
    /// CORS and the refresh cookie: which origins browsers may call from.
    pub browser: Browser,
}

/// Why a function refused to start. Each message names the variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A variable is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A secret could not be read (the SDK's error is the source).
    #[error("could not read the secret named by {0}")]
    Secret(
        &'static str,
        #[source] Box<dyn std::error::Error + Send + Sync>,
    ),
    /// A secret holds no text.
    #[error("the secret named by {0} has no SecretString")]
    SecretNotText(&'static str),
    /// The keyset file could not be read.
    #[error("could not read the file named by {TOKEN_KEYS_FILE}")]
    KeysetFile(#[source] std::io::Error),
    /// The keyset is not usable.
    #[error("{variable}: {source}")]
    Keyset {
        /// Where it came from.
        variable: &'static str,
        /// What is wrong with it.
        source: KeySetError,
    },
    /// The keyset's current key is not of the configured algorithm.
    #[error("{TOKEN_SIGNING_ALG} is {configured}, but the keyset's current key is {found}")]
    AlgorithmMismatch {
        /// What the configuration says.
        configured: String,
        /// What the current key is.
        found: String,
    },
    /// argon2 refuses the configured cost parameters.
    #[error(
        "{ARGON2_MEMORY_KIB}, {ARGON2_ITERATIONS} and {ARGON2_PARALLELISM}: argon2 refuses these parameters"
    )]
    Argon2(#[source] argon2::Error),
    /// The signing key is too short.
    #[error("{variable}: {source}")]
    Key {
        /// Where the key came from.
        variable: &'static str,
        /// How short it was.
        source: KeyTooShort,
    },
}

/// What a function builds once per cold start, from the environment: [`AppState`], or a state
/// holding it with the clients only some functions need ([`crate::mail::Mailing`]).
pub trait FunctionState: Sized + Send + Sync + 'static {
    /// Reads the environment and builds the clients.
    fn from_env() -> impl Future<Output = Result<Self, StartupError>> + Send;
}

impl FunctionState for AppState {
    async fn from_env() -> Result<Self, StartupError> {
        Ok(Self::from_env_with_sdk().await?.0)
    }
}

/// A function's cold start: JSON logging on (`function`'s own logs down to `trace`), then
/// [`FunctionState::from_env`]. A failure is logged (naming the variable to fix) and returned, so
/// the function refuses to start.
pub async fn cold_start<S: FunctionState>(function: &'static str) -> Result<S, StartupError> {
    crate::telemetry::init(function);
    S::from_env().await.inspect_err(|error| {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        tracing::error!(error = %message, "refusing to start");
    })
}

impl AppState {
    /// Reads the environment, fetches the signing key and builds the DynamoDB client; also
    /// returns the SDK configuration, for the clients some functions add.
    pub async fn from_env_with_sdk() -> Result<(Self, SdkConfig), StartupError> {
        let config = Config::from_env()?;
        let sdk = sdk_config_loader(&config).load().await;
        Ok((Self::new(config, &sdk).await?, sdk))
    }

    /// Builds the state from a configuration and an AWS SDK configuration made by
    /// [`sdk_config_loader`] (tests point the latter at other endpoints).
    pub async fn new(config: Config, sdk: &SdkConfig) -> Result<Self, StartupError> {
        Self::with_dynamodb(config, sdk, aws_sdk_dynamodb::Client::new(sdk)).await
    }

    /// As [`AppState::new`], over a given DynamoDB client (tests add interceptors to theirs).
    ///
    /// The HMAC key and the access-token keyset are fetched concurrently: one round trip to
    /// Secrets Manager before the first request, however many secrets there are.
    pub async fn with_dynamodb(
        config: Config,
        sdk: &SdkConfig,
        dynamodb: aws_sdk_dynamodb::Client,
    ) -> Result<Self, StartupError> {
        // Cheap: its dummy hash is made at the first verification, in the functions that verify.
        let passwords = PasswordHasher::new(config.argon2).map_err(StartupError::Argon2)?;
        let settings = TokenSettings {
            issuer: config.token_issuer,
            audience: config.token_audience,
            ttl: config.access_token_ttl,
        };
        let (key, tokens) = tokio::try_join!(
            signing_key(config.hmac_key, sdk),
            token_service(&config.token_keys, &config.token_alg, settings, sdk),
        )?;
        Ok(Self {
            login_throttle: LoginThrottle::new(
                dynamodb.clone(),
                config.table_name.clone(),
                key.derive(LOGIN_THROTTLE_KEY_PURPOSE),
                config.login_throttle,
            ),
            refresh_tokens: RefreshTokens::new(
                key.derive(REFRESH_TOKEN_KEY_PURPOSE),
                config.sessions,
            ),
            users: UserStore::new(dynamodb, config.table_name),
            tokens,
            password_policy: PasswordPolicy::new(config.password_min_length),
            passwords,
            codes: OneTimeCodes::new(key.derive(CODE_KEY_PURPOSE), config.mail.lifetimes),
            mail: config.mail,
            browser: Browser::new(config.browser),
        })
    }
}

/// The state of the preflight function: the CORS policy, from the environment alone (no
/// secret, no client, no network before the first request).
impl FunctionState for Browser {
    async fn from_env() -> Result<Self, StartupError> {
        Ok(Browser::new(Config::from_env()?.browser))
    }
}

/// The state of a function that publishes token metadata and needs no key: OpenID discovery
/// (the issuer and the signing algorithm come from the environment; no network at cold start).
#[derive(Debug)]
pub struct Discovery {
    /// CORS: which origins browsers may call from.
    pub browser: Browser,
    /// The `iss` of every access token (`TOKEN_ISSUER`).
    pub issuer: String,
    /// The algorithm access tokens are signed with (`TOKEN_SIGNING_ALG`).
    pub algorithm: String,
}

impl Discovery {
    /// The discovery state of a configuration.
    pub fn new(config: Config) -> Self {
        Self {
            browser: Browser::new(config.browser),
            issuer: config.token_issuer,
            algorithm: config.token_alg,
        }
    }
}

impl FunctionState for Discovery {
    async fn from_env() -> Result<Self, StartupError> {
        Ok(Self::new(Config::from_env()?))
    }
}

/// The state of a function that needs the access-token keys and nothing else (the JWKS): the
/// keyset only, one round trip to Secrets Manager in AWS (none from a file), no HMAC key.
#[derive(Debug)]
pub struct TokenKeys {
    /// CORS: which origins browsers may call from.
    pub browser: Browser,
    /// The access-token keys.
    pub tokens: TokenService,
}

impl TokenKeys {
    /// Fetches the keyset of `config` (from `TOKEN_KEYS_FILE` or `TOKEN_KEYS_SECRET_ARN`).
    pub async fn new(config: Config, sdk: &SdkConfig) -> Result<Self, StartupError> {
        let settings = TokenSettings {
            issuer: config.token_issuer,
            audience: config.token_audience,
            ttl: config.access_token_ttl,
        };
        let tokens = token_service(&config.token_keys, &config.token_alg, settings, sdk).await?;
        Ok(Self {
            browser: Browser::new(config.browser),
            tokens,
        })
    }
}

impl FunctionState for TokenKeys {
    async fn from_env() -> Result<Self, StartupError> {
        let config = Config::from_env()?;
        let sdk = sdk_config_loader(&config).load().await;
        Self::new(config, &sdk).await
    }
}

/// The HMAC key that the refresh-token, code and throttle keys derive from.
async fn signing_key(source: KeySource, sdk: &SdkConfig) -> Result<SigningKey, StartupError> {
    let (key, variable) = match source {
        KeySource::Inline(key) => (key, HMAC_KEY.name),
        KeySource::SecretArn(arn) => (
            fetch_secret(sdk, &arn, HMAC_KEY_SECRET_ARN.name).await?,
            HMAC_KEY_SECRET_ARN.name,
        ),
    };
    SigningKey::new(key).map_err(|source| StartupError::Key { variable, source })
}

/// The access-token service over the keyset `source` names, whose current key must be of
/// algorithm `alg`.
async fn token_service(
    source: &KeysetSource,
    alg: &str,
    settings: TokenSettings,
    sdk: &SdkConfig,
) -> Result<TokenService, StartupError> {
    let (keyset, variable) = match source {
        KeysetSource::File(path) => (
            SecretString::from(std::fs::read_to_string(path).map_err(StartupError::KeysetFile)?),
            TOKEN_KEYS_FILE.name,
        ),
        KeysetSource::SecretArn(arn) => (
            fetch_secret(sdk, arn, TOKEN_KEYS_SECRET_ARN.name).await?,
            TOKEN_KEYS_SECRET_ARN.name,
        ),
    };
    let keyset = KeySet::from_json(keyset.expose_secret())
        .map_err(|source| StartupError::Keyset { variable, source })?;
    let found = format!("{:?}", keyset.current().alg);
    if found != alg {
        return Err(StartupError::AlgorithmMismatch {
            configured: alg.to_owned(),
            found,
        });
    }
    Ok(TokenService::asymmetric(keyset, settings))
}

/// The label the login-throttle key is derived under (see [`SigningKey::derive`]).
const LOGIN_THROTTLE_KEY_PURPOSE: &str = "accounts-api/login-throttle/v1";
/// The label the one-time code key is derived under.
const CODE_KEY_PURPOSE: &str = "accounts-api/one-time-codes/v1";
/// The label the refresh-token key is derived under.
const REFRESH_TOKEN_KEY_PURPOSE: &str = "accounts-api/refresh-token/v1";

/// The AWS SDK settings every function uses: region and credentials from the environment (the
/// Lambda role in AWS, the local env file on a laptop), `AWS_ENDPOINT_URL_DYNAMODB` honoured, and
/// DynamoDB calls bounded well inside the Lambda timeout: the whole operation, retries included,
/// within `DYNAMODB_TIMEOUT_MS`, each of up to 3 attempts within a third of it.
///
/// In Lambda (and under `make dev`, from `dev/local.env`) the region and the credentials are in
/// the environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...): then they are read from there
/// directly, skipping the profile files and provider chains the defaults probe first (0.3–0.5 ms
/// of every cold start, measured). Without them, the default chains apply as usual.
pub fn sdk_config_loader(config: &Config) -> ConfigLoader {
    let loader = sdk_config_defaults(config);
    match (
        std::env::var("AWS_REGION"),
        std::env::var_os("AWS_ACCESS_KEY_ID"),
    ) {
        (Ok(region), Some(_)) => loader
            .region(aws_config::Region::new(region))
            .credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ),
        _ => loader,
    }
}

fn sdk_config_defaults(config: &Config) -> ConfigLoader {
    let budget = config.dynamodb_timeout;
    let attempt = budget / 3;
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(attempt)
                .operation_attempt_timeout(attempt)
                .operation_timeout(budget)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(25))
                .with_max_backoff(Duration::from_millis(250)),
        )
}

/// The root certificates of Amazon Trust Services (Amazon Root CA 1 to 4, and the Starfield
/// root that cross-signs them), which sign every AWS service endpoint (DynamoDB, Secrets
/// Manager, STS). Source and fingerprints: shared/data/README.md.
const AWS_ROOT_CAS: &[u8] = include_bytes!("../data/aws-root-cas.pem");

/// The SDK's HTTPS client (rustls on aws-lc, as the SDK's default) trusting [`AWS_ROOT_CAS`]
/// only. The default trusts the system's store, which it reads at every cold start: the CA
/// bundle and then every file in `/etc/ssl/certs` (init went from 5.5–5.9 to 2.8–3.4 ms
/// without it, docs/benchmarks.md). The consequence: the functions can speak TLS only to endpoints with
/// an Amazon-issued certificate, which every AWS endpoint has (VPC and FIPS endpoints too),
/// and not to, say, a TLS-intercepting proxy. Plain-HTTP endpoints (the local DynamoDB) are
/// unaffected.
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let trust = TrustStore::empty().with_pem_certificate(AWS_ROOT_CAS);
    // Start-up only, on bytes compiled into the binary (a unit test builds the same client).
    #[allow(clippy::expect_used)]
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("the embedded Amazon root certificates are valid PEM");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

async fn fetch_secret(
    sdk: &SdkConfig,
    arn: &str,
    variable: &'static str,
) -> Result<SecretString, StartupError> {
    let output = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|error| StartupError::Secret(variable, error.into()))?;
    output
        .secret_string
        .map(SecretString::from)
        .ok_or(StartupError::SecretNotText(variable))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded trust store is the five Amazon Trust Services roots, each a whole PEM block
    /// with the comment naming it (shared/data/README.md gives their fingerprints).
    #[test]
    fn the_trust_store_is_the_five_amazon_roots() {
        let pem = std::str::from_utf8(AWS_ROOT_CAS).expect("text");
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert_eq!(pem.matches("-----END CERTIFICATE-----").count(), 5);
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(pem.contains(&format!("CN = {name} (SHA-256 ")), "{name}");
        }
        // The client builds (the PEM is parsed when it first connects).
        let _client = https_client();
    }
}
