//! The one conversion point between DynamoDB items and domain types.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoredUser;
use crate::codes::{CodeRecord, Purpose};
use crate::email::Email;
use crate::password::PasswordHashString;
use crate::session::{ClientInfo, Seed, Session, SessionId};
use crate::user::{DisplayName, User, UserId};

/// The table's partition key attribute.
pub const PARTITION_KEY: &str = "pk";
/// The table's sort key attribute.
pub const SORT_KEY: &str = "sk";
/// The table's TTL attribute (epoch seconds), reserved for session items.
pub const TTL_ATTRIBUTE: &str = "expires_at";

const USER_SK: &str = "USER";
const EMAIL_SK: &str = "EMAIL";
const ENTITY: &str = "entity";
const ID: &str = "id";
pub(super) const EMAIL: &str = "email";
pub(super) const NAME: &str = "name";
pub(super) const PASSWORD_HASH: &str = "password_hash";
const CREATED_AT: &str = "created_at";
pub(super) const VERSION: &str = "version";
pub(super) const USER_ID: &str = "user_id";
const THROTTLE_SK: &str = "LOGIN";
const SESSION_SK_PREFIX: &str = "SESSION#";
const SESSION_ID: &str = "session_id";
const STARTED_AT: &str = "started_at";
const LAST_USED_AT: &str = "last_used_at";
const GENERATION: &str = "generation";
const ROTATED_AT_MS: &str = "rotated_at_ms";
const SEED: &str = "seed";
const USER_AGENT: &str = "user_agent";
/// On the user item and on each session: see [`User::credentials`]. Absent (items written before
/// it existed) reads as 0 on both.
pub(super) const CREDENTIALS: &str = "credentials";
/// On the user item: the random id of the last single-item write, by which a retried write
/// recognises that it already committed.
pub(super) const WRITE_ID: &str = "write_id";
/// On the user item: `true` once the address was proven (absent: `false`).
pub(super) const EMAIL_VERIFIED: &str = "email_verified";
/// On the user item: the address an email change waits to move to.
pub(super) const PENDING_EMAIL: &str = "pending_email";
const IP_ADDRESS: &str = "ip_address";
const FAILURES: &str = "failures";
const LOCKED_UNTIL: &str = "locked_until";

/// What the profile read fetches: everything but the password hash.
pub(super) const PUBLIC_ATTRIBUTES: &[&str] = &[
    ID,
    EMAIL,
    NAME,
    CREATED_AT,
    VERSION,
    CREDENTIALS,
    EMAIL_VERIFIED,
    PENDING_EMAIL,
];
/// What a session read fetches: every session attribute (the key tells items apart).
pub(super) const SESSION_ATTRIBUTES: &[&str] = &[
    SORT_KEY,
    SESSION_ID,
    USER_ID,
    STARTED_AT,
    LAST_USED_AT,
    TTL_ATTRIBUTE,
    GENERATION,
    ROTATED_AT_MS,
    SEED,
    USER_AGENT,
    IP_ADDRESS,
    CREDENTIALS,
];
/// What an authenticated request reads in its one round trip: the user (without the password
/// hash) and the session.
pub(super) fn user_and_session_attributes() -> Vec<&'static str> {
    let mut attributes: Vec<&str> = PUBLIC_ATTRIBUTES.to_vec();
    attributes.extend(
        SESSION_ATTRIBUTES
            .iter()
            .filter(|a| !PUBLIC_ATTRIBUTES.contains(a)),
    );
    attributes
}
/// The sort-key prefix of session items, for queries.
pub(super) const SESSION_PREFIX: &str = SESSION_SK_PREFIX;

/// What login's first read fetches from the email claim.
pub(super) const CLAIM_ATTRIBUTES: &[&str] = &[USER_ID];

/// A `ProjectionExpression` for `attributes` with its `ExpressionAttributeNames`: every name goes
/// through a `#placeholder`, so reserved words (`name`) need no special case.
pub(super) fn projection(attributes: &[&str]) -> (String, HashMap<String, String>) {
    let names: HashMap<String, String> = attributes
        .iter()
        .map(|attribute| (format!("#{attribute}"), (*attribute).to_owned()))
        .collect();
    let expression = attributes
        .iter()
        .map(|attribute| format!("#{attribute}"))
        .collect::<Vec<_>>()
        .join(", ");
    (expression, names)
}

