//! F-SMS-21, F-SMS-22: `match_found` and `battle_result` reach a player by
//! text when no WebSocket connection of theirs took the push (with
//! `only_offline` off: always). Each goes once per battle, player and type,
//! whatever replays or redeliveries follow. Only a verified number is texted.

use super::{battle_result_text, match_found_text, Links};
use crate::battles::results::ResultListener;
use crate::battles::{messages, Battle};
use crate::error::Error;
use crate::phone::PhoneNumber;
use crate::presence::Presence;
use crate::profile::Profiles;
use crate::realtime::Pusher;
use crate::sms::outbox::{Outbox, SmsRequest};
use crate::sms::store::Related;
use crate::sms::{wire_name, MessageType};
use futures::future::BoxFuture;

#[derive(Clone)]
pub struct BattleNotices {
    profiles: Profiles,
    presence: Presence,
    pusher: Pusher,
    outbox: Outbox,
    links: Links,
    only_offline: bool,
}

impl BattleNotices {
    pub fn new(
        profiles: Profiles,
        presence: Presence,
        pusher: Pusher,
        outbox: Outbox,
        links: Links,
        only_offline: bool,
    ) -> Self {
        BattleNotices {
            profiles,
            presence,
            pusher,
            outbox,
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
        let Some(profile) = self.profiles.get(user_id).await? else {
            return Ok(());
        };
        let number = match (&profile.phone.number, profile.phone.verified) {
            (Some(number), true) => PhoneNumber::parse(number)?,
            _ => return Ok(()),
        };
        let request = SmsRequest {
            to: number,
            message_type,
            body,
            user_id: Some(user_id.to_string()),
            sender_id: None,
            related: Some(Related {
                kind: "battle".into(),
                id: battle.battle_id.clone(),
            }),
            verified: true,
            preferences: profile.sms_preferences.clone(),
            timezone: Some(profile.timezone.clone()).filter(|t| !t.is_empty()),
            with: Vec::new(),
            extra_limits: Vec::new(),
        };
        let once = format!("{}#{}#{user_id}", wire_name(message_type), battle.battle_id);
        self.outbox.enqueue_once(request, &once, now_ms).await?;
        Ok(())
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
