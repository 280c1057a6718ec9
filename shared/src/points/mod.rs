//! Points (F-PT). The pure rules live in `rules`; the ledger comes with the points issue.

pub mod rules;
