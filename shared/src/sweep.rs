//! Resumable walks over index partitions, the shape of every scheduled job
//! (F-JOB-7): a job names the partitions it reads (`Segment`s, never a
//! scan; a one-off migration of items no index lists yet is the one
//! exception) and what to do with each page of items; the runner pages through
//! them, saves a checkpoint after every page and stops starting pages when
//! told to (the function's time budget). A later run with the same name and
//! run key continues from the checkpoint. What a page does must be safe to
//! repeat (idempotency keys, once-markers, conditional writes): a run that
//! dies between a page's effects and its checkpoint does that page again.

use crate::db::{self, Item};
use crate::error::Error;
use crate::keys::users::job_state_key;
use crate::keys::TTL_ATTR;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// One part of what a job reads.
#[derive(Clone, Debug)]
pub struct Segment {
    pub table: String,
    pub read: Read,
    /// The attributes of a page's last key: the table's and the index's keys.
    pub cursor_attributes: &'static [&'static str],
}

#[derive(Clone, Debug)]
pub enum Read {
    /// One index partition, optionally a range of its sort key
    /// (`sort BETWEEN low AND high`).
    Partition {
        index: &'static str,
        partition: (&'static str, AttributeValue),
        sort_between: Option<(&'static str, AttributeValue, AttributeValue)>,
    },
    /// The whole table, filtered: only for a one-off migration of items that
    /// no index lists yet. A scheduled job always reads partitions.
    Scan {
        filter: &'static str,
        names: &'static [(&'static str, &'static str)],
        values: Vec<(&'static str, AttributeValue)>,
    },
}

/// What a job does with what it reads.
pub trait Sweep: Send + Sync {
    /// Handles one page of items; returns how many effects it had (texts
    /// queued, payments made) that an earlier run had not.
    fn visit<'a>(&'a self, items: Vec<Item>) -> BoxFuture<'a, Result<u64, Error>>;
}

/// The items of a page as `T`; one that does not read is logged and
/// skipped, so it cannot stop the run for everyone after it.
pub fn readable<T: serde::de::DeserializeOwned>(items: Vec<Item>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| {
            let key = format!(
                "{}/{}",
                db::get_s(&item, "pk").unwrap_or_default(),
                db::get_s(&item, "sk").unwrap_or_default()
            );
            serde_dynamo::from_item(item)
                .map_err(|e| tracing::error!(%key, error = %e, "unreadable item skipped"))
                .ok()
        })
        .collect()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Index into the job's segments (stored as `day`: the first jobs'
    /// segments were days, and saved checkpoints keep their meaning).
    #[serde(rename = "day")]
    pub segment: usize,
    /// Where the next page starts within that segment (an index cursor).
    #[serde(default)]
    pub cursor: Option<String>,
    pub done: bool,
    /// Items visited so far (an item found in several segments counts on each).
    pub visited: u64,
    /// Effects this job had (reruns add nothing).
    pub effects: u64,
}

#[derive(Debug, PartialEq)]
pub enum RunOutcome {
    Done(Checkpoint),
    Stopped(Checkpoint),
}

impl RunOutcome {
    pub fn checkpoint(&self) -> &Checkpoint {
        match self {
            RunOutcome::Done(cp) | RunOutcome::Stopped(cp) => cp,
        }
    }
}

/// Where checkpoints are kept (the users table, `JOB#<name>#<run>` / `STATE`).
#[derive(Clone)]
pub struct Runner {
    client: Client,
    state_table: String,
    page: i32,
}

/// How long a checkpoint is kept: long after any run could continue it.
const CHECKPOINT_TTL_SECS: i64 = 60 * 86_400;

impl Runner {
    /// `page`: items per query (1 to 100; 100 is what BatchGetItem takes).
    pub fn new(client: Client, state_table: impl Into<String>, page: i32) -> Self {
        Runner {
            client,
            state_table: state_table.into(),
            page: page.clamp(1, 100),
        }
    }

