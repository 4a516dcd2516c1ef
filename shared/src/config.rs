//! Typed configuration, read from the environment once per cold start.
//!
//! Every variable, its default, its range and its meaning is written once, in [`VARIABLES`]; a
//! missing or malformed variable fails start-up with its name in the message.

use std::time::Duration;

use secrecy::SecretString;

use crate::password::{
    ARGON2_M_COST, ARGON2_P_COST, ARGON2_T_COST, Argon2Settings, MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
};

/// One configuration variable, written once: its name, default, range and meaning. The parser
/// reads through it; `shared/examples/config_table.rs` prints [`VARIABLES`] as JSON, from which
/// docs/configuration.md's table is generated and against which template.yaml's Parameters (`Default`,
/// `MinValue`, `MaxValue`) and `dev/local.env` are checked (`dev/tests/test_config.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// The environment variable.
    pub name: &'static str,
    /// What applies when it is unset or empty.
    pub default: Unset,
    /// The inclusive range of a number.
    pub range: Option<(u64, u64)>,
    /// What it means (one line of docs/configuration.md's table).
    pub doc: &'static str,
}

/// What a [`Variable`] means when it is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// It must be set.
    Required,
    /// It or the other variable named must be set, not both.
    OneOf(&'static str),
    /// This text.
    Text(&'static str),
    /// This number.
    Number(u64),
}

impl std::fmt::Display for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Variable {
    /// The default of a number variable (0 for any other: only used on number variables).
    pub const fn number(self) -> u64 {
        match self.default {
            Unset::Number(value) => value,
            _ => 0,
        }
    }
}

const fn number_variable(
    name: &'static str,
    default: u64,
    range: (u64, u64),
    doc: &'static str,
) -> Variable {
    Variable {
        name,
        default: Unset::Number(default),
        range: Some(range),
        doc,
    }
}

const YEAR_SECONDS: u64 = 365 * 24 * 3600;

/// The DynamoDB table.
pub const TABLE_NAME: Variable = Variable {
    name: "TABLE_NAME",
    default: Unset::Required,
    range: None,
    doc: "the DynamoDB table",
};
/// ARN of the Secrets Manager secret holding the HMAC key (used in AWS).
pub const HMAC_KEY_SECRET_ARN: Variable = Variable {
    name: "HMAC_KEY_SECRET_ARN",
    default: Unset::OneOf("HMAC_KEY"),
    range: None,
    doc: "ARN of the Secrets Manager secret holding the HMAC key (AWS): refresh tokens, login-throttle keys and mailed codes are derived from it (it signed the HS256 access tokens before ES256/RS256: keep its value and nobody is signed out)",
};
/// The HMAC key itself (used locally).
pub const HMAC_KEY: Variable = Variable {
    name: "HMAC_KEY",
    default: Unset::OneOf("HMAC_KEY_SECRET_ARN"),
    range: None,
    doc: "the HMAC key itself (local development only); at least 32 bytes either way",
};
/// The algorithm access tokens are signed with.
pub const TOKEN_SIGNING_ALG: Variable = Variable {
    name: "TOKEN_SIGNING_ALG",
    default: Unset::Text("ES256"),
    range: None,
    doc: "`ES256` or `RS256` (which API Gateway's JWT authorizer needs): the algorithm of the keyset's current key; a function refuses to start on a keyset whose current key has another",
};
/// ARN of the Secrets Manager secret holding the access-token keyset (used in AWS).
pub const TOKEN_KEYS_SECRET_ARN: Variable = Variable {
    name: "TOKEN_KEYS_SECRET_ARN",
    default: Unset::OneOf("TOKEN_KEYS_FILE"),
    range: None,
    doc: "ARN of the Secrets Manager secret holding the access-token keyset (AWS): next, current and previous private keys, see `make rotate-key`",
};
/// A file holding the access-token keyset (used locally).
pub const TOKEN_KEYS_FILE: Variable = Variable {
    name: "TOKEN_KEYS_FILE",
    default: Unset::OneOf("TOKEN_KEYS_SECRET_ARN"),
    range: None,
    doc: "a file holding the access-token keyset (local development only: `make dev` and `make test` generate it under `.local/`, out of git)",
};
/// The `iss` claim.
pub const TOKEN_ISSUER: Variable = Variable {
    name: "TOKEN_ISSUER",
    default: Unset::Text("http://127.0.0.1:9000"),
    range: None,
    doc: "the `iss` claim written and required: the API's public base URL (http or https), under which `/.well-known/openid-configuration` and `/.well-known/jwks.json` are served; the template sets the API's own URL unless `TokenIssuer` names another (a custom domain)",
};
/// The `aud` claim.
pub const TOKEN_AUDIENCE: Variable = Variable {
    name: "TOKEN_AUDIENCE",
    default: Unset::Text("accounts-api"),
    range: None,
    doc: "the `aud` claim written and required",
};
/// Access token lifetime in seconds.
pub const ACCESS_TOKEN_TTL_SECONDS: Variable = number_variable(
    "ACCESS_TOKEN_TTL_SECONDS",
    900,
    (60, 86_400),
    "access token lifetime in seconds",
);
/// Minimum password length in code points.
pub const PASSWORD_MIN_LENGTH: Variable = number_variable(
    "PASSWORD_MIN_LENGTH",
    MIN_PASSWORD_LENGTH as u64,
    (MIN_PASSWORD_LENGTH as u64, MAX_PASSWORD_LENGTH as u64),
    "minimum length of new passwords, in characters",
);
/// Budget for one DynamoDB operation, retries included, in ms.
pub const DYNAMODB_TIMEOUT_MS: Variable = number_variable(
    "DYNAMODB_TIMEOUT_MS",
    3_000,
    (100, 20_000),
    "budget for one DynamoDB operation including its retries (3 attempts, each within a third), in ms; must stay well under the Lambda timeout (10 s)",
);
/// Argon2id memory cost of new hashes in KiB; never below OWASP's minimum.
pub const ARGON2_MEMORY_KIB: Variable = number_variable(
    "ARGON2_MEMORY_KIB",
    ARGON2_M_COST as u64,
    (ARGON2_M_COST as u64, 1_048_576),
    "argon2id memory of new hashes, KiB (never below OWASP's minimum). Raise to strengthen: each account is rehashed at its next login",
);
/// Argon2id passes of new hashes.
pub const ARGON2_ITERATIONS: Variable = number_variable(
    "ARGON2_ITERATIONS",
    ARGON2_T_COST as u64,
    (ARGON2_T_COST as u64, 20),
    "argon2id passes of new hashes",
);
/// Argon2id lanes of new hashes.
pub const ARGON2_PARALLELISM: Variable = number_variable(
    "ARGON2_PARALLELISM",
    ARGON2_P_COST as u64,
    (ARGON2_P_COST as u64, 16),
    "argon2id lanes of new hashes",
);
/// Seconds a session lives without a refresh.
pub const SESSION_IDLE_TTL_SECONDS: Variable = number_variable(
    "SESSION_IDLE_TTL_SECONDS",
    7 * 24 * 3600,
    (300, YEAR_SECONDS),
    "a session ends after this many seconds without a refresh (7 days)",
);
/// Seconds a session lives at most after sign-in; at least the idle lifetime.
pub const SESSION_MAX_TTL_SECONDS: Variable = number_variable(
    "SESSION_MAX_TTL_SECONDS",
    30 * 24 * 3600,
    (300, YEAR_SECONDS),
    "a session ends at the latest this many seconds after sign-in (30 days); at least the idle lifetime",
);
/// Seconds after a rotation during which the just-rotated refresh token still answers.
pub const REFRESH_REUSE_GRACE_SECONDS: Variable = number_variable(
    "REFRESH_REUSE_GRACE_SECONDS",
    10,
    (0, 300),
    "after a rotation, the just-rotated refresh token still answers (with the current one) for this many seconds",
);
/// Consecutive failed logins for one email before it is throttled.
pub const LOGIN_THROTTLE_THRESHOLD: Variable = number_variable(
    "LOGIN_THROTTLE_THRESHOLD",
    5,
    (1, 100),
    "consecutive failed logins for one email from one source address before that source's attempts on it are slowed down",
);
/// The first throttle delay in seconds, doubled on each further failure.
pub const LOGIN_THROTTLE_BASE_DELAY_SECONDS: Variable = number_variable(
    "LOGIN_THROTTLE_BASE_DELAY_SECONDS",
    1,
    (1, 3_600),
    "the first wait after the threshold, in seconds, doubled with each further failure",
);
/// The longest throttle delay in seconds; at least the base delay.
pub const LOGIN_THROTTLE_MAX_DELAY_SECONDS: Variable = number_variable(
    "LOGIN_THROTTLE_MAX_DELAY_SECONDS",
    900,
    (1, 86_400),
    "the longest wait between login attempts for one email, in seconds (backoff, never a lockout); at least the base delay",
);
/// Consecutive failed logins for one email, from every source together, before all of its
/// attempts are slowed down.
pub const LOGIN_THROTTLE_ADDRESS_LIMIT: Variable = number_variable(
    "LOGIN_THROTTLE_ADDRESS_LIMIT",
    100,
    (5, 100),
    "consecutive failed logins for one email from all sources together before every attempt on it is slowed down (NIST SP 800-63B: at most 100)",
);
/// The SQS queue the functions put mail requests on.
pub const MAIL_QUEUE_URL: Variable = Variable {
    name: "MAIL_QUEUE_URL",
    default: Unset::Required,
    range: None,
    doc: "URL of the SQS queue that requests put mail on (the mailer sends it)",
};
/// The web client's base URL: links in mail open its pages.
pub const APP_BASE_URL: Variable = Variable {
    name: "APP_BASE_URL",
    default: Unset::Text("http://localhost:3000"),
    range: None,
    doc: "the web client's base URL (http or https): links in mail are `<APP_BASE_URL>/<verify|reset|confirm-email>#token=…`",
};
/// The web origins a browser may call the API from, with credentials.
pub const ALLOWED_ORIGINS: Variable = Variable {
    name: "ALLOWED_ORIGINS",
    default: Unset::Text(""),
    range: None,
    doc: "comma-separated web origins (`https://app.example.com`, no path) granted CORS with credentials and trusted for the refresh cookie; empty: no CORS (the origin of `APP_BASE_URL` is trusted for the cookie either way)",
};
/// The sender of every message.
pub const MAIL_FROM: Variable = Variable {
    name: "MAIL_FROM",
    default: Unset::Text("no-reply@example.com"),
    range: None,
    doc: "the sender of every message: an address of a verified SES identity (the mailer may send only from it)",
};
/// The product name mail speaks for.
pub const PRODUCT_NAME: Variable = Variable {
    name: "PRODUCT_NAME",
    default: Unset::Text("Accounts"),
    range: None,
    doc: "the product name in mail subjects and bodies",
};
/// Whether an account must prove its address before it can sign in.
pub const EMAIL_VERIFICATION_REQUIRED: Variable = Variable {
    name: "EMAIL_VERIFICATION_REQUIRED",
    default: Unset::Text("false"),
    range: None,
    doc: "`true`: register answers 202 alike for new and taken addresses and starts no session; login refuses unverified accounts (403 `email_not_verified`). `false`: register signs in at once",
};
/// Lifetime of an address verification code.
pub const VERIFY_EMAIL_TTL_SECONDS: Variable = number_variable(
    "VERIFY_EMAIL_TTL_SECONDS",
    24 * 3600,
    (300, 7 * 24 * 3600),
    "lifetime of an address verification link and code, in seconds (24 h)",
);
/// Lifetime of a password reset code.
pub const PASSWORD_RESET_TTL_SECONDS: Variable = number_variable(
    "PASSWORD_RESET_TTL_SECONDS",
    3600,
    (300, 24 * 3600),
    "lifetime of a password reset link and code, in seconds (1 h)",
);
/// Lifetime of an email change confirmation code.
pub const EMAIL_CHANGE_TTL_SECONDS: Variable = number_variable(
    "EMAIL_CHANGE_TTL_SECONDS",
    3600,
    (300, 24 * 3600),
    "lifetime of an email change confirmation link and code, in seconds (1 h)",
);
/// Minimum seconds between two messages of one purpose to one address.
pub const MAIL_MIN_INTERVAL_SECONDS: Variable = number_variable(
    "MAIL_MIN_INTERVAL_SECONDS",
    60,
    (0, 3600),
    "at most one message of each kind per address in this many seconds; requests over it answer as usual and send nothing",
);
/// Most messages to one address per hour.
pub const MAIL_HOURLY_LIMIT: Variable = number_variable(
    "MAIL_HOURLY_LIMIT",
    5,
    (1, 100),
    "at most this many messages to one address per hour, all kinds together",
);
/// The log filter, read by [`crate::telemetry`].
pub const RUST_LOG: Variable = Variable {
    name: "RUST_LOG",
    default: Unset::Text("info"),
    range: None,
    doc: "log filter: `target=level` directives, e.g. `info,shared=debug` (`tracing_subscriber::filter::Targets` syntax; no span filters); dependencies never below `debug`",
};

/// Every variable the functions read, in the order docs/configuration.md lists them.
pub const VARIABLES: &[Variable] = &[
    TABLE_NAME,
    HMAC_KEY_SECRET_ARN,
    HMAC_KEY,
    TOKEN_SIGNING_ALG,
    TOKEN_KEYS_SECRET_ARN,
    TOKEN_KEYS_FILE,
    TOKEN_ISSUER,
    TOKEN_AUDIENCE,
    ACCESS_TOKEN_TTL_SECONDS,
    PASSWORD_MIN_LENGTH,
    DYNAMODB_TIMEOUT_MS,
    ARGON2_MEMORY_KIB,
    ARGON2_ITERATIONS,
    ARGON2_PARALLELISM,
    SESSION_IDLE_TTL_SECONDS,
    SESSION_MAX_TTL_SECONDS,
    REFRESH_REUSE_GRACE_SECONDS,
    LOGIN_THROTTLE_THRESHOLD,
    LOGIN_THROTTLE_BASE_DELAY_SECONDS,
    LOGIN_THROTTLE_MAX_DELAY_SECONDS,
    LOGIN_THROTTLE_ADDRESS_LIMIT,
    MAIL_QUEUE_URL,
    APP_BASE_URL,
    ALLOWED_ORIGINS,
    MAIL_FROM,
    PRODUCT_NAME,
    EMAIL_VERIFICATION_REQUIRED,
    VERIFY_EMAIL_TTL_SECONDS,
    PASSWORD_RESET_TTL_SECONDS,
    EMAIL_CHANGE_TTL_SECONDS,
    MAIL_MIN_INTERVAL_SECONDS,
    MAIL_HOURLY_LIMIT,
    RUST_LOG,
];

/// Where the HMAC key comes from.
#[derive(Debug)]
pub enum KeySource {
    /// The key itself, from [`HMAC_KEY`].
    Inline(SecretString),
    /// A Secrets Manager secret, from [`HMAC_KEY_SECRET_ARN`].
    SecretArn(String),
}

/// Where the access-token keyset comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysetSource {
    /// A file, from [`TOKEN_KEYS_FILE`].
    File(std::path::PathBuf),
    /// A Secrets Manager secret, from [`TOKEN_KEYS_SECRET_ARN`].
    SecretArn(String),
}

