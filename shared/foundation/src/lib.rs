//! The foundation of Versus: what every domain builds on, and a crate of its
//! own so that the compiler, not a convention, keeps it from reaching into
//! one (it cannot name `battles`, `sms`, `points`...). The clock (`now` is an
//! input; the local stack pins it), ids, the one error type, secrets, every
//! table's keys and item shapes (`keys`), and the DynamoDB plumbing (`db`:
//! transactions, update expressions, retries). `versus` re-exports each
//! module under its own name (`versus::db`, `versus::keys`, ...).

pub mod clock;
pub mod db;
pub mod error;
pub mod ids;
pub mod keys;
pub mod secret;

pub use clock::{now_ms, rfc3339};
pub use error::Error;
