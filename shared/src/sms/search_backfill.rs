//! A one-off walk (the operator's desk): logs written before search entries
//! existed are not found by any search. `{"job":"index_sms_logs"}` to
//! scheduled-jobs, run once by hand after upgrading, writes their entries.
//! It scans (those logs are in no index), resumes from its checkpoint, and
//! a rerun writes nothing: each entry is put only where none is.

use super::log::SmsLog;
use super::store::SmsStore;
use crate::db::{self, s};
use crate::error::Error;
use crate::sweep::{readable, Read, Segment, Sweep};
use futures::future::BoxFuture;

/// What the walk reads: every log.
pub fn logs_to_index(store: &SmsStore) -> Vec<Segment> {
    vec![Segment {
        table: store.table.clone(),
        read: Read::Scan {
            filter: "sk = :log",
            names: &[],
            values: vec![(":log", s("LOG"))],
        },
        cursor_attributes: &["pk", "sk"],
    }]
}

/// Writes a log's missing search entries; true when any was missing.
async fn index_log(store: &SmsStore, log: &SmsLog) -> Result<bool, Error> {
    let mut wrote = false;
    for entry in log.search_entries() {
        wrote |= db::put_new(&store.client, &store.table, entry).await?;
    }
    Ok(wrote)
}

/// The walk's work on a page of logs.
pub struct SearchBackfill<'a>(pub &'a SmsStore);

impl Sweep for SearchBackfill<'_> {
    fn visit<'a>(&'a self, items: Vec<db::Item>) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let mut indexed = 0;
            for log in readable::<SmsLog>(items) {
                indexed += u64::from(index_log(self.0, &log).await?);
            }
            Ok(indexed)
        })
    }
}
