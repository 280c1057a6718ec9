//! The send policy (F-SMS-7 … F-SMS-14, F-SMS-27): send, suppress (with the
//! reason, recorded on the log) or defer. The rules that need no counter are
//! pure and live here; the counted limits are atomic counters in `store`.

use super::{Category, MessageType, Toggle};
use crate::phone::PhoneNumber;
use chrono::{TimeZone, Timelike};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a message was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    OptedOut,
    CountryNotAllowed,
    PhoneNotVerified,
    NoConsent,
    ToggleOff,
    UserHourlyLimit,
    UserDailyLimit,
    SenderInvitationLimit,
    /// F-SMS-19: the number had an invitation from someone in the last 7 days.
    RecipientRecentlyInvited,
    PhoneCooldown,
    /// F-SMS-13: a direct-message notice for this thread went out in the last 5 minutes.
    DirectMessageDebounced,
    /// F-SMS-14: quiet hours would hold it past the time it is for (a
    /// reminder after its deadline).
    TooLateAfterQuietHours,
    /// Its `send_by` passed before it could go (retries ran past the expiry
    /// of the code or link it carries, or past a reminder's deadline).
    Expired,
    /// An operator cancelled it while it was deferred.
    CancelledByOperator,
    VerificationPhoneLimit,
    VerificationDailyLimit,
    VerificationCountryLimit,
    SpendCap,
}

/// F-SMS-9: how consent was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub at: i64,
    pub method: ConsentMethod,
    #[serde(default)]
    pub ip_address: Option<String>,
    pub text_version: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    WebForm,
    SmsKeyword,
    Api,
}

/// F-SMS-8: the master switch, one toggle per category, and the consent record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub allow_sms_invitations: bool,
    /// Toggles switched off (all are on by default once consent is given).
    #[serde(default)]
    pub off: BTreeMap<String, bool>,
    #[serde(default)]
    pub consent: Option<Consent>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            allow_sms_invitations: true,
            off: BTreeMap::new(),
            consent: None,
        }
    }
}

impl Preferences {
    pub fn allows(&self, toggle: Toggle) -> bool {
        let name = super::wire_name(toggle);
        self.allow_sms_invitations && !self.off.get(&name).copied().unwrap_or(false)
    }
}

/// What the policy knows about the recipient.
pub struct Recipient<'a> {
    pub phone: &'a PhoneNumber,
    pub opted_out: bool,
    /// The number is verified by the user this message is for.
    pub verified: bool,
    pub preferences: Option<&'a Preferences>,
    /// The number belongs to a user we text as such (`user_id` is set).
    pub has_account: bool,
}

/// The checks that need no counter, in the order they are reported.
pub fn check(
    message_type: MessageType,
    recipient: &Recipient<'_>,
    allowed_regions: &[String],
) -> Result<(), Reason> {
    // F-SMS-11: the opt-out list comes first, for every type (security alerts too).
    if recipient.opted_out {
        return Err(Reason::OptedOut);
    }
    // F-SMS-27: pumping protection, for every send.
    let region = recipient.phone.region().unwrap_or("");
    if !allowed_regions.iter().any(|r| r == region) {
        return Err(Reason::CountryNotAllowed);
    }
    if message_type.needs_verified_phone() && !recipient.verified {
        return Err(Reason::PhoneNotVerified);
    }
    // F-SMS-19: a player's invitation to a number with no account needs no
    // consent record (there is none to have); it is capped and stoppable.
    let invite_to_non_user =
        message_type == MessageType::BattleInvitation && !recipient.has_account;
    if message_type.category() == Category::Promotional
        && !invite_to_non_user
        && recipient
            .preferences
            .and_then(|p| p.consent.as_ref())
            .is_none()
    {
        return Err(Reason::NoConsent);
    }
    if let Some(toggle) = message_type.toggle() {
        let prefs = recipient.preferences.cloned().unwrap_or_default();
        if !prefs.allows(toggle) {
            return Err(Reason::ToggleOff);
        }
    }
    Ok(())
}

