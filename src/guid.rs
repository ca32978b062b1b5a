//! GUID normalization for request ids, card ids and smartcard uuids.
//!
//! Callers paste GUIDs in every .NET format (`D`, `B` braces, `N` no hyphens, upper case, `urn:uuid:`);
//! CM documents lowercase hyphenated, so that is what the library sends.

use crate::error::{Error, Result};
use crate::status::Status;
use uuid::Uuid;

/// Parses a GUID in any common form; `what` names it in the error message ("request id").
pub fn parse_guid(text: &str, what: &str) -> Result<Uuid> {
    let trimmed = text.trim();
    Uuid::parse_str(trimmed).map_err(|_| {
        Error::new(
            Status::InvalidGuid,
            format!(
                "{what} '{}' is not a GUID (expected 32 hex digits, e.g. a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099, \
                 optionally in braces or without hyphens)",
                printable(trimmed)
            ),
        )
    })
}

/// Parses and returns the lowercase hyphenated form.
pub fn normalize_guid(text: &str, what: &str) -> Result<String> {
    parse_guid(text, what).map(|u| u.hyphenated().to_string())
}

/// A shortened, control-character-free copy of caller input for error messages.
pub fn printable(text: &str) -> String {
    let mut s: String = text
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 64 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_forms_and_sends_lowercase_hyphenated() {
        let want = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
        for text in [
            "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
            "A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099",
            "{a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099}",
            "{A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099}",
            "a9b4b42ccc504c9b89d1bbc0bcd5a099",
            " urn:uuid:a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 ",
        ] {
            assert_eq!(normalize_guid(text, "request id").unwrap(), want, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_guids_with_a_helpful_message() {
        for text in [
            "",
            "not-a-guid",
            "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a09",
            "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a0991",
            "{a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
            "g9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
        ] {
            let err = normalize_guid(text, "card id").unwrap_err();
            assert_eq!(err.status, Status::InvalidGuid, "{text}");
            assert!(err.message.starts_with("card id '"), "{}", err.message);
        }
    }

    #[test]
    fn printable_strips_controls_and_truncates() {
        assert_eq!(printable("a\nb"), "a?b");
        assert_eq!(printable(&"x".repeat(70)).chars().count(), 65);
    }
}

/// Property-based tests: every .NET/RFC notation of any GUID normalizes to the same lowercase
/// hyphenated text, normalization is idempotent, and no input makes the parser panic.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_notation_normalizes_to_lowercase_hyphenated(value in any::<u128>(), upper in any::<bool>()) {
            let u = Uuid::from_u128(value);
            let want = u.hyphenated().to_string();
            let case = |t: String| if upper { t.to_uppercase() } else { t };
            for text in [
                case(u.hyphenated().to_string()),
                case(u.simple().to_string()),
                case(u.braced().to_string()),
                u.urn().to_string(),
                format!("  {}\t", case(want.clone())),
            ] {
                prop_assert_eq!(normalize_guid(&text, "id").unwrap(), want.clone(), "{}", text);
            }
        }

        #[test]
        fn normalization_is_idempotent(text in "\\PC{0,50}") {
            if let Ok(once) = normalize_guid(&text, "id") {
                prop_assert_eq!(normalize_guid(&once, "id").unwrap(), once.clone());
                prop_assert_eq!(once.len(), 36);
            }
        }

        #[test]
        fn garbage_is_refused_with_a_bounded_message(text in "\\PC{0,300}") {
            match parse_guid(&text, "request id") {
                Ok(u) => prop_assert_eq!(Uuid::parse_str(text.trim()).unwrap(), u),
                Err(e) => {
                    prop_assert_eq!(e.status, Status::InvalidGuid);
                    prop_assert!(e.message.chars().count() < 400);
                    prop_assert!(!e.message.chars().any(char::is_control));
                }
            }
        }
    }
}
