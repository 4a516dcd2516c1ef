//! Passwords: the policy a new password must meet, and argon2id hashing and verification.
//!
//! Hashing is deliberately slow (tens of milliseconds of CPU), so it runs on Tokio's blocking
//! pool; the async runtime stays free to serve other work meanwhile.

use std::fmt;

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

use crate::email::Email;
use crate::error::ApiError;

/// Commonly used and breached passwords of 8 to 128 characters, lower-cased, sorted by bytes,
/// one per line; see `shared/data/README.md` for the source and licence. Embedded as text and
/// binary-searched in place: nothing is built at start-up, and only the binaries that check new
/// passwords link it.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// The longest password accepted, in Unicode code points.
pub const MAX_PASSWORD_LENGTH: usize = 128;
/// The shortest minimum the configuration may set (NIST SP 800-63B).
pub const MIN_PASSWORD_LENGTH: usize = 8;

/// Argon2id memory cost in KiB, iterations and lanes: OWASP's recommended minimum
/// (m = 19 MiB, t = 2, p = 1).
pub const ARGON2_M_COST: u32 = 19_456;
/// See [`ARGON2_M_COST`].
pub const ARGON2_T_COST: u32 = 2;
/// See [`ARGON2_M_COST`].
pub const ARGON2_P_COST: u32 = 1;

/// A fixed argon2id hash with the same parameters as real ones, of a password nobody knows.
/// Login verifies against it when the email is unknown, so that path costs the same time as a
/// wrong password and timing does not reveal which accounts exist. A test keeps its
/// parameters equal to the ones above.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Qttm+d4CCkBcHE7Ms4rr7w$yPB6RKooiZpKVT32sb1vTb13I8PdZ8es9cz73qWsFOA";

/// A candidate password that met the policy. Never printed, never altered: no trimming, no
/// normalisation, no truncation.
pub struct Password(SecretString);

impl Password {
    /// A password that already is the account's (it just verified): rehashing it needs no
    /// policy check.
    pub(crate) fn verified(password: SecretString) -> Self {
        Self(password)
    }

    /// The password itself; for hashing only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// Why a password was refused. Messages never include the password.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer code points than the configured minimum.
    #[error("must be at least {0} characters")]
    TooShort(usize),
    /// More than [`MAX_PASSWORD_LENGTH`] code points.
    #[error("must be at most {MAX_PASSWORD_LENGTH} characters")]
    TooLong,
    /// In the list of commonly used or breached passwords (compared in lower case).
    #[error("is too common: it appears in lists of breached passwords; choose another")]
    Common,
    /// Equal to the account's email address or its local part (in any letter case).
    #[error("must not be the email address or part of it")]
    SameAsEmail,
}

/// Rules for new passwords (NIST SP 800-63B §3.1.1.2): a length range counted in code points, not
/// a commonly used or breached password, not the email address; no composition rules.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    min_length: usize,
}

impl PasswordPolicy {
    /// A policy with the given minimum, which [`crate::config::Config`] has already held to
    /// `MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH` (it refuses any other value at start-up).
    pub fn new(min_length: usize) -> Self {
        Self { min_length }
    }

    /// The shortest new password accepted, in code points.
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// Checks a new password for the account `email` (when it is known: a request whose email
    /// is invalid fails anyway).
    pub fn parse(&self, raw: &str, email: Option<&Email>) -> Result<Password, PasswordError> {
        let length = raw.chars().count();
        if length < self.min_length {
            return Err(PasswordError::TooShort(self.min_length));
        }
        if length > MAX_PASSWORD_LENGTH {
            return Err(PasswordError::TooLong);
        }
        let lower = raw.to_lowercase();
        if is_common(&lower) {
            return Err(PasswordError::Common);
        }
        if let Some(email) = email {
            let address = email.as_str();
            let local = address.rsplit_once('@').map_or(address, |(local, _)| local);
            let same_address = Email::parse(raw).is_ok_and(|candidate| &candidate == email);
            if same_address || lower == local {
                return Err(PasswordError::SameAsEmail);
            }
        }
        Ok(Password(SecretString::from(raw)))
    }
}

/// A stored argon2 hash in PHC string format. Its `Debug` is redacted: a hash is a secret too.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(String);

impl PasswordHashString {
    /// Wraps a PHC string read from storage.
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage only.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHashString([REDACTED])")
    }
}

