//! F-PT-1: `add_points`, the only way points change.
//!
//! One transaction adds the amount to the profile's total and counters, puts
//! the activity record and, when the caller gave one, claims the idempotency
//! key; all or nothing. The total moves by `ADD`, which commutes, so
//! concurrent awards never lose one another and never need a read-modify-write
//! retry (a transaction conflict is retried as is). A repeated key fails its
//! condition and returns the first result. What depends on the order of
//! awards is settled right after, each by one conditional write: the streak
//! (once per local day) and the tier/level upgrades (announced exactly once).
//! Tier and level are not stored: they are pure functions of the total.

use super::award::{activity_for, fingerprint, validate, Activity, AwardRequest, Awarded, Change};
use super::rules::{self, Streak, Tier};
use crate::clock::{local_date, utc_date};
use crate::db::{self, key, n, retry, s, Cost, Handle, Item, Transaction, UpdateExpr};
use crate::error::Error;
use crate::keys::users::{active_on, in_leaderboard, STREAK_ALERT_HOUR_ATTR};
use crate::keys::users::{activity_sk, idempotency_key, profile_key, user_pk, ACTIVITY_PREFIX};
use crate::keys::TTL_ATTR;
use crate::profile::PointsState;
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

/// Retries of a transaction that conflicted with another on the same profile.
const MAX_ATTEMPTS: u32 = 20;
/// Idempotency records are kept this long.
const IDEMPOTENCY_TTL_SECS: i64 = 30 * 24 * 3600;

#[derive(Clone)]
pub struct Ledger {
    client: Client,
    table: String,
    leaderboard_shards: u32,
    cursors: crate::cursor::Cursors,
    evening: rules::EveningWindow,
}

