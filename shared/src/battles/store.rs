//! The battles store: the battles table (and the players' guards in the
//! users table), its reads by key, and the one way a battle comes to exist:
//! a transaction that puts the battle and sets both players'
//! `active_battle_id` guard, each on the condition that the player has none
//! (F-MM-8). What is done with it lives in modules named for the use case
//! (`matchmaking`, `queue`, `private_code`, `invitations`, `answers`,
//! `invite_tokens`, `results`, `backfill`), as functions that take the store.

use super::invitations::Invitation;
use super::private_code::PrivateMatch;
use super::Battle;
use crate::config::Tables;
use crate::db::{self, key, s, Cost, Handle, Item, Transaction, TxError};
use crate::error::Error;
use crate::ids::validate_id;
use crate::keys::battles::{battle_pk, invitation_key, private_code_key, BATTLE_SK};
use crate::keys::users::profile_key;
use crate::profile::Profiles;
use aws_sdk_dynamodb::types::Update;
use aws_sdk_dynamodb::Client;

/// The timings of battles and invitations, and the online index the random
/// pick reads.
#[derive(Clone, Copy, Debug)]
pub struct BattleSettings {
    /// F-MM-2: a random-opponent invitation waits this long for an answer.
    pub invitation_ttl_secs: i64,
    /// F-MM-7: a direct invitation (by username) stays open this long.
    pub direct_invitation_ttl_secs: i64,
    /// F-MM-6: a private match code is valid this long.
    pub private_code_ttl_secs: i64,
    /// F-MM-9: a battle's deadline, counted from its creation.
    pub battle_duration_secs: i64,
    pub online_shards: u32,
}

/// An active battle's entry in the deadline listing (the `gsi1` index, by
/// the UTC hour of its deadline), which battle reminders read (F-JOB-4).
/// Written with the battle, removed when its result is recorded.
pub fn deadline_listing(battle: &Battle) -> Item {
    crate::keys::battles::deadline_listing(battle.deadline_at, &battle.battle_id)
}

#[derive(Clone)]
pub struct BattleStore {
    pub(crate) client: Client,
    pub(crate) users_table: String,
    pub(crate) battles_table: String,
    pub(crate) profiles: Profiles,
    pub(crate) config: BattleSettings,
    pub(crate) cursors: crate::cursor::Cursors,
}

impl BattleStore {
    /// `cursors` must sign with a key in the battles table (they page its indexes).
    pub fn new(
        client: Client,
        tables: &Tables,
        settings: BattleSettings,
        profiles: Profiles,
        cursors: crate::cursor::Cursors,
    ) -> Self {
        BattleStore {
            profiles,
            cursors,
            client,
            users_table: tables.users.clone(),
            battles_table: tables.battles.clone(),
            config: settings,
        }
    }

    pub fn profiles(&self) -> &Profiles {
        &self.profiles
    }

    pub async fn get_battle(&self, battle_id: &str) -> Result<Option<Battle>, Error> {
        db::get_item(
            &self.client,
            &self.battles_table,
            key(battle_pk(battle_id), BATTLE_SK),
        )
        .await
    }

    pub async fn get_invitation(&self, invitation_id: &str) -> Result<Option<Invitation>, Error> {
        validate_id(invitation_id, "invitation_not_found")?;
        db::get_item(
            &self.client,
            &self.battles_table,
            invitation_key(invitation_id),
        )
        .await
    }

    pub async fn get_private_match(&self, code: &str) -> Result<Option<PrivateMatch>, Error> {
        db::get_item(&self.client, &self.battles_table, private_code_key(code)).await
    }

    /// Adds the battle put and both players' `active_battle_id` guards to `tx`;
    /// returns the guards, in the order of `battle.players`. `clear_pending`
    /// also ends the players' pending random-opponent invitation, which this
    /// battle answers.
    pub(crate) fn add_battle(
        &self,
        tx: &mut Transaction,
        battle: &Battle,
        clear_pending: bool,
    ) -> Result<Vec<Handle>, Error> {
        let mut item: Item = serde_dynamo::to_item(battle)?;
        item.extend(key(battle_pk(&battle.battle_id), BATTLE_SK));
        item.extend(deadline_listing(battle));
        tx.put_new(&self.battles_table, item);
        let expression = if clear_pending {
            "SET active_battle_id = :battle REMOVE pending_invitation_id, pending_until"
        } else {
            "SET active_battle_id = :battle"
        };
        Ok(battle
            .players
            .iter()
            .map(|player| {
                tx.update(
                    Update::builder()
                        .table_name(&self.users_table)
                        .set_key(Some(profile_key(&player.id)))
                        .update_expression(expression)
                        .condition_expression(
                            "attribute_exists(pk) AND attribute_not_exists(active_battle_id)",
                        )
                        .expression_attribute_values(":battle", s(&battle.battle_id))
                        .build()
                        .expect("table, key and expression set"),
                )
            })
            .collect())
    }

    pub(crate) async fn commit(&self, tx: Transaction, cost: &mut Cost) -> Result<(), TxError> {
        tx.commit(&self.client, cost).await
    }
}
