//! The users table: one partition per user (`USER#<id>`) holding the profile,
//! connections, idempotency claims, activities and trackers; plus the
//! uniqueness claims (usernames, phone numbers), the weekly side quests, job
//! states and the cursor signing key.

use crate::db::{key, n, s, Item, UpdateExpr};

/// `online`: live connections (and profiles open to matches) by shard,
/// until when they are online.
pub const ONLINE_INDEX: &str = "online";
pub const ONLINE_SHARD_ATTR: &str = "online_shard";
pub const ONLINE_UNTIL_ATTR: &str = "online_until";
/// `leaderboard`: profiles by shard and `total_points` (F-PT-8).
pub const LEADERBOARD_INDEX: &str = "leaderboard";
pub const LEADERBOARD_SHARD_ATTR: &str = "leaderboard_shard";
/// `active_by_date`: the profiles active on a UTC day (F-JOB-7).
pub const ACTIVE_BY_DATE_INDEX: &str = "active_by_date";
pub const ACTIVE_DATE_ATTR: &str = "active_date";
/// `streak_alerts`: the profiles whose streak is at risk, by the UTC hour
/// the alert run finds them (F-JOB-2; sparse).
pub const STREAK_ALERTS_INDEX: &str = "streak_alerts";
pub const STREAK_ALERT_HOUR_ATTR: &str = "streak_alert_hour";

/// A connection's entry in the `online` index, online until `until_ms`.
pub fn online_entry(user_id: &str, shards: u32, until_ms: i64) -> Item {
    Item::from([
        (
            ONLINE_SHARD_ATTR.to_string(),
            s(online_shard(user_id, shards)),
        ),
        (ONLINE_UNTIL_ATTR.to_string(), n(until_ms)),
    ])
}

/// The profile update that keeps the user in the leaderboard index.
pub fn in_leaderboard(update: UpdateExpr, user_id: &str, shards: u32) -> UpdateExpr {
    update.set(
        LEADERBOARD_SHARD_ATTR,
        s(leaderboard_shard(user_id, shards)),
    )
}

/// Shards of each day's active players: every first award of a day lists
/// its player, so one partition per day would cap those at 500 a second
/// (issue 23); 128 lift that to 64,000.
pub const ACTIVE_SHARDS: u32 = 128;

/// The profile update that lists the user among the day's active ones, in
/// the user's shard of the day (`2026-11-22#07`).
pub fn active_on(update: UpdateExpr, user_id: &str, day: NaiveDate) -> UpdateExpr {
    update.set(
        ACTIVE_DATE_ATTR,
        s(format!(
            "{day}#{:02}",
            super::shard_of(user_id, ACTIVE_SHARDS)
        )),
    )
}

/// Every partition of a day's active players: its shards, and the
/// unsharded day that players listed before the shards existed hold.
pub fn active_partitions(day: NaiveDate) -> Vec<String> {
    (0..ACTIVE_SHARDS)
        .map(|i| format!("{day}#{i:02}"))
        .chain(std::iter::once(day.to_string()))
        .collect()
}
use chrono::NaiveDate;

pub const PROFILE_SK: &str = "PROFILE";
/// Sort-key prefix of a user's point activities (F-PT-2), newest last.
pub const ACTIVITY_PREFIX: &str = "ACT#";
/// Sort-key prefix of a user's open connections (F-PR-3).
pub const CONNECTION_PREFIX: &str = "CONN#";
/// Sort-key prefixes of a user's trackers (F-PT-10, F-PT-11).
pub const GOAL_TRACKER_PREFIX: &str = "TRACK#GOAL#";
pub const QUEST_TRACKER_PREFIX: &str = "TRACK#QUEST#";
/// The partition of the side quests on offer.
pub const QUESTS_PK: &str = "QUESTS";

pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// The user id of a `USER#<id>` partition key.
pub fn user_of_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix("USER#")
}

pub fn profile_key(user_id: &str) -> Item {
    key(user_pk(user_id), PROFILE_SK)
}

