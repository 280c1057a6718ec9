//! Points end to end: the ledger under concurrency, idempotency, tiers and
//! levels, streaks, leaderboard, weekly goals, side quests, battle points and
//! the resumable jobs (F-PT-1 … F-PT-12, F-JOB-1, F-JOB-3, F-JOB-7).

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use common::{until_type, Stack};
use serde_json::{json, Value};
use std::collections::HashMap;
use versus::points::award::AwardRequest;
use versus::points::jobs::{JobName, RunOutcome};
use versus::points::rules::ActivityType;
use versus::points::trackers::week_start;

const DAY: i64 = 86_400_000;

fn service(stack: &Stack) -> String {
    stack.token_with("points-service", json!({"scope": "versus/service"}))
}

async fn award(stack: &Stack, body: Value) -> (u16, Value) {
    stack
        .call_with_token(
            "POST",
            "/v1/points/award",
            Some(&service(stack)),
            Some(&body.to_string()),
        )
        .await
}

fn req(user: &str, amount: i64, t: ActivityType, key: Option<&str>) -> AwardRequest {
    AwardRequest {
        user_id: user.into(),
        amount,
        activity_type: t,
        description: String::new(),
        idempotency_key: key.map(String::from),
    }
}

async fn activities(stack: &Stack, user: &str) -> Vec<HashMap<String, AttributeValue>> {
    let out = stack
        .dynamodb()
        .await
        .query()
        .table_name(&stack.config("points-api").tables.users)
        .key_condition_expression("pk = :pk AND begins_with(sk, :a)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user}")))
        .expression_attribute_values(":a", AttributeValue::S("ACT#".into()))
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default()
}

/// The streak bonuses a user was paid.
async fn streak_bonuses(stack: &Stack, user: &str) -> Vec<HashMap<String, AttributeValue>> {
    activities(stack, user)
        .await
        .into_iter()
        .filter(|a| {
            a.get("activity_type")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some("streak_bonus")
        })
        .collect()
}

/// The scheduled jobs as the function wires them, reading `page` users a page.
async fn jobs_with_pages(
    client: &aws_sdk_dynamodb::Client,
    config: &versus::Config,
    page: i32,
) -> versus::points::jobs::Jobs {
    let pusher = versus::wiring::pusher(&versus::db::aws_config().await, client, config).unwrap();
    versus::wiring::jobs(client, config, pusher, page)
}

