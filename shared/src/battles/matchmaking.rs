//! F-MM-1, F-MM-2, F-MM-4: a random online opponent, politely (an invitation).
//!
//! The pick is uniform over the eligible players it reads, and it reads
//! every online player while there are at most [`WINDOW`] of them:
//! 1. From a random shard of the sparse `online` index and a random point of
//!    its `online_until` range (wrapping to the range's start), then the
//!    other shards in random order from their start, it collects distinct
//!    online players until it has [`WINDOW`] or has read them all (keys only).
//! 2. It shuffles them, reads their profiles in that order in growing
//!    batches, and takes the first eligible one: a uniformly random pick
//!    among the eligible players of the window, however many busy or
//!    unavailable players the index holds ahead of them.
//! 3. It writes the invitation with both players' guards in one transaction
//!    (the next eligible one if this one just became busy).
//!
//! A window with no eligible player: the next window is read, up to
//! [`ENTRY_BUDGET`] index entries and [`PROFILE_BUDGET`] profiles. Every
//! step is bounded by these constants and the shard count, never by the
//! number of registered users; with many online players the window is a
//! random stretch of one shard (scripts/bench measures both).

use super::invitations::{Invitation, InviteFailure};
use super::{BattleStore, MatchSource};
use crate::db::{self, s, Cost, Item};
use crate::error::Error;
use crate::ids::UserId;
use crate::keys::users::{online_shard_name, profile_key};
use crate::presence::CONNECTION_TTL_SECS;
use crate::profile::Profile;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnConsumedCapacity};
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{HashMap, HashSet};

/// Distinct online players collected before their profiles are read.
pub const WINDOW: usize = 64;
/// Index entries one find reads at most.
pub const ENTRY_BUDGET: usize = 4 * WINDOW;
/// Profiles one find reads at most (BatchGetItem takes 100 keys).
pub const PROFILE_BUDGET: usize = 100;
/// The first profile batch; each next one is twice as large.
const FIRST_BATCH: usize = 8;
/// Invitation writes tried (a candidate may have become busy since the read).
const MAX_INVITE_ATTEMPTS: u32 = 3;

pub enum FindOutcome {
    Invited(Box<Invitation>),
    NoActiveUsers,
}

pub struct Found {
    pub outcome: FindOutcome,
    /// DynamoDB requests and capacity this pick cost (logged; see scripts/bench).
    pub cost: Cost,
}

/// Where one shard's reading stands: from a random point of its range to
/// the end, then from its start back to the point.
struct ShardCursor {
    shard: String,
    point: i64,
    wrapped: bool,
    next: Option<Item>,
}

/// The index read in windows, shard after shard in random order.
struct OnlineWindows {
    cursors: Vec<ShardCursor>,
    current: usize,
    seen: HashSet<String>,
    entries_read: usize,
}

impl OnlineWindows {
    fn new(shards: u32, now_ms: i64) -> Self {
        let mut rng = rand::rng();
        let mut order: Vec<u32> = (0..shards).collect();
        order.shuffle(&mut rng);
        // Connection entries run to their expiry, up to the connection TTL ahead.
        let horizon = now_ms + CONNECTION_TTL_SECS * 1000;
        // Only the first shard starts at a random point: a window that
        // reaches the next shards reads them from their start (one Query
        // each, no wrap), as it does when few players are online.
        let first_point = rng.random_range(now_ms + 1..=horizon);
        OnlineWindows {
            cursors: order
                .into_iter()
                .enumerate()
                .map(|(n, i)| ShardCursor {
                    shard: online_shard_name(i),
                    point: if n == 0 { first_point } else { now_ms + 1 },
                    wrapped: false,
                    next: None,
                })
                .collect(),
            current: 0,
            seen: HashSet::new(),
            entries_read: 0,
        }
    }

    fn exhausted(&self) -> bool {
        self.current >= self.cursors.len() || self.entries_read >= ENTRY_BUDGET
    }
}