/// Whether `lower` (an already lower-cased password) is in [`COMMON_PASSWORDS`]: a binary search
/// over the sorted lines of the embedded text.
fn is_common(lower: &str) -> bool {
    let list = COMMON_PASSWORDS;
    let bytes = list.as_bytes();
    // `low` and `high` always sit at the start of a line.
    let (mut low, mut high) = (0, bytes.len());
    while low < high {
        let middle = low + (high - low) / 2;
        let start = bytes[low..middle]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(low, |newline| low + newline + 1);
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |newline| start + newline);
        match list[start..end].cmp(lower) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => low = end + 1,
            std::cmp::Ordering::Greater => high = start,
        }
    }
    false
}

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
    async fn dummy(&self) -> Result<String, ApiError> {
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
                    hash_in_memory(&argon2, &random, &salt, memory).map_err(|error| {
                        ApiError::internal(format!("argon2 dummy hash failed: {error}"))
                    })
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
    pub async fn hash(&self, password: Password) -> Result<PasswordHashString, ApiError> {
        let argon2 = self.argon2.clone();
        self.memory
            .run(move |memory| {
                let salt = SaltString::generate(&mut OsRng);
                hash_in_memory(&argon2, password.expose().as_bytes(), &salt, memory)
                    .map(PasswordHashString)
                    .map_err(|error| ApiError::internal(format!("argon2 hashing failed: {error}")))
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
    ) -> Result<Verification, ApiError> {
        let settings = self.settings;
        // Both paths wait for the dummy hash, so the first verification of an instance costs the
        // same whether or not the account exists.
        let dummy = self.dummy().await?;
        self.memory
            .run(move |memory| {
                let known = stored.is_some();
                let phc = stored.map_or(dummy, |hash| hash.0);
                let parsed = PasswordHash::new(&phc).map_err(|error| {
                    ApiError::internal(format!("stored hash is not PHC: {error}"))
                })?;
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

/// Argon2's working memory (19 MiB with the default parameters): a few buffers, reused by every
/// hash and verification, and a limit of one hash per core at a time.
///
/// Allocated per call instead (as argon2's own `hash_password` does), glibc serves the second
/// and later 19 MiB blocks from the thread's heap arena and keeps them: a function's resident
/// memory grew by tens of MB over a few dozen sign-ins, and by one block per concurrent hash
/// (docs/benchmarks.md has the figures). Hashing is CPU-bound, so more hashes at once than
/// cores would only share the cores; the limit queues them instead, and bounds the buffers.
#[derive(Debug)]
struct ArgonMemory {
    permits: tokio::sync::Semaphore,
    free: std::sync::Mutex<Vec<Vec<Block>>>,
}

impl ArgonMemory {
    fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            permits: tokio::sync::Semaphore::new(cores),
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on the blocking pool with a buffer (which `f` sizes), at most one call per core
    /// at a time.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let memory = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut buffer = memory.take();
            let result = f(&mut buffer);
            memory.give(buffer);
            result
        })
        .await
        .map_err(ApiError::internal)
    }

    fn take(&self) -> Vec<Block> {
        self.free
            .lock()
            .map(|mut free| free.pop().unwrap_or_default())
            .unwrap_or_default()
    }

    fn give(&self, buffer: Vec<Block>) {
        if let Ok(mut free) = self.free.lock() {
            free.push(buffer);
        }
    }
}

/// What argon2's `hash_password` answers (the same PHC string), computed in `blocks`.
fn hash_in_memory(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &SaltString,
    memory: &mut Vec<Block>,
) -> password_hash::Result<String> {
    let salt = salt.as_salt();
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
    let params = argon2.params();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2.hash_password_into_with_memory(password, salt_bytes, &mut out, sized(memory, params))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt),
        hash: Some(Output::new(&out)?),
    };
    Ok(hash.to_string())
}

/// The first `params.block_count()` blocks of `memory`, grown if it is smaller.
fn sized<'a>(memory: &'a mut Vec<Block>, params: &Params) -> &'a mut [Block] {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    &mut memory[..params.block_count()]
}

