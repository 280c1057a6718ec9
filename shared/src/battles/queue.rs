//! F-MM-5: queue matching per challenge type.
//!
//! A joiner first writes its own entry, in a random one of the mode's write
//! shards, then pairs itself with one of the oldest other entries in one
//! transaction that deletes both entries and creates the battle. Writing
//! before looking is what makes the queue drain: the look reads every shard
//! in one consistent request (PartiQL `pk IN [...]`), so of two players that
//! join at once, the later one's look always sees the earlier one's entry,
//! and two players who could be paired are never both left waiting. The
//! conditions on both entries make sure no waiting player is taken twice;
//! picking at random among the oldest few keeps joiners that arrive
//! together from all chasing the same entry (issue 23).

use super::matchmaking::already_in_battle;
use super::{Battle, BattleStore, MatchSource, NewBattle, Player};
use crate::db::{self, key, n, retry, s, Cost, Item, Transaction};
use crate::error::Error;
use crate::ids::{ConnectionId, UserId};
use crate::keys::battles::{queue_marker_key, queue_partitions, queue_pk, QUEUE_SHARDS};
use crate::keys::TTL_ATTR;
use aws_sdk_dynamodb::types::{Delete, Put};
use serde::{Deserialize, Serialize};

/// A queue entry lives as long as a WebSocket connection can (the disconnect
/// normally removes it first).
const WAIT_SECS: i64 = 2 * 3600 + 60;
const PAGE: i32 = 25;
/// Pages of a look at most (expired entries the TTL has not removed yet
/// can fill the first).
const MAX_LOOK_PAGES: usize = 4;
/// A joiner pairs with one of this many oldest entries, at random.
const OLDEST_CHOICE: usize = 4;
/// Every failed attempt means another pair formed meanwhile, so the queue
/// drains; the bound only guards against a storage fault looping forever.
const MAX_PAIR_ATTEMPTS: u32 = 500;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    user_id: String,
    username: String,
    connection_id: String,
    valid_until: i64,
    #[serde(skip)]
    pk: String,
    #[serde(skip)]
    sk: String,
}

/// Which entry a player holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Marker {
    challenge_type: String,
    /// The partition of the entry (absent: the unsharded one).
    #[serde(default)]
    entry_pk: Option<String>,
    entry_sk: String,
    connection_id: String,
    valid_until: i64,
}

pub enum JoinOutcome {
    /// Waiting for the next joiner.
    Queued,
    /// This call paired the caller: the battle is new.
    Matched(Battle),
    /// Another joiner paired the caller meanwhile (it notifies both).
    TakenByOther,
}

#[tracing::instrument(skip_all)]
pub async fn join_queue(
    store: &BattleStore,
    user_id: &UserId,
    connection_id: &ConnectionId,
    challenge_type: &str,
    now_ms: i64,
) -> Result<JoinOutcome, Error> {
    let me = store
        .profiles
        .get(user_id)
        .await?
        .ok_or_else(crate::profile::no_profile)?;
    if me.guards.active_battle_id.is_some() {
        return Err(already_in_battle());
    }
    let valid_until = now_ms + WAIT_SECS * 1000;
    let my_pk = queue_pk(challenge_type, Some(rand::random::<u32>() % QUEUE_SHARDS));
    let my_sk = format!("{now_ms:013}#{user_id}");
    let marker = Marker {
        challenge_type: challenge_type.to_string(),
        entry_pk: Some(my_pk.clone()),
        entry_sk: my_sk.clone(),
        connection_id: connection_id.to_string(),
        valid_until,
    };
    let entry = Entry {
        user_id: user_id.to_string(),
        username: me.username.clone(),
        connection_id: connection_id.to_string(),
        valid_until,
        pk: my_pk.clone(),
        sk: my_sk.clone(),
    };
    let mut marker_item: Item = serde_dynamo::to_item(&marker)?;
    marker_item.extend(queue_marker_key(user_id));
    marker_item.insert(TTL_ATTR.into(), n(valid_until / 1000));
    let mut entry_item: Item = serde_dynamo::to_item(&entry)?;
    entry_item.extend(key(&my_pk, &my_sk));
    entry_item.insert(TTL_ATTR.into(), n(valid_until / 1000));
    let mut tx = Transaction::new();
    let marker_put = tx.put(
        Put::builder()
            .table_name(&store.battles_table)
            .set_item(Some(marker_item))
            .condition_expression("attribute_not_exists(pk) OR valid_until <= :now")
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .expect("table and item set"),
    );
    tx.put_item(&store.battles_table, entry_item);
    let mut cost = Cost::default();
    let (my_pk, my_sk) = match store.commit(tx, &mut cost).await {
        Ok(()) => (my_pk, my_sk),
        Err(f) if f.condition_failed(marker_put) => match queue_marker(store, user_id).await? {
            // Joining the same queue again is not an error: look for a partner again.
            Some(held) if held.challenge_type == challenge_type => {
                (held.entry_partition(), held.entry_sk)
            }
            Some(held) => {
                return Err(Error::conflict(
                    "already_queued",
                    format!(
                        "you are waiting in the {:?} queue; leave it first",
                        held.challenge_type
                    ),
                ))
            }
            None => {
                return Err(Error::conflict(
                    "concurrent_update",
                    "your queue state changed meanwhile, retry",
                ))
            }
        },
        Err(f) => return Err(f.into_error()),
    };
    let mine = EntryKey {
        pk: my_pk,
        sk: my_sk,
    };
    pair(store, &me.user_id, challenge_type, &mine, now_ms, &mut cost).await
}

