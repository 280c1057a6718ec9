//! `scripts/bench` part two: DynamoDB costs (requests, read and write
//! capacity units as DynamoDB reports them) of
//! - one `find_opponent` with 1,000 and with 100,000 registered users, 10% of
//!   them online (F-MM-1);
//! - one `add_points` (F-PT-1), with and without an idempotency key;
//! - one leaderboard read over 1,000 users with points (F-PT-8).
//!
//! Usage: bench_costs [SIZES...] (default 1000 100000); needs
//! `AWS_ENDPOINT_URL_DYNAMODB` (scripts/bench starts DynamoDB Local).

use std::collections::HashMap;
use versus::battles::matchmaking::FindOutcome;
use versus::db::Cost;

const FINDS: usize = 40;
const SHARDS: u32 = 16;

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 100_000]
    } else {
        sizes
    };
    let sdk = versus::db::aws_config().await;
    let client = versus::db::dynamodb(&sdk);
    println!("| registered | online | finds | invited | requests (mean) | requests (min-max) | read units (mean) | write units (mean) | load s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for size in sizes {
        let config = local_gateway::tables::scratch_config(
            &client,
            &format!("bench{size}"),
            &[("ONLINE_SHARDS", SHARDS.to_string())],
        )
        .await
        .expect("tables and configuration (run from the repository root)");
        let now = versus::now_ms();
        let started = std::time::Instant::now();
        local_gateway::bench_data::populate(&client, &config.tables.users, size, now, SHARDS).await;
        let load_secs = started.elapsed().as_secs_f64();

        let store = versus::wiring::battles(&client, &config);
        let mut costs: Vec<Cost> = Vec::new();
        let mut invited = 0;
        for run in 0..FINDS {
            // Callers are offline users (i % 10 == 1): they are never candidates.
            let caller = versus::ids::UserId::parse(&format!("user{:07}", run * 10 + 1)).unwrap();
            let found = versus::battles::matchmaking::find_opponent(&store, &caller, "bench", now)
                .await
                .expect("find_opponent");
            if let FindOutcome::Invited(inv) = &found.outcome {
                invited += 1;
                // Put both players back as they were, outside the measurement.
                for user in std::iter::once(&inv.from).chain(&inv.to).map(|p| &p.id) {
                    local_gateway::bench_data::release(&client, &config.tables.users, user).await;
                }
            }
            costs.push(found.cost);
        }
        let mean = |f: &dyn Fn(&Cost) -> f64| costs.iter().map(f).sum::<f64>() / costs.len() as f64;
        let min = costs.iter().map(|c| c.requests).min().unwrap_or(0);
        let max = costs.iter().map(|c| c.requests).max().unwrap_or(0);
        println!(
            "| {size} | {} | {FINDS} | {invited} | {:.2} | {min}-{max} | {:.2} | {:.2} | {load_secs:.0} |",
            size / 10,
            mean(&|c| c.requests as f64),
            mean(&|c| c.read_units),
            mean(&|c| c.write_units),
        );
    }
    println!();
    println!("A find is: a consistent read of the caller's profile; Queries of the online index from a random shard and a random point of its range (and back to the point), then the other shards in random order from their start, until 64 distinct online players are collected or all are read (keys only, at most 256 entries); BatchGetItems of their profiles in shuffled order, 8 then 16, 32 ... (at most 100), until an eligible one; one TransactWriteItems (invitation + both players' guards). With few online players the pick reads all of them (exactly uniform); with many, one random stretch of one shard. Pushes to the two players add one Query each for their connections (not counted here).");
    points_costs(&client).await;
}

/// F-PT-1 and F-PT-8 costs, on 1,000 users with points.
async fn points_costs(client: &aws_sdk_dynamodb::Client) {
    let config = local_gateway::tables::scratch_config(client, "benchpt", &[])
        .await
        .expect("tables and configuration");
    let now = versus::now_ms();
    local_gateway::bench_data::populate(client, &config.tables.users, 1_000, now, SHARDS).await;
    let ledger = versus::wiring::ledger(client, &config);
    // Pass 0: each user's first award of the day (streak write, first
    // announcements); pass 1: a later award the same day (the common case).
    let mut by_kind: HashMap<(usize, bool), Vec<Cost>> = HashMap::new();
    for (pass, i) in (0..2).flat_map(|p| (0..1_000).map(move |i| (p, i))) {
        let mut cost = Cost::default();
        let request = versus::points::award::AwardRequest {
            user_id: format!("user{i:07}"),
            amount: (i as i64 * 37) % 500 + 1,
            activity_type: versus::points::rules::ActivityType::Comment,
            description: String::new(),
            idempotency_key: (i % 2 == 0).then(|| format!("bench-{pass}-{i}")),
        };
        ledger
            .add_points_counted(&request, now, &mut cost)
            .await
            .expect("add_points");
        by_kind.entry((pass, i % 2 == 0)).or_default().push(cost);
    }
    let (_, board) = versus::points::leaderboard::top(
        client,
        &config.tables.users,
        config.leaderboard_shards,
        100,
    )
    .await
    .expect("leaderboard");
    println!();
    println!("| operation | calls | requests (mean) | read units (mean) | write units (mean) |");
    println!("|---|---:|---:|---:|---:|");
    for (name, kind) in [
        ("add_points, first of the day", (0, false)),
        (
            "add_points, first of the day, with idempotency_key",
            (0, true),
        ),
        ("add_points, later the same day", (1, false)),
        (
            "add_points, later the same day, with idempotency_key",
            (1, true),
        ),
    ] {
        let costs = &by_kind[&kind];
        let mean = |f: &dyn Fn(&Cost) -> f64| costs.iter().map(f).sum::<f64>() / costs.len() as f64;
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} |",
            costs.len(),
            mean(&|c| c.requests as f64),
            mean(&|c| c.read_units),
            mean(&|c| c.write_units),
        );
    }
    println!(
        "| leaderboard top 100 of 1,000 ({} shards) | 1 | {} | {:.2} | 0 |",
        config.leaderboard_shards, board.requests, board.read_units
    );
    println!();
    println!("add_points: a consistent read of the profile, the transaction (profile ADD + activity [+ idempotency record]), a consistent read after it, with a key the stored result; the first award of a day adds the streak write, and an award that moves the tier or level adds its announcement (the first pass includes the first announcement of these seeded totals).");
}
