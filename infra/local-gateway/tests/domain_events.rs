//! F-EV-1, F-SMS-13, F-SMS-25: other services publish with the real AWS SDK
//! (`PutEvents` against the local gateway, which plays the bus and its
//! rules from template.yaml); the domain-events function texts each event
//! under the full SMS policy, once.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::Timelike;
use common::texts::{logs_to, texted_player, Daytime};
use common::{eventually, Stack};
use serde_json::{json, Value};
use versus::phone::PhoneNumber;
use versus::sms::store::{SmsStore, Status};

const BUS: &str = "versus-local-domain-events";

async fn publisher(stack: &Stack) -> aws_sdk_eventbridge::Client {
    let sdk = versus::db::aws_config().await;
    aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .endpoint_url(&stack.running.http_url)
            .build(),
    )
}

fn entry(detail_type: &str, detail: Value) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(BUS)
        .source("com.example.tests")
        .detail_type(detail_type)
        .detail(detail.to_string())
        .build()
}

/// Publishes `entries`; returns the event ids given.
async fn publish(stack: &Stack, entries: Vec<PutEventsRequestEntry>) -> Vec<String> {
    let out = publisher(stack)
        .await
        .put_events()
        .set_entries(Some(entries))
        .send()
        .await
        .expect("PutEvents answers");
    assert_eq!(out.failed_entry_count, 0, "{out:?}");
    out.entries()
        .iter()
        .map(|e| e.event_id().unwrap().to_string())
        .collect()
}

/// F-PR-4: last seen long ago (creating the profile counted as being seen).
async fn offline(stack: &Stack, user: &str) {
    stack
        .dynamodb()
        .await
        .update_item()
        .table_name(stack.config("domain-events").tables.users)
        .set_key(Some(versus::keys::users::profile_key(user)))
        .update_expression("SET last_seen_at = :t")
        .expression_attribute_values(
            ":t",
            AttributeValue::N((stack.now_ms() - 3_600_000).to_string()),
        )
        .send()
        .await
        .unwrap();
}

async fn logs_of(
    stack: &Stack,
    phone: &str,
    kind: &str,
    n: usize,
) -> Vec<versus::sms::log::SmsLog> {
    eventually(&format!("{n} {kind} log(s) to {phone}"), || async {
        logs_to(stack, phone, kind).await.len() >= n
    })
    .await;
    logs_to(stack, phone, kind).await
}

// Each type reaches a verified, consenting player; a redelivered event (the
// same envelope again) and a republished payment send nothing more.
#[tokio::test]
async fn each_event_type_texts_its_message_once() {
    let stack = Stack::start().await;
    let day = Daytime::of(&stack);
    let players = [
        "ev_dm",
        "ev_ach",
        "ev_chal",
        "ev_sec",
        "ev_pay",
        "ev_payfail",
    ];
    for (i, user) in players.iter().enumerate() {
        texted_player(&stack, user, user, &day.number(i as u32), day.timezone).await;
        offline(&stack, user).await;
    }
    stack.create_profile("ev_sender", "alice_sender").await;
    let events = [
        (
            "DirectMessageCreated",
            json!({"thread_id": "th1", "sender_id": "ev_sender", "recipient_id": "ev_dm", "preview": "Rematch?"}),
            "direct_message",
        ),
        (
            "AchievementUnlocked",
            json!({"user_id": "ev_ach", "achievement_id": "first-win", "name": "First win"}),
            "achievement_unlock",
        ),
        (
            "ChallengeDeadlineApproaching",
            json!({"user_id": "ev_chal", "challenge_id": "weekly-42", "title": "Weekly duel", "hours_left": 1}),
            "challenge_reminder",
        ),
        (
            "SecurityEvent",
            json!({"user_id": "ev_sec", "kind": "new_login"}),
            "security_alert",
        ),
        (
            "PaymentSettled",
            json!({"user_id": "ev_pay", "status": "SUCCESS", "amount": 5000, "currency": "UGX", "reference": "MM-1"}),
            "payment_confirmation",
        ),
        (
            "PaymentSettled",
            json!({"user_id": "ev_payfail", "status": "FAILED", "amount": 12.5, "currency": "USD", "reference": "MM-2"}),
            "payment_failure",
        ),
    ];
    let ids = publish(
        &stack,
        events
            .iter()
            .map(|(kind, detail, _)| entry(kind, detail.clone()))
            .collect(),
    )
    .await;
    assert_eq!(ids.len(), 6);
    for (i, (_, _, message_type)) in events.iter().enumerate() {
        let phone = day.number(i as u32);
        let body = common::texts::text_to(&stack, &phone, message_type).await;
        let logs = logs_of(&stack, &phone, message_type, 1).await;
        assert_eq!(logs.len(), 1, "{message_type}");
        assert_ne!(
            logs[0].status,
            Status::Suppressed,
            "{message_type}: {:?}",
            logs[0].reason
        );
        match *message_type {
            "direct_message" => assert!(
                body.contains("alice_sender") && body.contains("Rematch?"),
                "{body}"
            ),
            "payment_confirmation" => {
                assert!(body.contains("UGX 5000") && body.contains("MM-1"), "{body}")
            }
            "payment_failure" => assert!(body.contains("USD 12.50"), "{body}"),
            _ => {}
        }
    }
    // Redelivery: the same envelope again, straight to the function.
    let redelivered = json!({
        "version": "0", "id": ids[3], "detail-type": "SecurityEvent", "source": "com.example.tests",
        "account": "000000000000", "time": "2026-11-22T18:00:00Z", "region": "us-east-1",
        "resources": [], "detail": events[3].1,
    });
    let out = stack
        .running
        .gateway
        .invoke("DomainEventsFunction", redelivered)
        .await
        .unwrap();
    assert_eq!(out["outcome"], "repeat", "{out}");
    // A payment published again (a new event id): its reference makes it the same.
    publish(&stack, vec![entry(events[4].0, events[4].1.clone())]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        logs_to(&stack, &day.number(3), "security_alert")
            .await
            .len(),
        1
    );
    assert_eq!(
        logs_to(&stack, &day.number(4), "payment_confirmation")
            .await
            .len(),
        1
    );
}

