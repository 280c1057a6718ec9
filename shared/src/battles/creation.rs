//! The battles store and the one way a battle comes to exist: a transaction
//! that puts the battle and sets both players' `active_battle_id` guard, each
//! on the condition that the player has none (F-MM-8).

use super::Battle;
use crate::db::{self, classify, key, s, Cost, Item, WriteFailure};
use crate::error::Error;
use crate::keys::battles::{battle_pk, BATTLE_SK};
use crate::keys::users::profile_key;
use crate::profile::Profiles;
use crate::Config;
use aws_sdk_dynamodb::types::{Put, ReturnConsumedCapacity, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

#[derive(Clone)]
pub struct BattleStore {
    pub(crate) client: Client,
    pub(crate) users_table: String,
    pub(crate) battles_table: String,
    pub(crate) profiles: Profiles,
    pub(crate) config: Config,
    pub(crate) cursors: crate::cursor::Cursors,
}

/// Why a transaction did not commit.
pub(crate) enum TxFailure {
    /// Cancelled; one reason per item, in request order (`None`: that item was fine).
    Cancelled(Vec<Option<String>>),
    Failed(Error),
}

impl TxFailure {
    /// Did the item at `index` fail its condition?
    pub(crate) fn condition_failed_at(&self, index: usize) -> bool {
        matches!(self, TxFailure::Cancelled(reasons)
            if reasons.get(index).is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed")))
    }

    /// Cancelled with no failed condition: a conflict with a concurrent transaction, worth a retry.
    pub(crate) fn is_conflict(&self) -> bool {
        matches!(self, TxFailure::Cancelled(reasons)
            if !reasons.iter().any(|r| r.as_deref() == Some("ConditionalCheckFailed")))
    }

    pub(crate) fn into_error(self) -> Error {
        match self {
            TxFailure::Failed(e) => e,
            TxFailure::Cancelled(reasons) => {
                Error::internal(format!("transaction cancelled: {reasons:?}"))
            }
        }
    }
}

impl BattleStore {
    pub fn new(client: Client, config: &Config) -> Self {
        BattleStore {
            profiles: Profiles::new(client.clone(), config),
            cursors: crate::cursor::Cursors::new(client.clone(), &config.tables.battles),
            client,
            users_table: config.tables.users.clone(),
            battles_table: config.tables.battles.clone(),
            config: config.clone(),
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

    /// The battle put and both guards, in that order (indexes 0, 1, 2 of the
    /// caller's transaction when placed first). `clear_pending` also ends the
    /// players' pending random-opponent invitation, which this battle answers.
    pub(crate) fn battle_items(
        &self,
        battle: &Battle,
        clear_pending: bool,
    ) -> Result<Vec<TransactWriteItem>, Error> {
        let mut item: Item = serde_dynamo::to_item(battle)?;
        item.extend(key(battle_pk(&battle.battle_id), BATTLE_SK));
        let mut items = vec![TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.battles_table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .expect("table and item set"),
            )
            .build()];
        let expression = if clear_pending {
            "SET active_battle_id = :battle REMOVE pending_invitation_id, pending_until"
        } else {
            "SET active_battle_id = :battle"
        };
        for player in &battle.players {
            items.push(
                TransactWriteItem::builder()
                    .update(
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
                    .build(),
            );
        }
        Ok(items)
    }

    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        cost: &mut Cost,
    ) -> Result<(), TxFailure> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                cost.write(out.consumed_capacity());
                Ok(())
            }
            Err(err) => {
                // A cancelled transaction still consumed capacity, which the
                // error does not report: count the request.
                cost.write(&[]);
                match classify(err) {
                    WriteFailure::TransactionCancelled(reasons) => {
                        Err(TxFailure::Cancelled(reasons))
                    }
                    WriteFailure::ConditionFailed => Err(TxFailure::Cancelled(vec![Some(
                        "ConditionalCheckFailed".into(),
                    )])),
                    WriteFailure::Other(e) => Err(TxFailure::Failed(e)),
                }
            }
        }
    }
}

/// Short random pauses between retries of a contended transaction.
pub(crate) async fn backoff(attempt: u32) {
    use rand::Rng;
    let ceiling = 10u64 * (1 << attempt.min(5));
    let ms = rand::rng().random_range(0..=ceiling);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}
