//! F-EV-1, F-SMS-25: events other services put on the domain-events bus,
//! and the texts they cause. Each `detail-type` has its own `detail` shape
//! (documented in docs/events.md); a detail that does not fit is rejected
//! with its reason, never retried. Each text goes through the full SMS
//! policy, once per event (redelivered events send nothing more).

use super::player::{Notice, PlayerTexts, Texted};
use super::Links;
use crate::error::Error;
use crate::presence::{is_online, Presence};
use crate::sms::limits::Limit;
use crate::sms::policy::Reason;
use crate::sms::store::{Related, Status};
use crate::sms::MessageType;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// F-SMS-13: at most one direct-message notice per thread per 5 minutes.
pub const DM_DEBOUNCE_SECS: i64 = 300;

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
    pub hours_left: u32,
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
                id("sender_id", &d.sender_id)?;
                id("recipient_id", &d.recipient_id)?;
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
                id("user_id", &d.user_id)?;
                id("achievement_id", &d.achievement_id)?;
                text("name", &d.name)?;
                DomainEvent::AchievementUnlocked(d)
            }
            "ChallengeDeadlineApproaching" => {
                let d: ChallengeDeadlineApproaching = detail(&envelope.detail)?;
                id("user_id", &d.user_id)?;
                id("challenge_id", &d.challenge_id)?;
                text("title", &d.title)?;
                if ![24, 1].contains(&d.hours_left) {
                    return Err(Rejected("hours_left must be 24 or 1".into()));
                }
                DomainEvent::ChallengeDeadlineApproaching(d)
            }
            "SecurityEvent" => {
                let d: SecurityEvent = detail(&envelope.detail)?;
                id("user_id", &d.user_id)?;
                DomainEvent::SecurityEvent(d)
            }
            "PaymentSettled" => {
                let d: PaymentSettled = detail(&envelope.detail)?;
                id("user_id", &d.user_id)?;
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

    fn related(&self) -> Option<Related> {
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

/// The wording of each event's text (GSM-7 where the event's own text allows).
pub fn event_text(event: &DomainEvent, sender: Option<&str>, links: &Links) -> String {
    match event {
        DomainEvent::DirectMessageCreated(d) => {
            let from = sender.unwrap_or("a player");
            let link = links.page(&format!("messages/{}", d.thread_id));
            match d.preview.as_deref().map(|p| preview(p, 60)) {
                Some(p) => format!("Versus: {from} sent you a message: \"{p}\" Reply: {link}"),
                None => format!("Versus: {from} sent you a message. Reply: {link}"),
            }
        }
        DomainEvent::AchievementUnlocked(d) => format!(
            "Versus: achievement unlocked: {}! See it: {}",
            d.name,
            links.page("achievements")
        ),
        DomainEvent::ChallengeDeadlineApproaching(d) => {
            let left = match d.hours_left {
                1 => "1 hour".to_string(),
                h => format!("{h} hours"),
            };
            format!(
                "Versus: \"{}\" closes in {left}. Finish it: {}",
                d.title,
                links.page(&format!("challenges/{}", d.challenge_id))
            )
        }
        DomainEvent::SecurityEvent(d) => {
            let what = match d.kind {
                SecurityKind::PasswordChanged => "your password was changed",
                SecurityKind::EmailChanged => "your email address was changed",
                SecurityKind::NewLogin => "there was a new sign-in to your account",
            };
            format!(
                "Versus security: {what}. If this was not you, secure your account now: {}",
                links.page("security")
            )
        }
        DomainEvent::PaymentSettled(d) => {
            let amount = format!("{} {}", d.currency, format_amount(d.amount));
            match d.status {
                PaymentStatus::Success => format!(
                    "Versus: payment of {amount} received (ref {}). Thank you!",
                    d.reference
                ),
                PaymentStatus::Failed => format!(
                    "Versus: your payment of {amount} failed (ref {}). Try again: {}",
                    d.reference,
                    links.page("payments")
                ),
            }
        }
    }
}

fn format_amount(amount: f64) -> String {
    if amount.fract() == 0.0 {
        format!("{amount:.0}")
    } else {
        format!("{amount:.2}")
    }
}

/// The start of a message, on one line, cut at a word where it can be.
fn preview(text: &str, max_chars: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max_chars {
        return one_line;
    }
    let cut: String = one_line.chars().take(max_chars).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}...")
}

#[derive(Clone)]
pub struct EventTexts {
    texts: PlayerTexts,
    presence: Presence,
    links: Links,
    online_window_secs: i64,
}

impl EventTexts {
    pub fn new(
        texts: PlayerTexts,
        presence: Presence,
        links: Links,
        online_window_secs: i64,
    ) -> Self {
        EventTexts {
            texts,
            presence,
            links,
            online_window_secs,
        }
    }

    /// Acts on one delivered event; the answer says what became of it.
    /// `Err` only for a failure worth retrying (a dependency down).
    pub async fn handle(&self, envelope: &Envelope, now_ms: i64) -> Result<Value, Error> {
        let event = match DomainEvent::parse(envelope) {
            Ok(event) => event,
            Err(Rejected(reason)) => {
                tracing::warn!(event_id = %envelope.id, detail_type = %envelope.detail_type, source = %envelope.source, %reason, "domain event rejected");
                return Ok(
                    json!({"event_id": envelope.id, "outcome": "rejected", "reason": reason}),
                );
            }
        };
        let outcome = self.text(&event, &envelope.id, now_ms).await?;
        tracing::info!(event_id = %envelope.id, detail_type = %envelope.detail_type, outcome = %outcome["outcome"], "domain event handled");
        Ok(outcome)
    }

    async fn text(&self, event: &DomainEvent, event_id: &str, now_ms: i64) -> Result<Value, Error> {
        let done = |outcome: &str, reason: Option<String>| json!({"event_id": event_id, "outcome": outcome, "reason": reason});
        let recipient = event.recipient();
        let Some(profile) = self.texts.profiles().get(recipient).await? else {
            return Ok(done("no_number", Some("no such user".into())));
        };
        let mut extra_limits = Vec::new();
        let mut sender = None;
        if let DomainEvent::DirectMessageCreated(dm) = event {
            // F-SMS-13: only while the recipient is offline (F-PR-4).
            let connected = !self
                .presence
                .connections(recipient, now_ms)
                .await?
                .is_empty();
            if is_online(
                profile.availability.last_seen_at,
                connected,
                now_ms,
                self.online_window_secs,
            ) {
                return Ok(done("recipient_online", None));
            }
            extra_limits.push(Limit::spacing(
                format!("dm#{}#{recipient}", dm.thread_id),
                DM_DEBOUNCE_SECS,
                Reason::DirectMessageDebounced,
            ));
            sender = self
                .texts
                .profiles()
                .get(&dm.sender_id)
                .await?
                .map(|p| p.username);
        }
        let notice = Notice {
            message_type: event.message_type(),
            body: event_text(event, sender.as_deref(), &self.links),
            related: event.related(),
            once: event.once_key(event_id),
            extra_limits,
        };
        Ok(
            match self.texts.text_profile(&profile, notice, now_ms).await? {
                Texted::Logged(log) => {
                    let status = crate::sms::wire_name(log.status);
                    let reason = log.reason.map(crate::sms::wire_name);
                    let mut out = done(&status, reason);
                    out["sms_id"] = json!(log.sms_id);
                    if log.status == Status::Suppressed {
                        out["outcome"] = json!("suppressed");
                    }
                    out
                }
                Texted::Repeat => done("repeat", None),
                Texted::NoNumber => done("no_number", Some("no verified phone number".into())),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(event.message_type(), MessageType::PaymentFailure);
        assert_eq!(event.once_key("e1"), "payment_failure#u1#MM-1");
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
            ("SomethingElse", json!({}), "unknown detail-type"),
        ] {
            let Err(Rejected(reason)) = DomainEvent::parse(&envelope(kind, detail.clone())) else {
                panic!("{kind} {detail} was accepted")
            };
            assert!(reason.contains(says), "{kind} {detail}: {reason}");
        }
    }

    #[test]
    fn event_texts_fit_one_segment_and_name_what_happened() {
        let links = Links::new("https://play.example.com");
        let dm = DomainEvent::DirectMessageCreated(DirectMessageCreated {
            thread_id: "t1".into(),
            sender_id: "a".into(),
            recipient_id: "b".into(),
            preview: Some(
                "Are you up for a rematch tonight?  I have been practising all week long".into(),
            ),
        });
        let body = event_text(&dm, Some("alice"), &links);
        assert!(
            body.contains("alice") && body.contains("practising..."),
            "{body}"
        );
        let payment = DomainEvent::PaymentSettled(PaymentSettled {
            user_id: "u".into(),
            status: PaymentStatus::Success,
            amount: 5000.0,
            currency: "UGX".into(),
            reference: "MM-77".into(),
        });
        let body = event_text(&payment, None, &links);
        assert!(
            body.contains("UGX 5000") && body.contains("MM-77"),
            "{body}"
        );
        for event in [payment, dm] {
            let sent = crate::sms::finish_body(
                event.message_type(),
                &event_text(&event, Some("alice"), &links),
            );
            assert!(crate::sms::segments::analyze(&sent).segments <= 2, "{sent}");
        }
    }
}