// Suppressed with the right reason: opted out (security alerts too), toggle
// off; quiet hours defer a promotion to 08:00 local and not a security alert;
// a security alert has no toggle.
#[tokio::test]
async fn the_sms_policy_applies_to_every_event() {
    let stack = Stack::start().await;
    let day = Daytime::of(&stack);
    let night = local_gateway::fixtures::zone_at_local_hour(23, stack.now_ms());
    let sms = SmsStore::new(
        stack.dynamodb().await,
        stack.config("domain-events").tables.sms,
    );
    // Opted out (STOP): no achievement notice, and no security alert either.
    texted_player(&stack, "p_stop", "p_stop", &day.number(10), day.timezone).await;
    versus::sms::optouts::opt_out(
        &sms,
        &PhoneNumber::parse(&day.number(10)).unwrap(),
        "STOP",
        stack.now_ms(),
    )
    .await
    .unwrap();
    // Achievements switched off: none; a security alert still goes.
    texted_player(&stack, "p_off", "p_off", &day.number(11), day.timezone).await;
    let (status, body) = stack
        .call(
            "PUT",
            "/v1/me/sms-preferences",
            Some("p_off"),
            Some(r#"{"toggles": {"achievements": false}}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // At night: the promotion waits for 08:00 local, the security alert does not.
    texted_player(&stack, "p_night", "p_night", &day.number(12), &night).await;
    texted_player(&stack, "p_night2", "p_night2", &day.number(13), &night).await;
    let achievement = |user: &str| {
        entry(
            "AchievementUnlocked",
            json!({"user_id": user, "achievement_id": "streak-7", "name": "Seven days"}),
        )
    };
    let security = |user: &str| {
        entry(
            "SecurityEvent",
            json!({"user_id": user, "kind": "password_changed"}),
        )
    };
    publish(
        &stack,
        vec![
            achievement("p_stop"),
            achievement("p_off"),
            achievement("p_night"),
            security("p_night2"),
        ],
    )
    .await;
    let stop = logs_of(&stack, &day.number(10), "achievement_unlock", 1).await;
    assert_eq!(
        (stop[0].status, stop[0].reason.map(versus::sms::wire_name)),
        (Status::Suppressed, Some("opted_out".into()))
    );
    let off = logs_of(&stack, &day.number(11), "achievement_unlock", 1).await;
    assert_eq!(
        off[0].reason.map(versus::sms::wire_name),
        Some("toggle_off".into())
    );
    let deferred = logs_of(&stack, &day.number(12), "achievement_unlock", 1).await;
    assert_eq!(deferred[0].status, Status::Deferred);
    let due = chrono::DateTime::from_timestamp_millis(deferred[0].due_at.unwrap())
        .unwrap()
        .with_timezone(&night.parse::<chrono_tz::Tz>().unwrap());
    assert_eq!((due.hour(), due.minute()), (8, 0));
    let alert = logs_of(&stack, &day.number(13), "security_alert", 1).await;
    assert_ne!(alert[0].status, Status::Deferred);
    // The security alerts (no toggle, but STOP blocks them).
    publish(&stack, vec![security("p_stop"), security("p_off")]).await;
    let stop = logs_of(&stack, &day.number(10), "security_alert", 1).await;
    assert_eq!(
        stop[0].reason.map(versus::sms::wire_name),
        Some("opted_out".into())
    );
    // p_off's number had a suppressed log only: the 30 s gap counts sends let through.
    let sent = logs_of(&stack, &day.number(11), "security_alert", 1).await;
    assert_ne!(sent[0].status, Status::Suppressed, "{:?}", sent[0].reason);
}

// F-SMS-13: 20 racing notices for one thread give one text; none while the
// recipient is connected; another one 5 minutes later.
#[tokio::test]
async fn direct_message_notices_are_debounced_per_thread() {
    let stack = Stack::start().await;
    let day = Daytime::of(&stack);
    texted_player(&stack, "dm_to", "dm_to", &day.number(20), day.timezone).await;
    offline(&stack, "dm_to").await;
    stack.create_profile("dm_from", "dm_from").await;
    let dm = |thread: &str| {
        entry(
            "DirectMessageCreated",
            json!({"thread_id": thread, "sender_id": "dm_from", "recipient_id": "dm_to"}),
        )
    };
    let (first, second) = futures::join!(
        publish(&stack, (0..10).map(|_| dm("race")).collect()),
        publish(&stack, (0..10).map(|_| dm("race")).collect()),
    );
    assert_eq!(first.len() + second.len(), 20);
    let logs = logs_of(&stack, &day.number(20), "direct_message", 20).await;
    let let_through: Vec<_> = logs
        .iter()
        .filter(|l| l.status != Status::Suppressed)
        .collect();
    assert_eq!(let_through.len(), 1, "{logs:?}");
    assert!(logs
        .iter()
        .filter(|l| l.status == Status::Suppressed)
        .all(
            |l| l.reason.map(versus::sms::wire_name).as_deref() == Some("direct_message_debounced")
        ));
    // Connected: no text, no log.
    let mut socket = stack.connect(Some(&stack.token("dm_to"))).await.unwrap();
    let texts = versus::wiring::event_texts(
        versus::wiring::outbox(
            &versus::db::aws_config().await,
            &stack.dynamodb().await,
            &stack.config("domain-events"),
        ),
        &stack.dynamodb().await,
        &stack.config("domain-events"),
    );
    let envelope = |id: &str, thread: &str| versus::texts::events::Envelope {
        id: id.into(),
        detail_type: "DirectMessageCreated".into(),
        source: "com.example.tests".into(),
        detail: json!({"thread_id": thread, "sender_id": "dm_from", "recipient_id": "dm_to"}),
    };
    let now = stack.now_ms();
    let out = texts
        .handle(&envelope("online-1", "other"), now)
        .await
        .unwrap();
    assert_eq!(out["outcome"], "recipient_online", "{out}");
    socket.close(None).await.unwrap();
    let presence =
        versus::wiring::presence(&stack.dynamodb().await, &stack.config("domain-events"));
    eventually("the connection gone", || async {
        presence.connections("dm_to", now).await.unwrap().is_empty()
    })
    .await;
    // Five minutes later (passed in), offline again: the thread may notify again.
    let later = now + 301_000;
    let out = texts
        .handle(&envelope("later-1", "race"), later)
        .await
        .unwrap();
    assert_eq!(out["outcome"], "pending", "{out}");
    let out = texts
        .handle(&envelope("later-2", "race"), later + 1000)
        .await
        .unwrap();
    assert_eq!(out["reason"], "direct_message_debounced", "{out}");
}

// A malformed event is rejected with a logged reason and does not come back;
// PutEvents refuses what EventBridge refuses.
#[tokio::test]
async fn malformed_events_are_rejected_once() {
    let logs = common::logs::captured();
    let stack = Stack::start().await;
    let ids = publish(
        &stack,
        vec![
            entry("PaymentSettled", json!({"user_id": "u1", "status": "PENDING", "amount": 5, "currency": "UGX", "reference": "r1"})),
            entry("SecurityEvent", json!({"user_id": 42, "kind": "new_login"})),
            entry("AchievementUnlocked", json!({"user_id": "u1"})),
        ],
    )
    .await;
    let count = |id: &str| {
        String::from_utf8_lossy(&logs.lock().unwrap())
            .lines()
            .filter(|l| l.contains(id) && l.contains("domain event rejected"))
            .count()
    };
    for id in &ids {
        eventually(&format!("the rejection of {id}"), || async {
            count(id) == 1
        })
        .await;
    }
    // Longer than Lambda's two retries here (1 s, then 2 s): still once, nothing dead-lettered.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    for id in &ids {
        assert_eq!(count(id), 1, "{id} came back");
    }
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(
        text.contains("status") && text.contains("user_id") && text.contains("missing field"),
        "reasons are logged"
    );
    let (dlq, _) = stack.running.gateway.queue("AsyncFailuresDlq").unwrap();
    let sqs = aws_sdk_sqs::Client::new(&versus::db::aws_config().await);
    let waiting = sqs
        .receive_message()
        .queue_url(dlq)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(waiting.messages().is_empty());
    // An unknown detail-type matches no rule on AWS; delivered anyway, it is rejected.
    let out = stack
        .running
        .gateway
        .invoke(
            "DomainEventsFunction",
            json!({"version": "0", "id": "x1", "detail-type": "OrderShipped", "source": "s", "detail": {}}),
        )
        .await
        .unwrap();
    assert_eq!(out["outcome"], "rejected");
    // What PutEvents itself refuses.
    let client = publisher(&stack).await;
    let out = client
        .put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name(BUS)
                .source("s")
                .detail_type("SecurityEvent")
                .detail("{not json")
                .build(),
        )
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name(BUS)
                .source("s")
                .detail_type("SecurityEvent")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count, 2);
    let codes: Vec<_> = out
        .entries()
        .iter()
        .map(|e| e.error_code().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["MalformedDetail", "InvalidArgument"]);
    let unknown_bus = client
        .put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name("no-such-bus")
                .source("s")
                .detail_type("SecurityEvent")
                .detail("{}")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(format!("{unknown_bus:?}").contains("ResourceNotFoundException"));
    let too_many = client
        .put_events()
        .set_entries(Some(
            (0..11).map(|_| entry("SecurityEvent", json!({}))).collect(),
        ))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{too_many:?}").contains("ValidationException"));
}