/// What argon2's `verify_password` decides, computed in reusable memory: the
/// stored hash's own algorithm, version and parameters, compared in constant time (`Output`'s
/// equality).
fn verify_in_memory(
    password: &[u8],
    stored: &PasswordHash<'_>,
    memory: &mut Vec<Block>,
) -> password_hash::Result<bool> {
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(stored)?;
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    // The stored hash's own parameters size the memory: an older hash may use less.
    argon2.hash_password_into_with_memory(password, salt_bytes, out, sized(memory, &params))?;
    Ok(Output::new(out)? == expected)
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

    fn policy() -> PasswordPolicy {
        PasswordPolicy::new(MIN_PASSWORD_LENGTH)
    }

    fn parse(raw: &str) -> Result<Password, PasswordError> {
        policy().parse(raw, None)
    }

    #[test]
    fn common_and_breached_passwords_are_refused_in_any_case() {
        for raw in [
            "password1",
            "Password1",
            "PASSWORD1",
            "iloveyou",
            "qwertyuiop",
            "12345678",
        ] {
            assert_eq!(parse(raw).err(), Some(PasswordError::Common), "{raw}");
        }
        assert!(parse("correct horse battery staple").is_ok());
        assert!(parse("Tr0ub4dor&3-zebra").is_ok());
    }

    #[test]
    fn the_list_is_sorted_unique_lower_case_and_fully_searchable() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() > 15_000, "{}", lines.len());
        assert!(
            lines.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted, unique"
        );
        for line in &lines {
            assert_eq!(&line.to_lowercase(), line);
            assert!(line.chars().count() >= MIN_PASSWORD_LENGTH);
            assert!(is_common(line), "{line}");
            // Neighbours that are not in the list are not found.
            assert!(!is_common(&format!("{line}\u{1}")));
        }
        assert!(!is_common(""));
        assert!(!is_common("\u{10ffff}"));
    }

    #[test]
    fn the_email_or_its_local_part_is_not_a_password() {
        let email = Email::parse("ada.lovelace@example.com").expect("valid");
        for raw in [
            "ada.lovelace@example.com",
            "Ada.Lovelace@Example.com",
            "ada.lovelace",
            "ADA.LOVELACE",
        ] {
            assert_eq!(
                policy().parse(raw, Some(&email)).err(),
                Some(PasswordError::SameAsEmail),
                "{raw}"
            );
        }
        assert!(policy().parse("ada.lovelace!", Some(&email)).is_ok());
    }

    #[test]
    fn length_is_counted_in_code_points_not_bytes() {
        // 8 code points, 32 bytes: long enough.
        assert!(parse("🔑🔑🔑🔑🔑🔑🔑🔑").is_ok());
        // 7 code points: too short even though it is 28 bytes.
        assert_eq!(
            parse("🔑🔑🔑🔑🔑🔑🔑").err(),
            Some(PasswordError::TooShort(8))
        );
        assert!(parse(&"é".repeat(MAX_PASSWORD_LENGTH)).is_ok());
        assert_eq!(
            parse(&"é".repeat(MAX_PASSWORD_LENGTH + 1)).err(),
            Some(PasswordError::TooLong)
        );
    }

    #[test]
    fn configured_minimum_is_enforced() {
        let strict = PasswordPolicy::new(12);
        assert_eq!(
            strict.parse("elevenchars", None).err(),
            Some(PasswordError::TooShort(12))
        );
        assert!(strict.parse("twelve chars", None).is_ok());
    }

    #[test]
    fn passwords_are_kept_exactly_as_typed() {
        let raw = "  spaces and ÜNICODE kept  ";
        assert_eq!(parse(raw).expect("valid").expose(), raw);
    }

    #[test]
    fn debug_output_hides_passwords_and_hashes() {
        let password = parse("correct horse battery").expect("valid");
        assert!(!format!("{password:?}").contains("horse"));
        let hash = PasswordHashString::from_stored(DUMMY_HASH.to_owned());
        assert!(!format!("{hash:?}").contains("argon2"));
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

    /// The reusable-memory hash and verification are argon2's own, byte for byte: each accepts
    /// what the other made, for the configured parameters and for older, weaker ones.
    #[test]
    fn pooled_memory_hashing_is_interchangeable_with_argon2s_own() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        for settings in [
            Argon2Settings::default(),
            Argon2Settings {
                memory_kib: 8192,
                iterations: 1,
                parallelism: 2,
            },
        ] {
            let params = Params::new(
                settings.memory_kib,
                settings.iterations,
                settings.parallelism,
                None,
            )
            .expect("params");
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let salt = SaltString::generate(&mut OsRng);
            let mut memory = Vec::new();
            let ours = hash_in_memory(&argon2, b"correct horse", &salt, &mut memory).expect("hash");
            let theirs = argon2
                .hash_password(b"correct horse", &salt)
                .expect("hash")
                .to_string();
            assert_eq!(ours, theirs, "the same PHC string");
            let parsed = PasswordHash::new(&theirs).expect("PHC");
            assert!(verify_in_memory(b"correct horse", &parsed, &mut memory).expect("verify"));
            assert!(!verify_in_memory(b"Correct horse", &parsed, &mut memory).expect("verify"));
            assert!(
                argon2
                    .verify_password(b"correct horse", &PasswordHash::new(&ours).expect("PHC"))
                    .is_ok()
            );
        }
        // argon2i / argon2d hashes (another library's) verify too, with their own algorithm.
        let params = Params::new(8192, 1, 1, None).expect("params");
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let stored = argon2i
            .hash_password(b"pw-i", &salt)
            .expect("hash")
            .to_string();
        let parsed = PasswordHash::new(&stored).expect("PHC");
        assert!(verify_in_memory(b"pw-i", &parsed, &mut Vec::new()).expect("verify"));
    }

    /// However many verifications run at once, argon2 memory exists once per core at most
    /// (the buffers are reused, and the rest wait their turn).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_hashing_keeps_one_memory_buffer_per_core_at_most() {
        let hasher = Arc::new(hasher());
        let stored = hasher
            .hash(parse("correct horse battery").expect("valid"))
            .await
            .expect("hashed");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let (hasher, stored) = (Arc::clone(&hasher), stored.clone());
            tasks.spawn(async move {
                let candidate = SecretString::from("correct horse battery");
                hasher
                    .verify(candidate, Some(stored))
                    .await
                    .expect("verified")
            });
        }
        while let Some(verified) = tasks.join_next().await {
            assert!(verified.expect("joined").matches);
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let buffers = hasher.memory.free.lock().expect("lock").len();
        assert!(
            (1..=cores).contains(&buffers),
            "{buffers} buffers on {cores} cores"
        );
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
