//! The one way to send an SMS (F-SMS-3). `prepare` reads what the policy
//! needs and decides (pending, deferred, or suppressed with its reason);
//! `commit` writes the SmsLog, its limit counters and the caller's own
//! writes (a verification code, an invitation and its token, a private
//! code) in one transaction, then puts a pending log's id on the SMS queue.
//! A limit that refuses, or a commit that fails, leaves none of them: no
//! counter spent, no code, no token. `enqueue` is both steps for a text
//! with nothing of its own to write. The caller never waits on a provider,
//! and a refused send is a record, not an error.

pub use super::caps::{gap_scope, limits_for, recipient_caps, GAP_SECS};
use super::limits::Limit;
use super::policy::{self, Reason, Recipient};
pub use super::request::SmsRequest;
use super::spend;
use super::store::{SmsLog, SmsStore, Status};
use super::{finish_body, MessageType};
use crate::config::SmsConfig;
use crate::db::{self, retry, Cost, Handle, Transaction, TxError};
use crate::error::Error;
use serde::{Deserialize, Serialize};

/// The SQS message `sms-sender` receives.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub sms_id: String,
}

#[derive(Clone)]
pub struct Outbox {
    store: SmsStore,
    sqs: aws_sdk_sqs::Client,
    config: SmsConfig,
    recent_spend: spend::RecentSum,
}

/// What a secret becomes in a stored body: a code keeps its length (the
/// reader sees a code was there), a long token becomes four stars.
fn mask(secret: &str) -> String {
    let len = secret.chars().count();
    "*".repeat(if len <= 8 { len } else { 4 })
}

/// A text decided, nothing written yet: the log as it will be stored
/// (pending, deferred, or suppressed with its reason) and the counters its
/// commit moves.
pub struct Prepared {
    log: SmsLog,
    limits: Vec<Limit>,
    once: Option<String>,
}

impl Prepared {
    pub fn log(&self) -> &SmsLog {
        &self.log
    }

    /// The log as it will be written (an operator's resend names the text
    /// it sends again).
    pub fn log_mut(&mut self) -> &mut SmsLog {
        &mut self.log
    }
}

/// What a commit did.
#[derive(Debug)]
pub enum Committed {
    /// The log is written with everything that goes with it: pending,
    /// deferred, or suppressed with its reason (then only the log and its
    /// once-key are: nothing of the caller's).
    Logged(Box<SmsLog>),
    /// The once-key was taken already: nothing written.
    Repeat,
    /// One of the caller's own writes found its condition false: nothing
    /// written. Ask the error which, by the caller's handles.
    Declined(TxError),
}

/// Attempts at a commit that conflicts with concurrent ones on a counter.
const COMMIT_ATTEMPTS: u32 = 5;

impl Outbox {
    pub fn new(store: SmsStore, sqs: aws_sdk_sqs::Client, config: SmsConfig) -> Self {
        Outbox {
            store,
            sqs,
            config,
            recent_spend: spend::RecentSum::default(),
        }
    }

    pub fn store(&self) -> &SmsStore {
        &self.store
    }

    /// Prepares and commits a text with nothing of its own to write.
    pub async fn enqueue(&self, request: SmsRequest, now_ms: i64) -> Result<SmsLog, Error> {
        let prepared = self.prepare(request, None, now_ms).await?;
        match self.commit(prepared, Transaction::new(), now_ms).await? {
            Committed::Logged(log) => Ok(*log),
            _ => Err(Error::internal(
                "a message without a once-key was taken as a repeat",
            )),
        }
    }

    /// Like `enqueue`, for a message that goes at most once per `once` (one
    /// match_found per battle and player): `None` when a message with this
    /// key was already let through or refused, so a replay sends nothing and
    /// records nothing. The key is written with the log and its counters, so
    /// of two racing replays only one counts.
    pub async fn enqueue_once(
        &self,
        request: SmsRequest,
        once: &str,
        now_ms: i64,
    ) -> Result<Option<SmsLog>, Error> {
        if self.store.once_seen(once).await? {
            return Ok(None);
        }
        let prepared = self.prepare(request, Some(once), now_ms).await?;
        match self.commit(prepared, Transaction::new(), now_ms).await? {
            Committed::Logged(log) => Ok(Some(*log)),
            Committed::Repeat => Ok(None),
            Committed::Declined(f) => Err(f.into_error()),
        }
    }

