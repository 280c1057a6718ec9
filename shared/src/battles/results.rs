//! F-MM-10: recording a battle's result (by the judging service). Completing
//! the battle and releasing both players' guards is one transaction; a repeat
//! of the same result is a success that changes nothing.

use super::{Battle, BattleStatus, BattleStore, Outcome};
use crate::db::{n, retry, s, Cost, Transaction, UpdateExpr};
use crate::error::Error;
use crate::ids::BattleId;
use crate::keys::battles::battle_key;
use crate::keys::users::profile_key;
use futures::future::BoxFuture;
use serde::Deserialize;

const MAX_ATTEMPTS: u32 = 5;

/// `POST /v1/battles/{id}/result` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultInput {
    pub outcome: Outcome,
    #[serde(default)]
    pub winner_id: Option<String>,
}

/// What else happens when a battle completes (battle points F-PT-9, the
/// battle_result SMS F-SMS-22). Listeners run after every successful call,
/// replays included, so a retry finishes work an earlier failure interrupted:
/// each must be idempotent per battle and player.
pub trait ResultListener: Send + Sync {
    fn battle_completed<'a>(
        &'a self,
        battle: &'a Battle,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<(), Error>>;
}

pub struct Recorded {
    pub battle: Battle,
    /// False when the same result had already been recorded.
    pub first_time: bool,
}

/// The pure check of a result against the battle.
pub fn validate_result(input: &ResultInput, battle: &Battle) -> Result<Option<String>, Error> {
    match (input.outcome, input.winner_id.as_deref()) {
        (Outcome::Tie, None) => Ok(None),
        (Outcome::Tie, Some(_)) => Err(Error::validation("a tie has no winner_id")),
        (Outcome::Win, None) => Err(Error::validation("a win needs winner_id")),
        (Outcome::Win, Some(w)) if battle.is_participant(w) => Ok(Some(w.to_string())),
        (Outcome::Win, Some(_)) => Err(Error::validation(
            "winner_id is not a participant of this battle",
        )),
    }
}

pub fn battle_not_found() -> Error {
    Error::not_found("battle_not_found", "no battle with that id")
}

#[tracing::instrument(skip_all)]
pub async fn record_result(
    store: &BattleStore,
    battle_id: &BattleId,
    input: &ResultInput,
    now_ms: i64,
) -> Result<Recorded, Error> {
    for attempt in 0..MAX_ATTEMPTS {
        let battle = store
            .get_battle(battle_id)
            .await?
            .ok_or_else(battle_not_found)?;
        let winner = validate_result(input, &battle)?;
        match battle.status {
            BattleStatus::Completed
                if battle.outcome == Some(input.outcome) && battle.winner_id == winner =>
            {
                return Ok(Recorded {
                    battle,
                    first_time: false,
                })
            }
            BattleStatus::Completed => {
                return Err(Error::conflict(
                    "result_already_recorded",
                    "a different result was already recorded for this battle",
                ))
            }
            BattleStatus::Cancelled => {
                return Err(Error::conflict(
                    "battle_cancelled",
                    "the battle was cancelled",
                ))
            }
            BattleStatus::Active => {}
        }
        let mut complete = UpdateExpr::new()
            .set("status", s("completed"))
            .set("outcome", serde_dynamo::to_attribute_value(input.outcome)?)
            .set("completed_at", n(now_ms));
        // Out of the deadline listing: no reminder for an ended battle.
        complete = crate::keys::battles::unlist_deadline(complete)
            .condition("#status = :active")
            .value(":active", s("active"));
        if let Some(w) = &winner {
            complete = complete.set("winner_id", s(w));
        }
        let mut tx = Transaction::new();
        let battle_update =
            tx.update(complete.into_update(&store.battles_table, battle_key(battle_id)));
        for player in &battle.players {
            tx.update(
                UpdateExpr::new()
                    .remove("active_battle_id")
                    .condition(
                        "attribute_exists(pk) AND (attribute_not_exists(#active_battle_id) OR #active_battle_id = :battle)",
                    )
                    .value(":battle", s(battle_id.as_str()))
                    .into_update(&store.users_table, profile_key(&player.id)),
            );
        }
        match store.commit(tx, &mut Cost::default()).await {
            Ok(()) => {
                let battle = Battle {
                    status: BattleStatus::Completed,
                    outcome: Some(input.outcome),
                    winner_id: winner,
                    completed_at: Some(now_ms),
                    ..battle
                };
                return Ok(Recorded {
                    battle,
                    first_time: true,
                });
            }
            // Completed meanwhile: the next read decides (same result or conflict).
            Err(f) if f.condition_failed(battle_update) => continue,
            Err(f) if f.is_conflict() => retry::pause(attempt).await,
            Err(f) => return Err(f.into_error()),
        }
    }
    Err(Error::conflict(
        "concurrent_update",
        "the battle is being updated by another request, retry",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::battles::{MatchSource, NewBattle, Player};

    fn battle() -> Battle {
        let p = |id: &str| Player {
            id: id.into(),
            username: id.into(),
        };
        NewBattle {
            players: [p("a"), p("b")],
            challenge_type: "duel".into(),
            source: MatchSource::Direct,
            invitation_id: None,
            private_code: None,
            stake: None,
        }
        .build(0, 60)
    }

    #[test]
    fn results_must_fit_the_battle() {
        let b = battle();
        let r = |outcome, winner: Option<&str>| ResultInput {
            outcome,
            winner_id: winner.map(String::from),
        };
        assert_eq!(
            validate_result(&r(Outcome::Win, Some("a")), &b).unwrap(),
            Some("a".into())
        );
        assert_eq!(validate_result(&r(Outcome::Tie, None), &b).unwrap(), None);
        assert!(validate_result(&r(Outcome::Win, Some("c")), &b).is_err());
        assert!(validate_result(&r(Outcome::Win, None), &b).is_err());
        assert!(validate_result(&r(Outcome::Tie, Some("a")), &b).is_err());
    }
}
