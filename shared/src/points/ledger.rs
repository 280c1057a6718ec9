//! F-PT-1: `add_points`, the only way points change.
//!
//! One transaction writes the new totals on the profile (on the condition that
//! `points_version` is the one read), the activity record and, when the caller
//! gave one, the idempotency record holding the result. A concurrent award
//! fails the version condition and is retried on a fresh read, so no update is
//! lost; a repeated key fails the idempotency condition and returns the first
//! result. Tier and level are never stored: they are pure functions of the total.

use super::rules::{self, ActivityType, Streak, Tier};
use crate::db::{self, key, n, s, Cost, Item};
use crate::error::Error;
use crate::presence::user_pk;
use crate::profile::{Profile, PROFILE_SK};
use crate::Config;
use aws_sdk_dynamodb::types::{Put, ReturnConsumedCapacity, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One award may not exceed this (a typo guard, not a business rule).
pub const MAX_AMOUNT: i64 = 1_000_000;
const MAX_ATTEMPTS: u32 = 120;
/// Idempotency records are kept this long.
const IDEMPOTENCY_TTL_SECS: i64 = 30 * 24 * 3600;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwardRequest {
    pub user_id: String,
    pub amount: i64,
    pub activity_type: ActivityType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub activity_id: String,
    pub user_id: String,
    pub amount: i64,
    pub activity_type: ActivityType,
    pub description: String,
    pub tier_at_time: Tier,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    pub old: T,
    pub new: T,
}

/// What an award did (F-PT-6). Stored with the idempotency key and returned
/// again, unchanged, to every repeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Awarded {
    pub activity: Activity,
    pub total_points: i64,
    pub tier: Tier,
    pub level: u32,
    pub tier_upgraded: Option<Change<Tier>>,
    pub level_upgraded: Option<Change<u32>>,
    pub current_streak_days: u32,
    pub longest_streak_days: u32,
    /// True when this is the stored result of an earlier call with the same key.
    #[serde(default)]
    pub replayed: bool,
}

/// The user's local date (F-PT-4: streaks follow the user's time zone).
pub fn local_date(now_ms: i64, timezone: &str) -> NaiveDate {
    let utc = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => utc.with_timezone(&tz).date_naive(),
        Err(_) => utc.date_naive(),
    }
}

pub fn utc_date(now_ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .date_naive()
}

/// The pure part: the award's effect on a profile, or why it is refused.
pub fn validate(req: &AwardRequest) -> Result<(), Error> {
    if req.amount <= 0 {
        return Err(Error::validation("amount must be a positive whole number"));
    }
    if req.amount > MAX_AMOUNT {
        return Err(Error::validation(format!(
            "amount may be at most {MAX_AMOUNT}"
        )));
    }
    if req.description.chars().count() > 255 {
        return Err(Error::validation(
            "description may be at most 255 characters",
        ));
    }
    if let Some(k) = &req.idempotency_key {
        let ok = (1..=200).contains(&k.len())
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b));
        if !ok {
            return Err(Error::validation(
                "idempotency_key must be 1 to 200 characters of A-Z, a-z, 0-9, - _ : .",
            ));
        }
    }
    Ok(())
}

/// The leaderboard shard of a user (F-PT-8): the index is split so that no
/// single partition takes every award.
pub fn leaderboard_shard(user_id: &str, shards: u32) -> String {
    let hash = user_id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    leaderboard_shard_name(hash % shards.max(1))
}

pub fn leaderboard_shard_name(index: u32) -> String {
    format!("LB#{index:02}")
}

#[derive(Clone)]
pub struct Ledger {
    client: Client,
    table: String,
    leaderboard_shards: u32,
}

impl Ledger {
    pub fn new(client: Client, config: &Config) -> Self {
        Ledger {
            client,
            table: config.tables.users.clone(),
            leaderboard_shards: config.leaderboard_shards,
        }
    }

