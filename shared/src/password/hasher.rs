//! argon2id hashing and verification with the configured parameters, on Tokio's blocking pool
//! (hashing is deliberately slow: tens of milliseconds of CPU), in reusable memory.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use super::memory::{ArgonMemory, hash_in_memory, verify_in_memory};
use super::{ARGON2_M_COST, ARGON2_P_COST, ARGON2_T_COST, HashError, Password, PasswordHashString};

/// A fixed argon2id hash with the same parameters as real ones, of a password nobody knows.
/// Login verifies against it when the email is unknown, so that path costs the same time as a
/// wrong password and timing does not reveal which accounts exist. A test keeps its
/// parameters equal to the ones above.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Qttm+d4CCkBcHE7Ms4rr7w$yPB6RKooiZpKVT32sb1vTb13I8PdZ8es9cz73qWsFOA";
/// The argon2id cost parameters new hashes use (configuration, never below the OWASP values
/// [`ARGON2_M_COST`], [`ARGON2_T_COST`], [`ARGON2_P_COST`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: ARGON2_M_COST,
            iterations: ARGON2_T_COST,
            parallelism: ARGON2_P_COST,
        }
    }
}

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password is the account's.
    pub matches: bool,
    /// The stored hash was made with weaker parameters than the configured ones: rehash it now
    /// that the password is at hand.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords with the configured argon2id parameters. Built once per cold
/// start.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    settings: Argon2Settings,
    /// What unknown accounts are verified against: made at the first verification of this
    /// instance, whichever path it takes (see [`PasswordHasher::verify`]).
    dummy: Arc<tokio::sync::OnceCell<String>>,
    memory: Arc<ArgonMemory>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher for `settings` (already checked by [`crate::config::Config`]). Cheap: no hash
    /// is computed until a password is hashed or verified.
    pub fn new(settings: Argon2Settings) -> Result<Self, argon2::Error> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )?;
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            settings,
            dummy: Arc::new(tokio::sync::OnceCell::new()),
            memory: Arc::new(ArgonMemory::new()),
        })
    }

    /// The hash unknown accounts are verified against, with the configured parameters, so that
    /// it costs what a real one costs: a constant for the default parameters; otherwise one
    /// random password hashed once per instance, the first time any verification needs it.
    ///
    /// Made on first use rather than at start-up: most functions never verify a password, and
    /// at 256 MB the hash would cost them about seven times what it costs at 1769 MB.
    async fn dummy(&self) -> Result<String, HashError> {
        let made = self.dummy.get_or_try_init(|| async {
            if self.settings == Argon2Settings::default() {
                return Ok(DUMMY_HASH.to_owned());
            }
            let argon2 = self.argon2.clone();
            self.memory
                .run(move |memory| {
                    let mut random = [0u8; 32];
                    OsRng.fill_bytes(&mut random);
                    let salt = SaltString::generate(&mut OsRng);
                    hash_in_memory(&argon2, &random, &salt, memory).map_err(HashError::Hash)
                })
                .await?
        });
        made.await.cloned()
    }

    /// Whether the dummy hash exists yet (tests).
    #[cfg(test)]
    fn has_dummy(&self) -> bool {
        self.dummy.initialized()
    }

    /// The configured parameters.
    pub fn settings(&self) -> Argon2Settings {
        self.settings
    }

    /// Hashes a new password with a fresh random salt, on the blocking pool.
    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: Password) -> Result<PasswordHashString, HashError> {
        let argon2 = self.argon2.clone();
        self.memory
            .run(move |memory| {
                let salt = SaltString::generate(&mut OsRng);
                hash_in_memory(&argon2, password.expose().as_bytes(), &salt, memory)
                    .map(PasswordHashString)
                    .map_err(HashError::Hash)
            })
            .await?
    }

    /// Verifies `candidate` against `stored`, on the blocking pool.
    ///
    /// With no stored hash (unknown account) it verifies against a dummy hash with the
    /// configured parameters and answers no match, spending the same time as a real mismatch.
    #[tracing::instrument(skip_all)]
    pub async fn verify(
        &self,
        candidate: SecretString,
        stored: Option<PasswordHashString>,
    ) -> Result<Verification, HashError> {
        let settings = self.settings;
        // Both paths wait for the dummy hash, so the first verification of an instance costs the
        // same whether or not the account exists.
        let dummy = self.dummy().await?;
        self.memory
            .run(move |memory| {
                let known = stored.is_some();
                let phc = stored.map_or(dummy, |hash| hash.0);
                let parsed = PasswordHash::new(&phc).map_err(HashError::StoredHash)?;
                // The stored hash's own parameters are used; the configured ones only judge them.
                let matches =
                    verify_in_memory(candidate.expose_secret().as_bytes(), &parsed, memory)
                        .unwrap_or(false);
                Ok(Verification {
                    matches: known && matches,
                    needs_rehash: known && matches && weaker_than(&parsed, settings),
                })
            })
            .await?
    }
}

