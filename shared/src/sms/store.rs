//! SmsLog records (F-SMS-2), the opt-out list (F-SMS-11) and the atomic
//! counters behind the limits (F-SMS-12, F-SMS-27).

use super::policy::Reason;
use super::segments::Encoding;
use super::MessageType;
use crate::db::{self, key, n, retry, s, Cost, Handle, Item, Transaction};
use crate::error::Error;
use crate::phone::PhoneNumber;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, Update};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

/// Logs are kept this long (TTL).
const LOG_RETENTION_SECS: i64 = 180 * 24 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Sending,
    Sent,
    Delivered,
    Failed,
    Suppressed,
    Deferred,
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
    pub body: String,
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
        }
    }

    /// Pending, sending and deferred logs are in flight: the reconciler
    /// watches them until they are final.
    pub fn in_flight(&self) -> bool {
        matches!(
            self.status,
            Status::Pending | Status::Sending | Status::Deferred
        )
    }
}

/// One limit a send is subject to (F-SMS-12).
///
/// Counted limits: at most `limit` within a fixed window of `window_secs`,
/// aligned on multiples of the window since the epoch (0: the scope names its
/// own period, like a month). A send adds `amount` (1 message, or its cost for
/// the spend cap). Fixed windows bound any window-long stretch that straddles
/// an edge by twice the limit (10 at 10:59 and 10 at 11:00); the README says so.
///
/// A spacing limit (`spacing: true`) is a true gap instead: a send passes only
/// if the last one in its scope was at least `window_secs` ago.
#[derive(Clone, Debug)]
pub struct Limit {
    pub scope: String,
    pub window_secs: i64,
    pub limit: u64,
    pub amount: u64,
    pub reason: Reason,
    pub spacing: bool,
}

impl Limit {
    /// One message against `limit` per window.
    pub fn count(scope: String, window_secs: i64, limit: u64, reason: Reason) -> Self {
        Limit {
            scope,
            window_secs,
            limit,
            amount: 1,
            reason,
            spacing: false,
        }
    }

    /// At most one message per `gap_secs`, measured from the last one.
    pub fn spacing(scope: String, gap_secs: i64, reason: Reason) -> Self {
        Limit {
            scope,
            window_secs: gap_secs,
            limit: 1,
            amount: 1,
            reason,
            spacing: true,
        }
    }

    /// This limit's update, as one item of the limits transaction.
    fn update(&self, table: &str, now_ms: i64) -> Update {
        let now_secs = now_ms / 1000;
        if self.spacing {
            return Update::builder()
                .table_name(table)
                .set_key(Some(key(format!("LIMIT#{}", self.scope), "GAP")))
                .update_expression("SET last_at = :now, expires_at = :exp")
                // A gap either way: senders' clocks differ by a little, and
                // a send stamped before the last one is still too close to it.
                .condition_expression(
                    "attribute_not_exists(last_at) OR last_at <= :before OR last_at >= :after",
                )
                .expression_attribute_values(":now", n(now_ms))
                .expression_attribute_values(":before", n(now_ms - self.window_secs * 1000))
                .expression_attribute_values(":after", n(now_ms + self.window_secs * 1000))
                .expression_attribute_values(":exp", n(now_secs + self.window_secs + 60))
                .build()
                .expect("table, key and expression set");
        }
        let (pk, expires_at) = match self.window_secs {
            0 => (
                format!("LIMIT#{}", self.scope),
                now_secs + PERIOD_COUNTER_SECS,
            ),
            w => {
                let window = now_secs.div_euclid(w);
                (format!("LIMIT#{}#{window}", self.scope), (window + 2) * w)
            }
        };
        // Room for this send: the count so far may be at most limit − amount.
        Update::builder()
            .table_name(table)
            .set_key(Some(key(pk, "COUNT")))
            .update_expression("ADD #count :amount SET expires_at = :exp")
            .condition_expression("attribute_not_exists(#count) OR #count <= :room")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":amount", n(self.amount))
            .expression_attribute_values(":room", n(self.limit - self.amount))
            .expression_attribute_values(":exp", n(expires_at))
            .build()
            .expect("table, key and expression set")
    }
}

/// What a period-named counter (window 0) is kept for: a month and then some.
const PERIOD_COUNTER_SECS: i64 = 40 * 86_400;

