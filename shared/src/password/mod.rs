//! Passwords: the policy a new password must meet ([`PasswordPolicy`], here), argon2id hashing
//! and verification ([`PasswordHasher`], in `hasher`) and argon2's reusable working memory
//! (`memory`).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::email::Email;

mod hasher;
mod memory;

pub use hasher::{Argon2Settings, PasswordHasher, Verification};

/// Why a hash or a verification could not be computed: never the client's doing (a wrong
/// password is a [`Verification`], not an error). The HTTP edge answers it with a 500.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// argon2 refused to hash (parameters or output it cannot handle).
    #[error("argon2 could not hash")]
    Hash(#[source] argon2::password_hash::Error),
    /// A stored hash is not a PHC string argon2 can verify against.
    #[error("the stored password hash is not a usable PHC string")]
    StoredHash(#[source] argon2::password_hash::Error),
    /// The hashing task panicked or was cancelled.
    #[error("the hashing task did not finish")]
    Task(#[source] tokio::task::JoinError),
    /// The hasher's permits were closed (never done: a bug).
    #[error("the hasher is shut down")]
    Closed,
}

/// Commonly used and breached passwords of 8 to 128 characters, lower-cased, sorted by bytes,
/// one per line; see `shared/data/README.md` for the source and licence. Embedded as text and
/// binary-searched in place: nothing is built at start-up, and only the binaries that check new
/// passwords link it.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

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
        let hash = PasswordHashString::from_stored(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned(),
        );
        assert!(!format!("{hash:?}").contains("argon2"));
    }
}
