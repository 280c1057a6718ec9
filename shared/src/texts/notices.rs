//! F-SMS-21, F-SMS-22: `match_found` and `battle_result` reach a player by
//! text when no WebSocket connection of theirs took the push (with
//! `only_offline` off: always). Each goes once per battle, player and type,
//! whatever replays or redeliveries follow. Only a verified number is texted.

use super::player::{Notice, PlayerTexts};
use super::{battle_result_text, match_found_text, Links};
use crate::battles::results::ResultListener;
use crate::battles::{messages, Battle};
use crate::error::Error;
use crate::presence::Presence;
use crate::realtime::Pusher;
use crate::sms::store::Related;
use crate::sms::{wire_name, MessageType};
use futures::future::BoxFuture;

#[derive(Clone)]
pub struct BattleNotices {
    texts: PlayerTexts,
    presence: Presence,
    pusher: Pusher,
    links: Links,
    only_offline: bool,
}

impl BattleNotices {
    pub fn new(
        texts: PlayerTexts,
        presence: Presence,
        pusher: Pusher,
        links: Links,
        only_offline: bool,
    ) -> Self {
        BattleNotices {
            texts,
            presence,
            pusher,
            links,
            only_offline,
        }
    }

    /// F-MM-3, F-SMS-21: `match_found` pushed to each player's connections,
    /// and texted to a player none of them reached. The battle exists
    /// already: failures are logged, not returned.
    pub async fn match_found(&self, battle: &Battle, now_ms: i64) {
        let each = battle.players.iter().map(|player| async move {
            let message = messages::match_found(battle, &player.id);
            let reached = match self.pusher.push(&player.id, &message, now_ms).await {
                Ok(report) => report.delivered > 0,
                Err(e) => {
                    e.log();
                    false
                }
            };
            if reached && self.only_offline {
                return;
            }
            let body = match_found_text(battle, &player.id, &self.links.battle(&battle.battle_id));
            if let Err(e) = self
                .text(&player.id, MessageType::MatchFound, battle, body, now_ms)
                .await
            {
                e.log();
            }
        });
        futures::future::join_all(each).await;
    }

    /// F-SMS-22, after the `battle_result` push: a text to each player with
    /// no open connection.
    async fn results(&self, battle: &Battle, now_ms: i64) -> Result<(), Error> {
        for player in &battle.players {
            if self.only_offline
                && !self
                    .presence
                    .connections(&player.id, now_ms)
                    .await?
                    .is_empty()
            {
                continue;
            }
            let body =
                battle_result_text(battle, &player.id, &self.links.battle(&battle.battle_id));
            self.text(&player.id, MessageType::BattleResult, battle, body, now_ms)
                .await?;
        }
        Ok(())
    }

    /// Texts `user_id` about `battle` once per type, if their number is verified.
    async fn text(
        &self,
        user_id: &str,
        message_type: MessageType,
        battle: &Battle,
        body: String,
        now_ms: i64,
    ) -> Result<(), Error> {
        let notice = Notice {
            message_type,
            body,
            related: Some(battle_related(battle)),
            once: format!("{}#{}#{user_id}", wire_name(message_type), battle.battle_id),
            extra_limits: Vec::new(),
            send_by: None,
        };
        self.texts.text(user_id, notice, now_ms).await?;
        Ok(())
    }
}

/// What a text about a battle is related to (F-SMS-2).
pub fn battle_related(battle: &Battle) -> Related {
    Related {
        kind: "battle".into(),
        id: battle.battle_id.clone(),
    }
}

impl ResultListener for BattleNotices {
    fn battle_completed<'a>(
        &'a self,
        battle: &'a Battle,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.results(battle, now_ms))
    }
}
