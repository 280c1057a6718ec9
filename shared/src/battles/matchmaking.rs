//! F-MM-1, F-MM-2, F-MM-4: a random online opponent, politely (an invitation).
//!
//! The pick reads one shard of the sparse `online` index (most recently active
//! first, a bounded page), then the sampled candidates' profiles in one
//! `BatchGetItem`, and writes the invitation with both players' guards in one
//! transaction. No step reads more than a fixed number of items, so the cost
//! does not grow with the number of registered or online users. When a shard
//! has nobody eligible the next one is tried, up to all of them (a few online
//! players among 16 shards), which bounds the worst case by the shard count.

use super::invitations::{Invitation, InviteFailure};
use super::{BattleStore, MatchSource};
use crate::db::{self, s, Cost};
use crate::error::Error;
use crate::keys::users::{online_shard_name, profile_key};
use crate::profile::Profile;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnConsumedCapacity};
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::HashMap;

/// Index entries read from one shard (profiles and open connections).
const SAMPLE_PER_SHARD: i32 = 20;
/// Profiles read per shard tried.
const CANDIDATES_PER_SHARD: usize = 8;
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

impl BattleStore {
    pub async fn find_opponent(
        &self,
        caller_id: &str,
        challenge_type: &str,
        now_ms: i64,
    ) -> Result<Found, Error> {
        let mut cost = Cost::default();
        let shards = self.config.online_shards;
        let first = rand::rng().random_range(0..shards);
        let mut caller: Option<Profile> = None;
        let mut attempts = 0;
        // Shards are visited from a random one on; a sparse population may need
        // several, so the worst case is bounded by the shard count (config), never
        // by the number of users.
        for i in 0..shards {
            let shard = online_shard_name((first + i) % shards);
            let ids = self
                .sample_online(&shard, caller_id, now_ms, &mut cost)
                .await?;
            if ids.is_empty() && caller.is_some() {
                continue;
            }
            let mut profiles = self
                .read_profiles(caller_id, caller.is_none(), &ids, &mut cost)
                .await?;
            if caller.is_none() {
                let me = match profiles.remove(caller_id) {
                    Some(p) => p,
                    None => self.get_profile_counted(caller_id, &mut cost).await?,
                };
                check_caller(&me, now_ms)?;
                caller = Some(me);
            }
            let me = caller.as_ref().expect("set above");
            for id in &ids {
                let Some(candidate) = profiles.get(id) else {
                    continue;
                };
                if !candidate.can_be_picked_by(caller_id, now_ms) {
                    continue;
                }
                if attempts == MAX_INVITE_ATTEMPTS {
                    return Ok(Found {
                        outcome: FindOutcome::NoActiveUsers,
                        cost,
                    });
                }
                attempts += 1;
                match self
                    .create_invitation(
                        me,
                        candidate,
                        challenge_type,
                        MatchSource::ActiveUser,
                        now_ms,
                        &mut cost,
                    )
                    .await
                {
                    Ok(invitation) => {
                        return Ok(Found {
                            outcome: FindOutcome::Invited(Box::new(invitation)),
                            cost,
                        })
                    }
                    Err(InviteFailure::OpponentBusy) => continue,
                    Err(InviteFailure::CallerBusy) => {
                        let fresh = self.get_profile_counted(caller_id, &mut cost).await?;
                        check_caller(&fresh, now_ms)?;
                        return Err(Error::conflict(
                            "concurrent_update",
                            "your state changed during the search, retry",
                        ));
                    }
                    Err(InviteFailure::Failed(e)) => return Err(e),
                }
            }
        }
        if caller.is_none() {
            let me = self.get_profile_counted(caller_id, &mut cost).await?;
            check_caller(&me, now_ms)?;
        }
        Ok(Found {
            outcome: FindOutcome::NoActiveUsers,
            cost,
        })
    }

    /// Up to [`CANDIDATES_PER_SHARD`] distinct users of one shard who count as
    /// online now, in random order (the page is the most recently active).
    async fn sample_online(
        &self,
        shard: &str,
        caller_id: &str,
        now_ms: i64,
        cost: &mut Cost,
    ) -> Result<Vec<String>, Error> {
        let out = self
            .client
            .query()
            .table_name(&self.users_table)
            .index_name("online")
            .key_condition_expression("online_shard = :shard AND online_until > :now")
            .expression_attribute_values(":shard", s(shard))
            .expression_attribute_values(":now", db::n(now_ms))
            .scan_index_forward(false)
            .limit(SAMPLE_PER_SHARD)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(db::dependency)?;
        cost.read(out.consumed_capacity.as_slice());
        let mut ids: Vec<String> = Vec::new();
        for item in out.items() {
            let Some(id) = db::get_s(item, "pk").and_then(|pk| pk.strip_prefix("USER#")) else {
                continue;
            };
            if id != caller_id && !ids.iter().any(|seen| seen == id) {
                ids.push(id.to_string());
            }
        }
        ids.shuffle(&mut rand::rng());
        ids.truncate(CANDIDATES_PER_SHARD);
        Ok(ids)
    }

    /// The profiles of `ids` (and the caller's, when asked) in one request.
    /// Keys DynamoDB leaves unprocessed are simply not candidates this time.
    async fn read_profiles(
        &self,
        caller_id: &str,
        with_caller: bool,
        ids: &[String],
        cost: &mut Cost,
    ) -> Result<HashMap<String, Profile>, Error> {
        let mut keys: Vec<_> = ids.iter().map(|id| profile_key(id)).collect();
        if with_caller {
            keys.push(profile_key(caller_id));
        }
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .build()
            .expect("keys set");
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.users_table, request)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(db::dependency)?;
        cost.read(out.consumed_capacity());
        let mut profiles = HashMap::new();
        for item in out
            .responses()
            .and_then(|r| r.get(&self.users_table))
            .into_iter()
            .flatten()
        {
            let profile: Profile = serde_dynamo::from_item(item.clone())?;
            profiles.insert(profile.user_id.clone(), profile);
        }
        Ok(profiles)
    }

    async fn get_profile_counted(&self, user_id: &str, cost: &mut Cost) -> Result<Profile, Error> {
        db::get_item_counted(&self.client, &self.users_table, profile_key(user_id), cost)
            .await?
            .ok_or_else(crate::profile::no_profile)
    }
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
