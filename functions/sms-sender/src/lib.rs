//! sms-sender: takes SMS log ids from the SMS queue and sends them (F-SMS-3,
//! F-SMS-4, F-SMS-26).
//!
//! A log is claimed under a lease (pending → sending, one winner) before the
//! provider is called, so a redelivered message never sends twice while its
//! sender lives; a sender that dies after its claim leaves a lease that runs
//! out, and the log is taken again. Each provider call has a time budget, and
//! two of them (first provider, fallback) fit in the function's timeout.
//! A transient failure (timeout, 5xx, throttling) moves the message to the
//! fallback provider for good (F-SMS-26), else puts the log back to pending
//! and reports the record as a batch item failure: SQS delivers it again after
//! a backoff, and after the queue's receive limit into the dead-letter queue,
//! by which time the log is failed. A permanent failure (4xx, invalid number)
//! fails the log at once, under the name of the provider that answered. The
//! opt-out list is checked again after the claim: a STOP that arrived while
//! the message waited still stops it (F-SMS-11).
//!
//! The policy holds at send time too (F-SMS-12, F-SMS-14): right before the
//! provider call the sender checks quiet hours in the recipient's zones, the
//! recipient's hourly and daily caps (for a text deferred overnight: counted
//! when it leaves) and the number's 30 s gap. A text that would break quiet
//! hours or the gap is deferred to the first instant it would not (08:00
//! local; the last text + 30 s), never refused for it; one whose deferral
//! would pass its `send_by` is refused. Texts released together so leave
//! the gap apart, not in a burst.
//!
//! Every minute a schedule (`{"job":"reconcile_sms"}`) reads the in-flight
//! logs that are due (the sparse `due` index, never a scan) and queues them
//! again: deferred messages whose quiet hours ended (F-JOB-5), pending ones
//! the queue never got (the log is written before the queue is told), and
//! claimed ones whose lease ran out. A log out of attempts is failed instead.

mod reconcile;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use versus::lambda::{self, BoxError, Invoke, QueueOrJob, RecordOutcome};
use versus::sms::log::SmsLog;
use versus::sms::outbox::{gap_scope, recipient_caps, Outbox, SendMessage, GAP_SECS};
use versus::sms::policy::{self, Reason};
use versus::sms::providers::{self, Outgoing, Router, SendError};
use versus::sms::report;
use versus::sms::store::{Finish, SmsStore, Status};
use versus::{db, Config, Error};

/// Equal to the queue's `maxReceiveCount` in template.yaml: the last receive
/// marks the log failed, and SQS then parks the message in the DLQ.
pub const MAX_ATTEMPTS: u32 = 5;

pub struct App {
    store: SmsStore,
    outbox: Outbox,
    router: Router,
    sqs: aws_sdk_sqs::Client,
    queue_url: Option<String>,
    retry_base_secs: i64,
    send_budget: std::time::Duration,
    lease_ms: i64,
    requeue_ms: i64,
}

/// The schedule's input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "job", rename_all = "snake_case")]
pub enum Job {
    ReconcileSms,
}

/// SQS's longest message delay: a longer deferral is the reconciler's.
const MAX_QUEUE_DELAY_SECS: i64 = 900;

/// F-SMS-4: how long a message waits after its `attempt`-th transient
/// failure: base × 2^(attempt − 1), at most SQS's 900 s visibility change.
pub fn backoff_secs(base_secs: i64, attempt: u32) -> i32 {
    (base_secs << attempt.saturating_sub(1).min(10)).min(900) as i32
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    // The providers' secrets come from Secrets Manager, read once here.
    let config = &config.clone().with_secrets(&sdk).await?;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.sms).await;
    let router = providers::router(
        &config.sms,
        providers::Clients {
            sdk: &sdk,
            dynamodb: client.clone(),
            table: &config.tables.sms,
        },
    )?;
    let store = SmsStore::new(client, &config.tables.sms);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let app = Arc::new(App {
        outbox: Outbox::new(store.clone(), sqs.clone(), config.sms.clone()),
        store,
        router,
        sqs,
        queue_url: config.sms.queue_url.clone(),
        retry_base_secs: config.sms.retry_base_secs,
        send_budget: std::time::Duration::from_secs(config.sms.send_budget_secs),
        lease_ms: config.sms.lease_secs * 1000,
        requeue_ms: config.sms.requeue_after_secs * 1000,
    });
    Ok(lambda::typed(
        move |event: QueueOrJob<Job>, _: lambda::Context| {
            let app = app.clone();
            async move { app.dispatch(event, versus::now_ms()).await }
        },
    ))
}

/// What became of one record.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Not pending: already sent, being sent elsewhere, or final.
    Skipped,
    Failed,
    /// To be delivered again (transient failure).
    Retry,
    /// Held back by quiet hours or the gap: due again later.
    Deferred,
}

