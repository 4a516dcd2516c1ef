//! Typed configuration, read from the environment once per cold start.
//!
//! Every variable, its default and its range is listed in the README; a missing or malformed
//! variable fails start-up with its name in the message.

use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use crate::password::{
    ARGON2_M_COST, ARGON2_P_COST, ARGON2_T_COST, Argon2Settings, MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
};

/// The DynamoDB table holding users and email claims. Required.
pub const TABLE_NAME: &str = "TABLE_NAME";
/// ARN of the Secrets Manager secret holding the token signing key (used in AWS).
pub const TOKEN_SIGNING_KEY_SECRET_ARN: &str = "TOKEN_SIGNING_KEY_SECRET_ARN";
/// The token signing key itself (used locally). Exactly one of the two must be set.
pub const TOKEN_SIGNING_KEY: &str = "TOKEN_SIGNING_KEY";
/// The `iss` claim. Default `accounts-api`.
pub const TOKEN_ISSUER: &str = "TOKEN_ISSUER";
/// The `aud` claim. Default `accounts-api`.
pub const TOKEN_AUDIENCE: &str = "TOKEN_AUDIENCE";
/// Access token lifetime in seconds. Default 900, range 60..=86400.
pub const ACCESS_TOKEN_TTL_SECONDS: &str = "ACCESS_TOKEN_TTL_SECONDS";
/// Minimum password length in code points. Default 8, range 8..=128.
pub const PASSWORD_MIN_LENGTH: &str = "PASSWORD_MIN_LENGTH";
/// Budget for one DynamoDB operation, retries included, in ms. Default 3000, range 100..=20000.
pub const DYNAMODB_TIMEOUT_MS: &str = "DYNAMODB_TIMEOUT_MS";
/// Argon2id memory cost of new hashes in KiB. Default 19456 (OWASP), never lower; up to 1048576.
pub const ARGON2_MEMORY_KIB: &str = "ARGON2_MEMORY_KIB";
/// Argon2id passes of new hashes. Default 2 (OWASP), never lower; up to 20.
pub const ARGON2_ITERATIONS: &str = "ARGON2_ITERATIONS";
/// Argon2id lanes of new hashes. Default 1 (OWASP), never lower; up to 16.
pub const ARGON2_PARALLELISM: &str = "ARGON2_PARALLELISM";
/// Seconds a session lives without a refresh. Default 604800 (7 days), range 300..=31536000.
pub const SESSION_IDLE_TTL_SECONDS: &str = "SESSION_IDLE_TTL_SECONDS";
/// Seconds a session lives at most after sign-in. Default 2592000 (30 days), range
/// 300..=31536000, at least the idle lifetime.
pub const SESSION_MAX_TTL_SECONDS: &str = "SESSION_MAX_TTL_SECONDS";
/// Seconds after a rotation during which the just-rotated refresh token still answers (with the
/// session's current one) instead of counting as reuse. Default 10, range 0..=300.
pub const REFRESH_REUSE_GRACE_SECONDS: &str = "REFRESH_REUSE_GRACE_SECONDS";
/// Consecutive failed logins for one email before it is throttled. Default 5, range 1..=100.
pub const LOGIN_THROTTLE_THRESHOLD: &str = "LOGIN_THROTTLE_THRESHOLD";
/// The first throttle delay in seconds, doubled on each further failure. Default 1, 1..=3600.
pub const LOGIN_THROTTLE_BASE_DELAY_SECONDS: &str = "LOGIN_THROTTLE_BASE_DELAY_SECONDS";
/// The longest throttle delay in seconds. Default 900, range 1..=86400, at least the base.
pub const LOGIN_THROTTLE_MAX_DELAY_SECONDS: &str = "LOGIN_THROTTLE_MAX_DELAY_SECONDS";

/// Where the token signing key comes from.
#[derive(Debug)]
pub enum KeySource {
    /// The key itself, from [`TOKEN_SIGNING_KEY`].
    Inline(SecretString),
    /// A Secrets Manager secret, from [`TOKEN_SIGNING_KEY_SECRET_ARN`].
    SecretArn(String),
}

