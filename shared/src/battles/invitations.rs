//! Invitations (F-MM-2, F-MM-3, F-MM-7): created by the random pick or by a
//! direct invite, answered once. Accepting creates the battle in the same
//! transaction that closes the invitation, so any number of concurrent
//! accepts make one battle.

use super::{Battle, BattleStore, MatchSource, Player};
use crate::clock::rfc3339;
use crate::db::{self, n, s, Cost, Item, Transaction};
use crate::error::Error;
use crate::ids::new_id;
use crate::ids::UserId;
use crate::keys::battles::{invitation_key, INVITED_PREFIX, INVITER_PREFIX};
use crate::keys::battles::{invitation_listing, GSI1, GSI1_PK, GSI2, GSI2_PK};
use crate::keys::users::profile_key;
use crate::keys::TTL_ATTR;
use crate::profile::Profile;
use aws_sdk_dynamodb::types::{ConditionCheck, Update};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Answered invitations stay readable this long before TTL removes them.
const RETENTION_SECS: i64 = 30 * 24 * 3600;
pub const MAX_PAGE: i32 = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
    Expired,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub invitation_id: String,
    pub from: Player,
    /// The invited player; absent while an SMS invitation to a number with
    /// no account waits for its invite link to be accepted (F-SMS-19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Player>,
    /// The invited number, masked, for an SMS invitation (F-SMS-19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_phone: Option<String>,
    pub challenge_type: String,
    pub source: MatchSource,
    pub status: InvitationStatus,
    pub created_at: i64,
    pub valid_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responded_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battle_id: Option<String>,
}

impl Invitation {
    /// The status a reader sees: a pending invitation past its time is expired,
    /// whether or not the timeout has been processed yet.
    pub fn status_at(&self, now_ms: i64) -> InvitationStatus {
        match self.status {
            InvitationStatus::Pending if now_ms >= self.valid_until => InvitationStatus::Expired,
            other => other,
        }
    }

    pub fn view(&self, now_ms: i64) -> Value {
        json!({
            "invitation_id": self.invitation_id,
            "from": self.from,
            "to": self.to,
            "to_phone": self.to_phone,
            "challenge_type": self.challenge_type,
            "source": self.source,
            "status": self.status_at(now_ms),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.valid_until),
            "responded_at": self.responded_at.map(rfc3339),
            "battle_id": self.battle_id,
        })
    }

    pub(crate) fn holds_pending_guards(&self) -> bool {
        self.source == MatchSource::ActiveUser
    }

    pub fn is_addressed_to(&self, user_id: &str) -> bool {
        self.to.as_ref().is_some_and(|p| p.id == user_id)
    }

    /// The sender and the invited player may read it.
    pub fn concerns(&self, user_id: &str) -> bool {
        self.from.id == user_id || self.is_addressed_to(user_id)
    }

    /// The item of a new invitation, with the sender's listing keys and, when
    /// the invitee is known, theirs.
    pub(crate) fn new_item(&self) -> Result<Item, Error> {
        let mut item: Item = serde_dynamo::to_item(self)?;
        item.extend(invitation_key(&self.invitation_id));
        let sort = listing_sort(self.created_at, &self.invitation_id);
        item.extend(invitation_listing(
            &self.from.id,
            self.to.as_ref().map(|to| to.id.as_str()),
            &sort,
        ));
        item.insert(TTL_ATTR.into(), n(self.valid_until / 1000 + RETENTION_SECS));
        Ok(item)
    }
}

/// Newest first in both listings: the creation time, then the id.
pub(crate) fn listing_sort(created_at: i64, invitation_id: &str) -> String {
    format!("{created_at:013}#{invitation_id}")
}

/// The error for answering an invitation that is no longer pending.
pub(crate) fn not_pending(invitation: &Invitation, now_ms: i64) -> Error {
    match invitation.status_at(now_ms) {
        InvitationStatus::Accepted => Error::conflict(
            "invitation_already_accepted",
            "the invitation was already accepted",
        ),
        InvitationStatus::Declined => {
            Error::conflict("invitation_declined", "the invitation was declined")
        }
        InvitationStatus::Cancelled => Error::conflict(
            "invitation_cancelled",
            "the sender cancelled the invitation",
        ),
        InvitationStatus::Expired => Error::conflict(
            "invitation_expired",
            "the invitation expired; ask for a new one",
        ),
        InvitationStatus::Pending => Error::internal("invitation is still pending"),
    }
}

pub fn invitation_not_found() -> Error {
    Error::not_found("invitation_not_found", "no invitation with that id")
}

/// Why an invitation could not be created.
pub enum InviteFailure {
    /// The caller is in a battle or already has a pending random invitation.
    CallerBusy,
    /// The invited player became busy or unavailable since it was read.
    OpponentBusy,
    Failed(Error),
}

/// What answering an invitation did.
pub enum Answer {
    Accepted {
        battle: Battle,
        invitation: Invitation,
    },
    Declined(Invitation),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationBox {
    Incoming,
    Outgoing,
}

impl InvitationBox {
    pub fn parse(raw: Option<&str>) -> Result<Self, Error> {
        match raw {
            None | Some("incoming") => Ok(InvitationBox::Incoming),
            Some("outgoing") => Ok(InvitationBox::Outgoing),
            Some(other) => Err(Error::validation(format!(
                "box must be incoming or outgoing, got {other:?}"
            ))),
        }
    }

