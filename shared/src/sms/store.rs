//! The sms table's store: SmsLog records through their lifecycle (F-SMS-2,
//! F-SMS-4), delivery receipts (F-SMS-15) and the opt-out list (F-SMS-11).
//! The limit and cost counters are in `limits`; the records' shapes in `log`.

use crate::db::{self, n, s, Cost, Item, Transaction, UpdateExpr};
use crate::error::Error;
use crate::keys::sms::{log_id_of_pk, log_key, once_key, optout_key};

use super::log::LOG_RETENTION_SECS;
pub use super::log::{Finish, Reconciled, Related, SmsLog, Status};
use crate::phone::PhoneNumber;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue};
use aws_sdk_dynamodb::Client;

/// The one partition of the `due` index. Every in-flight log is in it for
/// seconds, so it takes about three index writes per message: far below a
/// partition's 1,000 writes a second at any provider's sending rate.
pub const DUE_SHARD: &str = "DUE";

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
        self.put_log_with(log, Vec::new()).await.map(|_| ())
    }

    /// Puts a new log; `with` (other writes of the sms table, like the
    /// verification code the message carries or the marker that makes a
    /// notice once-only) commit with it or not at all. Returns false, with
    /// nothing written, when one of `with` finds its condition false.
    /// An in-flight log must say when it is due, and joins the `due` index.
    pub async fn put_log_with(&self, log: &SmsLog, with: Vec<Put>) -> Result<bool, Error> {
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
        if with.is_empty() {
            return match db::put_new(&self.client, &self.table, item).await? {
                true => Ok(true),
                false => Err(Error::internal("an SMS log with this id exists")),
            };
        }
        let mut tx = Transaction::new();
        tx.put_new(&self.table, item);
        let others: Vec<_> = with.into_iter().map(|put| tx.put(put)).collect();
        match tx.commit(&self.client, &mut Cost::default()).await {
            Ok(()) => Ok(true),
            Err(f) if others.iter().any(|h| f.condition_failed(*h)) => Ok(false),
            Err(f) => Err(f.into_error()),
        }
    }

    /// The marker of a message sent at most once (`once_key`), if any.
    pub async fn once_seen(&self, once: &str) -> Result<bool, Error> {
        let found: Option<serde_json::Value> =
            db::get_item(&self.client, &self.table, once_key(once)).await?;
        Ok(found.is_some())
    }

    /// The write that makes `once` taken by `sms_id`: it fails if another
    /// message took it first. Kept as long as the logs.
    pub(crate) fn once_put(&self, once: &str, sms_id: &str, now_ms: i64) -> Put {
        let mut item = once_key(once);
        item.insert("sms_id".into(), s(sms_id));
        item.insert("expires_at".into(), n(now_ms / 1000 + LOG_RETENTION_SECS));
        db::new_item_put(&self.table, item)
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
        let done = |update: UpdateExpr, status: &str| {
            update
                .set("status", s(status))
                .remove("due_shard")
                .remove("due_at")
        };
        let update = match outcome {
            Finish::Sent {
                provider,
                provider_message_id,
            } => done(UpdateExpr::new(), "sent")
                .set("provider", s(provider))
                .set("provider_message_id", s(provider_message_id))
                .set("sent_at", n(now_ms)),
            Finish::Failed { provider, error } => done(UpdateExpr::new(), "failed")
                .set("provider", s(provider))
                .set("error", s(error)),
            Finish::Suppressed { reason } => done(UpdateExpr::new(), "suppressed")
                .set("reason", serde_dynamo::to_attribute_value(reason)?),
            // The attempt took the number's gap and the caps before the
            // provider call: the next attempt neither waits on the first nor
            // counts again.
            Finish::Retry { error, due_at } => UpdateExpr::new()
                .set("status", s("pending"))
                .set("error", s(error))
                .set("due_at", n(due_at))
                .set("gap_at", n(now_ms))
                .remove("caps_pending"),
            // Held back, not tried: the claim's attempt is given back.
            Finish::Deferred { due_at, caps_taken } => {
                let update = UpdateExpr::new()
                    .set("status", s("deferred"))
                    .set("due_at", n(due_at))
                    .add("attempts", n(-1));
                if caps_taken {
                    update.remove("caps_pending")
                } else {
                    update
                }
            }
        };
        let update = update
            .condition("#status = :sending")
            .value(":sending", s("sending"))
            .apply(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(log_key(id))),
            );
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
            .map(|(pk, due)| (log_id_of_pk(pk).to_string(), due))
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
        let id = log_id_of_pk(pk).to_string();
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
            db::get_item(&self.client, &self.table, optout_key(phone.e164())).await?;
        Ok(found.is_some())
    }

    /// F-SMS-11: STOP and its synonyms.
    pub async fn opt_out(
        &self,
        phone: &PhoneNumber,
        keyword: &str,
        now_ms: i64,
    ) -> Result<(), Error> {
        let mut item = optout_key(phone.e164());
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
            .set_key(Some(optout_key(phone.e164())))
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(())
    }
}

fn not_sending(id: &str) -> Error {
    Error::conflict("not_sending", format!("SMS {id} is no longer being sent"))
}