impl App {
    /// An SQS batch, or the release schedule.
    pub async fn dispatch(&self, event: QueueOrJob<Job>, now_ms: i64) -> Result<Value, BoxError> {
        match event {
            QueueOrJob::Queue(batch) => Ok(serde_json::to_value(self.handle(batch, now_ms).await)?),
            QueueOrJob::Job(Job::ReconcileSms) => {
                let (requeued, gave_up) = self.reconcile(now_ms).await?;
                tracing::info!(requeued, gave_up, "in-flight SMS reconciled");
                Ok(json!({ "job": "reconcile_sms", "requeued": requeued, "gave_up": gave_up }))
            }
        }
    }

    pub async fn handle(&self, event: SqsEvent, now_ms: i64) -> SqsBatchResponse {
        lambda::partial_batch(&event.records, true, |record| async move {
            Ok(match self.send(record, now_ms).await? {
                Outcome::Retry => RecordOutcome::Retry,
                _ => RecordOutcome::Done,
            })
        })
        .await
    }

    #[tracing::instrument(name = "sms_send", skip_all, fields(message_id = ?record.message_id))]
    pub async fn send(&self, record: &SqsMessage, now_ms: i64) -> Result<Outcome, Error> {
        let Ok(message) = serde_json::from_str::<SendMessage>(record.body.as_deref().unwrap_or(""))
        else {
            tracing::error!(message_id = ?record.message_id, "unreadable SMS message dropped");
            return Ok(Outcome::Skipped);
        };
        let Some(log) = self
            .store
            .claim(&message.sms_id, now_ms, self.lease_ms)
            .await?
        else {
            return Ok(Outcome::Skipped);
        };
        // A STOP that came while the text waited.
        if versus::sms::optouts::is_opted_out(&self.store, &log.to).await? {
            return self.refuse(&log, Reason::OptedOut, now_ms).await;
        }
        // Retries that ran past the text's use (a code's or link's expiry, a
        // deadline) end here: it is refused, and its secret masked.
        if log.send_by.is_some_and(|by| now_ms >= by) {
            return self.refuse(&log, Reason::Expired, now_ms).await;
        }
        if let Some(held) = self.hold(&log, now_ms).await? {
            return Ok(held);
        }
        let outgoing = Outgoing {
            sms_id: &log.sms_id,
            to: &log.to,
            body: &log.body,
            message_type: log.message_type,
        };
        let primary = self.router.primary_for(&log.to);
        let fallback = self.router.fallback_for(&log.to);
        // F-SMS-26: a message that went to the fallback stays there.
        let (provider, result) = match (&fallback, log.on_fallback) {
            (Some(fallback), true) => (fallback.name(), self.call(fallback, &outgoing).await),
            _ => {
                let first = self.call(&primary, &outgoing).await;
                match (first, &fallback) {
                    (Err(SendError::Transient(error)), Some(fallback)) => {
                        tracing::warn!(sms_id = %log.sms_id, provider = primary.name(), %error, "transient failure, moving to the fallback");
                        self.store
                            .move_to_fallback(&log.sms_id, fallback.name(), now_ms)
                            .await?;
                        (fallback.name(), self.call(fallback, &outgoing).await)
                    }
                    (first, _) => (primary.name(), first),
                }
            }
        };
        match result {
            Ok(provider_message_id) => {
                self.store
                    .finish(
                        &log.sms_id,
                        Finish::Sent {
                            provider,
                            provider_message_id: &provider_message_id,
                        },
                        now_ms,
                    )
                    .await?;
                // The message went out: a failure to count it must not resend it.
                if let Err(e) =
                    versus::sms::limits::record_cost(&self.store, &log, provider, now_ms).await
                {
                    e.log();
                }
                Ok(Outcome::Sent)
            }
            Err(SendError::Transient(error)) if log.attempts < MAX_ATTEMPTS => {
                let wait = backoff_secs(self.retry_base_secs, log.attempts);
                let due_at = now_ms + i64::from(wait) * 1000 + self.requeue_ms;
                self.store
                    .finish(
                        &log.sms_id,
                        Finish::Retry {
                            error: &error,
                            due_at,
                        },
                        now_ms,
                    )
                    .await?;
                self.delay_redelivery(record, wait).await;
                Ok(Outcome::Retry)
            }
            Err(SendError::Permanent(error)) => {
                self.fail(&log, provider, &error, now_ms).await?;
                Ok(Outcome::Failed)
            }
            // The last attempt: the log fails, and the record is still reported
            // so that SQS moves the message to the dead-letter queue.
            Err(SendError::Transient(error)) => {
                self.fail(&log, provider, &error, now_ms).await?;
                // Nothing left to wait for: straight on to the dead-letter queue.
                self.delay_redelivery(record, 0).await;
                Ok(Outcome::Retry)
            }
        }
    }