/// The whole configuration of a function.
#[derive(Debug)]
pub struct Config {
    /// See [`TABLE_NAME`].
    pub table_name: String,
    /// See [`HMAC_KEY`] and [`HMAC_KEY_SECRET_ARN`].
    pub hmac_key: KeySource,
    /// See [`TOKEN_KEYS_FILE`] and [`TOKEN_KEYS_SECRET_ARN`].
    pub token_keys: KeysetSource,
    /// See [`TOKEN_SIGNING_ALG`]: `ES256` or `RS256`.
    pub token_alg: String,
    /// See [`TOKEN_ISSUER`].
    pub token_issuer: String,
    /// See [`TOKEN_AUDIENCE`].
    pub token_audience: String,
    /// See [`ACCESS_TOKEN_TTL_SECONDS`].
    pub access_token_ttl: Duration,
    /// See [`PASSWORD_MIN_LENGTH`].
    pub password_min_length: usize,
    /// See [`DYNAMODB_TIMEOUT_MS`].
    pub dynamodb_timeout: Duration,
    /// See [`LOGIN_THROTTLE_THRESHOLD`] and the two delay variables.
    pub login_throttle: ThrottleSettings,
    /// See [`SESSION_IDLE_TTL_SECONDS`] and its siblings.
    pub sessions: SessionSettings,
    /// See [`ARGON2_MEMORY_KIB`] and its siblings.
    pub argon2: Argon2Settings,
    /// See [`MAIL_QUEUE_URL`] and the variables after it.
    pub mail: MailSettings,
    /// See [`ALLOWED_ORIGINS`] and [`APP_BASE_URL`].
    pub browser: BrowserSettings,
}

