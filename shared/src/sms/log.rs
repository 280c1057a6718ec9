//! The SmsLog (F-SMS-2): one record per message, from pending to a final
//! status, and how a send attempt ends.

use super::policy::Reason;
use super::segments::Encoding;
pub use super::status::{Status, Transition};
use super::MessageType;
use crate::db::{n, s, Item, UpdateExpr};
use crate::error::Error;
use crate::keys::sms::{log_key, once_key, search_key, search_shard, SearchFacet, TTL_ATTR};
use crate::phone::PhoneNumber;
use serde::{Deserialize, Serialize};

/// Logs are kept this long (TTL), and so are their search entries and
/// once-markers.
pub(crate) const LOG_RETENTION_SECS: i64 = 180 * 24 * 3600;

/// The sparse `due` index: every in-flight log, by when it is next due
/// (`due_at`, a field of the log), in the log's shard (`due_shard`,
/// `DUE#<nn>` by its id). A text writes its entry about five times (put,
/// claim, finish, each move a delete and a put), so one partition would cap
/// the pipeline at 200 texts a second; 64 shards lift that past 12,000
/// (issue 23), and let the reconciler release the shards in parallel. A log
/// joins when it is written in flight and leaves
/// ([`DueIndex::remove_from_due`]) when it becomes final.
pub(crate) const DUE_INDEX: &str = "due";
pub(crate) const DUE_SHARD_ATTR: &str = "due_shard";
pub(crate) const DUE_AT_ATTR: &str = "due_at";
pub const DUE_SHARDS: u32 = 64;

/// A log's partition of the `due` index.
fn due_shard(sms_id: &str) -> String {
    format!("DUE#{:02}", crate::keys::shard_of(sms_id, DUE_SHARDS))
}

/// Every partition of the `due` index: the shards, and the single `DUE`
/// partition that logs written before the shards existed may still be in
/// (in flight at the upgrade; final within their attempts).
pub fn due_partitions() -> Vec<String> {
    (0..DUE_SHARDS)
        .map(|i| format!("DUE#{i:02}"))
        .chain(std::iter::once("DUE".to_string()))
        .collect()
}

/// The `provider_message` index: a sent log by its provider's message id
/// (a field of the log), for receipts that do not echo ours.
pub(crate) const PROVIDER_MESSAGE_INDEX: &str = "provider_message";
pub(crate) const PROVIDER_MESSAGE_ATTR: &str = "provider_message_id";

/// A log's update that takes it out of the `due` index (it became final).
pub(crate) trait DueIndex {
    fn remove_from_due(self) -> Self;
}

impl DueIndex for UpdateExpr {
    fn remove_from_due(self) -> Self {
        self.remove(DUE_SHARD_ATTR).remove(DUE_AT_ATTR)
    }
}

fn retained_until(created_at_ms: i64) -> aws_sdk_dynamodb::types::AttributeValue {
    n(created_at_ms / 1000 + LOG_RETENTION_SECS)
}