/// The eligible candidates of one find, in uniformly random order, read as
/// they are needed.
struct Candidates<'a> {
    store: &'a BattleStore,
    caller_id: &'a str,
    now_ms: i64,
    windows: OnlineWindows,
    /// The current window's players, shuffled, whose profiles are not read yet.
    unread: std::collections::VecDeque<String>,
    /// Profiles read, in the shuffled order, not yet looked at.
    read: std::collections::VecDeque<Profile>,
    batch: usize,
    profiles_read: usize,
}

impl<'a> Candidates<'a> {
    fn new(store: &'a BattleStore, caller_id: &'a str, now_ms: i64) -> Self {
        Candidates {
            store,
            caller_id,
            now_ms,
            windows: OnlineWindows::new(store.config.online_shards, now_ms),
            unread: Default::default(),
            read: Default::default(),
            batch: FIRST_BATCH,
            profiles_read: 0,
        }
    }

    /// The next eligible player; `None` when the budgets are spent or
    /// every online player was looked at.
    async fn next(&mut self, cost: &mut Cost) -> Result<Option<Profile>, Error> {
        loop {
            // In the shuffled order: the first eligible is a uniform pick.
            while let Some(candidate) = self.read.pop_front() {
                if candidate.can_be_picked_by(self.caller_id, self.now_ms) {
                    return Ok(Some(candidate));
                }
            }
            if self.profiles_read >= PROFILE_BUDGET {
                return Ok(None);
            }
            if self.unread.is_empty() {
                if self.windows.exhausted() {
                    return Ok(None);
                }
                let mut ids = next_window(
                    self.store,
                    &mut self.windows,
                    self.caller_id,
                    self.now_ms,
                    cost,
                )
                .await?;
                ids.shuffle(&mut rand::rng());
                self.unread = ids.into();
                self.batch = FIRST_BATCH;
                continue;
            }
            let take = self
                .batch
                .min(self.unread.len())
                .min(PROFILE_BUDGET - self.profiles_read);
            let chunk: Vec<String> = self.unread.drain(..take).collect();
            self.batch *= 2;
            self.profiles_read += chunk.len();
            let mut profiles = read_profiles(self.store, &chunk, cost).await?;
            self.read = chunk.iter().filter_map(|id| profiles.remove(id)).collect();
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn find_opponent(
    store: &BattleStore,
    caller_id: &UserId,
    challenge_type: &str,
    now_ms: i64,
) -> Result<Found, Error> {
    let mut cost = Cost::default();
    let me = get_profile_counted(store, caller_id, &mut cost).await?;
    check_caller(&me, now_ms)?;
    let mut candidates = Candidates::new(store, caller_id, now_ms);
    for _ in 0..MAX_INVITE_ATTEMPTS {
        let Some(candidate) = candidates.next(&mut cost).await? else {
            break;
        };
        let invited = crate::battles::invitations::create_invitation(
            store,
            &me,
            &candidate,
            challenge_type,
            MatchSource::ActiveUser,
            now_ms,
            &mut cost,
        )
        .await;
        match invited {
            Ok(invitation) => {
                return Ok(Found {
                    outcome: FindOutcome::Invited(Box::new(invitation)),
                    cost,
                })
            }
            // Busy since it was read: the next one.
            Err(InviteFailure::OpponentBusy) => continue,
            Err(InviteFailure::CallerBusy) => {
                let fresh = get_profile_counted(store, caller_id, &mut cost).await?;
                check_caller(&fresh, now_ms)?;
                return Err(Error::conflict(
                    "concurrent_update",
                    "your state changed during the search, retry",
                ));
            }
            Err(InviteFailure::Failed(e)) => return Err(e),
        }
    }
    Ok(Found {
        outcome: FindOutcome::NoActiveUsers,
        cost,
    })
}

/// The opponent a find would invite now, without inviting: the pick
/// alone (tests and scripts/bench measure its fairness and cost).
pub async fn pick_opponent(
    store: &BattleStore,
    caller_id: &str,
    now_ms: i64,
    cost: &mut Cost,
) -> Result<Option<Profile>, Error> {
    Candidates::new(store, caller_id, now_ms).next(cost).await
}

/// Up to [`WINDOW`] online players not collected before (the caller
/// never), read on from where the last window stopped.
async fn next_window(
    store: &BattleStore,
    windows: &mut OnlineWindows,
    caller_id: &str,
    now_ms: i64,
    cost: &mut Cost,
) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    while ids.len() < WINDOW && !windows.exhausted() {
        let cursor = &mut windows.cursors[windows.current];
        let room = (WINDOW - ids.len()).min(ENTRY_BUDGET - windows.entries_read);
        let mut query = store
            .client
            .query()
            .table_name(&store.users_table)
            .index_name(crate::keys::users::ONLINE_INDEX)
            .expression_attribute_values(":shard", s(&cursor.shard))
            .set_exclusive_start_key(cursor.next.take())
            .limit(room as i32)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        query = if cursor.wrapped {
            // From the range's start (online now) up to the point.
            query
                .key_condition_expression(
                    "online_shard = :shard AND online_until BETWEEN :after AND :point",
                )
                .expression_attribute_values(":after", db::n(now_ms + 1))
                .expression_attribute_values(":point", db::n(cursor.point - 1))
        } else {
            query
                .key_condition_expression("online_shard = :shard AND online_until >= :point")
                .expression_attribute_values(":point", db::n(cursor.point))
        };
        let out = query.send().await.map_err(db::dependency)?;
        cost.read(out.consumed_capacity.as_slice());
        windows.entries_read += out.items().len();
        for item in out.items() {
            let Some(id) = db::get_s(item, "pk").and_then(|pk| pk.strip_prefix("USER#")) else {
                continue;
            };
            if id != caller_id && windows.seen.insert(id.to_string()) {
                ids.push(id.to_string());
            }
        }
        match out.last_evaluated_key {
            Some(key) => cursor.next = Some(key),
            // A point at the range's very start leaves nothing before it.
            None if !cursor.wrapped && cursor.point > now_ms + 1 => cursor.wrapped = true,
            None => windows.current += 1,
        }
    }
    Ok(ids)
}

/// The profiles of `ids` in one request. Keys DynamoDB leaves
/// unprocessed are simply not candidates this time.
async fn read_profiles(
    store: &BattleStore,
    ids: &[String],
    cost: &mut Cost,
) -> Result<HashMap<String, Profile>, Error> {
    let keys: Vec<_> = ids.iter().map(|id| profile_key(id)).collect();
    let request = KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .build()
        .expect("keys set");
    let out = store
        .client
        .batch_get_item()
        .request_items(&store.users_table, request)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(db::dependency)?;
    cost.read(out.consumed_capacity());
    let mut profiles = HashMap::new();
    for item in out
        .responses()
        .and_then(|r| r.get(&store.users_table))
        .into_iter()
        .flatten()
    {
        let profile: Profile = serde_dynamo::from_item(item.clone())?;
        profiles.insert(profile.user_id.clone(), profile);
    }
    Ok(profiles)
}

async fn get_profile_counted(
    store: &BattleStore,
    user_id: &str,
    cost: &mut Cost,
) -> Result<Profile, Error> {
    db::get_item_counted(
        &store.client,
        &store.users_table,
        profile_key(user_id),
        cost,
    )
    .await?
    .ok_or_else(crate::profile::no_profile)
}

/// The caller may look for an opponent only when free.
pub fn check_caller(me: &Profile, now_ms: i64) -> Result<(), Error> {
    if me.guards.active_battle_id.is_some() {
        return Err(already_in_battle());
    }
    if me.guards.has_pending_invitation(now_ms) {
        return Err(Error::conflict(
            "invitation_pending",
            "you already have a random-opponent invitation waiting for an answer",
        ));
    }
    Ok(())
}

pub fn already_in_battle() -> Error {
    Error::conflict("already_in_battle", "you are already in an active battle")
}