/// Which web origins browsers may call the API from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrowserSettings {
    /// See [`ALLOWED_ORIGINS`]: serialised origins (`scheme://host[:port]`), granted CORS.
    pub allowed_origins: Vec<String>,
    /// The origin of [`APP_BASE_URL`]: trusted for cookie requests (a same-origin deployment
    /// needs no CORS), granted CORS only if also listed in [`ALLOWED_ORIGINS`].
    pub app_origin: String,
}

/// Mail: where requests go, what links open, who sends, how often, and what needs a verified
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// See [`MAIL_QUEUE_URL`].
    pub queue_url: String,
    /// See [`APP_BASE_URL`] (without a trailing `/`).
    pub app_base_url: String,
    /// See [`MAIL_FROM`].
    pub from: String,
    /// See [`PRODUCT_NAME`].
    pub product_name: String,
    /// See [`EMAIL_VERIFICATION_REQUIRED`].
    pub verification_required: bool,
    /// See [`VERIFY_EMAIL_TTL_SECONDS`] and its siblings.
    pub lifetimes: crate::codes::CodeLifetimes,
    /// See [`MAIL_MIN_INTERVAL_SECONDS`].
    pub min_interval: Duration,
    /// See [`MAIL_HOURLY_LIMIT`].
    pub hourly_limit: u32,
}

