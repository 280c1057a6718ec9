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

/// Spend counters (F-SMS-27): `COST#<yyyy-mm>` / `MONTH`, `COST#<date>` / `DAY`.
pub fn cost_month_key(month: &str) -> Item {
    key(format!("COST#{month}"), "MONTH")
}

pub fn cost_day_key(date: &str) -> Item {
    key(format!("COST#{date}"), "DAY")
}

/// The partition of a day's cost counters: `DAY`, and one per message type
/// and provider (`TYPE#<type>#<provider>`), which the daily report reads.
pub fn cost_day_pk(date: &str) -> String {
    format!("COST#{date}")
}

pub const COST_TYPE_PREFIX: &str = "TYPE#";

pub fn cost_type_key(date: &str, message_type: &str, provider: &str) -> Item {
    key(
        cost_day_pk(date),
        format!("{COST_TYPE_PREFIX}{message_type}#{provider}"),
    )
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchFacet<'a> {
    Number(&'a str),
    User(&'a str),
    TypeOnDay(&'a str, &'a str),
}

impl SearchFacet<'_> {
    /// `FIND#num#<e164>`, `FIND#user#<id>`, `FIND#type#<type>#<yyyy-mm-dd>`.
    pub fn pk(&self) -> String {
        match self {
            SearchFacet::Number(e164) => format!("FIND#num#{e164}"),
            SearchFacet::User(user) => format!("FIND#user#{user}"),
            SearchFacet::TypeOnDay(kind, day) => format!("FIND#type#{kind}#{day}"),
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
