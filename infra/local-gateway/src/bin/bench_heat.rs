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
use local_gateway::counting_proxy::{self, Meter};
use local_gateway::heat::{Row, TABLE_HEAD};
use versus::battles::matchmaking::FindOutcome;
use versus::battles::results::ResultInput;
use versus::battles::Outcome;
use versus::ids::{BattleId, ConnectionId, InvitationId, UserId};

/// Players loaded; every tenth is online.
const PLAYERS: usize = 25_000;

/// Runs `ops` operations, each counted as its own, and returns their row.
async fn measure<F, Fut>(meter: &Meter, ops: usize, mut op: F) -> Row
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    meter.lock().unwrap().reset();
    for i in 0..ops {
        meter.lock().unwrap().next_op();
        op(i).await;
    }
    let heat = meter.lock().unwrap();
    heat.row(ops)
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
    let config = local_gateway::tables::scratch_config(&direct, "benchheat", &[])
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
    let (_, meter) = counting_proxy::start_metered(&upstream).await;
    let client = versus::db::dynamodb(&versus::db::aws_config().await);
    let store = versus::wiring::battles(&client, &config);
    let mut rows: Vec<(String, &str, Row)> = vec![];

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
            let request = versus::sms::outbox::SmsRequest {
                to: versus::phone::PhoneNumber::parse(&format!("+2567740{i:05}")).unwrap(),
                message_type: versus::sms::MessageType::SecurityAlert,
                body: "New sign-in to your Versus account.".into(),
                user_id: Some(user(i * 10 + 9)),
                sender_id: None,
                related: None,
                verified: true,
                preferences: None,
                timezone: None,
                secret: None,
                extra_limits: vec![],
                send_by: None,
            };
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

    println!("{TABLE_HEAD}");
    for (what, target, row) in &rows {
        println!("{}", row.line(what, target));
    }
    println!();
    println!("| operation | the next shared keys (their ceilings) |\n|---|---|");
    for (what, _, row) in &rows {
        println!("| {what} | {} |", row.runners_up(3));
    }
    println!();
    println!("Per-partition-key limits: {} read units/s, {} write units/s (base table and each index apart). Projected ceiling = the limit / the hottest shared key's units per operation; a key only one operation touched belongs to one player and is not counted. {ops} operations per row on {PLAYERS} players; settings as template.yaml's defaults.", local_gateway::heat::READ_LIMIT, local_gateway::heat::WRITE_LIMIT);
}
