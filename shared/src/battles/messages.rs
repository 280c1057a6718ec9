//! The server → client WebSocket messages of matchmaking (each has a `type`).

use super::invitations::Invitation;
use super::Battle;
use crate::clock::rfc3339;
use serde_json::{json, Value};

pub const NO_ACTIVE_USERS_OPTIONS: [&str; 2] = ["wait_in_queue", "play_ai"];

pub fn invitation_sent(invitation: &Invitation) -> Value {
    json!({
        "type": "invitation_sent",
        "invitation_id": invitation.invitation_id,
        "opponent": invitation.to,
        "challenge_type": invitation.challenge_type,
        "source": invitation.source,
        "expires_at": rfc3339(invitation.valid_until),
    })
}

pub fn invitation_received(invitation: &Invitation) -> Value {
    json!({
        "type": "invitation_received",
        "invitation_id": invitation.invitation_id,
        "from": invitation.from,
        "challenge_type": invitation.challenge_type,
        "source": invitation.source,
        "expires_at": rfc3339(invitation.valid_until),
    })
}

pub fn invitation_declined(invitation: &Invitation) -> Value {
    json!({
        "type": "invitation_declined",
        "invitation_id": invitation.invitation_id,
        "by": invitation.to,
    })
}

pub fn invitation_cancelled(invitation: &Invitation) -> Value {
    json!({
        "type": "invitation_cancelled",
        "invitation_id": invitation.invitation_id,
        "by": invitation.from,
    })
}

pub fn invitation_expired(invitation: &Invitation) -> Value {
    json!({
        "type": "invitation_expired",
        "invitation_id": invitation.invitation_id,
        "challenge_type": invitation.challenge_type,
    })
}

/// `match_found` as `user_id` sees it (the opponent is the other player).
pub fn match_found(battle: &Battle, user_id: &str) -> Value {
    json!({
        "type": "match_found",
        "battle_id": battle.battle_id,
        "opponent": battle.opponent_of(user_id),
        "challenge_type": battle.challenge_type,
        "source": battle.source,
        "deadline_at": rfc3339(battle.deadline_at),
    })
}

pub fn battle_result(battle: &Battle) -> Value {
    json!({
        "type": "battle_result",
        "battle_id": battle.battle_id,
        "outcome": battle.outcome,
        "winner_id": battle.winner_id,
    })
}

pub fn no_active_users(challenge_type: &str) -> Value {
    json!({
        "type": "no_active_users",
        "challenge_type": challenge_type,
        "options": NO_ACTIVE_USERS_OPTIONS,
    })
}

pub fn queued(challenge_type: &str) -> Value {
    json!({ "type": "queued", "challenge_type": challenge_type })
}

pub fn left_queue(was_queued: bool) -> Value {
    json!({ "type": "left_queue", "was_queued": was_queued })
}

/// The battle as `GET /v1/battles/{id}` shows it to a participant.
pub fn battle_view(battle: &Battle) -> Value {
    json!({
        "battle_id": battle.battle_id,
        "players": battle.players,
        "challenge_type": battle.challenge_type,
        "source": battle.source,
        "status": battle.status,
        "created_at": rfc3339(battle.created_at),
        "deadline_at": rfc3339(battle.deadline_at),
        "completed_at": battle.completed_at.map(rfc3339),
        "outcome": battle.outcome,
        "winner_id": battle.winner_id,
        "stake": battle.stake,
        "invitation_id": battle.invitation_id,
        "private_code": battle.private_code,
    })
}

/// Pushes shared by the WebSocket and HTTP entry points. The state change has
/// committed before these run, so delivery problems are logged, not returned.
pub mod notify {
    use super::*;
    use crate::realtime::Pusher;

    pub async fn invitation_created(pusher: &Pusher, invitation: &Invitation, now_ms: i64) {
        let (sent, received) = (invitation_sent(invitation), invitation_received(invitation));
        tokio::join!(
            pusher.notify(&invitation.from.id, &sent, now_ms),
            to_invitee(pusher, invitation, &received, now_ms),
        );
    }

    /// Pushes to the invited player, when the invitation has one yet.
    pub async fn to_invitee(
        pusher: &Pusher,
        invitation: &Invitation,
        message: &Value,
        now_ms: i64,
    ) {
        if let Some(to) = &invitation.to {
            pusher.notify(&to.id, message, now_ms).await;
        }
    }

    pub async fn invitation_declined_to_both(
        pusher: &Pusher,
        invitation: &Invitation,
        now_ms: i64,
    ) {
        let message = invitation_declined(invitation);
        tokio::join!(
            pusher.notify(&invitation.from.id, &message, now_ms),
            to_invitee(pusher, invitation, &message, now_ms),
        );
    }

    pub async fn invitation_expired_to_both(pusher: &Pusher, invitation: &Invitation, now_ms: i64) {
        let message = invitation_expired(invitation);
        tokio::join!(
            pusher.notify(&invitation.from.id, &message, now_ms),
            to_invitee(pusher, invitation, &message, now_ms),
        );
    }
}
