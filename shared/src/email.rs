//! A normalised, syntactically valid email address: one mailbox, one spelling.

use std::fmt;

use email_address::{EmailAddress, Options};
use icu_casemap::CaseMapper;
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};

/// Longest address we store (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;

/// An email address in its one normalised form, which is what is stored, shown and compared:
///
/// - the **domain** in its ASCII form (IDNA, UTS 46 with the strict STD3 rules: LDH labels or
///   valid internationalised labels, DNS lengths), so `bücher.example` and
///   `xn--bcher-kva.example` are one domain; at least two labels, and a top-level label that is
///   not all digits (no IP addresses);
/// - the **local part** with full Unicode case folding and then NFC, so `ΑΣ`, `ας` and `ασ`, or a
///   precomposed `é` and `e` + a combining accent, are one mailbox. Folding the local part too
///   (RFC 5321 lets servers treat it as case-sensitive) is a product decision: people expect
///   `Ada@Example.com` and `ada@example.com` to be one account.
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
    /// Trims, normalises and validates `raw` (rules for new addresses; see [`Email`]).
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        // Bound the work before any Unicode processing; the exact limit applies below.
        if trimmed.len() > 4 * MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let domain = ascii_domain(domain).ok_or(EmailError::Invalid)?;
        let normalised = format!("{}@{domain}", fold(local));
        if normalised.chars().count() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        // The local part's syntax (dot-atom or quoted string, UTF-8 allowed): no "Name <a@b>"
        // display text, no domain literals.
        let options = Options::default()
            .with_required_tld()
            .without_domain_literal()
            .without_display_text();
        EmailAddress::parse_with_options(&normalised, options).map_err(|_| EmailError::Invalid)?;
        Ok(Self(normalised))
    }

    /// An address read back from storage, as stored. Rules change; an address accepted under
    /// older rules must still read back (and never turn a read into an error).
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Full case folding then NFC: the canonical caseless form (Unicode D145) in composed form.
fn fold(text: &str) -> String {
    let decomposed = DecomposingNormalizerBorrowed::new_nfd().normalize(text);
    let folded = CaseMapper::new().fold_string(&decomposed);
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(&folded)
        .into_owned()
}

/// The domain's ASCII form under the strict UTS 46 rules, if it is a usable mail domain.
fn ascii_domain(domain: &str) -> Option<String> {
    let ascii = idna::domain_to_ascii_strict(domain).ok()?;
    let (_, top) = ascii.rsplit_once('.')?;
    let numeric_top = top.bytes().all(|b| b.is_ascii_digit());
    (!numeric_top && ascii.split('.').all(|label| !label.is_empty())).then_some(ascii)
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

    fn parsed(raw: &str) -> String {
        Email::parse(raw)
            .unwrap_or_else(|error| panic!("{raw:?}: {error}"))
            .as_str()
            .to_owned()
    }

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(
            parsed("  Ada.Lovelace@Example.COM \n"),
            "ada.lovelace@example.com"
        );
    }

    #[test]
    fn an_internationalised_domain_has_one_ascii_form() {
        assert_eq!(parsed("idn@bücher.example"), "idn@xn--bcher-kva.example");
        assert_eq!(
            parsed("idn@xn--bcher-kva.example"),
            "idn@xn--bcher-kva.example"
        );
        assert_eq!(parsed("IDN@BÜCHER.example"), "idn@xn--bcher-kva.example");
        // Full-width dots and letters map too (UTS 46).
        assert_eq!(parsed("idn@bücher。example"), "idn@xn--bcher-kva.example");
    }

    #[test]
    fn local_parts_are_case_folded_and_composed() {
        let sigma = parsed("ΑΣ@x.example");
        assert_eq!(sigma, "ασ@x.example");
        assert_eq!(parsed("ας@x.example"), sigma, "final sigma");
        assert_eq!(parsed("ασ@x.example"), sigma);
        assert_eq!(
            parsed("e\u{301}@x.example"),
            parsed("\u{e9}@x.example"),
            "NFC"
        );
        assert_eq!(parsed("STRASSE@x.example"), parsed("straße@x.example"));
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
            "rt@127.0.0.1",
            "test@iana.123",
            "test@iana/icann.org",
            "test@-iana.org",
            "test@iana-.org",
            "test@example.com.",
            "test@example..com",
            "Ada <ada@example.com>",
            "ada example@example.com",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::Invalid), "{raw:?}");
        }
    }

    #[test]
    fn domains_are_letters_digits_and_hyphens_only() {
        for symbol in "_!{}*='~$#&+/?^|% ".chars() {
            let raw = format!("test@ia{symbol}na.org");
            assert_eq!(Email::parse(&raw), Err(EmailError::Invalid), "{raw:?}");
        }
        assert_eq!(parsed("test@i-a-n-a.org"), "test@i-a-n-a.org");
        assert_eq!(parsed("test@123.example"), "test@123.example");
    }

    #[test]
    fn rejects_overlong_addresses() {
        let raw = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&raw), Err(EmailError::TooLong));
    }

    #[test]
    fn stored_addresses_read_back_whatever_todays_rules_say() {
        let old = Email::from_stored("rt@127.0.0.1".to_owned());
        assert_eq!(old.as_str(), "rt@127.0.0.1");
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
        fn parse_never_panics_and_its_output_is_a_fixed_point(raw in "\\PC{0,40}@\\PC{0,40}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert_eq!(email.as_str(), email.as_str().trim());
                prop_assert!(email.as_str().contains('@'));
                prop_assert!(email.as_str().rsplit_once('@').is_some_and(|(_, d)| d.is_ascii()));
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            }
        }

        #[test]
        fn upper_and_lower_case_of_any_local_part_is_one_account(local in "[\\p{L}]{1,12}") {
            let lower = Email::parse(&format!("{}@x.example", local.to_lowercase()));
            let upper = Email::parse(&format!("{}@x.example", local.to_uppercase()));
            if let (Ok(lower), Ok(upper)) = (lower, upper) {
                prop_assert_eq!(lower, upper);
            }
        }
    }
}