    pub async fn add_points(&self, req: &AwardRequest, now_ms: i64) -> Result<Awarded, Error> {
        self.add_points_counted(req, now_ms, &mut Cost::default())
            .await
    }

    /// [`Ledger::add_points`], adding what it cost in DynamoDB to `cost`.
    pub async fn add_points_counted(
        &self,
        req: &AwardRequest,
        now_ms: i64,
        cost: &mut Cost,
    ) -> Result<Awarded, Error> {
        validate(req)?;
        for attempt in 0..MAX_ATTEMPTS {
            let profile = self.read_profile(&req.user_id, cost).await?;
            let awarded = apply(&profile, req, now_ms);
            let items = self.writes(&profile, req, &awarded, now_ms)?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            match result {
                Ok(out) => {
                    cost.write(out.consumed_capacity());
                    return Ok(awarded);
                }
                Err(err) => {
                    cost.write(&[]);
                    match db::classify(err) {
                        db::WriteFailure::TransactionCancelled(reasons) => {
                            let failed = |i: usize| {
                                reasons
                                    .get(i)
                                    .is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed"))
                            };
                            if req.idempotency_key.is_some() && failed(2) {
                                return self.replay(req, cost).await;
                            }
                            // The profile moved on (or a conflicting transaction): again, fresh.
                            backoff(attempt).await;
                        }
                        db::WriteFailure::ConditionFailed => backoff(attempt).await,
                        db::WriteFailure::Other(e) => return Err(e),
                    }
                }
            }
        }
        Err(Error::TooManyRequests {
            message: "too many concurrent changes to this user's points, retry".into(),
            retry_after_secs: 1,
        })
    }

    async fn read_profile(&self, user_id: &str, cost: &mut Cost) -> Result<Profile, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), PROFILE_SK)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(db::dependency)?;
        cost.read(out.consumed_capacity.as_slice());
        match out.item {
            Some(item) => Ok(serde_dynamo::from_item(item)?),
            None => Err(Error::not_found(
                "user_not_found",
                "no user with that id (a profile is created with PUT /v1/me)",
            )),
        }
    }

    fn writes(
        &self,
        profile: &Profile,
        req: &AwardRequest,
        awarded: &Awarded,
        now_ms: i64,
    ) -> Result<Vec<TransactWriteItem>, Error> {
        let mut set = vec![
            "total_points = :total",
            "points_version = :next",
            "leaderboard_shard = :lb",
        ];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&req.user_id), PROFILE_SK)))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(points_version) OR points_version = :v)",
            )
            .expression_attribute_values(":total", n(awarded.total_points))
            .expression_attribute_values(":next", n(profile.points_version + 1))
            .expression_attribute_values(":v", n(profile.points_version))
            .expression_attribute_values(
                ":lb",
                s(leaderboard_shard(&req.user_id, self.leaderboard_shards)),
            );
        if !req.activity_type.is_reward() {
            set.extend([
                "current_streak_days = :cur",
                "longest_streak_days = :long",
                "last_activity_date = :last",
                "active_date = :active",
            ]);
            let last = local_date(now_ms, &profile.timezone).to_string();
            update = update
                .expression_attribute_values(":cur", n(awarded.current_streak_days))
                .expression_attribute_values(":long", n(awarded.longest_streak_days))
                .expression_attribute_values(":last", s(last))
                .expression_attribute_values(":active", s(utc_date(now_ms).to_string()));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if let Some(counter) = req.activity_type.lifetime_counter() {
            expression.push_str(&format!(" ADD {counter} :one"));
            update = update.expression_attribute_values(":one", n(1));
        }
        let mut activity: Item = serde_dynamo::to_item(&awarded.activity)?;
        activity.extend(key(
            user_pk(&req.user_id),
            format!("ACT#{}", awarded.activity.activity_id),
        ));
        let mut items = vec![
            TransactWriteItem::builder()
                .update(
                    update
                        .update_expression(expression)
                        .build()
                        .expect("table, key and expression set"),
                )
                .build(),
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(activity))
                        .build()
                        .expect("table and item set"),
                )
                .build(),
        ];
        if let Some(k) = &req.idempotency_key {
            let mut record = key(user_pk(&req.user_id), format!("IDEM#{k}"));
            record.insert("result".into(), s(serde_json::to_string(awarded)?));
            record.insert("request".into(), s(fingerprint(req)));
            record.insert("expires_at".into(), n(now_ms / 1000 + IDEMPOTENCY_TTL_SECS));
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(record))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .expect("table and item set"),
                    )
                    .build(),
            );
        }
        Ok(items)
    }

    /// The stored result of the first call with this key.
    async fn replay(&self, req: &AwardRequest, cost: &mut Cost) -> Result<Awarded, Error> {
        let k = req.idempotency_key.as_deref().unwrap_or_default();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&req.user_id), format!("IDEM#{k}"))))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(db::dependency)?;
        cost.read(out.consumed_capacity.as_slice());
        let item = out
            .item
            .ok_or_else(|| Error::internal("idempotency record vanished"))?;
        if db::get_s(&item, "request") != Some(fingerprint(req).as_str()) {
            return Err(Error::conflict(
                "idempotency_key_reused",
                "this idempotency_key was used for a different award",
            ));
        }
        let mut awarded: Awarded = serde_json::from_str(db::get_s(&item, "result").unwrap_or(""))?;
        awarded.replayed = true;
        Ok(awarded)
    }

    /// The most recent activities, newest first, with a cursor for the next page.
    pub async fn activities(
        &self,
        user_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Vec<Activity>, Option<String>), Error> {
        let start = cursor
            .map(|c| db::decode_cursor(c, &["pk", "sk"]))
            .transpose()?;
        if let Some(start) = &start {
            if db::get_s(start, "pk") != Some(user_pk(user_id).as_str()) {
                return Err(Error::bad_request(
                    "invalid_cursor",
                    "the cursor belongs to another listing",
                ));
            }
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :act)")
            .expression_attribute_values(":pk", s(user_pk(user_id)))
            .expression_attribute_values(":act", s("ACT#"))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(db::dependency)?;
        let items = out
            .items()
            .iter()
            .map(|i| serde_dynamo::from_item(i.clone()))
            .collect::<Result<Vec<Activity>, _>>()?;
        Ok((items, out.last_evaluated_key().map(db::encode_cursor)))
    }
}

