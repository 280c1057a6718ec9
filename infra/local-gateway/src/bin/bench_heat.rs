//! `scripts/bench`: the heat table. Each launch-day operation runs `OPS`
//! times through the code the functions run, against DynamoDB Local behind
//! the metering proxy (`local_gateway::heat`); each row gives the units one
//! operation puts on DynamoDB, the hottest key many operations share (base
//! table or index), and the rate at which that key reaches its partition's
//! limit: the operation's projected ceiling.
//!
//! Usage: bench_heat [OPS] (default 1,000: a shard's share of a row comes
//! within a few per cent of its mean); needs `AWS_ENDPOINT_URL_DYNAMODB`.

use local_gateway::bench_data::{self, user};
use local_gateway::cost::{self, Step};
use local_gateway::counting_proxy::{self, Counts, Meter};
use local_gateway::heat::{Row, TABLE_HEAD};
use versus::battles::matchmaking::FindOutcome;
use versus::battles::results::ResultInput;
use versus::battles::Outcome;
use versus::ids::{BattleId, ConnectionId, InvitationId, UserId};

/// The bill's assumptions: one of the two players is not connected when
/// the result comes (one battle_result text), and each player is
/// connected for ten minutes of the battle.
const TEXTS_PER_BATTLE: f64 = 1.0;
const CONNECTED_MINUTES: f64 = 10.0;

/// Deferred texts released at 08:00 (F-SMS-12): `RELEASED` texts held for
/// quiet hours, all due, and one reconciler run (the minute schedule's).
const RELEASED: usize = 2_000;

async fn release_deferred(
    direct: &aws_sdk_dynamodb::Client,
    config: &versus::Config,
    meters: &(Counts, Meter),
    sender: &versus::lambda::Invoke,
) -> String {
    use versus::sms::log::{SmsLog, Status};
    let store = versus::sms::store::SmsStore::new(direct.clone(), &config.tables.sms);
    let now = versus::now_ms();
    let logs: Vec<SmsLog> = (0..RELEASED)
        .map(|i| {
            let mut log = SmsLog::pending(
                versus::phone::PhoneNumber::parse(&format!("+2567750{i:05}")).unwrap(),
                versus::sms::MessageType::BattleResult,
                "Your battle with player42 ended: you won 3-1.".into(),
                Some(user(i * 10 + 2)),
                &config.sms,
                now - 8 * 3_600_000,
            );
            log.status = Status::Deferred;
            log.due_at = Some(now - 1_000);
            log
        })
        .collect();
    futures::StreamExt::for_each_concurrent(futures::stream::iter(&logs), 16, |log| {
        let store = &store;
        async move { store.put_log(log).await.expect("a deferred log") }
    })
    .await;
    let (counts, meter) = meters;
    counts.lock().unwrap().clear();
    meter.lock().unwrap().reset();
    meter.lock().unwrap().next_op();
    let started = std::time::Instant::now();
    let out = sender(serde_json::json!({"job": "reconcile_sms"}), ctx())
        .await
        .expect("the reconciler runs");
    let secs = started.elapsed().as_secs_f64();
    let requeued = out["requeued"].as_u64().unwrap_or(0);
    let (requests, by_op) = counting_proxy::per(counts, requeued.max(1) as usize);
    let partitions = versus::sms::log::due_partitions().len();
    format!(
        "Deferred texts released: {requeued} of {RELEASED} due in one reconciler run, in {secs:.1} s here ({:.0} a second), {requests:.2} DynamoDB requests a text ({by_op}), and their ids queued ten to a SendMessageBatch. A run reads every `due` partition ({partitions}) at once, at most 20 pages of 100 each: up to {} texts a run, so 1,000,000 deferred to 08:00 are on the queue within {} runs of the minute schedule (still spaced per number when sent: the sender's 30 s gap).",
        requeued as f64 / secs.max(1e-9),
        partitions * 2_000,
        1_000_000usize.div_ceil(partitions * 2_000),
    )
}

