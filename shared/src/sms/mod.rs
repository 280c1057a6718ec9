//! SMS (F-SMS): message types and their rules, segments, the send policy,
//! the outbox that every caller goes through, verification codes, and the
//! providers.
//!
//! Items in the sms table:
//! - `SMS#<id>` / `LOG`: the SmsLog (F-SMS-2); `provider_message_id` feeds a GSI;
//! - `OPTOUT#<e164>` / `OPTOUT`: the opt-out list (F-SMS-11), and beside it
//!   `HISTORY#<at>#<id>`: who changed it, when and why;
//! - `FIND#num#<e164>`, `FIND#user#<id>`, `FIND#type#<type>#<day>` / `<created>#<log id>`:
//!   what the operator's search reads a log by;
//! - `LIMIT#<scope>#<window>` / `COUNT`: atomic counters of F-SMS-12, with `expires_at`;
//! - `VERIFY#<user>` / `CODE`: the pending verification code (hashed, F-SMS-17);
//! - `CONSOLE` / `<sent at>#<log id>`: what the console provider "sent" (local development).
//!
//! The users table holds `PHONE#<e164>` / `PHONE` (which user owns a verified number),
//! and each profile its `sms_preferences` (F-SMS-8, F-SMS-9).

pub mod caps;
pub mod desk;
pub mod inbound;
pub mod limits;
pub mod log;
pub mod optouts;
pub mod outbox;
pub mod ownership;
pub mod policy;
pub mod preferences;
pub mod providers;
pub mod receipts;
pub mod redaction;
pub mod report;
pub mod request;
pub mod search;
pub mod search_backfill;
pub mod segments;
pub mod spend;
pub mod status;
pub mod store;
pub mod verification;

use serde::{Deserialize, Serialize};

/// F-SMS-7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    PhoneVerification,
    SecurityAlert,
    PaymentConfirmation,
    PaymentFailure,
    MatchFound,
    BattleInvitation,
    BattleResult,
    BattleReminder,
    StreakAlert,
    AchievementUnlock,
    ChallengeReminder,
    DirectMessage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Transactional,
    Promotional,
}

/// The user toggle that governs a message type (F-SMS-8), if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Toggle {
    MatchNotifications,
    Invitations,
    BattleResults,
    BattleReminders,
    StreakAlerts,
    Achievements,
    ChallengeReminders,
    DirectMessages,
}

impl MessageType {
    pub fn category(self) -> Category {
        use MessageType::*;
        match self {
            PhoneVerification | SecurityAlert | PaymentConfirmation | PaymentFailure
            | MatchFound => Category::Transactional,
            _ => Category::Promotional,
        }
    }

    /// Must the recipient's phone be verified (owned by the user we text)?
    pub fn needs_verified_phone(self) -> bool {
        !matches!(
            self,
            MessageType::PhoneVerification | MessageType::BattleInvitation
        )
    }

    pub fn toggle(self) -> Option<Toggle> {
        use MessageType::*;
        match self {
            MatchFound => Some(Toggle::MatchNotifications),
            BattleInvitation => Some(Toggle::Invitations),
            BattleResult => Some(Toggle::BattleResults),
            BattleReminder => Some(Toggle::BattleReminders),
            StreakAlert => Some(Toggle::StreakAlerts),
            AchievementUnlock => Some(Toggle::Achievements),
            ChallengeReminder => Some(Toggle::ChallengeReminders),
            DirectMessage => Some(Toggle::DirectMessages),
            PhoneVerification | SecurityAlert | PaymentConfirmation | PaymentFailure => None,
        }
    }
}

/// F-SMS-10: promotional messages carry the opt-out instruction.
pub const STOP_FOOTER: &str = "Reply STOP to unsubscribe.";

/// The text of a message as it will be sent (templates stay within GSM-7).
pub fn finish_body(message_type: MessageType, body: &str) -> String {
    match message_type.category() {
        Category::Promotional if !body.ends_with(STOP_FOOTER) => format!("{body} {STOP_FOOTER}"),
        _ => body.to_string(),
    }
}

/// The verification text (F-SMS-17); GSM-7, one segment.
pub fn verification_body(code: &str, minutes: i64) -> String {
    format!("Your Versus code is {code}. It expires in {minutes} minutes. Do not share it.")
}

/// The name a unit enum value has on the wire (`battle_results`, `match_found`).
pub fn wire_name(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Equal without telling, by timing, how much of the input matched: codes,
/// signatures and shared secrets are compared with it.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_f_sms_7() {
        assert_eq!(
            MessageType::SecurityAlert.category(),
            Category::Transactional
        );
        assert_eq!(MessageType::SecurityAlert.toggle(), None);
        assert_eq!(MessageType::BattleResult.category(), Category::Promotional);
        assert_eq!(
            MessageType::BattleResult.toggle(),
            Some(Toggle::BattleResults)
        );
        assert!(!MessageType::PhoneVerification.needs_verified_phone());
        assert!(MessageType::MatchFound.needs_verified_phone());
    }

    #[test]
    fn promotional_texts_end_with_stop() {
        assert_eq!(
            finish_body(MessageType::StreakAlert, "Keep it up!"),
            "Keep it up! Reply STOP to unsubscribe."
        );
        assert_eq!(
            finish_body(MessageType::SecurityAlert, "New login"),
            "New login"
        );
        let v = verification_body("123456", 10);
        assert_eq!(segments::analyze(&v).segments, 1);
        assert_eq!(segments::analyze(&v).encoding, segments::Encoding::Gsm7);
    }
}
