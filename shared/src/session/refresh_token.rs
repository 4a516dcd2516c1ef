//! Refresh tokens: `v1.<user id>.<session id>.<g>.<mac>`, the MAC an HMAC-SHA256 over the ids,
//! the generation and the session's seed, under a key derived from the signing key.

use std::fmt;

use aws_lc_rs::{hmac, rand::SecureRandom as _};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use super::{Session, SessionId};
use crate::config::SessionSettings;
use crate::user::UserId;

const TOKEN_VERSION: &str = "v1";
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// The random secret a session's refresh tokens are derived from. Never leaves the table.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed(pub(crate) [u8; 32]);

impl Seed {
    /// 256 bits from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        // aws-lc's generator, seeded from getrandom(2) (.cargo/config.toml); it fails only if
        // the OS has no entropy source at all.
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut bytes)
            .expect("the OS random number generator works");
        Self(bytes)
    }

    pub(crate) fn encode(&self) -> String {
        BASE64.encode(self.0)
    }

    pub(crate) fn decode(raw: &str) -> Option<Self> {
        BASE64.decode(raw).ok()?.try_into().ok().map(Self)
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed([REDACTED])")
    }
}
/// A refresh token as presented: which session and generation it claims, and its MAC. Parsing
/// proves nothing; [`RefreshTokens::verify`] does. `Debug` leaves the MAC out: it is the secret
/// part of the token.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken {
    /// The session's user.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// The generation the token claims.
    pub generation: u64,
    mac: Vec<u8>,
}

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedToken")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("generation", &self.generation)
            .field("mac", &"[REDACTED]")
            .finish()
    }
}

impl PresentedToken {
    /// Parses `v1.<user id>.<session id>.<generation>.<mac>`; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split('.');
        let (version, user, session, generation, mac) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if version != TOKEN_VERSION || parts.next().is_some() {
            return None;
        }
        Some(Self {
            user_id: UserId::parse(user)?,
            session_id: SessionId::parse(session)?,
            generation: generation.parse().ok()?,
            mac: BASE64.decode(mac).ok().filter(|mac| mac.len() == 32)?,
        })
    }
}

/// A refresh token to hand out. Redacted in `Debug`.
pub struct RefreshToken(SecretString);

impl RefreshToken {
    /// The token itself, for the response body only.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([REDACTED])")
    }
}

/// Issues and verifies refresh tokens under one derived key.
#[derive(Clone)]
pub struct RefreshTokens {
    key: hmac::Key,
    settings: SessionSettings,
}

impl fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl RefreshTokens {
    /// Refresh tokens under `key` (derived from the signing key), with these lifetimes.
    pub fn new(key: hmac::Key, settings: SessionSettings) -> Self {
        Self { key, settings }
    }

    /// The session lifetimes and reuse grace.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    fn message(session: &Session, generation: u64) -> Vec<u8> {
        let mut message = format!(
            "{TOKEN_VERSION}.{}.{}.{generation}.",
            session.user_id, session.id
        )
        .into_bytes();
        message.extend_from_slice(&session.seed.0);
        message
    }

    /// The session's refresh token of its current generation.
    pub fn current(&self, session: &Session) -> RefreshToken {
        let tag = hmac::sign(&self.key, &Self::message(session, session.generation));
        RefreshToken(SecretString::from(format!(
            "{TOKEN_VERSION}.{}.{}.{}.{}",
            session.user_id,
            session.id,
            session.generation,
            BASE64.encode(tag.as_ref())
        )))
    }

    /// Whether `presented` is a genuine token of `session` (of any generation up to the
    /// current one), in constant time.
    pub fn verify(&self, session: &Session, presented: &PresentedToken) -> bool {
        presented.user_id == session.user_id
            && presented.session_id == session.id
            && presented.generation <= session.generation
            && hmac::verify(
                &self.key,
                &Self::message(session, presented.generation),
                &presented.mac,
            )
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{ClientInfo, test_user};

    fn tokens() -> RefreshTokens {
        RefreshTokens::new(
            hmac::Key::new(hmac::HMAC_SHA256, b"refresh-test-key-refresh-test-key"),
            SessionSettings::default(),
        )
    }

    fn session() -> Session {
        Session::start(
            &test_user(),
            ClientInfo::default(),
            &SessionSettings::default(),
        )
    }

    #[test]
    fn tokens_verify_for_their_session_and_generation_only() {
        let tokens = tokens();
        let session = session();
        let token = tokens.current(&session);
        let presented = PresentedToken::parse(token.expose_secret()).expect("parses");
        assert!(tokens.verify(&session, &presented));
        assert_eq!(presented.generation, 0);

        let rotated = session.rotated(crate::clock::now_millis(), tokens.settings());
        assert!(
            tokens.verify(&rotated, &presented),
            "an old generation is still genuine"
        );
        let newer = PresentedToken::parse(tokens.current(&rotated).expose_secret()).expect("ok");
        assert!(
            !tokens.verify(&session, &newer),
            "no generation from the future"
        );

        let other = Session {
            seed: Seed::generate(),
            ..session.clone()
        };
        assert!(!tokens.verify(&other, &presented), "another seed");
        let other_key = RefreshTokens::new(
            hmac::Key::new(hmac::HMAC_SHA256, b"another-key-another-key-another-key"),
            SessionSettings::default(),
        );
        assert!(!other_key.verify(&session, &presented), "another key");
    }

    #[test]
    fn tokens_carry_256_bits_and_nothing_in_them_is_the_seed() {
        let session = session();
        let token = tokens().current(&session);
        let mac = token.expose_secret().rsplit('.').next().expect("mac");
        assert_eq!(BASE64.decode(mac).expect("base64").len(), 32);
        assert!(!token.expose_secret().contains(&session.seed.encode()));
        let presented = PresentedToken::parse(token.expose_secret()).expect("parses");
        let printed = format!("{token:?}{:?}{presented:?}", session.seed);
        assert!(!printed.contains(mac), "{printed}");
        assert!(
            !printed.contains(&format!("{:?}", presented.mac)),
            "{printed}"
        );
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        let good = tokens().current(&session());
        let good = good.expose_secret();
        let mut cases = vec![
            String::new(),
            "v1".to_owned(),
            good.replacen("v1", "v2", 1),
            format!("{good}.extra"),
            good.replace('.', ":"),
        ];
        let (head, _) = good.rsplit_once('.').expect("mac");
        cases.push(format!("{head}.short"));
        for raw in cases {
            assert_eq!(PresentedToken::parse(&raw), None, "{raw}");
        }
    }
}
