//! Profiles (F-PR-1, F-PR-2, F-PR-5).
//!
//! Items in the users table:
//! - `USER#<id>` / `PROFILE`: the profile; `version` guards read-modify-write;
//!   `online_shard` + `last_seen_at` feed the sharded online index (F-MM-1);
//! - `USERNAME#<lowercase name>` / `USERNAME`: the uniqueness claim, owned by `user_id`.
//!
//! The profile also carries the matchmaking guards (F-MM-8, F-MM-1), so that a
//! candidate's eligibility is one read and every battle or invitation write
//! can hold them with a condition: `active_battle_id` (at most one active
//! battle) and `pending_invitation_id` + `pending_until` (at most one pending
//! random-opponent invitation, sent or received).

mod store;

pub use store::Profiles;

use crate::auth::{Caller, PrivilegedRole};
use crate::clock::rfc3339;
use crate::error::Error;
use crate::keys::users::online_shard;
use crate::points::rules;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayerRole {
    #[default]
    Explorer,
    Learner,
    Expert,
    Creator,
}

impl PlayerRole {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "explorer" => Ok(PlayerRole::Explorer),
            "learner" => Ok(PlayerRole::Learner),
            "expert" => Ok(PlayerRole::Expert),
            "creator" => Ok(PlayerRole::Creator),
            "admin" | "service" => Err(Error::validation(format!(
                "role {raw:?} cannot be chosen: it comes only from your token"
            ))),
            other => Err(Error::validation(format!(
                "role {other:?} is not one of explorer, learner, expert, creator"
            ))),
        }
    }
}

/// A profile: the player's identity, and one part per concern, each
/// written by its own owner (the item keeps one flat set of attributes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub role: PlayerRole,
    pub timezone: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Guards the read-modify-write of `PUT /v1/me`.
    pub version: u64,
    #[serde(flatten)]
    pub availability: Availability,
    #[serde(flatten)]
    pub guards: Guards,
    #[serde(flatten)]
    pub points: PointsState,
    #[serde(flatten)]
    pub phone: Phone,
    /// F-SMS-8, F-SMS-9: written only by `sms::preferences`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_preferences: Option<crate::sms::policy::Preferences>,
}

/// Whether and how the player can be found (F-MM-1, F-PR-2..5): written by
/// `PUT /v1/me`, the availability switch and the `last_seen_at` refresh.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    pub is_available_for_battles: bool,
    #[serde(default)]
    pub last_seen_at: Option<i64>,
    /// Present while the player may be picked at random (an available player);
    /// absent otherwise, which keeps the profile out of the sparse online index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_shard: Option<String>,
    /// Sort key of the online index: `last_seen_at` + the online window (F-PR-4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_until: Option<i64>,
    /// Admin or service, from the token (F-ID-2): never picked as an opponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged_role: Option<PrivilegedRole>,
}

/// The matchmaking guards (F-MM-8, F-MM-1), written only inside the battle
/// and invitation transactions, each on a condition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Guards {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_battle_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_invitation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<i64>,
}

impl Guards {
    pub fn has_pending_invitation(&self, now_ms: i64) -> bool {
        self.pending_invitation_id.is_some() && self.pending_until.is_some_and(|u| u > now_ms)
    }
}

/// Points state (F-PT-1, F-PT-4..6), written only by the ledger.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PointsState {
    #[serde(default)]
    pub total_points: i64,
    #[serde(default)]
    pub current_streak_days: u32,
    #[serde(default)]
    pub longest_streak_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub lifetime_quizzes_completed: u64,
    #[serde(default)]
    pub lifetime_projects_created: u64,
    #[serde(default)]
    pub lifetime_comments_posted: u64,
    /// The highest tier and level an award has announced (F-PT-6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced_tier: Option<crate::points::rules::Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced_level: Option<u32>,
}

impl PointsState {
    /// The attributes of the item this part is read from (a projection).
    pub const ATTRIBUTES: [&'static str; 9] = [
        "total_points",
        "current_streak_days",
        "longest_streak_days",
        "last_activity_date",
        "lifetime_quizzes_completed",
        "lifetime_projects_created",
        "lifetime_comments_posted",
        "announced_tier",
        "announced_level",
    ];
}

/// F-SMS-18: the user's number, and whether (since when) it is verified;
/// written only by phone verification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Phone {
    #[serde(
        rename = "phone_number",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub number: Option<String>,
    #[serde(rename = "phone_verified", default)]
    pub verified: bool,
    #[serde(
        rename = "phone_verified_at",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub verified_at: Option<i64>,
}

impl Profile {
    /// F-MM-1: may this profile be offered as a random opponent to `caller_id`?
    /// Being online is established by the index the candidate came from.
    pub fn can_be_picked_by(&self, caller_id: &str, now_ms: i64) -> bool {
        self.user_id != caller_id
            && self.availability.is_available_for_battles
            && self.availability.privileged_role.is_none()
            && self.guards.active_battle_id.is_none()
            && !self.guards.has_pending_invitation(now_ms)
    }
}

