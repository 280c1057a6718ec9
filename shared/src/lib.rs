//! Versus: the domain rules, storage and AWS plumbing every function shares.
//! Pure rules take `now` as an argument; stores take their client at
//! construction (built once per process, at init).

pub mod auth;
pub mod battles;
pub mod config;
pub mod cursor;
pub mod db;
pub mod error;
pub mod http;
pub mod lambda;
pub mod phone;
pub mod points;
pub mod presence;
pub mod profile;
pub mod realtime;
pub mod sms;
pub mod ws;

pub use config::Config;
pub use error::Error;

/// Milliseconds since the epoch: the one clock reading a handler takes per event.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A timestamp as clients see it: RFC 3339, UTC, milliseconds.
pub fn rfc3339(ms: i64) -> serde_json::Value {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| serde_json::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(serde_json::Value::Null)
}
