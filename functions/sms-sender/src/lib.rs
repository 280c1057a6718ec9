//! sms-sender: takes SMS log ids from the SMS queue and sends them (F-SMS-3,
//! F-SMS-4, F-SMS-26).
//!
//! A log is claimed (pending → sending, one winner) before the provider is
//! called, so a redelivered message never sends twice. A transient failure
//! (timeout, 5xx, throttling) goes to the fallback provider once, else puts
//! the log back to pending and reports the record as a batch item failure:
//! SQS delivers it again after the visibility timeout, and after the queue's
//! receive limit into the dead-letter queue, by which time the log is failed.
//! A permanent failure (4xx, invalid number) fails the log at once. The
//! opt-out list is checked again after the claim: a STOP that arrived while
//! the message waited still stops it (F-SMS-11).
//!
//! Every 5 minutes a schedule (`{"job":"release_deferred_sms"}`) releases the
//! messages quiet hours deferred, once their time has come (F-JOB-5).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use versus::lambda::{self, BoxError, Invoke};
use versus::sms::outbox::{Outbox, SendMessage};
use versus::sms::policy::Reason;
use versus::sms::providers::{self, Outgoing, Router, SendError};
use versus::sms::store::{Finish, SmsStore};
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
}

/// The schedule's input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "job", rename_all = "snake_case")]
pub enum Job {
    ReleaseDeferredSms,
}

/// One release run reads at most this many pages of due messages.
const RELEASE_PAGES: usize = 20;
const RELEASE_PAGE: i32 = 100;

/// F-SMS-4: how long a message waits after its `attempt`-th transient
/// failure: base × 2^(attempt − 1), at most SQS's 900 s visibility change.
pub fn backoff_secs(base_secs: i64, attempt: u32) -> i32 {
    (base_secs << attempt.saturating_sub(1).min(10)).min(900) as i32
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = db::aws_config().await;
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
    });
    Ok(lambda::typed(move |event: Value| {
        let app = app.clone();
        async move { app.dispatch(event, versus::now_ms()).await }
    }))
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
}

impl App {
    /// An SQS batch, or the release schedule.
    pub async fn dispatch(&self, event: Value, now_ms: i64) -> Result<Value, BoxError> {
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event)?;
            return Ok(serde_json::to_value(self.handle(batch, now_ms).await)?);
        }
        let Job::ReleaseDeferredSms = serde_json::from_value(event)
            .map_err(|e| Error::bad_request("invalid_event", format!("not a job input: {e}")))?;
        let released = self.release_due(now_ms).await?;
        tracing::info!(released, "deferred SMS released");
        Ok(json!({ "job": "release_deferred_sms", "released": released }))
    }

    /// F-JOB-5: queues the deferred messages that are due, then marks them
    /// pending. Queued first, so a crash in between strands nothing: the
    /// claim takes a due deferred log, and a second message finds it taken.
    pub async fn release_due(&self, now_ms: i64) -> Result<usize, Error> {
        let mut released = 0;
        for _ in 0..RELEASE_PAGES {
            let due = self.store.due_logs(now_ms, RELEASE_PAGE).await?;
            for id in &due {
                self.outbox.queue(id).await?;
                self.store.release(id).await?;
                released += 1;
            }
            if due.len() < RELEASE_PAGE as usize {
                break;
            }
        }
        Ok(released)
    }

    pub async fn handle(&self, event: SqsEvent, now_ms: i64) -> SqsBatchResponse {
        let work = event
            .records
            .iter()
            .map(|r| async move { (r, self.send(r, now_ms).await) });
        let mut response = SqsBatchResponse::default();
        for (record, outcome) in futures::future::join_all(work).await {
            let retry = match outcome {
                Ok(Outcome::Retry) => true,
                Ok(_) => false,
                Err(e) => {
                    e.log();
                    true
                }
            };
            if retry {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    pub async fn send(&self, record: &SqsMessage, now_ms: i64) -> Result<Outcome, Error> {
        let Ok(message) = serde_json::from_str::<SendMessage>(record.body.as_deref().unwrap_or(""))
        else {
            tracing::error!(message_id = ?record.message_id, "unreadable SMS message dropped");
            return Ok(Outcome::Skipped);
        };
        let Some(log) = self.store.claim(&message.sms_id, now_ms).await? else {
            return Ok(Outcome::Skipped);
        };
        if self.store.is_opted_out(&log.to).await? {
            let reason = Reason::OptedOut;
            self.store
                .finish(&log.sms_id, Finish::Suppressed { reason }, now_ms)
                .await?;
            tracing::info!(sms_id = %log.sms_id, to = %log.to, "opted out while queued: suppressed");
            return Ok(Outcome::Skipped);
        }
        let outgoing = Outgoing {
            sms_id: &log.sms_id,
            to: &log.to,
            body: &log.body,
            message_type: log.message_type,
        };
        let primary = self.router.primary_for(&log.to);
        let mut result = primary.send(&outgoing).await.map(|id| (primary.name(), id));
        if let Err(SendError::Transient(first)) = &result {
            if let Some(fallback) = self.router.fallback_for(&log.to) {
                tracing::warn!(sms_id = %log.sms_id, provider = primary.name(), error = %first, "transient failure, trying the fallback");
                result = fallback
                    .send(&outgoing)
                    .await
                    .map(|id| (fallback.name(), id));
            }
        }
        match result {
            Ok((provider, provider_message_id)) => {
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
                if let Err(e) = self.store.record_cost(&log, now_ms).await {
                    e.log();
                }
                Ok(Outcome::Sent)
            }
            Err(SendError::Transient(error)) if log.attempts < MAX_ATTEMPTS => {
                self.store
                    .finish(&log.sms_id, Finish::Retry { error: &error }, now_ms)
                    .await?;
                let wait = backoff_secs(self.retry_base_secs, log.attempts);
                self.delay_redelivery(record, wait).await;
                Ok(Outcome::Retry)
            }
            Err(SendError::Permanent(error)) => {
                self.fail(&log.sms_id, primary.name(), &error, now_ms)
                    .await?;
                Ok(Outcome::Failed)
            }
            // The last attempt: the log fails, and the record is still reported
            // so that SQS moves the message to the dead-letter queue.
            Err(SendError::Transient(error)) => {
                self.fail(&log.sms_id, primary.name(), &error, now_ms)
                    .await?;
                // Nothing left to wait for: straight on to the dead-letter queue.
                self.delay_redelivery(record, 0).await;
                Ok(Outcome::Retry)
            }
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
        sms_id: &str,
        provider: &str,
        error: &str,
        now_ms: i64,
    ) -> Result<(), Error> {
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
