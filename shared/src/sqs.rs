//! Messages to an SQS queue in batches: SendMessageBatch takes ten a request
//! (the reconciler releasing due texts, a daily job fanning out).

use crate::db;
use crate::error::Error;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::Serialize;

/// SendMessageBatch's most entries a request.
const BATCH: usize = 10;

/// Sends every message (as JSON), ten to a request; answers the positions
/// (in `messages`) of those the queue refused. A request that fails fails
/// the call (what went before it was sent).
pub async fn send_all<T: Serialize>(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    messages: &[T],
) -> Result<Vec<usize>, Error> {
    let mut refused = Vec::new();
    for (chunk_at, chunk) in messages.chunks(BATCH).enumerate() {
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, message) in chunk.iter().enumerate() {
            let entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(serde_json::to_string(message)?)
                .build()
                .map_err(|e| Error::internal(e.to_string()))?;
            entries.push(entry);
        }
        let sent = client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(db::unavailable)?;
        refused.extend(
            sent.failed()
                .iter()
                .filter_map(|f| f.id().parse::<usize>().ok())
                .map(|i| chunk_at * BATCH + i),
        );
    }
    Ok(refused)
}
