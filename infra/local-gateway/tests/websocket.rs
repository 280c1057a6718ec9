//! The WebSocket API through the local gateway with real clients
//! (F-ID-1, F-PR-3, F-PR-6, F-ERR-2).

mod common;

use common::{eventually, next_json, send, Stack};
use futures::StreamExt;
use serde_json::json;
use versus::presence::Presence;
use versus::realtime::{management_client, Pusher};

/// The records of `user`'s connections go, eventually (they follow a socket close).
async fn no_connections_left(stack: &Stack, presence: &Presence, user: &str, what: &str) {
    eventually(what, || async {
        presence
            .connections(user, stack.now_ms())
            .await
            .unwrap()
            .is_empty()
    })
    .await;
}

async fn open_connections(stack: &Stack, presence: &Presence, user: &str) -> Vec<String> {
    presence.connections(user, stack.now_ms()).await.unwrap()
}

async fn presence(stack: &Stack) -> Presence {
    versus::wiring::presence(&stack.dynamodb().await, &stack.config("ws-presence"))
}

#[tokio::test]
async fn connect_with_a_good_token_and_ping() {
    let stack = Stack::start().await;
    stack.create_profile("u1", "pinger").await;
    let mut socket = stack
        .connect(Some(&stack.token("u1")))
        .await
        .expect("handshake accepted");
    let presence = presence(&stack).await;
    assert_eq!(open_connections(&stack, &presence, "u1").await.len(), 1);

    send(&mut socket, r#"{"action":"ping"}"#).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
}

#[tokio::test]
async fn bad_or_missing_token_refuses_the_connection() {
    let stack = Stack::start().await;
    let expired = stack.token_with("u1", json!({"exp": 1000}));
    let foreign = versus::auth::mint_dev_token(
        "another-secret",
        &json!({"sub":"u1","iss":"versus-local","aud":"versus","exp": chrono::Utc::now().timestamp() + 600}),
    );
    for token in [
        None,
        Some("garbage"),
        Some(expired.as_str()),
        Some(foreign.as_str()),
    ] {
        let result = stack.connect(token).await;
        match result {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 403, "token {token:?}")
            }
            other => panic!(
                "token {token:?}: expected a refused handshake, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    assert_eq!(stack.running.gateway.open_connections(), 0);
}

#[tokio::test]
async fn unknown_actions_and_malformed_messages_get_error_messages() {
    let stack = Stack::start().await;
    let mut socket = stack.connect(Some(&stack.token("u1"))).await.unwrap();
    send(&mut socket, r#"{"action":"teleport"}"#).await;
    let reply = next_json(&mut socket).await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "unknown_action");
    assert!(reply["message"].as_str().unwrap().contains("teleport"));

    send(&mut socket, "{not json").await;
    let reply = next_json(&mut socket).await;
    assert_eq!(
        (reply["type"].as_str(), reply["code"].as_str()),
        (Some("error"), Some("invalid_json"))
    );

    send(&mut socket, r#"{"no_action":1}"#).await;
    assert_eq!(next_json(&mut socket).await["code"], "missing_action");

    send(&mut socket, "[1,2,3]").await;
    assert_eq!(next_json(&mut socket).await["code"], "invalid_message");

    // The connection survives all of it.
    send(&mut socket, r#"{"action":"ping"}"#).await;
    assert_eq!(next_json(&mut socket).await["type"], "pong");
}

#[tokio::test]
async fn a_push_reaches_every_connection_of_the_user_and_forgets_gone_ones() {
    let stack = Stack::start().await;
    let token = stack.token("u1");
    let mut phone = stack.connect(Some(&token)).await.unwrap();
    let mut laptop = stack.connect(Some(&token)).await.unwrap();
    let mut other_user = stack.connect(Some(&stack.token("u2"))).await.unwrap();

    let presence = presence(&stack).await;
    // A record whose socket no longer exists (a $disconnect that never came).
    presence
        .connect("u1", "GoneConnXYZ12=", stack.now_ms())
        .await
        .unwrap();
    assert_eq!(open_connections(&stack, &presence, "u1").await.len(), 3);

    let sdk = versus::db::aws_config().await;
    let pusher = Pusher::new(
        management_client(&sdk, &stack.running.management_endpoint),
        presence.clone(),
    );
    let message = json!({"type": "invitation_received", "invitation_id": "inv-1"});
    let report = pusher.push("u1", &message, stack.now_ms()).await.unwrap();
    assert_eq!(
        (report.delivered, report.gone_removed, report.failed),
        (2, 1, 0)
    );

    assert_eq!(next_json(&mut phone).await, message);
    assert_eq!(next_json(&mut laptop).await, message);
    let left = open_connections(&stack, &presence, "u1").await;
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&"GoneConnXYZ12=".to_string()));

    // The other user got nothing: its next message is the answer to its own ping.
    send(&mut other_user, r#"{"action":"ping"}"#).await;
    assert_eq!(next_json(&mut other_user).await["type"], "pong");
}

#[tokio::test]
async fn disconnect_removes_the_connection_records() {
    let stack = Stack::start().await;
    let mut socket = stack.connect(Some(&stack.token("u1"))).await.unwrap();
    let presence = presence(&stack).await;
    assert_eq!(open_connections(&stack, &presence, "u1").await.len(), 1);
    socket.close(None).await.unwrap();
    while socket.next().await.is_some() {}
    no_connections_left(&stack, &presence, "u1", "the $disconnect cleanup").await;
}

#[tokio::test]
async fn the_management_api_can_close_a_connection() {
    let stack = Stack::start().await;
    let mut socket = stack.connect(Some(&stack.token("u1"))).await.unwrap();
    let presence = presence(&stack).await;
    let id = open_connections(&stack, &presence, "u1")
        .await
        .pop()
        .unwrap();
    let sdk = versus::db::aws_config().await;
    let client = management_client(&sdk, &stack.running.management_endpoint);
    let info = client
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    assert!(info.connected_at().is_some());
    client
        .delete_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    while socket.next().await.is_some() {}
    no_connections_left(
        &stack,
        &presence,
        "u1",
        "the records of a closed connection go",
    )
    .await;
    let gone = client
        .post_to_connection()
        .connection_id(&id)
        .data(b"x".to_vec().into())
        .send()
        .await;
    assert!(gone.unwrap_err().into_service_error().is_gone_exception());
}