/// Where an entry is.
struct EntryKey {
    pk: String,
    sk: String,
}

impl Marker {
    fn entry_partition(&self) -> String {
        self.entry_pk
            .clone()
            .unwrap_or_else(|| queue_pk(&self.challenge_type, None))
    }
}

async fn pair(
    store: &BattleStore,
    user_id: &str,
    challenge_type: &str,
    mine: &EntryKey,
    now_ms: i64,
    cost: &mut Cost,
) -> Result<JoinOutcome, Error> {
    let my_sk = mine.sk.as_str();
    for attempt in 0..MAX_PAIR_ATTEMPTS {
        let entries = waiting(store, challenge_type, user_id, now_ms).await?;
        let others: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.user_id != user_id)
            .take(OLDEST_CHOICE)
            .collect();
        if others.is_empty() {
            return Ok(JoinOutcome::Queued);
        }
        let other = others[rand::random::<u32>() as usize % others.len()];
        // The caller's username comes from its own entry (written above).
        let me_entry = entries.iter().find(|e| e.sk == my_sk && e.pk == mine.pk);
        let my_name = match me_entry {
            Some(e) => e.username.clone(),
            None => store
                .profiles
                .get(user_id)
                .await?
                .map(|p| p.username)
                .unwrap_or_default(),
        };
        let battle = NewBattle {
            players: [
                Player {
                    id: other.user_id.clone(),
                    username: other.username.clone(),
                },
                Player {
                    id: user_id.to_string(),
                    username: my_name,
                },
            ],
            challenge_type: challenge_type.to_string(),
            source: MatchSource::Queue,
            invitation_id: None,
            private_code: None,
            stake: None,
        }
        .build(now_ms, store.config.battle_duration_secs);
        let mut tx = Transaction::new();
        let my_entry = tx.delete(delete_entry(store, &mine.pk, my_sk));
        let other_entry = tx.delete(delete_entry(store, &other.pk, &other.sk));
        let my_marker = tx.delete(delete_marker(store, user_id, my_sk));
        let other_marker = tx.delete(delete_marker(store, &other.user_id, &other.sk));
        let guards = store.add_battle(&mut tx, &battle, false)?;
        let (other_guard, my_guard) = (guards[0], guards[1]);
        match store.commit(tx, cost).await {
            Ok(()) => return Ok(JoinOutcome::Matched(battle)),
            // Our own entry is gone: someone paired us (or we left).
            Err(f) if f.condition_failed(my_entry) || f.condition_failed(my_marker) => {
                return Ok(JoinOutcome::TakenByOther)
            }
            // The partner was taken by someone else: look again.
            Err(f) if f.condition_failed(other_entry) || f.condition_failed(other_marker) => {
                // Many joiners chase the same oldest entry: spread them out.
                if attempt >= 8 {
                    retry::pause(attempt.min(4)).await;
                }
            }
            // The partner entered a battle some other way: its entry is stale.
            Err(f) if f.condition_failed(other_guard) => {
                remove_queue_entry(store, &other.user_id, &other.pk, &other.sk).await;
            }
            Err(f) if f.condition_failed(my_guard) => {
                remove_queue_entry(store, user_id, &mine.pk, my_sk).await;
                return Err(already_in_battle());
            }
            Err(f) if f.is_conflict() => retry::pause(attempt).await,
            Err(f) => return Err(f.into_error()),
        }
    }
    // Still waiting: a later joiner will see this entry.
    Ok(JoinOutcome::Queued)
}

