//! The battles table: battles, invitations (with their two listing indexes),
//! the queue and private match codes (F-MM-*).

use crate::db::{key, s, Item, UpdateExpr};

/// `gsi1`: a recipient's invitations (`INVITED#<user>`), and the active
/// battles by the UTC hour of their deadline (`DEADLINE#<hour>`).
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// `gsi2`: a sender's invitations (`INVITER#<user>`).
pub const GSI2: &str = "gsi2";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";

/// An invitation's listing keys: in its sender's box, and in its
/// recipient's once the recipient is a player (see [`list_for_invitee`]).
pub fn invitation_listing(from_user: &str, to_user: Option<&str>, sort: &str) -> Item {
    let mut item = Item::from([
        (GSI2_PK.to_string(), s(inviter_pk(from_user))),
        (GSI2_SK.to_string(), s(sort)),
    ]);
    if let Some(to) = to_user {
        item.insert(GSI1_PK.into(), s(invited_pk(to)));
        item.insert(GSI1_SK.into(), s(sort));
    }
    item
}

/// The update that puts an invitation in its recipient's box, as a direct
/// invitation has it from the start (an invitation by SMS, once accepted).
pub fn list_for_invitee(update: UpdateExpr, user_id: &str, sort: &str) -> UpdateExpr {
    update
        .set(GSI1_PK, s(invited_pk(user_id)))
        .set(GSI1_SK, s(sort))
}

/// An active battle's entry in the deadline listing (`gsi1`, by the UTC
/// hour of its deadline), which battle reminders read (F-JOB-4).
pub fn deadline_listing(deadline_ms: i64, battle_id: &str) -> Item {
    Item::from([
        (GSI1_PK.to_string(), s(deadline_pk(deadline_ms, battle_id))),
        (GSI1_SK.to_string(), s(deadline_sk(deadline_ms, battle_id))),
    ])
}

/// The update that takes an ended battle out of the deadline listing.
pub fn unlist_deadline(update: UpdateExpr) -> UpdateExpr {
    update.remove(GSI1_PK).remove(GSI1_SK)
}

pub const BATTLE_SK: &str = "BATTLE";
pub const INVITATION_SK: &str = "INVITATION";

pub fn battle_pk(battle_id: &str) -> String {
    format!("BATTLE#{battle_id}")
}

pub fn battle_key(battle_id: &str) -> Item {
    key(battle_pk(battle_id), BATTLE_SK)
}

pub fn invitation_key(invitation_id: &str) -> Item {
    key(format!("INVITATION#{invitation_id}"), INVITATION_SK)
}

/// `gsi1pk`: a recipient's invitations.
pub fn invited_pk(user_id: &str) -> String {
    format!("{INVITED_PREFIX}{user_id}")
}

/// `gsi2pk`: a sender's invitations.
pub fn inviter_pk(user_id: &str) -> String {
    format!("{INVITER_PREFIX}{user_id}")
}

pub const INVITED_PREFIX: &str = "INVITED#";
pub const INVITER_PREFIX: &str = "INVITER#";

/// Write shards of each mode's queue: every join writes an entry and every
/// pairing deletes two, so one partition would cap a mode at about 550
/// joins a second (issue 23); 8 lift the writes past 4,000, and a joiner
/// reads them all in one request.
pub const QUEUE_SHARDS: u32 = 8;

/// `QUEUE#<challenge type>#<shard>`: the waiting players of one mode that
/// wrote to `shard`, oldest first; `None`: the unsharded partition entries
/// written before the shards existed are in.
pub fn queue_pk(challenge_type: &str, shard: Option<u32>) -> String {
    match shard {
        Some(i) => format!("QUEUE#{challenge_type}#{i}"),
        None => format!("QUEUE#{challenge_type}"),
    }
}

/// Every partition of a mode's queue, the unsharded one last.
pub fn queue_partitions(challenge_type: &str) -> Vec<String> {
    (0..QUEUE_SHARDS)
        .map(Some)
        .chain(std::iter::once(None))
        .map(|shard| queue_pk(challenge_type, shard))
        .collect()
}

/// `QUEUED#<user>` / `QUEUED`: the queue entry a player holds.
pub fn queue_marker_key(user_id: &str) -> Item {
    key(format!("QUEUED#{user_id}"), "QUEUED")
}

/// `PRIVATE#<code>` / `PRIVATE`: a private match code (F-MM-6).
pub fn private_code_key(code: &str) -> Item {
    key(format!("PRIVATE#{code}"), "PRIVATE")
}

/// `INVITE#<sha-256 of the token>` / `TOKEN`: an invite link (F-SMS-20).
pub fn invite_token_key(token_hash: &str) -> Item {
    key(format!("INVITE#{token_hash}"), "TOKEN")
}

/// Shards of each deadline hour: every battle created and every result
/// recorded writes its hour's entry, so one partition per hour would cap
/// both at 500 a second (issue 23); 16 lift that to 8,000.
pub const DEADLINE_SHARDS: u32 = 16;

/// `gsi1pk` of an active battle: the UTC hour of its deadline and the
/// battle's shard of that hour (`DEADLINE#2026-11-22T18#07`), so reminders
/// read only the battles due soon (F-JOB-4). Removed when the battle ends.
pub fn deadline_pk(deadline_ms: i64, battle_id: &str) -> String {
    format!(
        "{}#{:02}",
        deadline_hour_pk(deadline_ms),
        super::shard_of(battle_id, DEADLINE_SHARDS)
    )
}

/// Every partition of one deadline hour: its shards, and the unsharded
/// hour that battles listed before the shards existed still hold (until
/// they end, one battle duration after the upgrade).
pub fn deadline_partitions(hour_ms: i64) -> Vec<String> {
    let hour = deadline_hour_pk(hour_ms);
    (0..DEADLINE_SHARDS)
        .map(|i| format!("{hour}#{i:02}"))
        .chain(std::iter::once(hour.clone()))
        .collect()
}

fn deadline_hour_pk(deadline_ms: i64) -> String {
    format!("DEADLINE#{}", crate::clock::utc_hour_key(deadline_ms))
}

/// `gsi1sk` of an active battle: its deadline, then its id.
pub fn deadline_sk(deadline_ms: i64, battle_id: &str) -> String {
    format!("{deadline_ms:013}#{battle_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_battles_deadline_entry_is_in_a_partition_its_hour_reads() {
        let deadline: i64 = 1_796_000_000_000;
        let hour_start = deadline - deadline.rem_euclid(3_600_000);
        let partitions = deadline_partitions(hour_start);
        assert_eq!(partitions.len(), DEADLINE_SHARDS as usize + 1);
        let mut used = std::collections::BTreeSet::new();
        for i in 0..400 {
            let pk = deadline_pk(deadline, &format!("01JBATTLE{i:05}"));
            assert!(partitions.contains(&pk), "{pk}");
            used.insert(pk);
        }
        assert_eq!(used.len(), DEADLINE_SHARDS as usize, "every shard is used");
    }
}
