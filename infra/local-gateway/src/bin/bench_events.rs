//! `scripts/bench` part five: DynamoDB requests per processed domain event
//! (F-EV-1) and per user the streak-alert job examines (F-JOB-2), counted
//! by a proxy in front of DynamoDB Local.
//!
//! Usage: bench_events [N] (default 100); needs `AWS_ENDPOINT_URL_DYNAMODB`.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Timelike;
use local_gateway::counting_proxy::{self, Counts};
use serde_json::{json, Value};
use versus::lambda::Invoke;

fn event(id: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": "bench",
        "account": "000000000000", "time": "2026-11-22T18:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail,
    })
}

/// Runs `events` through the function and prints their row.
async fn measure(what: &str, function: &Invoke, events: &[Value], counts: &Counts, expect: &str) {
    counts.lock().unwrap().clear();
    for e in events {
        let out = function(
            e.clone(),
            versus::lambda::local_context("bench", std::time::Duration::from_secs(60)),
        )
        .await
        .expect("the function answers");
        assert_eq!(out["outcome"], expect, "{what}: {out}");
    }
    let (total, by_op) = counting_proxy::per(counts, events.len());
    println!("| {what} | {} | {total:.2} | {by_op} |", events.len());
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100)
        .clamp(1, 999);
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("DynamoDB Local's endpoint");
    let sdk = versus::db::aws_config().await;
    let direct = versus::db::dynamodb(&sdk);
    let config = local_gateway::tables::scratch_config(&direct, "benchev", &[])
        .await
        .expect("tables and configuration");
    // Players with verified, consenting numbers whose local evening it is,
    // a 3-day streak that ends tonight, filed under this hour (as the
    // ledger files them); written straight to DynamoDB Local.
    let now = chrono::Utc::now();
    let zone = local_gateway::fixtures::zone_at_local_hour(19, now.timestamp_millis());
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let yesterday = (now.with_timezone(&tz).date_naive() - chrono::Days::new(1)).to_string();
    let hour = versus::texts::streaks::run_hour(now.timestamp_millis());
    let profiles = versus::wiring::profiles(&direct, &config);
    for i in 0..n {
        let user = format!("player{i:03}");
        let caller = versus::auth::Caller {
            user_id: versus::ids::UserId::parse(&user).unwrap(),
            privileged_role: None,
            scopes: vec![],
        };
        profiles
            .save(
                &caller,
                versus::profile::ProfileInput {
                    username: Some(user.clone()),
                    ..Default::default()
                },
                now.timestamp_millis(),
            )
            .await
            .expect("profile");
        local_gateway::fixtures::verified_phone(
            &direct,
            &config.tables.users,
            &user,
            &format!("+2567735{i:05}"),
            Some(&zone),
        )
        .await
        .unwrap();
        direct
            .update_item()
            .table_name(&config.tables.users)
            .set_key(Some(versus::keys::users::profile_key(&user)))
            .update_expression(
                "SET current_streak_days = :s, last_activity_date = :d, streak_alert_hour = :h",
            )
            .expression_attribute_values(":s", AttributeValue::N("3".into()))
            .expression_attribute_values(":d", AttributeValue::S(yesterday.clone()))
            .expression_attribute_values(":h", AttributeValue::S(hour.clone()))
            .send()
            .await
            .unwrap();
    }
    let counts = counting_proxy::start(&upstream).await;
    // Built after the proxy: their clients go through it.
    let client = versus::db::dynamodb(&versus::db::aws_config().await);
    let function = domain_events::function(&config)
        .await
        .expect("domain-events");

    println!();
    println!("| processed | count | DynamoDB requests each | by operation (each) |");
    println!("|---|---:|---:|---|");
    let users = (0..n).map(|i| format!("player{i:03}"));
    let achievements: Vec<Value> = users
        .clone()
        .enumerate()
        .map(|(i, u)| {
            event(
                &format!("a{i}"),
                "AchievementUnlocked",
                json!({"user_id": u, "achievement_id": "bench", "name": "Benchmarked"}),
            )
        })
        .collect();
    let outcome = if (8..21).contains(&now.with_timezone(&tz).hour()) {
        "pending"
    } else {
        "deferred"
    };
    measure(
        "AchievementUnlocked, texted",
        &function,
        &achievements,
        &counts,
        outcome,
    )
    .await;
    measure(
        "the same events redelivered",
        &function,
        &achievements,
        &counts,
        "repeat",
    )
    .await;
    let dms: Vec<Value> = users
        .clone()
        .enumerate()
        .map(|(i, u)| {
            let sender = format!("player{:03}", (i + 1) % n);
            event(
                &format!("d{i}"),
                "DirectMessageCreated",
                json!({"thread_id": format!("t{i}"), "sender_id": sender, "recipient_id": u}),
            )
        })
        .collect();
    // Everyone was seen when their profile was made: online (F-PR-4), not texted.
    measure(
        "DirectMessageCreated, recipient online",
        &function,
        &dms,
        &counts,
        "recipient_online",
    )
    .await;
    let malformed: Vec<Value> = (0..n)
        .map(|i| {
            event(
                &format!("m{i}"),
                "PaymentSettled",
                json!({"user_id": "x", "status": "PENDING"}),
            )
        })
        .collect();
    measure(
        "a malformed event, rejected",
        &function,
        &malformed,
        &counts,
        "rejected",
    )
    .await;

    // The streak-alert job over the hour's partition. The achievements above
    // used the 30 s gap of every number: the alerts are refused, but each
    // user is read, checked and recorded as a real run would.
    let outbox = versus::wiring::outbox(&sdk, &client, &config);
    let alerts = versus::wiring::streak_alerts(outbox, &client, &config);
    let runner = versus::sweep::Runner::new(client.clone(), &config.tables.users, 100);
    counts.lock().unwrap().clear();
    let at = now.timestamp_millis();
    let outcome = runner
        .run(
            "streak_alerts",
            &hour,
            &alerts.segments(at),
            &alerts.sweep(at, at),
            &mut || false,
        )
        .await
        .expect("the job runs");
    let examined = outcome.checkpoint().visited as usize;
    assert_eq!(examined, n);
    let (total, by_op) = counting_proxy::per(&counts, examined);
    println!("| user examined by the streak-alert job | {examined} | {total:.2} | {by_op} |");
}