/// Whether a stored hash is not argon2id or uses less memory, fewer passes or fewer lanes than
/// `settings`.
fn weaker_than(hash: &PasswordHash<'_>, settings: Argon2Settings) -> bool {
    match Params::try_from(hash) {
        Ok(params) => {
            hash.algorithm.as_str() != "argon2id"
                || params.m_cost() < settings.memory_kib
                || params.t_cost() < settings.iterations
                || params.p_cost() < settings.parallelism
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::{MIN_PASSWORD_LENGTH, PasswordPolicy};

    fn parse(raw: &str) -> Result<Password, crate::password::PasswordError> {
        PasswordPolicy::new(MIN_PASSWORD_LENGTH).parse(raw, None)
    }

    #[test]
    fn dummy_hash_uses_the_configured_argon2id_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).expect("PHC string");
        let params = Params::try_from(&parsed).expect("argon2 params");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST)
        );
    }

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(Argon2Settings::default()).expect("valid parameters")
    }

    #[tokio::test]
    async fn hash_then_verify_round_trips_and_rejects_other_passwords() {
        let password = parse("correct horse battery").expect("valid");
        let hasher = hasher();
        let stored = hasher.hash(password).await.expect("hashed");
        assert!(
            stored
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        let right = SecretString::from("correct horse battery");
        let wrong = SecretString::from("Correct horse battery");
        let right = hasher
            .verify(right, Some(stored.clone()))
            .await
            .expect("verified");
        assert_eq!(
            right,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(
            !hasher
                .verify(wrong, Some(stored))
                .await
                .expect("verified")
                .matches
        );
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify_not_even_with_a_guess() {
        let guess = SecretString::from("anything at all");
        let found = hasher().verify(guess, None).await.expect("verified");
        assert_eq!(
            found,
            Verification {
                matches: false,
                needs_rehash: false
            }
        );
    }

    /// Raising the parameters is a configuration change: hashes made with the old ones are
    /// flagged at the next successful verification, and the dummy follows the new cost.
    #[tokio::test]
    async fn weaker_stored_hashes_are_flagged_for_rehash() {
        let old = hasher();
        let stored = old
            .hash(parse("correct horse battery").expect("valid"))
            .await
            .expect("hashed");
        let stronger = PasswordHasher::new(Argon2Settings {
            memory_kib: ARGON2_M_COST * 2,
            iterations: 3,
            parallelism: 1,
        })
        .expect("valid");
        let right = SecretString::from("correct horse battery");
        let found = stronger
            .verify(right, Some(stored))
            .await
            .expect("verified");
        assert_eq!(
            found,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
        let rehashed = stronger
            .hash(parse("correct horse battery").expect("valid"))
            .await
            .expect("hashed");
        assert!(
            rehashed
                .as_str()
                .starts_with("$argon2id$v=19$m=38912,t=3,p=1$")
        );
        assert!(
            stronger
                .dummy()
                .await
                .expect("made")
                .starts_with("$argon2id$v=19$m=38912,t=3,p=1$")
        );
        let wrong = SecretString::from("Correct horse battery");
        let found = stronger
            .verify(wrong, Some(rehashed))
            .await
            .expect("verified");
        assert_eq!(
            found,
            Verification {
                matches: false,
                needs_rehash: false
            }
        );
    }

    /// A function that never verifies a password never pays for the dummy hash; one that does
    /// pays for it at its first verification, whether that is of a known account or not, so the
    /// two paths cost the same then too.
    #[tokio::test]
    async fn the_dummy_hash_is_made_at_the_first_verification_on_either_path() {
        let settings = Argon2Settings {
            memory_kib: ARGON2_M_COST + 1024,
            ..Argon2Settings::default()
        };
        for known in [false, true] {
            let hasher = PasswordHasher::new(settings).expect("valid");
            let stored = hasher
                .hash(parse("correct horse battery").expect("valid"))
                .await
                .expect("hashed");
            assert!(!hasher.has_dummy(), "made before it was needed");
            let stored = known.then_some(stored);
            let candidate = SecretString::from("correct horse battery");
            let found = hasher.verify(candidate, stored).await.expect("verified");
            assert_eq!(found.matches, known);
            assert!(hasher.has_dummy(), "known account: {known}");
        }
    }
}