/// A DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// An item that does not have the shape this code writes: data corruption or a bug.
#[derive(Debug, thiserror::Error)]
#[error("stored item attribute `{0}` is missing or malformed")]
pub struct MalformedItem(&'static str);

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), s(pk)),
        (SORT_KEY.to_owned(), s(sk)),
    ])
}

pub(super) fn user_key(id: &UserId) -> Item {
    key(format!("USER#{id}"), USER_SK)
}

pub(super) fn email_claim_key(email: &Email) -> Item {
    key(format!("EMAIL#{email}"), EMAIL_SK)
}

pub(super) fn user_item(user: &User, hash: &PasswordHashString) -> Item {
    let mut item = user_key(&user.id);
    item.insert(ENTITY.to_owned(), s("user"));
    item.insert(ID.to_owned(), s(user.id.to_string()));
    item.insert(EMAIL.to_owned(), s(user.email.as_str()));
    if let Some(name) = &user.name {
        item.insert(NAME.to_owned(), s(name.as_str()));
    }
    item.insert(PASSWORD_HASH.to_owned(), s(hash.as_str()));
    item.insert(CREATED_AT.to_owned(), s(&user.created_at));
    item.insert(
        VERSION.to_owned(),
        AttributeValue::N(user.version.to_string()),
    );
    item.insert(CREDENTIALS.to_owned(), n(user.credentials));
    item.insert(
        EMAIL_VERIFIED.to_owned(),
        AttributeValue::Bool(user.email_verified),
    );
    if let Some(pending) = &user.pending_email {
        item.insert(PENDING_EMAIL.to_owned(), s(pending.as_str()));
    }
    item
}

pub(super) fn email_claim_item(user: &User) -> Item {
    let mut item = email_claim_key(&user.email);
    item.insert(ENTITY.to_owned(), s("email_claim"));
    item.insert(USER_ID.to_owned(), s(user.id.to_string()));
    item.insert(CREATED_AT.to_owned(), s(&user.created_at));
    item.insert(VERSION.to_owned(), AttributeValue::N("1".to_owned()));
    item
}

/// The login-throttle item's key: `THROTTLE#<subject>`, where the subject is already a keyed
/// hash (the email never appears in clear).
pub(super) fn throttle_key(subject: &str) -> Item {
    key(format!("THROTTLE#{subject}"), THROTTLE_SK)
}

/// A one-time code's key: `CODE#<address it was sent to>`, sort key `<PURPOSE>#<user id>`. One
/// item per purpose, account and address: issuing again replaces it (and kills the old code).
pub(super) fn code_key(address: &str, purpose: Purpose, user_id: &UserId) -> Item {
    key(code_pk(address), &format!("{}#{user_id}", purpose.as_str()))
}

/// The key the code check counts a wrong guess on when the address has no code: no item ever
/// has it, so the conditional write fails, at the cost of a real one.
pub(super) fn absent_code_key(address: &str) -> Item {
    key(code_pk(address), "NONE")
}

fn code_pk(address: &str) -> String {
    format!("CODE#{address}")
}

/// The partition of every code sent to `address`, for queries.
pub(super) fn code_partition(address: &str) -> AttributeValue {
    s(code_pk(address))
}

const PURPOSE: &str = "purpose";
pub(super) const TOKEN_MAC: &str = "token_mac";
pub(super) const CODE_MAC: &str = "code_mac";
pub(super) const ATTEMPTS: &str = "attempts";
const ADDRESS: &str = "address";

pub(super) fn code_item(record: &CodeRecord) -> Item {
    let mut item = code_key(record.address.as_str(), record.purpose, &record.user_id);
    item.insert(ENTITY.to_owned(), s("code"));
    item.insert(USER_ID.to_owned(), s(record.user_id.to_string()));
    item.insert(PURPOSE.to_owned(), s(record.purpose.as_str()));
    item.insert(ADDRESS.to_owned(), s(record.address.as_str()));
    item.insert(TOKEN_MAC.to_owned(), s(&record.token_mac));
    item.insert(CODE_MAC.to_owned(), s(&record.code_mac));
    item.insert(ATTEMPTS.to_owned(), n(record.attempts));
    item.insert(TTL_ATTRIBUTE.to_owned(), n(record.expires_at));
    item
}

