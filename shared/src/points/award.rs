//! An award (F-PT-1) as data and pure rules: the request, its checks, the
//! activity it records and what it returns. The ledger writes it.

use super::rules::{self, ActivityType, Tier};
use crate::error::Error;
use crate::profile::PointsState;
use serde::{Deserialize, Serialize};

/// One award may not exceed this (a typo guard, not a business rule).
pub const MAX_AMOUNT: i64 = 1_000_000;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwardRequest {
    pub user_id: String,
    pub amount: i64,
    pub activity_type: ActivityType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub activity_id: String,
    pub user_id: String,
    pub amount: i64,
    pub activity_type: ActivityType,
    pub description: String,
    pub tier_at_time: Tier,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    pub old: T,
    pub new: T,
}

/// What an award did (F-PT-6). Stored with the idempotency key and returned
/// again, unchanged, to every repeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Awarded {
    pub activity: Activity,
    pub total_points: i64,
    pub tier: Tier,
    pub level: u32,
    pub tier_upgraded: Option<Change<Tier>>,
    pub level_upgraded: Option<Change<u32>>,
    pub current_streak_days: u32,
    pub longest_streak_days: u32,
    /// True when this is the stored result of an earlier call with the same key.
    #[serde(default)]
    pub replayed: bool,
}

/// The pure part: the award's effect on a profile, or why it is refused.
pub fn validate(req: &AwardRequest) -> Result<(), Error> {
    if !crate::ids::is_valid_user_id(&req.user_id) {
        return Err(Error::validation(
            "user_id must be 1 to 128 characters, without control characters or #",
        ));
    }
    if req.amount <= 0 {
        return Err(Error::validation("amount must be a positive whole number"));
    }
    if req.amount > MAX_AMOUNT {
        return Err(Error::validation(format!(
            "amount may be at most {MAX_AMOUNT}"
        )));
    }
    if req.description.chars().count() > 255 {
        return Err(Error::validation(
            "description may be at most 255 characters",
        ));
    }
    if let Some(k) = &req.idempotency_key {
        let ok = (1..=200).contains(&k.len())
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b));
        if !ok {
            return Err(Error::validation(
                "idempotency_key must be 1 to 200 characters of A-Z, a-z, 0-9, - _ : .",
            ));
        }
    }
    Ok(())
}

/// What makes two requests with one key the same request.
pub(crate) fn fingerprint(req: &AwardRequest) -> String {
    format!(
        "{}|{}|{}",
        req.amount,
        serde_json::to_string(&req.activity_type).unwrap_or_default(),
        req.description
    )
}

/// The activity an award records; `tier_at_time` is the tier this award
/// reaches from the total as read just before it.
pub fn activity_for(points: &PointsState, req: &AwardRequest, now_ms: i64) -> Activity {
    Activity {
        activity_id: crate::ids::new_id(),
        user_id: req.user_id.clone(),
        amount: req.amount,
        activity_type: req.activity_type,
        description: req.description.clone(),
        tier_at_time: rules::tier_for(points.total_points + req.amount),
        created_at: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(amount: i64, t: ActivityType) -> AwardRequest {
        AwardRequest {
            user_id: "u".into(),
            amount,
            activity_type: t,
            description: String::new(),
            idempotency_key: None,
        }
    }

    #[test]
    fn amounts_and_keys_are_checked() {
        for bad in [0, -5, MAX_AMOUNT + 1] {
            assert_eq!(
                validate(&req(bad, ActivityType::Comment))
                    .unwrap_err()
                    .status(),
                400
            );
        }
        let mut r = req(5, ActivityType::Comment);
        r.idempotency_key = Some("has space".into());
        assert!(validate(&r).is_err());
        r.idempotency_key = Some("battle:01abc:u1".into());
        assert!(validate(&r).is_ok());
    }
}
