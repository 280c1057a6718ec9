//! SQS, played by moto: the template's queues are created there (dead-letter
//! queues and redrive policies included), and each SQS event source mapping
//! becomes a poller that does what Lambda's does: receive a batch, invoke the
//! function with an SQS event, delete the messages that succeeded. Failed
//! ones (the whole batch on an error or an unreadable response, else those
//! in `batchItemFailures`) stay, reappear after the visibility timeout, and
//! move to the dead-letter queue after `maxReceiveCount` receives.

use crate::template::{SqsSource, Template};
use crate::Gateway;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use aws_sdk_sqs::Client;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use versus::db::DisplayErrorContext;

/// Creates every queue of the template and tells the template their URLs and ARNs.
pub async fn create_all(client: &Client, template: &mut Template) -> Result<(), String> {
    for queue in template.queues() {
        let mut attributes = HashMap::new();
        for (property, attribute) in [
            ("DelaySeconds", QueueAttributeName::DelaySeconds),
            ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
            (
                "MessageRetentionPeriod",
                QueueAttributeName::MessageRetentionPeriod,
            ),
        ] {
            if let Some(v) = queue.properties.get(property) {
                attributes.insert(attribute, template.resolve(v)?);
            }
        }
        if let Some(policy) = queue.properties.get("RedrivePolicy") {
            let field = |name: &str| -> Result<String, String> {
                policy
                    .get(name)
                    .map(|v| template.resolve(v))
                    .transpose()?
                    .ok_or(format!("{}: RedrivePolicy needs {name}", queue.logical_id))
            };
            attributes.insert(
                QueueAttributeName::RedrivePolicy,
                json!({
                    "deadLetterTargetArn": field("deadLetterTargetArn")?,
                    "maxReceiveCount": field("maxReceiveCount")?.parse::<u32>().map_err(|e| e.to_string())?,
                })
                .to_string(),
            );
        }
        // moto's CreateQueue with a RedrivePolicy walks its queue table
        // unlocked, so stacks started in parallel can make it fail (HTTP 500,
        // "dictionary changed size during iteration", an HTML page the SDK
        // cannot read). Creating a queue again with the same attributes is a
        // no-op, so a few more tries are safe.
        let mut attempt = 0;
        let created = loop {
            let result = client
                .create_queue()
                .queue_name(&queue.name)
                .set_attributes(Some(attributes.clone()))
                .send()
                .await;
            match result {
                Ok(created) => break created,
                Err(_) if attempt < 4 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => {
                    return Err(format!(
                        "creating queue {} in the SQS stand-in (is moto running? AWS_ENDPOINT_URL_SQS): {}",
                        queue.name,
                        DisplayErrorContext(&e)
                    ))
                }
            }
        };
        let url = created.queue_url.ok_or("CreateQueue returned no URL")?;
        let arn = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or("GetQueueAttributes returned no QueueArn")?;
        template.set_queue(&queue.logical_id, url, arn);
    }
    Ok(())
}

pub struct Mapping {
    pub source: SqsSource,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
}

/// Polls one queue for one function until `stop` turns true.
pub fn spawn_poller(
    gateway: Arc<Gateway>,
    client: Client,
    mapping: Mapping,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            let received = tokio::select! {
                _ = stop.changed() => return,
                r = client
                    .receive_message()
                    .queue_url(&mapping.queue_url)
                    .max_number_of_messages(mapping.source.batch_size)
                    .wait_time_seconds(1)
                    .message_system_attribute_names(MessageSystemAttributeName::All)
                    .message_attribute_names("All")
                    .send() => r,
            };
            let messages = match received {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %DisplayErrorContext(&e), queue = %mapping.queue_url, "receive failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let event = sqs_event(&messages, &mapping);
            let outcome = gateway.invoke(&mapping.source.function, event).await;
            let failed = failed_ids(&outcome, &mapping.source, &messages);
            let done: Vec<_> = messages
                .iter()
                .enumerate()
                .filter(|(_, m)| !m.message_id.as_ref().is_some_and(|id| failed.contains(id)))
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle.clone()?)
                        .build()
                        .ok()
                })
                .collect();
            if done.is_empty() {
                continue;
            }
            if let Err(e) = client
                .delete_message_batch()
                .queue_url(&mapping.queue_url)
                .set_entries(Some(done))
                .send()
                .await
            {
                tracing::warn!(error = %DisplayErrorContext(&e), "delete failed");
            }
        }
    })
}

/// The message ids to leave on the queue, as Lambda decides them.
fn failed_ids(
    outcome: &Result<Value, String>,
    source: &SqsSource,
    messages: &[aws_sdk_sqs::types::Message],
) -> Vec<String> {
    let all = || {
        messages
            .iter()
            .filter_map(|m| m.message_id.clone())
            .collect()
    };
    match outcome {
        Err(e) => {
            tracing::warn!(function = %source.function, error = %e, "SQS batch failed");
            all()
        }
        Ok(_) if !source.report_batch_item_failures => vec![],
        Ok(response) => match response.get("batchItemFailures") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(items)) => {
                let ids: Option<Vec<String>> = items
                    .iter()
                    .map(|i| i.get("itemIdentifier")?.as_str().map(str::to_string))
                    .collect();
                // An unreadable failure list fails the whole batch, as on AWS.
                ids.unwrap_or_else(all)
            }
            Some(_) => all(),
        },
    }
}

/// The event Lambda's SQS poller hands a function.
/// The event Lambda's SQS poller hands the function: AWS's own types,
/// filled from what `ReceiveMessage` returned.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message], mapping: &Mapping) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.md5_of_body = m.md5_of_body.clone();
            record.attributes = m
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect();
            record.message_attributes = m
                .message_attributes
                .iter()
                .flatten()
                .map(|(k, v)| {
                    let mut attribute = SqsMessageAttribute::default();
                    attribute.string_value = v.string_value.clone();
                    attribute.data_type = Some(v.data_type.clone());
                    (k.clone(), attribute)
                })
                .collect();
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(mapping.queue_arn.clone());
            record.aws_region = Some(mapping.region.clone());
            record
        })
        .collect();
    event
}