/// The whole configuration of a function.
#[derive(Debug)]
pub struct Config {
    /// See [`TABLE_NAME`].
    pub table_name: String,
    /// See [`TOKEN_SIGNING_KEY`] and [`TOKEN_SIGNING_KEY_SECRET_ARN`].
    pub signing_key: KeySource,
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
            idle_ttl: Duration::from_secs(7 * 24 * 3600),
            max_ttl: Duration::from_secs(30 * 24 * 3600),
            reuse_grace: Duration::from_secs(10),
        }
    }
}

/// Per-email login backoff: after `threshold` consecutive failures, each further attempt waits
/// `base_delay` doubled for every failure beyond the threshold, at most `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// See [`LOGIN_THROTTLE_THRESHOLD`].
    pub threshold: u32,
    /// See [`LOGIN_THROTTLE_BASE_DELAY_SECONDS`].
    pub base_delay: Duration,
    /// See [`LOGIN_THROTTLE_MAX_DELAY_SECONDS`].
    pub max_delay: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            threshold: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(900),
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
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let signing_key = match (get(TOKEN_SIGNING_KEY_SECRET_ARN), get(TOKEN_SIGNING_KEY)) {
            (Some(arn), None) => KeySource::SecretArn(arn),
            (None, Some(key)) => KeySource::Inline(SecretString::from(key)),
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: TOKEN_SIGNING_KEY,
                    reason: format!(
                        "set {TOKEN_SIGNING_KEY} or {TOKEN_SIGNING_KEY_SECRET_ARN}, not both"
                    ),
                });
            }
            (None, None) => {
                return Err(ConfigError::Invalid {
                    name: TOKEN_SIGNING_KEY,
                    reason: format!(
                        "set {TOKEN_SIGNING_KEY_SECRET_ARN} (in AWS) or {TOKEN_SIGNING_KEY} (locally)"
                    ),
                });
            }
        };
        Ok(Self {
            table_name: get(TABLE_NAME).ok_or(ConfigError::Missing(TABLE_NAME))?,
            signing_key,
            token_issuer: get(TOKEN_ISSUER).unwrap_or_else(|| "accounts-api".to_owned()),
            token_audience: get(TOKEN_AUDIENCE).unwrap_or_else(|| "accounts-api".to_owned()),
            access_token_ttl: Duration::from_secs(number(
                &get,
                ACCESS_TOKEN_TTL_SECONDS,
                900,
                60..=86_400,
            )?),
            password_min_length: number(
                &get,
                PASSWORD_MIN_LENGTH,
                MIN_PASSWORD_LENGTH,
                MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH,
            )?,
            dynamodb_timeout: Duration::from_millis(number(
                &get,
                DYNAMODB_TIMEOUT_MS,
                3_000,
                100..=20_000,
            )?),
            login_throttle: throttle_settings(&get)?,
            sessions: session_settings(&get)?,
            argon2: Argon2Settings {
                memory_kib: number(
                    &get,
                    ARGON2_MEMORY_KIB,
                    ARGON2_M_COST,
                    ARGON2_M_COST..=1_048_576,
                )?,
                iterations: number(&get, ARGON2_ITERATIONS, ARGON2_T_COST, ARGON2_T_COST..=20)?,
                parallelism: number(&get, ARGON2_PARALLELISM, ARGON2_P_COST, ARGON2_P_COST..=16)?,
            },
        })
    }
}

fn throttle_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<ThrottleSettings, ConfigError> {
    let defaults = ThrottleSettings::default();
    let threshold = number(get, LOGIN_THROTTLE_THRESHOLD, defaults.threshold, 1..=100)?;
    let base = number(
        get,
        LOGIN_THROTTLE_BASE_DELAY_SECONDS,
        defaults.base_delay.as_secs(),
        1..=3_600,
    )?;
    let max = number(
        get,
        LOGIN_THROTTLE_MAX_DELAY_SECONDS,
        defaults.max_delay.as_secs(),
        1..=86_400,
    )?;
    if max < base {
        return Err(ConfigError::Invalid {
            name: LOGIN_THROTTLE_MAX_DELAY_SECONDS,
            reason: format!("must be at least {LOGIN_THROTTLE_BASE_DELAY_SECONDS}"),
        });
    }
    Ok(ThrottleSettings {
        threshold,
        base_delay: Duration::from_secs(base),
        max_delay: Duration::from_secs(max),
    })
}

