//! `enqueue`: the one way to send an SMS (F-SMS-3). It applies the policy,
//! writes the SmsLog (pending, suppressed with its reason, or deferred) and
//! puts a pending log's id on the SMS queue. The caller never waits on a
//! provider, and a refused send is a record, not an error.

use super::limits::Limit;
use super::policy::{self, Preferences, Reason, Recipient};
use super::store::{Related, SmsLog, SmsStore, Status};
use super::{finish_body, MessageType};
use crate::config::SmsConfig;
use crate::db::DisplayErrorContext;
use crate::error::Error;
use crate::phone::PhoneNumber;
use serde::{Deserialize, Serialize};

/// What a caller asks to send.
pub struct SmsRequest {
    pub to: PhoneNumber,
    pub message_type: MessageType,
    pub body: String,
    /// The user the message is for, when there is one.
    pub user_id: Option<String>,
    /// Who caused it (battle invitations are limited per sender).
    pub sender_id: Option<String>,
    pub related: Option<Related>,
    /// The recipient's phone is verified by `user_id`.
    pub verified: bool,
    pub preferences: Option<Preferences>,
    pub timezone: Option<String>,
    /// Writes of the sms table that commit with the log only when the
    /// message is let through (a verification code exists exactly when its
    /// text is on its way; a refused request leaves the earlier code alone).
    pub with: Vec<aws_sdk_dynamodb::types::Put>,
    /// Limits of this request's own, counted with the usual ones (one
    /// invitation per number per 7 days, F-SMS-19).
    pub extra_limits: Vec<Limit>,
    /// When the text stops being worth sending (a reminder, its deadline):
    /// quiet hours that would hold it past then refuse it instead.
    pub send_by: Option<i64>,
}

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
}

/// The scope of a number's 30 s gap between texts (F-SMS-12).
pub fn gap_scope(phone: &PhoneNumber) -> String {
    format!("phone#{}", phone.e164())
}

/// The 30 s gap between texts to one number (F-SMS-12).
pub const GAP_SECS: i64 = 30;

/// The caps on what one user is sent (F-SMS-12): counted when the text
/// goes, so a text deferred overnight counts in the hour it leaves.
pub fn recipient_caps(user_id: &str) -> Vec<Limit> {
    vec![
        Limit::count(
            format!("user#{user_id}#h"),
            3600,
            10,
            Reason::UserHourlyLimit,
        ),
        Limit::count(
            format!("user#{user_id}#d"),
            86_400,
            30,
            Reason::UserDailyLimit,
        ),
    ]
}

/// The counted limits a request is subject to when it is made (F-SMS-12,
/// F-SMS-27); `deferred`: it waits for quiet hours to end, and the
/// recipient's caps are counted when it leaves instead. Every send reserves
/// its estimated cost in the month's spend counter; only promotions are
/// refused by the cap, transactional messages still go. The 30 s gap is
/// taken by the sender right before the provider call, where it defers;
/// only a code request takes it here, and is answered "try again" (a code
/// that arrived 30 s late would only confuse).
pub fn limits_for(
    request: &SmsRequest,
    cost_micros: u64,
    config: &SmsConfig,
    now_ms: i64,
    deferred: bool,
) -> Vec<Limit> {
    let phone = request.to.e164();
    let month = crate::clock::utc_date(now_ms).format("%Y-%m");
    let mut limits = vec![Limit {
        scope: format!("spend#{month}"),
        window_secs: 0,
        limit: match request.message_type.category() {
            super::Category::Promotional => config.monthly_cap_micros,
            super::Category::Transactional => UNCAPPED,
        },
        amount: cost_micros,
        reason: Reason::SpendCap,
        spacing: false,
    }];
    if let Some(user) = request.user_id.as_deref().filter(|_| !deferred) {
        limits.extend(recipient_caps(user));
    }
    match request.message_type {
        MessageType::PhoneVerification => {
            limits.push(Limit::spacing(
                gap_scope(&request.to),
                GAP_SECS,
                Reason::PhoneCooldown,
            ));
            limits.push(Limit::count(
                format!("verify#{phone}#10m"),
                600,
                3,
                Reason::VerificationPhoneLimit,
            ));
            limits.push(Limit::count(
                format!("verify#{phone}#d"),
                86_400,
                10,
                Reason::VerificationDailyLimit,
            ));
            limits.push(Limit::count(
                format!("verify#cc{}#h", request.to.country_code()),
                3600,
                config.verification_per_country_hour.into(),
                Reason::VerificationCountryLimit,
            ));
        }
        MessageType::BattleInvitation => {
            if let Some(sender) = &request.sender_id {
                limits.push(Limit::count(
                    format!("invites#{sender}#h"),
                    3600,
                    5,
                    Reason::SenderInvitationLimit,
                ));
            }
        }
        _ => {}
    }
    limits
}