/// Session lifetimes and the refresh-token reuse grace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// See [`SESSION_IDLE_TTL_SECONDS`].
    pub idle_ttl: Duration,
    /// See [`SESSION_MAX_TTL_SECONDS`].
    pub max_ttl: Duration,
    /// See [`REFRESH_REUSE_GRACE_SECONDS`].
    pub reuse_grace: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_ttl: Duration::from_secs(SESSION_IDLE_TTL_SECONDS.number()),
            max_ttl: Duration::from_secs(SESSION_MAX_TTL_SECONDS.number()),
            reuse_grace: Duration::from_secs(REFRESH_REUSE_GRACE_SECONDS.number()),
        }
    }
}

/// Login backoff, counted per (email, source address) and per email: after `threshold`
/// consecutive failures from one source, or `address_limit` from all sources together, each
/// further attempt waits `base_delay` doubled for every failure beyond, at most `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// See [`LOGIN_THROTTLE_THRESHOLD`].
    pub threshold: u32,
    /// See [`LOGIN_THROTTLE_BASE_DELAY_SECONDS`].
    pub base_delay: Duration,
    /// See [`LOGIN_THROTTLE_MAX_DELAY_SECONDS`].
    pub max_delay: Duration,
    /// See [`LOGIN_THROTTLE_ADDRESS_LIMIT`].
    pub address_limit: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            threshold: 5,
            base_delay: Duration::from_secs(LOGIN_THROTTLE_BASE_DELAY_SECONDS.number()),
            max_delay: Duration::from_secs(LOGIN_THROTTLE_MAX_DELAY_SECONDS.number()),
            address_limit: 100,
        }
    }
}

