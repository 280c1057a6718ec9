//! invitations-api through the local gateway: direct invitations, private
//! codes, battles and results (F-MM-3, F-MM-6 … F-MM-10, F-ERR-1).

mod common;

use common::{next_json, Stack};
use serde_json::{json, Value};

async fn invite(stack: &Stack, from: &str, to_username: &str) -> (u16, Value) {
    stack
        .call(
            "POST",
            "/v1/invitations",
            Some(from),
            Some(&json!({"username": to_username, "challenge_type": "prompt_duel"}).to_string()),
        )
        .await
}

async fn players(stack: &Stack, users: &[&str]) {
    for u in users {
        stack.create_profile(u, &format!("{u}_name")).await;
    }
}

fn service_token(stack: &Stack) -> String {
    stack.token_with("judge", json!({"scope": "versus/service"}))
}

// F-MM-3, F-MM-8: 20 concurrent accepts of one invitation create exactly one battle.
#[tokio::test]
async fn concurrent_accepts_create_one_battle() {
    let stack = Stack::start().await;
    players(&stack, &["ia", "ib", "ic"]).await;
    let (status, invitation) = invite(&stack, "ia", "IB_NAME").await;
    assert_eq!(status, 201, "{invitation}");
    assert_eq!(invitation["status"], "pending");
    assert_eq!(invitation["to"]["id"], "ib");
    let path = format!(
        "/v1/invitations/{}/accept",
        invitation["invitation_id"].as_str().unwrap()
    );
    // Someone else's invitation, or one's own: refused.
    assert_eq!(stack.call("POST", &path, Some("ic"), None).await.0, 403);
    assert_eq!(stack.call("POST", &path, Some("ia"), None).await.0, 403);

    let calls = (0..20).map(|_| stack.call("POST", &path, Some("ib"), None));
    let results = futures::future::join_all(calls).await;
    let ok: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 409, "{body}");
        assert!(
            ["invitation_already_accepted", "concurrent_update"]
                .contains(&body["error"]["code"].as_str().unwrap()),
            "{body}"
        );
    }
    let battle_id = ok[0]["battle"]["battle_id"].as_str().unwrap();
    let (status, battle) = stack
        .call("GET", &format!("/v1/battles/{battle_id}"), Some("ia"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(battle["source"], "direct");
    let scan = stack
        .dynamodb()
        .await
        .scan()
        .table_name(&stack.config("invitations-api").tables.battles)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S("BATTLE#".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count, 1);
}

// F-MM-7: invite by username, list both boxes with pagination, decline, cancel.
#[tokio::test]
async fn direct_invitations_listed_answered_and_cancelled() {
    let stack = Stack::start().await;
    players(&stack, &["da", "db", "dc", "dd"]).await;
    let mut socket_c = stack.connect(Some(&stack.token("dc"))).await.unwrap();
    let mut socket_a = stack.connect(Some(&stack.token("da"))).await.unwrap();
    let mut ids = Vec::new();
    for to in ["db_name", "dc_name", "dd_name"] {
        let (status, inv) = invite(&stack, "da", to).await;
        assert_eq!(status, 201);
        ids.push(inv["invitation_id"].as_str().unwrap().to_string());
    }
    let received = next_json(&mut socket_c).await;
    assert_eq!(received["type"], "invitation_received");
    assert_eq!(received["source"], "direct");

    let (status, page1) = stack
        .call(
            "GET",
            "/v1/invitations?box=outgoing&limit=2",
            Some("da"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    // Newest first.
    assert_eq!(page1["items"][0]["invitation_id"], ids[2].as_str());
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = stack
        .call(
            "GET",
            &format!("/v1/invitations?box=outgoing&limit=2&cursor={cursor}"),
            Some("da"),
            None,
        )
        .await;
    let items = page2["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["invitation_id"], ids[0].as_str());
    assert!(page2["next_cursor"].is_null());
    let (_, incoming) = stack
        .call("GET", "/v1/invitations?box=incoming", Some("db"), None)
        .await;
    assert_eq!(incoming["items"].as_array().unwrap().len(), 1);
    // A cursor from someone else's listing, a forged one, a bad box, a bad limit.
    for (path, code) in [
        (
            format!("/v1/invitations?box=incoming&cursor={cursor}"),
            "invalid_cursor",
        ),
        ("/v1/invitations?cursor=AAAA".to_string(), "invalid_cursor"),
        (
            "/v1/invitations?box=sideways".to_string(),
            "validation_error",
        ),
        ("/v1/invitations?limit=500".to_string(), "validation_error"),
    ] {
        let (status, body) = stack.call("GET", &path, Some("db"), None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{path}"
        );
    }

    let (status, declined) = stack
        .call(
            "POST",
            &format!("/v1/invitations/{}/decline", ids[0]),
            Some("db"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(declined["invitation"]["status"], "declined");
    let note = next_json(&mut socket_a).await;
    assert_eq!(note["type"], "invitation_declined");

    // Only the sender cancels; the invitee is told; accepting afterwards fails clearly.
    let cancel = format!("/v1/invitations/{}/cancel", ids[1]);
    assert_eq!(stack.call("POST", &cancel, Some("dc"), None).await.0, 403);
    let (status, cancelled) = stack.call("POST", &cancel, Some("da"), None).await;
    assert_eq!(
        (status, cancelled["invitation"]["status"].as_str()),
        (200, Some("cancelled"))
    );
    let (note, _) = common::until_type(&mut socket_c, "invitation_cancelled").await;
    assert_eq!(note["invitation_id"], ids[1].as_str());
    let (status, body) = stack
        .call(
            "POST",
            &format!("/v1/invitations/{}/accept", ids[1]),
            Some("dc"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invitation_cancelled"))
    );
    let (status, body) = stack
        .call(
            "GET",
            &format!("/v1/invitations/{}", ids[1]),
            Some("dc"),
            None,
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(
        stack
            .call(
                "GET",
                &format!("/v1/invitations/{}", ids[1]),
                Some("db"),
                None
            )
            .await
            .0,
        404
    );

    // Bad input: unknown user, oneself, unknown field, missing challenge type.
    assert_eq!(invite(&stack, "da", "nobody_here").await.0, 404);
    assert_eq!(invite(&stack, "da", "da_name").await.0, 400);
    let (status, body) = stack
        .call(
            "POST",
            "/v1/invitations",
            Some("da"),
            Some(r#"{"username":"db_name","challenge_type":"x","note":1}"#),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("validation_error"))
    );
    let (status, _) = stack
        .call(
            "POST",
            "/v1/invitations",
            Some("da"),
            Some(r#"{"username":"db_name"}"#),
        )
        .await;
    assert_eq!(status, 400);
}

// F-MM-6: create, join, join again, wrong code, bad code, expiry, own code.
#[tokio::test]
async fn private_codes() {
    let stack = Stack::start_with(&[("PrivateCodeTtlSeconds", "1")]).await;
    players(&stack, &["pa", "pb", "pc"]).await;
    let create = |user: &'static str, body: &'static str| {
        stack.call("POST", "/v1/matches/private", Some(user), Some(body))
    };

    let (status, short_lived) = create("pa", r#"{"challenge_type":"prompt_duel"}"#).await;
    assert_eq!(status, 201, "{short_lived}");
    stack.advance_clock(1.1).await;
    let join = |code: &str| format!("/v1/matches/private/{code}/join");
    let (status, body) = stack
        .call(
            "POST",
            &join(short_lived["code"].as_str().unwrap()),
            Some("pb"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("code_expired"))
    );

    let stack = Stack::start().await;
    players(&stack, &["pa", "pb", "pc"]).await;
    let mut socket_a = stack.connect(Some(&stack.token("pa"))).await.unwrap();
    let (status, created) = stack
        .call(
            "POST",
            "/v1/matches/private",
            Some("pa"),
            Some(r#"{"challenge_type":"prompt_duel","stake":500}"#),
        )
        .await;
    assert_eq!(status, 201);
    let code = created["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(
        code.chars()
            .all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c)),
        "{code}"
    );
    assert_eq!(created["stake"], 500);
    assert_eq!(created["status"], "open");

    let (status, body) = stack.call("POST", &join(code), Some("pa"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("own_code"))
    );
    // Typed in lower case by a person: still the code.
    let (status, joined) = stack
        .call("POST", &join(&code.to_lowercase()), Some("pb"), None)
        .await;
    assert_eq!(status, 201, "{joined}");
    assert_eq!(joined["battle"]["source"], "private_code");
    assert_eq!(joined["battle"]["stake"], 500);
    let found = next_json(&mut socket_a).await;
    assert_eq!(found["type"], "match_found");
    assert_eq!(found["battle_id"], joined["battle"]["battle_id"]);
    let (status, body) = stack.call("POST", &join(code), Some("pc"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("code_already_used"))
    );
    let (status, body) = stack.call("POST", &join("ZZZZZZ"), Some("pc"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("code_not_found"))
    );
    let (status, body) = stack.call("POST", &join("AB0OI1"), Some("pc"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_code"))
    );
    // In a battle: no new code.
    let (status, body) = stack
        .call(
            "POST",
            "/v1/matches/private",
            Some("pa"),
            Some(r#"{"challenge_type":"prompt_duel"}"#),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_in_battle"))
    );
    // Bad stake, bad phone (invite_phone by text: sms_invites.rs).
    for (body, status) in [
        (r#"{"challenge_type":"x","stake":0}"#, 400),
        (r#"{"challenge_type":"x","invite_phone":"12"}"#, 400),
    ] {
        assert_eq!(
            stack
                .call("POST", "/v1/matches/private", Some("pc"), Some(body))
                .await
                .0,
            status,
            "{body}"
        );
    }
}

// F-MM-10, F-ID-3: results are for the service only, idempotent, and free the players.
#[tokio::test]
async fn battle_results() {
    let stack = Stack::start().await;
    players(&stack, &["ra", "rb"]).await;
    let mut socket_b = stack.connect(Some(&stack.token("rb"))).await.unwrap();
    let id = stack.battle_between("ra", "rb").await;
    next_json(&mut socket_b).await; // match_found
    let path = format!("/v1/battles/{id}/result");
    let win = json!({"outcome": "win", "winner_id": "ra"}).to_string();

    let (status, body) = stack.call("POST", &path, Some("ra"), Some(&win)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let service = service_token(&stack);
    for (bad, code) in [
        (json!({"outcome": "win"}), "validation_error"),
        (
            json!({"outcome": "win", "winner_id": "stranger"}),
            "validation_error",
        ),
        (
            json!({"outcome": "tie", "winner_id": "ra"}),
            "validation_error",
        ),
        (json!({"outcome": "draw"}), "validation_error"),
    ] {
        let (status, body) = stack
            .call_with_token("POST", &path, Some(&service), Some(&bad.to_string()))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{bad}"
        );
    }
    let (status, body) = stack
        .call_with_token("POST", &path, Some(&service), Some(&win))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["battle"]["status"], "completed");
    assert_eq!(body["battle"]["winner_id"], "ra");
    assert_eq!(body["already_recorded"], false);
    let pushed = next_json(&mut socket_b).await;
    assert_eq!(pushed["type"], "battle_result");
    assert_eq!(pushed["winner_id"], "ra");
    // The same result again: success, nothing changes; a different one: conflict.
    let (status, body) = stack
        .call_with_token("POST", &path, Some(&service), Some(&win))
        .await;
    assert_eq!(
        (status, body["already_recorded"].as_bool()),
        (200, Some(true))
    );
    let tie = json!({"outcome": "tie"}).to_string();
    let (status, body) = stack
        .call_with_token("POST", &path, Some(&service), Some(&tie))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("result_already_recorded"))
    );
    let (status, _) = stack
        .call_with_token(
            "POST",
            "/v1/battles/01jz0000000000000000000000/result",
            Some(&service),
            Some(&tie),
        )
        .await;
    assert_eq!(status, 404);
    // Both players are free again.
    let (status, _) = stack
        .call(
            "POST",
            "/v1/matches/private",
            Some("ra"),
            Some(r#"{"challenge_type":"prompt_duel"}"#),
        )
        .await;
    assert_eq!(status, 201);
    let (status, battle) = stack
        .call("GET", &format!("/v1/battles/{id}"), Some("rb"), None)
        .await;
    assert_eq!(
        (status, battle["status"].as_str()),
        (200, Some("completed"))
    );
}
