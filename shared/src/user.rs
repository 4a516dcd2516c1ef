//! The user domain types. Values are validated on construction; the store converts them to and
//! from DynamoDB items in exactly one place (`store::item`).

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

use crate::email::Email;

/// A user's id: a random UUID, so ids reveal neither sign-up order nor volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(Uuid);

impl UserId {
    /// A new random id.
    #[allow(clippy::new_without_default)] // a default id would be a random one: keep it explicit
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses the canonical hyphenated form (as in a token's `sub`).
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::try_parse(raw).ok().map(Self)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The longest display name, in Unicode code points.
pub const MAX_NAME_LENGTH: usize = 100;

/// A display name: trimmed, 1 to [`MAX_NAME_LENGTH`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

/// Why a display name was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty after trimming, or too long.
    #[error("must be between 1 and {MAX_NAME_LENGTH} characters")]
    Length,
    /// Contains control characters (newlines, NUL, ...).
    #[error("must not contain control characters")]
    ControlCharacters,
}

impl DisplayName {
    /// Trims and validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_LENGTH {
            return Err(NameError::Length);
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::ControlCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user as the API shows it. The password hash lives apart, in [`crate::store::StoredUser`],
/// so a `User` can be serialised into any response without risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The id (also the token `sub`).
    pub id: UserId,
    /// The normalised email.
    pub email: Email,
    /// The optional display name (`null` when not set).
    pub name: Option<DisplayName>,
    /// When the account was created, RFC 3339 UTC with second precision.
    pub created_at: String,
    /// Optimistic-locking version of the stored item; starts at 1.
    #[serde(skip)]
    pub version: u64,
}

impl Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl User {
    /// A brand-new user, created now.
    pub fn new(email: Email, name: Option<DisplayName>) -> Self {
        Self {
            id: UserId::new(),
            email,
            name,
            created_at: now_rfc3339(),
            version: 1,
        }
    }
}

fn now_rfc3339() -> String {
    use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
    let now = DateTime::from(std::time::SystemTime::now());
    DateTime::from_secs(now.secs())
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ada  ").expect("valid").as_str(),
            "Ada"
        );
        assert_eq!(DisplayName::parse("   "), Err(NameError::Length));
        assert_eq!(DisplayName::parse(&"a".repeat(101)), Err(NameError::Length));
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            DisplayName::parse("Ada\nLovelace"),
            Err(NameError::ControlCharacters)
        );
    }

    #[test]
    fn user_ids_round_trip_through_their_string_form() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()), Some(id));
        assert_eq!(UserId::parse("not-a-uuid"), None);
    }

    #[test]
    fn users_serialise_to_the_public_shape_only() {
        let user = User::new(
            Email::parse("ada@example.com").expect("valid"),
            Some(DisplayName::parse("Ada").expect("valid")),
        );
        let value = serde_json::to_value(&user).expect("serialises");
        assert_eq!(
            value,
            json!({"id": user.id.to_string(), "email": "ada@example.com", "name": "Ada",
                   "created_at": user.created_at})
        );
        let created = &user.created_at;
        assert!(
            created.len() == 20 && created.ends_with('Z') && created.contains('T'),
            "{created}"
        );
    }
}