/// Prints what 1,000 matched battles cost, and the price table used.
fn print_bill(battle: &cost::Battle, sms_rates: &[(String, u64)]) {
    let p = &cost::PRICES;
    println!();
    println!("What 1,000 matched battles cost (random opponent found, accepted, result recorded with both players' battle points; {TEXTS_PER_BATTLE} text and {CONNECTED_MINUTES} connected minutes a player per battle):");
    println!();
    println!("| item | per 1,000 battles | US$ |\n|---|---:|---:|");
    let bill = battle.bill(p);
    for line in &bill {
        println!(
            "| {} | {:.1} | {:.6} |",
            line.what, line.quantity, line.dollars
        );
    }
    let total: f64 = bill.iter().map(|l| l.dollars).sum();
    println!("| **total, SMS apart** | | **{total:.6}** |");
    println!();
    println!("| SMS to | provider price per segment (SMS_RATES_MICROS) | {TEXTS_PER_BATTLE} segment a battle, per 1,000 battles, US$ |\n|---|---:|---:|");
    for (region, micros) in sms_rates {
        let per_text = *micros as f64 / 1e6;
        println!(
            "| {region} | {per_text:.4} | {:.2} |",
            per_text * TEXTS_PER_BATTLE * 1000.0
        );
    }
    println!();
    println!("Prices as of {} (AWS list prices, us-east-1, on demand, past the free tiers): DynamoDB ${:.3}/M write units, ${:.3}/M read units; Lambda arm64 ${:.10}/GB-s and ${:.2}/M requests; HTTP API ${:.2}/M requests; WebSocket ${:.2}/M messages and ${:.2}/M connection minutes; SQS ${:.2}/M requests. Durations are this machine's against DynamoDB Local (x86_64): Lambda's arm64 against DynamoDB is faster, so that line errs high.",
        cost::PRICES_AS_OF,
        p.dynamodb_write_unit * 1e6, p.dynamodb_read_unit * 1e6, p.lambda_arm_gb_second, p.lambda_request * 1e6,
        p.http_api_request * 1e6, p.websocket_message * 1e6, p.websocket_connection_minute * 1e6, p.sqs_request * 1e6);
}

/// Players loaded; every tenth is online.
const PLAYERS: usize = 25_000;

/// A measured row: the heat, and the mean milliseconds of an operation.
struct Measured {
    row: Row,
    millis: f64,
    requests: f64,
}

impl Measured {
    fn step(&self) -> Step {
        Step {
            read_units: self.row.read_per_op,
            write_units: self.row.write_per_op,
            millis: self.millis,
        }
    }
}

/// Runs `ops` operations, each counted as its own, and returns their row.
async fn measure<F, Fut>(meters: &(Counts, Meter), ops: usize, mut op: F) -> Measured
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (counts, meter) = meters;
    counts.lock().unwrap().clear();
    meter.lock().unwrap().reset();
    let started = std::time::Instant::now();
    for i in 0..ops {
        meter.lock().unwrap().next_op();
        op(i).await;
    }
    let millis = started.elapsed().as_secs_f64() * 1000.0 / ops.max(1) as f64;
    let (requests, _) = counting_proxy::per(counts, ops.max(1));
    let heat = meter.lock().unwrap();
    Measured {
        row: heat.row(ops),
        millis,
        requests,
    }
}

fn ctx() -> versus::lambda::Context {
    versus::lambda::local_context("bench", std::time::Duration::from_secs(60))
}