/// The one partition of the `due` index. Every in-flight log is in it for
/// seconds, so it takes about three index writes per message: far below a
/// partition's 1,000 writes a second at any provider's sending rate.
pub const DUE_SHARD: &str = "DUE";

fn log_key(id: &str) -> Item {
    key(format!("SMS#{id}"), "LOG")
}

fn optout_key(phone: &PhoneNumber) -> Item {
    key(format!("OPTOUT#{}", phone.e164()), "OPTOUT")
}

#[derive(Clone)]
pub struct SmsStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl SmsStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        SmsStore {
            client,
            table: table.into(),
        }
    }

    pub async fn put_log(&self, log: &SmsLog) -> Result<(), Error> {
        self.put_log_with(log, None).await
    }

    /// Puts a new log; `with` (another write of the sms table, like the
    /// verification code the message carries) commits with it or not at all.
    /// An in-flight log must say when it is due, and joins the `due` index.
    pub async fn put_log_with(&self, log: &SmsLog, with: Option<Put>) -> Result<(), Error> {
        let mut item: Item = serde_dynamo::to_item(log)?;
        item.extend(log_key(&log.sms_id));
        if log.in_flight() {
            if log.due_at.is_none() {
                return Err(Error::internal("an in-flight SMS log needs a due time"));
            }
            item.insert("due_shard".into(), s(DUE_SHARD));
        }
        item.insert(
            "expires_at".into(),
            n(log.created_at / 1000 + LOG_RETENTION_SECS),
        );
        const NEW: &str = "attribute_not_exists(pk)";
        match with {
            None => self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(NEW)
                .send()
                .await
                .map(|_| ())
                .map_err(db::dependency),
            Some(other) => {
                let log_put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(NEW)
                    .build()
                    .expect("table and item set");
                let mut tx = Transaction::new();
                tx.put(log_put);
                tx.put(other);
                Ok(tx.commit(&self.client, &mut Cost::default()).await?)
            }
        }
    }

    pub async fn get_log(&self, id: &str) -> Result<Option<SmsLog>, Error> {
        db::get_item(&self.client, &self.table, log_key(id)).await
    }

    /// F-SMS-4: takes a log for sending, one winner, under a lease that ends
    /// at `now + lease_ms`: a pending log; a deferred one whose time has come
    /// (F-JOB-5); or one whose sender's lease ran out (it was killed, or its
    /// DynamoDB write failed after the claim). `None` when it is none of
    /// these: final, or being sent under a live lease.
    pub async fn claim(
        &self,
        id: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<SmsLog>, Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(log_key(id)))
            .update_expression(
                "SET #status = :sending, claimed_at = :now, due_at = :lease_end ADD attempts :one",
            )
            .condition_expression(
                "#status = :pending OR (#status IN (:deferred, :sending) AND due_at <= :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":deferred", s("deferred"))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":lease_end", n(now_ms + lease_ms))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        db::conditional(result)?
            .map(|out| serde_dynamo::from_item(out.attributes.unwrap_or_default()))
            .transpose()
            .map_err(Error::from)
    }

    /// F-SMS-26: the claimed log moves to the fallback provider for good.
    pub async fn move_to_fallback(&self, id: &str, provider: &str) -> Result<(), Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(log_key(id)))
            .update_expression("SET on_fallback = :yes, provider = :p")
            .condition_expression("#status = :sending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":p", s(provider))
            .send()
            .await;
        db::conditional(result)?.ok_or_else(|| not_sending(id))?;
        Ok(())
    }

    /// Moves a claimed log on: sent (with the provider's id), failed, or back
    /// to pending for another attempt.
    pub async fn finish(&self, id: &str, outcome: Finish<'_>, now_ms: i64) -> Result<(), Error> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(log_key(id)))
            .condition_expression("#status = :sending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s("sending"));
        update = match outcome {
            Finish::Sent {
                provider,
                provider_message_id,
            } => update
                .update_expression(
                    "SET #status = :sent, provider = :p, provider_message_id = :pid, sent_at = :now REMOVE due_shard, due_at",
                )
                .expression_attribute_values(":sent", s("sent"))
                .expression_attribute_values(":p", s(provider))
                .expression_attribute_values(":pid", s(provider_message_id))
                .expression_attribute_values(":now", n(now_ms)),
            Finish::Failed { provider, error } => update
                .update_expression(
                    "SET #status = :failed, provider = :p, #error = :e REMOVE due_shard, due_at",
                )
                .expression_attribute_names("#error", "error")
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(":p", s(provider))
                .expression_attribute_values(":e", s(error)),
            Finish::Suppressed { reason } => update
                .update_expression("SET #status = :suppressed, reason = :r REMOVE due_shard, due_at")
                .expression_attribute_values(":suppressed", s("suppressed"))
                .expression_attribute_values(":r", serde_dynamo::to_attribute_value(reason)?),
            Finish::Retry { error, due_at } => update
                .update_expression("SET #status = :pending, #error = :e, due_at = :due")
                .expression_attribute_names("#error", "error")
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":e", s(error))
                .expression_attribute_values(":due", n(due_at)),
        };
        db::conditional(update.send().await)?.ok_or_else(|| not_sending(id))?;
        Ok(())
    }

    /// In-flight logs due by `now_ms` (the sparse `due` index), oldest first,
    /// at most `limit`: ids with the due time they were seen with.
    pub async fn due_logs(&self, now_ms: i64, limit: i32) -> Result<Vec<(String, i64)>, Error> {
        let found = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("due")
            .key_condition_expression("due_shard = :shard AND due_at <= :now")
            .expression_attribute_values(":shard", s(DUE_SHARD))
            .expression_attribute_values(":now", n(now_ms))
            .limit(limit)
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(found
            .items()
            .iter()
            .filter_map(|i| Some((db::get_s(i, "pk")?, db::get_n(i, "due_at")?)))
            .map(|(pk, due)| (pk.trim_start_matches("SMS#").to_string(), due))
            .collect())
    }

    /// The reconciler's move on a due log, seen due at `seen_due`: back to
    /// pending and due again `requeue_ms` later (the caller then queues it),
    /// or failed once it has used `max_attempts`. Conditional on the due time
    /// it was seen with, so of two reconcilers only one acts. `None` when the
    /// log moved meanwhile.
    pub async fn reconcile(
        &self,
        id: &str,
        seen_due: i64,
        now_ms: i64,
        requeue_ms: i64,
        max_attempts: u32,
    ) -> Result<Option<Reconciled>, Error> {
        let base = || {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(log_key(id)))
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":sending", s("sending"))
                .expression_attribute_values(":deferred", s("deferred"))
                .expression_attribute_values(":seen", n(seen_due))
                .expression_attribute_values(":max", n(max_attempts))
        };
        let in_flight = "#status IN (:pending, :sending, :deferred) AND due_at = :seen";
        let requeued = base()
            .update_expression("SET #status = :pending, due_at = :next")
            .condition_expression(format!("{in_flight} AND attempts < :max"))
            .expression_attribute_values(":next", n(now_ms + requeue_ms))
            .send()
            .await;
        if db::conditional(requeued)?.is_some() {
            return Ok(Some(Reconciled::Requeued));
        }
        let failed = base()
            .update_expression("SET #status = :failed, #error = :e REMOVE due_shard, due_at")
            .condition_expression(format!("{in_flight} AND attempts >= :max"))
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":e", s(format!("gave up after {max_attempts} attempts")))
            .send()
            .await;
        Ok(db::conditional(failed)?.map(|_| Reconciled::GaveUp))
    }

    /// F-SMS-16: per-day and per-month counters of messages, segments and
    /// estimated cost, moved when a message is sent.
    pub async fn record_cost(&self, log: &SmsLog, now_ms: i64) -> Result<(), Error> {
        let day = crate::clock::utc_date(now_ms);
        // The two counters are independent: updated side by side, not in turn.
        let updates = [
            (format!("COST#{}", day.format("%Y-%m")), "MONTH"),
            (format!("COST#{day}"), "DAY"),
        ]
        .map(|(pk, sk)| {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                // Every name aliased: `segments` is a DynamoDB reserved word.
                .update_expression("ADD #m :one, #s :seg, #c :cost")
                .expression_attribute_names("#m", "messages")
                .expression_attribute_names("#s", "segments")
                .expression_attribute_names("#c", "cost_micros")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":seg", n(log.segments))
                .expression_attribute_values(":cost", n(log.cost_micros))
                .send()
        });
        futures::future::try_join_all(updates)
            .await
            .map_err(db::dependency)?;
        Ok(())
    }

    /// F-SMS-15: a delivery receipt moves the log with this provider id to
    /// delivered or failed. Returns the log id, `None` if no log has that id.
    pub async fn record_receipt(
        &self,
        provider_message_id: &str,
        delivered: bool,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<String>, Error> {
        // An index key may not be empty, and no provider's ids are long:
        // refuse what DynamoDB would, as the caller's mistake (F-ERR-1).
        if provider_message_id.is_empty() || provider_message_id.len() > 256 {
            return Err(Error::validation(
                "the message reference must be 1 to 256 characters",
            ));
        }
        let found = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("provider_message")
            .key_condition_expression("provider_message_id = :id")
            .expression_attribute_values(":id", s(provider_message_id))
            .limit(1)
            .send()
            .await
            .map_err(db::dependency)?;
        let Some(pk) = found.items().first().and_then(|i| db::get_s(i, "pk")) else {
            return Ok(None);
        };
        let id = pk.trim_start_matches("SMS#").to_string();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(log_key(&id)))
            // Receipts arrive out of order: a later `sent` never undoes `delivered`.
            .condition_expression("#status IN (:sending, :sent)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":sent", s("sent"));
        update = if delivered {
            update
                .update_expression("SET #status = :delivered, delivered_at = :now")
                .expression_attribute_values(":delivered", s("delivered"))
                .expression_attribute_values(":now", n(now_ms))
        } else {
            update
                .update_expression("SET #status = :failed, #error = :e")
                .expression_attribute_names("#error", "error")
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(":e", s(error.unwrap_or("undelivered")))
        };
        // A condition that fails means the log is already final: nothing to do.
        db::conditional(update.send().await)?;
        Ok(Some(id))
    }

    pub async fn is_opted_out(&self, phone: &PhoneNumber) -> Result<bool, Error> {
        let found: Option<serde_json::Value> =
            db::get_item(&self.client, &self.table, optout_key(phone)).await?;
        Ok(found.is_some())
    }

    /// F-SMS-11: STOP and its synonyms.
    pub async fn opt_out(
        &self,
        phone: &PhoneNumber,
        keyword: &str,
        now_ms: i64,
    ) -> Result<(), Error> {
        let mut item = optout_key(phone);
        item.insert("keyword".into(), s(keyword));
        item.insert("at".into(), n(now_ms));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(())
    }

    /// F-SMS-11: START / UNSTOP / YES.
    pub async fn opt_in(&self, phone: &PhoneNumber) -> Result<(), Error> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(optout_key(phone)))
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(())
    }

    /// Counts one send against every limit at once (F-SMS-12): either all
    /// counters move, or none does and the first limit reached is returned.
    /// Each counter is a conditional `ADD` on a per-window item, so any number
    /// of concurrent sends never pass a limit.
    pub async fn take(&self, limits: &[Limit], now_ms: i64) -> Result<Result<(), Reason>, Error> {
        if limits.is_empty() {
            return Ok(Ok(()));
        }
        if let Some(l) = limits.iter().find(|l| l.amount > l.limit) {
            return Ok(Err(l.reason));
        }
        for attempt in 0..5u32 {
            let mut tx = Transaction::new();
            let counters: Vec<(Handle, Reason)> = limits
                .iter()
                .map(|l| (tx.update(l.update(&self.table, now_ms)), l.reason))
                .collect();
            match tx.commit(&self.client, &mut Cost::default()).await {
                Ok(()) => return Ok(Ok(())),
                Err(f) => {
                    if let Some((_, reason)) = counters.iter().find(|(h, _)| f.condition_failed(*h))
                    {
                        return Ok(Err(*reason));
                    }
                    if !f.is_conflict() {
                        return Err(f.into_error());
                    }
                    // A conflicting transaction on a counter: again.
                    retry::pause(attempt).await;
                }
            }
        }
        Err(Error::TooManyRequests {
            message: "too many concurrent sends, retry".into(),
            retry_after_secs: 1,
        })
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

fn not_sending(id: &str) -> Error {
    Error::conflict("not_sending", format!("SMS {id} is no longer being sent"))
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
    /// Refused after it was queued (a STOP while it waited).
    Suppressed {
        reason: Reason,
    },
}