/// F-PT-6: the real-time event for an award that moved the tier or level.
pub fn upgrade_message(a: &Awarded) -> Option<serde_json::Value> {
    (a.tier_upgraded.is_some() || a.level_upgraded.is_some()).then(|| {
        serde_json::json!({
            "type": "points_upgraded",
            "total_points": a.total_points,
            "tier_upgraded": a.tier_upgraded,
            "level_upgraded": a.level_upgraded,
            "activity_id": a.activity.activity_id,
        })
    })
}

/// Pushes the upgrades among `awards` (first-time awards only: a replay
/// already announced its upgrade).
pub async fn notify_upgrades(pusher: &crate::realtime::Pusher, awards: &[&Awarded], now_ms: i64) {
    for a in awards.iter().filter(|a| !a.replayed) {
        if let Some(message) = upgrade_message(a) {
            pusher.notify(&a.activity.user_id, &message, now_ms).await;
        }
    }
}

/// What makes two requests with one key the same request.
fn fingerprint(req: &AwardRequest) -> String {
    format!(
        "{}|{}|{}",
        req.amount,
        serde_json::to_string(&req.activity_type).unwrap_or_default(),
        req.description
    )
}

/// The pure computation of an award against the profile as read.
pub fn apply(profile: &Profile, req: &AwardRequest, now_ms: i64) -> Awarded {
    let old_total = profile.total_points;
    let total = old_total + req.amount;
    let streak = Streak {
        current: profile.current_streak_days,
        longest: profile.longest_streak_days,
        last_activity_date: profile.last_activity_date,
    };
    let streak = if req.activity_type.is_reward() {
        streak
    } else {
        rules::streak_after(streak, local_date(now_ms, &profile.timezone))
    };
    let (old_tier, tier) = (rules::tier_for(old_total), rules::tier_for(total));
    let (old_level, level) = (rules::level_for(old_total), rules::level_for(total));
    Awarded {
        activity: Activity {
            activity_id: crate::battles::new_id(),
            user_id: req.user_id.clone(),
            amount: req.amount,
            activity_type: req.activity_type,
            description: req.description.clone(),
            tier_at_time: tier,
            created_at: now_ms,
        },
        total_points: total,
        tier,
        level,
        tier_upgraded: (tier > old_tier).then_some(Change {
            old: old_tier,
            new: tier,
        }),
        level_upgraded: (level > old_level).then_some(Change {
            old: old_level,
            new: level,
        }),
        current_streak_days: streak.current,
        longest_streak_days: streak.longest,
        replayed: false,
    }
}

