//! F-SMS-3, F-JOB-5: the reconciler, run by the minute schedule. Every
//! in-flight log that is due (deferred texts whose time came, pending ones
//! the queue never got, claims whose lease ran out) goes back on the queue,
//! or fails once out of attempts.

use super::{App, MAX_ATTEMPTS};
use versus::sms::store::Reconciled;
use versus::Error;

/// One reconciler run reads at most this many pages of due logs from each
/// partition of the `due` index.
const RECONCILE_PAGES: usize = 20;
const RECONCILE_PAGE: i32 = 100;
/// Due logs of one partition a reconciler moves and queues at once (the
/// most one SendMessageBatch takes).
const RECONCILE_AT_ONCE: usize = 10;

impl App {
    /// Queues again every in-flight log that is due (see the module docs);
    /// fails those out of attempts. The log moves first (conditionally, so
    /// two runs never both act), then its id is queued: if the queue refuses,
    /// the log is simply due again later. The `due` index's partitions are
    /// worked at once, so a run releases up to 130,000 texts (1,000,000
    /// deferred to 08:00 go within 8 runs, F-SMS-12).
    pub async fn reconcile(&self, now_ms: i64) -> Result<(usize, usize), Error> {
        let mut runs = Vec::new();
        for partition in versus::sms::log::due_partitions() {
            runs.push(async move { self.reconcile_partition(&partition, now_ms).await });
        }
        let (mut requeued, mut gave_up) = (0, 0);
        let mut failure = None;
        for run in futures::future::join_all(runs).await {
            match run {
                Ok((r, g)) => (requeued, gave_up) = (requeued + r, gave_up + g),
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok((requeued, gave_up)),
        }
    }

    async fn reconcile_partition(
        &self,
        partition: &str,
        now_ms: i64,
    ) -> Result<(usize, usize), Error> {
        let (mut requeued, mut gave_up) = (0, 0);
        for _ in 0..RECONCILE_PAGES {
            let due = self
                .store
                .due_logs(partition, now_ms, RECONCILE_PAGE)
                .await?;
            // Ten logs of the page at once, then their ids in one queue
            // request: a partition's 2,000 take seconds, not half a minute.
            for chunk in due.chunks(RECONCILE_AT_ONCE) {
                let moves = chunk
                    .iter()
                    .map(|(id, seen_due)| self.release(id, *seen_due, now_ms));
                let mut pending_again = Vec::new();
                let mut failure = None;
                for ((id, _), moved) in chunk.iter().zip(futures::future::join_all(moves).await) {
                    match moved {
                        Ok(Some(Reconciled::Requeued)) => pending_again.push(id.clone()),
                        Ok(Some(Reconciled::GaveUp)) => gave_up += 1,
                        Ok(None) => {}
                        Err(e) => failure = Some(e),
                    }
                }
                // Moved back to pending: due again later, queued now if the
                // queue takes them (also when another move failed).
                requeued += pending_again.len();
                match self.outbox.queue_many(&pending_again).await {
                    Ok(refused) if refused.is_empty() => {}
                    Ok(refused) => {
                        tracing::warn!(
                            refused = refused.len(),
                            "the queue refused some; due again later"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not queue; due again later");
                    }
                }
                if let Some(e) = failure {
                    return Err(e);
                }
            }
            if due.len() < RECONCILE_PAGE as usize {
                break;
            }
        }
        Ok((requeued, gave_up))
    }

    /// One due log, moved (conditionally): pending again, or failed.
    async fn release(
        &self,
        id: &str,
        seen_due: i64,
        now_ms: i64,
    ) -> Result<Option<Reconciled>, Error> {
        let moved = self
            .store
            .reconcile(id, seen_due, now_ms, self.requeue_ms, MAX_ATTEMPTS)
            .await?;
        if moved == Some(Reconciled::GaveUp) {
            tracing::error!(sms_id = %id, "SMS failed: out of attempts");
        }
        Ok(moved)
    }
}
