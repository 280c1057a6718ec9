//! scheduled-jobs: the EventBridge schedules (F-JOB-1 daily streak bonus,
//! F-JOB-2 streak alerts, F-JOB-3 weekly goals, F-JOB-4 battle reminders,
//! F-JOB-6 the SMS cost report), and their continuation queue.
//!
//! A schedule delivers its input with the time it was scheduled for
//! (`{"job":"streak_alerts","at":"2026-11-22T19:00:00Z"}`, EventBridge
//! Scheduler's `<aws.scheduler.scheduled-time>`): the run works on that
//! slot whenever it runs (F-JOB-7). A `date` (the daily and weekly jobs, the
//! report) may be given instead to run one for another day.
//! A run that reaches its time budget saves its checkpoint and sends
//! `{job, date, at}` to the jobs queue; that message (this function again,
//! through SQS) continues where the run stopped (F-JOB-7).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use versus::battles::backfill::DeadlineBackfill;
use versus::battles::store::BattleStore;
use versus::lambda::{self, BoxError, Invoke, QueueOrJob, RecordOutcome};
use versus::points::jobs::{JobName, Jobs, DEFAULT_PAGE};
use versus::sms::redaction::BodyRedaction;
use versus::sms::report::emf_documents;
use versus::sms::search_backfill::SearchBackfill;
use versus::sms::store::SmsStore;
use versus::sweep::{RunOutcome, Runner};
use versus::texts::reminders::BattleReminders;
use versus::texts::streaks::{run_hour, StreakAlerts};

use versus::{db, Config, Error};

/// Battle reminders run every quarter hour; a run stands for its quarter.
const QUARTER_MS: i64 = 15 * 60_000;

/// Every job a schedule can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    StreakBonus,
    WeeklyGoals,
    BattleReminders,
    StreakAlerts,
    SmsCostReport,
    /// Not scheduled: run once by hand after upgrading (see
    /// `versus::battles::backfill`).
    BackfillDeadlineListing,
    /// Not scheduled: run once by hand after upgrading (see
    /// `versus::sms::redaction`).
    RedactSmsBodies,
    /// Not scheduled: run once by hand after upgrading (see
    /// `versus::sms::search_backfill`).
    IndexSmsLogs,
}

/// A schedule's input, and the continuation message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    pub job: Job,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// The slot the run stands for (the scheduler's scheduled time; default:
    /// now); the daily jobs take their date from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The daily and weekly jobs: the shard of the date's active players
    /// this run works on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// The daily and weekly jobs' schedules set it: the run sends a message
    /// per shard of the slot's date to the jobs queue, and those runs work
    /// in parallel. A run given a `date` (by hand) works the whole date in
    /// one chain instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fan_out: bool,
}

pub struct App {
    jobs: Jobs,
    battles: BattleStore,
    reminders: BattleReminders,
    streak_alerts: StreakAlerts,
    sms: SmsStore,
    cap_micros: u64,
    runner: Runner,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    budget: Duration,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let queue_url = config
        .jobs_queue_url
        .clone()
        .ok_or_else(|| Error::Config("JOBS_QUEUE_URL is not set".into()))?;
    let outbox = versus::wiring::outbox(&sdk, &client, config);
    let app = Arc::new(App {
        jobs: versus::wiring::jobs(
            &client,
            config,
            versus::wiring::pusher(&sdk, &client, config)?,
            DEFAULT_PAGE,
        ),
        battles: versus::wiring::battles(&client, config),
        reminders: versus::wiring::battle_reminders(outbox.clone(), &client, config),
        streak_alerts: versus::wiring::streak_alerts(outbox.clone(), &client, config),
        sms: outbox.store().clone(),
        cap_micros: config.sms.monthly_cap_micros,
        runner: Runner::new(client.clone(), &config.tables.users, DEFAULT_PAGE),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url,
        budget: Duration::from_secs(config.job_budget_secs as u64),
    });
    Ok(lambda::typed(
        move |event: QueueOrJob<JobInput>, context: lambda::Context| {
            let app = app.clone();
            async move {
                let now_ms = versus::now_ms();
                let budget = budget(app.budget, lambda::time_left(&context));
                app.handle(event, now_ms, budget).await
            }
        },
    ))
}

/// What a run keeps back from the invocation's deadline: the page under
/// way, and the continuation message (F-JOB-7).
const DEADLINE_RESERVE: Duration = Duration::from_secs(20);

/// The configured budget, or less when the invocation has less time left
/// than that (its deadline, minus the reserve).
pub fn budget(configured: Duration, time_left: Option<Duration>) -> Duration {
    match time_left {
        Some(left) => configured.min(left.saturating_sub(DEADLINE_RESERVE)),
        None => configured,
    }
}

