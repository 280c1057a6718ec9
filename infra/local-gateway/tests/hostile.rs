//! The hostile set, at every route of the template and at `$connect`
//! (F-ID-1, F-ERR-1, F-ERR-2): non-object and oversized bodies, unknown
//! fields, forged tokens, forged cursors, values DynamoDB would refuse. Each
//! answer is a clear error, never a 5xx; no forged token gets in; and the
//! three tables hold exactly what they held before.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use common::Stack;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const TWILIO_TOKEN: &str = "twilio-hostile-token";
const DLR_SECRET: &str = "dlr-hostile-secret";

/// Every item of the stack's three tables, as sorted text.
/// An attribute as text, maps in key order at every depth (their `Debug`
/// follows a `HashMap`'s order, which two reads of one item need not share).
fn canonical(value: &AttributeValue) -> String {
    match value {
        AttributeValue::M(map) => {
            let sorted: std::collections::BTreeMap<_, _> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            format!("{sorted:?}")
        }
        AttributeValue::L(list) => format!("{:?}", list.iter().map(canonical).collect::<Vec<_>>()),
        other => format!("{other:?}"),
    }
}

async fn snapshot(stack: &Stack) -> BTreeSet<String> {
    let client = stack.dynamodb().await;
    let mut all = BTreeSet::new();
    for table in ["UsersTable", "BattlesTable", "SmsTable"] {
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(format!("{}{table}", stack.prefix))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            for item in page.items() {
                let whole = AttributeValue::M(item.clone());
                all.insert(format!("{table} {}", canonical(&whole)));
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    all
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// The forged tokens: each breaks one rule of API Gateway's JWT authorizer.
fn forged_tokens(stack: &Stack) -> Vec<(&'static str, String)> {
    let now = chrono::Utc::now().timestamp();
    let good = json!({"sub": "atk", "iss": "versus-local", "aud": "versus", "exp": now + 600});
    let with = |patch: Value| {
        let mut claims = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        versus::auth::mint_dev_token(&stack.secret, &claims)
    };
    vec![
        ("no aud", with(json!({"aud": null}))),
        ("no iss", with(json!({"iss": null}))),
        ("future nbf", with(json!({"nbf": now + 86_400}))),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        (
            "wrong key",
            versus::auth::mint_dev_token("not-the-secret", &good),
        ),
        ("expired", with(json!({"exp": now - 600}))),
        ("other issuer", with(json!({"iss": "https://evil.example"}))),
        ("other audience", with(json!({"aud": "someone-else"}))),
        (
            "foreign client_id",
            with(json!({"aud": null, "client_id": "someone-else"})),
        ),
    ]
}

/// The template's HTTP routes, with `x` for every path parameter.
fn routes() -> Vec<(String, String, bool)> {
    let template = common::offline_template();
    let mut routes = vec![];
    for f in template.functions().unwrap() {
        for r in f.http_routes {
            let path = r
                .path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            routes.push((r.method, path, r.public));
        }
    }
    assert!(routes.len() >= 25, "every route: {routes:?}");
    routes
}

fn is_clear_error(body: &Value) -> bool {
    body["error"]["code"].is_string() && body["error"]["message"].is_string()
        || body["message"].is_string()
}

#[tokio::test]
async fn the_hostile_set_gets_clear_errors_and_writes_nothing() {
    let stack = Stack::start_with(&[
        ("TwilioAuthToken", TWILIO_TOKEN),
        ("DmarkDlrSecret", DLR_SECRET),
    ])
    .await;
    stack.create_profile("atk", "attacker").await;
    stack.create_profile("b2", "bystander").await;
    // Another user's real cursor: two activities, a page of one.
    let service = stack.token_with("svc", json!({"scope": "versus/service"}));
    for key in ["k1", "k2"] {
        let award = json!({"user_id": "b2", "amount": 5, "activity_type": "comment", "idempotency_key": key});
        let (status, body) = stack
            .call_with_token(
                "POST",
                "/v1/points/award",
                Some(&service),
                Some(&award.to_string()),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, page) = stack
        .call("GET", "/v1/me/points?limit=1", Some("b2"), None)
        .await;
    let foreign_cursor = page["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    // Everything a first call writes whatever its input (last seen, each
    // listing's cursor-signing key, made on first use; the leaderboard's
    // cached top, which a frozen clock keeps from aging) is written now.
    stack.freeze_clock().await;
    for path in [
        "/v1/me",
        "/v1/me/points",
        "/v1/invitations?box=incoming",
        "/v1/leaderboard",
    ] {
        assert_eq!(stack.call("GET", path, Some("atk"), None).await.0, 200);
        let path = format!(
            "{path}{}cursor=e30.AAAA",
            if path.contains('?') { '&' } else { '?' }
        );
        stack.call("GET", &path, Some("atk"), None).await;
    }
    // The one bodiless write among the routes, done once: done again, it changes nothing.
    assert_eq!(
        stack
            .call("DELETE", "/v1/me/phone", Some("atk"), None)
            .await
            .0,
        200
    );
    let before = snapshot(&stack).await;

    let two_mb = format!("{{\"username\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let bodies: Vec<(&str, String)> = vec![
        ("array", r#"["attacker2"]"#.into()),
        ("empty array", "[]".into()),
        ("string", r#""attacker2""#.into()),
        ("number", "42".into()),
        ("null", "null".into()),
        ("unknown fields", r#"{"zz_unknown_field": 1}"#.into()),
        ("2 MB", two_mb),
    ];
    let mut tried = 0;
    let mut five_xx = vec![];
    for (method, path, public) in routes() {
        for (what, body) in &bodies {
            let user = (!public).then_some("atk");
            let (status, answer) = stack.call(&method, &path, user, Some(body)).await;
            tried += 1;
            if status >= 500 {
                five_xx.push(format!("{method} {path} {what}: {status} {answer}"));
            } else if status >= 400 {
                assert!(is_clear_error(&answer), "{method} {path} {what}: {answer}");
            }
        }
    }
    // Forged cursors, a key DynamoDB refuses, empty provider references.
    let forged = |v: Value| b64(&v);
    let cursors = [
        forged(json!({"pk": ["N", "1e400"], "sk": ["S", "ACT#"]})),
        forged(json!({"pk": ["S", ""], "sk": ["S", ""]})),
        forged(json!({"pk": ["S", "USER#b2"], "sk": ["S", "ACT#zzzz"]})),
        format!(
            "{}.AAAA",
            forged(json!({"pk": ["S", "USER#atk"], "sk": ["S", "ACT#z"]}))
        ),
        "NaN".into(),
        foreign_cursor.clone(),
    ];
    for cursor in &cursors {
        for listing in ["/v1/me/points", "/v1/invitations?box=outgoing"] {
            let sep = if listing.contains('?') { '&' } else { '?' };
            let path = format!("{listing}{sep}cursor={cursor}");
            let (status, answer) = stack.call("GET", &path, Some("atk"), None).await;
            tried += 1;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (400, Some("invalid_cursor")),
                "{path}: {answer}"
            );
        }
    }
    let long_user = json!({"user_id": "u".repeat(3000), "amount": 5, "activity_type": "comment"});
    let (status, answer) = stack
        .call_with_token(
            "POST",
            "/v1/points/award",
            Some(&service),
            Some(&long_user.to_string()),
        )
        .await;
    tried += 1;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = stack
        .call(
            "GET",
            &format!("/v1/webhooks/dmark/dlr?secret={DLR_SECRET}&ref=&status=1"),
            None,
            None,
        )
        .await;
    tried += 1;
    assert_eq!(status, 400, "{answer}");
    assert!(five_xx.is_empty(), "5xx answers: {five_xx:#?}");

    // Forged tokens: at every authenticated route, and at $connect.
    let tokens = forged_tokens(&stack);
    let mut accepted = vec![];
    let mut forged_tried = 0;
    for (method, path, public) in routes().into_iter().filter(|r| !r.2) {
        assert!(!public);
        for (what, token) in &tokens {
            let (status, answer) = stack
                .call_with_token(&method, &path, Some(token), Some("{}"))
                .await;
            forged_tried += 1;
            if status != 401 || answer != json!({"message": "Unauthorized"}) {
                accepted.push(format!("{method} {path} {what}: {status} {answer}"));
            }
        }
    }
    for (what, token) in &tokens {
        forged_tried += 1;
        if stack.connect(Some(token)).await.is_ok() {
            accepted.push(format!("$connect {what}"));
        }
    }
    assert!(accepted.is_empty(), "forged tokens accepted: {accepted:#?}");

    let after = snapshot(&stack).await;
    let written: Vec<_> = after.symmetric_difference(&before).collect();
    assert!(written.is_empty(), "written by hostile calls: {written:#?}");
    // The genuine token still gets in.
    assert!(stack.connect(Some(&stack.token("atk"))).await.is_ok());
    println!(
        "hostile inputs tried: {tried}, 5xx: {}; forged tokens tried: {forged_tried}, accepted: {}",
        five_xx.len(),
        accepted.len()
    );
}

// API Gateway's WebSocket rules: a client cannot run `$disconnect` (its
// connection record stays, pushes keep reaching it), and a message over
// 128 KB closes that socket with 1009 while other users are still served.
#[tokio::test]
async fn websocket_frames_are_handled_as_api_gateway_does() {
    use common::{next_json, send};
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let stack = Stack::start().await;
    stack.create_profile("w1", "walker").await;
    stack.create_profile("w2", "watcher").await;
    let mut mine = stack.connect(Some(&stack.token("w1"))).await.unwrap();
    let mut other = stack.connect(Some(&stack.token("w2"))).await.unwrap();
    let connections = || async {
        let out = stack
            .dynamodb()
            .await
            .query()
            .table_name(format!("{}UsersTable", stack.prefix))
            .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S("USER#w1".into()),
            )
            .expression_attribute_values(
                ":conn",
                aws_sdk_dynamodb::types::AttributeValue::S("CONN#".into()),
            )
            .send()
            .await
            .unwrap();
        out.count
    };
    common::eventually("w1's connection is recorded", || async {
        connections().await == 1
    })
    .await;
    for forged in [r#"{"action":"$disconnect"}"#, r#"{"action":"$connect"}"#] {
        send(&mut mine, forged).await;
        let answer = next_json(&mut mine).await;
        assert_eq!(answer["type"], "error", "{answer}");
    }
    send(&mut mine, r#"{"action":"ping"}"#).await;
    assert_eq!(next_json(&mut mine).await["type"], "pong");
    assert_eq!(
        connections().await,
        1,
        "the connection record is still there"
    );

    let big = format!(r#"{{"action":"ping","pad":"{}"}}"#, "x".repeat(200 * 1024));
    send(&mut mine, &big).await;
    let closed = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), mine.next())
            .await
            .expect("an answer in time")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(closed.map(|f| u16::from(f.code)), Some(1009));
    common::eventually("the closed connection is forgotten", || async {
        connections().await == 0
    })
    .await;
    send(&mut other, r#"{"action":"ping"}"#).await;
    assert_eq!(next_json(&mut other).await["type"], "pong");
}

// Issue 21: the gateway's `/` (where PutEvents posts) answers every other
// method as API Gateway answers a path with no route.
#[tokio::test]
async fn the_root_answers_as_api_gateway_does() {
    let stack = Stack::start().await;
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let answer = stack
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/", stack.running.http_url),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 404, "{method}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body, json!({"message": "Not Found"}), "{method}");
    }
}
