//! The user domain types. Values are validated on construction; the store converts them to and
//! from DynamoDB items in exactly one place (`store::item`).

use std::fmt;

use icu_properties::props::{
    DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup, WhiteSpace,
};
use icu_properties::{CodePointMapData, CodePointSetData};
use serde::Serialize;
use uuid::Uuid;

use crate::email::Email;

/// A user's id: a random UUID, so ids reveal neither sign-up order nor volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(Uuid);

impl UserId {
    /// The all-zero id, which [`UserId::new`] never returns.
    pub const NIL: Self = Self(Uuid::nil());

    /// A new random id.
    #[allow(clippy::new_without_default)] // a default id would be a random one: keep it explicit
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// The 16 bytes of the id.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// The id of these 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(Uuid::from_bytes(bytes))
    }

    /// Parses the canonical hyphenated form (as in a token's `sub`).
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::try_parse(raw).ok().map(Self)
    }
}

/// Whether `c` draws something on its own: not white space, not default-ignorable (which covers
/// the Hangul fillers and variation selectors), not a mark that only decorates its base, not
/// unassigned or private use, and not the blank braille pattern.
/// Whether `c` is a format character or a line or paragraph separator (Unicode Cf, Zl, Zp:
/// bidirectional controls, zero-width and invisible characters, soft hyphens, tag characters):
/// text shown to people must not carry them. Control characters (Cc) are `char::is_control`.
pub(crate) fn is_formatting(c: char) -> bool {
    let refused = GeneralCategoryGroup::Format
        .union(GeneralCategoryGroup::LineSeparator)
        .union(GeneralCategoryGroup::ParagraphSeparator);
    refused.contains(CodePointMapData::<GeneralCategory>::new().get(c))
}

fn is_visible(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    let invisible = GeneralCategoryGroup::Separator
        .union(GeneralCategoryGroup::Other)
        .union(GeneralCategoryGroup::NonspacingMark)
        .union(GeneralCategoryGroup::EnclosingMark);
    !invisible.contains(category)
        && !CodePointSetData::new::<WhiteSpace>().contains(c)
        && !CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        && c != '\u{2800}'
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl<'de> serde::Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("not a user id"))
    }
}

impl Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The longest display name, in Unicode code points.
pub const MAX_NAME_LENGTH: usize = 100;

/// A display name people can see: trimmed, 1 to [`MAX_NAME_LENGTH`] characters, no control
/// (Cc) or format (Cf: bidirectional overrides, zero-width spaces, byte-order marks...)
/// characters, no line or paragraph separators (Zl, Zp), and at least one visible character.
/// The one exception: a zero-width joiner or non-joiner between two visible characters, as
/// Persian and Indic names and emoji sequences need.
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
    /// Contains invisible formatting characters (bidirectional overrides, zero-width
    /// characters) or line/paragraph separators.
    #[error("must not contain invisible formatting characters or line separators")]
    FormatCharacters,
    /// Has no visible character at all.
    #[error("must contain at least one visible character")]
    NothingVisible,
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
        let chars: Vec<char> = name.chars().collect();
        let refused_at = |i: usize| {
            let c = chars[i];
            // Joiners inside a word are how Persian, Indic scripts and emoji sequences are
            // written; alone or at either end they only hide.
            let joins = matches!(c, '\u{200c}' | '\u{200d}')
                && i > 0
                && chars.get(i + 1).is_some_and(|&next| is_visible(next))
                && is_visible(chars[i - 1]);
            is_formatting(c) && !joins
        };
        if (0..chars.len()).any(refused_at) {
            return Err(NameError::FormatCharacters);
        }
        if !name.chars().any(is_visible) {
            return Err(NameError::NothingVisible);
        }
        Ok(Self(name.to_owned()))
    }

    /// A name read back from storage, as stored: rules for new names change, stored ones must
    /// still read back.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
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
    /// Whether the account's address was proven to be its owner's (a code mailed to it came
    /// back: `POST /email/confirm`, or a password reset).
    pub email_verified: bool,
    /// The address an email change waits to move to, until a code mailed there comes back.
    pub pending_email: Option<Email>,
    /// Optimistic-locking version of the stored item; starts at 1.
    #[serde(skip)]
    pub version: u64,
    /// Which password the account's sessions were started on: bumped in the same write as every
    /// password change, copied into each session at sign-in. A session whose copy differs
    /// authenticates and refreshes nothing, whether or not a sweep has removed it yet.
    #[serde(skip)]
    pub credentials: u64,
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
            created_at: crate::clock::rfc3339(crate::clock::now_seconds()),
            email_verified: false,
            pending_email: None,
            version: 1,
            credentials: 0,
        }
    }
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
    fn names_must_be_visible_and_free_of_formatting_tricks() {
        for (raw, error) in [
            ("Ada\u{202e}gnp.exe", NameError::FormatCharacters), // right-to-left override
            ("A\u{200b}da", NameError::FormatCharacters),        // zero-width space
            ("\u{200d}\u{200c}", NameError::FormatCharacters),   // joiners only
            ("Ada\u{200d}", NameError::FormatCharacters),        // a joiner at the end
            ("\u{200c}Ada", NameError::FormatCharacters),        // or at the start
            ("\u{feff}", NameError::FormatCharacters),           // byte order mark
            ("Ada\u{2028}Byron", NameError::FormatCharacters),   // line separator
            ("Ada\u{2029}Byron", NameError::FormatCharacters),   // paragraph separator
            ("\u{3164}", NameError::NothingVisible),             // Hangul filler
            ("\u{3164}\u{3164}\u{ffa0}", NameError::NothingVisible),
            ("\u{2800}\u{2800}", NameError::NothingVisible), // blank braille
            ("\u{301}\u{301}", NameError::NothingVisible),   // marks without a base
            ("\u{fe0f}", NameError::NothingVisible),         // variation selector
            ("\u{e000}", NameError::NothingVisible),         // private use
        ] {
            assert_eq!(DisplayName::parse(raw), Err(error), "{raw:?}");
        }
        let persian = "\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}"; // می‌خواهم
        for raw in [
            "Ada",
            "Zoë",
            "José",
            "李小龍",
            "أحمد",
            "👩\u{200d}💻 Ada",
            "Ada 👍🏽",
            "❤\u{fe0f}",
            persian,
        ] {
            let parsed = DisplayName::parse(raw);
            assert!(parsed.is_ok(), "{raw:?}: {parsed:?}");
        }
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
                   "created_at": user.created_at, "email_verified": false, "pending_email": null})
        );
        let created = &user.created_at;
        assert!(
            created.len() == 20 && created.ends_with('Z') && created.contains('T'),
            "{created}"
        );
    }
}