impl TryFrom<&Item> for CodeRecord {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, Self::Error> {
        Ok(CodeRecord {
            user_id: claimed_user_id(item)?,
            purpose: string(item, PURPOSE)
                .and_then(|raw| Purpose::parse(raw).ok_or(MalformedItem(PURPOSE)))?,
            address: Email::from_stored(string(item, ADDRESS)?.to_owned()),
            token_mac: string(item, TOKEN_MAC)?.to_owned(),
            code_mac: string(item, CODE_MAC)?.to_owned(),
            attempts: number(item, ATTEMPTS)?,
            expires_at: number(item, TTL_ATTRIBUTE)?,
        })
    }
}

/// The per-address mail counter's key: `MAILRATE#<address>`.
pub(super) fn mail_rate_key(address: &str) -> Item {
    key(format!("MAILRATE#{address}"), "MAIL")
}

/// A login-throttle counter as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ThrottleState {
    /// Failed (or still running) attempts since the last success.
    pub failures: u32,
    /// Epoch milliseconds before which no attempt is admitted (0: none).
    pub locked_until: u64,
    /// Epoch seconds after which the item is dead (TTL), whether or not DynamoDB removed it yet.
    pub expires_at: u64,
}

pub(super) fn throttle_item(subject: &str, state: ThrottleState) -> Item {
    let mut item = throttle_key(subject);
    item.insert(ENTITY.to_owned(), s("login_throttle"));
    item.insert(FAILURES.to_owned(), n(state.failures));
    item.insert(LOCKED_UNTIL.to_owned(), n(state.locked_until));
    item.insert(TTL_ATTRIBUTE.to_owned(), n(state.expires_at));
    item
}

