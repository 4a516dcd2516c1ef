//! One-time codes: what the links and codes in mail are, and what of them is stored.
//!
//! Each issued code is two secrets for one purpose of one account: a **token** for the link
//! (`${APP_BASE_URL}/<page>#token=<token>`) and an 8-digit **code** for typing on another device.
//! The token is `base64url(purpose ‖ user id ‖ 128 random bits)`: it names the account it was
//! issued for, so it is found with reads by key, and its random part makes it unguessable. Only
//! keyed hashes (HMAC-SHA256 under a key derived from the signing key) of either secret are
//! stored; the code's hash is bound to its purpose and account, so one account's code proves
//! nothing for another. A code is good for [`MAX_CODE_ATTEMPTS`] wrong guesses, then dead;
//! single use is a conditional delete in the transaction that applies it (`store::codes`).

use std::fmt;
use std::time::Duration;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SecureRandom as _;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use crate::email::Email;
use crate::user::UserId;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// Random bytes in a token.
const SECRET_BYTES: usize = 16;
/// Digits in a code.
pub const CODE_DIGITS: usize = 8;
/// Wrong guesses a code survives; the next one is refused even when right.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

/// What a code was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Proves the account's address (`POST /email/confirm`).
    Verify,
    /// Sets a new password (`POST /password/reset`).
    Reset,
    /// Moves the account to its pending address (`POST /email/confirm`).
    ChangeEmail,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Self; 3] = [Self::Verify, Self::Reset, Self::ChangeEmail];

    /// The name stored in the code item's sort key and sent in queue messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "VERIFY",
            Self::Reset => "RESET",
            Self::ChangeEmail => "CHANGE",
        }
    }

    /// The purpose named `raw` ([`Purpose::as_str`]).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == raw)
    }

    /// The page of the web client the link opens.
    pub fn page(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::ChangeEmail => "confirm-email",
        }
    }

    fn byte(self) -> u8 {
        match self {
            Self::Verify => 1,
            Self::Reset => 2,
            Self::ChangeEmail => 3,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|purpose| purpose.byte() == byte)
    }
}

/// How long a code of each purpose lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLifetimes {
    /// See [`crate::config::VERIFY_EMAIL_TTL_SECONDS`].
    pub verify: Duration,
    /// See [`crate::config::PASSWORD_RESET_TTL_SECONDS`].
    pub reset: Duration,
    /// See [`crate::config::EMAIL_CHANGE_TTL_SECONDS`].
    pub change_email: Duration,
}

impl CodeLifetimes {
    /// The lifetime of a code for `purpose`.
    pub fn of(&self, purpose: Purpose) -> Duration {
        match purpose {
            Purpose::Verify => self.verify,
            Purpose::Reset => self.reset,
            Purpose::ChangeEmail => self.change_email,
        }
    }
}

/// A stored code: what the code item holds. Hashes only, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// The account it was issued for.
    pub user_id: UserId,
    /// What it was issued for.
    pub purpose: Purpose,
    /// The address it was sent to (for an email change, the new one).
    pub address: Email,
    /// Keyed hash of the token.
    pub token_mac: String,
    /// Keyed hash of the code.
    pub code_mac: String,
    /// Wrong guesses so far.
    pub attempts: u32,
    /// Epoch seconds after which it is dead (also the item's TTL).
    pub expires_at: u64,
}

impl CodeRecord {
    /// Whether it can still be used at `now` (epoch seconds).
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at && self.attempts < MAX_CODE_ATTEMPTS
    }

    /// Whether `proof` is this code's token or code. Constant-time in the compared hashes.
    pub fn is_proved_by(&self, proof: &Proof) -> bool {
        let (stored, presented) = match proof {
            Proof::Token(mac) => (&self.token_mac, mac),
            Proof::Code(mac) => (&self.code_mac, mac),
        };
        aws_lc_rs::constant_time::verify_slices_are_equal(stored.as_bytes(), presented.as_bytes())
            .is_ok()
    }
}