/// A side quest an admin offers (201), as the API answers it.
async fn create_quest(stack: &Stack, admin: &str, quest: &Value) -> Value {
    let (status, created) = stack
        .call_with_token(
            "POST",
            "/v1/side-quests",
            Some(admin),
            Some(&quest.to_string()),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created
}

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

// F-PT-1: 200 concurrent awards of 5: exactly +1000 and 200 activities, no errors;
// one idempotency key 20 times at once: one activity.
#[tokio::test]
async fn concurrent_awards_are_exact_and_idempotent() {
    let stack = Stack::start().await;
    stack.create_profile("hot", "hot_user").await;
    let calls = (0..200).map(|i| {
        award(&stack, json!({"user_id": "hot", "amount": 5, "activity_type": "comment", "description": format!("c{i}")}))
    });
    let results = futures::future::join_all(calls).await;
    for (status, body) in &results {
        assert_eq!(*status, 201, "{body}");
    }
    let (_, points) = stack.call("GET", "/v1/me/points", Some("hot"), None).await;
    assert_eq!(points["total_points"], 1000);
    assert_eq!(points["lifetime"]["comments_posted"], 200);
    assert_eq!(activities(&stack, "hot").await.len(), 200);

    let same = json!({"user_id": "hot", "amount": 7, "activity_type": "quiz_complete", "idempotency_key": "quiz-7"});
    let results = futures::future::join_all((0..20).map(|_| award(&stack, same.clone()))).await;
    let ids: std::collections::HashSet<&str> = results
        .iter()
        .map(|(s, b)| {
            assert!(*s == 201 || *s == 200, "{b}");
            b["award"]["activity"]["activity_id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every repeat returns the first result");
    assert_eq!(results.iter().filter(|(s, _)| *s == 201).count(), 1);
    assert_eq!(activities(&stack, "hot").await.len(), 201);
    let (_, points) = stack.call("GET", "/v1/me/points", Some("hot"), None).await;
    assert_eq!(points["total_points"], 1007);
    // The same key for a different award is a conflict, not a silent replay.
    let (status, body) = award(&stack, json!({"user_id": "hot", "amount": 8, "activity_type": "quiz_complete", "idempotency_key": "quiz-7"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
}

// F-PT-2, F-PT-3, F-PT-6, F-PT-12, F-ERR-2.
#[tokio::test]
async fn boundaries_upgrades_and_refusals() {
    let stack = Stack::start().await;
    stack.create_profile("climber", "climber").await;
    let mut socket = stack.connect(Some(&stack.token("climber"))).await.unwrap();
    let (_, a) = award(
        &stack,
        json!({"user_id": "climber", "amount": 249, "activity_type": "project_create"}),
    )
    .await;
    assert_eq!(a["award"]["tier"], "ember");
    assert!(a["award"]["tier_upgraded"].is_null());
    let (_, a) = award(
        &stack,
        json!({"user_id": "climber", "amount": 1, "activity_type": "reaction"}),
    )
    .await;
    assert_eq!(
        a["award"]["tier_upgraded"],
        json!({"old": "ember", "new": "spark"})
    );
    // The first award already pushed level upgrades; the tier one follows.
    let pushed = loop {
        let (m, _) = until_type(&mut socket, "points_upgraded").await;
        if !m["tier_upgraded"].is_null() {
            break m;
        }
    };
    assert_eq!(pushed["tier_upgraded"]["new"], "spark");
    assert_eq!(pushed["total_points"], 250);
    let (_, a) = award(
        &stack,
        json!({"user_id": "climber", "amount": 2249, "activity_type": "reaction"}),
    )
    .await;
    assert_eq!(
        (
            a["award"]["total_points"].as_i64(),
            a["award"]["tier"].as_str()
        ),
        (Some(2499), Some("beacon"))
    );
    let (_, a) = award(
        &stack,
        json!({"user_id": "climber", "amount": 1, "activity_type": "reaction"}),
    )
    .await;
    assert_eq!(
        a["award"]["tier_upgraded"],
        json!({"old": "beacon", "new": "phoenix"})
    );
    let (_, a) = award(
        &stack,
        json!({"user_id": "climber", "amount": 57_499, "activity_type": "special_event"}),
    )
    .await;
    assert_eq!(
        (
            a["award"]["total_points"].as_i64(),
            a["award"]["level"].as_u64()
        ),
        (Some(59_999), Some(20))
    );
    let (_, a) = award(
        &stack,
        json!({"user_id": "climber", "amount": 1, "activity_type": "reaction"}),
    )
    .await;
    assert_eq!(a["award"]["level_upgraded"], json!({"old": 20, "new": 21}));
    let (_, a) = award(
        &stack,
        json!({"user_id": "climber", "amount": 10_000, "activity_type": "special_event"}),
    )
    .await;
    assert_eq!(a["award"]["level_upgraded"], json!({"old": 21, "new": 22}));

    let before = activities(&stack, "climber").await.len();
    for (body, status) in [
        (
            json!({"user_id": "climber", "amount": 0, "activity_type": "comment"}),
            400,
        ),
        (
            json!({"user_id": "climber", "amount": -5, "activity_type": "comment"}),
            400,
        ),
        (
            json!({"user_id": "climber", "amount": 5, "activity_type": "bribe"}),
            400,
        ),
        (
            json!({"user_id": "climber", "amount": 5, "activity_type": "comment", "extra": true}),
            400,
        ),
        (
            json!({"user_id": "nobody", "amount": 5, "activity_type": "comment"}),
            404,
        ),
    ] {
        let (s, b) = award(&stack, body.clone()).await;
        assert_eq!(s, status, "{body} -> {b}");
    }
    // A player may not award (itself or anyone).
    let (s, b) = stack
        .call(
            "POST",
            "/v1/points/award",
            Some("climber"),
            Some(r#"{"user_id":"climber","amount":5,"activity_type":"comment"}"#),
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(
        activities(&stack, "climber").await.len(),
        before,
        "nothing written"
    );
    let (_, points) = stack
        .call("GET", "/v1/me/points", Some("climber"), None)
        .await;
    assert_eq!(points["total_points"], 70_000);
    assert_eq!(points["points_to_next_level"], 10_000);
    assert!(points["points_to_next_tier"].is_null());
    assert_eq!(points["recent_activities"].as_array().unwrap().len(), 7);
    // F-PT-7: the activities page on, newest first, without overlap.
    let (_, first) = stack
        .call("GET", "/v1/me/points?limit=4", Some("climber"), None)
        .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, rest) = stack
        .call(
            "GET",
            &format!("/v1/me/points?limit=4&cursor={cursor}"),
            Some("climber"),
            None,
        )
        .await;
    let ids = |v: &Value| -> Vec<String> {
        v["recent_activities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["activity_id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = ids(&points);
    assert_eq!([ids(&first), ids(&rest)].concat(), all);
    assert_eq!(
        first["recent_activities"][0]["amount"], 10_000,
        "newest first"
    );
    assert!(rest["next_cursor"].is_null());
    let (status, body) = stack
        .call("GET", "/v1/me/points?cursor=bogus", Some("climber"), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_cursor"))
    );
}

// F-PT-4: streaks across day boundaries (in the user's time zone), a gap, the longest kept.
#[tokio::test]
async fn streaks_follow_days_in_the_users_time_zone() {
    let stack = Stack::start().await;
    stack.create_profile("walker", "walker").await;
    let (status, _) = stack
        .call(
            "PUT",
            "/v1/me",
            Some("walker"),
            Some(r#"{"timezone":"Africa/Kampala"}"#),
        )
        .await;
    assert_eq!(status, 200);
    let ledger = versus::wiring::ledger(&stack.dynamodb().await, &stack.config("points-api"));
    let at = |t: &str| ms(t);
    let mut streaks = Vec::new();
    for t in [
        "2026-11-20T10:00:00Z",
        "2026-11-20T20:30:00Z", // 23:30 in Kampala: the same local day
        "2026-11-20T21:30:00Z", // 00:30 on the 21st in Kampala: the next day
        "2026-11-22T08:00:00Z",
        "2026-11-25T08:00:00Z", // a gap
        "2026-11-26T08:00:00Z",
    ] {
        let a = ledger
            .add_points(&req("walker", 1, ActivityType::Comment, None), at(t))
            .await
            .unwrap();
        streaks.push((a.current_streak_days, a.longest_streak_days));
    }
    assert_eq!(
        streaks,
        vec![(1, 1), (1, 1), (2, 2), (3, 3), (1, 3), (2, 3)]
    );
    // A reward is not activity: it does not extend the streak.
    let a = ledger
        .add_points(
            &req("walker", 5, ActivityType::StreakBonus, None),
            at("2026-11-27T08:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(a.current_streak_days, 2);
}

// F-JOB-1, F-JOB-7: the daily bonus pays once per user and date, also when
// stopped halfway and continued, and when run again.
#[tokio::test]
async fn daily_streak_bonus_is_resumable_and_pays_once() {
    let stack = Stack::start().await;
    let config = stack.config("scheduled-jobs");
    let client = stack.dynamodb().await;
    let ledger = versus::wiring::ledger(&client, &config);
    let day1 = ms("2026-11-21T12:00:00Z");
    let day2 = day1 + DAY;
    let mut expected = HashMap::new();
    for i in 0..25 {
        let user = format!("s{i:02}");
        stack
            .create_profile(&user, &format!("streaker_{i:02}"))
            .await;
        // Some were active yesterday too (streak 2), the rest only today (streak 1).
        if i % 3 == 0 {
            ledger
                .add_points(&req(&user, 1, ActivityType::Comment, None), day1)
                .await
                .unwrap();
        }
        ledger
            .add_points(&req(&user, 1, ActivityType::Comment, None), day2)
            .await
            .unwrap();
        expected.insert(user, if i % 3 == 0 { 10 } else { 5 });
    }
    let date = versus::clock::utc_date(day2);
    let jobs = jobs_with_pages(&client, &config, 10).await;
    let mut pages = 0;
    let mut stop_after_one = || {
        pages += 1;
        pages > 1
    };
    let first = jobs
        .run(JobName::StreakBonus, date, day2, &mut stop_after_one)
        .await
        .unwrap();
    let RunOutcome::Stopped(cp) = first else {
        panic!("expected a stop, got {first:?}")
    };
    assert_eq!(cp.visited, 10);
    let rest = jobs
        .run(JobName::StreakBonus, date, day2, &mut || false)
        .await
        .unwrap();
    let RunOutcome::Done(cp) = rest else {
        panic!("expected done")
    };
    assert_eq!((cp.visited, cp.effects), (25, 25));
    // Run again; then again with the checkpoint gone (as after a crash before saving it).
    assert!(matches!(
        jobs.run(JobName::StreakBonus, date, day2, &mut || false)
            .await
            .unwrap(),
        RunOutcome::Done(_)
    ));
    client
        .delete_item()
        .table_name(&config.tables.users)
        .key("pk", AttributeValue::S(format!("JOB#streak_bonus#{date}")))
        .key("sk", AttributeValue::S("STATE".into()))
        .send()
        .await
        .unwrap();
    let RunOutcome::Done(cp) = jobs
        .run(JobName::StreakBonus, date, day2, &mut || false)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(cp.effects, 0, "nobody paid twice");
    for (user, bonus) in &expected {
        let bonuses = streak_bonuses(&stack, user).await;
        assert_eq!(bonuses.len(), 1, "{user}");
        assert_eq!(bonuses[0]["amount"].as_n().unwrap(), &bonus.to_string());
    }
    // Through the gateway's schedule trigger: the same job, already done.
    let response = stack
        .http
        .post(format!(
            "{}/_local/schedules/StreakBonus",
            stack.running.http_url
        ))
        .json(&json!({"date": date.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (
            body["status"].as_str(),
            body["checkpoint"]["effects"].as_u64()
        ),
        (Some("done"), Some(0))
    );
    let unknown = stack
        .http
        .post(format!("{}/_local/schedules/Nope", stack.running.http_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

// F-JOB-1, issue 23: a player listed under the day's unsharded partition
// (`active_date = <day>`, as before the shards) is paid by the fan-out's
// last run, and the whole-date run then pays only the others: each once.
#[tokio::test]
async fn a_player_listed_under_the_unsharded_day_is_still_paid() {
    let stack = Stack::start().await;
    let config = stack.config("scheduled-jobs");
    let client = stack.dynamodb().await;
    let ledger = versus::wiring::ledger(&client, &config);
    let now = ms("2026-11-21T12:00:00Z");
    let users = ["listed_before", "listed_since_a", "listed_since_b"];
    for user in users {
        stack.create_profile(user, user).await;
        ledger
            .add_points(&req(user, 1, ActivityType::Comment, None), now)
            .await
            .unwrap();
    }
    let date = versus::clock::utc_date(now);
    client
        .update_item()
        .table_name(&config.tables.users)
        .set_key(Some(versus::keys::users::profile_key(users[0])))
        .update_expression("SET active_date = :day")
        .expression_attribute_values(":day", AttributeValue::S(date.to_string()))
        .send()
        .await
        .unwrap();
    let jobs = jobs_with_pages(&client, &config, 10).await;
    let unsharded = versus::points::jobs::SHARDS - 1;
    let RunOutcome::Done(last) = jobs
        .run_shard(JobName::StreakBonus, date, unsharded, now, &mut || false)
        .await
        .unwrap()
    else {
        panic!("the unsharded run ends")
    };
    assert_eq!((last.visited, last.effects), (1, 1));
    let RunOutcome::Done(whole) = jobs
        .run(JobName::StreakBonus, date, now, &mut || false)
        .await
        .unwrap()
    else {
        panic!("the whole run ends")
    };
    assert_eq!((whole.visited, whole.effects), (3, 2));
    for user in users {
        assert_eq!(streak_bonuses(&stack, user).await.len(), 1, "{user}");
    }
}

// F-PT-6, F-JOB-1: a streak bonus that moves a level is pushed to the
// player like any other award's upgrade; a rerun pays and pushes nothing.
#[tokio::test]
async fn streak_bonus_upgrades_are_pushed() {
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let config = stack.config("scheduled-jobs");
    let client = stack.dynamodb().await;
    let ledger = versus::wiring::ledger(&client, &config);
    stack.create_profile("bonus", "bonus_taker").await;
    let today = stack.now_ms();
    // 45 yesterday and 1 today: a 2-day streak at 46 points, whose bonus
    // of 10 crosses level 2 (50 points).
    for (amount, at) in [(45, today - DAY), (1, today)] {
        ledger
            .add_points(&req("bonus", amount, ActivityType::Comment, None), at)
            .await
            .unwrap();
    }
    let mut socket = stack.connect(Some(&stack.token("bonus"))).await.unwrap();
    common::eventually("the connection is recorded", || async {
        !versus::wiring::presence(&client, &config)
            .connections("bonus", stack.now_ms())
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let pusher = versus::wiring::pusher(&versus::db::aws_config().await, &client, &config).unwrap();
    let jobs = versus::wiring::jobs(&client, &config, pusher, 100);
    let date = versus::clock::utc_date(today);
    for _ in 0..2 {
        let outcome = jobs
            .run(JobName::StreakBonus, date, today, &mut || false)
            .await
            .unwrap();
        assert!(matches!(outcome, RunOutcome::Done(_)), "{outcome:?}");
    }
    let (pushed, _) = until_type(&mut socket, "points_upgraded").await;
    assert_eq!(pushed["total_points"], 56, "{pushed}");
    assert_eq!(pushed["level_upgraded"], json!({"old": 1, "new": 2}));
    common::silent_for(&mut socket, 500).await;
}

// F-PT-10, F-JOB-3, F-PT-11: goals for recently active users, progress, a reward paid once.
#[tokio::test]
async fn weekly_goals_and_side_quests_pay_once() {
    let stack = Stack::start().await;
    let config = stack.config("points-api");
    let client = stack.dynamodb().await;
    let tracking = versus::wiring::tracking(&client, &config);
    stack.create_profile("g1", "goal_getter").await;
    stack.create_profile("idle", "idle_user").await;
    let monday = "2026-11-23".parse().unwrap();
    let last_week = ms("2026-11-18T12:00:00Z");
    tracking
        .ledger()
        .add_points(&req("g1", 1, ActivityType::Reaction, None), last_week)
        .await
        .unwrap();
    let jobs = jobs_with_pages(&client, &config, 100).await;
    let RunOutcome::Done(cp) = jobs
        .run(
            JobName::WeeklyGoals,
            monday,
            ms("2026-11-23T00:00:05Z"),
            &mut || false,
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(cp.effects, 3, "three goals for the one active user");
    assert!(tracking
        .weekly_goals("idle", monday)
        .await
        .unwrap()
        .is_empty());
    let RunOutcome::Done(_) = jobs
        .run(
            JobName::WeeklyGoals,
            monday,
            ms("2026-11-23T00:00:05Z"),
            &mut || false,
        )
        .await
        .unwrap()
    else {
        panic!()
    };

    // Five comments complete the comments goal: 30 points, once, even when retried.
    let tuesday = ms("2026-11-24T09:00:00Z");
    let mut rewards = Vec::new();
    for i in 0..6 {
        let key = format!("comment-{i}");
        let (_, r) = tracking
            .award(
                &req("g1", 2, ActivityType::Comment, Some(&key)),
                tuesday + i,
            )
            .await
            .unwrap();
        rewards.extend(r);
        // A retry of the same award: counted once.
        tracking
            .award(
                &req("g1", 2, ActivityType::Comment, Some(&key)),
                tuesday + i,
            )
            .await
            .unwrap();
    }
    let goals = tracking.weekly_goals("g1", monday).await.unwrap();
    let comments = goals
        .iter()
        .find(|g| g.tracker_id.ends_with("comments"))
        .unwrap();
    assert_eq!((comments.progress, comments.target), (5, 5));
    let paid: Vec<_> = rewards.iter().filter(|r| !r.replayed).collect();
    assert_eq!(paid.len(), 1, "{rewards:?}");
    assert_eq!(paid[0].activity.amount, 30);
    assert_eq!(paid[0].activity.activity_type, ActivityType::WeeklyGoal);

    // Side quests: an admin defines, a player starts (once), progress pays once.
    let admin = stack.token_with("boss", json!({"role": "admin"}));
    let quest = json!({"title": "Quiz whiz", "description": "Finish two quizzes", "quest_type": "quiz_complete", "difficulty": "easy", "target": 2, "reward": 40});
    let (s, _) = stack
        .call(
            "POST",
            "/v1/side-quests",
            Some("g1"),
            Some(&quest.to_string()),
        )
        .await;
    assert_eq!(s, 403);
    let created = create_quest(&stack, &admin, &quest).await;
    let (_, listed) = stack.call("GET", "/v1/side-quests", Some("g1"), None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let start = format!(
        "/v1/me/side-quests/{}/start",
        created["quest_id"].as_str().unwrap()
    );
    let (s, started) = stack.call("POST", &start, Some("g1"), None).await;
    assert_eq!((s, started["status"].as_str()), (201, Some("in_progress")));
    let (s, body) = stack.call("POST", &start, Some("g1"), None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("quest_already_started"))
    );
    assert_eq!(
        stack
            .call("POST", "/v1/me/side-quests/nope/start", Some("g1"), None)
            .await
            .0,
        404
    );
    for i in 0..3 {
        let (s, _) = award(&stack, json!({"user_id": "g1", "amount": 3, "activity_type": "quiz_complete", "idempotency_key": format!("quiz-{i}")})).await;
        assert_eq!(s, 201);
    }
    let (_, mine) = stack
        .call("GET", "/v1/me/side-quests", Some("g1"), None)
        .await;
    assert_eq!(mine["items"][0]["status"], "completed");
    assert_eq!(mine["items"][0]["progress"], 2);
    let quest_rewards = activities(&stack, "g1")
        .await
        .into_iter()
        .filter(|a| a["activity_type"].as_s().unwrap() == "side_quest")
        .count();
    assert_eq!(quest_rewards, 1);
    // This week's goals over HTTP; no week turns between making and reading.
    stack.freeze_clock().await;
    let this_week = week_start(versus::clock::utc_date(stack.now_ms()));
    tracking
        .create_weekly_goals("g1", this_week, stack.now_ms())
        .await
        .unwrap();
    let (_, goals) = stack
        .call("GET", "/v1/me/weekly-goals", Some("g1"), None)
        .await;
    assert_eq!(goals["items"].as_array().unwrap().len(), 3);
}

// F-PT-9 through F-MM-10: battle points once per battle and player.
#[tokio::test]
async fn battle_results_pay_battle_points_once() {
    let stack = Stack::start().await;
    stack.create_profile("bw", "winner").await;
    stack.create_profile("bl", "loser").await;
    let battle_id = stack.battle_between("bw", "bl").await;
    let path = format!("/v1/battles/{battle_id}/result");
    let result = json!({"outcome": "win", "winner_id": "bw"}).to_string();
    for _ in 0..3 {
        let (s, _) = stack
            .call_with_token("POST", &path, Some(&service(&stack)), Some(&result))
            .await;
        assert_eq!(s, 200);
    }
    let (_, w) = stack.call("GET", "/v1/me/points", Some("bw"), None).await;
    let (_, l) = stack.call("GET", "/v1/me/points", Some("bl"), None).await;
    assert_eq!(
        (w["total_points"].as_i64(), l["total_points"].as_i64()),
        (Some(50), Some(10))
    );
    assert_eq!(w["recent_activities"][0]["activity_type"], "battle_win");
    assert_eq!(
        l["recent_activities"][0]["activity_type"],
        "battle_participation"
    );
}

// F-PT-8: 1,000 users, order and ties, without a scan.
#[tokio::test]
async fn leaderboard_orders_and_ranks_ties() {
    let stack = Stack::start().await;
    let config = stack.config("points-api");
    let client = stack.dynamodb().await;
    let mut totals = Vec::new();
    let items: Vec<WriteRequest> = (0..1000)
        .map(|i| {
            let user = format!("lb{i:04}");
            // Every total appears twice or more: plenty of ties.
            let total = (i * 37 % 400) as i64 * 10;
            totals.push((total, format!("player_{i:04}")));
            let mut item: HashMap<String, AttributeValue> = HashMap::from([
                ("pk".into(), AttributeValue::S(format!("USER#{user}"))),
                ("sk".into(), AttributeValue::S("PROFILE".into())),
                ("user_id".into(), AttributeValue::S(user.clone())),
                (
                    "username".into(),
                    AttributeValue::S(format!("player_{i:04}")),
                ),
                (
                    "display_name".into(),
                    AttributeValue::S(format!("Player {i}")),
                ),
                ("total_points".into(), AttributeValue::N(total.to_string())),
            ]);
            item.insert(
                "leaderboard_shard".into(),
                AttributeValue::S(versus::keys::users::leaderboard_shard(
                    &user,
                    config.leaderboard_shards,
                )),
            );
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    for chunk in items.chunks(25) {
        let mut pending = chunk.to_vec();
        while !pending.is_empty() {
            let out = client
                .batch_write_item()
                .request_items(&config.tables.users, pending)
                .send()
                .await
                .unwrap();
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&config.tables.users))
                .unwrap_or_default();
        }
    }
    totals.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let (s, board) = stack
        .call("GET", "/v1/leaderboard?limit=100", Some("lb0001"), None)
        .await;
    assert_eq!(s, 200);
    let items = board["items"].as_array().unwrap();
    assert_eq!(items.len(), 100);
    for (i, e) in items.iter().enumerate() {
        assert_eq!(
            e["total_points"].as_i64().unwrap(),
            totals[i].0,
            "position {i}"
        );
        assert_eq!(
            e["username"].as_str().unwrap(),
            totals[i].1,
            "ties by username"
        );
        let expected_rank = totals.iter().position(|t| t.0 == totals[i].0).unwrap() + 1;
        assert_eq!(e["rank"].as_u64().unwrap() as usize, expected_rank);
    }
    assert_eq!(items[0]["rank"], 1);
    assert_eq!(items[1]["rank"], 1, "the top total is shared");
    assert_eq!(
        stack
            .call("GET", "/v1/leaderboard?limit=101", Some("lb0001"), None)
            .await
            .0,
        400
    );
    assert_eq!(
        stack
            .call("GET", "/v1/leaderboard?limit=0", Some("lb0001"), None)
            .await
            .0,
        400
    );
}

/// The user ids of the leaderboard's top three, as the API answers.
async fn top_three(stack: &Stack) -> Vec<String> {
    let (status, board) = stack
        .call("GET", "/v1/leaderboard?limit=3", Some("ca"), None)
        .await;
    assert_eq!(status, 200, "{board}");
    board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["user_id"].as_str().unwrap().to_string())
        .collect()
}

// F-PT-8, issue 23: the top is served from a cached copy for up to
// LeaderboardCacheSeconds (5 by default) by the stack's clock; then the next
// reader refreshes it. Readers racing on an old copy all get an answer, and
// what follows is the fresh top.
#[tokio::test]
async fn the_cached_top_is_at_most_its_age_old() {
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let config = stack.config("points-api");
    assert_eq!(config.leaderboard_cache_secs, 5, "the template's default");
    let ledger = versus::wiring::ledger(&stack.dynamodb().await, &config);
    for (user, points) in [("ca", 300), ("cb", 200), ("cc", 100)] {
        stack.create_profile(user, &format!("{user}_name")).await;
        ledger
            .add_points(
                &req(user, points, ActivityType::Comment, None),
                stack.now_ms(),
            )
            .await
            .unwrap();
    }
    assert_eq!(top_three(&stack).await, ["ca", "cb", "cc"]);
    ledger
        .add_points(
            &req("cc", 1000, ActivityType::Comment, None),
            stack.now_ms(),
        )
        .await
        .unwrap();
    stack.advance_clock(4.0).await;
    assert_eq!(
        top_three(&stack).await,
        ["ca", "cb", "cc"],
        "4 s old: cached"
    );
    stack.advance_clock(1.5).await;
    let racing = futures::future::join_all((0..20).map(|_| top_three(&stack))).await;
    assert!(racing
        .iter()
        .all(|o| o == &["cc", "ca", "cb"] || o == &["ca", "cb", "cc"]));
    assert_eq!(top_three(&stack).await, ["cc", "ca", "cb"], "refreshed");
}

// F-JOB-1, F-JOB-7, issue 23: the schedule's own run fans the date out, a
// run per shard of the day's active players on the jobs queue, which run
// in parallel; every streak is paid once, a shard run again pays nobody,
// and a shard out of range is refused.
#[tokio::test]
async fn the_scheduled_streak_bonus_fans_out_and_pays_once() {
    let stack = Stack::start().await;
    let config = stack.config("scheduled-jobs");
    let client = stack.dynamodb().await;
    let ledger = versus::wiring::ledger(&client, &config);
    let day = ms("2026-11-22T12:00:00Z");
    let users: Vec<String> = (0..30).map(|i| format!("fan{i:02}")).collect();
    for user in &users {
        stack.create_profile(user, &format!("{user}_name")).await;
        ledger
            .add_points(&req(user, 1, ActivityType::Comment, None), day)
            .await
            .unwrap();
    }
    let response = stack
        .http
        .post(format!(
            "{}/_local/schedules/StreakBonus",
            stack.running.http_url
        ))
        .json(&json!({"at": "2026-11-22T23:55:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (
            body["status"].as_str(),
            body["date"].as_str(),
            body["shards"].as_u64()
        ),
        (
            Some("fanned_out"),
            Some("2026-11-22"),
            Some(u64::from(versus::points::jobs::SHARDS))
        ),
        "{body}"
    );
    let bonuses = |user: String| {
        let stack = &stack;
        async move { streak_bonuses(stack, &user).await.len() }
    };
    common::eventually_within("every streak paid", 60, || async {
        for user in &users {
            if bonuses(user.clone()).await == 0 {
                return false;
            }
        }
        true
    })
    .await;
    let jobs = jobs_with_pages(&client, &config, 10).await;
    let date = versus::clock::utc_date(day);
    // Every shard's run is done, and together they paid each player once.
    let mut paid = 0;
    let mut busy_shard = None;
    for shard in 0..versus::points::jobs::SHARDS {
        let outcome = jobs
            .run_shard(JobName::StreakBonus, date, shard, day, &mut || false)
            .await
            .unwrap();
        let RunOutcome::Done(cp) = outcome else {
            panic!("shard {shard}: {outcome:?}")
        };
        paid += cp.effects;
        if cp.effects > 0 {
            busy_shard = Some(shard);
        }
    }
    assert_eq!(paid, users.len() as u64);
    // A shard run again from scratch (its checkpoint lost) pays nobody.
    let shard = busy_shard.unwrap();
    client
        .delete_item()
        .table_name(&config.tables.users)
        .key(
            "pk",
            AttributeValue::S(format!("JOB#streak_bonus#{date}#{shard:03}")),
        )
        .key("sk", AttributeValue::S("STATE".into()))
        .send()
        .await
        .unwrap();
    let RunOutcome::Done(cp) = jobs
        .run_shard(JobName::StreakBonus, date, shard, day, &mut || false)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((cp.effects, cp.visited > 0), (0, true), "{cp:?}");
    for user in &users {
        assert_eq!(bonuses(user.clone()).await, 1, "{user}");
    }
    assert!(jobs
        .run_shard(
            JobName::StreakBonus,
            date,
            versus::points::jobs::SHARDS,
            day,
            &mut || false
        )
        .await
        .is_err());
}

// F-PT-11, issue 23: the side quests on offer are read a page at a time
// (never the whole partition); every quest shows once across the pages, and
// a page's cursor is the caller's own.
#[tokio::test]
async fn side_quests_page_with_cursors_bound_to_the_caller() {
    let stack = Stack::start().await;
    stack.create_profile("qp", "quest_pager").await;
    stack.create_profile("qo", "quest_other").await;
    let admin = stack.token_with("boss", json!({"role": "admin"}));
    let mut created = Vec::new();
    for i in 0..5 {
        let quest = json!({"title": format!("Quest {i}"), "description": "Two quizzes", "quest_type": "quiz_complete", "difficulty": "easy", "target": 2, "reward": 10});
        let body = create_quest(&stack, &admin, &quest).await;
        created.push(body["quest_id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut path = "/v1/side-quests?limit=2".to_string();
    let mut first_cursor = None;
    for _ in 0..10 {
        let (s, page) = stack.call("GET", &path, Some("qp"), None).await;
        assert_eq!(s, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|q| q["quest_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => {
                first_cursor.get_or_insert(next.to_string());
                path = format!("/v1/side-quests?limit=2&cursor={next}");
            }
            None => break,
        }
    }
    seen.sort();
    created.sort();
    assert_eq!(seen, created, "every quest once");
    let (s, body) = stack
        .call(
            "GET",
            &format!("/v1/side-quests?limit=2&cursor={}", first_cursor.unwrap()),
            Some("qo"),
            None,
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("invalid_cursor"))
    );
    for bad in ["limit=0", "limit=101", "limit=x", "cursor=e30.AAAA"] {
        let (s, body) = stack
            .call("GET", &format!("/v1/side-quests?{bad}"), Some("qp"), None)
            .await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
}
