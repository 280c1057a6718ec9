//! `scripts/bench` part four: DynamoDB requests per SMS invitation
//! (F-SMS-19, F-SMS-20), counted by a proxy in front of DynamoDB Local:
//! an invitation to a number with no account, one to a player's verified
//! number, an invite-link preview, and an accept (the battle, and the
//! match_found notices with a text to the sender).
//!
//! Usage: bench_invites [CALLS] (default 50); needs `AWS_ENDPOINT_URL_DYNAMODB`.

use aws_sdk_dynamodb::types::AttributeValue;
use local_gateway::counting_proxy::{self, Counts};
use serde_json::{json, Value};
use versus::lambda::Invoke;

/// An API Gateway HTTP API (payload 2.0) event, as API Gateway sends it
/// once its JWT authorizer has let `user` in.
fn http_event(method: &str, path: &str, query: &str, user: Option<&str>, body: Value) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "bench"},
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "timeEpoch": versus::now_ms(),
        },
        "isBase64Encoded": false,
        "body": body.to_string(),
    });
    if let Some((k, v)) = query.split_once('=') {
        event["queryStringParameters"] = json!({ k: v });
    }
    if let Some(user) = user {
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": {
            "sub": user, "iss": local_gateway::LOCAL_ISSUER, "aud": local_gateway::LOCAL_AUDIENCE, "exp": "4102444800"
        }, "scopes": null}});
    }
    event
}

async fn call(function: &Invoke, event: Value) -> Value {
    let out = function(event, ctx()).await.expect("the function answers");
    let status = out["statusCode"].as_i64().unwrap_or(0);
    let body: Value = serde_json::from_str(out["body"].as_str().unwrap_or("null")).unwrap();
    assert!((200..300).contains(&status), "{status} {body}");
    body
}

/// Runs `calls` events through `function` and prints their row.
async fn measure(what: &str, function: &Invoke, events: Vec<Value>, counts: &Counts) -> Vec<Value> {
    counts.lock().unwrap().clear();
    let mut answers = vec![];
    for event in events.iter() {
        answers.push(call(function, event.clone()).await);
    }
    let (total, by_op) = counting_proxy::per(counts, events.len());
    println!("| {what} | {} | {total:.2} | {by_op} |", events.len());
    answers
}

/// An invocation context as Lambda gives one.
fn ctx() -> versus::lambda::Context {
    versus::lambda::local_context("bench", std::time::Duration::from_secs(60))
}