#[tokio::main]
async fn main() {
    let ops: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000)
        .clamp(10, PLAYERS / 20);
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("DynamoDB Local's endpoint");
    let sdk = versus::db::aws_config().await;
    let direct = versus::db::dynamodb(&sdk);
    // The SMS queue (moto): the reconciler queues what it releases.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let sms_queue = sqs
        .create_queue()
        .queue_name(format!("bench-sms-{}", ulid::Ulid::new()))
        .send()
        .await
        .expect("the SMS queue (AWS_ENDPOINT_URL_SQS: scripts/bench starts moto)")
        .queue_url
        .unwrap_or_default();
    let config = local_gateway::tables::scratch_config(
        &direct,
        "benchheat",
        &[
            ("SMS_QUEUE_URL", sms_queue),
            // Nobody measured here is connected: no push is attempted.
            ("WEBSOCKET_API_ENDPOINT", "http://127.0.0.1:9/prod".into()),
        ],
    )
    .await
    .expect("tables and configuration (run from the repository root)");
    let now = versus::now_ms();
    bench_data::populate(
        &direct,
        &config.tables.users,
        PLAYERS,
        now,
        config.online_shards,
    )
    .await;
    // Measured calls go through the proxy; set-up above went straight.
    let meter = counting_proxy::start_metered(&upstream).await;
    let client = versus::db::dynamodb(&versus::db::aws_config().await);
    let store = versus::wiring::battles(&client, &config);
    let mut rows: Vec<(String, &str, Measured)> = vec![];

    // Random opponent (F-MM-1): offline players look for online ones.
    let invitations = std::sync::Mutex::new(vec![]);
    let row = measure(&meter, ops, |i| {
        let caller = UserId::parse(&user(i * 10 + 1)).unwrap();
        let store = &store;
        let invitations = &invitations;
        async move {
            let found = versus::battles::matchmaking::find_opponent(store, &caller, "duel", now)
                .await
                .expect("find_opponent");
            if let FindOutcome::Invited(inv) = found.outcome {
                invitations.lock().unwrap().push(*inv);
            }
        }
    })
    .await;
    rows.push(("random-opponent find (F-MM-1)".into(), "10,000", row));
    let invitations = invitations.into_inner().unwrap();

    // The invitee accepts: the battle is created (F-MM-3).
    let battles = std::sync::Mutex::new(vec![]);
    let row = measure(&meter, invitations.len(), |i| {
        let inv = &invitations[i];
        let store = &store;
        let battles = &battles;
        async move {
            let id = InvitationId::parse(&inv.invitation_id).unwrap();
            let invitee = UserId::parse(&inv.to.as_ref().unwrap().id).unwrap();
            if let versus::battles::invitations::Answer::Accepted { battle, .. } =
                versus::battles::answers::answer(store, &id, &invitee, true, now)
                    .await
                    .expect("accept")
            {
                battles.lock().unwrap().push(battle);
            }
        }
    })
    .await;
    rows.push(("battle created (accept, F-MM-3)".into(), "5,000", row));
    let battles = battles.into_inner().unwrap();

    // A result is recorded (F-MM-8).
    let row = measure(&meter, battles.len(), |i| {
        let battle = &battles[i];
        let store = &store;
        async move {
            let input = ResultInput {
                outcome: Outcome::Win,
                winner_id: Some(battle.players[0].id.clone()),
            };
            versus::battles::results::record_result(
                store,
                &BattleId::parse(&battle.battle_id).unwrap(),
                &input,
                now + 60_000,
            )
            .await
            .expect("record_result");
        }
    })
    .await;
    rows.push(("result recorded (F-MM-8)".into(), "5,000", row));

    // Queue joins (F-MM-5), one challenge type: offline players not used above.
    let row = measure(&meter, ops, |i| {
        let user_id = UserId::parse(&user(i * 10 + 3)).unwrap();
        let connection = ConnectionId::from(format!("conn{i}"));
        let store = &store;
        async move {
            versus::battles::queue::join_queue(store, &user_id, &connection, "duel", now)
                .await
                .expect("join_queue");
        }
    })
    .await;
    rows.push(("queue join, one type (F-MM-5)".into(), "2,000", row));

    // Points (F-PT-1): a first award of the day, then a later one.
    let ledger = versus::wiring::ledger(&client, &config);
    for (what, pass) in [
        ("award, first of the day (F-PT-1)", 0),
        ("award, later the same day (F-PT-1)", 1),
    ] {
        let row = measure(&meter, ops, |i| {
            let ledger = &ledger;
            async move {
                let request = versus::points::award::AwardRequest {
                    user_id: user(i * 10 + 5),
                    amount: (i as i64 * 37) % 500 + 1 + pass,
                    activity_type: versus::points::rules::ActivityType::Comment,
                    description: String::new(),
                    idempotency_key: None,
                };
                ledger.add_points(&request, now).await.expect("add_points");
            }
        })
        .await;
        rows.push((what.into(), "50,000", row));
    }

    // The daily streak bonus (F-JOB-1) over the players just awarded: one
    // run's pace, which each of the fanned-out runs has on its shard.
    let jobs = versus::wiring::jobs(
        &client,
        &config,
        versus::wiring::pusher(&sdk, &client, &config).expect("pusher"),
        versus::points::jobs::DEFAULT_PAGE,
    );
    meter.0.lock().unwrap().clear();
    let started = std::time::Instant::now();
    let bonus = jobs
        .run(
            versus::points::jobs::JobName::StreakBonus,
            versus::clock::utc_date(now),
            now,
            &mut || false,
        )
        .await
        .expect("the streak bonus");
    let secs = started.elapsed().as_secs_f64();
    let cp = match bonus {
        versus::sweep::RunOutcome::Done(cp) | versus::sweep::RunOutcome::Stopped(cp) => cp,
    };
    let (requests, _) = counting_proxy::per(&meter.0, cp.visited.max(1) as usize);
    let pace = cp.visited as f64 / secs.max(1e-9);
    let streak_line = format!(
        "Streak bonus: one run paid {} of {} players in {secs:.1} s here ({pace:.0} a second, {requests:.2} DynamoDB requests a player). The schedule fans a date out to {} such runs in parallel, so 10,000,000 players take about {:.0} minutes at this machine's pace against DynamoDB Local.",
        cp.effects,
        cp.visited,
        versus::points::jobs::SHARDS,
        10_000_000.0 / (pace * f64::from(versus::points::jobs::SHARDS)) / 60.0,
    );

    // Leaderboard reads (F-PT-8) at the target's pace (20 a millisecond):
    // the cached top, refreshed by one reader when older than the cache age.
    let board = versus::wiring::leaderboard(&client, &config);
    let row = measure(&meter, ops, |i| {
        let board = &board;
        async move {
            board
                .top(100, now + i as i64 / 20)
                .await
                .expect("leaderboard");
        }
    })
    .await;
    rows.push((
        format!(
            "leaderboard top 100, {} shards, cached {} s (F-PT-8)",
            config.leaderboard_shards, config.leaderboard_cache_secs
        ),
        "20,000",
        row,
    ));

    // Presence (F-PR-3): a WebSocket connects.
    let presence = versus::wiring::presence(&client, &config);
    let row = measure(&meter, ops, |i| {
        let presence = &presence;
        async move {
            presence
                .connect(&user(i * 10 + 7), &format!("ws{i}"), now)
                .await
                .expect("connect");
        }
    })
    .await;
    rows.push(("connection opened (F-PR-3)".into(), "1,000,000 open", row));

    // A text through the pipeline (F-SMS-3): enqueued, then sent.
    let no_queue = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
            .build(),
    );
    let outbox = versus::sms::outbox::Outbox::new(
        versus::sms::store::SmsStore::new(client.clone(), &config.tables.sms),
        no_queue,
        config.sms.clone(),
    );
    let sender = sms_sender::function(&config).await.expect("sms-sender");
    let row = measure(&meter, ops, |i| {
        let outbox = &outbox;
        let sender = &sender;
        async move {
            let request = local_gateway::fixtures::sms_request(
                versus::sms::MessageType::SecurityAlert,
                &format!("+2567740{i:05}"),
                &user(i * 10 + 9),
            );
            let log = outbox
                .enqueue(request, versus::now_ms())
                .await
                .expect("enqueue");
            let mut batch = aws_lambda_events::event::sqs::SqsEvent::default();
            let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
            message.message_id = Some(format!("m{i}"));
            message.body = Some(serde_json::json!({ "sms_id": log.sms_id }).to_string());
            batch.records = vec![message];
            let out = sender(serde_json::to_value(batch).unwrap(), ctx())
                .await
                .expect("the sender answers");
            assert_eq!(out["batchItemFailures"], serde_json::json!([]));
        }
    })
    .await;
    rows.push(("text enqueued and sent (F-SMS-3)".into(), "10,000", row));

    let release = release_deferred(&direct, &config, &meter, &sender).await;
    println!("{TABLE_HEAD}");
    for (what, target, measured) in &rows {
        println!("{}", measured.row.line(what, target));
    }
    println!();
    println!("| operation | DynamoDB requests/op | ms/op (this machine, DynamoDB Local) |\n|---|---:|---:|");
    for (what, _, measured) in &rows {
        println!(
            "| {what} | {:.2} | {:.1} |",
            measured.requests, measured.millis
        );
    }
    println!();
    println!("| operation | the next shared keys (their ceilings) |\n|---|---|");
    for (what, _, measured) in &rows {
        println!("| {what} | {} |", measured.row.runners_up(3));
    }
    println!();
    println!("{release}");
    println!();
    println!("{streak_line}");
    let step = |prefix: &str| {
        rows.iter()
            .find(|(what, _, _)| what.starts_with(prefix))
            .map(|(_, _, m)| m.step())
            .unwrap_or_default()
    };
    print_bill(
        &cost::Battle {
            find: step("random-opponent find"),
            accept: step("battle created"),
            result: step("result recorded"),
            award: step("award, later"),
            text: step("text enqueued"),
            texts: TEXTS_PER_BATTLE,
            connected_minutes: CONNECTED_MINUTES,
            memory_gb: 0.25,
        },
        &config.sms.rates,
    );
    println!();
    println!("Per-partition-key limits: {} read units/s, {} write units/s (base table and each index apart). Projected ceiling = the limit / the hottest shared key's units per operation; a key only one operation touched belongs to one player and is not counted. {ops} operations per row on {PLAYERS} players; settings as template.yaml's defaults.", local_gateway::heat::READ_LIMIT, local_gateway::heat::WRITE_LIMIT);
}
