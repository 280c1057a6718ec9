//! Identifiers: the ones we mint and the checks on the ones clients send,
//! applied before any of them reaches a key.

use crate::error::Error;

/// An id of one kind of thing, so that a function taking a user and an
/// invitation cannot be handed them the other way round. It reads as the
/// `&str` it wraps (`Deref`), so it goes wherever an id string is read;
/// only its constructors decide what is one.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type!(
    /// A user: a verified token's `sub` (see [`is_valid_user_id`]).
    UserId
);
id_type!(
    /// An invitation: minted by us ([`new_id`]); one from a client is checked.
    InvitationId
);
id_type!(
    /// A battle: minted by us ([`new_id`]); one from a client is checked.
    BattleId
);
id_type!(
    /// A WebSocket connection: API Gateway's, taken as it gives it.
    ConnectionId
);

impl UserId {
    /// A token subject or a service's `user_id`; refused as F-ERR-1
    /// validation otherwise.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if is_valid_user_id(raw) {
            Ok(UserId(raw.to_string()))
        } else {
            Err(Error::validation(
                "a user id is 1 to 128 characters, without control characters or '#'",
            ))
        }
    }
}

impl InvitationId {
    /// An id a client sent: one of ours, or `invitation_not_found`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        validate_id(raw, "invitation_not_found")?;
        Ok(InvitationId(raw.to_string()))
    }
}

impl BattleId {
    /// An id a client sent: one of ours, or `battle_not_found`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        validate_id(raw, "battle_not_found")?;
        Ok(BattleId(raw.to_string()))
    }
}

impl From<String> for ConnectionId {
    fn from(raw: String) -> Self {
        ConnectionId(raw)
    }
}

/// Sortable ids: creation order is visible in listings and logs.
pub fn new_id() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

/// Ids in paths are ours: refuse anything else before it reaches a key.
pub fn validate_id(raw: &str, what: &'static str) -> Result<(), Error> {
    if (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(Error::not_found(
            what,
            format!("no {} with that id", what.trim_end_matches("_not_found")),
        ))
    }
}

/// A user id is a token's `sub`: 1 to 128 characters, no control characters
/// and no `#` (the key separator of every table).
pub fn is_valid_user_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && !id.chars().any(|c| c.is_control() || c == '#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_outside_are_checked_and_read_as_their_text() {
        let user = UserId::parse("auth0|alice").unwrap();
        assert_eq!(user, "auth0|alice");
        assert_eq!(user.len(), 11, "reads as the &str it wraps");
        for bad in ["", "a#b", "line\nbreak", &"x".repeat(129)] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
        }
        let invitation = InvitationId::parse(&new_id()).unwrap();
        assert_eq!(
            serde_json::to_value(&invitation).unwrap(),
            invitation.as_str()
        );
        let refused = InvitationId::parse("../x").unwrap_err();
        assert_eq!(
            refused.to_string(),
            Error::not_found("invitation_not_found", "no invitation with that id").to_string()
        );
        assert!(BattleId::parse("01jd?").is_err());
        assert_eq!(ConnectionId::from("Ab1=".to_string()).to_string(), "Ab1=");
    }
}
