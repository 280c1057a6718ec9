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
use crate::keys::users::profile_key;
use crate::keys::users::{active_partitions, ACTIVE_BY_DATE_INDEX, ACTIVE_DATE_ATTR};
use crate::points::upgrades::notify_upgrades;
use crate::profile::Profile;
use crate::realtime::Pusher;
use crate::sweep::{readable, Read, Runner, Segment, Sweep};
pub use crate::sweep::{Checkpoint, RunOutcome};
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// Users read per page of the index (BatchGetItem takes at most 100 keys).
pub const DEFAULT_PAGE: i32 = 100;
/// The runs a date fans out to: a shard of the active players each, and
/// the unsharded partition.
pub const SHARDS: u32 = crate::keys::users::ACTIVE_SHARDS + 1;
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

/// The points jobs: each run walks the `active_by_date` partitions of its days.
#[derive(Clone)]
pub struct Jobs {
    client: Client,
    table: String,
    tracking: Tracking,
    runner: Runner,
    /// F-PT-6: a bonus that moves a tier or level is pushed like any award.
    pusher: Pusher,
}

/// One run of a points job, as the sweep runner drives it.
struct PointsSweep<'a> {
    jobs: &'a Jobs,
    job: JobName,
    date: NaiveDate,
    now_ms: i64,
}

impl Sweep for PointsSweep<'_> {
    fn visit<'a>(&'a self, items: Vec<Item>) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let users: Vec<String> = items
                .iter()
                .filter_map(|i| db::get_s(i, "user_id").map(str::to_string))
                .collect();
            match self.job {
                JobName::StreakBonus => {
                    self.jobs
                        .pay_streak_bonuses(&users, self.date, self.now_ms)
                        .await
                }
                JobName::WeeklyGoals => {
                    self.jobs.create_goals(&users, self.date, self.now_ms).await
                }
            }
        })
    }
}

impl Jobs {
    pub fn new(
        client: Client,
        users_table: impl Into<String>,
        tracking: Tracking,
        pusher: Pusher,
        page: i32,
    ) -> Self {
        let table = users_table.into();
        Jobs {
            tracking,
            pusher,
            runner: Runner::new(client.clone(), &table, page),
            client,
            table,
        }
    }

    pub async fn checkpoint(&self, job: JobName, date: NaiveDate) -> Result<Checkpoint, Error> {
        self.runner.checkpoint(job.slug(), &date.to_string()).await
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
        let partitions = job.days(date).into_iter().flat_map(active_partitions);
        self.sweep(
            job,
            date,
            &date.to_string(),
            partitions,
            now_ms,
            should_stop,
        )
        .await
    }

    /// [`Jobs::run`] for one shard of the active players (`0..SHARDS`, the
    /// last the unsharded partition), with a checkpoint of its own
    /// (`<date>#<shard>`): the schedule fans a date out to parallel runs,
    /// one per shard (10,000,000 streaks paid within the hour).
    pub async fn run_shard(
        &self,
        job: JobName,
        date: NaiveDate,
        shard: u32,
        now_ms: i64,
        should_stop: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<RunOutcome, Error> {
        if shard >= SHARDS {
            return Err(Error::validation(format!(
                "a shard is from 0 to {}",
                SHARDS - 1
            )));
        }
        let partitions = job
            .days(date)
            .into_iter()
            .filter_map(|day| active_partitions(day).into_iter().nth(shard as usize));
        let run = format!("{date}#{shard:03}");
        self.sweep(job, date, &run, partitions, now_ms, should_stop)
            .await
    }

    async fn sweep(
        &self,
        job: JobName,
        date: NaiveDate,
        run: &str,
        partitions: impl Iterator<Item = String>,
        now_ms: i64,
        should_stop: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<RunOutcome, Error> {
        let segments: Vec<Segment> = partitions
            .map(|partition| Segment {
                table: self.table.clone(),
                read: Read::Partition {
                    index: ACTIVE_BY_DATE_INDEX,
                    partition: (ACTIVE_DATE_ATTR, s(partition)),
                    sort_between: None,
                },
                cursor_attributes: &["pk", "sk", ACTIVE_DATE_ATTR, "user_id"],
            })
            .collect();
        let sweep = PointsSweep {
            jobs: self,
            job,
            date,
            now_ms,
        };
        self.runner
            .run(job.slug(), run, &segments, &sweep, should_stop)
            .await
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
            let results = futures::future::join_all(awards).await;
            // The ones paid are announced even when another failed: a rerun
            // replays them, and a replay announces nothing.
            let paid_now: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            paid += paid_now.iter().filter(|a| !a.replayed).count() as u64;
            notify_upgrades(&self.pusher, &paid_now, now_ms).await;
            if let Some(failed) = results.into_iter().find_map(Result::err) {
                return Err(failed);
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

    async fn profiles(&self, users: &[String]) -> Result<Vec<Profile>, Error> {
        let keys = users.iter().map(|u| profile_key(u)).collect();
        Ok(readable(
            db::batch_get(&self.client, &self.table, keys).await?,
        ))
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