    /// The policy at send time (see the module docs): `Some` when the text
    /// does not go now (deferred, or refused for good).
    async fn hold(&self, log: &SmsLog, now_ms: i64) -> Result<Option<Outcome>, Error> {
        let zones: Vec<&str> = log.zones.iter().map(String::as_str).collect();
        if !zones.is_empty() {
            if let Some(until) = policy::quiet_hours_until(log.message_type, &zones, now_ms) {
                return self.defer(log, until, false, now_ms).await.map(Some);
            }
        }
        let caps_taken = log.caps_pending;
        if let (true, Some(user)) = (caps_taken, &log.user_id) {
            if let Err(reason) =
                versus::sms::limits::take(&self.store, &recipient_caps(user), now_ms).await?
            {
                return self.refuse(log, reason, now_ms).await.map(Some);
            }
        }
        let gap = versus::sms::limits::take_gap(
            &self.store,
            &gap_scope(&log.to),
            GAP_SECS,
            log.gap_at,
            now_ms,
        )
        .await?;
        match gap {
            Ok(()) => Ok(None),
            Err(last) => self
                .defer(log, last + GAP_SECS * 1000, caps_taken, now_ms)
                .await
                .map(Some),
        }
    }

    /// Defers the claimed text to `until`, or refuses it when that is past
    /// its `send_by`. A short wait comes back by a delayed queue message; a
    /// long one (quiet hours) by the reconciler.
    async fn defer(
        &self,
        log: &SmsLog,
        until: i64,
        caps_taken: bool,
        now_ms: i64,
    ) -> Result<Outcome, Error> {
        if log.send_by.is_some_and(|by| until > by) {
            return self
                .refuse(log, Reason::TooLateAfterQuietHours, now_ms)
                .await;
        }
        self.store
            .finish(
                &log.sms_id,
                Finish::Deferred {
                    due_at: until,
                    caps_taken,
                },
                now_ms,
            )
            .await?;
        tracing::info!(sms_id = %log.sms_id, to = %log.to, until = %versus::rfc3339(until), "SMS deferred at send time");
        // Rounded up: a message received before its time is not claimed.
        let wait_secs = (until - now_ms + 999) / 1000;
        if wait_secs <= MAX_QUEUE_DELAY_SECS {
            if let Err(e) = self.outbox.queue_in(&log.sms_id, wait_secs as i32).await {
                tracing::warn!(sms_id = %log.sms_id, error = %e, "could not queue; the reconciler releases it");
            }
        }
        Ok(Outcome::Deferred)
    }

    async fn refuse(&self, log: &SmsLog, reason: Reason, now_ms: i64) -> Result<Outcome, Error> {
        self.store
            .finish(&log.sms_id, Finish::Suppressed { reason }, now_ms)
            .await?;
        report::emit_outcome(log.message_type, Status::Suppressed, now_ms);
        tracing::info!(sms_id = %log.sms_id, to = %log.to, ?reason, "SMS refused at send time");
        Ok(Outcome::Skipped)
    }

    /// One provider call within the send budget; running out of it is a
    /// transient failure like a provider timeout.
    /// A provider's error text may echo the number: it is masked before it
    /// reaches a log line or the log record.
    async fn call(
        &self,
        provider: &std::sync::Arc<dyn versus::sms::providers::Provider>,
        outgoing: &Outgoing<'_>,
    ) -> Result<String, SendError> {
        match tokio::time::timeout(self.send_budget, provider.send(outgoing)).await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(SendError::Transient(e))) => {
                Err(SendError::Transient(outgoing.to.redact_in(&e)))
            }
            Ok(Err(SendError::Permanent(e))) => {
                Err(SendError::Permanent(outgoing.to.redact_in(&e)))
            }
            Err(_) => Err(SendError::Transient(format!(
                "{}: no answer within {} s",
                provider.name(),
                self.send_budget.as_secs()
            ))),
        }
    }

    /// Sets when the message is received again (the backoff); without it, it
    /// comes back after the queue's visibility timeout.
    async fn delay_redelivery(&self, record: &SqsMessage, secs: i32) {
        let (Some(queue_url), Some(receipt)) = (&self.queue_url, &record.receipt_handle) else {
            return;
        };
        if let Err(e) = self
            .sqs
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(secs)
            .send()
            .await
        {
            tracing::warn!(error = %db::DisplayErrorContext(&e), "could not back the retry off");
        }
    }

    async fn fail(
        &self,
        log: &SmsLog,
        provider: &str,
        error: &str,
        now_ms: i64,
    ) -> Result<(), Error> {
        let sms_id = log.sms_id.as_str();
        tracing::warn!(sms_id, provider, error, "SMS failed");
        report::emit_outcome(log.message_type, Status::Failed, now_ms);
        self.store
            .finish(sms_id, Finish::Failed { provider, error }, now_ms)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_doubles_up_to_the_sqs_bound() {
        assert_eq!(backoff_secs(30, 1), 30);
        assert_eq!(backoff_secs(30, 2), 60);
        assert_eq!(backoff_secs(30, 4), 240);
        assert_eq!(backoff_secs(30, 9), 900);
        assert_eq!(backoff_secs(0, 3), 0);
        assert_eq!(backoff_secs(900, 40), 900);
    }
}