/// `PUT /v1/me` body. Absent fields keep their current value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub timezone: Option<String>,
}

/// `PUT /v1/me/availability` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityInput {
    pub is_available_for_battles: bool,
}

/// 3–30 characters: letters, digits, underscore. Uniqueness ignores case.
pub fn validate_username(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    let len = name.chars().count();
    if !(3..=30).contains(&len) {
        return Err(Error::validation("username must be 3 to 30 characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::validation(
            "username may contain only letters, digits and _",
        ));
    }
    Ok(name.to_string())
}

fn validate_display_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    let len = name.chars().count();
    if !(1..=50).contains(&len) || name.chars().any(char::is_control) {
        return Err(Error::validation(
            "display_name must be 1 to 50 printable characters",
        ));
    }
    Ok(name.to_string())
}

pub fn validate_timezone(raw: &str) -> Result<String, Error> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            Error::validation(format!(
                "timezone {raw:?} is not an IANA time zone (e.g. Africa/Kampala)"
            ))
        })
}

/// The pure part of `PUT /v1/me`: the profile after applying `input`.
pub fn apply_input(
    current: Option<&Profile>,
    input: ProfileInput,
    caller: &Caller,
    now_ms: i64,
    shards: u32,
) -> Result<Profile, Error> {
    let user_id = caller.user_id.as_str();
    let privileged_role = caller.privileged_role;
    let shard_if = |available: bool| {
        (available && privileged_role.is_none()).then(|| online_shard(user_id, shards))
    };
    let username = input
        .username
        .as_deref()
        .map(validate_username)
        .transpose()?;
    let display_name = input
        .display_name
        .as_deref()
        .map(validate_display_name)
        .transpose()?;
    let role = input.role.as_deref().map(PlayerRole::parse).transpose()?;
    let timezone = input
        .timezone
        .as_deref()
        .map(validate_timezone)
        .transpose()?;
    match current {
        Some(p) => Ok(Profile {
            username: username.unwrap_or_else(|| p.username.clone()),
            display_name: display_name.unwrap_or_else(|| p.display_name.clone()),
            role: role.unwrap_or(p.role),
            timezone: timezone.unwrap_or_else(|| p.timezone.clone()),
            updated_at: now_ms,
            version: p.version + 1,
            availability: Availability {
                privileged_role,
                online_shard: shard_if(p.availability.is_available_for_battles),
                ..p.availability.clone()
            },
            ..p.clone()
        }),
        None => {
            let username = username
                .ok_or_else(|| Error::validation("username is required to create a profile"))?;
            Ok(Profile {
                user_id: user_id.to_string(),
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                role: role.unwrap_or(PlayerRole::Explorer),
                // Absent is not UTC: "" until the player sets one.
                timezone: timezone.unwrap_or_default(),
                created_at: now_ms,
                updated_at: now_ms,
                version: 1,
                availability: Availability {
                    is_available_for_battles: true,
                    last_seen_at: Some(now_ms),
                    online_shard: shard_if(true),
                    online_until: None,
                    privileged_role,
                },
                guards: Guards::default(),
                points: PointsState::default(),
                phone: Phone::default(),
                sms_preferences: None,
            })
        }
    }
}

/// The zone a player's days follow (F-PT-4, F-SMS-24): the one they set;
/// else their verified number's, when it has exactly one; else UTC.
pub fn day_zone(set: &str, verified_number: Option<&str>) -> String {
    if !set.is_empty() {
        return set.to_string();
    }
    verified_number
        .and_then(|n| crate::phone::PhoneNumber::parse(n).ok())
        .and_then(|n| crate::phone::zones::single(&n))
        .unwrap_or("UTC")
        .to_string()
}

impl Profile {
    /// See [`day_zone`].
    pub fn day_zone(&self) -> String {
        day_zone(
            &self.timezone,
            self.phone.number.as_deref().filter(|_| self.phone.verified),
        )
    }
}

/// The profile as `GET /v1/me` shows it to its owner (the caller adds
/// `sms_preferences`, which the SMS domain renders).
pub fn owner_view(p: &Profile, online: bool) -> Value {
    json!({
        "user_id": p.user_id,
        "username": p.username,
        "display_name": p.display_name,
        "role": p.role,
        // Unset is null, not UTC: quiet hours then follow the number (F-SMS-14).
        "timezone": Some(&p.timezone).filter(|t| !t.is_empty()),
        "is_available_for_battles": p.availability.is_available_for_battles,
        "online": online,
        "active_battle_id": p.guards.active_battle_id,
        "phone": {
            "number": p.phone.number,
            "verified": p.phone.verified,
            "verified_at": p.phone.verified_at.map(rfc3339),
        },
        "last_seen_at": p.availability.last_seen_at.map(rfc3339),
        "created_at": rfc3339(p.created_at),
        "updated_at": rfc3339(p.updated_at),
        "points": {
            "total_points": p.points.total_points,
            "tier": rules::tier_for(p.points.total_points),
            "level": rules::level_for(p.points.total_points),
            "points_to_next_tier": rules::points_to_next_tier(p.points.total_points),
            "points_to_next_level": rules::points_to_next_level(p.points.total_points),
        },
    })
}

