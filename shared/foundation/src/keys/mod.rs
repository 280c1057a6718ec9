//! The keys of every item, one module per table, so that the layout of a
//! table is read in one place and no domain module reaches into another's
//! to build a key. Every table has string `pk`/`sk`; `#` separates the parts
//! (user ids may not contain it, see `ids::is_valid_user_id`).

/// The TTL attribute every table declares (`TimeToLiveSpecification` in
/// template.yaml): epoch seconds after which DynamoDB deletes the item. Set
/// only by the modules that own an item's shape.
pub const TTL_ATTR: &str = "expires_at";

/// A stable shard of `id` among `shards` (FNV-1a, 32 bits: no dependence
/// on process hashing), for the keys many writers share: each writer's
/// items spread over `shards` partitions, and a reader that needs them all
/// reads every shard (issue 23: no partition key caps an operation).
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % shards.max(1)
}

pub mod battles;
pub mod sms;
pub mod users;
