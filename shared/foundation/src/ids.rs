//! Identifiers: the ones we mint and the checks on the ones clients send,
//! applied before any of them reaches a key.

use crate::error::Error;

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
