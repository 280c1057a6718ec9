//! The atomic counters behind the limits (F-SMS-12, F-SMS-27) and the
//! spend counters (F-SMS-16): conditional `ADD`s on per-window items.

use super::log::SmsLog;
use super::policy::Reason;
use super::store::SmsStore;
use crate::db::{self, n, retry, Cost, Handle, Transaction, UpdateExpr};
use crate::error::Error;
use crate::keys::sms::{
    cost_day_key, cost_month_key, cost_shard, cost_type_key, limit_count_key, limit_gap_key,
};
use crate::keys::TTL_ATTR;
use aws_sdk_dynamodb::types::Update;

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
///
/// `R` is what a refusal reports: a send's suppression `Reason`, or the
/// caller's own type for other rates counted the same way (invite-link
/// previews per source address).
#[derive(Clone, Debug)]
pub struct Limit<R = Reason> {
    pub scope: String,
    pub window_secs: i64,
    pub limit: u64,
    pub amount: u64,
    pub reason: R,
    pub spacing: bool,
}

impl<R> Limit<R> {
    /// One message against `limit` per window.
    pub fn count(scope: String, window_secs: i64, limit: u64, reason: R) -> Self {
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
    pub fn spacing(scope: String, gap_secs: i64, reason: R) -> Self {
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
    pub(crate) fn update(&self, table: &str, now_ms: i64) -> Update {
        let now_secs = now_ms / 1000;
        if self.spacing {
            return Update::builder()
                .table_name(table)
                .set_key(Some(limit_gap_key(&self.scope)))
                .update_expression(GAP_UPDATE)
                .condition_expression(GAP_CONDITION)
                .expression_attribute_names("#exp", TTL_ATTR)
                .expression_attribute_values(":now", n(now_ms))
                .expression_attribute_values(":before", n(now_ms - self.window_secs * 1000))
                .expression_attribute_values(":after", n(now_ms + self.window_secs * 1000))
                .expression_attribute_values(":exp", n(now_secs + self.window_secs + 60))
                .build()
                .expect("table, key and expression set");
        }
        let (counter, expires_at) = match self.window_secs {
            0 => (
                limit_count_key(&self.scope, None),
                now_secs + PERIOD_COUNTER_SECS,
            ),
            w => {
                let window = now_secs.div_euclid(w);
                (limit_count_key(&self.scope, Some(window)), (window + 2) * w)
            }
        };
        // Room for this send: the count so far may be at most limit − amount
        // (the outbox refuses a send larger than its limit before this; a
        // negative room would hold for no count).
        let room = self
            .limit
            .checked_sub(self.amount)
            .map_or(-1, |r| r as i128);
        Update::builder()
            .table_name(table)
            .set_key(Some(counter))
            .update_expression("ADD #count :amount SET #exp = :exp")
            .condition_expression("attribute_not_exists(#count) OR #count <= :room")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#exp", TTL_ATTR)
            .expression_attribute_values(":amount", n(self.amount))
            .expression_attribute_values(":room", n(room))
            .expression_attribute_values(":exp", n(expires_at))
            .build()
            .expect("table, key and expression set")
    }
}

/// A spacing limit's write: the scope's last send is now.
const GAP_UPDATE: &str = "SET last_at = :now, #exp = :exp";
/// A gap either way: senders' clocks differ by a little, and a send stamped
/// before the last one is still too close to it.
const GAP_CONDITION: &str =
    "attribute_not_exists(last_at) OR last_at <= :before OR last_at >= :after";

/// What a period-named counter (window 0) is kept for: a month and then some.
const PERIOD_COUNTER_SECS: i64 = 40 * 86_400;

/// Counts one send against every limit at once (F-SMS-12): either all
/// counters move, or none does and the first limit reached is returned.
/// Each counter is a conditional `ADD` on a per-window item, so any number
/// of concurrent sends never pass a limit.
pub async fn take<R: Copy>(
    store: &SmsStore,
    limits: &[Limit<R>],
    now_ms: i64,
) -> Result<Result<(), R>, Error> {
    if limits.is_empty() {
        return Ok(Ok(()));
    }
    if let Some(l) = limits.iter().find(|l| l.amount > l.limit) {
        return Ok(Err(l.reason));
    }
    for attempt in 0..5u32 {
        let mut tx = Transaction::new();
        let counters: Vec<(Handle, R)> = limits
            .iter()
            .map(|l| (tx.update(l.update(&store.table, now_ms)), l.reason))
            .collect();
        match tx.commit(&store.client, &mut Cost::default()).await {
            Ok(()) => return Ok(Ok(())),
            Err(f) => {
                if let Some((_, reason)) = counters.iter().find(|(h, _)| f.condition_failed(*h)) {
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

/// F-SMS-12 at send time: takes the gap of `scope` (one text per
/// `gap_secs`), or answers when the last text in it was sent, so the
/// caller can defer to that + the gap. `own`: when this same text took
/// the gap before (a code request, an earlier attempt); that does not
/// hold it back.
pub async fn take_gap(
    store: &SmsStore,
    scope: &str,
    gap_secs: i64,
    own: Option<i64>,
    now_ms: i64,
) -> Result<Result<(), i64>, Error> {
    let mut update = store
        .client
        .update_item()
        .table_name(&store.table)
        .set_key(Some(limit_gap_key(scope)))
        .update_expression(GAP_UPDATE)
        .expression_attribute_names("#exp", TTL_ATTR)
        .expression_attribute_values(":now", n(now_ms))
        .expression_attribute_values(":before", n(now_ms - gap_secs * 1000))
        .expression_attribute_values(":after", n(now_ms + gap_secs * 1000))
        .expression_attribute_values(":exp", n(now_ms / 1000 + gap_secs + 60));
    update = match own {
        Some(at) => update
            .condition_expression(format!("{GAP_CONDITION} OR last_at = :own"))
            .expression_attribute_values(":own", n(at)),
        None => update.condition_expression(GAP_CONDITION),
    };
    if db::conditional(update.send().await)?.is_some() {
        return Ok(Ok(()));
    }
    #[derive(serde::Deserialize)]
    struct Gap {
        last_at: i64,
    }
    let last: Option<Gap> = db::get_item(&store.client, &store.table, limit_gap_key(scope)).await?;
    // Gone since (its TTL): the gap is over; the next attempt takes it.
    Ok(Err(last.map_or(now_ms, |g| g.last_at)))
}

/// F-SMS-16: per-day and per-month counters of messages, segments and
/// estimated cost, and the day's per type and `provider` (the one that
/// took it: the claimed log does not name it yet), moved when a message
/// is sent; in the text's shard of each (`keys::sms::COST_SHARDS`).
pub async fn record_cost(
    store: &SmsStore,
    log: &SmsLog,
    provider: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let day = crate::clock::utc_date(now_ms);
    // The two counters are independent: updated side by side, not in turn.
    let date = day.to_string();
    let shard = cost_shard(&log.sms_id);
    let updates = [
        cost_month_key(&day.format("%Y-%m").to_string(), shard),
        cost_day_key(&date, shard),
        cost_type_key(&date, shard, &super::wire_name(log.message_type), provider),
    ]
    .map(|counter| {
        // Aliased by the builder: `segments` is a DynamoDB reserved word.
        UpdateExpr::new()
            .add("messages", n(1))
            .add("segments", n(log.segments))
            .add("cost_micros", n(log.cost_micros))
            .apply(
                store
                    .client
                    .update_item()
                    .table_name(&store.table)
                    .set_key(Some(counter)),
            )
            .send()
    });
    futures::future::try_join_all(updates)
        .await
        .map_err(db::dependency)?;
    Ok(())
}