#[tokio::main]
async fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50)
        .clamp(1, 99);
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("DynamoDB Local's endpoint");
    let sdk = versus::db::aws_config().await;
    let direct = versus::db::dynamodb(&sdk);
    // No WebSocket API: nobody is connected, so no push is attempted.
    let extra = [(
        "WEBSOCKET_API_ENDPOINT",
        "http://127.0.0.1:9/prod".to_string(),
    )];
    let config = local_gateway::tables::scratch_config(&direct, "benchinv", &extra)
        .await
        .expect("tables and configuration");
    // Set-up goes straight to DynamoDB Local; what is measured, through the proxy.
    let profiles = profile_api::function(&config).await.expect("profile-api");
    let users = |kind: &'static str| (0..calls).map(move |i| format!("{kind}{i:03}"));
    for user in users("sender")
        .chain(users("player"))
        .chain(users("joiner"))
    {
        let body = json!({ "username": user.clone() });
        call(
            &profiles,
            http_event("PUT", "/v1/me", "", Some(&user), body),
        )
        .await;
    }
    for (i, user) in users("sender").enumerate() {
        local_gateway::fixtures::verified_phone(
            &direct,
            &config.tables.users,
            &user,
            &format!("+2567731{i:05}"),
            None,
        )
        .await
        .unwrap();
    }
    for (i, user) in users("player").enumerate() {
        local_gateway::fixtures::verified_phone(
            &direct,
            &config.tables.users,
            &user,
            &format!("+2567732{i:05}"),
            None,
        )
        .await
        .unwrap();
    }
    let counts = counting_proxy::start(&upstream).await;
    let invitations = invitations_api::function(&config)
        .await
        .expect("invitations-api");

    println!();
    println!("| call | calls | DynamoDB requests per call | by operation (per call) |");
    println!("|---|---:|---:|---|");
    let invite = |user: String, phone: String| {
        let body = json!({"phone_number": phone, "challenge_type": "bench"});
        http_event("POST", "/v1/invitations/sms", "", Some(&user), body)
    };
    let strangers = users("sender")
        .enumerate()
        .map(|(i, u)| invite(u, format!("+2567733{i:05}")))
        .collect();
    let invited = measure(
        "invite a number with no account",
        &invitations,
        strangers,
        &counts,
    )
    .await;
    let to_players = users("sender")
        .enumerate()
        .map(|(i, u)| invite(u, format!("+2567732{i:05}")))
        .collect();
    measure(
        "invite a player's verified number",
        &invitations,
        to_players,
        &counts,
    )
    .await;

    // The tokens are only in the texts: read them from the logs, outside the count.
    let mut tokens = vec![];
    for answer in &invited {
        let id = answer["invitation_id"].as_str().unwrap();
        let logs = direct
            .scan()
            .table_name(&config.tables.sms)
            .filter_expression("related.id = :id")
            .expression_attribute_values(":id", AttributeValue::S(id.into()))
            .send()
            .await
            .unwrap();
        let body = logs.items()[0]["body"].as_s().unwrap().clone();
        let start = body.find("/invite/").unwrap() + "/invite/".len();
        tokens.push(body[start..start + 43].to_string());
    }
    counts.lock().unwrap().clear();
    // One visitor per link, each from an address of its own: previews are
    // limited per address (30 a minute), and one address previewing them
    // all would be refused after the 30th.
    let previews = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut event = http_event(
                "GET",
                "/v1/invitations/preview",
                &format!("token={t}"),
                None,
                json!(null),
            );
            event["requestContext"]["http"]["sourceIp"] =
                json!(format!("198.51.{}.{}", i / 250, i % 250 + 1));
            event
        })
        .collect();
    measure("preview an invite link", &invitations, previews, &counts).await;
    let accepts = users("joiner")
        .zip(&tokens)
        .map(|(u, t)| {
            http_event(
                "POST",
                "/v1/invitations/accept-token",
                "",
                Some(&u),
                json!({ "token": t }),
            )
        })
        .collect();
    measure("accept an invite link", &invitations, accepts, &counts).await;

    // The operator's desk (issue 24): a search reads search entries, then the
    // logs in one batch; a timeline is the log itself.
    let desk = admin_api::function(&config).await.expect("admin-api");
    let as_admin = |path: &str, param: Option<(&str, String)>| {
        let query = param
            .as_ref()
            .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B")))
            .unwrap_or_default();
        let mut event = http_event("GET", path, "", Some("bench-admin"), json!(null));
        event["rawQueryString"] = json!(query);
        if let Some((k, v)) = param {
            event["queryStringParameters"] = json!({ k: v });
        }
        event["requestContext"]["authorizer"]["jwt"]["claims"]["role"] = json!("admin");
        event
    };
    let by_number = (0..calls)
        .map(|i| as_admin("/v1/admin/sms", Some(("number", format!("+2567733{i:05}")))))
        .collect();
    let found = measure("desk: search by number", &desk, by_number, &counts).await;
    let by_user = users("player")
        .map(|u| as_admin("/v1/admin/sms", Some(("user_id", u))))
        .collect();
    measure("desk: search by user", &desk, by_user, &counts).await;
    let by_type = (0..calls)
        .map(|_| {
            as_admin(
                "/v1/admin/sms",
                Some(("message_type", "battle_invitation".into())),
            )
        })
        .collect();
    measure(
        "desk: search by type (a page of 20)",
        &desk,
        by_type,
        &counts,
    )
    .await;
    let timelines = found
        .iter()
        .filter_map(|page| page["items"][0]["id"].as_str())
        .map(|id| as_admin(&format!("/v1/admin/sms/{id}"), None))
        .collect();
    measure("desk: one text's timeline", &desk, timelines, &counts).await;
    println!();
    println!("Every authenticated call also refreshes last_seen_at (one UpdateItem, at most once a minute per user, F-PR-2). Invite, no account: the sender's profile, the number's owner (none), the opt-out list, then one transaction with the log, the invitation, the token and the limit counters (the 7-day gap, the spend and the sender's hourly count): all of it or none. Invite, a player: the player's profile too, the in-app invitation (a transaction with its check), the push's presence query, and the text's log with its limit counters in one transaction (no 7-day gap). Preview: the rate counter (a one-item transaction), the token, the invitation. Accept: the joiner's profile, the token, the invitation, one transaction (invitation, battle, both guards), then per player the push's presence query and profile read, and for the sender (verified) the match_found text: its once-marker, the opt-out list, and one transaction with the log, the marker and the limit counters. Desk: a search is one Query of the search entries (per day for a search by type) and one BatchGetItem of the logs, plus the signing key's read on the first cursor; a timeline is one GetItem. Sequential calls, one Lambda instance, against DynamoDB Local; SQS is not included.");
}