/// A configuration problem, naming the variable.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} must be set")]
    Missing(&'static str),
    /// A variable is set but unusable.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong, without its value.
        reason: String,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not mutate the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get =
            |variable: Variable| lookup(variable.name).filter(|value| !value.trim().is_empty());
        let hmac_key = match exactly_one(&get, HMAC_KEY_SECRET_ARN, HMAC_KEY)? {
            Either::Aws(arn) => KeySource::SecretArn(arn),
            Either::Local(key) => KeySource::Inline(SecretString::from(key)),
        };
        let token_keys = match exactly_one(&get, TOKEN_KEYS_SECRET_ARN, TOKEN_KEYS_FILE)? {
            Either::Aws(arn) => KeysetSource::SecretArn(arn),
            Either::Local(path) => KeysetSource::File(path.into()),
        };
        let token_alg = text(&get, TOKEN_SIGNING_ALG);
        if !matches!(token_alg.as_str(), "ES256" | "RS256") {
            return Err(ConfigError::Invalid {
                name: TOKEN_SIGNING_ALG.name,
                reason: "must be ES256 or RS256".to_owned(),
            });
        }
        let number = |variable| number(&get, variable);
        let seconds = |variable| number(variable).map(Duration::from_secs);
        let sessions = SessionSettings {
            idle_ttl: seconds(SESSION_IDLE_TTL_SECONDS)?,
            max_ttl: at_least(
                seconds(SESSION_MAX_TTL_SECONDS)?,
                SESSION_MAX_TTL_SECONDS,
                SESSION_IDLE_TTL_SECONDS,
                seconds(SESSION_IDLE_TTL_SECONDS)?,
            )?,
            reuse_grace: seconds(REFRESH_REUSE_GRACE_SECONDS)?,
        };
        let base_delay = seconds(LOGIN_THROTTLE_BASE_DELAY_SECONDS)?;
        let login_throttle = ThrottleSettings {
            threshold: narrow(number(LOGIN_THROTTLE_THRESHOLD)?, LOGIN_THROTTLE_THRESHOLD)?,
            base_delay,
            max_delay: at_least(
                seconds(LOGIN_THROTTLE_MAX_DELAY_SECONDS)?,
                LOGIN_THROTTLE_MAX_DELAY_SECONDS,
                LOGIN_THROTTLE_BASE_DELAY_SECONDS,
                base_delay,
            )?,
            address_limit: narrow(
                number(LOGIN_THROTTLE_ADDRESS_LIMIT)?,
                LOGIN_THROTTLE_ADDRESS_LIMIT,
            )?,
        };
        let app_base_url = text(&get, APP_BASE_URL);
        // `origin_of` is also the check: an http or https URL with a host.
        let browser = BrowserSettings {
            allowed_origins: origins(&text(&get, ALLOWED_ORIGINS))?,
            app_origin: origin_of(&app_base_url).ok_or_else(|| ConfigError::Invalid {
                name: APP_BASE_URL.name,
                reason: "must be an http or https URL".to_owned(),
            })?,
        };
        let token_issuer = text(&get, TOKEN_ISSUER);
        if !url::Url::parse(&token_issuer)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        {
            return Err(ConfigError::Invalid {
                name: TOKEN_ISSUER.name,
                reason: "must be the API's public base URL (http or https)".to_owned(),
            });
        }
        let verification_required = match text(&get, EMAIL_VERIFICATION_REQUIRED).as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ConfigError::Invalid {
                    name: EMAIL_VERIFICATION_REQUIRED.name,
                    reason: "must be `true` or `false`".to_owned(),
                });
            }
        };
        let table_name = get(TABLE_NAME).ok_or(ConfigError::Missing(TABLE_NAME.name))?;
        let mail = MailSettings {
            queue_url: get(MAIL_QUEUE_URL).ok_or(ConfigError::Missing(MAIL_QUEUE_URL.name))?,
            app_base_url: app_base_url.trim_end_matches('/').to_owned(),
            from: text(&get, MAIL_FROM),
            product_name: text(&get, PRODUCT_NAME),
            verification_required,
            lifetimes: crate::codes::CodeLifetimes {
                verify: seconds(VERIFY_EMAIL_TTL_SECONDS)?,
                reset: seconds(PASSWORD_RESET_TTL_SECONDS)?,
                change_email: seconds(EMAIL_CHANGE_TTL_SECONDS)?,
            },
            min_interval: seconds(MAIL_MIN_INTERVAL_SECONDS)?,
            hourly_limit: narrow(number(MAIL_HOURLY_LIMIT)?, MAIL_HOURLY_LIMIT)?,
        };
        Ok(Self {
            mail,
            browser,
            table_name,
            hmac_key,
            token_keys,
            token_alg,
            token_issuer,
            token_audience: text(&get, TOKEN_AUDIENCE),
            access_token_ttl: seconds(ACCESS_TOKEN_TTL_SECONDS)?,
            password_min_length: narrow(number(PASSWORD_MIN_LENGTH)?, PASSWORD_MIN_LENGTH)?,
            dynamodb_timeout: Duration::from_millis(number(DYNAMODB_TIMEOUT_MS)?),
            login_throttle,
            sessions,
            argon2: Argon2Settings {
                memory_kib: narrow(number(ARGON2_MEMORY_KIB)?, ARGON2_MEMORY_KIB)?,
                iterations: narrow(number(ARGON2_ITERATIONS)?, ARGON2_ITERATIONS)?,
                parallelism: narrow(number(ARGON2_PARALLELISM)?, ARGON2_PARALLELISM)?,
            },
        })
    }
}