/// What a request presented, hashed: the stored hash it must equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The keyed hash of a presented token.
    Token(String),
    /// The keyed hash of a presented code, for one account and purpose.
    Code(String),
}

/// A code just issued: the two secrets to mail, and the record to store. `Debug` hides the
/// secrets.
pub struct Issued {
    /// The link's token.
    pub token: SecretString,
    /// The 8 digits.
    pub code: SecretString,
    /// What is stored.
    pub record: CodeRecord,
}

impl Issued {
    /// The link to mail: `${base_url}/<page>#token=<token>` (in the fragment, the token never
    /// reaches a server log or a `Referer`).
    pub fn link(&self, base_url: &str) -> String {
        format!(
            "{}/{}#token={}",
            base_url.trim_end_matches('/'),
            self.record.purpose.page(),
            self.token.expose_secret()
        )
    }
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// A token as presented, parsed: whose and for what it claims to be, and its hash. Parsing
/// proves nothing; the stored hash does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedToken {
    /// The account it names.
    pub user_id: UserId,
    /// The purpose it names.
    pub purpose: Purpose,
    /// Its keyed hash.
    pub proof: Proof,
}

/// Issues codes and hashes what is presented, under one key.
pub struct OneTimeCodes {
    key: hmac::Key,
    lifetimes: CodeLifetimes,
}

impl fmt::Debug for OneTimeCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneTimeCodes")
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

impl OneTimeCodes {
    /// Codes hashed under `key`, living `lifetimes`.
    pub fn new(key: hmac::Key, lifetimes: CodeLifetimes) -> Self {
        Self { key, lifetimes }
    }

    /// The configured lifetimes.
    pub fn lifetimes(&self) -> CodeLifetimes {
        self.lifetimes
    }

    /// A new code for `purpose` of `user_id`, sent to `address`, issued at `now` (epoch seconds).
    pub fn issue(&self, user_id: UserId, purpose: Purpose, address: Email, now: u64) -> Issued {
        let mut token = Vec::with_capacity(1 + 16 + SECRET_BYTES);
        token.push(purpose.byte());
        token.extend_from_slice(user_id.as_bytes());
        token.extend_from_slice(&random::<SECRET_BYTES>());
        let token = BASE64.encode(token);
        let code = random_code();
        let record = CodeRecord {
            user_id,
            purpose,
            token_mac: self.token_mac(&token),
            code_mac: self.code_mac(user_id, purpose, &code),
            address,
            attempts: 0,
            expires_at: now + self.lifetimes.of(purpose).as_secs(),
        };
        Issued {
            token: SecretString::from(token),
            code: SecretString::from(code),
            record,
        }
    }

    /// Parses a presented token; `None` when it cannot be one of ours.
    pub fn parse_token(&self, raw: &str) -> Option<PresentedToken> {
        let bytes = BASE64.decode(raw.trim()).ok()?;
        if bytes.len() != 1 + 16 + SECRET_BYTES {
            return None;
        }
        let purpose = Purpose::from_byte(bytes[0])?;
        let user_id = UserId::from_bytes(bytes[1..17].try_into().ok()?);
        Some(PresentedToken {
            user_id,
            purpose,
            proof: Proof::Token(self.token_mac(raw.trim())),
        })
    }

    /// The proof a presented code makes for `purpose` of `user_id`; `None` when it is not 8
    /// digits (spaces and hyphens between them are allowed, as people type them).
    pub fn code_proof(&self, user_id: UserId, purpose: Purpose, raw: &str) -> Option<Proof> {
        let digits = normalise_code(raw)?;
        Some(Proof::Code(self.code_mac(user_id, purpose, &digits)))
    }

    fn token_mac(&self, token: &str) -> String {
        self.mac(&[b"token", token.as_bytes()])
    }

