//! Scheduled points jobs (F-JOB-1 daily streak bonus, F-JOB-3 weekly goals).
//!
//! Both walk the `active_by_date` index page by page (never a scan), save a
//! checkpoint after every page, and stop starting pages when asked (the
//! function's time budget); a later run continues from the checkpoint. Every
//! payment has an idempotency key per user and date, and goal creation is
//! conditional, so a rerun (or a run that crashed between paying and saving
//! its checkpoint) never pays or creates twice (F-JOB-7).

use super::award::AwardRequest;
use super::rules::{self, ActivityType};
use super::trackers::week_start;
use super::tracking::Tracking;
use crate::db::{self, s, Item};
use crate::error::Error;
use crate::keys::users::{job_state_key, profile_key};
use crate::profile::Profile;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Users read per page of the index (BatchGetItem takes at most 100 keys).
pub const DEFAULT_PAGE: i32 = 100;
const CONCURRENCY: usize = 8;
/// F-PT-10: goals go to users active in the last 14 days.
const ACTIVE_WINDOW_DAYS: u64 = 14;
/// Days of the goals' own week also visited, so a late or manual run (a
/// continuation on Tuesday, a developer mid-week) includes this week's players.
const WEEK_DAYS_AFTER: u64 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobName {
    StreakBonus,
    WeeklyGoals,
}

