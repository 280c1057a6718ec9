//! The keys of every item, one module per table, so that the layout of a
//! table is read in one place and no domain module reaches into another's
//! to build a key. Every table has string `pk`/`sk`; `#` separates the parts
//! (user ids may not contain it, see `ids::is_valid_user_id`).

/// The TTL attribute every table declares (`TimeToLiveSpecification` in
/// template.yaml): epoch seconds after which DynamoDB deletes the item. Set
/// only by the modules that own an item's shape.
pub const TTL_ATTR: &str = "expires_at";

pub mod battles;
pub mod sms;
pub mod users;
