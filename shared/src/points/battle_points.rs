//! F-PT-9: battle points, paid when a result is recorded (a `ResultListener`
//! of F-MM-10): win 50, tie 25, taking part 10 (configurable), once per battle
//! and player (the idempotency key says which battle and which player).

use super::award::AwardRequest;
use super::rules::ActivityType;
use super::tracking::Tracking;
use super::upgrades::notify_upgrades;
use crate::battles::results::ResultListener;
use crate::battles::{Battle, Outcome};
use crate::config::BattlePoints as Amounts;
use crate::error::Error;
use crate::realtime::Pusher;
use futures::future::BoxFuture;

pub struct BattlePoints {
    tracking: Tracking,
    pusher: Pusher,
    amounts: Amounts,
}

/// The award each player of a completed battle gets.
pub fn awards_for(battle: &Battle, amounts: Amounts) -> Vec<AwardRequest> {
    battle
        .players
        .iter()
        .map(|p| {
            let (amount, activity_type, what) = match (battle.outcome, battle.winner_id.as_deref())
            {
                (Some(Outcome::Tie), _) => (amounts.tie, ActivityType::BattleTie, "Tie"),
                (Some(Outcome::Win), Some(w)) if w == p.id => {
                    (amounts.win, ActivityType::BattleWin, "Win")
                }
                _ => (
                    amounts.participation,
                    ActivityType::BattleParticipation,
                    "Played",
                ),
            };
            AwardRequest {
                user_id: p.id.clone(),
                amount,
                activity_type,
                description: format!("{what}: {} battle", battle.challenge_type),
                idempotency_key: Some(format!("battle:{}:{}", battle.battle_id, p.id)),
            }
        })
        .collect()
}

impl BattlePoints {
    pub fn new(tracking: Tracking, pusher: Pusher, amounts: Amounts) -> Self {
        BattlePoints {
            tracking,
            pusher,
            amounts,
        }
    }
}

impl ResultListener for BattlePoints {
    fn battle_completed<'a>(
        &'a self,
        battle: &'a Battle,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            for request in awards_for(battle, self.amounts) {
                let (awarded, rewards) = self.tracking.award(&request, now_ms).await?;
                let all: Vec<_> = std::iter::once(&awarded).chain(&rewards).collect();
                notify_upgrades(&self.pusher, &all, now_ms).await;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::battles::{MatchSource, NewBattle, Player};

    #[test]
    fn winner_tie_and_participation() {
        let p = |id: &str| Player {
            id: id.into(),
            username: id.into(),
        };
        let mut b = NewBattle {
            players: [p("a"), p("b")],
            challenge_type: "duel".into(),
            source: MatchSource::Queue,
            invitation_id: None,
            private_code: None,
            stake: None,
        }
        .build(0, 60);
        let amounts = Amounts {
            win: 50,
            tie: 25,
            participation: 10,
        };
        b.outcome = Some(Outcome::Win);
        b.winner_id = Some("b".into());
        let a = awards_for(&b, amounts);
        assert_eq!((a[0].amount, a[1].amount), (10, 50));
        assert_eq!(
            a[1].idempotency_key.as_deref(),
            Some(format!("battle:{}:b", b.battle_id).as_str())
        );
        b.outcome = Some(Outcome::Tie);
        b.winner_id = None;
        assert!(awards_for(&b, amounts)
            .iter()
            .all(|r| r.amount == 25 && r.activity_type == ActivityType::BattleTie));
    }
}