impl JobName {
    fn slug(self) -> &'static str {
        match self {
            JobName::StreakBonus => "streak_bonus",
            JobName::WeeklyGoals => "weekly_goals",
        }
    }

    /// The date a run triggered at `now_ms` works on: the streak bonus fires
    /// just before midnight UTC (a late delivery still means that day), weekly
    /// goals at Monday 00:00 UTC (the week that starts then).
    pub fn default_date(self, now_ms: i64) -> NaiveDate {
        match self {
            JobName::StreakBonus => crate::clock::utc_date(now_ms - 3_600_000),
            JobName::WeeklyGoals => week_start(crate::clock::utc_date(now_ms)),
        }
    }

    /// The dates whose active users the job visits, in order.
    fn days(self, date: NaiveDate) -> Vec<NaiveDate> {
        match self {
            JobName::StreakBonus => vec![date],
            JobName::WeeklyGoals => {
                let first = date - chrono::Days::new(ACTIVE_WINDOW_DAYS);
                (0..=ACTIVE_WINDOW_DAYS + WEEK_DAYS_AFTER)
                    .map(|d| first + chrono::Days::new(d))
                    .collect()
            }
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Index into the job's days.
    pub day: usize,
    /// Where the next page starts within that day (an index cursor).
    #[serde(default)]
    pub cursor: Option<String>,
    pub done: bool,
    /// Users visited so far (a user active on several days counts on each).
    pub visited: u64,
    /// Payments or goals this job created (reruns add nothing).
    pub effects: u64,
}

#[derive(Debug, PartialEq)]
pub enum RunOutcome {
    Done(Checkpoint),
    Stopped(Checkpoint),
}

#[derive(Clone)]
pub struct Jobs {
    client: Client,
    table: String,
    tracking: Tracking,
    page: i32,
}

impl Jobs {
    pub fn new(
        client: Client,
        users_table: impl Into<String>,
        tracking: Tracking,
        page: i32,
    ) -> Self {
        Jobs {
            tracking,
            client,
            table: users_table.into(),
            page: page.clamp(1, 100),
        }
    }

    fn state_key(job: JobName, date: NaiveDate) -> Item {
        job_state_key(job.slug(), date)
    }

    pub async fn checkpoint(&self, job: JobName, date: NaiveDate) -> Result<Checkpoint, Error> {
        Ok(
            db::get_item(&self.client, &self.table, Self::state_key(job, date))
                .await?
                .unwrap_or_default(),
        )
    }

    async fn save(&self, job: JobName, date: NaiveDate, cp: &Checkpoint) -> Result<(), Error> {
        let mut item: Item = serde_dynamo::to_item(cp)?;
        item.extend(Self::state_key(job, date));
        item.insert(
            "expires_at".into(),
            db::n(chrono::Utc::now().timestamp() + 60 * 24 * 3600),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(())
    }

    /// Runs (or continues) `job` for `date` until it is done or `should_stop`
    /// says to stop before the next page.
    pub async fn run(
        &self,
        job: JobName,
        date: NaiveDate,
        now_ms: i64,
        should_stop: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<RunOutcome, Error> {
        let mut cp = self.checkpoint(job, date).await?;
        let days = job.days(date);
        loop {
            if cp.done || cp.day >= days.len() {
                cp.done = true;
                self.save(job, date, &cp).await?;
                return Ok(RunOutcome::Done(cp));
            }
            if should_stop() {
                self.save(job, date, &cp).await?;
                return Ok(RunOutcome::Stopped(cp));
            }
            let start = cp
                .cursor
                .as_deref()
                .map(|c| db::decode_cursor(c, &["pk", "sk", "active_date", "user_id"]))
                .transpose()?;
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("active_by_date")
                .key_condition_expression("active_date = :d")
                .expression_attribute_values(":d", s(days[cp.day].to_string()))
                .limit(self.page)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(db::dependency)?;
            let users: Vec<String> = out
                .items()
                .iter()
                .filter_map(|i| db::get_s(i, "user_id").map(str::to_string))
                .collect();
            cp.visited += users.len() as u64;
            cp.effects += match job {
                JobName::StreakBonus => self.pay_streak_bonuses(&users, date, now_ms).await?,
                JobName::WeeklyGoals => self.create_goals(&users, date, now_ms).await?,
            };
            match out.last_evaluated_key() {
                Some(k) => cp.cursor = Some(db::encode_cursor(k)),
                None => {
                    cp.cursor = None;
                    cp.day += 1;
                }
            }
            self.save(job, date, &cp).await?;
        }
    }

    /// F-JOB-1: 5 × min(streak, 100) to each user with a streak, once per date.
    async fn pay_streak_bonuses(
        &self,
        users: &[String],
        date: NaiveDate,
        now_ms: i64,
    ) -> Result<u64, Error> {
        let requests: Vec<AwardRequest> = self
            .profiles(users)
            .await?
            .into_iter()
            .filter(|p| p.points.current_streak_days > 0)
            .map(|p| AwardRequest {
                amount: rules::streak_bonus(p.points.current_streak_days),
                activity_type: ActivityType::StreakBonus,
                description: format!("{}-day streak!", p.points.current_streak_days),
                idempotency_key: Some(format!("streak_bonus:{date}")),
                user_id: p.user_id,
            })
            .collect();
        let mut paid = 0;
        for chunk in requests.chunks(CONCURRENCY) {
            let awards = chunk
                .iter()
                .map(|r| self.tracking.ledger().add_points(r, now_ms));
            for a in futures::future::join_all(awards).await {
                paid += u64::from(!a?.replayed);
            }
        }
        Ok(paid)
    }

    /// F-JOB-3: the week's goals for each user (existing ones kept).
    async fn create_goals(
        &self,
        users: &[String],
        week: NaiveDate,
        now_ms: i64,
    ) -> Result<u64, Error> {
        let mut created = 0;
        for chunk in users.chunks(CONCURRENCY) {
            let creations = chunk
                .iter()
                .map(|u| self.tracking.create_weekly_goals(u, week, now_ms));
            for n in futures::future::join_all(creations).await {
                created += n? as u64;
            }
        }
        Ok(created)
    }

    /// Up to 100 profiles in one request (unprocessed keys are read again).
    async fn profiles(&self, users: &[String]) -> Result<Vec<Profile>, Error> {
        let mut keys: Vec<Item> = users.iter().map(|u| profile_key(u)).collect();
        let mut out = Vec::new();
        while !keys.is_empty() {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .build()
                .expect("keys set");
            let page = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(db::dependency)?;
            for item in page
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                out.push(serde_dynamo::from_item(item.clone())?);
            }
            if let Some(rest) = page.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                keys = rest.keys().to_vec();
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_a_run_works_on() {
        let ms = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        // Fired at 23:55, delivered at 00:10 the next day: still the evening's date.
        assert_eq!(
            JobName::StreakBonus
                .default_date(ms("2026-11-23T00:10:00Z"))
                .to_string(),
            "2026-11-22"
        );
        assert_eq!(
            JobName::StreakBonus
                .default_date(ms("2026-11-22T23:55:00Z"))
                .to_string(),
            "2026-11-22"
        );
        assert_eq!(
            JobName::WeeklyGoals
                .default_date(ms("2026-11-23T00:00:30Z"))
                .to_string(),
            "2026-11-23"
        );
        let days = JobName::WeeklyGoals.days("2026-11-23".parse().unwrap());
        assert_eq!(days.len(), 21);
        assert_eq!(days[0].to_string(), "2026-11-09");
        assert_eq!(days[20].to_string(), "2026-11-29");
    }
}
