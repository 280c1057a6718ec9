//! Points (F-PT): the pure rules, the ledger (the only door), leaderboard,
//! weekly goals and side quests, and the scheduled jobs that pay bonuses.

pub mod award;
pub mod battle_points;
pub mod jobs;
pub mod leaderboard;
pub mod ledger;
pub mod rules;
pub mod trackers;
pub mod tracking;
pub mod upgrades;
