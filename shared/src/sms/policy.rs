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
    pub timezone: Option<&'a str>,
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

/// F-SMS-14: quiet hours are 21:00–08:00 in the recipient's time zone. A
/// promotional message inside them waits until 08:00; returns when, in ms.
pub fn quiet_hours_until(
    message_type: MessageType,
    timezone: Option<&str>,
    now_ms: i64,
) -> Option<i64> {
    if message_type.category() != Category::Promotional {
        return None;
    }
    let tz: chrono_tz::Tz = timezone
        .and_then(|t| t.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let local = chrono::DateTime::from_timestamp_millis(now_ms)?.with_timezone(&tz);
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

/// A time zone for a number whose owner has none on file: the first one the
/// numbering plan's region uses (F-SMS-14 "else the number's country").
pub fn region_timezone(region: Option<&str>) -> Option<&'static str> {
    match region? {
        "UG" => Some("Africa/Kampala"),
        "KE" => Some("Africa/Nairobi"),
        "TZ" => Some("Africa/Dar_es_Salaam"),
        "RW" => Some("Africa/Kigali"),
        "NG" => Some("Africa/Lagos"),
        "GH" => Some("Africa/Accra"),
        "ZA" => Some("Africa/Johannesburg"),
        "GB" => Some("Europe/London"),
        "FR" => Some("Europe/Paris"),
        "DE" => Some("Europe/Berlin"),
        "US" | "CA" => Some("America/New_York"),
        _ => None,
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
            timezone: None,
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
            timezone: None,
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
                Some("Africa/Kampala"),
                ms("2026-11-22T19:30:00Z")
            ),
            Some(ms("2026-11-23T05:00:00Z"))
        );
        // 03:00 in Kampala: the same morning.
        assert_eq!(
            quiet_hours_until(
                MessageType::StreakAlert,
                Some("Africa/Kampala"),
                ms("2026-11-22T00:00:00Z")
            ),
            Some(ms("2026-11-22T05:00:00Z"))
        );
        assert_eq!(
            quiet_hours_until(
                MessageType::StreakAlert,
                Some("Africa/Kampala"),
                ms("2026-11-22T10:00:00Z")
            ),
            None
        );
        assert_eq!(
            quiet_hours_until(
                MessageType::SecurityAlert,
                Some("Africa/Kampala"),
                ms("2026-11-22T19:30:00Z")
            ),
            None
        );
    }
}