/// Random pauses that spread contending writers of one profile apart.
async fn backoff(attempt: u32) {
    use rand::Rng;
    let ceiling = (4u64 << attempt.min(6)).min(250);
    let ms = rand::rng().random_range(1..=ceiling);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(amount: i64, t: ActivityType) -> AwardRequest {
        AwardRequest {
            user_id: "u".into(),
            amount,
            activity_type: t,
            description: String::new(),
            idempotency_key: None,
        }
    }

    fn profile(total: i64) -> Profile {
        Profile {
            user_id: "u".into(),
            timezone: "UTC".into(),
            total_points: total,
            ..Default::default()
        }
    }

    #[test]
    fn amounts_and_keys_are_checked() {
        for bad in [0, -5, MAX_AMOUNT + 1] {
            assert_eq!(
                validate(&req(bad, ActivityType::Comment))
                    .unwrap_err()
                    .status(),
                400
            );
        }
        let mut r = req(5, ActivityType::Comment);
        r.idempotency_key = Some("has space".into());
        assert!(validate(&r).is_err());
        r.idempotency_key = Some("battle:01abc:u1".into());
        assert!(validate(&r).is_ok());
    }

    #[test]
    fn tier_and_level_boundaries_are_reported() {
        let a = apply(&profile(249), &req(1, ActivityType::Comment), 0);
        assert_eq!(
            a.tier_upgraded,
            Some(Change {
                old: Tier::Ember,
                new: Tier::Spark
            })
        );
        let a = apply(&profile(2499), &req(1, ActivityType::Comment), 0);
        assert_eq!(
            a.tier_upgraded,
            Some(Change {
                old: Tier::Beacon,
                new: Tier::Phoenix
            })
        );
        let a = apply(&profile(59_999), &req(1, ActivityType::Comment), 0);
        assert_eq!(a.level_upgraded, Some(Change { old: 20, new: 21 }));
        let a = apply(&profile(60_000), &req(10_000, ActivityType::Comment), 0);
        assert_eq!(a.level_upgraded, Some(Change { old: 21, new: 22 }));
        let a = apply(&profile(250), &req(1, ActivityType::Comment), 0);
        assert_eq!((a.tier_upgraded, a.level_upgraded), (None, None));
    }

    #[test]
    fn rewards_do_not_extend_streaks() {
        let a = apply(&profile(0), &req(5, ActivityType::StreakBonus), 0);
        assert_eq!(a.current_streak_days, 0);
        let a = apply(&profile(0), &req(5, ActivityType::Comment), 0);
        assert_eq!(a.current_streak_days, 1);
    }

    #[test]
    fn local_dates_follow_the_time_zone() {
        // 2026-11-22 23:30 UTC is already the 23rd in Kampala (UTC+3).
        let ms = chrono::DateTime::parse_from_rfc3339("2026-11-22T23:30:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(local_date(ms, "Africa/Kampala").to_string(), "2026-11-23");
        assert_eq!(local_date(ms, "UTC").to_string(), "2026-11-22");
    }
}
