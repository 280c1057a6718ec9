//! The trackers as data and pure rules: weekly goal types and their targets
//! (F-PT-10), side quests (F-PT-11), the tracker record and its view, and
//! the week a date belongs to.

use super::rules::ActivityType;
use crate::keys::users::goal_tracker_id;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalType {
    BattlesPlayed,
    Comments,
    Quizzes,
}

impl GoalType {
    pub const ALL: [GoalType; 3] = [
        GoalType::BattlesPlayed,
        GoalType::Comments,
        GoalType::Quizzes,
    ];

    pub fn target(self) -> u32 {
        match self {
            GoalType::BattlesPlayed => 3,
            GoalType::Comments => 5,
            GoalType::Quizzes => 3,
        }
    }

    pub fn counts(self) -> Vec<ActivityType> {
        match self {
            GoalType::BattlesPlayed => vec![
                ActivityType::BattleWin,
                ActivityType::BattleTie,
                ActivityType::BattleParticipation,
            ],
            GoalType::Comments => vec![ActivityType::Comment],
            GoalType::Quizzes => vec![ActivityType::QuizComplete],
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            GoalType::BattlesPlayed => "Play 3 battles this week",
            GoalType::Comments => "Post 5 comments this week",
            GoalType::Quizzes => "Complete 3 quizzes this week",
        }
    }

    pub(crate) fn slug(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackerStatus {
    InProgress,
    Completed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    /// `GOAL#<monday>#<type>` or `QUEST#<quest id>`.
    pub tracker_id: String,
    pub title: String,
    pub counts: Vec<ActivityType>,
    pub progress: u32,
    pub target: u32,
    pub reward: i64,
    pub status: TrackerStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal_type: Option<GoalType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week_start: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quest_id: Option<String>,
    pub started_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    /// Ids of the activities already counted (at most `target` of them).
    #[serde(default)]
    pub counted: Vec<String>,
}

impl Tracker {
    pub(crate) fn reward_type(&self) -> ActivityType {
        if self.quest_id.is_some() {
            ActivityType::SideQuest
        } else {
            ActivityType::WeeklyGoal
        }
    }

    /// The view clients get (without the bookkeeping).
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.tracker_id.split('#').next_back(),
            "title": self.title,
            "goal_type": self.goal_type,
            "quest_id": self.quest_id,
            "week_start": self.week_start,
            "progress": self.progress.min(self.target),
            "target": self.target,
            "reward": self.reward,
            "status": self.status,
            "started_at": crate::clock::rfc3339(self.started_at),
            "completed_at": self.completed_at.map(crate::clock::rfc3339),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SideQuest {
    pub quest_id: String,
    pub title: String,
    pub description: String,
    pub quest_type: ActivityType,
    pub difficulty: Difficulty,
    pub target: u32,
    pub reward: i64,
    pub active: bool,
    pub created_at: i64,
}

/// `POST /v1/side-quests` (admin).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideQuestInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub quest_type: ActivityType,
    pub difficulty: Difficulty,
    pub target: u32,
    pub reward: i64,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// The Monday that starts `date`'s week (weeks run Monday to Sunday, UTC).
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
}

pub(crate) fn goal_sk(week: NaiveDate, goal: GoalType) -> String {
    format!("TRACK#{}", goal_tracker_id(week, &goal.slug()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(week_start(d("2026-11-22")), d("2026-11-16")); // a Sunday
        assert_eq!(week_start(d("2026-11-16")), d("2026-11-16")); // a Monday
        assert_eq!(week_start(d("2027-01-01")), d("2026-12-28"));
    }

    #[test]
    fn goal_keys_name_the_week_and_type() {
        let d = "2026-11-16".parse::<NaiveDate>().unwrap();
        assert_eq!(
            goal_sk(d, GoalType::BattlesPlayed),
            "TRACK#GOAL#2026-11-16#battles_played"
        );
    }
}