/// F-SMS-14: quiet hours are 21:00–08:00 at the recipient's location. A
/// promotional message inside them waits; returns until when, in ms. With
/// several `zones` (a number whose prefix spans zones) the window is open
/// only while it is 08:00–21:00 in every one of them, so the message waits
/// for the first such instant. Zones that share no such instant (a whole
/// country's list, Guam to Halifax) fall back to the first zone's window.
pub fn quiet_hours_until(message_type: MessageType, zones: &[&str], now_ms: i64) -> Option<i64> {
    if message_type.category() != Category::Promotional {
        return None;
    }
    let zones: Vec<chrono_tz::Tz> = zones.iter().filter_map(|z| z.parse().ok()).collect();
    let zones = if zones.is_empty() {
        vec![chrono_tz::UTC]
    } else {
        zones
    };
    let mut at = now_ms;
    // Each step moves to the latest opening among the zones still closed;
    // a common window, if any, is reached within a few steps.
    for _ in 0..8 {
        let latest = zones.iter().filter_map(|tz| opens_at(*tz, at)).max();
        match latest {
            None => return (at > now_ms).then_some(at),
            Some(next) => at = next,
        }
    }
    opens_at(zones[0], now_ms)
}

/// When the 08:00–21:00 window next opens in `tz`, if it is closed at `ms`.
fn opens_at(tz: chrono_tz::Tz, ms: i64) -> Option<i64> {
    let local = chrono::DateTime::from_timestamp_millis(ms)?.with_timezone(&tz);
    let hour = local.hour();
    if (8..21).contains(&hour) {
        return None;
    }
    let day = if hour >= 21 {
        local.date_naive().succ_opt()?
    } else {
        local.date_naive()
    };
    let eight = day.and_hms_opt(8, 0, 0)?;
    tz.from_local_datetime(&eight)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// The zones quiet hours count in: the one the player set; else the
/// number's own (libphonenumber's prefix map); else UTC.
pub fn recipient_zones<'a>(set: Option<&'a str>, phone: &PhoneNumber) -> Vec<&'a str> {
    match set.filter(|z| !z.is_empty()) {
        Some(zone) => vec![zone],
        None => {
            let zones = crate::phone::zones::of(phone);
            if zones.is_empty() {
                vec!["UTC"]
            } else {
                zones
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ug() -> PhoneNumber {
        PhoneNumber::parse("+256772123456").unwrap()
    }

    fn allowed() -> Vec<String> {
        vec!["UG".into(), "US".into()]
    }

    fn consented() -> Preferences {
        Preferences {
            consent: Some(Consent {
                at: 1,
                method: ConsentMethod::WebForm,
                ip_address: None,
                text_version: "v1".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn opt_out_beats_everything_even_security_alerts() {
        let phone = ug();
        let prefs = consented();
        let r = Recipient {
            phone: &phone,
            opted_out: true,
            verified: true,
            preferences: Some(&prefs),
            has_account: true,
        };
        assert_eq!(
            check(MessageType::SecurityAlert, &r, &allowed()),
            Err(Reason::OptedOut)
        );
        assert_eq!(
            check(MessageType::PhoneVerification, &r, &allowed()),
            Err(Reason::OptedOut)
        );
    }

    #[test]
    fn consent_toggles_verification_and_countries() {
        let phone = ug();
        let none = Recipient {
            phone: &phone,
            opted_out: false,
            verified: true,
            preferences: None,
            has_account: true,
        };
        assert_eq!(
            check(MessageType::StreakAlert, &none, &allowed()),
            Err(Reason::NoConsent)
        );
        // F-SMS-19: a player may text an invitation to a number with no
        // account; a user's invitation still needs their consent.
        assert_eq!(
            check(MessageType::BattleInvitation, &none, &allowed()),
            Err(Reason::NoConsent)
        );
        let stranger = Recipient {
            verified: false,
            has_account: false,
            ..none
        };
        assert_eq!(
            check(MessageType::BattleInvitation, &stranger, &allowed()),
            Ok(())
        );
        let stopped = Recipient {
            opted_out: true,
            ..stranger
        };
        assert_eq!(
            check(MessageType::BattleInvitation, &stopped, &allowed()),
            Err(Reason::OptedOut)
        );
        assert_eq!(check(MessageType::SecurityAlert, &none, &allowed()), Ok(()));
        let mut prefs = consented();
        prefs.off.insert("streak_alerts".into(), true);
        let r = Recipient {
            preferences: Some(&prefs),
            ..none
        };
        assert_eq!(
            check(MessageType::StreakAlert, &r, &allowed()),
            Err(Reason::ToggleOff)
        );
        assert_eq!(check(MessageType::BattleResult, &r, &allowed()), Ok(()));
        let unverified = Recipient {
            verified: false,
            preferences: Some(&prefs),
            ..r
        };
        assert_eq!(
            check(MessageType::BattleResult, &unverified, &allowed()),
            Err(Reason::PhoneNotVerified)
        );
        assert_eq!(
            check(MessageType::PhoneVerification, &unverified, &allowed()),
            Ok(())
        );
        assert_eq!(
            check(
                MessageType::PhoneVerification,
                &unverified,
                &["US".to_string()]
            ),
            Err(Reason::CountryNotAllowed)
        );
    }

    #[test]
    fn quiet_hours_defer_promotions_to_eight() {
        let ms = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        // 19:30 UTC is 22:30 in Kampala: deferred to 08:00 Kampala = 05:00 UTC next day.
        assert_eq!(
            quiet_hours_until(
                MessageType::StreakAlert,
                &["Africa/Kampala"],
                ms("2026-11-22T19:30:00Z")
            ),
            Some(ms("2026-11-23T05:00:00Z"))
        );
        // 03:00 in Kampala: the same morning.
        assert_eq!(
            quiet_hours_until(
                MessageType::StreakAlert,
                &["Africa/Kampala"],
                ms("2026-11-22T00:00:00Z")
            ),
            Some(ms("2026-11-22T05:00:00Z"))
        );
        assert_eq!(
            quiet_hours_until(
                MessageType::StreakAlert,
                &["Africa/Kampala"],
                ms("2026-11-22T10:00:00Z")
            ),
            None
        );
        // +1 415 with no zone set: Los Angeles. 13:30 UTC is 05:30 there.
        let sf = PhoneNumber::parse("+14155550123").unwrap();
        let ny = PhoneNumber::parse("+12125550123").unwrap();
        let at = ms("2026-12-07T13:30:00Z");
        assert_eq!(
            quiet_hours_until(MessageType::StreakAlert, &recipient_zones(None, &sf), at),
            Some(ms("2026-12-07T16:00:00Z"))
        );
        assert_eq!(
            quiet_hours_until(MessageType::StreakAlert, &recipient_zones(None, &ny), at),
            None
        );
        // Several zones: open only once the last of them reaches 08:00.
        assert_eq!(
            quiet_hours_until(
                MessageType::StreakAlert,
                &["America/New_York", "America/Chicago", "America/Denver"],
                ms("2026-12-07T12:30:00Z")
            ),
            Some(ms("2026-12-07T15:00:00Z"))
        );
        // A zone the player set wins over the number's.
        assert_eq!(recipient_zones(Some("Asia/Tokyo"), &sf), ["Asia/Tokyo"]);
        assert_eq!(recipient_zones(Some(""), &sf), ["America/Los_Angeles"]);
        assert_eq!(
            quiet_hours_until(
                MessageType::SecurityAlert,
                &["Africa/Kampala"],
                ms("2026-11-22T19:30:00Z")
            ),
            None
        );
    }
}