impl Ledger {
    /// `cursors` must sign with a key in the users table (they page activities).
    pub fn new(
        client: Client,
        users_table: impl Into<String>,
        leaderboard_shards: u32,
        cursors: crate::cursor::Cursors,
        evening: rules::EveningWindow,
    ) -> Self {
        Ledger {
            cursors,
            client,
            table: users_table.into(),
            leaderboard_shards,
            evening,
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
        let before = self.read_profile(&req.user_id, cost).await?;
        let activity = activity_for(&before.points, req, now_ms);
        let mut attempt = 0;
        loop {
            let AwardWrites { tx, profile, claim } = self.writes(req, &activity, now_ms)?;
            match tx.commit(&self.client, cost).await {
                Ok(()) => break,
                Err(f) if claim.is_some_and(|c| f.condition_failed(c)) => {
                    return self.replay(req, now_ms, cost).await;
                }
                Err(f) if f.condition_failed(profile) => return Err(no_user()),
                // A conflicting transaction on the same profile: the write is
                // commutative, so the same request is retried.
                Err(f) if f.is_conflict() => {
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        return Err(Error::TooManyRequests {
                            message: "too many concurrent changes to this user's points, retry"
                                .into(),
                            retry_after_secs: 1,
                        });
                    }
                    retry::HOT_ITEM.pause(attempt).await;
                }
                Err(f) => return Err(f.into_error()),
            }
        }
        let awarded = self.settle(req, activity, now_ms, cost).await?;
        if let Some(k) = &req.idempotency_key {
            // The first result, for repeats (F-PT-1). Best effort: a repeat that
            // finds none rebuilds the answer from the activity and current totals.
            let stored = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(idempotency_key(&req.user_id, k)))
                .update_expression("SET #result = :r")
                .expression_attribute_names("#result", "result")
                .expression_attribute_values(":r", s(serde_json::to_string(&awarded)?))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            match stored {
                Ok(out) => cost.write(out.consumed_capacity.as_slice()),
                Err(e) => db::dependency(e).log(),
            }
        }
        Ok(awarded)
    }

    /// After the commit: the streak (once per local day), and the tier and
    /// level upgrades (each announced by exactly one award, the one whose
    /// conditional write moves `announced_tier` / `announced_level`).
    async fn settle(
        &self,
        req: &AwardRequest,
        activity: Activity,
        now_ms: i64,
        cost: &mut Cost,
    ) -> Result<Awarded, Error> {
        let mut profile = self.read_profile(&req.user_id, cost).await?;
        let zone = crate::profile::day_zone(
            &profile.timezone,
            profile
                .phone_number
                .as_deref()
                .filter(|_| profile.phone_verified),
        );
        if !req.activity_type.is_reward() {
            let today = local_date(now_ms, &zone);
            for _ in 0..3 {
                if profile
                    .points
                    .last_activity_date
                    .is_some_and(|d| d >= today)
                {
                    break;
                }
                let next = rules::streak_after(streak_of(&profile.points), today);
                // F-JOB-2: the hour whose streak-alert run finds this user
                // if they are not active tomorrow (the sparse index's key).
                let alert_hour = rules::streak_alert_hour(next.current, today, &zone, self.evening);
                let expression = match alert_hour {
                    Some(_) => "SET current_streak_days = :cur, longest_streak_days = :long, last_activity_date = :today, #alert_hour = :alert",
                    None => "SET current_streak_days = :cur, longest_streak_days = :long, last_activity_date = :today REMOVE #alert_hour",
                };
                let mut update = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(profile_key(&req.user_id)))
                    .update_expression(expression)
                    .expression_attribute_names("#alert_hour", STREAK_ALERT_HOUR_ATTR)
                    .expression_attribute_values(":cur", n(next.current))
                    .expression_attribute_values(":long", n(next.longest))
                    .expression_attribute_values(":today", s(today.to_string()))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total);
                if let Some(hour) = alert_hour {
                    update = update.expression_attribute_values(":alert", s(hour));
                }
                update = match profile.points.last_activity_date {
                    Some(prev) => update
                        .condition_expression("last_activity_date = :prev")
                        .expression_attribute_values(":prev", s(prev.to_string())),
                    None => update.condition_expression("attribute_not_exists(last_activity_date)"),
                };
                let applied = db::conditional(update.send().await)?;
                cost.write(consumed(&applied));
                if applied.is_some() {
                    profile.points.current_streak_days = next.current;
                    profile.points.longest_streak_days = next.longest;
                    profile.points.last_activity_date = Some(today);
                    break;
                }
                // Another award of the same day got there first: read what it wrote.
                profile = self.read_profile(&req.user_id, cost).await?;
            }
        }
        let total = profile.points.total_points;
        let (tier, level) = (rules::tier_for(total), rules::level_for(total));
        let tier_upgraded = self
            .announce(
                &req.user_id,
                "announced_tier",
                profile.points.announced_tier.unwrap_or(Tier::Ember),
                tier,
                cost,
            )
            .await?;
        let level_upgraded = self
            .announce(
                &req.user_id,
                "announced_level",
                profile.points.announced_level.unwrap_or(1),
                level,
                cost,
            )
            .await?;
        Ok(Awarded {
            activity,
            total_points: total,
            tier,
            level,
            tier_upgraded,
            level_upgraded,
            current_streak_days: profile.points.current_streak_days,
            longest_streak_days: profile.points.longest_streak_days,
            replayed: false,
        })
    }

    /// Moves an announced value up to `now`; the one caller that succeeds
    /// reports the change (F-PT-6), so concurrent awards never report it twice.
    async fn announce<T>(
        &self,
        user_id: &str,
        attribute: &str,
        announced: T,
        now: T,
        cost: &mut Cost,
    ) -> Result<Option<Change<T>>, Error>
    where
        T: PartialOrd + Copy + Serialize,
    {
        if now <= announced {
            return Ok(None);
        }
        let value = |v: T| {
            serde_dynamo::to_attribute_value::<_, aws_sdk_dynamodb::types::AttributeValue>(v)
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(user_id)))
            .update_expression("SET #a = :new")
            .condition_expression("attribute_not_exists(#a) OR #a = :old")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":new", value(now)?)
            .expression_attribute_values(":old", value(announced)?)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let applied = db::conditional(result)?;
        cost.write(consumed(&applied));
        Ok(applied.map(|_| Change {
            old: announced,
            new: now,
        }))
    }

    /// The part of the profile an award works with, and nothing else.
    async fn read_profile(&self, user_id: &str, cost: &mut Cost) -> Result<PointsOwner, Error> {
        let mut attributes = PointsState::ATTRIBUTES.to_vec();
        attributes.extend(["timezone", "phone_number", "phone_verified"]);
        db::get_projected(
            &self.client,
            &self.table,
            profile_key(user_id),
            &attributes,
            cost,
        )
        .await?
        .ok_or_else(no_user)
    }

    /// The commit: totals and counters move by addition (commutative, so
    /// concurrent awards never overwrite each other), the activity is recorded,
    /// and the idempotency key is claimed, all or nothing.
    /// The award's transaction: the profile's totals, the activity, and the
    /// idempotency claim when the request has a key.
    fn writes(
        &self,
        req: &AwardRequest,
        activity: &Activity,
        now_ms: i64,
    ) -> Result<AwardWrites, Error> {
        let mut totals = in_leaderboard(UpdateExpr::new(), &req.user_id, self.leaderboard_shards)
            .add("total_points", n(req.amount))
            .condition("attribute_exists(pk)");
        if !req.activity_type.is_reward() {
            // F-JOB-7: the jobs find the day's active users through this index key.
            totals = active_on(totals, &req.user_id, utc_date(now_ms));
        }
        if let Some(counter) = req.activity_type.lifetime_counter() {
            totals = totals.add(counter, n(1));
        }
        let mut item: Item = serde_dynamo::to_item(activity)?;
        item.extend(key(
            user_pk(&req.user_id),
            activity_sk(&activity.activity_id),
        ));
        let mut tx = Transaction::new();
        let profile = tx.update(totals.into_update(&self.table, profile_key(&req.user_id)));
        tx.put_item(&self.table, item);
        let mut claim = None;
        if let Some(k) = &req.idempotency_key {
            let mut record = idempotency_key(&req.user_id, k);
            record.insert("activity".into(), s(serde_json::to_string(activity)?));
            record.insert("request".into(), s(fingerprint(req)));
            record.insert(TTL_ATTR.into(), n(now_ms / 1000 + IDEMPOTENCY_TTL_SECS));
            claim = Some(tx.put_new(&self.table, record));
        }
        Ok(AwardWrites { tx, profile, claim })
    }

    /// The result of the first call with this key (F-PT-1).
    async fn replay(
        &self,
        req: &AwardRequest,
        now_ms: i64,
        cost: &mut Cost,
    ) -> Result<Awarded, Error> {
        let k = req.idempotency_key.as_deref().unwrap_or_default();
        let record_key = idempotency_key(&req.user_id, k);
        let record: IdempotencyRecord =
            db::get_item_counted(&self.client, &self.table, record_key, cost)
                .await?
                .ok_or_else(|| Error::internal("idempotency record vanished"))?;
        if record.request != fingerprint(req) {
            return Err(Error::conflict(
                "idempotency_key_reused",
                "this idempotency_key was used for a different award",
            ));
        }
        let mut awarded = match record.result {
            Some(result) => serde_json::from_str::<Awarded>(&result)?,
            // The first call committed but has not stored its result (it is
            // still running, or stopped): finish its bookkeeping from here.
            None => {
                let activity: Activity = serde_json::from_str(&record.activity)?;
                let mut settled = self.settle(req, activity, now_ms, cost).await?;
                settled.tier_upgraded = None;
                settled.level_upgraded = None;
                settled
            }
        };
        awarded.replayed = true;
        Ok(awarded)
    }

    /// The signer of this table's listing cursors.
    pub(crate) fn cursors(&self) -> &crate::cursor::Cursors {
        &self.cursors
    }

    /// The most recent activities, newest first, with a cursor for the next page.
    pub async fn activities(
        &self,
        user_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Vec<Activity>, Option<String>), Error> {
        const LISTING: &str = "activities";
        let start = match cursor {
            Some(c) => Some(
                self.cursors
                    .open(LISTING, user_id, c, &["pk", "sk"])
                    .await?,
            ),
            None => None,
        };
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
            .expression_attribute_values(":act", s(ACTIVITY_PREFIX))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(db::dependency)?;
        self.cursors
            .page(LISTING, user_id, out.items(), out.last_evaluated_key())
            .await
    }
}