/// The serialised origin (`scheme://host[:port]`, default port omitted) of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .map(|url| url.origin().ascii_serialization())
}

/// [`ALLOWED_ORIGINS`]: a comma-separated list of origins, each exactly an origin (no path,
/// query, fragment or credentials; never `*`, which cannot carry credentials).
fn origins(raw: &str) -> Result<Vec<String>, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name: ALLOWED_ORIGINS.name,
        reason: reason.to_owned(),
    };
    let mut origins = Vec::new();
    for entry in raw
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        if entry == "*" || entry == "null" {
            return Err(invalid(
                "list origins one by one: `*` and `null` cannot be granted credentials",
            ));
        }
        let origin = origin_of(entry)
            .filter(|origin| *origin == entry.trim_end_matches('/').to_ascii_lowercase())
            .ok_or_else(|| {
                invalid("each entry must be an origin, `http(s)://host[:port]`, without a path")
            })?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// Which of a pair of variables was set: the one used in AWS (a secret's ARN) or locally.
enum Either {
    Aws(String),
    Local(String),
}

/// The value of exactly one of `aws` and `local`, or an error naming both (`local` first: the
/// one a developer sets).
fn exactly_one(
    get: &impl Fn(Variable) -> Option<String>,
    aws: Variable,
    local: Variable,
) -> Result<Either, ConfigError> {
    let (arn, key) = (aws.name, local.name);
    match (get(aws), get(local)) {
        (Some(value), None) => Ok(Either::Aws(value)),
        (None, Some(value)) => Ok(Either::Local(value)),
        (Some(_), Some(_)) => Err(ConfigError::Invalid {
            name: key,
            reason: format!("set {key} or {arn}, not both"),
        }),
        (None, None) => Err(ConfigError::Invalid {
            name: key,
            reason: format!("set {arn} (in AWS) or {key} (locally)"),
        }),
    }
}

/// A text variable, or its default.
fn text(get: &impl Fn(Variable) -> Option<String>, variable: Variable) -> String {
    match (get(variable), variable.default) {
        (Some(value), _) => value,
        (None, Unset::Text(default)) => default.to_owned(),
        (None, _) => String::new(),
    }
}

/// A number variable within its range, or its default.
fn number(
    get: &impl Fn(Variable) -> Option<String>,
    variable: Variable,
) -> Result<u64, ConfigError> {
    let (start, end) = variable.range.unwrap_or((0, u64::MAX));
    let Some(raw) = get(variable) else {
        return match variable.default {
            Unset::Number(default) => Ok(default),
            _ => Err(ConfigError::Missing(variable.name)),
        };
    };
    match raw.trim().parse::<u64>() {
        Ok(value) if (start..=end).contains(&value) => Ok(value),
        _ => Err(ConfigError::Invalid {
            name: variable.name,
            reason: format!("must be a whole number from {start} to {end}"),
        }),
    }
}

