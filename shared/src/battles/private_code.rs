//! F-MM-6: private matches by a short code a player shares by hand, or by
//! text (`invite_phone`, sent by `texts::invites`). Codes avoid characters people confuse (0/O, 1/I/L).

use super::matchmaking::already_in_battle;
use super::{Battle, BattleStore, MatchSource, NewBattle, Player};
use crate::clock::rfc3339;
use crate::db::{self, n, retry, s, Cost, Item, Transaction, UpdateExpr};
use crate::error::Error;
use crate::keys::battles::private_code_key;
use crate::keys::TTL_ATTR;
use crate::profile::Profile;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const CODE_LENGTH: usize = 6;
pub const MAX_CREATE_ATTEMPTS: u32 = 5;
const MAX_JOIN_ATTEMPTS: u32 = 5;
/// Used codes stay readable (for a clear "already used") this long.
const RETENTION_SECS: i64 = 7 * 24 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    Open,
    Joined,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivateMatch {
    pub code: String,
    pub creator: Player,
    pub challenge_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stake: Option<i64>,
    pub created_at: i64,
    pub valid_until: i64,
    pub status: CodeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battle_id: Option<String>,
}

impl PrivateMatch {
    pub fn view(&self, now_ms: i64) -> Value {
        let status = match self.status {
            CodeStatus::Open if now_ms >= self.valid_until => "expired",
            CodeStatus::Open => "open",
            CodeStatus::Joined => "joined",
        };
        json!({
            "code": self.code,
            "creator": self.creator,
            "challenge_type": self.challenge_type,
            "stake": self.stake,
            "status": status,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.valid_until),
            "battle_id": self.battle_id,
        })
    }
}

pub fn new_code(rng: &mut impl Rng) -> String {
    (0..CODE_LENGTH)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Codes are typed by people: case and surrounding spaces do not matter.
pub fn normalize_code(raw: &str) -> Result<String, Error> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
        Ok(code)
    } else {
        Err(Error::bad_request(
            "invalid_code",
            format!(
                "a match code is {CODE_LENGTH} characters of {}",
                std::str::from_utf8(CODE_ALPHABET).unwrap_or_default()
            ),
        ))
    }
}

/// Drawn codes kept colliding: not the caller's fault, and not expected.
pub fn code_space_exhausted() -> Error {
    Error::internal("could not draw a free match code")
}

fn code_not_found() -> Error {
    Error::not_found("code_not_found", "no private match with that code")
}

#[tracing::instrument(skip_all)]
pub async fn create_private_match(
    store: &BattleStore,
    creator: &Profile,
    challenge_type: &str,
    stake: Option<i64>,
    now_ms: i64,
) -> Result<PrivateMatch, Error> {
    for _ in 0..MAX_CREATE_ATTEMPTS {
        let (private, item) = draft_private_match(store, creator, challenge_type, stake, now_ms)?;
        // `false`: the code is taken (one in ~900 million): draw again.
        if db::put_new(&store.client, &store.battles_table, item).await? {
            return Ok(private);
        }
    }
    Err(code_space_exhausted())
}

/// A new code and the item that creates it (on the condition that the
/// code is free), not written: a code sent by text commits with its
/// text's log (`texts::invites`).
pub fn draft_private_match(
    store: &BattleStore,
    creator: &Profile,
    challenge_type: &str,
    stake: Option<i64>,
    now_ms: i64,
) -> Result<(PrivateMatch, Item), Error> {
    if creator.guards.active_battle_id.is_some() {
        return Err(already_in_battle());
    }
    let code = new_code(&mut rand::rng());
    let private = PrivateMatch {
        code: code.clone(),
        creator: Player::of(creator),
        challenge_type: challenge_type.to_string(),
        stake,
        created_at: now_ms,
        valid_until: now_ms + store.config.private_code_ttl_secs * 1000,
        status: CodeStatus::Open,
        battle_id: None,
    };
    let mut item: Item = serde_dynamo::to_item(&private)?;
    item.extend(private_code_key(&code));
    item.insert(
        TTL_ATTR.into(),
        n(private.valid_until / 1000 + RETENTION_SECS),
    );
    Ok((private, item))
}

/// F-MM-6: joining an open code creates the battle; the code is used once.
#[tracing::instrument(skip_all)]
pub async fn join_private_match(
    store: &BattleStore,
    raw_code: &str,
    joiner: &Profile,
    now_ms: i64,
) -> Result<Battle, Error> {
    let code = normalize_code(raw_code)?;
    let mut cost = Cost::default();
    for attempt in 0..MAX_JOIN_ATTEMPTS {
        let private = store
            .get_private_match(&code)
            .await?
            .ok_or_else(code_not_found)?;
        if private.creator.id == joiner.user_id {
            return Err(Error::conflict(
                "own_code",
                "you created this code; share it with your opponent",
            ));
        }
        if private.status == CodeStatus::Joined {
            return Err(Error::conflict(
                "code_already_used",
                "this code has already been used",
            ));
        }
        if now_ms >= private.valid_until {
            return Err(Error::conflict(
                "code_expired",
                "this code has expired; ask for a new one",
            ));
        }
        if joiner.guards.active_battle_id.is_some() {
            return Err(already_in_battle());
        }
        let battle = NewBattle {
            players: [private.creator.clone(), Player::of(joiner)],
            challenge_type: private.challenge_type.clone(),
            source: MatchSource::PrivateCode,
            invitation_id: None,
            private_code: Some(code.clone()),
            stake: private.stake,
        }
        .build(now_ms, store.config.battle_duration_secs);
        let mut tx = Transaction::new();
        let code_update = tx.update(
            UpdateExpr::new()
                .set("status", s("joined"))
                .set("battle_id", s(&battle.battle_id))
                .set("joined_at", n(now_ms))
                .condition("#status = :open AND #valid_until > :joined_at")
                .named("valid_until")
                .value(":open", s("open"))
                .into_update(&store.battles_table, private_code_key(&code)),
        );
        let guards = store.add_battle(&mut tx, &battle, false)?;
        let (creator_guard, joiner_guard) = (guards[0], guards[1]);
        match store.commit(tx, &mut cost).await {
            Ok(()) => return Ok(battle),
            // Used or expired meanwhile: the next read says which.
            Err(f) if f.condition_failed(code_update) => continue,
            Err(f) if f.condition_failed(creator_guard) => {
                return Err(Error::conflict(
                    "opponent_in_battle",
                    "the code's creator is already in another battle",
                ))
            }
            Err(f) if f.condition_failed(joiner_guard) => return Err(already_in_battle()),
            Err(f) if f.is_conflict() => retry::pause(attempt).await,
            Err(f) => return Err(f.into_error()),
        }
    }
    Err(Error::conflict(
        "concurrent_update",
        "the code is being joined by another request, retry",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn codes_never_contain_ambiguous_characters(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let code = new_code(&mut rng);
            prop_assert_eq!(code.len(), CODE_LENGTH);
            for ambiguous in ['0', 'O', '1', 'I', 'L'] {
                prop_assert!(!code.contains(ambiguous));
            }
            prop_assert_eq!(normalize_code(&code.to_lowercase()).unwrap(), code);
        }
    }

    #[test]
    fn bad_codes_are_refused() {
        for bad in ["", "ABC", "ABCDEFG", "ABCDE0", "ABCDEI", "ABC DE"] {
            assert_eq!(
                normalize_code(bad).unwrap_err().code(),
                "invalid_code",
                "{bad}"
            );
        }
        assert_eq!(normalize_code("  abcdef ").unwrap(), "ABCDEF");
    }
}