// A failure worth retrying (here: a profile the function cannot read) is
// retried twice, as Lambda retries an asynchronous invocation, and then its
// record lands in the on-failure destination queue.
#[tokio::test]
async fn a_failing_event_is_retried_then_parked() {
    let stack = Stack::start().await;
    let mut broken = versus::keys::users::profile_key("broken");
    broken.insert("user_id".into(), AttributeValue::S("broken".into()));
    broken.insert("username".into(), AttributeValue::N("7".into()));
    stack
        .dynamodb()
        .await
        .put_item()
        .table_name(stack.config("domain-events").tables.users)
        .set_item(Some(broken))
        .send()
        .await
        .unwrap();
    let ids = publish(
        &stack,
        vec![entry(
            "SecurityEvent",
            json!({"user_id": "broken", "kind": "new_login"}),
        )],
    )
    .await;
    let (dlq, _) = stack.running.gateway.queue("AsyncFailuresDlq").unwrap();
    let sqs = aws_sdk_sqs::Client::new(&versus::db::aws_config().await);
    let mut record = None;
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(&dlq)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = out.messages().first() {
            record = Some(serde_json::from_str::<Value>(m.body().unwrap()).unwrap());
            break;
        }
    }
    let record = record.expect("the record reaches the on-failure queue");
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(record["requestPayload"]["id"], ids[0]);
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
}