    /// Reads what the policy needs and decides; writes nothing.
    #[tracing::instrument(name = "sms_prepare", skip_all, fields(message_type = ?request.message_type))]
    pub async fn prepare(
        &self,
        mut request: SmsRequest,
        once: Option<&str>,
        now_ms: i64,
    ) -> Result<Prepared, Error> {
        let body = finish_body(request.message_type, &request.body);
        let redacted = request
            .secret
            .as_deref()
            .filter(|secret| !secret.is_empty())
            .map(|secret| body.replace(secret, &mask(secret)));
        let mut log = SmsLog::pending(
            request.to.clone(),
            request.message_type,
            body,
            request.user_id.clone(),
            &self.config,
            now_ms,
        );
        log.redacted_body = redacted;
        log.related = request.related.clone();
        let opted_out = crate::sms::optouts::is_opted_out(&self.store, &request.to).await?;
        let zones = policy::recipient_zones(request.timezone.as_deref(), &request.to);
        let recipient = Recipient {
            phone: &request.to,
            opted_out,
            verified: request.verified,
            preferences: request.preferences.as_ref(),
            has_account: request.user_id.is_some(),
        };
        let quiet_until = policy::quiet_hours_until(request.message_type, &zones, now_ms);
        let verdict = match policy::check(
            request.message_type,
            &recipient,
            &self.config.allowed_regions,
        ) {
            Err(reason) => Err(reason),
            // F-SMS-14 meets a deadline: held until 08:00 it would arrive late.
            Ok(())
                if quiet_until
                    .zip(request.send_by)
                    .is_some_and(|(u, by)| u > by) =>
            {
                Err(Reason::TooLateAfterQuietHours)
            }
            Ok(()) => Ok(()),
        };
        // What the sender checks again right before the provider call.
        if request.message_type.category() == super::Category::Promotional {
            log.zones = zones.iter().map(|z| z.to_string()).collect();
        }
        log.send_by = request.send_by;
        log.caps_pending = quiet_until.is_some() && request.user_id.is_some();
        if request.message_type == MessageType::PhoneVerification {
            log.gap_at = Some(now_ms);
        }
        log.history.push(super::log::Step::new(
            now_ms,
            super::log::StepKind::Created,
            None,
        ));
        let mut limits = Vec::new();
        match verdict {
            Err(reason) => log.refuse(reason),
            Ok(()) => {
                // The request's own limits first: when several refuse, the
                // first is reported, and "invited this week" says more than
                // "texted a moment ago".
                limits = std::mem::take(&mut request.extra_limits);
                let month = crate::clock::utc_date(now_ms).format("%Y-%m").to_string();
                let cap = (request.message_type.category() == super::Category::Promotional)
                    .then_some(self.config.monthly_cap_micros);
                let spend = spend::reservation(
                    &self.store,
                    &self.recent_spend,
                    &month,
                    &log.sms_id,
                    log.cost_micros,
                    cap,
                    now_ms,
                )
                .await?;
                limits.extend(limits_for(
                    &request,
                    log.cost_micros,
                    spend,
                    &self.config,
                    quiet_until.is_some(),
                ));
                // One text larger than its whole limit (a cap below its cost).
                if let Some(too_big) = limits.iter().find(|l| l.amount > l.limit) {
                    log.refuse(too_big.reason);
                    limits.clear();
                }
                match quiet_until {
                    _ if log.status == Status::Suppressed => {}
                    Some(until) => {
                        log.status = Status::Deferred;
                        log.due_at = Some(until);
                        log.history[0].detail =
                            Some(format!("deferred until {}", crate::clock::rfc3339(until)));
                    }
                    // Due again later: if the queue cannot take the id now,
                    // the reconciler queues it then (F-SMS-3).
                    None => log.due_at = Some(now_ms + self.config.requeue_after_secs * 1000),
                }
            }
        }
        Ok(Prepared {
            log,
            limits,
            once: once.map(str::to_string),
        })
    }

