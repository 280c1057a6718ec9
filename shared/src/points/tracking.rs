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

use super::award::{Activity, AwardRequest, Awarded};
use super::ledger::Ledger;
use super::trackers::goal_sk;
use super::trackers::{week_start, GoalType, SideQuest, SideQuestInput, Tracker, TrackerStatus};
use crate::db::{self, key, n, s, Item};
use crate::error::Error;
use crate::keys::users::{
    goal_tracker_id, quest_key, quest_tracker_id, tracker_key, user_pk, GOAL_TRACKER_PREFIX,
    QUESTS_PK, QUEST_TRACKER_PREFIX,
};
use crate::keys::TTL_ATTR;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;

#[derive(Clone)]
pub struct Tracking {
    client: Client,
    table: String,
    ledger: Ledger,
    weekly_goal_reward: i64,
}

impl Tracking {
    pub fn new(
        client: Client,
        users_table: impl Into<String>,
        ledger: Ledger,
        weekly_goal_reward: i64,
    ) -> Self {
        Tracking {
            ledger,
            client,
            table: users_table.into(),
            weekly_goal_reward,
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
            item.insert(TTL_ATTR.into(), n(now_ms / 1000 + 400 * 24 * 3600));
            // `false`: the goal exists already (a rerun), and is kept.
            if db::put_new(&self.client, &self.table, item).await? {
                created += 1;
            }
        }
        Ok(created)
    }

    /// A page of the side quests on offer (F-PT-11), in id order, with the
    /// cursor of the next (signed for `caller`). The `QUESTS` partition is
    /// read a page at a time, never whole: a page may hold fewer than
    /// `limit` (quests no longer active are left out after the read).
    pub async fn side_quests(
        &self,
        caller: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Vec<SideQuest>, Option<String>), Error> {
        const LISTING: &str = "side-quests";
        let cursors = self.ledger.cursors();
        let start = match cursor {
            Some(c) => {
                let start = cursors.open(LISTING, caller, c, &["pk", "sk"]).await?;
                if db::get_s(&start, "pk") != Some(QUESTS_PK) {
                    return Err(Error::bad_request(
                        "invalid_cursor",
                        "the cursor belongs to another listing",
                    ));
                }
                Some(start)
            }
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(QUESTS_PK))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(db::dependency)?;
        let (quests, next) = cursors
            .page::<SideQuest>(LISTING, caller, out.items(), out.last_evaluated_key())
            .await?;
        Ok((quests.into_iter().filter(|q| q.active).collect(), next))
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
        if !(1..=super::award::MAX_AMOUNT).contains(&input.reward) {
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