/// Live entries of a queue, oldest first (expired ones are skipped): every
/// shard in one consistent read, paged until another player's entry shows.
async fn waiting(
    store: &BattleStore,
    challenge_type: &str,
    me: &str,
    now_ms: i64,
) -> Result<Vec<Entry>, Error> {
    let partitions = queue_partitions(challenge_type);
    let statement = format!(
        "SELECT * FROM \"{}\" WHERE pk IN [{}]",
        store.battles_table,
        vec!["?"; partitions.len()].join(", ")
    );
    let mut entries = Vec::new();
    let mut token = None;
    for _ in 0..MAX_LOOK_PAGES {
        let out = store
            .client
            .execute_statement()
            .statement(&statement)
            .set_parameters(Some(partitions.iter().map(s).collect()))
            .consistent_read(true)
            .limit(PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(db::dependency)?;
        for item in out.items() {
            let mut entry: Entry = serde_dynamo::from_item(item.clone())?;
            entry.pk = db::get_s(item, "pk").unwrap_or_default().to_string();
            entry.sk = db::get_s(item, "sk").unwrap_or_default().to_string();
            if entry.valid_until > now_ms {
                entries.push(entry);
            }
        }
        token = out.next_token;
        if token.is_none() || entries.iter().any(|e| e.user_id != me) {
            break;
        }
    }
    entries.sort_by(|a, b| a.sk.cmp(&b.sk));
    Ok(entries)
}

fn delete_entry(store: &BattleStore, pk: &str, sk: &str) -> Delete {
    Delete::builder()
        .table_name(&store.battles_table)
        .set_key(Some(key(pk, sk)))
        .condition_expression("attribute_exists(pk)")
        .build()
        .expect("table and key set")
}

fn delete_marker(store: &BattleStore, user_id: &str, entry_sk: &str) -> Delete {
    Delete::builder()
        .table_name(&store.battles_table)
        .set_key(Some(queue_marker_key(user_id)))
        .condition_expression("entry_sk = :sk")
        .expression_attribute_values(":sk", s(entry_sk))
        .build()
        .expect("table and key set")
}

async fn queue_marker(store: &BattleStore, user_id: &str) -> Result<Option<Marker>, Error> {
    db::get_item(
        &store.client,
        &store.battles_table,
        queue_marker_key(user_id),
    )
    .await
}

/// Best effort: removes one entry and its marker together.
async fn remove_queue_entry(store: &BattleStore, user_id: &str, pk: &str, sk: &str) {
    let mut tx = Transaction::new();
    tx.delete(delete_entry(store, pk, sk));
    tx.delete(delete_marker(store, user_id, sk));
    if let Err(f) = store.commit(tx, &mut Cost::default()).await {
        if !f.is_conflict() {
            tracing::debug!("queue entry already gone");
        }
    }
}

/// F-MM-5: leaves the queue. With `connection_id` (a `$disconnect`), only
/// if that connection is the one that joined. Returns whether an entry was removed.
#[tracing::instrument(skip_all)]
pub async fn leave_queue(
    store: &BattleStore,
    user_id: &UserId,
    connection_id: Option<&ConnectionId>,
) -> Result<bool, Error> {
    let Some(marker) = queue_marker(store, user_id).await? else {
        return Ok(false);
    };
    if connection_id.is_some_and(|c| c.as_str() != marker.connection_id) {
        return Ok(false);
    }
    let mut tx = Transaction::new();
    let held = tx.delete(delete_marker(store, user_id, &marker.entry_sk));
    tx.delete(
        Delete::builder()
            .table_name(&store.battles_table)
            .set_key(Some(key(marker.entry_partition(), &marker.entry_sk)))
            .build()
            .expect("table and key set"),
    );
    match store.commit(tx, &mut Cost::default()).await {
        Ok(()) => Ok(true),
        // Paired (or left) meanwhile.
        Err(f) if f.condition_failed(held) => Ok(false),
        Err(f) => Err(f.into_error()),
    }
}