impl App {
    pub async fn handle(
        &self,
        event: QueueOrJob<JobInput>,
        now_ms: i64,
        budget: Duration,
    ) -> Result<Value, BoxError> {
        match event {
            QueueOrJob::Queue(batch) => Ok(serde_json::to_value(
                self.continuations(batch, now_ms, budget).await,
            )?),
            QueueOrJob::Job(input) => Ok(self.run(input, now_ms, budget).await?),
        }
    }

    async fn run(&self, input: JobInput, now_ms: i64, budget: Duration) -> Result<Value, Error> {
        let started = Instant::now();
        // One page always runs, however little time is left: a run that
        // stopped before any work would only hand the same work on.
        let mut asked = 0u32;
        let mut should_stop = move || {
            asked += 1;
            asked > 1 && started.elapsed() >= budget
        };
        let at_ms = input.at.map_or(now_ms, |t| t.timestamp_millis());
        // What the run reports of itself, and what a continuation carries.
        let at = DateTime::from_timestamp_millis(at_ms);
        // What a continuation of this run carries.
        let resume = |date, at, shard| JobInput {
            job: input.job,
            date,
            at,
            shard,
            fan_out: false,
        };
        let (run, continuation, outcome) = match input.job {
            Job::StreakBonus | Job::WeeklyGoals => {
                let job = match input.job {
                    Job::StreakBonus => JobName::StreakBonus,
                    _ => JobName::WeeklyGoals,
                };
                // The slot's date, not the invocation's (F-JOB-7).
                let date = input.date.unwrap_or_else(|| job.default_date(at_ms));
                match (input.shard, input.fan_out && input.date.is_none()) {
                    (Some(shard), _) => {
                        let outcome = self
                            .jobs
                            .run_shard(job, date, shard, now_ms, &mut should_stop)
                            .await?;
                        (
                            json!({"date": date, "shard": shard}),
                            resume(Some(date), None, Some(shard)),
                            outcome,
                        )
                    }
                    (None, true) => return self.fan_out(input.job, date).await,
                    (None, false) => {
                        let outcome = self.jobs.run(job, date, now_ms, &mut should_stop).await?;
                        (
                            json!({"date": date}),
                            resume(Some(date), None, None),
                            outcome,
                        )
                    }
                }
            }
            Job::BattleReminders => {
                let quarter = at_ms - at_ms.rem_euclid(QUARTER_MS);
                let key = DateTime::from_timestamp_millis(quarter)
                    .unwrap_or_default()
                    .format("%Y-%m-%dT%H:%M")
                    .to_string();
                let outcome = self
                    .runner
                    .run(
                        "battle_reminders",
                        &key,
                        &self.reminders.segments(quarter),
                        &self.reminders.sweep(now_ms),
                        &mut should_stop,
                    )
                    .await?;
                (json!({"at": key}), resume(None, at, None), outcome)
            }
            Job::StreakAlerts => {
                let hour = run_hour(at_ms);
                let outcome = self
                    .runner
                    .run(
                        "streak_alerts",
                        &hour,
                        &self.streak_alerts.segments(at_ms),
                        &self.streak_alerts.sweep(at_ms, now_ms),
                        &mut should_stop,
                    )
                    .await?;
                (
                    json!({"at": versus::rfc3339(at_ms), "hour": hour}),
                    resume(None, at, None),
                    outcome,
                )
            }
            Job::BackfillDeadlineListing | Job::RedactSmsBodies | Job::IndexSmsLogs => {
                let outcome = self.one_off(input.job, &mut should_stop).await?;
                (json!({}), resume(None, None, None), outcome)
            }
            Job::SmsCostReport => {
                // Fired just after midnight UTC: the day that just ended.
                let date = input
                    .date
                    .unwrap_or_else(|| versus::clock::utc_date(at_ms - 86_400_000));
                return self.cost_report(date, now_ms).await;
            }
        };
        let (status, checkpoint) = match outcome {
            RunOutcome::Done(cp) => ("done", cp),
            RunOutcome::Stopped(cp) => {
                self.continue_later(&continuation).await?;
                ("continuing", cp)
            }
        };
        tracing::info!(job = ?input.job, %run, status, visited = checkpoint.visited, effects = checkpoint.effects, "job run");
        let mut out = json!({ "job": input.job, "status": status, "checkpoint": checkpoint });
        if let (Value::Object(out), Value::Object(run)) = (&mut out, run) {
            out.extend(run);
        }
        Ok(out)
    }

