//! F-JOB-6, F-SMS-16: the daily SMS cost report. It reads the counters the
//! sender moves with every sent message (a day's partition per shard: the
//! day's totals and one item per message type and provider) and the
//! month's spend counters: a query per shard and two batch reads, never
//! the logs.
//!
//! It is logged twice: once as one structured line (the whole report), and
//! as CloudWatch Embedded Metric Format lines, one per type and provider
//! plus one for the month's spend, which CloudWatch turns into metrics
//! (namespace `Versus/Sms`) without any API call.

use super::store::SmsStore;
use crate::db::{self, get_n, get_s, s};
use crate::error::Error;
use crate::keys::sms::{cost_day_pk, cost_month_key, cost_shards, COST_TYPE_PREFIX};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};

pub const METRICS_NAMESPACE: &str = "Versus/Sms";

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counts {
    pub messages: u64,
    pub segments: u64,
    /// Estimated cost in millionths of a dollar (F-SMS-6).
    pub cost_micros: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    pub message_type: String,
    pub provider: String,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spend {
    /// `YYYY-MM` of the report's day.
    pub month: String,
    /// Cost of what was sent this month.
    pub sent_micros: u64,
    /// What sends have reserved against the cap (every message reserves its
    /// estimate when let through, F-SMS-12).
    pub reserved_micros: u64,
    pub cap_micros: u64,
    /// Promotional messages are being refused (`spend_cap`).
    pub cap_reached: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostReport {
    pub date: NaiveDate,
    pub total: Counts,
    /// Per message type and provider, ordered by type then provider.
    pub lines: Vec<Line>,
    pub spend: Spend,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.messages += other.messages;
        self.segments += other.segments;
        self.cost_micros += other.cost_micros;
    }
}

/// Every item of one partition of a day's counters.
async fn day_partition(store: &SmsStore, pk: &str) -> Result<Vec<db::Item>, Error> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .client
            .query()
            .table_name(&store.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(db::dependency)?;
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return Ok(items),
        }
    }
}

fn counts(item: &db::Item) -> Counts {
    let get = |name| get_n(item, name).unwrap_or(0).max(0) as u64;
    Counts {
        messages: get("messages"),
        segments: get("segments"),
        cost_micros: get("cost_micros"),
    }
}

/// The report of `date` (a UTC day); `cap_micros` is the configured cap.
pub async fn cost_report(
    store: &SmsStore,
    date: NaiveDate,
    cap_micros: u64,
) -> Result<CostReport, Error> {
    let day = date.to_string();
    let partitions = cost_shards()
        .map(|shard| cost_day_pk(&day, shard))
        .collect::<Vec<_>>();
    let reads = partitions.iter().map(|pk| day_partition(store, pk));
    let items: Vec<db::Item> = futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let mut total = Counts::default();
    let mut by_line: std::collections::BTreeMap<(String, String), Counts> = Default::default();
    for item in &items {
        let sk = get_s(item, "sk").unwrap_or_default();
        if sk == "DAY" {
            total.add(&counts(item));
        } else if let Some(rest) = sk.strip_prefix(COST_TYPE_PREFIX) {
            let (message_type, provider) = rest.split_once('#').unwrap_or((rest, "unknown"));
            by_line
                .entry((message_type.to_string(), provider.to_string()))
                .or_default()
                .add(&counts(item));
        }
    }
    let lines: Vec<Line> = by_line
        .into_iter()
        .map(|((message_type, provider), counts)| Line {
            message_type,
            provider,
            counts,
        })
        .collect();
    let month = date.format("%Y-%m").to_string();
    let (sent, reserved) = futures::try_join!(
        db::batch_get(
            &store.client,
            &store.table,
            cost_shards()
                .map(|shard| cost_month_key(&month, shard))
                .collect()
        ),
        super::spend::reserved(store, &month),
    )?;
    let sent_micros = sent.iter().map(|item| counts(item).cost_micros).sum();
    let reserved_micros = reserved.total();
    Ok(CostReport {
        date,
        total,
        lines,
        spend: Spend {
            month,
            sent_micros,
            reserved_micros,
            cap_micros,
            cap_reached: reserved_micros >= cap_micros,
        },
    })
}

/// What became of a text that did not go, as one Embedded Metric Format
/// line (`Versus/Sms` `Texts`, by `MessageType` and `Outcome`: `failed` or
/// `suppressed`), printed to stdout where CloudWatch reads it; the
/// operations dashboard charts it beside the daily report's sent counts.
pub fn emit_outcome(
    message_type: super::MessageType,
    outcome: super::log::Status,
    timestamp_ms: i64,
) {
    println!("{}", outcome_document(message_type, outcome, timestamp_ms));
}

/// The EMF document `emit_outcome` prints.
pub fn outcome_document(
    message_type: super::MessageType,
    outcome: super::log::Status,
    timestamp_ms: i64,
) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["MessageType", "Outcome"]],
                "Metrics": [{"Name": "Texts", "Unit": "Count"}],
            }],
        },
        "MessageType": super::wire_name(message_type),
        "Outcome": outcome.as_str(),
        "Texts": 1,
    })
}

/// The report as Embedded Metric Format documents, one per log line:
/// messages, segments and cost per message type and provider, and the
/// month's spend against its cap. `timestamp_ms` is when they apply.
pub fn emf_documents(report: &CostReport, timestamp_ms: i64) -> Vec<Value> {
    let metrics = |names: &[(&str, &str)]| -> Value {
        names
            .iter()
            .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
            .collect()
    };
    let mut docs: Vec<Value> = report
        .lines
        .iter()
        .map(|line| {
            json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [["MessageType", "Provider"]],
                        "Metrics": metrics(&[
                            ("DailyMessages", "Count"),
                            ("DailySegments", "Count"),
                            ("DailyEstimatedCostMicros", "None"),
                        ]),
                    }],
                },
                "MessageType": line.message_type,
                "Provider": line.provider,
                "Date": report.date.to_string(),
                "DailyMessages": line.counts.messages,
                "DailySegments": line.counts.segments,
                "DailyEstimatedCostMicros": line.counts.cost_micros,
            })
        })
        .collect();
    docs.push(json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": metrics(&[
                    ("DailyMessagesTotal", "Count"),
                    ("DailyEstimatedCostMicrosTotal", "None"),
                    ("MonthSpendReservedMicros", "None"),
                    ("MonthSpendCapMicros", "None"),
                    ("MonthSpendCapReached", "Count"),
                ]),
            }],
        },
        "Date": report.date.to_string(),
        "Month": report.spend.month,
        "DailyMessagesTotal": report.total.messages,
        "DailyEstimatedCostMicrosTotal": report.total.cost_micros,
        "MonthSpendReservedMicros": report.spend.reserved_micros,
        "MonthSpendCapMicros": report.spend.cap_micros,
        "MonthSpendCapReached": u64::from(report.spend.cap_reached),
    }));
    docs
}
