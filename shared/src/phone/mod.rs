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
    /// What kind of line the numbering plan says this is.
    kind: LineKind,
}

/// The kinds of line the numbering plans tell apart (F-SMS-27): codes go only
/// to kinds that receive SMS, never to premium-rate or shared-cost lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineKind {
    Mobile,
    FixedLineOrMobile,
    FixedLine,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    Other,
}

impl LineKind {
    pub fn name(self) -> &'static str {
        match self {
            LineKind::Mobile => "mobile",
            LineKind::FixedLineOrMobile => "fixed_line_or_mobile",
            LineKind::FixedLine => "fixed_line",
            LineKind::TollFree => "toll_free",
            LineKind::PremiumRate => "premium_rate",
            LineKind::SharedCost => "shared_cost",
            LineKind::Voip => "voip",
            LineKind::Other => "other",
        }
    }

    const ALL: [LineKind; 8] = [
        LineKind::Mobile,
        LineKind::FixedLineOrMobile,
        LineKind::FixedLine,
        LineKind::TollFree,
        LineKind::PremiumRate,
        LineKind::SharedCost,
        LineKind::Voip,
        LineKind::Other,
    ];

    pub fn from_name(name: &str) -> Option<LineKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    fn of(kind: phonenumber::Type) -> LineKind {
        use phonenumber::Type;
        match kind {
            Type::Mobile => LineKind::Mobile,
            Type::FixedLineOrMobile => LineKind::FixedLineOrMobile,
            Type::FixedLine => LineKind::FixedLine,
            Type::TollFree => LineKind::TollFree,
            Type::PremiumRate => LineKind::PremiumRate,
            Type::SharedCost => LineKind::SharedCost,
            Type::Voip => LineKind::Voip,
            _ => LineKind::Other,
        }
    }
}

impl PhoneNumber {
    /// Accepts international input (`+256 772 123456`, `00256...`). Numbers
    /// without a country code are refused: we cannot guess the caller's country.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(invalid("phone number is empty"));
        }
        if trimmed.len() > 32 {
            return Err(invalid("phone number is too long"));
        }
        let normalized = match trimmed.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => trimmed.to_string(),
        };
        let Some(digits) = normalized.strip_prefix('+') else {
            return Err(invalid(
                "phone number must be in international form, starting with + and the country code",
            ));
        };
        // One `+`, then digits and the usual separators: no second `+`, no
        // letters, no extension (`x12`, `ext. 12`, `;ext=12`): a text cannot
        // reach an extension, and the numbering plan would drop it silently.
        let plain = digits.starts_with(|c: char| c.is_ascii_digit())
            && digits
                .chars()
                .all(|c| c.is_ascii_digit() || " -.()".contains(c));
        if !plain {
            return Err(invalid("phone number may hold only one leading +, digits, spaces, dashes, dots and brackets (no extension)",
            ));
        }
        let parsed: Parsed = phonenumber::parse(None, &normalized)
            .map_err(|_| invalid("phone number could not be parsed"))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(invalid(
                "phone number is not a valid number for its country",
            ));
        }
        Ok(PhoneNumber {
            e164: parsed.format().mode(Mode::E164).to_string(),
            country_code: parsed.code().value(),
            national: parsed.national().value().to_string(),
            region: parsed.country().id().map(|id| id.as_ref().to_string()),
            kind: LineKind::of(parsed.number_type(&phonenumber::metadata::DATABASE)),
        })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The kind of line, per the numbering plan (F-SMS-27).
    pub fn kind(&self) -> LineKind {
        self.kind
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

    /// `text` with this number masked wherever it appears, in any of its
    /// forms (`+256772123456`, `256772123456`, `0772123456`): a provider's
    /// error text may echo the number, and it goes to logs and records.
    pub fn redact_in(&self, text: &str) -> String {
        // Every form ends with the national number.
        if self.national.len() < 5 {
            return text.to_string();
        }
        text.replace(&self.national, &mask(&self.national))
    }

    /// The local `0XXXXXXXXX` form DMark expects (F-SMS-1).
    pub fn local_form(&self) -> String {
        format!("0{}", self.national)
    }
}

fn invalid(message: &str) -> Error {
    Error::bad_request("invalid_phone_number", message)
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
            "++256772123456",
            "+256 772 123456 x12",
            "+1 202 555 0143 ext. 7",
            "+12025550143;ext=7",
            "+256+772123456",
        ] {
            let err = PhoneNumber::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_phone_number", "{bad}");
        }
    }

    /// F-SMS-27: the numbering plan tells premium-rate lines from mobiles.
    #[test]
    fn line_kinds_come_from_the_numbering_plan() {
        let kind = |n: &str| PhoneNumber::parse(n).unwrap().kind();
        assert_eq!(kind("+256772123456"), LineKind::Mobile);
        assert_eq!(kind("+447911123456"), LineKind::Mobile);
        assert_eq!(kind("+12025550143"), LineKind::FixedLineOrMobile);
        assert_eq!(kind("+19005550143"), LineKind::PremiumRate);
        assert_eq!(kind("+449098790123"), LineKind::PremiumRate);
        assert_eq!(kind("+442079460958"), LineKind::FixedLine);
        for k in [LineKind::Mobile, LineKind::PremiumRate, LineKind::Other] {
            assert_eq!(LineKind::from_name(k.name()), Some(k));
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

    #[test]
    fn a_number_is_masked_in_any_form_inside_a_text() {
        let p = PhoneNumber::parse("+256772123456").unwrap();
        let text = "To +256772123456 (256772123456, 0772123456) failed; 772123 is not it";
        assert_eq!(
            p.redact_in(text),
            "To +256*****3456 (256*****3456, 0*****3456) failed; 772123 is not it"
        );
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

pub mod zones;
