//! Answering invitations (F-MM-3), withdrawing them (F-MM-7) and their
//! timeout (F-MM-2): each moves a pending invitation to its final status
//! once; accepting creates the battle in the same transaction.

use super::invitations::{
    invitation_not_found, listing_sort, not_pending, Answer, Invitation, InvitationStatus,
};
use super::{Battle, BattleStore, NewBattle, Player};
use crate::db::{self, n, retry, s, Cost, Transaction, UpdateExpr};
use crate::error::Error;
use crate::ids::{InvitationId, UserId};
use crate::keys::battles::invitation_key;
use crate::keys::battles::list_for_invitee;
use crate::keys::users::profile_key;
use aws_sdk_dynamodb::types::ReturnValue;

const MAX_ACCEPT_ATTEMPTS: u32 = 6;

/// Ends the pending guards an invitation holds (best effort: a guard that
/// already moved on to another invitation is left alone, and guards lapse
/// at `pending_until` anyway).
async fn release_pending(store: &BattleStore, invitation: &Invitation) {
    if !invitation.holds_pending_guards() {
        return;
    }
    for player in std::iter::once(&invitation.from).chain(&invitation.to) {
        let result = store
            .client
            .update_item()
            .table_name(&store.users_table)
            .set_key(Some(profile_key(&player.id)))
            .update_expression("REMOVE pending_invitation_id, pending_until")
            .condition_expression("pending_invitation_id = :inv")
            .expression_attribute_values(":inv", s(&invitation.invitation_id))
            .send()
            .await;
        // `None`: the guard already moved on; only real failures are worth a log line.
        if let Err(e) = db::conditional(result) {
            e.log();
        }
    }
}

/// F-MM-3: the invitee accepts (creating the battle) or declines.
#[tracing::instrument(skip_all)]
pub async fn answer(
    store: &BattleStore,
    invitation_id: &InvitationId,
    user_id: &UserId,
    accept: bool,
    now_ms: i64,
) -> Result<Answer, Error> {
    let mut cost = Cost::default();
    for attempt in 0..MAX_ACCEPT_ATTEMPTS {
        let invitation = store
            .get_invitation(invitation_id)
            .await?
            .ok_or_else(invitation_not_found)?;
        let Some(invitee) = invitation.to.clone().filter(|p| p.id == user_id.as_str()) else {
            return Err(Error::Forbidden(
                if invitation.from.id == user_id.as_str() {
                    "only the invited player can answer an invitation".into()
                } else {
                    "this invitation is not addressed to you".into()
                },
            ));
        };
        if invitation.status_at(now_ms) != InvitationStatus::Pending {
            return Err(not_pending(&invitation, now_ms));
        }
        if !accept {
            return close(store, &invitation, InvitationStatus::Declined, now_ms)
                .await
                .map(Answer::Declined);
        }
        if let Some((battle, invitation)) =
            accept_once(store, invitation, invitee, now_ms, attempt, &mut cost).await?
        {
            return Ok(Answer::Accepted { battle, invitation });
        }
    }
    Err(concurrent_answer())
}

/// One attempt to accept a pending invitation as `invitee`: the invitation
/// closes and the battle starts in one transaction. An invitation sent to
/// a number (F-SMS-19) is bound to `invitee` by the same write. `None`
/// when the invitation or a guard moved meanwhile: read again and retry.
pub(crate) async fn accept_once(
    store: &BattleStore,
    invitation: Invitation,
    invitee: Player,
    now_ms: i64,
    attempt: u32,
    cost: &mut Cost,
) -> Result<Option<(Battle, Invitation)>, Error> {
    let battle = NewBattle {
        players: [invitation.from.clone(), invitee.clone()],
        challenge_type: invitation.challenge_type.clone(),
        source: invitation.source,
        invitation_id: Some(invitation.invitation_id.clone()),
        private_code: None,
        stake: None,
    }
    .build(now_ms, store.config.battle_duration_secs);
    let mut accepted = UpdateExpr::new()
        .set("status", s("accepted"))
        .set("battle_id", s(&battle.battle_id))
        .set("responded_at", n(now_ms))
        .value(":pending", s("pending"));
    accepted = if invitation.to.is_none() {
        // The invitee's listing keys, as a direct invitation has them.
        list_for_invitee(
            accepted.set("to", serde_dynamo::to_attribute_value(&invitee)?),
            &invitee.id,
            &listing_sort(invitation.created_at, &invitation.invitation_id),
        )
        .condition(
            "#status = :pending AND #valid_until > :responded_at AND attribute_not_exists(#to)",
        )
    } else {
        accepted.condition("#status = :pending AND #valid_until > :responded_at")
    };
    let mut tx = Transaction::new();
    let invitation_update = tx.update(accepted.named("valid_until").into_update(
        &store.battles_table,
        invitation_key(&invitation.invitation_id),
    ));
    let guards = store.add_battle(&mut tx, &battle, invitation.holds_pending_guards())?;
    let (sender_guard, invitee_guard) = (guards[0], guards[1]);
    match store.commit(tx, cost).await {
        Ok(()) => {
            let invitation = Invitation {
                status: InvitationStatus::Accepted,
                battle_id: Some(battle.battle_id.clone()),
                responded_at: Some(now_ms),
                to: Some(invitee),
                ..invitation
            };
            Ok(Some((battle, invitation)))
        }
        // Answered meanwhile: the next round reports how.
        Err(f) if f.condition_failed(invitation_update) => Ok(None),
        Err(f) if f.condition_failed(sender_guard) => Err(Error::conflict(
            "opponent_in_battle",
            "the sender is already in another battle",
        )),
        Err(f) if f.condition_failed(invitee_guard) => Err(Error::conflict(
            "already_in_battle",
            "you are already in an active battle",
        )),
        Err(f) if f.is_conflict() => {
            retry::pause(attempt).await;
            Ok(None)
        }
        Err(f) => Err(f.into_error()),
    }
}