/// A number in range, as the type its setting holds (every range fits it).
fn narrow<T: TryFrom<u64>>(value: u64, variable: Variable) -> Result<T, ConfigError> {
    T::try_from(value).map_err(|_| ConfigError::Invalid {
        name: variable.name,
        reason: "is too large".to_owned(),
    })
}

/// `value` of `variable`, refused if below `floor`, the value of `other`.
fn at_least(
    value: Duration,
    variable: Variable,
    other: Variable,
    floor: Duration,
) -> Result<Duration, ConfigError> {
    if value < floor {
        return Err(ConfigError::Invalid {
            name: variable.name,
            reason: format!("must be at least {}", other.name),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(Variable, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.name.to_owned(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const MINIMAL: [(Variable, &str); 4] = [
        (TABLE_NAME, "users"),
        (HMAC_KEY, "k"),
        (TOKEN_KEYS_FILE, "/tmp/keys.json"),
        (MAIL_QUEUE_URL, "http://127.0.0.1:8000/000000000000/mail"),
    ];

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let config = config(&MINIMAL).expect("valid");
        assert_eq!(config.table_name, "users");
        assert_eq!(config.token_issuer, "http://127.0.0.1:9000");
        assert_eq!(config.token_audience, "accounts-api");
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        assert_eq!(config.password_min_length, 8);
        assert_eq!(config.dynamodb_timeout, Duration::from_millis(3000));
        assert_eq!(config.login_throttle, ThrottleSettings::default());
        assert_eq!(config.sessions, SessionSettings::default());
        assert_eq!(config.argon2, Argon2Settings::default());
        assert_eq!(config.sessions.idle_ttl, Duration::from_secs(604_800));
        assert_eq!(config.sessions.max_ttl, Duration::from_secs(2_592_000));
        assert_eq!(config.sessions.reuse_grace, Duration::from_secs(10));
        assert_eq!(config.login_throttle.threshold, 5);
        assert_eq!(config.login_throttle.max_delay, Duration::from_secs(900));
        assert!(matches!(config.hmac_key, KeySource::Inline(_)));
    }

    #[test]
    fn allowed_origins_are_exact_origins_listed_one_by_one() {
        let browser = |origins: &str| {
            let mut vars = MINIMAL.to_vec();
            vars.push((ALLOWED_ORIGINS, origins));
            vars.push((APP_BASE_URL, "https://App.example.com/accounts/"));
            config(&vars).map(|config| config.browser)
        };
        let settings =
            browser(" https://app.example.com, http://localhost:9002/,https://app.example.com")
                .expect("valid");
        assert_eq!(
            settings.allowed_origins,
            ["https://app.example.com", "http://localhost:9002"]
        );
        assert_eq!(settings.app_origin, "https://app.example.com");
        assert!(browser("").expect("valid").allowed_origins.is_empty());
        for bad in ["ftp://app.example.com", "not a url", "https://"] {
            let mut vars = MINIMAL.to_vec();
            vars.push((APP_BASE_URL, bad));
            assert!(
                matches!(
                    config(&vars),
                    Err(ConfigError::Invalid {
                        name: "APP_BASE_URL",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        for refused in [
            "*",
            "null",
            "https://app.example.com/path",
            "app.example.com",
            "ftp://x.example",
        ] {
            assert!(
                matches!(
                    browser(refused),
                    Err(ConfigError::Invalid {
                        name: "ALLOWED_ORIGINS",
                        ..
                    })
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn every_default_is_in_its_range_and_every_name_is_listed_once() {
        let mut names: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VARIABLES.len());
        for variable in VARIABLES {
            if let Some((min, max)) = variable.range {
                assert!(
                    min <= variable.number() && variable.number() <= max,
                    "{variable}"
                );
            }
            assert_eq!(
                variable.range.is_some(),
                matches!(variable.default, Unset::Number(_))
            );
        }
    }

    #[test]
    fn a_missing_table_name_is_named() {
        let error = config(&[(HMAC_KEY, "k"), (TOKEN_KEYS_FILE, "k.json")]).expect_err("invalid");
        assert_eq!(error.to_string(), "TABLE_NAME must be set");
    }

    #[test]
    fn the_key_must_come_from_exactly_one_place() {
        let none = config(&[(TABLE_NAME, "t")])
            .expect_err("invalid")
            .to_string();
        assert!(none.contains(HMAC_KEY.name) && none.contains(HMAC_KEY_SECRET_ARN.name));
        let both = config(&[
            (TABLE_NAME, "t"),
            (MAIL_QUEUE_URL, "q"),
            (HMAC_KEY, "k"),
            (
                HMAC_KEY_SECRET_ARN,
                "arn:aws:secretsmanager:eu-west-1:1:secret:x",
            ),
        ]);
        assert!(both.is_err());
        let arn = config(&[
            (TABLE_NAME, "t"),
            (MAIL_QUEUE_URL, "q"),
            (HMAC_KEY_SECRET_ARN, "arn:x"),
            (TOKEN_KEYS_SECRET_ARN, "arn:y"),
        ])
        .expect("valid");
        assert!(matches!(arn.hmac_key, KeySource::SecretArn(a) if a == "arn:x"));
        assert_eq!(arn.token_keys, KeysetSource::SecretArn("arn:y".into()));
        let keys_twice = config(&[
            (TABLE_NAME, "t"),
            (MAIL_QUEUE_URL, "q"),
            (HMAC_KEY, "k"),
            (TOKEN_KEYS_FILE, "k.json"),
            (TOKEN_KEYS_SECRET_ARN, "arn:y"),
        ]);
        assert!(keys_twice.is_err());
        let bad_alg = config(&[
            (TABLE_NAME, "t"),
            (MAIL_QUEUE_URL, "q"),
            (HMAC_KEY, "k"),
            (TOKEN_KEYS_FILE, "k.json"),
            (TOKEN_SIGNING_ALG, "HS256"),
        ]);
        assert!(
            bad_alg
                .expect_err("refused")
                .to_string()
                .contains(TOKEN_SIGNING_ALG.name)
        );
    }

    #[test]
    fn numbers_out_of_range_or_malformed_are_named() {
        for (name, value) in [
            (PASSWORD_MIN_LENGTH, "7"),
            (PASSWORD_MIN_LENGTH, "129"),
            (ACCESS_TOKEN_TTL_SECONDS, "15m"),
            (ACCESS_TOKEN_TTL_SECONDS, "-1"),
            (DYNAMODB_TIMEOUT_MS, "50"),
            (LOGIN_THROTTLE_THRESHOLD, "101"),
            (LOGIN_THROTTLE_BASE_DELAY_SECONDS, "3601"),
            (LOGIN_THROTTLE_MAX_DELAY_SECONDS, "86401"),
            (SESSION_IDLE_TTL_SECONDS, "299"),
            (SESSION_MAX_TTL_SECONDS, "31536001"),
            (REFRESH_REUSE_GRACE_SECONDS, "301"),
            // Below OWASP's minimums: refused, not silently raised.
            (ARGON2_MEMORY_KIB, "19455"),
            (ARGON2_ITERATIONS, "1"),
            (ARGON2_PARALLELISM, "0"),
        ] {
            let mut vars = MINIMAL.to_vec();
            vars.push((name, value));
            let error = config(&vars).expect_err("invalid").to_string();
            assert!(error.starts_with(name.name), "{error}");
            assert!(
                !error.contains(value),
                "the message echoes the value: {error}"
            );
        }
        let mut vars = MINIMAL.to_vec();
        vars.push((PASSWORD_MIN_LENGTH, "12"));
        assert_eq!(config(&vars).expect("valid").password_min_length, 12);
    }

    #[test]
    fn a_session_cannot_live_longer_idle_than_at_all() {
        let mut vars = MINIMAL.to_vec();
        vars.push((SESSION_IDLE_TTL_SECONDS, "7200"));
        vars.push((SESSION_MAX_TTL_SECONDS, "3600"));
        let error = config(&vars).expect_err("invalid").to_string();
        assert!(error.starts_with(SESSION_MAX_TTL_SECONDS.name), "{error}");
    }

    #[test]
    fn the_throttle_cap_cannot_be_below_its_first_delay() {
        let mut vars = MINIMAL.to_vec();
        vars.push((LOGIN_THROTTLE_BASE_DELAY_SECONDS, "60"));
        vars.push((LOGIN_THROTTLE_MAX_DELAY_SECONDS, "30"));
        let error = config(&vars).expect_err("invalid").to_string();
        assert!(
            error.starts_with(LOGIN_THROTTLE_MAX_DELAY_SECONDS.name),
            "{error}"
        );
        vars.pop();
        vars.push((LOGIN_THROTTLE_MAX_DELAY_SECONDS, "60"));
        assert_eq!(
            config(&vars).expect("valid").login_throttle.base_delay,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn the_signing_key_never_appears_in_debug_output() {
        let config = config(&[(TABLE_NAME, "t"), (HMAC_KEY, "super-secret-key")]);
        assert!(!format!("{config:?}").contains("super-secret-key"));
    }
}
