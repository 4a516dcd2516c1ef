//! Checking an email and password, exactly as sign-in does it. Login and every
//! re-authentication (`current_password` when changing the email or the password, deleting the
//! account) go through [`verify_credentials`], so they share the per-email throttle, the
//! dummy-hash timing for unknown accounts and the one `invalid_credentials` answer. Login then
//! upgrades hashes made with weaker argon2 parameters ([`Verified::upgrade_hash`]).

use secrecy::SecretString;

use crate::email::Email;
use crate::error::ApiError;
use crate::password::Password;
use crate::state::AppState;
use crate::store::StoredUser;

/// Verifies `password` for `email` (`Err` holds what was typed when it is not an address: it
/// has no account, but is throttled like one), tried from `source` (the request's source
/// address, [`crate::http::source_address`]).
///
/// Throttle admission and the account lookup run side by side, both before any argon2 work; an
/// unknown account is verified against a dummy hash, so it costs what a wrong password costs. A
/// failure is [`ApiError::InvalidCredentials`] (counted by the throttle, per source and per
/// email); a success resets the source's and the email's counters.
pub async fn verify_credentials(
    state: &AppState,
    email: Result<Email, String>,
    password: SecretString,
    source: Option<&str>,
) -> Result<Verified, ApiError> {
    let subject = match &email {
        Ok(email) => email.as_str(),
        Err(typed) => typed.as_str(),
    };
    let lookup = async {
        match &email {
            Ok(email) => state.users.find_by_email(email).await,
            Err(_) => Ok(None),
        }
    };
    let (admission, stored) = tokio::join!(state.login_throttle.admit(subject, source), lookup);
    let admission = admission?;
    let stored = stored?;
    let hash = stored.as_ref().map(|stored| stored.password_hash.clone());
    // Always one argon2 verification, whether or not the account exists.
    let verification = state.passwords.verify(password.clone(), hash).await?;
    let Some(stored) = stored.filter(|_| verification.matches) else {
        return Err(ApiError::InvalidCredentials);
    };
    state.login_throttle.succeeded(admission).await;
    Ok(Verified {
        stored,
        needs_rehash: verification.needs_rehash,
        password,
    })
}

/// An account whose password was just verified.
#[derive(Debug)]
pub struct Verified {
    /// The account, with its hash, as read (strongly consistent) for the check.
    pub stored: StoredUser,
    needs_rehash: bool,
    password: SecretString,
}

impl Verified {
    /// When the stored hash was made with weaker argon2 parameters than the configured ones,
    /// stores a new hash (conditional on the version read). A conflict or an error is logged,
    /// never returned, and never delays the answer beyond the one hash: the password was right.
    pub async fn upgrade_hash(mut self, state: &AppState) -> StoredUser {
        if self.needs_rehash {
            rehash(state, &mut self.stored, self.password).await;
        }
        self.stored
    }
}

async fn rehash(state: &AppState, stored: &mut StoredUser, password: SecretString) {
    let result = async {
        let hash = state.passwords.hash(Password::verified(password)).await?;
        let stored_now = state.users.set_password_hash(&stored.user, &hash).await?;
        Ok::<_, ApiError>((hash, stored_now))
    }
    .await;
    match result {
        Ok((hash, Some(version))) => {
            tracing::info!(user_id = %stored.user.id, "password rehashed with the configured parameters");
            stored.password_hash = hash;
            stored.user.version = version;
        }
        Ok((_, None)) => {
            tracing::info!(user_id = %stored.user.id, "rehash skipped: the account changed meanwhile");
        }
        Err(error) => {
            tracing::warn!(user_id = %stored.user.id, code = error.code(), "rehash failed");
        }
    }
}
