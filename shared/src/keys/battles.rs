//! The battles table: battles, invitations (with their two listing indexes),
//! the queue and private match codes (F-MM-*).

use crate::db::{key, Item};

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

/// `QUEUE#<challenge type>`: the waiting players of one mode, oldest first.
pub fn queue_pk(challenge_type: &str) -> String {
    format!("QUEUE#{challenge_type}")
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

/// `gsi1pk` of an active battle: the UTC hour of its deadline
/// (`DEADLINE#2026-11-22T18`), so reminders read only the battles due soon
/// (F-JOB-4). Removed when the battle ends.
pub fn deadline_pk(deadline_ms: i64) -> String {
    format!("DEADLINE#{}", crate::clock::utc_hour_key(deadline_ms))
}

/// `gsi1sk` of an active battle: its deadline, then its id.
pub fn deadline_sk(deadline_ms: i64, battle_id: &str) -> String {
    format!("{deadline_ms:013}#{battle_id}")
}
