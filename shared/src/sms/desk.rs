//! The operator's desk (F-SMS-2, F-SMS-11, F-ID-2): find any text and why it
//! went or did not, read its timeline, manage the opt-out list, cancel a
//! deferred text and send a failed one again. Admins only (the adapter
//! checks the role); every change names the admin who made it.
//!
//! Searches never scan: each log is written with search entries (by number,
//! by user, by type on its UTC day, `keys::sms::SearchFacet`), read newest
//! first with signed cursors, then the logs themselves in one batch.

use super::log::{DueIndex, SmsLog, Status, StepKind, Transition};
use super::optouts::{OptAction, OptChange, OptOut};
use super::outbox::{Committed, Outbox};
use super::policy::Reason;
pub use super::search::{Search, MAX_PAGE, MAX_TYPE_DAYS};
use super::store::step;
use super::MessageType;
use crate::clock::rfc3339;
use crate::cursor::Cursors;
use crate::db::{self, Transaction, UpdateExpr};
use crate::error::Error;
use crate::keys::sms::{log_key, search_sk};
use crate::phone::PhoneNumber;
use crate::profile::Profiles;
use crate::texts::player::{request_for, Notice};
use aws_sdk_dynamodb::types::ReturnValue;
use serde::Deserialize;
use serde_json::{json, Value};

/// A page of a search. A page may hold fewer texts than asked for (the
/// status narrows after the read); `next_cursor` says whether more follow.
pub struct Page {
    pub texts: Vec<SmsLog>,
    pub next_cursor: Option<String>,
}

#[derive(Clone)]
pub struct Desk {
    outbox: Outbox,
    profiles: Profiles,
    cursors: Cursors,
}

/// `POST /v1/admin/opt-outs` and `.../remove` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutInput {
    pub number: String,
    pub reason: String,
}

impl Desk {
    pub fn new(outbox: Outbox, profiles: Profiles, cursors: Cursors) -> Self {
        Desk {
            outbox,
            profiles,
            cursors,
        }
    }

    /// Texts that match `search`, newest first.
    pub async fn search(
        &self,
        search: &Search,
        limit: i32,
        cursor: Option<&str>,
        admin: &str,
    ) -> Result<Page, Error> {
        let groups = search.partitions()?;
        let listing = search.listing();
        let (low, high) = (search_sk(search.from_ms, ""), search_sk(search.to_ms, "~"));
        // Where the page starts: a group (by its first partition) and the
        // sort key it continues below (exclusive).
        let mut position = 0;
        let mut below = high.clone();
        if let Some(cursor) = cursor {
            let item = self
                .cursors
                .open(&listing, admin, cursor, &["pk", "sk"])
                .await?;
            let pk = db::get_s(&item, "pk").unwrap_or_default();
            position = groups.iter().position(|g| g[0] == pk).ok_or_else(|| {
                Error::bad_request("invalid_cursor", "the cursor belongs to another search")
            })?;
            below = db::get_s(&item, "sk").unwrap_or_default().to_string();
        }
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let (mut ids, mut next) = (Vec::new(), None);
        while position < groups.len() {
            let need = limit - ids.len();
            let group = &groups[position];
            let reads = group.iter().map(|pk| {
                super::search::newest_below(self.outbox.store(), pk, &low, &below, need + 1)
            });
            let mut entries: Vec<(String, String)> = Vec::new();
            for read in futures::future::join_all(reads).await {
                entries.extend(read?);
            }
            entries.sort_by(|a, b| b.0.cmp(&a.0));
            if entries.len() > need {
                entries.truncate(need);
                let last = entries.last().map(|(sk, _)| sk.clone()).unwrap_or_default();
                next = Some(db::key(group[0].clone(), last));
                ids.extend(entries.into_iter().map(|(_, id)| id));
                break;
            }
            ids.extend(entries.into_iter().map(|(_, id)| id));
            position += 1;
            below = high.clone();
            if ids.len() >= limit {
                // The next group, from its newest entry in range.
                if let Some(group) = groups.get(position) {
                    next = Some(db::key(group[0].clone(), high.clone()));
                }
                break;
            }
        }
        let mut texts = Vec::new();
        for chunk in ids.chunks(100) {
            let keys = chunk.iter().map(|id| log_key(id)).collect();
            let found = db::batch_get(
                &self.outbox.store().client,
                &self.outbox.store().table,
                keys,
            )
            .await?;
            let mut logs: std::collections::HashMap<String, SmsLog> = found
                .into_iter()
                .filter_map(|item| serde_dynamo::from_item::<_, SmsLog>(item).ok())
                .map(|log| (log.sms_id.clone(), log))
                .collect();
            texts.extend(chunk.iter().filter_map(|id| logs.remove(id)));
        }
        texts.retain(|log| search.keeps(log));
        let next_cursor = match next {
            Some(last) => Some(self.cursors.seal(&listing, admin, &last).await?),
            None => None,
        };
        Ok(Page { texts, next_cursor })
    }

