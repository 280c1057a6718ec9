//! The time zones a number is in, from libphonenumber's prefix-to-time-zone
//! map (`shared/data/phone_timezones.tsv`, Apache-2.0, with its licence
//! beside it). Quiet hours (F-SMS-14) count at the recipient's location;
//! when the player set no zone, the number's own zones stand for it.

use super::PhoneNumber;
use std::collections::HashMap;
use std::sync::OnceLock;

const DATA: &str = include_str!("../../data/phone_timezones.tsv");
/// The longest prefix in the map.
const LONGEST_PREFIX: usize = 9;

fn map() -> &'static HashMap<&'static str, Vec<&'static str>> {
    static MAP: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    MAP.get_or_init(|| {
        DATA.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('\t'))
            .map(|(prefix, zones)| (prefix, zones.split(',').collect()))
            .collect()
    })
}

/// The zones of the longest prefix of the number's digits in the map (area
/// code precise where the plan has one: +1 415 is Los Angeles, +1 212 New
/// York); a country's whole list where only its code is known; empty for a
/// number the map does not know.
pub fn of(number: &PhoneNumber) -> Vec<&'static str> {
    let digits = number.e164().trim_start_matches('+');
    let map = map();
    (1..=digits.len().min(LONGEST_PREFIX))
        .rev()
        .find_map(|n| map.get(&digits[..n]))
        .map(|zones| {
            zones
                .iter()
                .copied()
                .filter(|z| z.parse::<chrono_tz::Tz>().is_ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The one zone of a number that maps to exactly one (streak days of a
/// player with no zone set, F-PT-4).
pub fn single(number: &PhoneNumber) -> Option<&'static str> {
    match of(number).as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(n: &str) -> Vec<&'static str> {
        of(&PhoneNumber::parse(n).unwrap())
    }

    #[test]
    fn area_codes_decide_within_a_country() {
        assert_eq!(zones("+14155550123"), ["America/Los_Angeles"]);
        assert_eq!(zones("+12125550123"), ["America/New_York"]);
        assert_eq!(zones("+18085550123"), ["Pacific/Honolulu"]);
        assert_eq!(zones("+256772123456"), ["Africa/Kampala"]);
        assert_eq!(
            zones("+447400123456"),
            ["Europe/Guernsey", "Europe/Isle_of_Man", "Europe/London"]
        );
        assert_eq!(
            single(&PhoneNumber::parse("+14155550123").unwrap()),
            Some("America/Los_Angeles")
        );
        assert_eq!(single(&PhoneNumber::parse("+447400123456").unwrap()), None);
    }

    #[test]
    fn every_zone_in_the_map_is_known_to_chrono_tz() {
        for zones in map().values() {
            for z in zones {
                assert!(z.parse::<chrono_tz::Tz>().is_ok(), "{z}");
            }
        }
    }
}
