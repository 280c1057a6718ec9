//! The texts that come from time (F-JOB-2, F-JOB-4, F-SMS-23, F-SMS-24)
//! and the daily SMS cost report (F-JOB-6, F-SMS-16), through the local
//! gateway's schedule trigger as EventBridge would fire them.

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::Duration;
use common::texts::{logs_to, Daytime};
use common::{eventually, Stack};
use serde_json::{json, Value};
use std::collections::HashMap;
use versus::points::award::AwardRequest;
use versus::points::rules::ActivityType;
use versus::sms::store::Status;

async fn run_schedule(stack: &Stack, name: &str, input: Value) -> Value {
    let response = stack
        .http
        .post(format!(
            "{}/_local/schedules/{name}",
            stack.running.http_url
        ))
        .json(&input)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// F-JOB-4: a battle whose deadline is 60 minutes away gets one reminder per
// player across three runs; an ended battle gets none.
#[tokio::test]
async fn battle_reminders_go_once_per_player() {
    let stack = Stack::start_with(&[("BattleDurationSeconds", "3600")]).await;
    // Runs at chosen instants around the deadline: the clock moves only
    // when the test says.
    stack.freeze_clock().await;
    let day = Daytime::of(&stack);
    for user in ["r_a", "r_b", "r_c", "r_d"] {
        stack.create_profile(user, user).await;
    }
    let live = stack.battle_between("r_a", "r_b").await;
    let ended = stack.battle_between("r_c", "r_d").await;
    stack.record_result(&ended, json!({"outcome": "tie"})).await;
    // Numbers verified once the battles exist: no match_found text stands in
    // the 30 s gap between texts to one number.
    let users_table = stack.config("scheduled-jobs").tables.users;
    for (i, user) in ["r_a", "r_b", "r_c", "r_d"].iter().enumerate() {
        local_gateway::fixtures::verified_phone(
            &stack.dynamodb().await,
            &users_table,
            user,
            &day.number(i as u32),
            Some(day.timezone),
        )
        .await
        .unwrap();
    }
    let now = stack.now();
    // Runs of one quarter share a checkpoint: effects are summed per quarter.
    let mut effects = HashMap::new();
    for at in [
        now - Duration::minutes(10),
        now,
        now + Duration::minutes(10),
    ] {
        let out = run_schedule(&stack, "BattleReminders", json!({"at": rfc3339(at)})).await;
        assert_eq!(out["status"], "done", "{out}");
        effects.insert(
            out["at"].as_str().unwrap().to_string(),
            out["checkpoint"]["effects"].as_u64().unwrap(),
        );
    }
    assert_eq!(effects.values().sum::<u64>(), 2, "{effects:?}");
    for i in 0..2 {
        let logs = logs_to(&stack, &day.number(i), "battle_reminder").await;
        assert_eq!(logs.len(), 1, "player {i}: {logs:?}");
        assert_ne!(logs[0].status, Status::Suppressed, "{:?}", logs[0].reason);
        assert_eq!(logs[0].related.as_ref().unwrap().id, live);
        assert!(
            logs[0].body.contains("ends in about an hour"),
            "{}",
            logs[0].body
        );
    }
    for i in 2..4 {
        assert!(logs_to(&stack, &day.number(i), "battle_reminder")
            .await
            .is_empty());
    }
    // The same quarter again, with its checkpoint gone: the once-key holds.
    stack
        .dynamodb()
        .await
        .delete_item()
        .table_name(&users_table)
        .set_key(Some(versus::keys::users::job_state_key(
            "battle_reminders",
            &{
                let q = now.timestamp_millis() - now.timestamp_millis().rem_euclid(900_000);
                chrono::DateTime::from_timestamp_millis(q)
                    .unwrap()
                    .format("%Y-%m-%dT%H:%M")
                    .to_string()
            },
        )))
        .send()
        .await
        .unwrap();
    let out = run_schedule(&stack, "BattleReminders", json!({"at": rfc3339(now)})).await;
    assert_eq!(out["checkpoint"]["visited"], 1, "{out}");
    assert_eq!(out["checkpoint"]["effects"], 0, "{out}");
    assert_eq!(
        logs_to(&stack, &day.number(0), "battle_reminder")
            .await
            .len(),
        1
    );
}

// F-SMS-14 meets F-SMS-23: a reminder that quiet hours would hold past the
// battle's deadline is refused, not sent the next morning.
#[tokio::test]
async fn a_reminder_is_not_held_past_its_deadline() {
    let stack = Stack::start_with(&[("BattleDurationSeconds", "3600")]).await;
    // Runs at chosen instants around the deadline: the clock moves only
    // when the test says.
    stack.freeze_clock().await;
    let day = Daytime::of(&stack);
    let night = local_gateway::fixtures::zone_at_local_hour(23, stack.now_ms());
    for user in ["n_night", "n_day"] {
        stack.create_profile(user, user).await;
    }
    stack.battle_between("n_night", "n_day").await;
    let users_table = stack.config("scheduled-jobs").tables.users;
    for (i, (user, zone)) in [("n_night", night.as_str()), ("n_day", day.timezone)]
        .into_iter()
        .enumerate()
    {
        local_gateway::fixtures::verified_phone(
            &stack.dynamodb().await,
            &users_table,
            user,
            &day.number(i as u32),
            Some(zone),
        )
        .await
        .unwrap();
    }
    // A run standing for now (the deadline 60 minutes ahead, in its window).
    run_schedule(
        &stack,
        "BattleReminders",
        json!({"at": rfc3339(stack.now())}),
    )
    .await;
    let at_night = logs_to(&stack, &day.number(0), "battle_reminder").await;
    assert_eq!(at_night.len(), 1);
    assert_eq!(
        at_night[0].reason.map(versus::sms::wire_name).as_deref(),
        Some("too_late_after_quiet_hours")
    );
    let by_day = logs_to(&stack, &day.number(1), "battle_reminder").await;
    assert_eq!(by_day.len(), 1);
    assert_ne!(
        by_day[0].status,
        Status::Suppressed,
        "{:?}",
        by_day[0].reason
    );
}

fn award(user: &str) -> AwardRequest {
    AwardRequest {
        user_id: user.into(),
        amount: 1,
        activity_type: ActivityType::Comment,
        description: "a comment".into(),
        idempotency_key: None,
    }
}

// F-JOB-2: players in three zones; only those in their local evening, with a
// streak of 3+ and no activity yet today, get one alert; a second run of the
// same hour sends nothing.
#[tokio::test]
async fn streak_alerts_reach_only_streaks_at_risk_in_their_evening() {
    let stack = Stack::start().await;
    // Awards and runs in one hour: no hour turns in between.
    stack.freeze_clock().await;
    let config = stack.config("scheduled-jobs");
    let client = stack.dynamodb().await;
    let ledger = versus::wiring::ledger(&client, &config);
    let evening = local_gateway::fixtures::zone_at_local_hour(19, stack.now_ms());
    let afternoon = local_gateway::fixtures::zone_at_local_hour(13, stack.now_ms());
    let night = local_gateway::fixtures::zone_at_local_hour(23, stack.now_ms());
    let now = stack.now();
    // (user, zone, days active before today, active today too)
    let players = [
        ("at_risk", evening.as_str(), 3, false),
        ("too_short", evening.as_str(), 2, false),
        ("played_today", evening.as_str(), 3, true),
        ("afternoon", afternoon.as_str(), 3, false),
        ("night", night.as_str(), 4, false),
    ];
    for (i, (user, zone, days, today)) in players.iter().enumerate() {
        stack.create_profile(user, user).await;
        local_gateway::fixtures::verified_phone(
            &client,
            &config.tables.users,
            user,
            &format!("+2567721000{i:02}"),
            Some(zone),
        )
        .await
        .unwrap();
        for d in (1..=*days).rev() {
            ledger
                .add_points(&award(user), (now - Duration::days(d)).timestamp_millis())
                .await
                .unwrap();
        }
        if *today {
            ledger
                .add_points(&award(user), now.timestamp_millis())
                .await
                .unwrap();
        }
    }
    let first = run_schedule(&stack, "StreakAlerts", json!({})).await;
    assert_eq!(first["status"], "done", "{first}");
    assert_eq!(
        first["checkpoint"]["visited"], 1,
        "only the evening's streak is read: {first}"
    );
    assert_eq!(first["checkpoint"]["effects"], 1, "{first}");
    let alerts = logs_to(&stack, "+256772100000", "streak_alert").await;
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].body.contains("3-day streak"),
        "{}",
        alerts[0].body
    );
    for (i, (user, ..)) in players.iter().enumerate().skip(1) {
        assert!(
            logs_to(&stack, &format!("+2567721000{i:02}"), "streak_alert")
                .await
                .is_empty(),
            "{user}"
        );
    }
    let second = run_schedule(&stack, "StreakAlerts", json!({})).await;
    assert_eq!(
        second["checkpoint"]["effects"], 1,
        "the same run, already done: {second}"
    );
    // With its checkpoint gone, the run reads the player again; the once-key holds.
    client
        .delete_item()
        .table_name(&config.tables.users)
        .set_key(Some(versus::keys::users::job_state_key(
            "streak_alerts",
            second["hour"].as_str().unwrap(),
        )))
        .send()
        .await
        .unwrap();
    let third = run_schedule(&stack, "StreakAlerts", json!({})).await;
    assert_eq!(third["checkpoint"]["effects"], 0, "{third}");
    assert_eq!(
        logs_to(&stack, "+256772100000", "streak_alert").await.len(),
        1
    );
}