    fn code_mac(&self, user_id: UserId, purpose: Purpose, code: &str) -> String {
        self.mac(&[
            b"code",
            purpose.as_str().as_bytes(),
            user_id.as_bytes(),
            code.as_bytes(),
        ])
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        for part in parts {
            // Length-prefixed: no two part lists hash alike.
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        BASE64.encode(context.sign())
    }
}

/// The 8 digits of a presented code, or `None`.
pub fn normalise_code(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // aws-lc's generator, seeded from getrandom(2); it fails only without any OS entropy.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS random number generator works");
    bytes
}

/// 8 uniformly random digits: a 32-bit draw below the largest multiple of 10^8, reduced.
fn random_code() -> String {
    const SPAN: u32 = 100_000_000;
    const LIMIT: u32 = u32::MAX - u32::MAX % SPAN;
    loop {
        let draw = u32::from_be_bytes(random::<4>());
        if draw < LIMIT {
            return format!("{:08}", draw % SPAN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> OneTimeCodes {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"test key of thirty-two bytes....");
        OneTimeCodes::new(
            key,
            CodeLifetimes {
                verify: Duration::from_secs(86_400),
                reset: Duration::from_secs(3_600),
                change_email: Duration::from_secs(3_600),
            },
        )
    }

    fn address() -> Email {
        Email::parse("ada@example.com").expect("valid")
    }

    #[test]
    fn a_token_names_its_account_and_purpose_and_proves_only_itself() {
        let codes = codes();
        let user = UserId::new();
        let issued = codes.issue(user, Purpose::Reset, address(), 1_000);
        let token = issued.token.expose_secret();
        assert!(
            token.len() >= 44,
            "at least 128 random bits: {}",
            token.len()
        );
        let presented = codes.parse_token(token).expect("parses");
        assert_eq!(
            (presented.user_id, presented.purpose),
            (user, Purpose::Reset)
        );
        assert!(issued.record.is_proved_by(&presented.proof));
        let other = codes.issue(user, Purpose::Reset, address(), 1_000);
        assert!(!other.record.is_proved_by(&presented.proof));
        assert_eq!(issued.record.expires_at, 1_000 + 3_600);
        assert!(!format!("{issued:?}").contains(token));
    }

    #[test]
    fn codes_are_eight_digits_bound_to_their_account_and_purpose() {
        let codes = codes();
        let user = UserId::new();
        let issued = codes.issue(user, Purpose::Verify, address(), 0);
        let code = issued.code.expose_secret();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let spaced = format!("{} {}", &code[..4], &code[4..]);
        let proof = codes
            .code_proof(user, Purpose::Verify, &spaced)
            .expect("8 digits");
        assert!(issued.record.is_proved_by(&proof));
        for (other_user, purpose) in [(UserId::new(), Purpose::Verify), (user, Purpose::Reset)] {
            let proof = codes
                .code_proof(other_user, purpose, code)
                .expect("8 digits");
            assert!(!issued.record.is_proved_by(&proof));
        }
        for bad in ["1234567", "123456789", "1234567a", "", "１２３４５６７８"] {
            assert_eq!(codes.code_proof(user, Purpose::Verify, bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let codes = codes();
        for bad in [
            "",
            "abc",
            &BASE64.encode([9u8; 33]),
            &BASE64.encode([1u8; 32]),
        ] {
            assert!(codes.parse_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_code_dies_after_its_attempts_or_its_lifetime() {
        let mut record = codes()
            .issue(UserId::new(), Purpose::Verify, address(), 0)
            .record;
        assert!(record.is_live(86_399));
        assert!(!record.is_live(86_400));
        record.attempts = MAX_CODE_ATTEMPTS;
        assert!(!record.is_live(1));
    }

    #[test]
    fn links_carry_the_token_in_the_fragment() {
        let issued = codes().issue(UserId::new(), Purpose::ChangeEmail, address(), 0);
        let link = issued.link("https://app.example.com/");
        let expected = format!(
            "https://app.example.com/confirm-email#token={}",
            issued.token.expose_secret()
        );
        assert_eq!(link, expected);
    }

    #[test]
    fn random_codes_cover_the_digits() {
        let mut seen = [false; 10];
        for _ in 0..200 {
            for b in random_code().bytes() {
                seen[usize::from(b - b'0')] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }
}
