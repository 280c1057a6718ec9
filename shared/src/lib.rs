//! Versus: the domain rules, storage and AWS plumbing every function shares.
//! Pure rules take `now` as an argument; stores take their client at
//! construction (built once per process, at init).

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod lambda;
pub mod phone;
pub mod points;
pub mod presence;
pub mod profile;
pub mod realtime;
pub mod ws;

pub use config::Config;
pub use error::Error;

/// Milliseconds since the epoch: the one clock reading a handler takes per event.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