// F-JOB-7: over 5,000 streaks of one hour, a run stops at its budget and
// continues through the jobs queue until every one is read.
#[tokio::test]
async fn the_streak_alert_job_stops_at_its_budget_and_continues() {
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let config = stack.config("scheduled-jobs");
    let client = stack.dynamodb().await;
    let now = stack.now();
    let hour = versus::texts::streaks::run_hour(now.timestamp_millis());
    let yesterday = (now - Duration::days(1)).date_naive().to_string();
    // Profiles as the ledger leaves them (no phone: nobody is texted),
    // copied from one made through the API.
    stack.create_profile("bulk_model", "bulk_model").await;
    let model = client
        .get_item()
        .table_name(&config.tables.users)
        .set_key(Some(versus::keys::users::profile_key("bulk_model")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let items: Vec<WriteRequest> = (0..5000)
        .map(|i| {
            let user = format!("bulk{i:05}");
            let mut item: HashMap<String, AttributeValue> = model.clone();
            item.extend(versus::keys::users::profile_key(&user));
            for (k, v) in [
                ("user_id", user.clone()),
                ("username", user.clone()),
                ("timezone", "UTC".into()),
                ("streak_alert_hour", hour.clone()),
                ("last_activity_date", yesterday.clone()),
            ] {
                item.insert(k.into(), AttributeValue::S(v));
            }
            item.insert("current_streak_days".into(), AttributeValue::N("5".into()));
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    let writes = items.chunks(25).map(|chunk| {
        client
            .batch_write_item()
            .request_items(&config.tables.users, chunk.to_vec())
            .send()
    });
    for chunk in futures::future::join_all(writes).await {
        assert!(chunk
            .unwrap()
            .unprocessed_items()
            .is_none_or(|u| u.is_empty()));
    }
    // A budget of nothing: one page, then the rest is handed to the jobs queue.
    let mut tight = config.clone();
    tight.job_budget_secs = 0;
    let handler = scheduled_jobs::function(&tight).await.unwrap();
    let out = versus::clock::with_source(
        stack.running.gateway.clock.source(),
        handler(json!({"job": "streak_alerts"}), common::ctx()),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], "continuing", "{out}");
    assert_eq!(out["checkpoint"]["visited"], 100);
    let runner = versus::sweep::Runner::new(client.clone(), &config.tables.users, 100);
    eventually("the continuation reads every streak", || async {
        runner
            .checkpoint("streak_alerts", &hour)
            .await
            .unwrap()
            .done
    })
    .await;
    let done = runner.checkpoint("streak_alerts", &hour).await.unwrap();
    assert_eq!(done.visited, 5000);
}

// F-JOB-6, F-SMS-16: counts, segments and cost per type and provider for a
// day with texts sent by sms-sender through two providers (console, and
// Twilio for +1), the spend cap's state, and EMF that parses.
#[tokio::test]
async fn the_cost_report_counts_per_type_and_provider() {
    let twilio = common::stubs::ProviderStub::start(201).await;
    let mut parameters = common::stubs::twilio_parameters(&twilio, "https://hooks.example.com");
    parameters.push(("SmsRoutes", "1=twilio".into()));
    let borrowed: Vec<(&str, &str)> = parameters.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stack = Stack::start_with(&borrowed).await;
    stack.freeze_clock().await;
    let config = stack.config("scheduled-jobs");
    let sdk = versus::db::aws_config().await;
    let outbox = common::sms::outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    let day = stack.now();
    use versus::sms::MessageType::*;
    let long = "x".repeat(200); // two GSM-7 segments
    let texts = [
        (MatchFound, "+256772123456", "hi"),
        (MatchFound, "+256772123457", long.as_str()),
        (MatchFound, "+14155550100", "hi"),
        (SecurityAlert, "+14155550101", "hi"),
    ];
    let mut logs = vec![];
    for (i, (kind, to, body)) in texts.into_iter().enumerate() {
        let mut request = common::sms::request(kind, to, &format!("u{i}"));
        request.body = body.into();
        logs.push(outbox.enqueue(request, stack.now_ms()).await.unwrap());
    }
    let store = outbox.store().clone();
    eventually("all four are sent", || async {
        let mut sent = 0;
        for log in &logs {
            let log = store.get_log(&log.sms_id).await.unwrap().unwrap();
            sent += usize::from(log.status == Status::Sent);
        }
        sent == logs.len()
    })
    .await;
    assert_eq!(twilio.requests(common::stubs::TWILIO_MESSAGES).len(), 2);
    // The sender counts a text just after it marks it sent.
    eventually("all four are counted", || async {
        let report = versus::sms::report::cost_report(
            &store,
            day.date_naive(),
            config.sms.monthly_cap_micros,
        )
        .await
        .unwrap();
        let lines: u64 = report.lines.iter().map(|l| l.counts.messages).sum();
        (report.total.messages, lines) == (4, 4)
    })
    .await;
    let date = day.date_naive().to_string();
    let out = run_schedule(&stack, "SmsCostReport", json!({"date": date})).await;
    let report = &out["report"];
    assert_eq!(report["date"], date);
    assert_eq!(report["total"]["messages"], 4);
    assert_eq!(report["total"]["segments"], 5);
    let cost = |i: usize| logs[i].cost_micros;
    assert_eq!(
        report["total"]["cost_micros"],
        logs.iter().map(|l| l.cost_micros).sum::<u64>()
    );
    assert_eq!(
        report["lines"],
        json!([
            {"message_type": "match_found", "provider": "console", "messages": 2, "segments": 3, "cost_micros": cost(0) + cost(1)},
            {"message_type": "match_found", "provider": "twilio", "messages": 1, "segments": 1, "cost_micros": cost(2)},
            {"message_type": "security_alert", "provider": "twilio", "messages": 1, "segments": 1, "cost_micros": cost(3)},
        ])
    );
    assert_eq!(report["spend"]["cap_micros"], config.sms.monthly_cap_micros);
    assert_eq!(report["spend"]["cap_reached"], false);
    assert_eq!(out["metric_documents"], 4);
    // The EMF documents, checked against the specification's rules.
    let report: versus::sms::report::CostReport = versus::sms::report::cost_report(
        &versus::sms::store::SmsStore::new(stack.dynamodb().await, &config.tables.sms),
        day.date_naive(),
        config.sms.monthly_cap_micros,
    )
    .await
    .unwrap();
    let documents = versus::sms::report::emf_documents(&report, stack.now_ms());
    assert_eq!(documents.len(), 4);
    for document in &documents {
        let line = document.to_string();
        assert!(!line.contains('\n'));
        check_emf(&serde_json::from_str(&line).unwrap());
    }
    assert_eq!(documents[0]["DailySegments"], 3);
    // The senders' outcome lines (the dashboard's failed and suppressed
    // counts) follow the same rules.
    let outcome =
        versus::sms::report::outcome_document(SecurityAlert, Status::Failed, stack.now_ms());
    check_emf(&outcome);
    assert_eq!(
        (
            outcome["MessageType"].as_str(),
            outcome["Outcome"].as_str(),
            outcome["Texts"].as_i64()
        ),
        (Some("security_alert"), Some("failed"), Some(1))
    );
    assert_eq!(documents[0]["Provider"], "console");
}

// F-JOB-6, F-SMS-16, issue 23: the counters texts moved before the shards
// existed (`COST#<date>`, `COST#<month>`, unsharded) are summed with the
// shards' in the day's totals, its lines and the month's spend.
#[tokio::test]
async fn the_cost_report_sums_the_unsharded_counters_too() {
    use versus::keys::sms::{cost_day_key, cost_month_key, cost_type_key};
    let stack = Stack::start().await;
    let config = stack.config("scheduled-jobs");
    let client = stack.dynamodb().await;
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let (day, month) = (date.to_string(), "2026-11");
    let counter = |mut item: HashMap<String, AttributeValue>, messages: u64, cost: u64| {
        for (name, value) in [
            ("messages", messages),
            ("segments", messages),
            ("cost_micros", cost),
        ] {
            item.insert(name.into(), AttributeValue::N(value.to_string()));
        }
        item
    };
    let (old, seven, last) = (None, Some(7), Some(31));
    let counters = [
        // Before the shards: three texts today, ten this month.
        counter(cost_day_key(&day, old), 3, 300),
        counter(cost_type_key(&day, old, "match_found", "console"), 3, 300),
        counter(cost_month_key(month, old), 10, 1_000),
        // Since: two in shard 7, one in the last shard.
        counter(cost_day_key(&day, seven), 2, 200),
        counter(cost_type_key(&day, seven, "match_found", "console"), 2, 200),
        counter(cost_month_key(month, seven), 2, 200),
        counter(cost_day_key(&day, last), 1, 150),
        counter(
            cost_type_key(&day, last, "security_alert", "twilio"),
            1,
            150,
        ),
        counter(cost_month_key(month, last), 1, 150),
    ];
    for item in counters {
        client
            .put_item()
            .table_name(&config.tables.sms)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let report = versus::sms::report::cost_report(
        &versus::sms::store::SmsStore::new(client, &config.tables.sms),
        date,
        config.sms.monthly_cap_micros,
    )
    .await
    .unwrap();
    let total = &report.total;
    assert_eq!(
        (total.messages, total.segments, total.cost_micros),
        (6, 6, 650)
    );
    let lines: Vec<(&str, &str, u64, u64)> = report
        .lines
        .iter()
        .map(|l| {
            let c = &l.counts;
            (
                l.message_type.as_str(),
                l.provider.as_str(),
                c.messages,
                c.cost_micros,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("match_found", "console", 5, 500),
            ("security_alert", "twilio", 1, 150)
        ]
    );
    assert_eq!(report.spend.sent_micros, 1_350);
}

/// The Embedded Metric Format's rules (CloudWatch's specification): an
/// `_aws` object with an integer `Timestamp` and `CloudWatchMetrics`
/// directives, each with a `Namespace`, `Dimensions` (arrays of at most 30
/// names) and at most 100 `Metrics` (`Name`, optional `Unit`), every name a
/// member of the root; metric values are numbers, dimension values strings.
fn check_emf(doc: &Value) {
    let aws = doc["_aws"].as_object().expect("_aws is an object");
    assert!(aws["Timestamp"].is_i64() || aws["Timestamp"].is_u64());
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert!(!directives.is_empty());
    const UNITS: [&str; 2] = ["Count", "None"];
    for directive in directives {
        assert!(!directive["Namespace"].as_str().unwrap().is_empty());
        for set in directive["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(set.len() <= 30);
            for name in set {
                assert!(doc[name.as_str().unwrap()].is_string(), "{name}");
            }
        }
        let metrics = directive["Metrics"].as_array().unwrap();
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for metric in metrics {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} has a number");
            assert!(UNITS.contains(&metric["Unit"].as_str().unwrap()));
        }
    }
}

// F-JOB-7: a streak-alert run that starts at 20:00:30 for the 19:00 slot
// (a retry past the hour) texts the 19:00 players, not the 20:00 ones.
#[tokio::test]
async fn a_late_streak_alert_run_works_on_its_own_slot() {
    use chrono::{DurationRound, TimeDelta};
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let slot = stack.now().duration_trunc(TimeDelta::hours(1)).unwrap();
    let config = stack.config("scheduled-jobs");
    let client = stack.dynamodb().await;
    let ledger = versus::wiring::ledger(&client, &config);
    // Evening (19:xx) at the slot; 20:xx an hour later, still in the window.
    let zone = local_gateway::fixtures::zone_at_local_hour(19, slot.timestamp_millis());
    let phone = "+256772100099";
    stack.create_profile("late_slot", "late_slot").await;
    local_gateway::fixtures::verified_phone(
        &client,
        &config.tables.users,
        "late_slot",
        phone,
        Some(&zone),
    )
    .await
    .unwrap();
    for d in (1..=3).rev() {
        ledger
            .add_points(
                &award("late_slot"),
                (slot - Duration::days(d)).timestamp_millis(),
            )
            .await
            .unwrap();
    }
    // The run starts at 20:00:30 UTC-relative to the slot.
    stack
        .set_clock(slot + Duration::hours(1) + Duration::seconds(30), true)
        .await;
    // The next hour's run (the default slot now) does not find them...
    let next = run_schedule(&stack, "StreakAlerts", json!({})).await;
    assert_eq!(next["checkpoint"]["visited"], 0, "{next}");
    // ...the late run for 19:00 does, and texts them.
    let late = run_schedule(&stack, "StreakAlerts", json!({ "at": rfc3339(slot) })).await;
    assert_eq!(
        late["hour"],
        versus::clock::utc_hour_key(slot.timestamp_millis()),
        "{late}"
    );
    assert_eq!(late["checkpoint"]["visited"], 1, "{late}");
    assert_eq!(late["checkpoint"]["effects"], 1, "{late}");
    assert_eq!(logs_to(&stack, phone, "streak_alert").await.len(), 1);
}

// F-JOB-4, F-JOB-7: battles made before the deadline listing existed are
// listed by the one-off backfill, once; ended ones are not.
#[tokio::test]
async fn the_backfill_lists_old_active_battles_once() {
    let stack = Stack::start().await;
    for user in ["old_a", "old_b", "old_c", "old_d"] {
        stack.create_profile(user, user).await;
    }
    let active = stack.battle_between("old_a", "old_b").await;
    let ended = stack.battle_between("old_c", "old_d").await;
    stack.record_result(&ended, json!({"outcome": "tie"})).await;
    // As such battles were stored: without the listing.
    let client = stack.dynamodb().await;
    let table = stack.config("scheduled-jobs").tables.battles;
    let battle_key = |id: &str| {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(format!("BATTLE#{id}"))),
            ("sk".to_string(), AttributeValue::S("BATTLE".into())),
        ])
    };
    client
        .update_item()
        .table_name(&table)
        .set_key(Some(battle_key(&active)))
        .update_expression("REMOVE gsi1pk, gsi1sk")
        .send()
        .await
        .unwrap();
    let item = |id: String| {
        let (client, table) = (client.clone(), table.clone());
        let key = battle_key(&id);
        async move {
            client
                .get_item()
                .table_name(table)
                .set_key(Some(key))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    let backfill = || common::run_one_off(&stack, "backfill_deadline_listing");
    let first = backfill().await;
    assert_eq!(first["status"], "done", "{first}");
    assert_eq!(
        (
            first["checkpoint"]["visited"].as_u64(),
            first["checkpoint"]["effects"].as_u64()
        ),
        (Some(1), Some(1)),
        "only the active, unlisted battle: {first}"
    );
    let listed = item(active.clone()).await;
    let deadline: i64 = listed["deadline_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(
        listed["gsi1pk"].as_s().unwrap(),
        &versus::keys::battles::deadline_pk(deadline, &active)
    );
    assert_eq!(
        listed["gsi1sk"].as_s().unwrap(),
        &versus::keys::battles::deadline_sk(deadline, &active)
    );
    assert!(
        !item(ended).await.contains_key("gsi1pk"),
        "an ended battle stays out"
    );
    // Done is done; and with its checkpoint gone, a rerun finds nothing to list.
    assert_eq!(backfill().await["checkpoint"]["effects"], 1);
    client
        .delete_item()
        .table_name(&stack.config("scheduled-jobs").tables.users)
        .set_key(Some(versus::keys::users::job_state_key(
            "backfill_deadline_listing",
            "once",
        )))
        .send()
        .await
        .unwrap();
    let again = backfill().await;
    assert_eq!(
        (
            again["checkpoint"]["visited"].as_u64(),
            again["checkpoint"]["effects"].as_u64()
        ),
        (Some(0), Some(0)),
        "{again}"
    );
}

// Issue 21 (F-SMS-17, F-SMS-19): logs stored before texts were masked at
// rest keep their code or token in `body`. The one-off walk masks the final
// ones of the types that carry secrets; in-flight logs (still to be sent)
// and other types are left alone, and a rerun changes nothing.
#[tokio::test]
async fn the_one_off_walk_masks_old_logs_codes_and_tokens() {
    use versus::sms::log::SmsLog;
    use versus::sms::MessageType;
    let stack = Stack::start().await;
    // The pending log is due now: a minute turning mid-test would let the
    // reconcile schedule send it, and the rerun would then mask it.
    stack.freeze_clock().await;
    let config = stack.config("scheduled-jobs");
    let store = versus::sms::store::SmsStore::new(stack.dynamodb().await, &config.tables.sms);
    let now = stack.now_ms();
    let token = "T".repeat(43);
    let old = |kind: MessageType, body: String, status: Status| {
        let mut log = SmsLog::pending(
            versus::phone::PhoneNumber::parse("+256772123456").unwrap(),
            kind,
            body,
            None,
            &config.sms,
            now,
        );
        log.status = status;
        if status != Status::Pending {
            log.due_at = None;
        }
        log
    };
    let code_text = "Your Versus code is 482913. It expires in 10 minutes. Do not share it.";
    let logs = [
        old(MessageType::PhoneVerification, code_text.into(), Status::Sent),
        old(
            MessageType::BattleInvitation,
            format!("alice challenged you: https://versus.example/invite/{token} Reply STOP to unsubscribe."),
            Status::Delivered,
        ),
        old(MessageType::PhoneVerification, code_text.into(), Status::Pending),
        old(MessageType::SecurityAlert, "Your Versus code is 111111.".into(), Status::Sent),
    ];
    for log in &logs {
        store.put_log(log).await.unwrap();
    }
    let walk = || common::run_one_off(&stack, "redact_sms_bodies");
    let first = walk().await;
    assert_eq!(first["status"], "done", "{first}");
    assert_eq!(first["checkpoint"]["effects"], 2, "{first}");
    let body = |i: usize| {
        let store = store.clone();
        let id = logs[i].sms_id.clone();
        async move { store.get_log(&id).await.unwrap().unwrap().body }
    };
    assert_eq!(
        body(0).await,
        "Your Versus code is ******. It expires in 10 minutes. Do not share it."
    );
    assert_eq!(
        body(1).await,
        "alice challenged you: https://versus.example/invite/**** Reply STOP to unsubscribe."
    );
    assert_eq!(body(2).await, code_text, "still to be sent: kept");
    assert_eq!(
        body(3).await,
        "Your Versus code is 111111.",
        "not a secret-bearing type"
    );
    common::forget_checkpoint(&stack, "redact_sms_bodies").await;
    let again = walk().await;
    assert_eq!(again["checkpoint"]["effects"], 0, "{again}");
}

// F-JOB-4, issue 23: a battle listed before the deadline listing had shards
// (under its unsharded hour) is still reminded.
#[tokio::test]
async fn a_battle_listed_before_the_shards_is_still_reminded() {
    let stack = Stack::start_with(&[("BattleDurationSeconds", "3600")]).await;
    stack.freeze_clock().await;
    let day = Daytime::of(&stack);
    for user in ["l_a", "l_b"] {
        stack.create_profile(user, user).await;
    }
    let battle = stack.battle_between("l_a", "l_b").await;
    let client = stack.dynamodb().await;
    let config = stack.config("scheduled-jobs");
    for (i, user) in ["l_a", "l_b"].iter().enumerate() {
        local_gateway::fixtures::verified_phone(
            &client,
            &config.tables.users,
            user,
            &day.number(i as u32),
            Some(day.timezone),
        )
        .await
        .unwrap();
    }
    // Listed as before the shards: `DEADLINE#<hour>`.
    let item = client
        .get_item()
        .table_name(&config.tables.battles)
        .set_key(Some(versus::keys::battles::battle_key(&battle)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let deadline: i64 = item["deadline_at"].as_n().unwrap().parse().unwrap();
    client
        .update_item()
        .table_name(&config.tables.battles)
        .set_key(Some(versus::keys::battles::battle_key(&battle)))
        .update_expression("SET gsi1pk = :hour")
        .expression_attribute_values(
            ":hour",
            AttributeValue::S(format!(
                "DEADLINE#{}",
                versus::clock::utc_hour_key(deadline)
            )),
        )
        .send()
        .await
        .unwrap();
    let out = run_schedule(
        &stack,
        "BattleReminders",
        json!({"at": rfc3339(stack.now())}),
    )
    .await;
    assert_eq!(
        (
            out["status"].as_str(),
            out["checkpoint"]["effects"].as_u64()
        ),
        (Some("done"), Some(2)),
        "{out}"
    );
    for i in 0..2 {
        assert_eq!(
            logs_to(&stack, &day.number(i), "battle_reminder")
                .await
                .len(),
            1
        );
    }
}
