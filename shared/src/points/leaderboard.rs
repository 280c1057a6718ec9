//! F-PT-8: the top players by total points, without a scan. Each shard of the
//! `leaderboard` index is read top-down (at most `limit` entries), and the
//! shards are merged; the cost is one query per shard whatever the user count.
//!
//! Awards move a player's index entry, so the shards must be many for many
//! awards a second (256 for 50,000); reading them all on every request would
//! then cost 256 queries. A [`Board`] with a cache age serves the top from a
//! cached copy instead (one read, spread over 32 copies): the first reader
//! that finds it older than the age, and wins the refresh lease, reads the
//! shards and writes the copies; others meanwhile serve the copy they read.

use crate::db::{self, s, Cost};
use crate::error::Error;
use crate::keys::users::{
    leaderboard_refresh_key, leaderboard_shard_name, leaderboard_top_key, LEADERBOARD_TOP_COPIES,
};
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

pub const MAX_LIMIT: i32 = 100;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Competition ranking: equal totals share a rank, the next rank skips (1, 2, 2, 4).
    #[serde(default)]
    pub rank: u32,
    pub user_id: String,
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    pub total_points: i64,
}

/// Orders by total (highest first), ties by username, and ranks.
pub fn rank(mut entries: Vec<Entry>, limit: usize) -> Vec<Entry> {
    entries.sort_by(|a, b| {
        b.total_points
            .cmp(&a.total_points)
            .then_with(|| a.username.cmp(&b.username))
    });
    entries.truncate(limit);
    let mut previous: Option<(i64, u32)> = None;
    for (i, e) in entries.iter_mut().enumerate() {
        e.rank = match previous {
            Some((points, rank)) if points == e.total_points => rank,
            _ => i as u32 + 1,
        };
        previous = Some((e.total_points, e.rank));
    }
    entries
}

pub async fn top(
    client: &Client,
    table: &str,
    shards: u32,
    limit: i32,
) -> Result<(Vec<Entry>, Cost), Error> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let reads = (0..shards.max(1)).map(|i| {
        let shard = leaderboard_shard_name(i);
        async move {
            client
                .query()
                .table_name(table)
                .index_name(crate::keys::users::LEADERBOARD_INDEX)
                .key_condition_expression("leaderboard_shard = :s")
                .expression_attribute_values(":s", s(shard))
                .scan_index_forward(false)
                .limit(limit)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
        }
    });
    let mut cost = Cost::default();
    let mut entries = Vec::new();
    for out in futures::future::join_all(reads).await {
        let out = out.map_err(db::dependency)?;
        cost.read(out.consumed_capacity.as_slice());
        for item in out.items() {
            entries.push(serde_dynamo::from_item(item.clone())?);
        }
    }
    Ok((rank(entries, limit as usize), cost))
}

/// The leaderboard as the API serves it.
#[derive(Clone)]
pub struct Board {
    pub client: Client,
    pub table: String,
    pub shards: u32,
    /// 0: every read is live.
    pub cache_ms: i64,
}

/// A copy of the cached top.
#[derive(Serialize, Deserialize)]
struct Cached {
    computed_at: i64,
    entries: Vec<Entry>,
}

/// How long a refresher holds the lease (a live read takes well under it).
const REFRESH_LEASE_MS: i64 = 10_000;

impl Board {
    /// The top `limit` players as of at most the cache age before `now_ms`.
    pub async fn top(&self, limit: i32, now_ms: i64) -> Result<(Vec<Entry>, Cost), Error> {
        let limit = limit.clamp(1, MAX_LIMIT);
        if self.cache_ms == 0 {
            return top(&self.client, &self.table, self.shards, limit).await;
        }
        let copy = rand::random::<u32>() % LEADERBOARD_TOP_COPIES;
        // Eventually consistent: half the units, and a copy is a cache anyway.
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(leaderboard_top_key(copy)))
            .send()
            .await
            .map_err(db::dependency)?;
        let cached: Option<Cached> = match read.item {
            Some(item) => Some(serde_dynamo::from_item(item)?),
            None => None,
        };
        let serve = |c: Cached| {
            let mut entries = c.entries;
            entries.truncate(limit as usize);
            (entries, Cost::default())
        };
        match cached {
            Some(c) if c.computed_at <= now_ms && now_ms - c.computed_at < self.cache_ms => {
                Ok(serve(c))
            }
            stale => {
                if !self.take_refresh(now_ms).await? {
                    if let Some(c) = stale {
                        return Ok(serve(c));
                    }
                    return top(&self.client, &self.table, self.shards, limit).await;
                }
                let (entries, cost) =
                    top(&self.client, &self.table, self.shards, MAX_LIMIT).await?;
                self.store(&entries, now_ms).await?;
                let (entries, _) = serve(Cached {
                    computed_at: now_ms,
                    entries,
                });
                Ok((entries, cost))
            }
        }
    }

    /// The refresh lease, if nobody else holds it.
    async fn take_refresh(&self, now_ms: i64) -> Result<bool, Error> {
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(leaderboard_refresh_key()))
            .update_expression("SET held_until = :until")
            .condition_expression("attribute_not_exists(held_until) OR held_until <= :now")
            .expression_attribute_values(":until", db::n(now_ms + REFRESH_LEASE_MS))
            .expression_attribute_values(":now", db::n(now_ms))
            .send()
            .await;
        Ok(db::conditional(taken)?.is_some())
    }

    /// Writes every copy (one batch), then lets the lease go.
    async fn store(&self, entries: &[Entry], now_ms: i64) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let cached = Cached {
            computed_at: now_ms,
            entries: entries.to_vec(),
        };
        let mut writes = Vec::new();
        for copy in 0..LEADERBOARD_TOP_COPIES {
            let mut item: db::Item = serde_dynamo::to_item(&cached)?;
            item.extend(leaderboard_top_key(copy));
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("item set");
            writes.push(WriteRequest::builder().put_request(put).build());
        }
        // BatchWriteItem takes 25 at a time.
        while !writes.is_empty() {
            let rest = writes.split_off(writes.len().min(25));
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, writes)
                .send()
                .await
                .map_err(db::dependency)?;
            writes = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            writes.extend(rest);
        }
        // Only our own lease: a refresher slower than the lease must not end
        // the one another reader took after it ran out.
        let released = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(leaderboard_refresh_key()))
            .condition_expression("held_until = :until")
            .expression_attribute_values(":until", db::n(now_ms + REFRESH_LEASE_MS))
            .send()
            .await;
        db::conditional(released)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, points: i64) -> Entry {
        Entry {
            rank: 0,
            user_id: name.into(),
            username: name.into(),
            display_name: name.into(),
            total_points: points,
        }
    }

    #[test]
    fn ties_share_a_rank() {
        let ranked = rank(vec![e("c", 10), e("a", 30), e("b", 30), e("d", 5)], 3);
        let view: Vec<(&str, u32)> = ranked
            .iter()
            .map(|e| (e.username.as_str(), e.rank))
            .collect();
        assert_eq!(view, vec![("a", 1), ("b", 1), ("c", 3)]);
    }
}
