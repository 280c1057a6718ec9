//! The sms table's store: SmsLog records through their lifecycle (F-SMS-2,
//! F-SMS-4) — put, claim, finish, receipt, reconcile — and the reads by
//! key and by the `due` index. Each transition is one conditional write
//! built from `Status` (the log's shape and indexes are in `log`).
//! What else is kept in the table is done by functions that take the store,
//! in modules named for it: `optouts`, `limits` (counters and spend),
//! `receipts`, `report`, `redaction`, `search_backfill`.
use crate::db::{self, n, s, UpdateExpr};
use crate::error::Error;
use crate::keys::sms::{log_id_of_pk, log_key, once_key};

pub use super::log::{
    step, Finish, Receipt, Reconciled, Related, SmsLog, Status, Step, StepKind, Transition,
};
use super::log::{DueIndex, DUE_AT_ATTR, DUE_INDEX, DUE_SHARD_ATTR, PROVIDER_MESSAGE_ATTR};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue};
use aws_sdk_dynamodb::Client;

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

    /// Puts a new log (a test's or a bench's; the outbox commits its own
    /// with what goes with it).
    pub async fn put_log(&self, log: &SmsLog) -> Result<(), Error> {
        match db::put_new(&self.client, &self.table, log.item()?).await? {
            true => Ok(()),
            false => Err(Error::internal("an SMS log with this id exists")),
        }
    }

    /// An `UpdateItem` of the log `id` (the caller adds the expression).
    pub(crate) fn log_update(
        &self,
        id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(log_key(id)))
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
        db::new_item_put(&self.table, super::log::once_item(once, sms_id, now_ms))
    }

    pub async fn get_log(&self, id: &str) -> Result<Option<SmsLog>, Error> {
        db::get_item(&self.client, &self.table, log_key(id)).await
    }

    /// F-SMS-4: takes a log for sending, one winner, under a lease that ends
    /// at `now + lease_ms`: a pending log; a deferred one whose time has come
    /// (F-JOB-5); or one whose sender's lease ran out (it was killed, or its
    /// DynamoDB write failed after the claim). `None` when it is none of
    /// these: final, or being sent under a live lease.
    #[tracing::instrument(name = "sms_claim", skip_all, fields(sms_id = id))]
    pub async fn claim(
        &self,
        id: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<SmsLog>, Error> {
        let update = UpdateExpr::new()
            .set("claimed_at", n(now_ms))
            .set(DUE_AT_ATTR, n(now_ms + lease_ms))
            .append("history", step(now_ms, StepKind::Claimed, None)?)
            .add("attempts", n(1));
        // A deferred or leased log only once its time has come.
        let pending = Status::Pending.placeholder();
        let result = Transition::Claim
            .guard(
                update,
                Some(&format!("#status = {pending} OR #{DUE_AT_ATTR} <= :now")),
            )
            .value(":now", n(now_ms))
            .apply(self.log_update(id))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        db::conditional(result)?
            .map(|out| serde_dynamo::from_item(out.attributes.unwrap_or_default()))
            .transpose()
            .map_err(Error::from)
    }

    /// F-SMS-26: the claimed log moves to the fallback provider for good.
    pub async fn move_to_fallback(
        &self,
        id: &str,
        provider: &str,
        now_ms: i64,
    ) -> Result<(), Error> {
        let update = UpdateExpr::new()
            .set("on_fallback", AttributeValue::Bool(true))
            .set("provider", s(provider))
            .append(
                "history",
                step(now_ms, StepKind::Fallback, Some(provider.to_string()))?,
            );
        let result = Transition::Fallback
            .guard(update, None)
            .apply(self.log_update(id))
            .send()
            .await;
        db::conditional(result)?.ok_or_else(|| not_sending(id))?;
        Ok(())
    }

    /// Moves a claimed log on: sent (with the provider's id), failed, or back
    /// to pending for another attempt.
    #[tracing::instrument(name = "sms_finish", skip_all, fields(sms_id = id))]
    pub async fn finish(&self, id: &str, outcome: Finish<'_>, now_ms: i64) -> Result<(), Error> {
        // Final: nothing left to send, so the body keeps no secret.
        let done = |update: UpdateExpr| update.remove_from_due().move_from("body", "redacted_body");
        let (kind, detail) = match &outcome {
            Finish::Sent {
                provider,
                provider_message_id,
            } => (StepKind::Sent, format!("{provider}: {provider_message_id}")),
            Finish::Failed { provider, error } => {
                (StepKind::Failed, format!("{provider}: {error}"))
            }
            Finish::Suppressed { reason } => (StepKind::Suppressed, super::wire_name(reason)),
            Finish::Retry { error, .. } => (StepKind::Retry, error.to_string()),
            Finish::Deferred { due_at, .. } => (
                StepKind::Deferred,
                format!("until {}", crate::clock::rfc3339(*due_at)),
            ),
        };
        let transition = match &outcome {
            Finish::Sent { .. } => Transition::Send,
            Finish::Failed { .. } => Transition::Fail,
            Finish::Suppressed { .. } => Transition::Suppress,
            Finish::Retry { .. } => Transition::Retry,
            Finish::Deferred { .. } => Transition::Defer,
        };
        let update = match outcome {
            Finish::Sent {
                provider,
                provider_message_id,
            } => done(UpdateExpr::new())
                .set("provider", s(provider))
                .set(PROVIDER_MESSAGE_ATTR, s(provider_message_id))
                .set("sent_at", n(now_ms)),
            Finish::Failed { provider, error } => done(UpdateExpr::new())
                .set("provider", s(provider))
                .set("error", s(error)),
            Finish::Suppressed { reason } => {
                done(UpdateExpr::new()).set("reason", serde_dynamo::to_attribute_value(reason)?)
            }
            // The attempt took the number's gap and the caps before the
            // provider call: the next attempt neither waits on the first nor
            // counts again.
            Finish::Retry { error, due_at } => UpdateExpr::new()
                .set("error", s(error))
                .set(DUE_AT_ATTR, n(due_at))
                .set("gap_at", n(now_ms))
                .remove("caps_pending"),
            // Held back, not tried: the claim's attempt is given back.
            Finish::Deferred { due_at, caps_taken } => {
                let update = UpdateExpr::new()
                    .set(DUE_AT_ATTR, n(due_at))
                    .add("attempts", n(-1));
                if caps_taken {
                    update.remove("caps_pending")
                } else {
                    update
                }
            }
        };
        let update = update.append("history", step(now_ms, kind, Some(detail))?);
        let update = transition
            .guard(update, None)
            .apply(self.log_update(id))
            .return_values(ReturnValue::AllNew);
        let written = db::conditional(update.send().await)?.ok_or_else(|| not_sending(id))?;
        // A receipt that came while the provider call was being recorded.
        let early = written
            .attributes
            .as_ref()
            .filter(|item| db::get_s(item, "status") == Some(Status::Sent.as_str()))
            .and_then(|item| item.get("early_receipt"))
            .map(|value| serde_dynamo::from_attribute_value::<_, Receipt>(value.clone()))
            .transpose()?;
        // Best effort: the send is recorded; a receipt that cannot be applied
        // now stays on the log rather than failing the send (its cost must
        // still be counted).
        if let Some(receipt) = early {
            if let Err(e) = self.apply_receipt(id, &receipt).await {
                tracing::warn!(sms_id = id, error = %e, "an early delivery receipt was not applied");
            }
        }
        Ok(())
    }

    /// Applies a receipt to a `sent` log; `false` when the log is not sent.
    pub(crate) async fn apply_receipt(&self, id: &str, receipt: &Receipt) -> Result<bool, Error> {
        let (transition, update) = match &receipt.error {
            None => (
                Transition::Deliver,
                UpdateExpr::new()
                    .set("delivered_at", n(receipt.at))
                    .append("history", step(receipt.at, StepKind::Delivered, None)?),
            ),
            Some(error) => (
                Transition::FailByReceipt,
                UpdateExpr::new().set("error", s(error)).append(
                    "history",
                    step(
                        receipt.at,
                        StepKind::Failed,
                        Some(format!("receipt: {error}")),
                    )?,
                ),
            ),
        };
        let update = transition
            .guard(update.remove("early_receipt"), None)
            .apply(self.log_update(id));
        Ok(db::conditional(update.send().await)?.is_some())
    }

    /// In-flight logs of one `due` partition (see `log::due_partitions`)
    /// due by `now_ms`, oldest first, at most `limit`: ids with the due time
    /// they were seen with.
    pub async fn due_logs(
        &self,
        partition: &str,
        now_ms: i64,
        limit: i32,
    ) -> Result<Vec<(String, i64)>, Error> {
        let found = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("#shard = :shard AND #due <= :now")
            .expression_attribute_names("#shard", DUE_SHARD_ATTR)
            .expression_attribute_names("#due", DUE_AT_ATTR)
            .expression_attribute_values(":shard", s(partition))
            .expression_attribute_values(":now", n(now_ms))
            .limit(limit)
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(found
            .items()
            .iter()
            .filter_map(|i| Some((db::get_s(i, "pk")?, db::get_n(i, DUE_AT_ATTR)?)))
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
        // Only a log still in flight and due when it was seen moves.
        let in_flight = |transition: Transition, update: UpdateExpr, attempts: &str| {
            transition
                .guard(
                    update,
                    Some(&format!(
                        "#{DUE_AT_ATTR} = :seen AND #attempts {attempts} :max"
                    )),
                )
                .named(DUE_AT_ATTR)
                .named("attempts")
                .value(":seen", n(seen_due))
                .value(":max", n(max_attempts))
                .apply(self.log_update(id))
                .send()
        };
        let requeue = UpdateExpr::new()
            .set(DUE_AT_ATTR, n(now_ms + requeue_ms))
            .append("history", step(now_ms, StepKind::Requeued, None)?);
        if db::conditional(in_flight(Transition::Requeue, requeue, "<").await)?.is_some() {
            return Ok(Some(Reconciled::Requeued));
        }
        let gave_up = format!("gave up after {max_attempts} attempts");
        let give_up = UpdateExpr::new()
            .set("error", s(&gave_up))
            .move_from("body", "redacted_body")
            .append("history", step(now_ms, StepKind::Failed, Some(gave_up))?)
            .remove_from_due();
        let failed = in_flight(Transition::GiveUp, give_up, ">=").await;
        Ok(db::conditional(failed)?.map(|_| Reconciled::GaveUp))
    }
}

fn not_sending(id: &str) -> Error {
    Error::conflict("not_sending", format!("SMS {id} is no longer being sent"))
}