/// The marker of a message that goes at most once, taken by `sms_id`.
pub(crate) fn once_item(once: &str, sms_id: &str, now_ms: i64) -> Item {
    let mut item = once_key(once);
    item.insert("sms_id".into(), s(sms_id));
    item.insert(TTL_ATTR.into(), retained_until(now_ms));
    item
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    pub kind: String,
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// Absent options are left out of the item: some attributes are index keys,
/// which may be missing but never null.
pub struct SmsLog {
    pub sms_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub to: PhoneNumber,
    /// The text as sent while it may still be sent; once the log is final
    /// (or its secret expired), `redacted_body`'s text instead.
    pub body: String,
    /// `body` with its secret (a code, an invite token) masked, while the
    /// log still holds the real one: final states move it into `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_body: Option<String>,
    pub message_type: MessageType,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
    pub segments: u32,
    pub encoding: Encoding,
    pub cost_micros: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<Related>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    /// While the log is not final, when it next needs looking at: a deferred
    /// message's release time (F-SMS-14), a claimed one's lease end, a pending
    /// one's time to be queued again. The reconciler reads the `due` index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<i64>,
    /// The message was handed to the fallback provider (F-SMS-26): every later
    /// attempt goes there too, never back to the first provider.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_fallback: bool,
    /// A promotional text's recipient zones (F-SMS-14): quiet hours are
    /// checked again right before the provider call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    /// When the text stops being worth sending; a deferral past it refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_by: Option<i64>,
    /// The recipient's hourly and daily caps are counted when it goes, not
    /// when it was made (a text deferred overnight counts at 08:00).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub caps_pending: bool,
    /// When this text took its number's 30 s gap (F-SMS-12): its own later
    /// attempt is not held back by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_at: Option<i64>,
    /// What happened to the text, in order (the operator's timeline):
    /// appended by every write that moves it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Step>,
    /// The failed text an operator sent again as this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resend_of: Option<String>,
}

/// One step of a text's life.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub at: i64,
    pub event: StepKind,
    /// The provider, its answer, a reason, or until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Written by the outbox: pending, deferred or suppressed.
    Created,
    /// Taken by a sender for an attempt.
    Claimed,
    /// Held back (quiet hours, the 30 s gap) until the detail's time.
    Deferred,
    /// Handed to the fallback provider.
    Fallback,
    /// A provider took it.
    Sent,
    /// A transient failure: another attempt follows.
    Retry,
    /// Refused after it was made (opt-out, a cap, too late, expired).
    Suppressed,
    Failed,
    Delivered,
    /// Put back on the queue by the reconciler.
    Requeued,
    /// Cancelled by an operator while deferred.
    Cancelled,
    /// Sent again by an operator, as the detail's log.
    Resent,
}

impl Step {
    pub fn new(at: i64, event: StepKind, detail: Option<String>) -> Self {
        Step { at, event, detail }
    }
}

impl SmsLog {
    /// A new pending log of `body` as it will be sent, with its segments,
    /// encoding and estimated cost (F-SMS-2, F-SMS-6).
    pub fn pending(
        to: PhoneNumber,
        message_type: MessageType,
        body: String,
        user_id: Option<String>,
        config: &crate::config::SmsConfig,
        now_ms: i64,
    ) -> SmsLog {
        let analysis = super::segments::analyze(&body);
        SmsLog {
            sms_id: crate::ids::new_id(),
            user_id,
            cost_micros: super::segments::cost_micros(
                analysis.segments,
                to.region(),
                &config.rates,
                config.default_rate_micros,
            ),
            to,
            body,
            redacted_body: None,
            message_type,
            status: Status::Pending,
            reason: None,
            provider: None,
            provider_message_id: None,
            error: None,
            attempts: 0,
            segments: analysis.segments,
            encoding: analysis.encoding,
            related: None,
            created_at: now_ms,
            sent_at: None,
            delivered_at: None,
            // Nobody has queued it yet: due at once, until the outbox says otherwise.
            due_at: Some(now_ms),
            on_fallback: false,
            zones: Vec::new(),
            send_by: None,
            caps_pending: false,
            gap_at: None,
            history: Vec::new(),
            resend_of: None,
        }
    }

    /// Suppressed for `reason`: final, so the body keeps no secret.
    pub fn refuse(&mut self, reason: super::policy::Reason) {
        self.status = Status::Suppressed;
        self.reason = Some(reason);
        if let Some(created) = self
            .history
            .iter_mut()
            .find(|s| s.event == StepKind::Created)
        {
            created.detail = Some(format!("suppressed: {}", super::wire_name(reason)));
        }
        self.due_at = None;
        if let Some(redacted) = self.redacted_body.take() {
            self.body = redacted;
        }
    }

    /// Pending, sending and deferred logs are in flight: the reconciler
    /// watches them until they are final.
    pub fn in_flight(&self) -> bool {
        self.status.in_flight()
    }

