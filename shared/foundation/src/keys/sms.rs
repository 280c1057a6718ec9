//! The sms table: logs, the opt-out list, limit and cost counters, pending
//! verification codes, the console outbox and provider tokens (F-SMS-*).

pub use super::TTL_ATTR;
use crate::db::{key, Item};

pub const LOG_PREFIX: &str = "SMS#";

pub fn log_key(sms_id: &str) -> Item {
    key(format!("{LOG_PREFIX}{sms_id}"), "LOG")
}

/// The log id of an `SMS#<id>` partition key.
pub fn log_id_of_pk(pk: &str) -> &str {
    pk.trim_start_matches(LOG_PREFIX)
}

/// `ONCE#<key>` / `ONCE`: a message that goes at most once (one match_found
/// per battle and player) was already let through or refused.
pub fn once_key(once: &str) -> Item {
    key(format!("ONCE#{once}"), "ONCE")
}

/// `OPTOUT#<e164>`: a number's opt-out record and its history.
pub fn optout_pk(e164: &str) -> String {
    format!("OPTOUT#{e164}")
}

pub const OPTOUT_SK: &str = "OPTOUT";

pub fn optout_key(e164: &str) -> Item {
    key(optout_pk(e164), OPTOUT_SK)
}

/// `LIMIT#<scope>` / `GAP`: when a scope last sent (the 30 s spacing).
pub fn limit_gap_key(scope: &str) -> Item {
    key(format!("LIMIT#{scope}"), "GAP")
}

/// `LIMIT#<scope>#<window>` / `COUNT`: a fixed-window counter.
pub fn limit_count_key(scope: &str, window: Option<i64>) -> Item {
    match window {
        Some(w) => key(format!("LIMIT#{scope}#{w}"), "COUNT"),
        None => key(format!("LIMIT#{scope}"), "COUNT"),
    }
}

/// Shards of the spend and cost counters: every text moves them, so one
/// item each would cap the pipeline at 500 texts a second (issue 23). A
/// text's shard is its log id's; readers sum every shard and the unsharded
/// counter that texts before the shards moved (`None`).
pub const COST_SHARDS: u32 = 32;

/// The counters' shard of a text.
pub fn cost_shard(sms_id: &str) -> Option<u32> {
    Some(super::shard_of(sms_id, COST_SHARDS))
}

/// Every shard a reader sums, the unsharded one last.
pub fn cost_shards() -> impl Iterator<Item = Option<u32>> {
    (0..COST_SHARDS).map(Some).chain(std::iter::once(None))
}

fn sharded(base: String, shard: Option<u32>) -> String {
    match shard {
        Some(i) => format!("{base}#{i:02}"),
        None => base,
    }
}

/// Spend counters (F-SMS-27): `COST#<yyyy-mm>[#<shard>]` / `MONTH`,
/// `COST#<date>[#<shard>]` / `DAY`.
pub fn cost_month_key(month: &str, shard: Option<u32>) -> Item {
    key(sharded(format!("COST#{month}"), shard), "MONTH")
}

pub fn cost_day_key(date: &str, shard: Option<u32>) -> Item {
    key(cost_day_pk(date, shard), "DAY")
}

/// A partition of a day's cost counters: `DAY`, and one per message type
/// and provider (`TYPE#<type>#<provider>`), which the daily report reads.
pub fn cost_day_pk(date: &str, shard: Option<u32>) -> String {
    sharded(format!("COST#{date}"), shard)
}

pub const COST_TYPE_PREFIX: &str = "TYPE#";

pub fn cost_type_key(date: &str, shard: Option<u32>, message_type: &str, provider: &str) -> Item {
    key(
        cost_day_pk(date, shard),
        format!("{COST_TYPE_PREFIX}{message_type}#{provider}"),
    )
}

/// The spend reservation counters of a month (F-SMS-12): a shard per
/// text, and the one exact counter (`None`) that promotions reserve in
/// near the cap (`sms::spend`).
pub fn spend_scope(month: &str, shard: Option<u32>) -> String {
    sharded(format!("spend#{month}"), shard)
}

/// `VERIFY#<user>` / `CODE`: the pending verification code (hashed).
pub fn verification_code_key(user_id: &str) -> Item {
    key(format!("VERIFY#{user_id}"), "CODE")
}

/// `CONSOLE` / `<sent at>#<log id>`: what the console provider "sent".
pub fn console_key(sent_at_ms: i64, sms_id: &str) -> Item {
    key("CONSOLE", format!("{sent_at_ms:013}#{sms_id}"))
}

/// `PROVIDER#<name>` / `TOKEN`: a provider's cached access token.
pub fn provider_token_key(provider: &str) -> Item {
    key(format!("PROVIDER#{provider}"), "TOKEN")
}

/// What the operator's search reads a log by (F-SMS-2): a number, a user, a
/// message type on a UTC day. Written with the log, never changed.
///
/// Every text of a type on a day is one facet, written at the pipeline's
/// whole rate: it is split in [`SEARCH_SHARDS`] by the log's id (issue 23),
/// and the search reads a day's shards together (`None`: the unsharded
/// partition entries written before the shards are in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchFacet<'a> {
    Number(&'a str),
    User(&'a str),
    TypeOnDay(&'a str, &'a str, Option<u32>),
}

/// Shards of a type's day of texts (16,000 texts a second of one type).
pub const SEARCH_SHARDS: u32 = 32;

/// The type-day shard of a log.
pub fn search_shard(sms_id: &str) -> Option<u32> {
    Some(super::shard_of(sms_id, SEARCH_SHARDS))
}

/// Every shard a search of a type's day reads, the unsharded one last.
pub fn search_shards() -> impl Iterator<Item = Option<u32>> {
    (0..SEARCH_SHARDS).map(Some).chain(std::iter::once(None))
}

impl SearchFacet<'_> {
    /// `FIND#num#<e164>`, `FIND#user#<id>`,
    /// `FIND#type#<type>#<yyyy-mm-dd>[#<shard>]`.
    pub fn pk(&self) -> String {
        match self {
            SearchFacet::Number(e164) => format!("FIND#num#{e164}"),
            SearchFacet::User(user) => format!("FIND#user#{user}"),
            SearchFacet::TypeOnDay(kind, day, shard) => {
                sharded(format!("FIND#type#{kind}#{day}"), *shard)
            }
        }
    }
}

/// A search entry: `<facet>` / `<created at>#<log id>`, newest last.
pub fn search_key(facet: SearchFacet<'_>, created_at_ms: i64, sms_id: &str) -> Item {
    key(facet.pk(), search_sk(created_at_ms, sms_id))
}

pub fn search_sk(created_at_ms: i64, sms_id: &str) -> String {
    format!("{created_at_ms:013}#{sms_id}")
}

/// `OPTOUT#<e164>` / `HISTORY#<at>#<id>`: who put the number on or took it off
/// the opt-out list, when and why (beside its `OPTOUT` record).
pub fn optout_history_key(e164: &str, at_ms: i64, id: &str) -> Item {
    key(optout_pk(e164), format!("HISTORY#{at_ms:013}#{id}"))
}