    fn index(self) -> (&'static str, &'static str, &'static str) {
        match self {
            InvitationBox::Incoming => (GSI1, GSI1_PK, INVITED_PREFIX),
            InvitationBox::Outgoing => (GSI2, GSI2_PK, INVITER_PREFIX),
        }
    }
}

/// Creates an invitation from `from` to `to`. A random-opponent invitation
/// (`ActiveUser`) also takes both players' pending guard, on the condition
/// that each is free; a direct one only needs the invitee to exist.
pub async fn create_invitation(
    store: &BattleStore,
    from: &Profile,
    to: &Profile,
    challenge_type: &str,
    source: MatchSource,
    now_ms: i64,
    cost: &mut Cost,
) -> Result<Invitation, InviteFailure> {
    let ttl = match source {
        MatchSource::ActiveUser => store.config.invitation_ttl_secs,
        _ => store.config.direct_invitation_ttl_secs,
    };
    let invitation = Invitation {
        invitation_id: new_id(),
        from: Player::of(from),
        to: Some(Player::of(to)),
        to_phone: None,
        challenge_type: challenge_type.to_string(),
        source,
        status: InvitationStatus::Pending,
        created_at: now_ms,
        valid_until: now_ms + ttl * 1000,
        responded_at: None,
        battle_id: None,
    };
    let item = invitation.new_item().map_err(InviteFailure::Failed)?;
    let mut tx = Transaction::new();
    tx.put_new(&store.battles_table, item);
    let guards = if invitation.holds_pending_guards() {
        Some((
            tx.update(take_pending(
                store,
                &from.user_id,
                &invitation,
                now_ms,
                false,
            )),
            tx.update(take_pending(store, &to.user_id, &invitation, now_ms, true)),
        ))
    } else {
        tx.check(
            ConditionCheck::builder()
                .table_name(&store.users_table)
                .set_key(Some(profile_key(&to.user_id)))
                .condition_expression("attribute_exists(pk)")
                .build()
                .expect("table, key and condition set"),
        );
        None
    };
    match store.commit(tx, cost).await {
        Ok(()) => Ok(invitation),
        Err(f) if guards.is_some_and(|(caller, _)| f.condition_failed(caller)) => {
            Err(InviteFailure::CallerBusy)
        }
        Err(f) if guards.is_some_and(|(_, invitee)| f.condition_failed(invitee)) => {
            Err(InviteFailure::OpponentBusy)
        }
        Err(f) if f.is_conflict() => Err(InviteFailure::OpponentBusy),
        Err(f) => Err(InviteFailure::Failed(f.into_error())),
    }
}

/// The guard update that marks a player as waiting for this invitation's answer.
fn take_pending(
    store: &BattleStore,
    user_id: &str,
    invitation: &Invitation,
    now_ms: i64,
    is_invitee: bool,
) -> Update {
    let free = "attribute_exists(pk) AND attribute_not_exists(active_battle_id) \
         AND (attribute_not_exists(pending_until) OR pending_until <= :now)";
    // The invitee must still be pickable: available, not privileged.
    let condition = if is_invitee {
        format!(
            "{free} AND is_available_for_battles = :yes AND attribute_not_exists(privileged_role)"
        )
    } else {
        free.to_string()
    };
    let mut update = Update::builder()
        .table_name(&store.users_table)
        .set_key(Some(profile_key(user_id)))
        .update_expression("SET pending_invitation_id = :inv, pending_until = :until")
        .condition_expression(condition)
        .expression_attribute_values(":inv", s(&invitation.invitation_id))
        .expression_attribute_values(":until", n(invitation.valid_until))
        .expression_attribute_values(":now", n(now_ms));
    if is_invitee {
        update = update.expression_attribute_values(
            ":yes",
            aws_sdk_dynamodb::types::AttributeValue::Bool(true),
        );
    }
    update.build().expect("table, key and expression set")
}

/// F-MM-7: a page of the caller's invitations, newest first.
pub async fn list_invitations(
    store: &BattleStore,
    user_id: &UserId,
    which: InvitationBox,
    limit: i32,
    cursor: Option<&str>,
) -> Result<(Vec<Invitation>, Option<String>), Error> {
    let (index, pk_name, prefix) = which.index();
    let pk = format!("{prefix}{user_id}");
    let listing = format!("invitations:{prefix}");
    let expected = ["pk", "sk", pk_name, &pk_name.replace("pk", "sk")];
    let start = match cursor {
        Some(c) => Some(store.cursors.open(&listing, user_id, c, &expected).await?),
        None => None,
    };
    if let Some(start) = &start {
        if db::get_s(start, pk_name) != Some(pk.as_str()) {
            return Err(Error::bad_request(
                "invalid_cursor",
                "the cursor belongs to another listing",
            ));
        }
    }
    let out = store
        .client
        .query()
        .table_name(&store.battles_table)
        .index_name(index)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", pk_name)
        .expression_attribute_values(":pk", s(pk))
        .scan_index_forward(false)
        .limit(limit.clamp(1, MAX_PAGE))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(db::dependency)?;
    store
        .cursors
        .page(&listing, user_id, out.items(), out.last_evaluated_key())
        .await
}
