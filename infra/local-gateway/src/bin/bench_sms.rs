//! `scripts/bench` part three: the SMS sender (F-SMS-3, F-SMS-4). Pending
//! logs are handed to `sms-sender` in SQS batches of 10, with the console
//! provider, one batch at a time and four at a time; the table shows messages
//! per second and the DynamoDB requests per message, counted by a proxy in
//! front of DynamoDB Local (by operation), then the cost of a redelivery.
//!
//! Usage: bench_sms [MESSAGES] (default 500); needs `AWS_ENDPOINT_URL_DYNAMODB`.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use local_gateway::counting_proxy::{self, Counts};
use std::time::Instant;
use versus::phone::PhoneNumber;
use versus::sms::store::{SmsLog, SmsStore};
use versus::sms::MessageType;

const BATCH: usize = 10;

fn log(i: usize, config: &versus::config::SmsConfig, now: i64) -> SmsLog {
    SmsLog::pending(
        PhoneNumber::parse(&format!("+2567720{:05}", i % 100_000)).unwrap(),
        MessageType::BattleResult,
        "Your battle with player42 ended: you won 3-1. Reply STOP to unsubscribe.".into(),
        Some(format!("user{i}")),
        config,
        now,
    )
}

fn batch(ids: &[String]) -> serde_json::Value {
    let mut event = SqsEvent::default();
    event.records = ids
        .iter()
        .map(|id| {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m-{id}"));
            m.body = Some(serde_json::json!({ "sms_id": id }).to_string());
            m
        })
        .collect();
    serde_json::to_value(event).unwrap()
}

/// An invocation context as Lambda gives one.
fn ctx() -> versus::lambda::Context {
    versus::lambda::local_context("bench", std::time::Duration::from_secs(60))
}

#[tokio::main]
async fn main() {
    let messages: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("DynamoDB Local's endpoint");
    let sdk = versus::db::aws_config().await;
    let direct = versus::db::dynamodb(&sdk);
    let config = local_gateway::tables::scratch_config(&direct, "benchsms", &[])
        .await
        .expect("tables and configuration");
    let store = SmsStore::new(direct.clone(), &config.tables.sms);

    // The sender's own client goes through the proxy.
    let counts = counting_proxy::start(&upstream).await;
    let sender = sms_sender::function(&config).await.expect("sms-sender");

    println!();
    println!("| run | batch | batches at once | messages | seconds | messages/s | DynamoDB requests per message | by operation (per message) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let mut last_ids = vec![];
    for (round, concurrency) in [1usize, 4].into_iter().enumerate() {
        let now = versus::now_ms();
        // Numbers of its own each round: a number texted a moment ago waits
        // out its gap (deferred), which is not what this row measures.
        let logs: Vec<SmsLog> = (0..messages)
            .map(|i| log(round * messages + i, &config.sms, now))
            .collect();
        futures::future::join_all(logs.iter().map(|l| store.put_log(l))).await;
        let ids: Vec<String> = logs.iter().map(|l| l.sms_id.clone()).collect();
        counts.lock().unwrap().clear();
        let started = Instant::now();
        let sender = &sender;
        futures::StreamExt::for_each_concurrent(
            futures::stream::iter(ids.chunks(BATCH)),
            concurrency,
            |chunk| async move {
                let out = sender(batch(chunk), ctx())
                    .await
                    .expect("the sender answers");
                assert_eq!(out["batchItemFailures"], serde_json::json!([]));
            },
        )
        .await;
        let secs = started.elapsed().as_secs_f64();
        print_row("send", concurrency, messages, secs, &counts);
        last_ids = ids;
    }
    counts.lock().unwrap().clear();
    let started = Instant::now();
    for chunk in last_ids.chunks(BATCH) {
        sender(batch(chunk), ctx())
            .await
            .expect("the sender answers");
    }
    print_row(
        "redelivery (all already sent)",
        1,
        messages,
        started.elapsed().as_secs_f64(),
        &counts,
    );
    println!();
    println!("A send is: the claim (UpdateItem pending → sending), the number's gap (UpdateItem), the opt-out check (GetItem), the console provider's record (PutItem; a real provider makes an HTTP call instead), the finish (UpdateItem → sent), and the month's, the day's and the day's per-type cost counters (three UpdateItems). A redelivery is the claim alone, refused. One Lambda instance on this machine, against DynamoDB Local; SQS receive/delete is not included.");
}

fn print_row(run: &str, concurrency: usize, messages: usize, secs: f64, counts: &Counts) {
    let (total, by_op) = counting_proxy::per(counts, messages);
    println!(
        "| {run} | {BATCH} | {concurrency} | {messages} | {secs:.2} | {:.0} | {total:.2} | {by_op} |",
        messages as f64 / secs,
    );
}
