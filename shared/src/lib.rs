//! Versus: the domain rules, storage and AWS plumbing every function shares.
//! Pure rules take `now` as an argument; stores take their client at
//! construction (built once per process, at init).

pub mod auth;
pub mod battles;
pub mod config;
pub mod cursor;
pub mod lambda;
pub mod phone;
pub mod points;
pub mod presence;
pub mod profile;
pub mod realtime;
pub mod sms;
pub mod sqs;
pub mod sweep;
pub mod texts;
pub mod wiring;
pub mod ws;

// The foundation crate's modules, under the names every module uses.
pub use versus_foundation::{clock, db, error, ids, keys, secret};

pub use clock::{now_ms, rfc3339};
pub use config::Config;
pub use error::Error;