/// `USERNAME#<lowercase name>` / `USERNAME`: who holds a username.
pub fn username_key(username: &str) -> Item {
    key(
        format!("USERNAME#{}", username.to_ascii_lowercase()),
        "USERNAME",
    )
}

/// `PHONE#<e164>` / `PHONE`: who holds a verified number (F-SMS-18).
pub fn phone_claim_key(e164: &str) -> Item {
    key(format!("PHONE#{e164}"), "PHONE")
}

pub fn connection_sk(connection_id: &str) -> String {
    format!("{CONNECTION_PREFIX}{connection_id}")
}

/// `CONN#<id>` / `CONN`: the owner of a connection, for `$disconnect`.
pub fn connection_owner_key(connection_id: &str) -> Item {
    key(connection_sk(connection_id), "CONN")
}

/// `USER#<id>` / `IDEM#<key>`: the claim of an idempotency key (F-PT-1).
pub fn idempotency_key(user_id: &str, idempotency_key: &str) -> Item {
    key(user_pk(user_id), format!("IDEM#{idempotency_key}"))
}

pub fn activity_sk(activity_id: &str) -> String {
    format!("{ACTIVITY_PREFIX}{activity_id}")
}

/// Stable shard of the online index for a user (FNV-1a; no dependence on process hashing).
pub fn online_shard(user_id: &str, shards: u32) -> String {
    let hash = user_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    online_shard_name((hash % shards.max(1) as u64) as u32)
}

pub fn online_shard_name(index: u32) -> String {
    format!("ONLINE#{index:03}")
}

/// The leaderboard shard of a user (F-PT-8): the index is split so that no
/// single partition takes every award.
pub fn leaderboard_shard(user_id: &str, shards: u32) -> String {
    leaderboard_shard_name(super::shard_of(user_id, shards))
}

pub fn leaderboard_shard_name(index: u32) -> String {
    format!("LB#{index:02}")
}

/// Copies of the cached top of the leaderboard (F-PT-8): reads spread over
/// them, each far below a partition's 3,000 reads a second.
pub const LEADERBOARD_TOP_COPIES: u32 = 32;

/// `LEADERBOARD#<copy>` / `TOP`: one copy of the cached top, each in a
/// partition of its own.
pub fn leaderboard_top_key(copy: u32) -> Item {
    key(format!("LEADERBOARD#{copy:02}"), "TOP")
}

/// `LEADERBOARD` / `REFRESH`: who refreshes the cached top, until when.
pub fn leaderboard_refresh_key() -> Item {
    key("LEADERBOARD", "REFRESH")
}

pub fn tracker_key(user_id: &str, tracker_id: &str) -> Item {
    key(user_pk(user_id), format!("TRACK#{tracker_id}"))
}

/// The tracker id (sort key after `TRACK#`) of a weekly goal.
pub fn goal_tracker_id(week: NaiveDate, goal_slug: &str) -> String {
    format!("GOAL#{week}#{goal_slug}")
}

pub fn quest_tracker_id(quest_id: &str) -> String {
    format!("QUEST#{quest_id}")
}

pub fn quest_key(quest_id: &str) -> Item {
    key(QUESTS_PK, quest_tracker_id(quest_id))
}

/// `JOB#<name>#<run>` / `STATE`: a scheduled job's progress for one run
/// (a date, a week, an hour).
pub fn job_state_key(job_slug: &str, run: &str) -> Item {
    key(format!("JOB#{job_slug}#{run}"), "STATE")
}

/// The HMAC key that signs page cursors (created on first use).
pub fn cursor_signing_key() -> Item {
    key("CONFIG#cursor-signing-key", "KEY")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_bounded() {
        assert_eq!(online_shard("abc", 16), online_shard("abc", 16));
        for i in 0..200 {
            let shard = online_shard(&format!("user-{i}"), 16);
            let n: u32 = shard.trim_start_matches("ONLINE#").parse().unwrap();
            assert!(n < 16);
        }
        assert_eq!(user_of_pk(&user_pk("u1")), Some("u1"));
    }
}