// PutEvents refuses bodies EventBridge refuses, with its error shapes.
#[tokio::test]
async fn put_events_refuses_hostile_requests() {
    let stack = Stack::start().await;
    let post = |target: &'static str, body: String| {
        stack
            .http
            .post(format!("{}/", stack.running.http_url))
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.1")
            .body(body)
            .send()
    };
    for (target, body, kind) in [
        ("AWSEvents.PutEvents", "[1,2]".to_string(), "SerializationException"),
        ("AWSEvents.PutEvents", "{".to_string(), "SerializationException"),
        ("AWSEvents.PutEvents", r#"{"Entries":[]}"#.to_string(), "ValidationException"),
        ("AWSEvents.PutEvents", r#"{"Entries":"x"}"#.to_string(), "ValidationException"),
        (
            "AWSEvents.PutEvents",
            json!({"Entries": [{"Source": "s", "DetailType": "SecurityEvent", "Detail": json!({"pad": "x".repeat(300_000)}).to_string(), "EventBusName": BUS}]}).to_string(),
            "ValidationException",
        ),
        ("AWSEvents.PutRule", "{}".to_string(), "UnknownOperationException"),
    ] {
        let response = post(target, body).await.unwrap();
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["__type"], kind, "{error}");
    }
    // An entry whose detail is not an object, and a number where a string goes.
    let response = post(
        "AWSEvents.PutEvents",
        json!({"Entries": [
            {"Source": "s", "DetailType": "SecurityEvent", "Detail": "[1]", "EventBusName": BUS},
            {"Source": 5, "DetailType": "SecurityEvent", "Detail": "{}", "EventBusName": BUS},
        ]})
        .to_string(),
    )
    .await
    .unwrap();
    let out: Value = response.json().await.unwrap();
    assert_eq!(out["FailedEntryCount"], 2, "{out}");
}