/// The `failures` attribute's name and value, for a condition on what was read.
pub(super) fn failures_attribute(state: ThrottleState) -> (&'static str, AttributeValue) {
    (FAILURES, n(state.failures))
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number<T: std::str::FromStr>(item: &Item, attribute: &'static str) -> Result<T, MalformedItem> {
    match item.get(attribute) {
        Some(AttributeValue::N(raw)) => raw.parse().map_err(|_| MalformedItem(attribute)),
        _ => Err(MalformedItem(attribute)),
    }
}

impl TryFrom<&Item> for ThrottleState {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, Self::Error> {
        Ok(Self {
            failures: number(item, FAILURES)?,
            locked_until: number(item, LOCKED_UNTIL)?,
            expires_at: number(item, TTL_ATTRIBUTE)?,
        })
    }
}

pub(super) fn session_key(user_id: &UserId, session_id: &SessionId) -> Item {
    key(
        format!("USER#{user_id}"),
        &format!("{SESSION_SK_PREFIX}{session_id}"),
    )
}

/// The partition all of a user's items share (the user item and their sessions).
pub(super) fn user_partition(user_id: &UserId) -> AttributeValue {
    s(format!("USER#{user_id}"))
}

/// Whether an item read with the user is a session (rather than the user item).
pub(super) fn is_session(item: &Item) -> bool {
    string(item, SORT_KEY).is_ok_and(|sk| sk.starts_with(SESSION_SK_PREFIX))
}

pub(super) fn session_item(session: &Session) -> Item {
    let mut item = session_key(&session.user_id, &session.id);
    item.insert(ENTITY.to_owned(), s("session"));
    item.insert(SESSION_ID.to_owned(), s(session.id.to_string()));
    item.insert(USER_ID.to_owned(), s(session.user_id.to_string()));
    item.insert(STARTED_AT.to_owned(), n(session.created_at));
    item.insert(LAST_USED_AT.to_owned(), n(session.last_used_at));
    item.insert(TTL_ATTRIBUTE.to_owned(), n(session.expires_at));
    item.insert(GENERATION.to_owned(), n(session.generation));
    item.insert(ROTATED_AT_MS.to_owned(), n(session.rotated_at_ms));
    item.insert(SEED.to_owned(), s(session.seed.encode()));
    item.insert(CREDENTIALS.to_owned(), n(session.credentials));
    if let Some(agent) = &session.client.user_agent {
        item.insert(USER_AGENT.to_owned(), s(agent));
    }
    if let Some(ip) = &session.client.ip_address {
        item.insert(IP_ADDRESS.to_owned(), s(ip));
    }
    item
}

/// The attributes a rotation writes, as `(name, value)` pairs, and the generation it expects.
pub(super) fn rotation(to: &Session) -> ([(&'static str, AttributeValue); 4], AttributeValue) {
    (
        [
            (LAST_USED_AT, n(to.last_used_at)),
            (TTL_ATTRIBUTE, n(to.expires_at)),
            (GENERATION, n(to.generation)),
            (ROTATED_AT_MS, n(to.rotated_at_ms)),
        ],
        n(to.generation - 1),
    )
}

/// The generation attribute's name, for conditions.
pub(super) const GENERATION_ATTRIBUTE: &str = GENERATION;

impl TryFrom<&Item> for Session {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, Self::Error> {
        let optional = |attribute: &'static str| match item.get(attribute) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        Ok(Session {
            id: string(item, SESSION_ID)
                .and_then(|raw| SessionId::parse(raw).ok_or(MalformedItem(SESSION_ID)))?,
            user_id: string(item, USER_ID)
                .and_then(|raw| UserId::parse(raw).ok_or(MalformedItem(USER_ID)))?,
            created_at: number(item, STARTED_AT)?,
            last_used_at: number(item, LAST_USED_AT)?,
            expires_at: number(item, TTL_ATTRIBUTE)?,
            generation: number(item, GENERATION)?,
            rotated_at_ms: number(item, ROTATED_AT_MS)?,
            seed: string(item, SEED)
                .and_then(|raw| Seed::decode(raw).ok_or(MalformedItem(SEED)))?,
            credentials: optional_number(item, CREDENTIALS)?,
            client: ClientInfo {
                user_agent: optional(USER_AGENT),
                ip_address: optional(IP_ADDRESS),
            },
        })
    }
}

pub(super) fn claimed_user_id(item: &Item) -> Result<UserId, MalformedItem> {
    string(item, USER_ID).and_then(|raw| UserId::parse(raw).ok_or(MalformedItem(USER_ID)))
}

/// A number attribute that items written before it existed lack: absent reads as 0.
fn optional_number(item: &Item, attribute: &'static str) -> Result<u64, MalformedItem> {
    match item.get(attribute) {
        None => Ok(0),
        Some(_) => number(item, attribute),
    }
}

fn string<'a>(item: &'a Item, attribute: &'static str) -> Result<&'a str, MalformedItem> {
    match item.get(attribute) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(MalformedItem(attribute)),
    }
}

impl TryFrom<&Item> for User {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, Self::Error> {
        let id = string(item, ID).and_then(|raw| UserId::parse(raw).ok_or(MalformedItem(ID)))?;
        // Stored values are taken as stored: the rules for new values may have tightened since.
        let email = Email::from_stored(string(item, EMAIL)?.to_owned());
        let name = match item.get(NAME) {
            None => None,
            Some(AttributeValue::S(raw)) => Some(DisplayName::from_stored(raw.clone())),
            Some(_) => return Err(MalformedItem(NAME)),
        };
        let version = number(item, VERSION)?;
        let email_verified = match item.get(EMAIL_VERIFIED) {
            None => false,
            Some(AttributeValue::Bool(verified)) => *verified,
            Some(_) => return Err(MalformedItem(EMAIL_VERIFIED)),
        };
        let pending_email = match item.get(PENDING_EMAIL) {
            None => None,
            Some(AttributeValue::S(raw)) => Some(Email::from_stored(raw.clone())),
            Some(_) => return Err(MalformedItem(PENDING_EMAIL)),
        };
        Ok(User {
            id,
            email,
            name,
            created_at: string(item, CREATED_AT)?.to_owned(),
            email_verified,
            pending_email,
            version,
            credentials: optional_number(item, CREDENTIALS)?,
        })
    }
}

