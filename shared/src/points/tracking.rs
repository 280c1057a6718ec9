//! Weekly goals (F-PT-10) and side quests (F-PT-11): trackers that follow a
//! user's activities and pay their reward once.
//!
//! Items in the users table:
//! - `USER#<id>` / `TRACK#GOAL#<monday>#<goal type>`: a weekly goal;
//! - `USER#<id>` / `TRACK#QUEST#<quest id>`: a side quest the user started;
//! - `QUESTS` / `QUEST#<quest id>`: a side-quest definition.
//!
//! Each tracker remembers the activities it counted, so following the same
//! activity twice (a retried award) advances it once; the reward goes through
//! the ledger with an idempotency key per tracker, so it is paid once even if
//! completion is retried.

use super::ledger::{Activity, AwardRequest, Awarded, Ledger};
use super::rules::ActivityType;
use crate::db::{self, key, n, s, Item};
use crate::error::Error;
use crate::keys::users::{
    goal_tracker_id, quest_key, quest_tracker_id, tracker_key, user_pk, GOAL_TRACKER_PREFIX,
    QUESTS_PK, QUEST_TRACKER_PREFIX,
};
use crate::Config;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
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

    fn title(self) -> &'static str {
        match self {
            GoalType::BattlesPlayed => "Play 3 battles this week",
            GoalType::Comments => "Post 5 comments this week",
            GoalType::Quizzes => "Complete 3 quizzes this week",
        }
    }

    fn slug(self) -> String {
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
    fn reward_type(&self) -> ActivityType {
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

fn goal_sk(week: NaiveDate, goal: GoalType) -> String {
    format!("TRACK#{}", goal_tracker_id(week, &goal.slug()))
}

#[derive(Clone)]
pub struct Tracking {
    client: Client,
    table: String,
    ledger: Ledger,
    weekly_goal_reward: i64,
}

impl Tracking {
    pub fn new(client: Client, config: &Config) -> Self {
        Tracking {
            ledger: Ledger::new(client.clone(), config),
            client,
            table: config.tables.users.clone(),
            weekly_goal_reward: config.weekly_goal_reward,
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Awards points (F-PT-1) and lets the user's trackers follow the activity;
    /// returns the award and any rewards it completed. Safe to retry with the
    /// same idempotency key: a replayed award is followed again, which finishes
    /// what an interrupted first call left undone without counting twice.
    pub async fn award(
        &self,
        req: &AwardRequest,
        now_ms: i64,
    ) -> Result<(Awarded, Vec<Awarded>), Error> {
        let awarded = self.ledger.add_points(req, now_ms).await?;
        let rewards = self.follow(&awarded.activity, now_ms).await?;
        Ok((awarded, rewards))
    }

    async fn follow(&self, activity: &Activity, now_ms: i64) -> Result<Vec<Awarded>, Error> {
        if activity.activity_type.is_reward() {
            return Ok(vec![]);
        }
        let week = week_start(crate::clock::utc_date(activity.created_at));
        let mut trackers = self
            .query_trackers(&activity.user_id, &format!("{GOAL_TRACKER_PREFIX}{week}#"))
            .await?;
        trackers.extend(
            self.query_trackers(&activity.user_id, QUEST_TRACKER_PREFIX)
                .await?,
        );
        let mut rewards = Vec::new();
        for tracker in trackers {
            if !tracker.counts.contains(&activity.activity_type)
                || tracker.started_at > activity.created_at
            {
                continue;
            }
            let tracker = if tracker.status == TrackerStatus::InProgress
                && tracker.progress < tracker.target
                && !tracker.counted.contains(&activity.activity_id)
            {
                self.count(&activity.user_id, &tracker, &activity.activity_id)
                    .await?
            } else {
                tracker
            };
            if tracker.progress >= tracker.target {
                rewards.push(self.pay(&activity.user_id, &tracker, now_ms).await?);
            }
        }
        Ok(rewards)
    }

    /// Advances a tracker by one activity; the fresh tracker either way.
    async fn count(
        &self,
        user_id: &str,
        tracker: &Tracker,
        activity_id: &str,
    ) -> Result<Tracker, Error> {
        let k = tracker_key(user_id, &tracker.tracker_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k.clone()))
            .update_expression(
                "SET progress = progress + :one, counted = list_append(counted, :ids)",
            )
            .condition_expression(
                "#status = :open AND progress < target AND NOT contains(counted, :id)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ids", AttributeValue::L(vec![s(activity_id)]))
            .expression_attribute_values(":id", s(activity_id))
            .expression_attribute_values(":open", s("in_progress"))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match db::conditional(result)? {
            Some(out) => Ok(serde_dynamo::from_item(out.attributes.unwrap_or_default())?),
            None => db::get_item(&self.client, &self.table, k)
                .await?
                .ok_or_else(|| Error::internal("tracker vanished")),
        }
    }

    /// Marks a full tracker completed and pays its reward (once, by key).
    async fn pay(&self, user_id: &str, tracker: &Tracker, now_ms: i64) -> Result<Awarded, Error> {
        let k = tracker_key(user_id, &tracker.tracker_id);
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k))
            .update_expression("SET #status = :done, completed_at = :now")
            .condition_expression("#status = :open")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", s("completed"))
            .expression_attribute_values(":open", s("in_progress"))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        // `None`: already marked by an earlier call; the payment below is keyed.
        db::conditional(marked)?;
        let request = AwardRequest {
            user_id: user_id.to_string(),
            amount: tracker.reward,
            activity_type: tracker.reward_type(),
            description: format!("Completed: {}", tracker.title),
            idempotency_key: Some(format!("reward:{}", tracker.tracker_id.replace('#', ":"))),
        };
        self.ledger.add_points(&request, now_ms).await
    }

    async fn query_trackers(&self, user_id: &str, prefix: &str) -> Result<Vec<Tracker>, Error> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(user_pk(user_id)))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(db::dependency)?;
            for item in page.items() {
                out.push(serde_dynamo::from_item(item.clone())?);
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// F-PT-10: the goals of the week that holds `today`.
    pub async fn weekly_goals(
        &self,
        user_id: &str,
        today: NaiveDate,
    ) -> Result<Vec<Tracker>, Error> {
        self.query_trackers(
            user_id,
            &format!("{GOAL_TRACKER_PREFIX}{}#", week_start(today)),
        )
        .await
    }

    /// F-JOB-3: creates the week's goals for a user; existing ones are kept
    /// (a rerun changes nothing). Returns how many were created.
    pub async fn create_weekly_goals(
        &self,
        user_id: &str,
        week: NaiveDate,
        now_ms: i64,
    ) -> Result<usize, Error> {
        let mut created = 0;
        for goal in GoalType::ALL {
            let tracker = Tracker {
                tracker_id: goal_tracker_id(week, &goal.slug()),
                title: goal.title().to_string(),
                counts: goal.counts(),
                progress: 0,
                target: goal.target(),
                reward: self.weekly_goal_reward,
                status: TrackerStatus::InProgress,
                goal_type: Some(goal),
                week_start: Some(week),
                quest_id: None,
                started_at: week_ms(week),
                completed_at: None,
                counted: vec![],
            };
            let mut item: Item = serde_dynamo::to_item(&tracker)?;
            item.extend(key(user_pk(user_id), goal_sk(week, goal)));
            item.insert("expires_at".into(), n(now_ms / 1000 + 400 * 24 * 3600));
            // `false`: the goal exists already (a rerun), and is kept.
            if db::put_new(&self.client, &self.table, item).await? {
                created += 1;
            }
        }
        Ok(created)
    }

    pub async fn side_quests(&self) -> Result<Vec<SideQuest>, Error> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(QUESTS_PK))
            .send()
            .await
            .map_err(db::dependency)?;
        out.items()
            .iter()
            .map(|i| serde_dynamo::from_item(i.clone()).map_err(Error::from))
            .filter(|q: &Result<SideQuest, Error>| q.as_ref().map_or(true, |q| q.active))
            .collect()
    }

    pub async fn create_side_quest(
        &self,
        input: SideQuestInput,
        now_ms: i64,
    ) -> Result<SideQuest, Error> {
        let title = input.title.trim();
        if !(1..=120).contains(&title.chars().count()) {
            return Err(Error::validation("title must be 1 to 120 characters"));
        }
        if input.description.chars().count() > 1000 {
            return Err(Error::validation(
                "description may be at most 1000 characters",
            ));
        }
        if !(1..=1000).contains(&input.target) {
            return Err(Error::validation("target must be from 1 to 1000"));
        }
        if !(1..=super::ledger::MAX_AMOUNT).contains(&input.reward) {
            return Err(Error::validation("reward must be a positive whole number"));
        }
        if input.quest_type.is_reward() {
            return Err(Error::validation(
                "quest_type must be an activity (not a reward such as streak_bonus)",
            ));
        }
        let quest = SideQuest {
            quest_id: crate::ids::new_id(),
            title: title.to_string(),
            description: input.description,
            quest_type: input.quest_type,
            difficulty: input.difficulty,
            target: input.target,
            reward: input.reward,
            active: input.active,
            created_at: now_ms,
        };
        let mut item: Item = serde_dynamo::to_item(&quest)?;
        item.extend(quest_key(&quest.quest_id));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(quest)
    }

    /// F-PT-11: starts a quest for a user; starting twice is a conflict.
    pub async fn start_side_quest(
        &self,
        user_id: &str,
        quest_id: &str,
        now_ms: i64,
    ) -> Result<Tracker, Error> {
        crate::ids::validate_id(quest_id, "quest_not_found")?;
        let quest: SideQuest = db::get_item(&self.client, &self.table, quest_key(quest_id))
            .await?
            .filter(|q: &SideQuest| q.active)
            .ok_or_else(|| {
                Error::not_found("quest_not_found", "no active side quest with that id")
            })?;
        let tracker = Tracker {
            tracker_id: quest_tracker_id(quest_id),
            title: quest.title.clone(),
            counts: vec![quest.quest_type],
            progress: 0,
            target: quest.target,
            reward: quest.reward,
            status: TrackerStatus::InProgress,
            goal_type: None,
            week_start: None,
            quest_id: Some(quest_id.to_string()),
            started_at: now_ms,
            completed_at: None,
            counted: vec![],
        };
        let mut item: Item = serde_dynamo::to_item(&tracker)?;
        item.extend(tracker_key(user_id, &quest_tracker_id(quest_id)));
        if !db::put_new(&self.client, &self.table, item).await? {
            return Err(Error::conflict(
                "quest_already_started",
                "you already started this side quest",
            ));
        }
        Ok(tracker)
    }

    pub async fn user_side_quests(&self, user_id: &str) -> Result<Vec<Tracker>, Error> {
        self.query_trackers(user_id, QUEST_TRACKER_PREFIX).await
    }
}

/// Midnight UTC of a date, in ms.
fn week_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or_default()
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