    /// Writes the prepared text and `own` (the caller's writes, any table)
    /// as one transaction: all of it, or, when a limit refuses, only the
    /// suppressed log that records why. A pending log's id is then queued;
    /// if the queue cannot take it, the reconciler does later, and the
    /// caller's request does not fail on it.
    #[tracing::instrument(name = "sms_commit", skip_all)]
    pub async fn commit(
        &self,
        prepared: Prepared,
        own: Transaction,
        now_ms: i64,
    ) -> Result<Committed, Error> {
        let Prepared {
            mut log,
            limits,
            once,
        } = prepared;
        let mut attempt = 0;
        while log.status != Status::Suppressed {
            let mut tx = own.clone();
            let own_items = tx.len();
            let once_written = self.log_writes(&mut tx, &log, once.as_deref(), now_ms)?;
            let counters: Vec<(Handle, Reason)> = limits
                .iter()
                .map(|l| (tx.update(l.update(&self.store.table, now_ms)), l.reason))
                .collect();
            let failure = match tx.commit(&self.store.client, &mut Cost::default()).await {
                Ok(()) => {
                    if log.status == Status::Pending {
                        if let Err(e) = self.queue(&log.sms_id).await {
                            tracing::warn!(sms_id = %log.sms_id, error = %e, "SMS queue unavailable; the reconciler will queue it");
                        }
                    }
                    return Ok(Committed::Logged(Box::new(log)));
                }
                Err(f) => f,
            };
            if once_written.is_some_and(|h| failure.condition_failed(h)) {
                return Ok(Committed::Repeat);
            }
            if failure.condition_failed_among(own_items) {
                return Ok(Committed::Declined(failure));
            }
            match counters.iter().find(|(h, _)| failure.condition_failed(*h)) {
                Some((_, reason)) => log.refuse(*reason),
                None if failure.is_conflict() && attempt + 1 < COMMIT_ATTEMPTS => {
                    retry::pause(attempt).await;
                    attempt += 1;
                }
                None if failure.is_conflict() => {
                    return Err(Error::TooManyRequests {
                        message: "too many concurrent sends, retry".into(),
                        retry_after_secs: 1,
                    })
                }
                None => return Err(failure.into_error()),
            }
        }
        // Refused: the record of why, and the once-key, nothing else.
        tracing::info!(sms_id = %log.sms_id, to = %log.to, reason = ?log.reason, "SMS suppressed");
        let mut tx = Transaction::new();
        let once_written = self.log_writes(&mut tx, &log, once.as_deref(), now_ms)?;
        match tx.commit(&self.store.client, &mut Cost::default()).await {
            Ok(()) => {
                super::report::emit_outcome(log.message_type, Status::Suppressed, now_ms);
                Ok(Committed::Logged(Box::new(log)))
            }
            Err(f) if once_written.is_some_and(|h| f.condition_failed(h)) => Ok(Committed::Repeat),
            Err(f) => Err(f.into_error()),
        }
    }

    /// The log, its search entries and its once-key (if any) into `tx`;
    /// the once-key's handle, to tell a repeat from another refusal.
    fn log_writes(
        &self,
        tx: &mut Transaction,
        log: &SmsLog,
        once: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<Handle>, Error> {
        tx.put_new(&self.store.table, log.item()?);
        for entry in log.search_entries() {
            tx.put_item(&self.store.table, entry);
        }
        Ok(once.map(|key| tx.put(self.store.once_put(key, &log.sms_id, now_ms))))
    }

    /// Puts a log id on the SMS queue (also how deferred logs are released).
    pub async fn queue(&self, sms_id: &str) -> Result<(), Error> {
        self.queue_in(sms_id, 0).await
    }

    /// Puts a log id on the SMS queue, to be received in `delay_secs` (at
    /// most SQS's 900): a text held back a few seconds comes back on time.
    pub async fn queue_in(&self, sms_id: &str, delay_secs: i32) -> Result<(), Error> {
        let url = self
            .config
            .queue_url
            .as_deref()
            .ok_or_else(|| Error::Config("SMS_QUEUE_URL is not set".into()))?;
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(serde_json::to_string(&SendMessage {
                sms_id: sms_id.to_string(),
            })?)
            .delay_seconds(delay_secs.clamp(0, 900))
            .send()
            .await
            .map_err(db::unavailable)?;
        Ok(())
    }

    /// Puts log ids on the SMS queue, ten to a request (how the reconciler
    /// releases due texts); answers the ids the queue did not take, which
    /// stay due and are released again later.
    pub async fn queue_many(&self, sms_ids: &[String]) -> Result<Vec<String>, Error> {
        let url = self
            .config
            .queue_url
            .as_deref()
            .ok_or_else(|| Error::Config("SMS_QUEUE_URL is not set".into()))?;
        let messages: Vec<SendMessage> = sms_ids
            .iter()
            .map(|id| SendMessage { sms_id: id.clone() })
            .collect();
        let refused = crate::sqs::send_all(&self.sqs, url, &messages).await?;
        Ok(refused.into_iter().map(|i| sms_ids[i].clone()).collect())
    }
}