    /// A migration run once by hand (its checkpoint is `once`): what it
    /// reports and carries on with is the same for all of them.
    async fn one_off(
        &self,
        job: Job,
        should_stop: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<RunOutcome, Error> {
        let (name, segments, sweep): (_, _, Box<dyn versus::sweep::Sweep + '_>) = match job {
            Job::BackfillDeadlineListing => (
                "backfill_deadline_listing",
                versus::battles::backfill::unlisted_battles(&self.battles),
                Box::new(DeadlineBackfill(&self.battles)),
            ),
            Job::RedactSmsBodies => (
                "redact_sms_bodies",
                versus::sms::redaction::unredacted_logs(&self.sms),
                Box::new(BodyRedaction(&self.sms)),
            ),
            Job::IndexSmsLogs => (
                "index_sms_logs",
                versus::sms::search_backfill::logs_to_index(&self.sms),
                Box::new(SearchBackfill(&self.sms)),
            ),
            other => return Err(Error::internal(format!("{other:?} is not a one-off"))),
        };
        self.runner
            .run(name, "once", &segments, sweep.as_ref(), should_stop)
            .await
    }

    /// F-JOB-6: the day's counts and cost, logged as one structured line and
    /// as EMF metric documents (each alone on its line, as CloudWatch reads
    /// them; the tracing output would wrap them, so they go to stdout).
    async fn cost_report(&self, date: NaiveDate, now_ms: i64) -> Result<Value, Error> {
        let report = versus::sms::report::cost_report(&self.sms, date, self.cap_micros).await?;
        let report_json = serde_json::to_value(&report)?;
        tracing::info!(report = %report_json, "sms cost report");
        let documents = emf_documents(&report, now_ms);
        for document in &documents {
            println!("{document}");
        }
        Ok(
            json!({ "job": Job::SmsCostReport, "status": "done", "report": report_json, "metric_documents": documents.len() }),
        )
    }

    /// A message per shard of the date's active players on the jobs queue:
    /// each is a run of its own, and the runs go in parallel (the queue's
    /// consumers take one message each).
    async fn fan_out(&self, job: Job, date: NaiveDate) -> Result<Value, Error> {
        let runs: Vec<JobInput> = (0..versus::points::jobs::SHARDS)
            .map(|shard| JobInput {
                job,
                date: Some(date),
                at: None,
                shard: Some(shard),
                fan_out: false,
            })
            .collect();
        // A refused run fails the fan-out: the schedule's retry sends it
        // all again, and shards already done stay done.
        let refused = versus::sqs::send_all(&self.sqs, &self.queue_url, &runs).await?;
        if !refused.is_empty() {
            return Err(Error::dependency(format!(
                "the jobs queue refused {} of {} runs",
                refused.len(),
                runs.len()
            )));
        }
        tracing::info!(?job, %date, shards = runs.len(), "job fanned out");
        Ok(json!({ "job": job, "status": "fanned_out", "date": date, "shards": runs.len() }))
    }

    async fn continue_later(&self, input: &JobInput) -> Result<(), Error> {
        let body = serde_json::to_string(input)?;
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(db::unavailable)?;
        Ok(())
    }

    async fn continuations(
        &self,
        batch: SqsEvent,
        now_ms: i64,
        budget: Duration,
    ) -> SqsBatchResponse {
        // One after another: the records share the invocation's time budget.
        lambda::partial_batch(&batch.records, false, |record| async move {
            let parsed: Result<JobInput, _> =
                serde_json::from_str(record.body.as_deref().unwrap_or(""));
            match parsed {
                Ok(input) => match self.run(input, now_ms, budget).await {
                    // Readable but refused (a shard out of range): no retry
                    // makes it right, so it is dropped like an unreadable one.
                    Err(e) if e.status() == 400 => {
                        tracing::error!(error = %e, "refused job message dropped");
                        Ok(())
                    }
                    done => done.map(|_| ()),
                },
                // Unreadable: dropped (logged), never retried forever.
                Err(e) => {
                    tracing::error!(error = %e, "unreadable job message dropped");
                    Ok(())
                }
            }
            .map(|()| RecordOutcome::Done)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_ends_before_the_invocation_does() {
        let configured = Duration::from_secs(780);
        assert_eq!(budget(configured, None), configured);
        // A full 900 s invocation: the configured budget.
        assert_eq!(
            budget(configured, Some(Duration::from_secs(900))),
            configured
        );
        // Redelivered late, or a shorter timeout: what is left, minus the reserve.
        assert_eq!(
            budget(configured, Some(Duration::from_secs(100))),
            Duration::from_secs(80)
        );
        assert_eq!(
            budget(configured, Some(Duration::from_secs(5))),
            Duration::ZERO
        );
    }
}
