//! F-PT-6: telling a player that an award moved their tier or level. Kept
//! out of the ledger, which only records: the callers that award points
//! (points-api, battle results) push the notices after the write.

use super::award::Awarded;
use crate::realtime::Pusher;

/// F-PT-6: the real-time event for an award that moved the tier or level.
pub fn upgrade_message(a: &Awarded) -> Option<serde_json::Value> {
    (a.tier_upgraded.is_some() || a.level_upgraded.is_some()).then(|| {
        serde_json::json!({
            "type": "points_upgraded",
            "total_points": a.total_points,
            "tier_upgraded": a.tier_upgraded,
            "level_upgraded": a.level_upgraded,
            "activity_id": a.activity.activity_id,
        })
    })
}

/// Pushes the upgrades among `awards` (first-time awards only: a replay
/// already announced its upgrade).
pub async fn notify_upgrades(pusher: &Pusher, awards: &[&Awarded], now_ms: i64) {
    for a in awards.iter().filter(|a| !a.replayed) {
        if let Some(message) = upgrade_message(a) {
            pusher.notify(&a.activity.user_id, &message, now_ms).await;
        }
    }
}