/// What an award reads of the profile: the time zone its streak day follows
/// and the points state (F-PT-4), projected out of the item.
#[derive(Deserialize)]
struct PointsOwner {
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    #[serde(flatten)]
    points: PointsState,
}

/// An award's transaction and the items whose conditions decide its outcome.
struct AwardWrites {
    tx: Transaction,
    profile: Handle,
    claim: Option<Handle>,
}

/// `USER#<id>` / `IDEM#<key>`: the claim of an idempotency key.
#[derive(Deserialize)]
struct IdempotencyRecord {
    request: String,
    activity: String,
    #[serde(default)]
    result: Option<String>,
}

/// What an applied UpdateItem consumed (nothing reported when its condition failed).
fn consumed(
    applied: &Option<aws_sdk_dynamodb::operation::update_item::UpdateItemOutput>,
) -> &[aws_sdk_dynamodb::types::ConsumedCapacity] {
    applied
        .as_ref()
        .map(|out| out.consumed_capacity.as_slice())
        .unwrap_or(&[])
}

fn no_user() -> Error {
    Error::not_found(
        "user_not_found",
        "no user with that id (a profile is created with PUT /v1/me)",
    )
}

fn streak_of(p: &PointsState) -> Streak {
    Streak {
        current: p.current_streak_days,
        longest: p.longest_streak_days,
        last_activity_date: p.last_activity_date,
    }
}
