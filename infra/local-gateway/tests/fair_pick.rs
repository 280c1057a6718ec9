//! The random opponent's pick (F-MM-1, issue 21) measured many times: found
//! behind any number of busy players, uniform over the eligible ones. Its
//! own test binary: thousands of picks load DynamoDB Local, and the timing of
//! the matchmaking tests must not depend on them.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::{set_profile, Stack};
use futures::StreamExt;
use std::collections::HashMap;

/// Players who are online (their profile entry) but busy in a battle, and
/// players who are connected but unavailable (their connection entry).
async fn ineligible_crowd(stack: &Stack, busy: usize, away: usize) {
    let presence =
        versus::wiring::presence(&stack.dynamodb().await, &stack.config("ws-matchmaking"));
    for i in 0..busy {
        let user = format!("busy{i:02}");
        stack.create_profile(&user, &format!("{user}_name")).await;
        set_profile(
            stack,
            &user,
            "SET active_battle_id = :b",
            &[(":b", AttributeValue::S(format!("battle{i}")))],
        )
        .await;
    }
    for i in 0..away {
        let user = format!("away{i:02}");
        stack.create_profile(&user, &format!("{user}_name")).await;
        let body = r#"{"is_available_for_battles":false}"#;
        let (status, _) = stack
            .call("PUT", "/v1/me/availability", Some(&user), Some(body))
            .await;
        assert_eq!(status, 200);
        presence
            .connect(&user, &format!("conn-{user}"), stack.now_ms())
            .await
            .unwrap();
    }
}

// F-MM-1 (issue 21): one shard holding 40 ineligible players (20 in a
// battle, 20 connected but unavailable) and 1 eligible one: every pick finds
// the eligible one, whatever stands ahead of it, and a find invites it.
#[tokio::test]
async fn the_one_eligible_player_behind_forty_is_always_found() {
    let stack = Stack::start_with(&[("OnlineShards", "1")]).await;
    stack.freeze_clock().await;
    ineligible_crowd(&stack, 20, 20).await;
    stack.create_profile("free", "free_name").await;
    stack.create_profile("seeker", "seeker_name").await;
    let battles = versus::wiring::battles(&stack.dynamodb().await, &stack.config("ws-matchmaking"));
    for _ in 0..30 {
        let picked = versus::battles::matchmaking::pick_opponent(
            &battles,
            "seeker",
            stack.now_ms(),
            &mut Default::default(),
        )
        .await
        .unwrap();
        assert_eq!(picked.map(|p| p.user_id).as_deref(), Some("free"));
    }
    let found = versus::battles::matchmaking::find_opponent(
        &battles,
        &versus::ids::UserId::parse("seeker").unwrap(),
        "prompt_duel",
        stack.now_ms(),
    )
    .await
    .unwrap();
    let versus::battles::matchmaking::FindOutcome::Invited(invitation) = found.outcome else {
        panic!("nobody was invited");
    };
    assert_eq!(invitation.to.map(|p| p.id).as_deref(), Some("free"));
}

// F-MM-1 (issue 21): the pick is uniform over the eligible players. 2,000
// picks over 10 eligible players spread on 4 shards (with ineligible ones
// among them): each is picked 200 ± 60 times (± 4.5 standard deviations).
#[tokio::test]
async fn two_thousand_picks_are_uniform_over_ten_players() {
    let stack = Stack::start_with(&[("OnlineShards", "4")]).await;
    stack.freeze_clock().await;
    ineligible_crowd(&stack, 5, 5).await;
    for i in 0..10 {
        stack
            .create_profile(&format!("fair{i}"), &format!("fair{i}_name"))
            .await;
    }
    stack.create_profile("seeker", "seeker_name").await;
    let battles = versus::wiring::battles(&stack.dynamodb().await, &stack.config("ws-matchmaking"));
    let now = stack.now_ms();
    let picks = futures::stream::iter(0..2000)
        .map(|_| {
            let battles = battles.clone();
            async move {
                versus::battles::matchmaking::pick_opponent(
                    &battles,
                    "seeker",
                    now,
                    &mut Default::default(),
                )
                .await
                .unwrap()
                .expect("an eligible player")
                .user_id
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<String>>()
        .await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in picks {
        *counts.entry(id).or_default() += 1;
    }
    assert_eq!(counts.len(), 10, "{counts:?}");
    for (id, count) in &counts {
        assert!(id.starts_with("fair"), "{counts:?}");
        assert!(
            (140..=260).contains(count),
            "{id}: {count} of 2000; {counts:?}"
        );
    }
}
