//! Phone numbers (F-SMS-5): parsed and validated against real numbering-plan
//! data, stored as E.164, never logged in full.

use crate::error::Error;
use phonenumber::{Mode, PhoneNumber as Parsed};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A validated phone number, in E.164 (`+256772123456`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
    national: String,
    /// ISO 3166 region (`UG`), when the numbering plan names one.
    region: Option<String>,
}

impl PhoneNumber {
    /// Accepts international input (`+256 772 123456`, `00256...`). Numbers
    /// without a country code are refused: we cannot guess the caller's country.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Error::bad_request(
                "invalid_phone_number",
                "phone number is empty",
            ));
        }
        if trimmed.len() > 32 {
            return Err(Error::bad_request(
                "invalid_phone_number",
                "phone number is too long",
            ));
        }
        let normalized = match trimmed.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => trimmed.to_string(),
        };
        if !normalized.starts_with('+') {
            return Err(Error::bad_request(
                "invalid_phone_number",
                "phone number must be in international form, starting with + and the country code",
            ));
        }
        let parsed: Parsed = phonenumber::parse(None, &normalized).map_err(|_| {
            Error::bad_request("invalid_phone_number", "phone number could not be parsed")
        })?;
        if !phonenumber::is_valid(&parsed) {
            return Err(Error::bad_request(
                "invalid_phone_number",
                "phone number is not a valid number for its country",
            ));
        }
        Ok(PhoneNumber {
            e164: parsed.format().mode(Mode::E164).to_string(),
            country_code: parsed.code().value(),
            national: parsed.national().value().to_string(),
            region: parsed.country().id().map(|id| id.as_ref().to_string()),
        })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The ISO 3166 region (`UG`, `US`), for allow-lists, rates and time zones.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// `+*********3456`: everything but the last four digits hidden.
    pub fn masked(&self) -> String {
        mask(&self.e164)
    }

    /// The local `0XXXXXXXXX` form DMark expects (F-SMS-1).
    pub fn local_form(&self) -> String {
        format!("0{}", self.national)
    }
}

/// Masks any number-like string for logs: keeps `+` and the last four digits.
pub fn mask(raw: &str) -> String {
    let digits = raw.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    raw.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 4 > digits {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

/// Debug and Display never show the full number, so a stray `{:?}` in a log line is safe.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        PhoneNumber::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.e164
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_normalizes() {
        let p = PhoneNumber::parse("+256 772 123456").unwrap();
        assert_eq!(p.e164(), "+256772123456");
        assert_eq!(p.country_code(), 256);
        assert_eq!(p.local_form(), "0772123456");
        let p = PhoneNumber::parse("0044 20 7946 0958").unwrap();
        assert_eq!(p.e164(), "+442079460958");
        let p = PhoneNumber::parse("+1 (202) 555-0143").unwrap();
        assert_eq!(p.e164(), "+12025550143");
    }

    #[test]
    fn rejects_invalid_numbers() {
        for bad in [
            "",
            "12345",
            "+1 555",
            "+999 1234567",
            "hello",
            "+44 1234",
            "0772123456",
        ] {
            let err = PhoneNumber::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_phone_number", "{bad}");
        }
    }

    #[test]
    fn masking_hides_all_but_last_four() {
        let p = PhoneNumber::parse("+256772123456").unwrap();
        assert_eq!(p.masked(), "+********3456");
        assert_eq!(format!("{p:?}"), "PhoneNumber(+********3456)");
        assert!(!format!("{p}").contains("772"));
        assert_eq!(mask("12"), "12");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = PhoneNumber::parse(&s);
        }

        #[test]
        fn masked_keeps_exactly_four_digits(digits in "[0-9]{5,15}") {
            let m = mask(&format!("+{digits}"));
            prop_assert_eq!(m.chars().filter(char::is_ascii_digit).count(), 4);
            prop_assert!(m.ends_with(&digits[digits.len() - 4..]));
        }

        #[test]
        fn valid_numbers_round_trip(national in "77[0-9]{7}") {
            // Ugandan mobile numbers (+256 77x xxx xxx).
            if let Ok(p) = PhoneNumber::parse(&format!("+256{national}")) {
                prop_assert_eq!(PhoneNumber::parse(p.e164()).unwrap(), p);
            }
        }
    }
}