    pub async fn text(&self, id: &str) -> Result<SmsLog, Error> {
        crate::ids::validate_id(id, "sms_not_found")?;
        self.outbox.store().get_log(id).await?.ok_or_else(no_text)
    }

    /// The text, if it is `wanted` (else 409 `code`: only such a text can be `done`).
    async fn text_that_is(
        &self,
        id: &str,
        wanted: Status,
        code: &'static str,
        done: &str,
    ) -> Result<SmsLog, Error> {
        let log = self.text(id).await?;
        if log.status != wanted {
            return Err(Error::conflict(
                code,
                format!(
                    "only a {} text can be {done}; this one is {}",
                    wanted.as_str(),
                    log.status.as_str()
                ),
            ));
        }
        Ok(log)
    }

    /// Cancels a deferred text: it is never sent (suppressed
    /// `cancelled_by_operator`, its secret masked).
    pub async fn cancel(&self, id: &str, admin: &str, now_ms: i64) -> Result<SmsLog, Error> {
        self.text_that_is(id, Status::Deferred, "not_deferred", "cancelled")
            .await?;
        let update = UpdateExpr::new()
            .set(
                "reason",
                serde_dynamo::to_attribute_value(Reason::CancelledByOperator)?,
            )
            .remove_from_due()
            .move_from("body", "redacted_body")
            .append(
                "history",
                step(now_ms, StepKind::Cancelled, Some(format!("by {admin}")))?,
            );
        let update = Transition::Cancel
            .guard(update, None)
            .apply(self.outbox.store().log_update(id))
            .return_values(ReturnValue::AllNew);
        match db::conditional(update.send().await)? {
            Some(out) => Ok(serde_dynamo::from_item(out.attributes.unwrap_or_default())?),
            // Claimed or released since the read.
            None => Err(Error::conflict(
                "not_deferred",
                "the text left the deferred state meanwhile",
            )),
        }
    }

    /// Sends a failed text again: a new log, under the whole policy as it
    /// stands (the player's current verified number, consent, toggles,
    /// limits), naming the first; at most once per failed text. Texts that
    /// carried a code or an invite link are not resent: their secret is gone
    /// (ask for a new code or invitation).
    pub async fn resend(&self, id: &str, admin: &str, now_ms: i64) -> Result<SmsLog, Error> {
        let log = self
            .text_that_is(id, Status::Failed, "not_failed", "sent again")
            .await?;
        if matches!(
            log.message_type,
            MessageType::PhoneVerification | MessageType::BattleInvitation
        ) {
            return Err(Error::conflict(
                "cannot_resend",
                "codes and invitation links are not sent again: request a new code or invitation",
            ));
        }
        let user = log.user_id.as_deref().ok_or_else(|| {
            Error::conflict("cannot_resend", "this text was for no player account")
        })?;
        let profile = self.profiles.get(user).await?;
        let notice = Notice {
            message_type: log.message_type,
            body: log.body.clone(),
            related: log.related.clone(),
            once: format!("resend#{id}"),
            extra_limits: Vec::new(),
            send_by: None,
        };
        let once = notice.once.clone();
        let Some(request) = profile
            .as_ref()
            .map(|p| request_for(p, notice))
            .transpose()?
            .flatten()
        else {
            return Err(Error::conflict(
                "no_verified_number",
                "the player has no verified number now",
            ));
        };
        if self.outbox.store().once_seen(&once).await? {
            return Err(already_resent());
        }
        let mut prepared = self.outbox.prepare(request, Some(&once), now_ms).await?;
        prepared.log_mut().resend_of = Some(id.to_string());
        let resent = match self
            .outbox
            .commit(prepared, Transaction::new(), now_ms)
            .await?
        {
            Committed::Logged(resent) => *resent,
            Committed::Repeat => return Err(already_resent()),
            Committed::Declined(f) => return Err(f.into_error()),
        };
        let update = UpdateExpr::new()
            .append(
                "history",
                step(
                    now_ms,
                    StepKind::Resent,
                    Some(format!("as {} by {admin}", resent.sms_id)),
                )?,
            )
            .apply(self.outbox.store().log_update(id));
        update.send().await.map_err(db::dependency)?;
        Ok(resent)
    }