    /// The log as its item: key, TTL, and (in flight) the `due` index,
    /// for which an in-flight log must say when it is due.
    pub(crate) fn item(&self) -> Result<Item, Error> {
        let mut item: Item = serde_dynamo::to_item(self)?;
        item.extend(log_key(&self.sms_id));
        if self.in_flight() {
            if self.due_at.is_none() {
                return Err(Error::internal("an in-flight SMS log needs a due time"));
            }
            item.insert(DUE_SHARD_ATTR.into(), s(due_shard(&self.sms_id)));
        }
        item.insert(TTL_ATTR.into(), retained_until(self.created_at));
        Ok(item)
    }

    /// The entries the operator's search finds the log by (its number, its
    /// user, its type on its UTC day), kept as long as the log: written with
    /// it, never changed.
    pub(crate) fn search_entries(&self) -> Vec<Item> {
        let kind = super::wire_name(self.message_type);
        let day = crate::clock::utc_date(self.created_at).to_string();
        let mut facets = vec![
            SearchFacet::Number(self.to.e164()),
            SearchFacet::TypeOnDay(&kind, &day, search_shard(&self.sms_id)),
        ];
        if let Some(user) = &self.user_id {
            facets.push(SearchFacet::User(user));
        }
        facets
            .into_iter()
            .map(|facet| {
                let mut item = search_key(facet, self.created_at, &self.sms_id);
                item.insert("sms_id".into(), s(&self.sms_id));
                item.insert(TTL_ATTR.into(), retained_until(self.created_at));
                item
            })
            .collect()
    }
}

/// What the reconciler did with a due log.
#[derive(Debug, PartialEq, Eq)]
pub enum Reconciled {
    /// Pending again: to be put on the queue.
    Requeued,
    /// Out of attempts: failed.
    GaveUp,
}

/// How a send attempt ended.
pub enum Finish<'a> {
    Sent {
        provider: &'a str,
        provider_message_id: &'a str,
    },
    Failed {
        provider: &'a str,
        error: &'a str,
    },
    /// Back to pending, to be tried again; the reconciler looks at it again
    /// at `due_at` if the queue has not brought it back by then.
    Retry {
        error: &'a str,
        due_at: i64,
    },
    /// Refused after it was queued (a STOP while it waited, a cap when it
    /// came to go, quiet hours past its `send_by`).
    Suppressed {
        reason: Reason,
    },
    /// Held back right before the provider call (quiet hours, the 30 s gap,
    /// F-SMS-12, F-SMS-14) until `due_at`; `caps_taken`: its caps were
    /// counted on the way.
    Deferred {
        due_at: i64,
        caps_taken: bool,
    },
}

/// What a provider reports about a message it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// `None`: delivered; else why it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the receipt came.
    pub at: i64,
}

impl Receipt {
    pub fn delivered(at: i64) -> Self {
        Receipt { error: None, at }
    }

    pub fn failed(error: impl Into<String>, at: i64) -> Self {
        Receipt {
            error: Some(error.into()),
            at,
        }
    }
}

/// One step, as the one-element list `history` is extended by.
pub fn step(
    at: i64,
    event: StepKind,
    detail: Option<String>,
) -> Result<aws_sdk_dynamodb::types::AttributeValue, crate::error::Error> {
    Ok(aws_sdk_dynamodb::types::AttributeValue::L(vec![
        serde_dynamo::to_attribute_value(Step::new(at, event, detail))?,
    ]))
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn a_status_is_spelled_once_and_knows_if_it_is_in_flight() {
        for status in Status::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str()),
                "{status:?}"
            );
            assert_eq!(status.value().as_s().unwrap(), status.as_str());
        }
        let in_flight: Vec<Status> = Status::ALL.into_iter().filter(|s| s.in_flight()).collect();
        assert_eq!(
            in_flight,
            [Status::Pending, Status::Sending, Status::Deferred]
        );
    }
}
