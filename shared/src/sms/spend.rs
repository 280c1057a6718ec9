//! F-SMS-12, F-SMS-27: where a text reserves its estimated cost against the
//! month's spend cap, so that no one counter takes every text (issue 23).
//!
//! Every text reserves its cost when it is let through. Transactional texts
//! are never refused by the cap: they add to their own shard of the month
//! (`spend#<month>#<nn>`), with no condition and no read. Promotions are
//! refused once the month's reservations would pass the cap:
//! - far from the cap (more than [`EXACT_MARGIN_TEXTS`] texts' cost left, by
//!   a sum of every counter at most [`SUM_MAX_AGE_MS`] old), a promotion
//!   adds to its shard like any other text;
//! - nearer, it reserves in the one exact counter (`spend#<month>`), on the
//!   condition that it and every shard (read just before) stay within the
//!   cap: racing promotions then pass the cap by nothing, only texts that
//!   reserved in shards after that read can.
//!
//! The overshoot is so bounded by what reserves in shards between a sum and
//! its use: the transactional texts of those moments (which go past any cap
//! by design), and, while the margin is crossed, promotions let through on
//! a sum up to a second old. Below 10,000 promotions a second that second
//! stays inside the margin, so promotions stop at the cap plus at most the
//! transactional spend of the moments between a read and a write; above
//! it, add about a second of promotional spend.

use super::store::SmsStore;
use crate::db::{self, get_n};
use crate::error::Error;
use crate::keys::sms::{cost_shard, cost_shards, limit_count_key, spend_scope};
use std::sync::{Arc, Mutex};

/// The limit of a counter the cap never refuses (DynamoDB numbers hold far
/// more than any real spend).
pub const UNCAPPED: u64 = i64::MAX as u64;

/// Within this many texts' cost of the cap, promotions use the exact counter.
pub const EXACT_MARGIN_TEXTS: u64 = 10_000;
/// How old a sum of the counters may be when it only decides that the cap
/// is far.
pub const SUM_MAX_AGE_MS: i64 = 1_000;

/// What the month's counters hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reserved {
    pub shards: u64,
    pub exact: u64,
}

impl Reserved {
    pub fn total(&self) -> u64 {
        self.shards.saturating_add(self.exact)
    }
}

/// Reads every spend counter of `month` (one batch read).
pub async fn reserved(store: &SmsStore, month: &str) -> Result<Reserved, Error> {
    let keys = cost_shards()
        .map(|shard| limit_count_key(&spend_scope(month, shard), None))
        .collect();
    let exact_pk = limit_count_key(&spend_scope(month, None), None)["pk"].clone();
    let mut out = Reserved::default();
    for item in db::batch_get(&store.client, &store.table, keys).await? {
        let count = get_n(&item, "count").unwrap_or(0).max(0) as u64;
        if item.get("pk") == Some(&exact_pk) {
            out.exact = count;
        } else {
            out.shards = out.shards.saturating_add(count);
        }
    }
    Ok(out)
}

/// The counter a text reserves in, and the most it may then hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub scope: String,
    pub limit: u64,
}

/// A process's last sum of the counters, to decide "far from the cap"
/// without a read per promotion.
#[derive(Clone, Default)]
pub struct RecentSum(Arc<Mutex<Option<(String, i64, Reserved)>>>);

impl RecentSum {
    fn get(&self, month: &str, now_ms: i64) -> Option<Reserved> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .filter(|(m, at, _)| m == month && now_ms - at <= SUM_MAX_AGE_MS && *at <= now_ms)
            .map(|(_, _, r)| *r)
    }

    fn set(&self, month: &str, now_ms: i64, sum: Reserved) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((month.to_string(), now_ms, sum));
    }
}

/// Where a text of `sms_id` costing `amount` reserves: see the module docs.
/// `cap`: `None` for a text the cap never refuses.
pub async fn reservation(
    store: &SmsStore,
    recent: &RecentSum,
    month: &str,
    sms_id: &str,
    amount: u64,
    cap: Option<u64>,
    now_ms: i64,
) -> Result<Reservation, Error> {
    let shard = Reservation {
        scope: spend_scope(month, cost_shard(sms_id)),
        limit: UNCAPPED,
    };
    let Some(cap) = cap else {
        return Ok(shard);
    };
    let margin = amount.saturating_mul(EXACT_MARGIN_TEXTS);
    let far = |sum: &Reserved| sum.total().saturating_add(margin) < cap;
    if recent.get(month, now_ms).is_some_and(|sum| far(&sum)) {
        return Ok(shard);
    }
    let sum = reserved(store, month).await?;
    recent.set(month, now_ms, sum);
    if far(&sum) {
        return Ok(shard);
    }
    Ok(Reservation {
        scope: spend_scope(month, None),
        limit: cap.saturating_sub(sum.shards),
    })
}
