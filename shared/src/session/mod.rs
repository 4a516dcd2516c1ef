//! Sessions: one per sign-in, what `GET /sessions` shows of them, and what a presented refresh
//! token means for one ([`Session::refresh_decision`]). The tokens themselves are
//! `refresh_token`'s.
//!
//! Every sign-in starts a [`Session`], stored under its user's partition. A session has a random
//! 256-bit seed and a generation counter; its refresh token for generation `g` is
//! `v1.<user id>.<session id>.<g>.<mac>`, where `mac` is HMAC-SHA256 (under a key derived from
//! the signing key) over the ids, `g` and the seed. So the table holds no token in a form that
//! can be replayed (the key lives in Secrets Manager, not in the table), yet the server can
//! recompute any generation's token: that is what lets a refresh that lost a race answer with the
//! session's *current* token, and what recognises an old token as reuse.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use crate::clock::{now_seconds, rfc3339};
use crate::config::SessionSettings;
use crate::user::{User, UserId};

mod refresh_token;

pub use refresh_token::{PresentedToken, RefreshToken, RefreshTokens, Seed};

/// Longest user agent kept, in characters.
pub const MAX_USER_AGENT_LENGTH: usize = 256;
/// Longest source IP kept (an IPv6 address with a zone fits).
pub const MAX_IP_LENGTH: usize = 64;
/// A session's id: a random UUID, shown to its user in `GET /sessions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A new random id.
    #[allow(clippy::new_without_default)] // a default id would be a random one: keep it explicit
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses the canonical hyphenated form.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::try_parse(raw).ok().map(Self)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Where a sign-in came from: shown to the user in `GET /sessions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's own `User-Agent` (API Gateway passes it verbatim: a claim, not evidence),
    /// cleaned and truncated.
    pub user_agent: Option<String>,
    /// The source IP API Gateway saw.
    pub ip_address: Option<String>,
}

impl ClientInfo {
    /// Cleans raw values: control (Cc), format (Cf) and line/paragraph separator (Zl, Zp)
    /// characters removed, whitespace trimmed, truncated
    /// to [`MAX_USER_AGENT_LENGTH`] / [`MAX_IP_LENGTH`] characters; empty becomes `None`.
    pub fn new(user_agent: Option<&str>, ip_address: Option<&str>) -> Self {
        Self {
            user_agent: user_agent.and_then(|raw| clean(raw, MAX_USER_AGENT_LENGTH)),
            ip_address: ip_address.and_then(|raw| clean(raw, MAX_IP_LENGTH)),
        }
    }
}

/// What the client sent, cleaned as display names are judged: no control (Cc), format (Cf) or
/// line/paragraph separator (Zl, Zp) characters, which could hide or reorder what a user reads
/// in `GET /sessions`; then trimmed and truncated.
fn clean(raw: &str, limit: usize) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .filter(|&c| !c.is_control() && !crate::user::is_formatting(c))
        .collect();
    let trimmed: String = cleaned.trim().chars().take(limit).collect();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// One sign-in of one user. Times are epoch seconds unless named `_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session id (the access token's `sid`).
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// When the user signed in.
    pub created_at: u64,
    /// The last sign-in or refresh.
    pub last_used_at: u64,
    /// When it ends unless refreshed: the earlier of `last_used_at` + the idle lifetime and
    /// `created_at` + the maximum lifetime. Also the item's TTL.
    pub expires_at: u64,
    /// How many times its refresh token was rotated.
    pub generation: u64,
    /// When it was last rotated, epoch milliseconds (0: never).
    pub rotated_at_ms: u64,
    /// What its refresh tokens are derived from.
    pub seed: Seed,
    /// Where the sign-in came from.
    pub client: ClientInfo,
    /// The user's [`User::credentials`] when it started.
    pub credentials: u64,
}

impl Session {
    /// A session starting now for `user`, on the password it has now.
    pub fn start(user: &User, client: ClientInfo, settings: &SessionSettings) -> Self {
        let now = now_seconds();
        Self {
            id: SessionId::new(),
            user_id: user.id,
            credentials: user.credentials,
            created_at: now,
            last_used_at: now,
            expires_at: expiry(now, now, settings),
            generation: 0,
            rotated_at_ms: 0,
            seed: Seed::generate(),
            client,
        }
    }

    /// Whether the session is still alive at `now` (epoch seconds). Checked by the code on every
    /// use: DynamoDB's TTL deletion can lag by days.
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }

    /// Whether the session was started on `user`'s current password: a password change bumps
    /// the user's credentials generation, and every session started before it is over.
    pub fn is_current_for(&self, user: &User) -> bool {
        self.user_id == user.id && self.credentials == user.credentials
    }

    /// What a refresh token of generation `presented` (its MAC already verified) means for this
    /// session at `now_ms`, with `grace` the reuse grace. A pure decision: the caller does what
    /// it says.
    pub fn refresh_decision(&self, presented: u64, now_ms: u64, grace: Duration) -> Refresh {
        if !self.is_live(now_ms / 1000) {
            return Refresh::Expired;
        }
        if presented == self.generation {
            return Refresh::Rotate;
        }
        let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        let just_rotated = presented.checked_add(1) == Some(self.generation);
        if just_rotated && now_ms.saturating_sub(self.rotated_at_ms) <= grace_ms {
            return Refresh::Grace;
        }
        Refresh::Reuse
    }

    /// The session after one rotation at `now_ms`.
    pub fn rotated(&self, now_ms: u64, settings: &SessionSettings) -> Self {
        let now = now_ms / 1000;
        Self {
            last_used_at: now,
            expires_at: expiry(self.created_at, now, settings),
            generation: self.generation + 1,
            rotated_at_ms: now_ms,
            ..self.clone()
        }
    }
}