    pub async fn checkpoint(&self, name: &str, run: &str) -> Result<Checkpoint, Error> {
        Ok(
            db::get_item(&self.client, &self.state_table, job_state_key(name, run))
                .await?
                .unwrap_or_default(),
        )
    }

    async fn save(&self, name: &str, run: &str, cp: &Checkpoint) -> Result<(), Error> {
        let mut item: Item = serde_dynamo::to_item(cp)?;
        item.extend(job_state_key(name, run));
        item.insert(
            TTL_ATTR.into(),
            db::n(chrono::Utc::now().timestamp() + CHECKPOINT_TTL_SECS),
        );
        self.client
            .put_item()
            .table_name(&self.state_table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(())
    }

    /// Runs (or continues) the job `name` for `run` until every segment is
    /// read or `should_stop` says to stop before the next page.
    pub async fn run(
        &self,
        name: &str,
        run: &str,
        segments: &[Segment],
        sweep: &dyn Sweep,
        should_stop: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<RunOutcome, Error> {
        let mut cp = self.checkpoint(name, run).await?;
        loop {
            if cp.done || cp.segment >= segments.len() {
                cp.done = true;
                self.save(name, run, &cp).await?;
                return Ok(RunOutcome::Done(cp));
            }
            if should_stop() {
                self.save(name, run, &cp).await?;
                return Ok(RunOutcome::Stopped(cp));
            }
            // A page is `page` items: a segment that ends short of it
            // (a small shard) is topped up from the next ones.
            let mut items = Vec::new();
            while cp.segment < segments.len() && items.len() < self.page as usize {
                let segment = &segments[cp.segment];
                let start = cp
                    .cursor
                    .as_deref()
                    .map(|c| db::decode_cursor(c, segment.cursor_attributes))
                    .transpose()?;
                let room = self.page - items.len() as i32;
                let (read, next) = self.page(segment, start, room).await?;
                items.extend(read);
                match next {
                    Some(cursor) => {
                        cp.cursor = Some(cursor);
                        break;
                    }
                    None => {
                        cp.cursor = None;
                        cp.segment += 1;
                    }
                }
            }
            cp.visited += items.len() as u64;
            cp.effects += sweep.visit(items).await?;
            self.save(name, run, &cp).await?;
        }
    }

    /// Up to `limit` items of `segment` from `start`, and the next page's
    /// cursor (`None`: the segment is read).
    async fn page(
        &self,
        segment: &Segment,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<Item>, Option<String>), Error> {
        let (items, last) = match &segment.read {
            Read::Partition {
                index,
                partition,
                sort_between,
            } => {
                let mut query = self
                    .client
                    .query()
                    .table_name(&segment.table)
                    .index_name(*index)
                    .expression_attribute_names("#p", partition.0)
                    .expression_attribute_values(":p", partition.1.clone())
                    .limit(limit)
                    .set_exclusive_start_key(start);
                query = match sort_between {
                    Some((attribute, low, high)) => query
                        .key_condition_expression("#p = :p AND #s BETWEEN :low AND :high")
                        .expression_attribute_names("#s", *attribute)
                        .expression_attribute_values(":low", low.clone())
                        .expression_attribute_values(":high", high.clone()),
                    None => query.key_condition_expression("#p = :p"),
                };
                let out = query.send().await.map_err(db::dependency)?;
                (out.items, out.last_evaluated_key)
            }
            Read::Scan {
                filter,
                names,
                values,
            } => {
                let mut scan = self
                    .client
                    .scan()
                    .table_name(&segment.table)
                    .filter_expression(*filter)
                    .limit(limit)
                    .set_exclusive_start_key(start);
                for (alias, name) in *names {
                    scan = scan.expression_attribute_names(*alias, *name);
                }
                for (alias, value) in values {
                    scan = scan.expression_attribute_values(*alias, value.clone());
                }
                let out = scan.send().await.map_err(db::dependency)?;
                (out.items, out.last_evaluated_key)
            }
        };
        Ok((
            items.unwrap_or_default(),
            last.as_ref().map(db::encode_cursor),
        ))
    }
}
