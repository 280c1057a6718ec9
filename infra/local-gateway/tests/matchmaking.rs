//! Matchmaking end to end through the local gateway, with real WebSocket
//! clients, DynamoDB Local and moto (F-MM-1 … F-MM-5, F-MM-8, F-PR-4).

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::{next_json, send, set_profile, silent_for, until_type, Socket, Stack};
use serde_json::json;
use std::collections::{HashMap, HashSet};

async fn player(stack: &Stack, user: &str) -> Socket {
    stack.create_profile(user, &format!("{user}_name")).await;
    stack.connect(Some(&stack.token(user))).await.unwrap()
}

fn find(challenge: &str) -> String {
    json!({"action": "find_opponent", "match_type": "active_user", "challenge_type": challenge})
        .to_string()
}

async fn profile(stack: &Stack, user: &str) -> versus::profile::Profile {
    versus::wiring::profiles(&stack.dynamodb().await, &stack.config("ws-matchmaking"))
        .get(user)
        .await
        .unwrap()
        .unwrap()
}

/// Every item of the battles table with this key prefix (tests may scan: tiny tables).
async fn battles_items(stack: &Stack, pk_prefix: &str) -> Vec<HashMap<String, AttributeValue>> {
    let out = stack
        .dynamodb()
        .await
        .scan()
        .table_name(&stack.config("ws-matchmaking").tables.battles)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(":p", AttributeValue::S(pk_prefix.into()))
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default()
}

// F-MM-1, F-MM-2, F-MM-3, F-MM-9: A finds B, B accepts, both get the same battle.
#[tokio::test]
async fn two_online_players_find_each_other() {
    let stack = Stack::start().await;
    let mut a = player(&stack, "ua").await;
    let mut b = player(&stack, "ub").await;
    send(&mut a, &find("prompt_duel")).await;
    let sent = next_json(&mut a).await;
    assert_eq!(sent["type"], "invitation_sent", "{sent}");
    assert_eq!(sent["opponent"], json!({"id": "ub", "username": "ub_name"}));
    assert!(sent["expires_at"].is_string());
    let received = next_json(&mut b).await;
    assert_eq!(received["type"], "invitation_received");
    assert_eq!(received["from"]["username"], "ua_name");
    assert_eq!(received["challenge_type"], "prompt_duel");
    assert_eq!(received["invitation_id"], sent["invitation_id"]);

    let answer = json!({"action": "respond_invitation", "invitation_id": received["invitation_id"], "accept": true});
    send(&mut b, &answer.to_string()).await;
    let found_b = next_json(&mut b).await;
    let found_a = next_json(&mut a).await;
    assert_eq!(found_a["type"], "match_found", "{found_a}");
    assert_eq!(found_b["type"], "match_found", "{found_b}");
    assert_eq!(found_a["battle_id"], found_b["battle_id"]);
    assert_eq!(found_a["opponent"]["id"], "ub");
    assert_eq!(found_b["opponent"]["id"], "ua");

    let id = found_a["battle_id"].as_str().unwrap();
    for user in ["ua", "ub"] {
        let (status, battle) = stack
            .call("GET", &format!("/v1/battles/{id}"), Some(user), None)
            .await;
        assert_eq!(status, 200, "{battle}");
        assert_eq!(battle["status"], "active");
        assert_eq!(battle["source"], "active_user");
        assert_eq!(battle["challenge_type"], "prompt_duel");
    }
    stack.create_profile("uc", "uc_name").await;
    let (status, body) = stack
        .call("GET", &format!("/v1/battles/{id}"), Some("uc"), None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "forbidden");
    // Accepting twice: a clear error, no second battle (F-MM-3).
    send(&mut b, &answer.to_string()).await;
    let again = next_json(&mut b).await;
    assert_eq!(again["type"], "error");
    assert_eq!(again["code"], "invitation_already_accepted");
    assert_eq!(battles_items(&stack, "BATTLE#").await.len(), 1);
    // In a battle now: neither may look for another one (F-MM-8).
    send(&mut a, &find("prompt_duel")).await;
    assert_eq!(next_json(&mut a).await["code"], "already_in_battle");
}

