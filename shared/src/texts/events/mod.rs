//! F-EV-1, F-SMS-25: events other services put on the domain-events bus,
//! and the texts they cause. Each `detail-type` has its own `detail` shape
//! (documented in infra/events.asyncapi.yaml); a detail that does not fit is rejected
//! with its reason, never retried. Each text goes through the full SMS
//! policy, once per event (redelivered events send nothing more).

mod details;

pub use details::*;

use super::player::{Notice, PlayerTexts, Texted};
use super::Links;
use crate::error::Error;
use crate::presence::{is_online, Presence};
use crate::sms::limits::Limit;
use crate::sms::policy::Reason;
use crate::sms::store::Status;
use serde_json::{json, Value};

/// F-SMS-13: at most one direct-message notice per thread per 5 minutes.
pub const DM_DEBOUNCE_SECS: i64 = 300;

/// The wording of each event's text (GSM-7 where the event's own text allows).
pub fn event_text(event: &DomainEvent, sender: Option<&str>, links: &Links) -> String {
    match event {
        DomainEvent::DirectMessageCreated(d) => {
            let from = sender.unwrap_or("a player");
            let link = links.page(&format!("messages/{}", d.thread_id));
            match d
                .preview
                .as_deref()
                .map(|p| preview(p, 60))
                .filter(|p| !p.is_empty())
            {
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

/// `example.com`, `http://x`, `a@b`: not `Rematch?` or `tonight.`
fn could_be_link(word: &str) -> bool {
    word.trim_end_matches(['.', ',', '!', '?', ';', ':', ')', '"', '\''])
        .contains(['.', '/', '@', ':', '\\'])
}

/// The start of a message, on one line, cut at a word where it can be.
/// Words that could be links or addresses are left out: the text goes from
/// our number, and a sender must not be able to put a link in it.
fn preview(text: &str, max_chars: usize) -> String {
    let one_line = text
        .split_whitespace()
        .filter(|word| !could_be_link(word))
        .collect::<Vec<_>>()
        .join(" ");
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
            send_by: event.send_by(now_ms),
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
        let linked = DomainEvent::DirectMessageCreated(DirectMessageCreated {
            thread_id: "t1".into(),
            sender_id: "a".into(),
            recipient_id: "b".into(),
            preview: Some(
                "Claim your prize at evil.example/win or www.x.io, mail me@x.com now.".into(),
            ),
        });
        let body = event_text(&linked, Some("alice"), &links);
        assert!(
            body.contains("\"Claim your prize at or mail now.\""),
            "{body}"
        );
        let only_links = DomainEvent::DirectMessageCreated(DirectMessageCreated {
            thread_id: "t1".into(),
            sender_id: "a".into(),
            recipient_id: "b".into(),
            preview: Some("https://evil.example".into()),
        });
        assert_eq!(
            event_text(&only_links, Some("alice"), &links),
            "Versus: alice sent you a message. Reply: https://play.example.com/messages/t1"
        );
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
