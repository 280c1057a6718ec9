//! How a function meets its trigger. Every function is an [`Invoke`]: raw event
//! JSON and the invocation's [`Context`] in, raw response JSON out, exactly
//! what the Lambda Runtime API moves. `main.rs` hands it to the runtime; the
//! local gateway calls the same value in-process (with a context of its own
//! making), so both run the same deserialization and the same handler.
//! (HTTP API functions are built by the `versus-http` crate's `function`.)
//!
//! Every invocation runs in an `invocation` span that carries the user once
//! known ([`record_user`]), inside the runtime's own span with the request
//! id, so every log line of a request names both.

use futures::future::BoxFuture;
pub use lambda_runtime::Context;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

pub type BoxError = lambda_runtime::Error;
pub type Invoke =
    Arc<dyn Fn(Value, Context) -> BoxFuture<'static, Result<Value, BoxError>> + Send + Sync>;

/// A function with a typed event and response (WebSocket routes, authorizers, queues, schedules).
pub fn typed<E, R, H, Fut>(handler: H) -> Invoke
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    H: Fn(E, Context) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, BoxError>> + Send + 'static,
{
    Arc::new(move |event: Value, context: Context| {
        let handler = handler.clone();
        Box::pin(in_invocation_span(async move {
            let event: E = serde_json::from_value(event)?;
            let response = handler(event, context).await?;
            Ok(serde_json::to_value(response)?)
        }))
    })
}

/// Runs an invocation's work in an `invocation` span, made when the work
/// starts, so that it sits inside the span the runtime entered for the
/// request; `user_id` is filled in by [`record_user`] once the caller is known.
pub async fn in_invocation_span<F: Future>(work: F) -> F::Output {
    work.instrument(tracing::info_span!(
        "invocation",
        user_id = tracing::field::Empty
    ))
    .await
}

/// Names the caller on the current invocation's span (and so on every
/// later log line of the request).
pub fn record_user(user_id: &str) {
    tracing::Span::current().record("user_id", user_id);
}

/// The span the Lambda runtime opens around each invocation, with the same
/// name and field, for invocations made outside Lambda (the local gateway).
pub fn runtime_span(context: &Context) -> tracing::Span {
    tracing::info_span!("Lambda runtime invoke", requestId = %context.request_id)
}

/// A context for an invocation outside Lambda: a fresh request id and the
/// deadline `timeout` from now, as Lambda gives them.
pub fn local_context(function_name: &str, timeout: Duration) -> Context {
    let mut context = Context::default();
    context.request_id = uuid_like();
    context.deadline = crate::clock::system_now_ms() as u64 + timeout.as_millis() as u64;
    context.invoked_function_arn =
        format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}");
    context
}

/// Time left before the invocation's deadline; `None` when it has none
/// (a context made by hand). The deadline is Lambda's, in real time: it is
/// read against the system clock even where the rules read a pinned one.
pub fn time_left(context: &Context) -> Option<Duration> {
    time_left_at(context, crate::clock::system_now_ms())
}

fn time_left_at(context: &Context, system_now_ms: i64) -> Option<Duration> {
    (context.deadline > 0).then(|| {
        Duration::from_millis(context.deadline.saturating_sub(system_now_ms.max(0) as u64))
    })
}

/// A request id in the shape Lambda's have (8-4-4-4-12 hex).
fn uuid_like() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A function's `main`: tracing, then `init` (configuration, clients), then
/// the runtime loop. A failed init is not a silent exit: its reason is
/// logged and posted to the Runtime API's init-error endpoint, where Lambda
/// records it (`Runtime.InitError`) and `cargo lambda invoke` shows it.
pub async fn start<F>(init: F) -> Result<(), BoxError>
where
    F: Future<Output = Result<Invoke, crate::Error>>,
{
    init_tracing();
    match init.await {
        Ok(invoke) => run(invoke).await,
        Err(error) => {
            tracing::error!(error = %error, "the function could not start");
            report_init_error(&error).await;
            Err(error.into())
        }
    }
}

/// `POST /2018-06-01/runtime/init/error`, as the Runtime API documents it.
async fn report_init_error(error: &crate::Error) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({
        "errorMessage": error.to_string(),
        "errorType": "Runtime.InitError",
    });
    let sent = reqwest::Client::new()
        .post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .json(&body)
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    if let Err(e) = sent {
        tracing::error!(error = %e, "the init error could not be reported to the Runtime API");
    }
}

/// Runs an [`Invoke`] on the Lambda Runtime API.
pub async fn run(invoke: Invoke) -> Result<(), BoxError> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        invoke(event.payload, event.context)
    }))
    .await
}

/// Structured logs, once per process.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// The event of a function that two triggers invoke: an SQS batch from its
/// queue, or a job input `J` from a schedule (`{"job": ...}`). Read by
/// type, queue batch first (a job input has no `Records`), so a handler
/// matches on the variant instead of looking into the JSON; what is neither
/// is refused with both reasons.
#[derive(Debug)]
pub enum QueueOrJob<J> {
    Queue(aws_lambda_events::event::sqs::SqsEvent),
    Job(J),
}

