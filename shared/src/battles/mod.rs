//! Matchmaking and battles (F-MM-1 … F-MM-10).
//!
//! Items in the battles table (the users table holds the per-player guards, see
//! `profile`):
//! - `BATTLE#<id>` / `BATTLE`: a battle (F-MM-9); while active, `gsi1` lists it
//!   by deadline (`DEADLINE#<UTC hour>#<shard>`, for reminders, F-JOB-4);
//! - `INVITATION#<id>` / `INVITATION`: an invitation; `gsi1` lists a recipient's
//!   (`INVITED#<user>`), `gsi2` a sender's (`INVITER#<user>`), newest first;
//! - `QUEUE#<challenge type>` / `<enqueued at>#<user>`: a waiting player, oldest first,
//!   and `QUEUED#<user>` / `QUEUED`: which entry a player holds (one at a time);
//! - `PRIVATE#<code>` / `PRIVATE`: a private match code (F-MM-6);
//! - `INVITE#<token hash>` / `TOKEN`: an invite link sent by SMS (F-SMS-20).
//!
//! Every multi-item rule is one `TransactWriteItems` with conditions: a battle
//! is created together with both players' `active_battle_id` guards, so no
//! interleaving can put a player in two battles (F-MM-8).

pub mod answers;
pub mod backfill;
pub mod invitations;
pub mod invite_tokens;
pub mod matchmaking;
pub mod messages;
pub mod private_code;
pub mod queue;
pub mod results;
pub mod store;
pub mod timer;

use crate::error::Error;
use serde::{Deserialize, Serialize};

pub use store::BattleStore;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchSource {
    ActiveUser,
    Queue,
    PrivateCode,
    Direct,
    SmsInvite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BattleStatus {
    Active,
    Completed,
    Cancelled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Win,
    Tie,
}

/// A participant as battles and invitations show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Player {
    pub id: String,
    pub username: String,
}

impl Player {
    pub fn of(profile: &crate::profile::Profile) -> Self {
        Player {
            id: profile.user_id.clone(),
            username: profile.username.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Battle {
    pub battle_id: String,
    pub players: Vec<Player>,
    pub challenge_type: String,
    pub source: MatchSource,
    pub status: BattleStatus,
    pub created_at: i64,
    pub deadline_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stake: Option<i64>,
}

impl Battle {
    pub fn is_participant(&self, user_id: &str) -> bool {
        self.players.iter().any(|p| p.id == user_id)
    }

    /// The other player, from `user_id`'s side.
    pub fn opponent_of(&self, user_id: &str) -> Option<&Player> {
        self.players.iter().find(|p| p.id != user_id)
    }
}

/// A battle about to be created: what every source knows before the write.
pub struct NewBattle {
    pub players: [Player; 2],
    pub challenge_type: String,
    pub source: MatchSource,
    pub invitation_id: Option<String>,
    pub private_code: Option<String>,
    pub stake: Option<i64>,
}

impl NewBattle {
    pub fn build(self, now_ms: i64, duration_secs: i64) -> Battle {
        Battle {
            battle_id: crate::ids::new_id(),
            players: self.players.to_vec(),
            challenge_type: self.challenge_type,
            source: self.source,
            status: BattleStatus::Active,
            created_at: now_ms,
            deadline_at: now_ms + duration_secs * 1000,
            completed_at: None,
            outcome: None,
            winner_id: None,
            invitation_id: self.invitation_id,
            private_code: self.private_code,
            stake: self.stake,
        }
    }
}

/// Challenge types name a game mode the clients know: `[a-z0-9_-]`, 1–40 characters.
pub fn validate_challenge_type(raw: Option<&str>) -> Result<String, Error> {
    let raw = raw.ok_or_else(|| Error::validation("challenge_type is required"))?;
    let ok = (1..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(raw.to_string())
    } else {
        Err(Error::validation(
            "challenge_type must be 1 to 40 characters of a-z, 0-9, _ and -",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_types() {
        assert_eq!(
            validate_challenge_type(Some("prompt_duel-2")).unwrap(),
            "prompt_duel-2"
        );
        for bad in [None, Some(""), Some("Upper"), Some("a b"), Some("x#y")] {
            assert!(validate_challenge_type(bad).is_err(), "{bad:?}");
        }
        assert!(validate_challenge_type(Some(&"a".repeat(41))).is_err());
    }

    #[test]
    fn battle_sides() {
        let b = NewBattle {
            players: [
                Player {
                    id: "a".into(),
                    username: "ann".into(),
                },
                Player {
                    id: "b".into(),
                    username: "bob".into(),
                },
            ],
            challenge_type: "duel".into(),
            source: MatchSource::Queue,
            invitation_id: None,
            private_code: None,
            stake: None,
        }
        .build(1_000, 60);
        assert_eq!(b.deadline_at, 61_000);
        assert_eq!(b.opponent_of("a").unwrap().id, "b");
        assert!(b.is_participant("b") && !b.is_participant("c"));
    }
}