impl TryFrom<&Item> for StoredUser {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, Self::Error> {
        Ok(StoredUser {
            user: User::try_from(item)?,
            password_hash: PasswordHashString::from_stored(string(item, PASSWORD_HASH)?.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: Option<&str>) -> User {
        User::new(
            Email::parse("ada@example.com").expect("valid"),
            name.map(|n| DisplayName::parse(n).expect("valid")),
        )
    }

    #[test]
    fn users_round_trip_through_their_item() {
        for name in [Some("Ada"), None] {
            let user = user(name);
            let hash = PasswordHashString::from_stored("$argon2id$v=19$fake".to_owned());
            let item = user_item(&user, &hash);
            let stored = StoredUser::try_from(&item).expect("round trip");
            assert_eq!(stored.user, user);
            assert_eq!(stored.password_hash, hash);
            assert_eq!(item[PARTITION_KEY], s(format!("USER#{}", user.id)));
        }
    }

    #[test]
    fn the_email_claim_points_at_its_user() {
        let user = user(None);
        let claim = email_claim_item(&user);
        assert_eq!(claim[PARTITION_KEY], s("EMAIL#ada@example.com"));
        assert_eq!(claimed_user_id(&claim).expect("valid"), user.id);
    }

    #[test]
    fn malformed_items_name_the_bad_attribute() {
        let mut item = user_item(&user(None), &PasswordHashString::from_stored("h".into()));
        item.insert(VERSION.to_owned(), s("one"));
        assert_eq!(User::try_from(&item).expect_err("malformed").0, VERSION);
        item.remove(EMAIL);
        assert_eq!(User::try_from(&item).expect_err("malformed").0, EMAIL);
    }

    #[test]
    fn values_todays_rules_refuse_still_read_back() {
        let mut item = user_item(&user(None), &PasswordHashString::from_stored("h".into()));
        item.insert(EMAIL.to_owned(), s("rt@127.0.0.1"));
        item.insert(NAME.to_owned(), s("Ada\u{202e}gnp.exe"));
        let user = User::try_from(&item).expect("reads back");
        assert_eq!(user.email.as_str(), "rt@127.0.0.1");
        assert_eq!(user.name.expect("a name").as_str(), "Ada\u{202e}gnp.exe");
    }

    #[test]
    fn throttle_counters_round_trip_and_never_hold_the_subject_in_clear_elsewhere() {
        let state = ThrottleState {
            failures: 6,
            locked_until: 1_800_000_000_000,
            expires_at: 1_800_086_400,
        };
        let item = throttle_item("h4sh", state);
        assert_eq!(ThrottleState::try_from(&item).expect("round trip"), state);
        assert_eq!(item[PARTITION_KEY], s("THROTTLE#h4sh"));
        assert_eq!(item[TTL_ATTRIBUTE], n(1_800_086_400u64));
    }

    #[test]
    fn sessions_round_trip_under_their_users_partition() {
        let user = user(None);
        let session = Session::start(
            &user,
            ClientInfo::new(Some("curl/8"), Some("203.0.113.10")),
            &crate::config::SessionSettings::default(),
        );
        let item = session_item(&session);
        assert_eq!(Session::try_from(&item).expect("round trip"), session);
        assert_eq!(item[PARTITION_KEY], s(format!("USER#{}", user.id)));
        assert_eq!(item[SORT_KEY], s(format!("SESSION#{}", session.id)));
        assert!(is_session(&item));
        assert!(!is_session(&user_item(
            &user,
            &PasswordHashString::from_stored("h".into())
        )));
        let (_, names) = projection(&user_and_session_attributes());
        for attribute in item.keys().filter(|a| *a != PARTITION_KEY && *a != ENTITY) {
            assert!(
                names.values().any(|n| n == attribute),
                "{attribute} not read"
            );
        }
        assert!(!names.values().any(|n| n == PASSWORD_HASH));
    }

    #[test]
    fn projections_name_every_attribute_through_a_placeholder() {
        let (expression, names) = projection(PUBLIC_ATTRIBUTES);
        assert_eq!(
            expression,
            "#id, #email, #name, #created_at, #version, #credentials, #email_verified, #pending_email"
        );
        for placeholder in expression.split(", ") {
            assert!(names.contains_key(placeholder), "{placeholder}");
        }
    }

    #[test]
    fn the_public_projection_never_reads_the_password_hash() {
        assert!(!PUBLIC_ATTRIBUTES.contains(&PASSWORD_HASH));
        let (expression, names) = projection(PUBLIC_ATTRIBUTES);
        assert!(
            !expression.contains("password") && !names.values().any(|n| n.contains("password"))
        );
    }
}