fn session_settings(get: &impl Fn(&str) -> Option<String>) -> Result<SessionSettings, ConfigError> {
    let defaults = SessionSettings::default();
    let year = 365 * 24 * 3600;
    let idle = number(
        get,
        SESSION_IDLE_TTL_SECONDS,
        defaults.idle_ttl.as_secs(),
        300..=year,
    )?;
    let max = number(
        get,
        SESSION_MAX_TTL_SECONDS,
        defaults.max_ttl.as_secs(),
        300..=year,
    )?;
    if max < idle {
        return Err(ConfigError::Invalid {
            name: SESSION_MAX_TTL_SECONDS,
            reason: format!("must be at least {SESSION_IDLE_TTL_SECONDS}"),
        });
    }
    let grace = number(
        get,
        REFRESH_REUSE_GRACE_SECONDS,
        defaults.reuse_grace.as_secs(),
        0..=300,
    )?;
    Ok(SessionSettings {
        idle_ttl: Duration::from_secs(idle),
        max_ttl: Duration::from_secs(max),
        reuse_grace: Duration::from_secs(grace),
    })
}

fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    let invalid = || ConfigError::Invalid {
        name,
        reason: format!(
            "must be a whole number from {} to {}",
            range.start(),
            range.end()
        ),
    };
    let value: T = raw.trim().parse().map_err(|_| invalid())?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const MINIMAL: [(&str, &str); 2] = [(TABLE_NAME, "users"), (TOKEN_SIGNING_KEY, "k")];

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let config = config(&MINIMAL).expect("valid");
        assert_eq!(config.table_name, "users");
        assert_eq!(config.token_issuer, "accounts-api");
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
        assert!(matches!(config.signing_key, KeySource::Inline(_)));
    }

    #[test]
    fn a_missing_table_name_is_named() {
        let error = config(&[(TOKEN_SIGNING_KEY, "k")]).expect_err("invalid");
        assert_eq!(error.to_string(), "TABLE_NAME must be set");
    }

    #[test]
    fn the_key_must_come_from_exactly_one_place() {
        let none = config(&[(TABLE_NAME, "t")])
            .expect_err("invalid")
            .to_string();
        assert!(none.contains(TOKEN_SIGNING_KEY) && none.contains(TOKEN_SIGNING_KEY_SECRET_ARN));
        let both = config(&[
            (TABLE_NAME, "t"),
            (TOKEN_SIGNING_KEY, "k"),
            (
                TOKEN_SIGNING_KEY_SECRET_ARN,
                "arn:aws:secretsmanager:eu-west-1:1:secret:x",
            ),
        ]);
        assert!(both.is_err());
        let arn = config(&[(TABLE_NAME, "t"), (TOKEN_SIGNING_KEY_SECRET_ARN, "arn:x")]);
        assert!(matches!(arn.expect("valid").signing_key, KeySource::SecretArn(a) if a == "arn:x"));
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
            assert!(error.starts_with(name), "{error}");
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
        assert!(error.starts_with(SESSION_MAX_TTL_SECONDS), "{error}");
    }

    #[test]
    fn the_throttle_cap_cannot_be_below_its_first_delay() {
        let mut vars = MINIMAL.to_vec();
        vars.push((LOGIN_THROTTLE_BASE_DELAY_SECONDS, "60"));
        vars.push((LOGIN_THROTTLE_MAX_DELAY_SECONDS, "30"));
        let error = config(&vars).expect_err("invalid").to_string();
        assert!(
            error.starts_with(LOGIN_THROTTLE_MAX_DELAY_SECONDS),
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
        let config = config(&[(TABLE_NAME, "t"), (TOKEN_SIGNING_KEY, "super-secret-key")]);
        assert!(!format!("{config:?}").contains("super-secret-key"));
    }
}
