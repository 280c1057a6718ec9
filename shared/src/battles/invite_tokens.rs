//! Invitations to a phone number that has no account (F-SMS-19, F-SMS-20).
//! The invite link carries a token of 256 random bits; only its SHA-256 is
//! stored (`INVITE#<hash>` / `TOKEN`), so neither a read of the table nor a
//! log line can rebuild a link. The token lives 7 days and is used once:
//! accepting closes the invitation, in the same transaction that starts
//! the battle, on the condition that it is still pending.

use super::answers::concurrent_answer;
use super::invitations::{not_pending, Invitation, InvitationStatus};
use super::{Battle, BattleStore, MatchSource, Player};
use crate::clock::rfc3339;
use crate::db::{self, n, Cost, Item, Transaction};
use crate::error::Error;
use crate::keys::battles::invite_token_key;
use crate::keys::TTL_ATTR;
use crate::phone::PhoneNumber;
use crate::profile::Profile;
use crate::secret::{sha256_hex, Secret};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// F-SMS-19: an invite link is valid this long.
pub const INVITE_TOKEN_TTL_SECS: i64 = 7 * 24 * 3600;
/// 32 bytes in unpadded base64url.
const TOKEN_CHARS: usize = 43;
const MAX_ACCEPT_ATTEMPTS: u32 = 6;

/// What the token item holds: enough for the public preview, nothing more.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TokenRecord {
    invitation_id: String,
    sender_username: String,
    challenge_type: String,
    valid_until: i64,
}

/// A phone invitation about to be written: the writes commit with the
/// invitation text's log (so a refused text leaves no invitation and no
/// token), and the token goes only into that text.
pub struct PhoneInvitation {
    pub invitation: Invitation,
    pub token: Secret,
    pub writes: Transaction,
}

/// F-SMS-20: what the public preview shows.
pub struct InvitePreview {
    pub sender_username: String,
    pub challenge_type: String,
    pub valid_until: i64,
}

impl InvitePreview {
    pub fn view(&self) -> Value {
        json!({
            "sender_username": self.sender_username,
            "challenge_type": self.challenge_type,
            "expires_at": rfc3339(self.valid_until),
        })
    }
}

fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Could a link carry this token? Checked before anything is read or counted.
pub fn well_formed(raw: &str) -> bool {
    let raw = raw.trim();
    raw.len() == TOKEN_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The stored form of a token; `None` for anything no link could carry.
fn token_hash(raw: &str) -> Option<String> {
    well_formed(raw).then(|| sha256_hex(raw.trim().as_bytes()))
}

pub fn invite_link_not_found() -> Error {
    Error::not_found(
        "invite_not_found",
        "no invitation has this link; check the link in the text you received",
    )
}

/// A pending invitation from `from` to `phone`, with its token; nothing
/// is written yet (see `PhoneInvitation`).
pub fn phone_invitation(
    store: &BattleStore,
    from: &Profile,
    phone: &PhoneNumber,
    challenge_type: &str,
    now_ms: i64,
) -> Result<PhoneInvitation, Error> {
    let invitation = Invitation {
        invitation_id: crate::ids::new_id(),
        from: Player::of(from),
        to: None,
        to_phone: Some(phone.masked()),
        challenge_type: challenge_type.to_string(),
        source: MatchSource::SmsInvite,
        status: InvitationStatus::Pending,
        created_at: now_ms,
        valid_until: now_ms + INVITE_TOKEN_TTL_SECS * 1000,
        responded_at: None,
        battle_id: None,
    };
    let token = new_token();
    let record = TokenRecord {
        invitation_id: invitation.invitation_id.clone(),
        sender_username: from.username.clone(),
        challenge_type: challenge_type.to_string(),
        valid_until: invitation.valid_until,
    };
    let mut token_item: Item = serde_dynamo::to_item(&record)?;
    token_item.extend(invite_token_key(&sha256_hex(token.expose().as_bytes())));
    token_item.insert(
        TTL_ATTR.into(),
        n(invitation.valid_until / 1000 + INVITE_TOKEN_TTL_SECS),
    );
    let mut writes = Transaction::new();
    writes.put_new(&store.battles_table, invitation.new_item()?);
    writes.put_new(&store.battles_table, token_item);
    Ok(PhoneInvitation {
        invitation,
        token,
        writes,
    })
}

async fn token_record(store: &BattleStore, raw: &str) -> Result<Option<TokenRecord>, Error> {
    let Some(hash) = token_hash(raw) else {
        return Ok(None);
    };
    db::get_item(&store.client, &store.battles_table, invite_token_key(&hash)).await
}

/// F-SMS-20: the sender, challenge and expiry of a link that can still be
/// accepted; `None` alike for an unknown, used, cancelled or expired one.
pub async fn preview_invite(
    store: &BattleStore,
    raw_token: &str,
    now_ms: i64,
) -> Result<Option<InvitePreview>, Error> {
    let Some(record) = token_record(store, raw_token).await? else {
        return Ok(None);
    };
    if now_ms >= record.valid_until {
        return Ok(None);
    }
    let open = store
        .get_invitation(&record.invitation_id)
        .await?
        .is_some_and(|i| i.status_at(now_ms) == InvitationStatus::Pending);
    Ok(open.then_some(InvitePreview {
        sender_username: record.sender_username,
        challenge_type: record.challenge_type,
        valid_until: record.valid_until,
    }))
}

/// F-SMS-20: the holder of the link accepts: the invitation is bound to
/// them and the battle starts (source `sms_invite`). A used, cancelled or
/// expired link is a clear error and creates nothing; of any number of
/// concurrent accepts, one creates the battle.
pub async fn accept_invite(
    store: &BattleStore,
    raw_token: &str,
    joiner: &Profile,
    now_ms: i64,
) -> Result<(Battle, Invitation), Error> {
    let record = token_record(store, raw_token)
        .await?
        .ok_or_else(invite_link_not_found)?;
    let mut cost = Cost::default();
    for attempt in 0..MAX_ACCEPT_ATTEMPTS {
        let invitation = store
            .get_invitation(&record.invitation_id)
            .await?
            .ok_or_else(invite_link_not_found)?;
        if invitation.from.id == joiner.user_id {
            return Err(Error::conflict(
                "own_invitation",
                "you sent this invitation; the link is for the friend you texted",
            ));
        }
        if invitation.status_at(now_ms) != InvitationStatus::Pending {
            return Err(not_pending(&invitation, now_ms));
        }
        if let Some(accepted) = crate::battles::answers::accept_once(
            store,
            invitation,
            Player::of(joiner),
            now_ms,
            attempt,
            &mut cost,
        )
        .await?
        {
            return Ok(accepted);
        }
    }
    Err(concurrent_answer())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_only_their_hash_is_looked_up() {
        let token = new_token();
        assert_eq!(token.expose().len(), TOKEN_CHARS);
        assert_ne!(token.expose(), new_token().expose());
        let hash = token_hash(token.expose()).unwrap();
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(token.expose()));
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", &"a".repeat(42)),
        ] {
            assert!(token_hash(bad).is_none(), "{bad}");
        }
    }
}
