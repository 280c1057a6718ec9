//! profile-api through the local gateway with a real HTTP client (F-PR-1, F-PR-2, F-PR-5, F-ERR-1).

mod common;

use common::Stack;
use serde_json::json;

#[tokio::test]
async fn health_is_public() {
    let stack = Stack::start().await;
    let (status, body) = stack.call("GET", "/v1/health", None, None).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn profile_create_read_update() {
    let stack = Stack::start().await;
    // F-PR-1: nothing before the first PUT.
    let (status, body) = stack.call("GET", "/v1/me", Some("u1"), None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "profile_not_found");

    let put = json!({"username": "Ada_L", "display_name": "Ada", "role": "expert", "timezone": "Africa/Kampala"});
    let (status, created) = stack
        .call("PUT", "/v1/me", Some("u1"), Some(&put.to_string()))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["username"], "Ada_L");
    assert_eq!(created["role"], "expert");
    assert_eq!(created["is_available_for_battles"], true);
    assert_eq!(created["points"]["tier"], "ember");

    let (status, read) = stack.call("GET", "/v1/me", Some("u1"), None).await;
    assert_eq!(status, 200);
    assert_eq!(read["display_name"], "Ada");
    assert_eq!(read["timezone"], "Africa/Kampala");
    assert_eq!(read["online"], true);

    // A partial update keeps what it does not name.
    let (status, updated) = stack
        .call(
            "PUT",
            "/v1/me",
            Some("u1"),
            Some(r#"{"display_name":"Ada L."}"#),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["display_name"], "Ada L.");
    assert_eq!(updated["username"], "Ada_L");
    assert_eq!(updated["role"], "expert");

    // Another user never sees it as theirs.
    let (status, _) = stack.call("GET", "/v1/me", Some("u2"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn availability_toggles_and_leaves_the_online_index() {
    let stack = Stack::start().await;
    stack.create_profile("u1", "avail_user").await;
    let (status, body) = stack
        .call(
            "PUT",
            "/v1/me/availability",
            Some("u1"),
            Some(r#"{"is_available_for_battles":false}"#),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["is_available_for_battles"], false);
    let config = stack.config("profile-api");
    let profiles = versus::wiring::profiles(&stack.dynamodb().await, &config);
    let stored = profiles.get("u1").await.unwrap().unwrap();
    assert!(!stored.availability.is_available_for_battles);
    assert_eq!(
        stored.availability.online_shard, None,
        "unavailable players are not in the online index"
    );

    let (_, body) = stack
        .call(
            "PUT",
            "/v1/me/availability",
            Some("u1"),
            Some(r#"{"is_available_for_battles":true}"#),
        )
        .await;
    assert_eq!(body["is_available_for_battles"], true);
    assert!(profiles
        .get("u1")
        .await
        .unwrap()
        .unwrap()
        .availability
        .online_shard
        .is_some());

    // F-PR-5 before a profile exists: 404, not a half-made profile.
    let (status, body) = stack
        .call(
            "PUT",
            "/v1/me/availability",
            Some("nobody"),
            Some(r#"{"is_available_for_battles":true}"#),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "profile_not_found");
    assert!(profiles.get("nobody").await.unwrap().is_none());
}

#[tokio::test]
async fn bad_input_gets_f_err_1_errors_and_writes_nothing() {
    let stack = Stack::start().await;
    let cases = [
        ("{\"username\": ", 400, "invalid_json"),
        ("[1,2]", 400, "validation_error"),
        (
            r#"{"username":"ok_name","is_admin":true}"#,
            400,
            "validation_error",
        ),
        (r#"{"username":"x"}"#, 400, "validation_error"),
        (
            r#"{"username":"ok_name","role":"admin"}"#,
            400,
            "validation_error",
        ),
        (
            r#"{"username":"ok_name","role":"service"}"#,
            400,
            "validation_error",
        ),
        (
            r#"{"username":"ok_name","timezone":"Mars/Base"}"#,
            400,
            "validation_error",
        ),
        (
            r#"{"display_name":"no username yet"}"#,
            400,
            "validation_error",
        ),
        ("", 400, "invalid_json"),
    ];
    for (body, status, code) in cases {
        let (got, err) = stack.call("PUT", "/v1/me", Some("u1"), Some(body)).await;
        assert_eq!(got, status, "{body}: {err}");
        assert_eq!(err["error"]["code"], code, "{body}");
        assert!(err["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let huge = format!(
        r#"{{"username":"ok_name","display_name":"{}"}}"#,
        "a".repeat(20_000)
    );
    let (status, err) = stack.call("PUT", "/v1/me", Some("u1"), Some(&huge)).await;
    assert_eq!(status, 413);
    assert_eq!(err["error"]["code"], "payload_too_large");
    let (status, _) = stack.call("GET", "/v1/me", Some("u1"), None).await;
    assert_eq!(status, 404, "no failed call left a profile behind");

    // No or bad token: API Gateway's 401.
    let (status, _) = stack.call("GET", "/v1/me", None, None).await;
    assert_eq!(status, 401);
    let resp = stack
        .http
        .get(format!("{}/v1/me", stack.running.http_url))
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Unknown route: API Gateway's 404.
    let (status, _) = stack
        .call("GET", "/v1/nothing-here", Some("u1"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn username_is_unique_under_concurrent_claims() {
    let stack = Stack::start().await;
    let claims = (0..20).map(|i| {
        let stack = &stack;
        async move {
            let user = format!("racer{i}");
            // Mixed case on purpose: uniqueness ignores case.
            let name = if i % 2 == 0 { "Champion" } else { "champion" };
            stack
                .call(
                    "PUT",
                    "/v1/me",
                    Some(&user),
                    Some(&json!({"username": name}).to_string()),
                )
                .await
        }
    });
    let results = futures::future::join_all(claims).await;
    let winners: Vec<_> = results.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one claim wins: {results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409);
        assert_eq!(body["error"]["code"], "username_taken");
    }
    // The winner renames; the old name is free again, atomically.
    let winner = winners[0].1["user_id"].as_str().unwrap().to_string();
    let (status, _) = stack
        .call(
            "PUT",
            "/v1/me",
            Some(&winner),
            Some(r#"{"username":"new_name"}"#),
        )
        .await;
    assert_eq!(status, 200);
    let loser = if winner == "racer0" {
        "racer1"
    } else {
        "racer0"
    };
    let bystander = ["racer2", "racer3"]
        .into_iter()
        .find(|r| *r != winner)
        .unwrap();
    let (status, body) = stack
        .call(
            "PUT",
            "/v1/me",
            Some(loser),
            Some(r#"{"username":"CHAMPION"}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = stack
        .call(
            "PUT",
            "/v1/me",
            Some(bystander),
            Some(r#"{"username":"New_Name"}"#),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("username_taken"))
    );
}

#[tokio::test]
async fn last_seen_is_written_at_most_once_a_minute() {
    let stack = Stack::start().await;
    stack.create_profile("u1", "seen_user").await;
    let config = stack.config("profile-api");
    let profiles = versus::wiring::profiles(&stack.dynamodb().await, &config);
    let first = profiles
        .get("u1")
        .await
        .unwrap()
        .unwrap()
        .availability
        .last_seen_at
        .unwrap();

    // F-PR-2 through HTTP: calls right after the first write nothing.
    for _ in 0..3 {
        let (status, _) = stack.call("GET", "/v1/me", Some("u1"), None).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        profiles
            .get("u1")
            .await
            .unwrap()
            .unwrap()
            .availability
            .last_seen_at,
        Some(first)
    );

    // And with the clock in our hands: within 60 s no write, after it one.
    assert!(!profiles
        .touch_last_seen("u1", first + 59_000, 60)
        .await
        .unwrap());
    assert_eq!(
        profiles
            .get("u1")
            .await
            .unwrap()
            .unwrap()
            .availability
            .last_seen_at,
        Some(first)
    );
    assert!(profiles
        .touch_last_seen("u1", first + 60_000, 60)
        .await
        .unwrap());
    assert_eq!(
        profiles
            .get("u1")
            .await
            .unwrap()
            .unwrap()
            .availability
            .last_seen_at,
        Some(first + 60_000)
    );
    // A user without a profile gets no stray item.
    assert!(!profiles.touch_last_seen("ghost", first, 60).await.unwrap());
    assert!(profiles.get("ghost").await.unwrap().is_none());
}

// F-PR-2 (issue 21): every kind of activity refreshes last_seen_at, at the
// stack's clock: an HTTP call, a WebSocket connection, a message to
// ws-presence (ping) and one to ws-matchmaking (leave_queue), each more
// than the throttle's minute after the one before.
#[tokio::test]
async fn http_calls_and_websocket_messages_refresh_last_seen() {
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    stack.create_profile("active", "active_user").await;
    let profiles = versus::wiring::profiles(&stack.dynamodb().await, &stack.config("profile-api"));
    let seen = || async {
        profiles
            .get("active")
            .await
            .unwrap()
            .unwrap()
            .availability
            .last_seen_at
    };
    assert_eq!(seen().await, Some(stack.now_ms()));

    stack.advance_clock(61.0).await;
    assert_eq!(
        stack.call("GET", "/v1/me", Some("active"), None).await.0,
        200
    );
    assert_eq!(seen().await, Some(stack.now_ms()), "an HTTP call");

    stack.advance_clock(61.0).await;
    let mut socket = stack.connect(Some(&stack.token("active"))).await.unwrap();
    common::eventually("the connection refreshes it", || async {
        seen().await == Some(stack.now_ms())
    })
    .await;

    stack.advance_clock(61.0).await;
    common::send(&mut socket, r#"{"action":"ping"}"#).await;
    assert_eq!(common::next_json(&mut socket).await["type"], "pong");
    assert_eq!(seen().await, Some(stack.now_ms()), "a ws-presence message");

    stack.advance_clock(61.0).await;
    common::send(&mut socket, r#"{"action":"leave_queue"}"#).await;
    common::next_json(&mut socket).await;
    assert_eq!(
        seen().await,
        Some(stack.now_ms()),
        "a ws-matchmaking message"
    );
}