// F-MM-1: offline, unavailable, non-player, self, in a battle, already invited: never picked.
#[tokio::test]
async fn the_candidate_filter_holds() {
    let stack = Stack::start().await;
    let now = stack.now_ms();
    let mut caller = player(&stack, "caller").await;

    // Offline: last seen 6 minutes ago and no connection.
    stack.create_profile("offline", "offline_name").await;
    let old = now - 6 * 60_000;
    set_profile(
        &stack,
        "offline",
        "SET last_seen_at = :seen, online_until = :until",
        &[
            (":seen", AttributeValue::N(old.to_string())),
            (":until", AttributeValue::N((old + 300_000).to_string())),
        ],
    )
    .await;
    // Unavailable, but connected (its connection is in the online index).
    let _away = player(&stack, "away").await;
    let (status, _) = stack
        .call(
            "PUT",
            "/v1/me/availability",
            Some("away"),
            Some(r#"{"is_available_for_battles":false}"#),
        )
        .await;
    assert_eq!(status, 200);
    // An admin account (role from the token), connected.
    let admin_token = stack.token_with("boss", json!({"role": "admin"}));
    let (status, _) = stack
        .call_with_token(
            "PUT",
            "/v1/me",
            Some(&admin_token),
            Some(r#"{"username":"boss_name"}"#),
        )
        .await;
    assert_eq!(status, 201);
    let _boss = stack.connect(Some(&admin_token)).await.unwrap();
    // Two players already in a battle (through a private code).
    let _d1 = player(&stack, "busy1").await;
    let _d2 = player(&stack, "busy2").await;
    stack.battle_between("busy1", "busy2").await;
    // Already invited: a pending random invitation for another pair.
    let _invited = player(&stack, "invited").await;
    set_profile(
        &stack,
        "invited",
        "SET pending_invitation_id = :i, pending_until = :u",
        &[
            (":i", AttributeValue::S("someoneelse".into())),
            (":u", AttributeValue::N((now + 60_000).to_string())),
        ],
    )
    .await;

    for _ in 0..10 {
        send(&mut caller, &find("prompt_duel")).await;
        let m = next_json(&mut caller).await;
        assert_eq!(m["type"], "no_active_users", "{m}");
        assert_eq!(m["options"], json!(["wait_in_queue", "play_ai"]));
    }
    // One eligible player appears: it is the one picked.
    let mut ok = player(&stack, "eligible").await;
    send(&mut caller, &find("prompt_duel")).await;
    let sent = next_json(&mut caller).await;
    assert_eq!(sent["opponent"]["id"], "eligible", "{sent}");
    assert_eq!(next_json(&mut ok).await["type"], "invitation_received");
    // The caller now waits for an answer: a second search is refused.
    send(&mut caller, &find("prompt_duel")).await;
    assert_eq!(next_json(&mut caller).await["code"], "invitation_pending");
}

// F-MM-4 and F-ERR-2 on the WebSocket.
#[tokio::test]
async fn nobody_online_and_bad_messages() {
    let stack = Stack::start().await;
    let mut alone = player(&stack, "alone").await;
    send(&mut alone, &find("prompt_duel")).await;
    let m = next_json(&mut alone).await;
    assert_eq!(m["type"], "no_active_users");
    for (message, code) in [
        (json!({"action": "find_opponent"}), "validation_error"),
        (
            json!({"action": "find_opponent", "challenge_type": "Bad Type"}),
            "validation_error",
        ),
        (
            json!({"action": "find_opponent", "challenge_type": "x", "match_type": "ai"}),
            "unsupported_match_type",
        ),
        (
            json!({"action": "find_opponent", "challenge_type": "x", "extra": 1}),
            "invalid_message",
        ),
        (
            json!({"action": "respond_invitation", "invitation_id": "nope!", "accept": true}),
            "invitation_not_found",
        ),
        (
            json!({"action": "respond_invitation", "invitation_id": "01jz0000000000000000000000"}),
            "invalid_message",
        ),
        (json!({"action": "join_queue"}), "validation_error"),
    ] {
        send(&mut alone, &message.to_string()).await;
        let m = next_json(&mut alone).await;
        assert_eq!(
            (m["type"].as_str(), m["code"].as_str()),
            (Some("error"), Some(code)),
            "{message}"
        );
        assert!(m["message"].as_str().is_some_and(|s| !s.is_empty()));
    }
    // A player without a profile cannot look for an opponent.
    let mut ghost = stack.connect(Some(&stack.token("ghost"))).await.unwrap();
    send(&mut ghost, &find("prompt_duel")).await;
    assert_eq!(next_json(&mut ghost).await["code"], "profile_not_found");
}

// F-MM-2: expiry through the SQS delay queue and invitation-timeouts.
#[tokio::test]
async fn unanswered_invitations_expire() {
    let stack = Stack::start_with(&[("InvitationTtlSeconds", "2")]).await;
    let mut a = player(&stack, "xa").await;
    let mut b = player(&stack, "xb").await;
    send(&mut a, &find("prompt_duel")).await;
    let sent = next_json(&mut a).await;
    assert_eq!(sent["type"], "invitation_sent");
    assert_eq!(next_json(&mut b).await["type"], "invitation_received");
    // Its two seconds pass on the stack's clock too (frozen or running),
    // before the delayed timeout message arrives.
    stack.advance_clock(2.0).await;
    let (expired_a, _) = until_type(&mut a, "invitation_expired").await;
    let (expired_b, _) = until_type(&mut b, "invitation_expired").await;
    assert_eq!(expired_a["invitation_id"], sent["invitation_id"]);
    assert_eq!(expired_b["invitation_id"], sent["invitation_id"]);
    let id = sent["invitation_id"].as_str().unwrap();
    // Accepting after expiry: a clear error, over both entry points.
    send(
        &mut b,
        &json!({"action": "respond_invitation", "invitation_id": id, "accept": true}).to_string(),
    )
    .await;
    assert_eq!(next_json(&mut b).await["code"], "invitation_expired");
    let (status, body) = stack
        .call(
            "POST",
            &format!("/v1/invitations/{id}/accept"),
            Some("xb"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invitation_expired"))
    );
    assert!(battles_items(&stack, "BATTLE#").await.is_empty());
    // The guards are released: the sender may try again at once.
    assert!(profile(&stack, "xa")
        .await
        .guards
        .pending_invitation_id
        .is_none());
    send(&mut a, &find("prompt_duel")).await;
    assert_eq!(next_json(&mut a).await["type"], "invitation_sent");
}

// F-MM-3: declining tells the sender; the guards are released.
#[tokio::test]
async fn declined_invitations_free_both_players() {
    let stack = Stack::start().await;
    let mut a = player(&stack, "da").await;
    let mut b = player(&stack, "db").await;
    send(&mut a, &find("prompt_duel")).await;
    let sent = next_json(&mut a).await;
    next_json(&mut b).await;
    let answer = json!({"action": "respond_invitation", "invitation_id": sent["invitation_id"], "accept": false});
    // The sender cannot answer its own invitation.
    send(&mut a, &answer.to_string()).await;
    assert_eq!(next_json(&mut a).await["code"], "forbidden");
    send(&mut b, &answer.to_string()).await;
    let declined = next_json(&mut a).await;
    assert_eq!(declined["type"], "invitation_declined");
    assert_eq!(declined["by"]["id"], "db");
    for user in ["da", "db"] {
        assert!(profile(&stack, user)
            .await
            .guards
            .pending_invitation_id
            .is_none());
    }
}

// F-MM-5: 50 players joining one queue at once end up in 25 battles.
#[tokio::test]
async fn fifty_concurrent_joiners_make_twenty_five_battles() {
    let stack = Stack::start().await;
    let users: Vec<String> = (0..50).map(|i| format!("q{i:02}")).collect();
    let mut sockets = Vec::new();
    for u in &users {
        sockets.push(player(&stack, u).await);
    }
    let join = json!({"action": "join_queue", "challenge_type": "speed_round"}).to_string();
    let results = futures::future::join_all(sockets.into_iter().map(|mut s| {
        let join = join.clone();
        async move {
            send(&mut s, &join).await;
            let (found, before) = common::until_type_within(&mut s, "match_found", 90).await;
            assert!(before.iter().all(|m| m["type"] == "queued"), "{before:?}");
            (found, s)
        }
    }))
    .await;
    let mut by_battle: HashMap<String, Vec<String>> = HashMap::new();
    for (found, _) in &results {
        by_battle
            .entry(found["battle_id"].as_str().unwrap().to_string())
            .or_default()
            .push(found["opponent"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(by_battle.len(), 25);
    assert!(by_battle.values().all(|players| players.len() == 2));
    let battles = battles_items(&stack, "BATTLE#").await;
    assert_eq!(battles.len(), 25);
    let mut seen = HashSet::new();
    for b in &battles {
        let battle: versus::battles::Battle = serde_dynamo::from_item(b.clone()).unwrap();
        assert_eq!(battle.source, versus::battles::MatchSource::Queue);
        for p in &battle.players {
            assert!(seen.insert(p.id.clone()), "{} is in two battles", p.id);
            assert_eq!(
                profile(&stack, &p.id)
                    .await
                    .guards
                    .active_battle_id
                    .as_deref(),
                Some(battle.battle_id.as_str())
            );
        }
    }
    assert_eq!(seen.len(), 50);
    assert!(
        battles_items(&stack, "QUEUE#").await.is_empty(),
        "nobody left waiting"
    );
    assert!(battles_items(&stack, "QUEUED#").await.is_empty());
}

// F-MM-5: leave_queue, and a disconnect leaves the queue too.
#[tokio::test]
async fn leaving_the_queue() {
    let stack = Stack::start().await;
    let mut a = player(&stack, "la").await;
    let join = json!({"action": "join_queue", "challenge_type": "speed_round"}).to_string();
    send(&mut a, &join).await;
    assert_eq!(next_json(&mut a).await["type"], "queued");
    // Joining the same queue again is idempotent; another queue is refused.
    send(&mut a, &join).await;
    assert_eq!(next_json(&mut a).await["type"], "queued");
    send(
        &mut a,
        &json!({"action": "join_queue", "challenge_type": "other"}).to_string(),
    )
    .await;
    assert_eq!(next_json(&mut a).await["code"], "already_queued");
    send(&mut a, r#"{"action":"leave_queue"}"#).await;
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "left_queue", "was_queued": true})
    );
    assert!(battles_items(&stack, "QUEUE#").await.is_empty());

    send(&mut a, &join).await;
    assert_eq!(next_json(&mut a).await["type"], "queued");
    a.close(None).await.unwrap();
    drop(a);
    common::eventually("the disconnect removes the queue entry", || async {
        battles_items(&stack, "QUEUE#").await.is_empty()
    })
    .await;
    let mut b = player(&stack, "lb").await;
    send(&mut b, &join).await;
    assert_eq!(next_json(&mut b).await["type"], "queued");
    silent_for(&mut b, 300).await;
}

// F-MM-5, issue 23: a player who joined before the queue had write shards
// waits in the unsharded partition; a new joiner still finds and pairs them,
// and such a player can still leave.
#[tokio::test]
async fn players_waiting_from_before_the_shards_are_still_paired() {
    type Item = HashMap<String, AttributeValue>;
    let stack = Stack::start().await;
    let client = stack.dynamodb().await;
    let table = stack.config("ws-matchmaking").tables.battles;
    let now = stack.now_ms();
    let valid_until = now + 3_600_000;
    let legacy_entry = |user: &str, connection: &str, at: i64| {
        let sk = format!("{at:013}#{user}");
        let entry = HashMap::from([
            (
                "pk".to_string(),
                AttributeValue::S("QUEUE#speed_round".into()),
            ),
            ("sk".to_string(), AttributeValue::S(sk.clone())),
            ("user_id".to_string(), AttributeValue::S(user.into())),
            (
                "username".to_string(),
                AttributeValue::S(format!("{user}_name")),
            ),
            (
                "connection_id".to_string(),
                AttributeValue::S(connection.into()),
            ),
            (
                "valid_until".to_string(),
                AttributeValue::N(valid_until.to_string()),
            ),
        ]);
        // The marker as it was written then: no entry_pk.
        let marker = HashMap::from([
            (
                "pk".to_string(),
                AttributeValue::S(format!("QUEUED#{user}")),
            ),
            ("sk".to_string(), AttributeValue::S("QUEUED".into())),
            (
                "challenge_type".to_string(),
                AttributeValue::S("speed_round".into()),
            ),
            ("entry_sk".to_string(), AttributeValue::S(sk)),
            (
                "connection_id".to_string(),
                AttributeValue::S(connection.into()),
            ),
            (
                "valid_until".to_string(),
                AttributeValue::N(valid_until.to_string()),
            ),
        ]);
        (entry, marker)
    };
    let put = |(entry, marker): (Item, Item)| {
        let (client, table) = (&client, &table);
        async move {
            for item in [entry, marker] {
                client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item))
                    .send()
                    .await
                    .unwrap();
            }
        }
    };
    let mut old = player(&stack, "old").await;
    put(legacy_entry("old", "conn-old", now - 5_000)).await;
    let mut new = player(&stack, "new").await;
    let join = json!({"action": "join_queue", "challenge_type": "speed_round"}).to_string();
    send(&mut new, &join).await;
    let (found, _) = common::until_type_within(&mut new, "match_found", 30).await;
    assert_eq!(found["opponent"]["id"], "old");
    let (pushed, _) = common::until_type_within(&mut old, "match_found", 30).await;
    assert_eq!(pushed["battle_id"], found["battle_id"]);
    assert!(battles_items(&stack, "QUEUE#").await.is_empty());
    assert!(battles_items(&stack, "QUEUED#").await.is_empty());

    // One still waiting from before leaves: entry and marker go.
    stack.create_profile("stayer", "stayer_name").await;
    put(legacy_entry("stayer", "conn-stayer", now - 1_000)).await;
    let left = versus::battles::queue::leave_queue(
        &versus::wiring::battles(&client, &stack.config("ws-matchmaking")),
        &versus::ids::UserId::parse("stayer").unwrap(),
        None,
    )
    .await
    .unwrap();
    assert!(left);
    assert!(battles_items(&stack, "QUEUE#").await.is_empty());
    assert!(battles_items(&stack, "QUEUED#").await.is_empty());
}
