//! scheduled-jobs: the EventBridge schedules of points (F-JOB-1 daily streak
//! bonus, F-JOB-3 weekly goals), and their continuation queue.
//!
//! A schedule delivers its constant input (`{"job":"streak_bonus"}`; a `date`
//! may be added for a backfill). A run that reaches its time budget saves its
//! checkpoint and sends `{job, date}` to the jobs queue; that message (this
//! function again, through SQS) continues where the run stopped (F-JOB-7).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use versus::db::DisplayErrorContext;
use versus::lambda::{self, BoxError, Invoke};
use versus::points::jobs::{JobName, Jobs, RunOutcome, DEFAULT_PAGE};
use versus::{db, Config, Error};

/// A schedule's input, and the continuation message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    pub job: JobName,
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

pub struct App {
    jobs: Jobs,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    budget: Duration,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = db::aws_config().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let queue_url = config
        .jobs_queue_url
        .clone()
        .ok_or_else(|| Error::Config("JOBS_QUEUE_URL is not set".into()))?;
    let app = Arc::new(App {
        jobs: versus::wiring::jobs(&client, config, DEFAULT_PAGE),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url,
        budget: Duration::from_secs(config.job_budget_secs as u64),
    });
    Ok(lambda::typed(
        move |event: Value, context: lambda::Context| {
            let app = app.clone();
            async move {
                let now_ms = versus::now_ms();
                let budget = budget(app.budget, lambda::time_left(&context, now_ms));
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
        event: Value,
        now_ms: i64,
        budget: Duration,
    ) -> Result<Value, BoxError> {
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event)?;
            return Ok(serde_json::to_value(
                self.continuations(batch, now_ms, budget).await,
            )?);
        }
        let input: JobInput = serde_json::from_value(event)
            .map_err(|e| Error::bad_request("invalid_event", format!("not a job input: {e}")))?;
        Ok(self.run(input, now_ms, budget).await?)
    }

    async fn run(&self, input: JobInput, now_ms: i64, budget: Duration) -> Result<Value, Error> {
        let date = input.date.unwrap_or_else(|| input.job.default_date(now_ms));
        let started = Instant::now();
        // One page always runs, however little time is left: a run that
        // stopped before any work would only hand the same work on.
        let mut asked = 0u32;
        let mut should_stop = move || {
            asked += 1;
            asked > 1 && started.elapsed() >= budget
        };
        let outcome = self
            .jobs
            .run(input.job, date, now_ms, &mut should_stop)
            .await?;
        let (status, checkpoint) = match outcome {
            RunOutcome::Done(cp) => ("done", cp),
            RunOutcome::Stopped(cp) => {
                self.continue_later(input.job, date).await?;
                ("continuing", cp)
            }
        };
        tracing::info!(job = ?input.job, %date, status, visited = checkpoint.visited, effects = checkpoint.effects, "job run");
        Ok(json!({ "job": input.job, "date": date, "status": status, "checkpoint": checkpoint }))
    }

    async fn continue_later(&self, job: JobName, date: NaiveDate) -> Result<(), Error> {
        let body = serde_json::to_string(&JobInput {
            job,
            date: Some(date),
        })?;
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| Error::Dependency(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    async fn continuations(
        &self,
        batch: SqsEvent,
        now_ms: i64,
        budget: Duration,
    ) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in batch.records {
            let parsed: Result<JobInput, _> =
                serde_json::from_str(record.body.as_deref().unwrap_or(""));
            let result = match parsed {
                Ok(input) => self.run(input, now_ms, budget).await.map(|_| ()),
                // Unreadable: dropped (logged), never retried forever.
                Err(e) => {
                    tracing::error!(error = %e, "unreadable job message dropped");
                    Ok(())
                }
            };
            if let Err(e) = result {
                e.log();
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        response
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
