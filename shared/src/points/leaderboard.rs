//! F-PT-8: the top players by total points, without a scan. Each shard of the
//! `leaderboard` index is read top-down (at most `limit` entries), and the
//! shards are merged; the cost is one query per shard whatever the user count.

use crate::db::{self, s, Cost};
use crate::error::Error;
use crate::keys::users::leaderboard_shard_name;
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