    /// A number's opt-out and its history.
    pub async fn opt_out_of(&self, number: &str) -> Result<Value, Error> {
        let phone = PhoneNumber::parse(number)?;
        let (current, changes) =
            crate::sms::optouts::opt_out_history(self.outbox.store(), &phone).await?;
        Ok(opt_out_view(&phone, current.as_ref(), &changes))
    }

    /// Puts a number on the opt-out list (every later text to it is
    /// refused), or takes it off; either needs a reason, kept with the admin.
    pub async fn change_opt_out(
        &self,
        input: OptOutInput,
        action: OptAction,
        admin: &str,
        now_ms: i64,
    ) -> Result<Value, Error> {
        let phone = PhoneNumber::parse(&input.number)?;
        let reason = input.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(Error::validation("reason must be 1 to 500 characters"));
        }
        if action == OptAction::OptedIn
            && !crate::sms::optouts::is_opted_out(self.outbox.store(), &phone).await?
        {
            return Err(Error::conflict(
                "not_opted_out",
                "this number is not opted out",
            ));
        }
        crate::sms::optouts::change_opt_out(
            self.outbox.store(),
            &phone,
            action,
            &format!("admin:{admin}"),
            reason,
            None,
            now_ms,
        )
        .await?;
        self.opt_out_of(phone.e164()).await
    }
}

fn no_text() -> Error {
    Error::not_found("sms_not_found", "no text with that id")
}

fn already_resent() -> Error {
    Error::conflict("already_resent", "this text was sent again already")
}

/// A text as the desk shows it: the number in full (the admin searched for
/// it), the body as stored (masked where it held a code or a link), the
/// timeline in order.
pub fn text_view(log: &SmsLog) -> Value {
    let time = |ms: Option<i64>| ms.map(rfc3339);
    json!({
        "id": log.sms_id,
        "to": log.to.e164(),
        "user_id": log.user_id,
        "message_type": log.message_type,
        "status": log.status,
        "reason": log.reason,
        "body": log.body,
        "segments": log.segments,
        "encoding": log.encoding,
        "cost_micros": log.cost_micros,
        "provider": log.provider,
        "provider_message_id": log.provider_message_id,
        "error": log.error,
        "attempts": log.attempts,
        "related": log.related,
        "created_at": rfc3339(log.created_at),
        "sent_at": time(log.sent_at),
        "delivered_at": time(log.delivered_at),
        "due_at": time(log.due_at.filter(|_| log.in_flight())),
        "resend_of": log.resend_of,
        "timeline": log.history.iter().map(|step| json!({
            "at": rfc3339(step.at),
            "event": step.event,
            "detail": step.detail,
        })).collect::<Vec<_>>(),
    })
}

fn opt_out_view(phone: &PhoneNumber, current: Option<&OptOut>, changes: &[OptChange]) -> Value {
    json!({
        "number": phone.e164(),
        "opted_out": current.is_some(),
        "since": current.map(|c| rfc3339(c.at)),
        "keyword": current.and_then(|c| c.keyword.clone()),
        "by": current.and_then(|c| c.by.clone()),
        "reason": current.and_then(|c| c.reason.clone()),
        "history": changes.iter().map(|c| json!({
            "at": rfc3339(c.at),
            "action": c.action,
            "by": c.by,
            "reason": c.reason,
        })).collect::<Vec<_>>(),
    })
}
