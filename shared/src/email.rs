//! A normalised, syntactically valid email address.

use std::fmt;

use email_address::{EmailAddress, Options};

/// Longest address we store (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;

/// An email address, trimmed and lower-cased, that parsed as an address.
///
/// Lower-casing the whole address (not only the domain) is a product decision: it makes
/// `Ada@Example.com` and `ada@example.com` one account, which is what people expect.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an acceptable email address.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Longer than [`MAX_EMAIL_LENGTH`].
    #[error("must be at most {MAX_EMAIL_LENGTH} characters")]
    TooLong,
    /// Did not parse as `local@domain.tld`.
    #[error("must be a valid email address")]
    Invalid,
}

impl Email {
    /// Trims, lower-cases and validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let normalised = raw.trim().to_lowercase();
        if normalised.chars().count() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        // A bare address with a real-looking domain: no "Name <a@b>" display text, no
        // `[127.0.0.1]` domain literals, and at least one dot in the domain.
        let options = Options::default()
            .with_required_tld()
            .without_domain_literal()
            .without_display_text();
        EmailAddress::parse_with_options(&normalised, options).map_err(|_| EmailError::Invalid)?;
        Ok(Self(normalised))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Addresses are personal data: `Debug` (and so any `?field` in a log line) hides the local part.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.rsplit_once('@').map_or("", |(_, domain)| domain);
        write!(f, "Email(***@{domain})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_lowercases() {
        let email = Email::parse("  Ada.Lovelace@Example.COM \n").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn rejects_what_is_not_a_plain_address() {
        for raw in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@@example.com",
            "ada@localhost",
            "ada@[127.0.0.1]",
            "Ada <ada@example.com>",
            "ada example@example.com",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::Invalid), "{raw:?}");
        }
    }

    #[test]
    fn rejects_overlong_addresses() {
        let raw = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&raw), Err(EmailError::TooLong));
    }

    #[test]
    fn debug_hides_the_local_part() {
        let email = Email::parse("ada@example.com").expect("valid");
        assert_eq!(format!("{email:?}"), "Email(***@example.com)");
    }

    proptest! {
        #[test]
        fn normalisation_ignores_case_and_surrounding_space(
            local in "[a-zA-Z0-9]{1,20}([._+-][a-zA-Z0-9]{1,10})?",
            domain in "[a-zA-Z0-9]{1,20}\\.[a-zA-Z]{2,6}",
            left in "[ \t\n]{0,3}",
            right in "[ \t\n]{0,3}",
        ) {
            let raw = format!("{left}{local}@{domain}{right}");
            let email = Email::parse(&raw).expect("generated addresses are valid");
            let expected = format!("{local}@{domain}").to_lowercase();
            prop_assert_eq!(email.as_str(), expected.as_str());
            // Every letter-case variant is the same account.
            let upper = Email::parse(&raw.to_uppercase()).expect("valid");
            prop_assert_eq!(&upper, &email);
            // Normalisation is idempotent.
            prop_assert_eq!(Email::parse(email.as_str()).expect("valid"), email);
        }

        #[test]
        fn parse_never_panics_and_output_is_normalised(raw in "\\PC{0,80}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert_eq!(email.as_str(), email.as_str().trim());
                prop_assert_eq!(email.as_str().to_lowercase(), email.as_str());
                prop_assert!(email.as_str().contains('@'));
            }
        }
    }
}
