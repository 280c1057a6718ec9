//! The events' details: one type per `detail-type`, read strictly and
//! checked (ids and texts bounded), with the message type each causes and
//! the key that makes two deliveries the same text.

use crate::sms::store::Related;
use crate::sms::MessageType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What EventBridge delivers (the envelope's other fields are not needed).
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub detail: Value,
}

/// The events this service acts on, by `detail-type`.
#[derive(Debug, PartialEq)]
pub enum DomainEvent {
    DirectMessageCreated(DirectMessageCreated),
    AchievementUnlocked(AchievementUnlocked),
    ChallengeDeadlineApproaching(ChallengeDeadlineApproaching),
    SecurityEvent(SecurityEvent),
    PaymentSettled(PaymentSettled),
}

pub const DETAIL_TYPES: [&str; 5] = [
    "DirectMessageCreated",
    "AchievementUnlocked",
    "ChallengeDeadlineApproaching",
    "SecurityEvent",
    "PaymentSettled",
];

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectMessageCreated {
    pub thread_id: String,
    pub sender_id: String,
    pub recipient_id: String,
    #[serde(default)]
    pub preview: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AchievementUnlocked {
    pub user_id: String,
    pub achievement_id: String,
    pub name: String,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeDeadlineApproaching {
    pub user_id: String,
    pub challenge_id: String,
    pub title: String,
    #[serde(deserialize_with = "whole_number")]
    pub hours_left: u32,
}

/// A JSON Schema `integer`: any number with no fraction (`24` and `24.0`
/// alike, as the published schema accepts and PutEvents passes on).
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(whole) = number.as_u64() {
        return u32::try_from(whole).map_err(|_| serde::de::Error::custom("number out of range"));
    }
    match number.as_f64() {
        Some(x) if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) => Ok(x as u32),
        _ => Err(serde::de::Error::custom("expected a whole number")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityKind {
    PasswordChanged,
    EmailChanged,
    NewLogin,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityEvent {
    pub user_id: String,
    pub kind: SecurityKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub enum PaymentStatus {
    #[serde(rename = "SUCCESS")]
    Success,
    #[serde(rename = "FAILED")]
    Failed,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettled {
    pub user_id: String,
    pub status: PaymentStatus,
    pub amount: f64,
    pub currency: String,
    pub reference: String,
}

/// Why an event was not acted on: said in the log, and the event is done.
#[derive(Debug, PartialEq)]
pub struct Rejected(pub String);

const ID_MAX: usize = 128;
const TEXT_MAX: usize = 200;

fn id(field: &str, value: &str) -> Result<(), Rejected> {
    let ok = !value.is_empty()
        && value.len() <= ID_MAX
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Rejected(format!(
            "{field} must be 1-{ID_MAX} characters of letters, digits, '-', '_', '.' or ':'"
        )))
    }
}

/// A user id as tokens carry it (`sub`): what `ids::is_valid_user_id` takes.
fn user_id(field: &str, value: &str) -> Result<(), Rejected> {
    if crate::ids::is_valid_user_id(value) {
        Ok(())
    } else {
        Err(Rejected(format!(
            "{field} must be a user id: 1-128 bytes, no control characters or '#'"
        )))
    }
}

fn text(field: &str, value: &str) -> Result<(), Rejected> {
    let length = value.chars().count();
    if value.trim().is_empty() || length > TEXT_MAX || value.chars().any(char::is_control) {
        return Err(Rejected(format!(
            "{field} must be 1-{TEXT_MAX} characters with no control characters"
        )));
    }
    Ok(())
}

impl DomainEvent {
    /// Reads an envelope's detail by its `detail-type`, and checks its values.
    pub fn parse(envelope: &Envelope) -> Result<DomainEvent, Rejected> {
        // The id keys the once-marker: bounded like any key we write.
        if envelope.id.is_empty() || envelope.id.len() > ID_MAX {
            return Err(Rejected(format!("id must be 1-{ID_MAX} characters")));
        }
        fn detail<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, Rejected> {
            if !v.is_object() {
                return Err(Rejected("detail must be a JSON object".into()));
            }
            serde_path_to_error::deserialize(v).map_err(|e| {
                Rejected(match e.path().to_string().as_str() {
                    "." => format!("detail: {}", e.inner()),
                    path => format!("detail.{path}: {}", e.inner()),
                })
            })
        }
        let event = match envelope.detail_type.as_str() {
            "DirectMessageCreated" => {
                let d: DirectMessageCreated = detail(&envelope.detail)?;
                id("thread_id", &d.thread_id)?;
                user_id("sender_id", &d.sender_id)?;
                user_id("recipient_id", &d.recipient_id)?;
                if let Some(p) = &d.preview {
                    text("preview", p)?;
                }
                if d.sender_id == d.recipient_id {
                    return Err(Rejected("sender_id and recipient_id are the same".into()));
                }
                DomainEvent::DirectMessageCreated(d)
            }
            "AchievementUnlocked" => {
                let d: AchievementUnlocked = detail(&envelope.detail)?;
                user_id("user_id", &d.user_id)?;
                id("achievement_id", &d.achievement_id)?;
                text("name", &d.name)?;
                DomainEvent::AchievementUnlocked(d)
            }
            "ChallengeDeadlineApproaching" => {
                let d: ChallengeDeadlineApproaching = detail(&envelope.detail)?;
                user_id("user_id", &d.user_id)?;
                id("challenge_id", &d.challenge_id)?;
                text("title", &d.title)?;
                if ![24, 1].contains(&d.hours_left) {
                    return Err(Rejected("hours_left must be 24 or 1".into()));
                }
                DomainEvent::ChallengeDeadlineApproaching(d)
            }
            "SecurityEvent" => {
                let d: SecurityEvent = detail(&envelope.detail)?;
                user_id("user_id", &d.user_id)?;
                DomainEvent::SecurityEvent(d)
            }
            "PaymentSettled" => {
                let d: PaymentSettled = detail(&envelope.detail)?;
                user_id("user_id", &d.user_id)?;
                id("reference", &d.reference)?;
                if !(d.amount.is_finite() && d.amount > 0.0 && d.amount < 1e12) {
                    return Err(Rejected("amount must be a positive number".into()));
                }
                if d.currency.len() != 3 || !d.currency.chars().all(|c| c.is_ascii_uppercase()) {
                    return Err(Rejected(
                        "currency must be a three-letter ISO 4217 code (UGX, USD)".into(),
                    ));
                }
                DomainEvent::PaymentSettled(d)
            }
            other => {
                return Err(Rejected(format!(
                    "unknown detail-type {other:?}; known: {}",
                    DETAIL_TYPES.join(", ")
                )))
            }
        };
        Ok(event)
    }

    /// Who the text is for.
    pub fn recipient(&self) -> &str {
        match self {
            DomainEvent::DirectMessageCreated(d) => &d.recipient_id,
            DomainEvent::AchievementUnlocked(d) => &d.user_id,
            DomainEvent::ChallengeDeadlineApproaching(d) => &d.user_id,
            DomainEvent::SecurityEvent(d) => &d.user_id,
            DomainEvent::PaymentSettled(d) => &d.user_id,
        }
    }

    pub fn message_type(&self) -> MessageType {
        match self {
            DomainEvent::DirectMessageCreated(_) => MessageType::DirectMessage,
            DomainEvent::AchievementUnlocked(_) => MessageType::AchievementUnlock,
            DomainEvent::ChallengeDeadlineApproaching(_) => MessageType::ChallengeReminder,
            DomainEvent::SecurityEvent(_) => MessageType::SecurityAlert,
            DomainEvent::PaymentSettled(d) => match d.status {
                PaymentStatus::Success => MessageType::PaymentConfirmation,
                PaymentStatus::Failed => MessageType::PaymentFailure,
            },
        }
    }

    /// What makes two deliveries the same message: the event id, or where
    /// the event has a natural key, that (a payment's reference and status,
    /// so a publisher that retries `PutEvents` does not text twice either).
    pub fn once_key(&self, event_id: &str) -> String {
        let kind = crate::sms::wire_name(self.message_type());
        match self {
            DomainEvent::AchievementUnlocked(d) => {
                format!("{kind}#{}#{}", d.user_id, d.achievement_id)
            }
            DomainEvent::ChallengeDeadlineApproaching(d) => {
                format!("{kind}#{}#{}#{}", d.user_id, d.challenge_id, d.hours_left)
            }
            DomainEvent::PaymentSettled(d) => format!("{kind}#{}#{}", d.user_id, d.reference),
            _ => format!("event#{event_id}"),
        }
    }

    /// A challenge reminder is pointless once the challenge closed: quiet
    /// hours do not hold it past then.
    pub fn send_by(&self, now_ms: i64) -> Option<i64> {
        match self {
            DomainEvent::ChallengeDeadlineApproaching(d) => {
                Some(now_ms + i64::from(d.hours_left) * 3_600_000)
            }
            _ => None,
        }
    }

    pub(super) fn related(&self) -> Option<Related> {
        let (kind, id) = match self {
            DomainEvent::DirectMessageCreated(d) => ("thread", &d.thread_id),
            DomainEvent::AchievementUnlocked(d) => ("achievement", &d.achievement_id),
            DomainEvent::ChallengeDeadlineApproaching(d) => ("challenge", &d.challenge_id),
            DomainEvent::PaymentSettled(d) => ("payment", &d.reference),
            DomainEvent::SecurityEvent(_) => return None,
        };
        Some(Related {
            kind: kind.into(),
            id: id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(detail_type: &str, detail: Value) -> Envelope {
        Envelope {
            id: "e1".into(),
            detail_type: detail_type.into(),
            source: "test".into(),
            detail,
        }
    }

    #[test]
    fn details_are_checked_by_type() {
        let ok = envelope(
            "PaymentSettled",
            json!({"user_id":"u1","status":"FAILED","amount":5000,"currency":"UGX","reference":"MM-1"}),
        );
        let event = DomainEvent::parse(&ok).unwrap();
        // User ids are token subjects (`auth0|...`, e-mail addresses).
        let subject = envelope(
            "SecurityEvent",
            json!({"user_id": "auth0|5f7c8ec7", "kind": "new_login"}),
        );
        assert_eq!(
            DomainEvent::parse(&subject).unwrap().recipient(),
            "auth0|5f7c8ec7"
        );
        assert_eq!(event.message_type(), MessageType::PaymentFailure);
        assert_eq!(event.once_key("e1"), "payment_failure#u1#MM-1");
        // A JSON Schema integer may be written 24.0 (the published schema,
        // and so PutEvents, accept it): the same as 24.
        for hours in [json!(24), json!(24.0)] {
            let detail = json!({"user_id":"u1","challenge_id":"c","title":"T","hours_left": hours});
            let event = DomainEvent::parse(&envelope("ChallengeDeadlineApproaching", detail));
            assert_eq!(event.unwrap().once_key("e1"), "challenge_reminder#u1#c#24");
        }
        for (kind, detail, says) in [
            (
                "PaymentSettled",
                json!({"user_id":"u1","status":"PENDING","amount":1,"currency":"UGX","reference":"r"}),
                "status",
            ),
            (
                "PaymentSettled",
                json!({"user_id":"u1","status":"SUCCESS","amount":-1,"currency":"UGX","reference":"r"}),
                "amount",
            ),
            (
                "PaymentSettled",
                json!({"user_id":"u1","status":"SUCCESS","amount":"5","currency":"UGX","reference":"r"}),
                "amount",
            ),
            (
                "SecurityEvent",
                json!({"user_id":"u1","kind":"password_changed","extra":1}),
                "extra",
            ),
            ("SecurityEvent", json!({"kind":"new_login"}), "user_id"),
            (
                "SecurityEvent",
                json!({"user_id":"USER#x","kind":"new_login"}),
                "user_id",
            ),
            (
                "ChallengeDeadlineApproaching",
                json!({"user_id":"u1","challenge_id":"c","title":"T","hours_left":2}),
                "hours_left",
            ),
            (
                "DirectMessageCreated",
                json!({"thread_id":"t","sender_id":"a","recipient_id":"a"}),
                "same",
            ),
            (
                "DirectMessageCreated",
                json!({"thread_id":"t/../x","sender_id":"a","recipient_id":"b"}),
                "thread_id",
            ),
            ("DirectMessageCreated", json!([1, 2]), "object"),
            (
                "AchievementUnlocked",
                json!({"user_id":"u1","achievement_id":"a","name":""}),
                "name",
            ),
            (
                "ChallengeDeadlineApproaching",
                json!({"user_id":"u1","challenge_id":"c","title":"T","hours_left":24.5}),
                "hours_left",
            ),
            ("SomethingElse", json!({}), "unknown detail-type"),
        ] {
            let Err(Rejected(reason)) = DomainEvent::parse(&envelope(kind, detail.clone())) else {
                panic!("{kind} {detail} was accepted")
            };
            assert!(reason.contains(says), "{kind} {detail}: {reason}");
        }
    }
}
