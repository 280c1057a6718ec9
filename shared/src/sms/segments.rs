//! F-SMS-6: encoding, segments and the cost estimate of a message.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// The GSM 03.38 basic character set (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: each costs two septets (escape + character).
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{000C}";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: u32,
}

/// How a body travels: GSM-7 when every character is in the GSM alphabet
/// (160 per single message, 153 per part), else UCS-2 (70, or 67 per part).
pub fn analyze(body: &str) -> Analysis {
    let gsm_units: Option<usize> = body
        .chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (encoding, units, single, part) = match gsm_units {
        Some(units) => (Encoding::Gsm7, units, 160, 153),
        None => (Encoding::Ucs2, body.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(part) as u32
    };
    Analysis {
        encoding,
        units,
        segments,
    }
}

/// Cost estimate in micro-dollars: segments × the rate of the number's
/// country (configurable table, with a default rate).
pub fn cost_micros(
    segments: u32,
    region: Option<&str>,
    rates: &[(String, u64)],
    default_rate: u64,
) -> u64 {
    let rate = region
        .and_then(|r| rates.iter().find(|(code, _)| code == r))
        .map(|(_, rate)| *rate)
        .unwrap_or(default_rate);
    u64::from(segments) * rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gsm_and_unicode_boundaries() {
        assert_eq!(analyze(&"a".repeat(160)).segments, 1);
        assert_eq!(analyze(&"a".repeat(161)).segments, 2);
        assert_eq!(analyze(&"a".repeat(306)).segments, 2);
        assert_eq!(analyze(&"a".repeat(307)).segments, 3);
        // Extension characters count twice.
        let a = analyze(&"€".repeat(80));
        assert_eq!((a.encoding, a.units, a.segments), (Encoding::Gsm7, 160, 1));
        assert_eq!(analyze(&"€".repeat(81)).segments, 2);
        // One character outside GSM-7 turns the whole message into UCS-2.
        let u = analyze(&format!("{}ü✓", "a".repeat(68)));
        assert_eq!((u.encoding, u.segments), (Encoding::Ucs2, 1));
        assert_eq!(analyze(&"✓".repeat(71)).segments, 2);
        assert_eq!(analyze(&"✓".repeat(134)).segments, 2);
        assert_eq!(analyze(&"✓".repeat(135)).segments, 3);
        // An emoji is two UTF-16 units.
        assert_eq!(analyze("🎮").units, 2);
    }

    #[test]
    fn cost_uses_the_country_rate() {
        let rates = vec![("UG".to_string(), 30_000), ("US".to_string(), 8_000)];
        assert_eq!(cost_micros(2, Some("UG"), &rates, 50_000), 60_000);
        assert_eq!(cost_micros(1, Some("FR"), &rates, 50_000), 50_000);
    }

    proptest! {
        #[test]
        fn segments_cover_the_units(body in ".{0,400}") {
            let a = analyze(&body);
            let (single, part) = match a.encoding { Encoding::Gsm7 => (160, 153), Encoding::Ucs2 => (70, 67) };
            prop_assert!(a.segments >= 1);
            if a.units <= single {
                prop_assert_eq!(a.segments, 1);
            } else {
                prop_assert!((a.segments as usize - 1) * part < a.units && a.units <= a.segments as usize * part);
            }
        }
    }
}