/// Transactional messages count towards the month's spend but are never
/// refused by it (DynamoDB numbers hold far more than any real spend).
const UNCAPPED: u64 = i64::MAX as u64;

impl Outbox {
    pub fn new(store: SmsStore, sqs: aws_sdk_sqs::Client, config: SmsConfig) -> Self {
        Outbox { store, sqs, config }
    }

    pub fn store(&self) -> &SmsStore {
        &self.store
    }

    pub async fn enqueue(&self, request: SmsRequest, now_ms: i64) -> Result<SmsLog, Error> {
        self.send(request, None, now_ms)
            .await?
            .ok_or_else(|| Error::internal("a message without a once-key was taken as a repeat"))
    }

    /// Like `enqueue`, for a message that goes at most once per `once` (one
    /// match_found per battle and player): `None` when a message with this
    /// key was already let through or refused, so a replay sends nothing and
    /// records nothing. Two racing replays may both count against the limits;
    /// only one writes a log.
    pub async fn enqueue_once(
        &self,
        request: SmsRequest,
        once: &str,
        now_ms: i64,
    ) -> Result<Option<SmsLog>, Error> {
        if self.store.once_seen(once).await? {
            return Ok(None);
        }
        self.send(request, Some(once), now_ms).await
    }

    async fn send(
        &self,
        mut request: SmsRequest,
        once: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<SmsLog>, Error> {
        let mut log = SmsLog::pending(
            request.to.clone(),
            request.message_type,
            finish_body(request.message_type, &request.body),
            request.user_id.clone(),
            &self.config,
            now_ms,
        );
        log.related = request.related.clone();
        let opted_out = self.store.is_opted_out(&request.to).await?;
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
            Ok(()) => {
                // The request's own limits first: when several refuse, the
                // first is reported, and "invited this week" says more than
                // "texted a moment ago".
                let mut limits = std::mem::take(&mut request.extra_limits);
                limits.extend(limits_for(
                    &request,
                    log.cost_micros,
                    &self.config,
                    now_ms,
                    quiet_until.is_some(),
                ));
                self.store.take(&limits, now_ms).await?
            }
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
        let once_put = once.map(|key| self.store.once_put(key, &log.sms_id, now_ms));
        if let Err(reason) = verdict {
            log.status = Status::Suppressed;
            log.reason = Some(reason);
            tracing::info!(sms_id = %log.sms_id, to = %log.to, ?reason, "SMS suppressed");
            let written = self
                .store
                .put_log_with(&log, once_put.into_iter().collect())
                .await?;
            return Ok(written.then_some(log));
        }
        let mut with = request.with;
        with.extend(once_put);
        if let Some(until) = quiet_until {
            log.status = Status::Deferred;
            log.due_at = Some(until);
            let written = self.store.put_log_with(&log, with).await?;
            return Ok(written.then_some(log));
        }
        // The log is written first and due again later: if the queue cannot
        // take the id now, the reconciler queues it then (F-SMS-3). The
        // caller's request does not fail on it.
        log.due_at = Some(now_ms + self.config.requeue_after_secs * 1000);
        if !self.store.put_log_with(&log, with).await? {
            return Ok(None);
        }
        if let Err(e) = self.queue(&log.sms_id).await {
            tracing::warn!(sms_id = %log.sms_id, error = %e, "SMS queue unavailable; the reconciler will queue it");
        }
        Ok(Some(log))
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
            .map_err(|e| Error::Dependency(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}