/// What `POST /refresh` does with a presented refresh token ([`Session::refresh_decision`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// The session's current token: rotate (one conditional write).
    Rotate,
    /// The token rotated just before, within the reuse grace (two tabs, a retry): answer the
    /// session's current token without rotating again.
    Grace,
    /// An older token, or the previous one after the grace: stolen or leaked; end the session.
    Reuse,
    /// The session is past its end (its item may outlive it until DynamoDB's TTL removes it).
    Expired,
}

fn expiry(created_at: u64, last_used_at: u64, settings: &SessionSettings) -> u64 {
    (last_used_at + settings.idle_ttl.as_secs()).min(created_at + settings.max_ttl.as_secs())
}

/// What a session looks like in `GET /sessions`.
#[derive(Debug, Serialize)]
pub struct SessionView<'a> {
    id: SessionId,
    created_at: String,
    last_used_at: String,
    expires_at: String,
    user_agent: Option<&'a str>,
    ip_address: Option<&'a str>,
    current: bool,
}

impl<'a> SessionView<'a> {
    /// The view of `session`; `current` when it is the caller's own.
    pub fn new(session: &'a Session, current: bool) -> Self {
        Self {
            id: session.id,
            created_at: rfc3339(session.created_at),
            last_used_at: rfc3339(session.last_used_at),
            expires_at: rfc3339(session.expires_at),
            user_agent: session.client.user_agent.as_deref(),
            ip_address: session.client.ip_address.as_deref(),
            current,
        }
    }
}

/// A user for unit tests of sessions.
#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) fn test_user() -> User {
    User::new(
        crate::email::Email::parse("ada@example.com").expect("valid"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    mod refresh_decision {
        use super::super::*;

        const GRACE: Duration = Duration::from_secs(10);

        /// Generation 3, rotated at t = 1 000 000 ms, alive until t = 2 000 s.
        fn session() -> Session {
            let mut session = Session::start(
                &test_user(),
                ClientInfo::default(),
                &SessionSettings::default(),
            );
            session.generation = 3;
            session.rotated_at_ms = 1_000_000;
            session.expires_at = 2_000;
            session
        }

        #[test]
        fn the_current_token_rotates() {
            assert_eq!(
                session().refresh_decision(3, 1_500_000, GRACE),
                Refresh::Rotate
            );
        }

        #[test]
        fn the_previous_token_within_the_grace_gets_the_current_one() {
            let session = session();
            assert_eq!(
                session.refresh_decision(2, 1_000_000, GRACE),
                Refresh::Grace
            );
            assert_eq!(
                session.refresh_decision(2, 1_010_000, GRACE),
                Refresh::Grace
            );
        }

        #[test]
        fn the_previous_token_after_the_grace_is_reuse() {
            assert_eq!(
                session().refresh_decision(2, 1_010_001, GRACE),
                Refresh::Reuse
            );
            assert_eq!(
                session().refresh_decision(2, 1_000_001, Duration::ZERO),
                Refresh::Reuse
            );
        }

        #[test]
        fn older_and_unknown_generations_are_reuse() {
            for presented in [0, 1, 4, u64::MAX] {
                assert_eq!(
                    session().refresh_decision(presented, 1_000_000, GRACE),
                    Refresh::Reuse,
                    "{presented}"
                );
            }
        }

        #[test]
        fn an_ended_session_is_expired_whatever_the_token() {
            for presented in [2, 3] {
                assert_eq!(
                    session().refresh_decision(presented, 2_000_000, GRACE),
                    Refresh::Expired
                );
            }
        }
    }

    #[test]
    fn expiry_is_the_earlier_of_idle_and_maximum_lifetime() {
        let settings = SessionSettings {
            idle_ttl: Duration::from_secs(100),
            max_ttl: Duration::from_secs(250),
            reuse_grace: Duration::from_secs(10),
        };
        let mut session = Session::start(&test_user(), ClientInfo::default(), &settings);
        let start = session.created_at;
        assert_eq!(session.expires_at, start + 100);
        session = session.rotated((start + 90) * 1000, &settings);
        assert_eq!(session.expires_at, start + 190);
        session = session.rotated((start + 180) * 1000, &settings);
        assert_eq!(session.expires_at, start + 250, "capped by the maximum");
        assert!(session.is_live(start + 249) && !session.is_live(start + 250));
    }

    #[test]
    fn client_info_is_cleaned_and_truncated() {
        let info = ClientInfo::new(
            Some(&format!(" curl/8\u{0}\u{202e}\n{} ", "x".repeat(400))),
            Some("203.0.113.10"),
        );
        let agent = info.user_agent.expect("kept");
        assert!(agent.starts_with("curl/8x"), "{agent}");
        assert_eq!(agent.chars().count(), MAX_USER_AGENT_LENGTH);
        assert_eq!(ClientInfo::new(Some("\u{7}\u{7}"), None).user_agent, None);
        // What display names refuse, user agents lose.
        for hidden in [
            '\u{61c}',
            '\u{ad}',
            '\u{2060}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{2028}',
            '\u{2029}',
            '\u{200b}',
            '\u{202e}',
            '\u{feff}',
        ] {
            let agent = ClientInfo::new(Some(&format!("Mozilla{hidden}/5.0")), None).user_agent;
            assert_eq!(
                agent.as_deref(),
                Some("Mozilla/5.0"),
                "U+{:04X}",
                u32::from(hidden)
            );
        }
        assert_eq!(info.ip_address.as_deref(), Some("203.0.113.10"));
    }
}