impl<'de, J: DeserializeOwned> serde::Deserialize<'de> for QueueOrJob<J> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let event = Value::deserialize(deserializer)?;
        let batch = match aws_lambda_events::event::sqs::SqsEvent::deserialize(&event) {
            Ok(batch) => return Ok(QueueOrJob::Queue(batch)),
            Err(e) => e,
        };
        J::deserialize(event).map(QueueOrJob::Job).map_err(|job| {
            D::Error::custom(format!(
                "not a job input: {job} (nor an SQS batch: {batch})"
            ))
        })
    }
}

/// How one record of an SQS batch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Done with (handled, or dropped as unreadable): deleted from the queue.
    Done,
    /// To be delivered again (a transient failure, a backoff already set).
    Retry,
}

/// Every SQS consumer's partial-batch loop (`ReportBatchItemFailures`):
/// `handle` runs on each record, all at once or one after another
/// (`concurrent`: whether the records may share the invocation's time); a
/// record that asks to be retried or fails (the error logged) is reported,
/// so only it comes back.
pub async fn partial_batch<'a, H, Fut>(
    records: &'a [aws_lambda_events::event::sqs::SqsMessage],
    concurrent: bool,
    handle: H,
) -> aws_lambda_events::event::sqs::SqsBatchResponse
where
    H: Fn(&'a aws_lambda_events::event::sqs::SqsMessage) -> Fut,
    Fut: Future<Output = Result<RecordOutcome, crate::Error>>,
{
    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
    let outcomes = if concurrent {
        futures::future::join_all(records.iter().map(&handle)).await
    } else {
        let mut outcomes = Vec::with_capacity(records.len());
        for record in records {
            outcomes.push(handle(record).await);
        }
        outcomes
    };
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in records.iter().zip(outcomes) {
        let retry = match outcome {
            Ok(RecordOutcome::Done) => false,
            Ok(RecordOutcome::Retry) => true,
            Err(e) => {
                e.log();
                true
            }
        };
        if retry {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_contexts_look_like_lambdas() {
        let context = local_context("profile-api", Duration::from_secs(10));
        assert_eq!(context.request_id.len(), 36);
        assert_ne!(
            context.request_id,
            local_context("x", Duration::ZERO).request_id
        );
        let left = time_left(&context).unwrap();
        assert!(left <= Duration::from_secs(10) && left > Duration::from_secs(8));
        assert_eq!(time_left(&Context::default()), None);
        assert_eq!(
            time_left_at(&context, context.deadline as i64 + 5),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_queue_batch_and_a_job_input_are_told_apart_by_type() {
        #[derive(Debug, serde::Deserialize, PartialEq)]
        #[serde(deny_unknown_fields, tag = "job", rename_all = "snake_case")]
        enum Job {
            Tidy { limit: u32 },
        }
        let batch: QueueOrJob<Job> = serde_json::from_value(serde_json::json!({
            "Records": [{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"}]
        }))
        .unwrap();
        match batch {
            QueueOrJob::Queue(batch) => {
                assert_eq!(batch.records[0].message_id.as_deref(), Some("m1"))
            }
            other => panic!("{other:?}"),
        }
        let job: QueueOrJob<Job> =
            serde_json::from_value(serde_json::json!({"job": "tidy", "limit": 3})).unwrap();
        assert!(matches!(job, QueueOrJob::Job(Job::Tidy { limit: 3 })));
        for neither in [
            serde_json::json!({"detail-type": "Scheduled Event", "detail": {}}),
            serde_json::json!({"job": "tidy", "limit": "three"}),
            serde_json::json!([1, 2]),
        ] {
            let e = serde_json::from_value::<QueueOrJob<Job>>(neither.clone()).unwrap_err();
            assert!(
                e.to_string().starts_with("not a job input"),
                "{neither}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn only_retries_and_failures_are_reported_in_order() {
        use aws_lambda_events::event::sqs::SqsMessage;
        let records: Vec<SqsMessage> = ["done", "retry", "error", "done-too"]
            .into_iter()
            .map(|id| {
                let mut m = SqsMessage::default();
                m.message_id = Some(id.into());
                m
            })
            .collect();
        for concurrent in [true, false] {
            let response = partial_batch(&records, concurrent, |record| async move {
                match record.message_id.as_deref() {
                    Some("retry") => Ok(RecordOutcome::Retry),
                    Some("error") => Err(crate::Error::dependency("down")),
                    _ => Ok(RecordOutcome::Done),
                }
            })
            .await;
            let reported: Vec<&str> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect();
            assert_eq!(reported, ["retry", "error"], "concurrent: {concurrent}");
        }
    }
}