/// F-MM-7: the sender withdraws a pending invitation.
#[tracing::instrument(skip_all)]
pub async fn cancel_invitation(
    store: &BattleStore,
    invitation_id: &InvitationId,
    user_id: &UserId,
    now_ms: i64,
) -> Result<Invitation, Error> {
    let invitation = store
        .get_invitation(invitation_id)
        .await?
        .ok_or_else(invitation_not_found)?;
    if invitation.from.id != user_id.as_str() {
        return Err(Error::Forbidden(
            "only the sender can cancel an invitation".into(),
        ));
    }
    if invitation.status_at(now_ms) != InvitationStatus::Pending {
        return Err(not_pending(&invitation, now_ms));
    }
    close(store, &invitation, InvitationStatus::Cancelled, now_ms).await
}

/// F-MM-2: the timeout. Expires the invitation if it is still pending and
/// due; returns it when this call expired it (so the caller notifies once).
#[tracing::instrument(skip_all)]
pub async fn expire_invitation(
    store: &BattleStore,
    invitation_id: &InvitationId,
    now_ms: i64,
) -> Result<ExpireResult, Error> {
    let Some(invitation) = store.get_invitation(invitation_id).await? else {
        return Ok(ExpireResult::Gone);
    };
    if invitation.status != InvitationStatus::Pending {
        return Ok(ExpireResult::AlreadyClosed);
    }
    if invitation.valid_until > now_ms {
        return Ok(ExpireResult::NotDue {
            due_in_ms: invitation.valid_until - now_ms,
        });
    }
    match close(store, &invitation, InvitationStatus::Expired, now_ms).await {
        Ok(inv) => Ok(ExpireResult::Expired(Box::new(inv))),
        Err(Error::Conflict { .. }) => Ok(ExpireResult::AlreadyClosed),
        Err(e) => Err(e),
    }
}

/// Moves a pending invitation to a final status other than accepted, then
/// releases its guards.
async fn close(
    store: &BattleStore,
    invitation: &Invitation,
    status: InvitationStatus,
    now_ms: i64,
) -> Result<Invitation, Error> {
    let status_value = serde_dynamo::to_attribute_value(status)?;
    // Declining and cancelling need time left; expiring needs the time to be up.
    let timing = if status == InvitationStatus::Expired {
        "valid_until <= :now"
    } else {
        "valid_until > :now"
    };
    let result = store
        .client
        .update_item()
        .table_name(&store.battles_table)
        .set_key(Some(invitation_key(&invitation.invitation_id)))
        .update_expression("SET #status = :new, responded_at = :now")
        .condition_expression(format!("#status = :pending AND {timing}"))
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":new", status_value)
        .expression_attribute_values(":pending", s("pending"))
        .expression_attribute_values(":now", n(now_ms))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    match db::conditional(result)? {
        Some(out) => {
            let closed: Invitation = serde_dynamo::from_item(out.attributes.unwrap_or_default())?;
            release_pending(store, &closed).await;
            Ok(closed)
        }
        None => {
            let current = store
                .get_invitation(&invitation.invitation_id)
                .await?
                .ok_or_else(invitation_not_found)?;
            Err(match current.status_at(now_ms) {
                InvitationStatus::Pending => Error::conflict(
                    "concurrent_update",
                    "the invitation changed meanwhile, retry",
                ),
                _ => not_pending(&current, now_ms),
            })
        }
    }
}

pub(crate) fn concurrent_answer() -> Error {
    Error::conflict(
        "concurrent_update",
        "the invitation is being answered by another request, retry",
    )
}

pub enum ExpireResult {
    Expired(Box<Invitation>),
    AlreadyClosed,
    Gone,
    NotDue { due_in_ms: i64 },
}