pub fn no_profile() -> Error {
    Error::not_found(
        "profile_not_found",
        "no profile yet: create it with PUT /v1/me",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player(id: &str) -> Caller {
        Caller {
            user_id: crate::ids::UserId::parse(id).unwrap(),
            privileged_role: None,
            scopes: vec![],
        }
    }

    fn input(username: Option<&str>) -> ProfileInput {
        ProfileInput {
            username: username.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn days_follow_the_set_zone_else_the_verified_numbers_single_zone() {
        assert_eq!(day_zone("Asia/Tokyo", Some("+14155550123")), "Asia/Tokyo");
        assert_eq!(day_zone("", Some("+14155550123")), "America/Los_Angeles");
        // A UK mobile maps to four zones: none is the one.
        assert_eq!(day_zone("", Some("+447400123456")), "UTC");
        assert_eq!(day_zone("", None), "UTC");
    }

    #[test]
    fn create_needs_a_username_and_fills_defaults() {
        assert_eq!(
            apply_input(None, input(None), &player("u1"), 5, 16)
                .unwrap_err()
                .status(),
            400
        );
        let p = apply_input(None, input(Some("Ann_1")), &player("u1"), 5, 16).unwrap();
        assert_eq!(p.display_name, "Ann_1");
        assert_eq!(p.role, PlayerRole::Explorer);
        assert_eq!(p.timezone, "");
        assert_eq!(p.day_zone(), "UTC");
        assert!(p.availability.is_available_for_battles);
        assert_eq!(p.version, 1);
        assert_eq!(
            p.availability.online_shard.as_deref(),
            Some(online_shard("u1", 16).as_str())
        );
    }

    #[test]
    fn update_keeps_absent_fields() {
        let p = apply_input(None, input(Some("ann")), &player("u1"), 5, 16).unwrap();
        let q = apply_input(
            Some(&p),
            ProfileInput {
                timezone: Some("Africa/Kampala".into()),
                ..Default::default()
            },
            &player("u1"),
            9,
            16,
        )
        .unwrap();
        assert_eq!(q.username, "ann");
        assert_eq!(q.timezone, "Africa/Kampala");
        assert_eq!(q.version, 2);
        assert_eq!(q.created_at, 5);
        assert_eq!(q.updated_at, 9);
    }

    #[test]
    fn privileged_accounts_stay_out_of_the_online_index() {
        let admin = Caller {
            privileged_role: Some(PrivilegedRole::Admin),
            ..player("a1")
        };
        let p = apply_input(None, input(Some("boss")), &admin, 5, 16).unwrap();
        assert_eq!(p.availability.online_shard, None);
        assert_eq!(p.availability.privileged_role, Some(PrivilegedRole::Admin));
        assert!(!p.can_be_picked_by("someone", 5));
        // The same account with a player token later: back in the index.
        let q = apply_input(Some(&p), ProfileInput::default(), &player("a1"), 6, 16).unwrap();
        assert!(q.availability.online_shard.is_some());
        assert!(q.can_be_picked_by("someone", 6));
    }

    #[test]
    fn pick_filter() {
        let p = apply_input(None, input(Some("ann")), &player("u1"), 5, 16).unwrap();
        assert!(!p.can_be_picked_by("u1", 5), "never yourself");
        let mut busy = p.clone();
        busy.guards.active_battle_id = Some("b".into());
        assert!(!busy.can_be_picked_by("u2", 5));
        let mut invited = p.clone();
        invited.guards.pending_invitation_id = Some("i".into());
        invited.guards.pending_until = Some(100);
        assert!(!invited.can_be_picked_by("u2", 99));
        assert!(
            invited.can_be_picked_by("u2", 100),
            "a lapsed invitation no longer counts"
        );
        let mut away = p;
        away.availability.is_available_for_battles = false;
        assert!(!away.can_be_picked_by("u2", 5));
    }

    #[test]
    fn invalid_fields_rejected() {
        for bad in ["ab", "has space", "x".repeat(31).as_str(), "émile"] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
        assert!(validate_timezone("Mars/Olympus").is_err());
        assert_eq!(validate_timezone("Europe/Paris").unwrap(), "Europe/Paris");
        let e = PlayerRole::parse("admin").unwrap_err();
        assert!(e.to_string().contains("token"));
        assert!(PlayerRole::parse("wizard").is_err());
    }
}
