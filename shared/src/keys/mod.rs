//! The keys of every item, one module per table, so that the layout of a
//! table is read in one place and no domain module reaches into another's
//! to build a key. Every table has string `pk`/`sk`; `#` separates the parts
//! (user ids may not contain it, see `ids::is_valid_user_id`).

pub mod battles;
pub mod sms;
pub mod users;
