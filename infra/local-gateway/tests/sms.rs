//! The SMS pipeline so far: phone verification end to end through the local
//! gateway, the console provider's outbox, the policy's refusals, the atomic
//! limits under a race, and a sender that never sends a log twice
//! (F-SMS-2 … F-SMS-6, F-SMS-11, F-SMS-12, F-SMS-17, F-SMS-18, F-SMS-27).

mod common;

use common::ctx;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use common::sms::{local_sms, outbox, raw_log, request, suppressed_reasons};
use common::Stack;
use serde_json::{json, Value};
use versus::phone::PhoneNumber;
use versus::sms::store::SmsStore;

const PHONE: &str = "+256772123456";

/// The code in the newest verification SMS to `to` (waits for the sender).
async fn code_sent_to(stack: &Stack, to: &str, already: usize) -> String {
    common::eventually(
        "the verification SMS reaches the console outbox",
        || async { local_sms(stack, to).await.len() > already },
    )
    .await;
    let messages = local_sms(stack, to).await;
    let body = messages[0]["body"].as_str().unwrap();
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code")
        .to_string()
}

async fn request_code(stack: &Stack, user: &str, phone: &str) -> (u16, Value) {
    stack
        .call(
            "POST",
            "/v1/me/phone/verification",
            Some(user),
            Some(&json!({ "phone_number": phone }).to_string()),
        )
        .await
}

async fn verify(stack: &Stack, user: &str, code: &str) -> (u16, Value) {
    stack
        .call(
            "POST",
            "/v1/me/phone/verify",
            Some(user),
            Some(&json!({ "code": code }).to_string()),
        )
        .await
}

// F-SMS-17, F-SMS-18: request, the code in the console outbox, verify.
#[tokio::test]
async fn phone_verification_end_to_end() {
    let stack = Stack::start().await;
    stack.create_profile("v1", "verifier").await;
    let (status, body) = request_code(&stack, "v1", "+256 772 123 456").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["phone_number"], "+********3456");
    let code = code_sent_to(&stack, PHONE, 0).await;
    let messages = local_sms(&stack, PHONE).await;
    assert_eq!(messages[0]["message_type"], "phone_verification");
    let (status, me) = verify(&stack, "v1", &code).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["phone"]["verified"], true);
    assert_eq!(me["phone"]["number"], PHONE);
    // Used once.
    let (status, body) = verify(&stack, "v1", &code).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("no_verification"))
    );
    // The log says sent, with segments and encoding.
    let sms_id = messages[0]["sms_id"].as_str().unwrap();
    let log = SmsStore::new(
        stack.dynamodb().await,
        &stack.config("profile-api").tables.sms,
    )
    .get_log(sms_id)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(log.status, versus::sms::store::Status::Sent);
    assert_eq!((log.segments, log.attempts), (1, 1));
    assert_eq!(log.provider.as_deref(), Some("console"));
    // Removing the number.
    let (status, me) = stack.call("DELETE", "/v1/me/phone", Some("v1"), None).await;
    assert_eq!(
        (status, me["phone"]["verified"].as_bool()),
        (200, Some(false))
    );
    // Stored: the profile shows no number, and nobody holds its claim.
    let config = stack.config("profile-api");
    let client = stack.dynamodb().await;
    let stored = versus::wiring::profiles(&client, &config)
        .require("v1")
        .await
        .unwrap();
    assert_eq!((stored.phone.number, stored.phone.verified), (None, false));
    let phone = PhoneNumber::parse(PHONE).unwrap();
    let owner = versus::sms::ownership::owner_of(&client, &config.tables.users, &phone).await;
    assert_eq!(owner.unwrap(), None, "the claim went with the number");
    // Bad input.
    for (phone, code) in [
        ("0772123456", "invalid_phone_number"),
        ("+256 12", "invalid_phone_number"),
    ] {
        let (status, body) = request_code(&stack, "v1", phone).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{phone}"
        );
    }
    let (status, body) = verify(&stack, "v1", "12ab56").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("validation_error"))
    );
}

// F-SMS-18: five wrong tries kill a code; an expired code is refused.
#[tokio::test]
async fn wrong_and_expired_codes() {
    let stack = Stack::start().await;
    stack.create_profile("w1", "wrong_tries").await;
    assert_eq!(request_code(&stack, "w1", PHONE).await.0, 202);
    let code = code_sent_to(&stack, PHONE, 0).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (1..5).rev() {
        let (status, body) = verify(&stack, "w1", wrong).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("wrong_code"))
        );
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{left} tries left")));
    }
    let (status, body) = verify(&stack, "w1", wrong).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("code_dead"))
    );
    let (status, body) = verify(&stack, "w1", &code).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("code_dead")),
        "the right code is dead too"
    );

    // Expired: the stored code's time is up.
    stack.create_profile("w2", "too_late").await;
    let other = "+256772654321";
    assert_eq!(request_code(&stack, "w2", other).await.0, 202);
    let code = code_sent_to(&stack, other, 0).await;
    stack
        .dynamodb()
        .await
        .update_item()
        .table_name(&stack.config("profile-api").tables.sms)
        .key("pk", AttributeValue::S("VERIFY#w2".into()))
        .key("sk", AttributeValue::S("CODE".into()))
        .update_expression("SET valid_until = :past")
        .expression_attribute_values(":past", AttributeValue::N((stack.now_ms() - 1).to_string()))
        .send()
        .await
        .unwrap();
    let (status, body) = verify(&stack, "w2", &code).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("code_expired"))
    );
}

// F-SMS-18: a number verified by a second user moves to it, atomically.
#[tokio::test]
async fn verifying_a_taken_number_takes_it_over() {
    let stack = Stack::start().await;
    stack.create_profile("first", "first_owner").await;
    stack.create_profile("second", "second_owner").await;
    assert_eq!(request_code(&stack, "first", PHONE).await.0, 202);
    let code = code_sent_to(&stack, PHONE, 0).await;
    assert_eq!(verify(&stack, "first", &code).await.0, 200);
    // The same number for a second user, 31 s later (the per-number cooldown).
    let client = stack.dynamodb().await;
    let verification =
        common::sms::verification(&stack, client.clone(), &versus::db::aws_config().await);
    let later = stack.now_ms() + 31_000;
    verification
        .request("second", PhoneNumber::parse(PHONE).unwrap(), later)
        .await
        .unwrap();
    let code = code_sent_to(&stack, PHONE, 1).await;
    let verified = verification.verify("second", &code, later).await.unwrap();
    assert_eq!(verified.previous_owner.as_deref(), Some("first"));
    let (_, first) = stack.call("GET", "/v1/me", Some("first"), None).await;
    let (_, second) = stack.call("GET", "/v1/me", Some("second"), None).await;
    assert_eq!(
        (
            first["phone"]["verified"].as_bool(),
            first["phone"]["number"].as_str()
        ),
        (Some(false), None)
    );
    assert_eq!(
        (
            second["phone"]["verified"].as_bool(),
            second["phone"]["number"].as_str()
        ),
        (Some(true), Some(PHONE))
    );
}

// F-SMS-11, F-SMS-27: opted-out numbers and other countries are refused, logged as suppressed.
#[tokio::test]
async fn opted_out_numbers_and_other_countries_are_refused() {
    let stack = Stack::start().await;
    stack.create_profile("o1", "opted_out").await;
    let store = SmsStore::new(
        stack.dynamodb().await,
        &stack.config("profile-api").tables.sms,
    );
    versus::sms::optouts::opt_out(
        &store,
        &PhoneNumber::parse(PHONE).unwrap(),
        "STOP",
        stack.now_ms(),
    )
    .await
    .unwrap();
    let (status, body) = request_code(&stack, "o1", PHONE).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("phone_opted_out"))
    );
    let (status, body) = request_code(&stack, "o1", "+5511912345678").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("country_not_supported"))
    );
    versus::sms::optouts::opt_in(
        &store,
        &PhoneNumber::parse(PHONE).unwrap(),
        "START",
        stack.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(request_code(&stack, "o1", PHONE).await.0, 202);
    // Nothing reached the provider for the refused ones.
    common::eventually("one SMS sent", || async {
        local_sms(&stack, PHONE).await.len() == 1
    })
    .await;
    let reasons = suppressed_reasons(&stack).await;
    assert_eq!(reasons.len(), 2);
    assert!(
        reasons.contains(&"opted_out".to_string())
            && reasons.contains(&"country_not_allowed".to_string())
    );
}

// F-SMS-12: the per-number limit holds when 20 requests race; each refusal is logged.
#[tokio::test]
async fn limits_hold_when_requests_race() {
    let stack = Stack::start().await;
    stack.create_profile("r1", "racer").await;
    let results =
        futures::future::join_all((0..20).map(|_| request_code(&stack, "r1", PHONE))).await;
    let accepted = results.iter().filter(|(s, _)| *s == 202).count();
    let limited = results.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!((accepted, limited), (1, 19), "{results:?}");
    common::eventually("one SMS sent", || async {
        local_sms(&stack, PHONE).await.len() == 1
    })
    .await;
    let reasons = suppressed_reasons(&stack).await;
    assert_eq!(reasons.len(), 19);
    assert!(reasons.iter().all(|r| r == "phone_cooldown"));
}

// F-SMS-4: a message delivered several times sends once.
#[tokio::test]
async fn a_redelivered_message_sends_once() {
    let stack = Stack::start().await;
    // Due now: only the redelivered batch below may send it.
    stack.freeze_clock().await;
    let config = stack.config("sms-sender");
    let client = stack.dynamodb().await;
    let store = SmsStore::new(client.clone(), &config.tables.sms);
    let log = common::sms::put_pending_alert(&store, &config, PHONE, "hello", stack.now_ms()).await;
    let f = sms_sender::function(&config).await.unwrap();
    let record = |id: &str| {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_string());
        m.body = Some(json!({ "sms_id": log.sms_id }).to_string());
        m
    };
    let mut batch = SqsEvent::default();
    batch.records = (0..5).map(|i| record(&format!("m{i}"))).collect();
    let r = f(serde_json::to_value(&batch).unwrap(), ctx())
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    let r = f(serde_json::to_value(&batch).unwrap(), ctx())
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    assert_eq!(local_sms(&stack, PHONE).await.len(), 1);
    let sent = store.get_log(&log.sms_id).await.unwrap().unwrap();
    assert_eq!(
        (sent.status, sent.attempts),
        (versus::sms::store::Status::Sent, 1)
    );
}

// F-SMS-14, F-SMS-10: quiet hours defer a promotion to 08:00 and let a transactional message through.
// F-SMS-14: a player with no zone set is timed by their number's own
// zones: +1 415 (Los Angeles) waits at 13:30 UTC, +1 212 (New York) does
// not, and +1 605 (Denver and North Dakota's Central) waits for the last.
#[tokio::test]
async fn quiet_hours_follow_the_numbers_own_zones() {
    use versus::sms::store::Status;
    use versus::sms::MessageType;
    let stack = Stack::start().await;
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |c| {
        c.allowed_regions = vec!["US".into()];
    });
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    };
    let now = at("2026-12-07T13:30:00Z");
    stack
        .set_clock(chrono::DateTime::from_timestamp_millis(now).unwrap(), true)
        .await;
    let mut logs = vec![];
    for (phone, user) in [
        ("+14155550123", "sf"),
        ("+12125550123", "ny"),
        ("+16055550123", "sd"),
    ] {
        let mut promo = request(MessageType::StreakAlert, phone, user);
        promo.timezone = None;
        logs.push(outbox.enqueue(promo, now).await.unwrap());
    }
    assert_eq!(
        (logs[0].status, logs[0].due_at),
        (Status::Deferred, Some(at("2026-12-07T16:00:00Z"))),
        "08:00 in Los Angeles"
    );
    assert_eq!(logs[1].status, Status::Pending, "08:30 in New York");
    assert_eq!(
        (logs[2].status, logs[2].due_at),
        (Status::Deferred, Some(at("2026-12-07T15:00:00Z"))),
        "08:00 in Denver, an hour after Central"
    );
    common::eventually("the New York text is sent", || async {
        local_sms(&stack, "+12125550123").await.len() == 1
    })
    .await;
    assert!(local_sms(&stack, "+14155550123").await.is_empty());
}

#[tokio::test]
async fn quiet_hours_defer_promotions_only() {
    use versus::sms::store::Status;
    use versus::sms::MessageType;
    let stack = Stack::start().await;
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    // 22:30 in Kampala. The stack's clock stands at that instant: the
    // release below sees what is due then, whatever the date the suite runs
    // on, and no minute tick of the gateway releases anything behind the
    // test's back.
    let late = chrono::DateTime::parse_from_rfc3339("2026-11-22T19:30:00Z")
        .unwrap()
        .timestamp_millis();
    stack
        .set_clock(chrono::DateTime::from_timestamp_millis(late).unwrap(), true)
        .await;
    let promo = outbox
        .enqueue(request(MessageType::BattleResult, PHONE, "q1"), late)
        .await
        .unwrap();
    assert_eq!(promo.status, Status::Deferred);
    let eight = chrono::DateTime::parse_from_rfc3339("2026-11-23T05:00:00Z")
        .unwrap()
        .timestamp_millis();
    assert_eq!(promo.due_at, Some(eight));
    assert!(promo.body.ends_with("Reply STOP to unsubscribe."));
    let alert = outbox
        .enqueue(
            request(MessageType::SecurityAlert, "+256772000111", "q1"),
            late,
        )
        .await
        .unwrap();
    assert_eq!(alert.status, Status::Pending);
    assert!(!alert.body.contains("STOP"));
    common::eventually("the security alert is sent", || async {
        local_sms(&stack, "+256772000111").await.len() == 1
    })
    .await;
    assert!(
        local_sms(&stack, PHONE).await.is_empty(),
        "the promotion waits"
    );

    // F-JOB-5: the release schedule sends deferred messages once they are due,
    // leaves the others waiting, and a STOP while one waited still stops it.
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    };
    let past = at("2026-01-10T19:30:00Z");
    let future = at("2099-01-10T19:30:00Z");
    let (due, stopped, waiting) = ("+256772000201", "+256772000202", "+256772000203");
    let mut ids = vec![];
    for (phone, when) in [(due, past), (stopped, past), (waiting, future)] {
        let log = outbox
            .enqueue(request(MessageType::StreakAlert, phone, phone), when)
            .await
            .unwrap();
        assert_eq!(log.status, Status::Deferred);
        ids.push(log.sms_id);
    }
    versus::sms::optouts::opt_out(
        outbox.store(),
        &PhoneNumber::parse(stopped).unwrap(),
        "STOP",
        stack.now_ms(),
    )
    .await
    .unwrap();
    // The release runs in Kampala's day (13:00): quiet hours hold when a
    // text goes, not only when it was made.
    stack
        .set_clock("2026-11-22T10:00:00Z".parse().unwrap(), true)
        .await;
    let release = || common::sms::reconcile(&stack);
    let ran = release().await;
    assert_eq!(ran["requeued"], 2, "{ran}");
    common::eventually("the due promotion is sent", || async {
        local_sms(&stack, due).await.len() == 1
    })
    .await;
    let store = outbox.store();
    common::eventually("the stopped one is suppressed", || async {
        store.get_log(&ids[1]).await.unwrap().unwrap().status == Status::Suppressed
    })
    .await;
    let suppressed = store.get_log(&ids[1]).await.unwrap().unwrap();
    assert_eq!(
        suppressed.reason,
        Some(versus::sms::policy::Reason::OptedOut)
    );
    assert!(local_sms(&stack, stopped).await.is_empty());
    assert_eq!(
        store.get_log(&ids[2]).await.unwrap().unwrap().status,
        Status::Deferred
    );
    // A second run finds nothing more to release; nothing goes out twice.
    assert_eq!(release().await["requeued"], 0);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(local_sms(&stack, due).await.len(), 1);
    assert!(local_sms(&stack, waiting).await.is_empty());
}

// F-SMS-12: above the monthly spend cap promotions stop, transactional messages go.
#[tokio::test]
async fn the_spend_cap_stops_promotions_only() {
    use versus::sms::policy::Reason;
    use versus::sms::store::Status;
    use versus::sms::MessageType;
    let stack = Stack::start().await;
    let sdk = versus::db::aws_config().await;
    let client = stack.dynamodb().await;
    // The cap is one segment to Uganda; one sent message reaches it.
    let outbox = outbox(&stack, client.clone(), &sdk, |c| {
        c.monthly_cap_micros = 30_000
    });
    let noon = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .timestamp_millis();
    let first = outbox
        .enqueue(request(MessageType::BattleResult, PHONE, "c1"), noon)
        .await
        .unwrap();
    assert_eq!(first.status, Status::Pending);
    let now = noon;
    let promo = outbox
        .enqueue(
            request(MessageType::BattleResult, "+256772000222", "c2"),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        (promo.status, promo.reason),
        (Status::Suppressed, Some(Reason::SpendCap))
    );
    let alert = outbox
        .enqueue(
            request(MessageType::SecurityAlert, "+256772000333", "c3"),
            now,
        )
        .await
        .unwrap();
    assert_eq!(alert.status, Status::Pending);
}

const TWILIO_TOKEN: &str = "test-twilio-token";

/// A Twilio webhook call, signed as Twilio signs it (or with `signature`).
async fn twilio(
    stack: &Stack,
    path: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> (u16, String) {
    let host = stack.running.http_url.trim_start_matches("http://");
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sig = signature.map(str::to_string).unwrap_or_else(|| {
        versus::sms::inbound::twilio_signature(
            TWILIO_TOKEN,
            &format!("https://{host}{path}"),
            &owned,
        )
    });
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let resp = stack
        .http
        .post(format!("{}{path}", stack.running.http_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

// F-SMS-11: STOP by SMS suppresses every type to that number, START restores, HELP answers.
#[tokio::test]
async fn stop_start_and_help_by_sms() {
    use versus::sms::policy::Reason;
    use versus::sms::store::Status;
    use versus::sms::MessageType;
    let stack = Stack::start_with(&[("TwilioAuthToken", TWILIO_TOKEN)]).await;
    let inbound = "/v1/webhooks/twilio/inbound";
    let sms = |body: &'static str| {
        [
            ("From", PHONE),
            ("To", "+15005550006"),
            ("Body", body),
            ("MessageSid", "SM1"),
        ]
    };
    // A forged request changes nothing.
    let (status, _) = twilio(&stack, inbound, &sms("STOP"), Some("forged")).await;
    assert_eq!(status, 403);
    let (status, reply) = twilio(&stack, inbound, &sms(" stop "), None).await;
    assert_eq!(status, 200);
    assert!(
        reply.contains("<Response><Message>You are unsubscribed"),
        "{reply}"
    );
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    let noon = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .timestamp_millis();
    for t in [
        MessageType::SecurityAlert,
        MessageType::BattleResult,
        MessageType::MatchFound,
    ] {
        let log = outbox.enqueue(request(t, PHONE, "s1"), noon).await.unwrap();
        assert_eq!(
            (log.status, log.reason),
            (Status::Suppressed, Some(Reason::OptedOut)),
            "{t:?}"
        );
    }
    stack.create_profile("s1", "stopper").await;
    assert_eq!(
        request_code(&stack, "s1", PHONE).await.1["error"]["code"],
        "phone_opted_out"
    );
    let (_, reply) = twilio(&stack, inbound, &sms("Start"), None).await;
    assert!(reply.contains("resubscribed"), "{reply}");
    let log = outbox
        .enqueue(request(MessageType::SecurityAlert, PHONE, "s1"), noon)
        .await
        .unwrap();
    assert_eq!(log.status, Status::Pending);
    let (_, reply) = twilio(&stack, inbound, &sms("HELP"), None).await;
    assert!(reply.contains("Reply STOP to unsubscribe"), "{reply}");
    let (_, reply) = twilio(&stack, inbound, &sms("hello there"), None).await;
    assert_eq!(
        reply,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
    );
}

// F-SMS-15: Twilio's status callback moves the log to delivered or failed,
// matched by the log id its URL carries (read by key, consistently).
#[tokio::test]
async fn delivery_receipts_update_the_log() {
    use versus::sms::store::Status;
    use versus::sms::MessageType;
    let stack = Stack::start_with(&[("TwilioAuthToken", TWILIO_TOKEN)]).await;
    stack.freeze_clock().await;
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    let now = stack.now_ms();
    let a = outbox
        .enqueue(request(MessageType::SecurityAlert, PHONE, "d1"), now)
        .await
        .unwrap();
    let b = outbox
        .enqueue(
            request(MessageType::SecurityAlert, "+256772000444", "d2"),
            now,
        )
        .await
        .unwrap();
    let store = outbox.store().clone();
    common::eventually("both sent", || async {
        let (x, y) = (
            store.get_log(&a.sms_id).await.unwrap().unwrap(),
            store.get_log(&b.sms_id).await.unwrap().unwrap(),
        );
        x.status == Status::Sent && y.status == Status::Sent
    })
    .await;
    let status_of = |id: &str| format!("/v1/webhooks/twilio/status?sms_id={id}");
    let sid_a = format!("console-{}", a.sms_id);
    let sid_b = format!("console-{}", b.sms_id);
    let (code, _) = twilio(
        &stack,
        &status_of(&a.sms_id),
        &[("MessageSid", &sid_a), ("MessageStatus", "delivered")],
        None,
    )
    .await;
    assert_eq!(code, 204);
    let (code, _) = twilio(
        &stack,
        &status_of(&b.sms_id),
        &[
            ("MessageSid", &sid_b),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
        ],
        None,
    )
    .await;
    assert_eq!(code, 204);
    // A late "sent" and a repeated "undelivered" change nothing.
    for (id, sid, state) in [
        (&a.sms_id, &sid_a, "sent"),
        (&b.sms_id, &sid_b, "undelivered"),
    ] {
        let params = [("MessageSid", sid.as_str()), ("MessageStatus", state)];
        assert_eq!(twilio(&stack, &status_of(id), &params, None).await.0, 204);
    }
    // A log id nobody has: nothing to retry. A callback without one (from
    // before the URL named the log) is found by Twilio's id through the
    // index; one not in it yet is answered 503, to be tried again.
    let unknown = [("MessageSid", "SMnope"), ("MessageStatus", "delivered")];
    assert_eq!(
        twilio(&stack, &status_of("nope"), &unknown, None).await.0,
        204
    );
    assert_eq!(
        twilio(&stack, "/v1/webhooks/twilio/status", &unknown, None)
            .await
            .0,
        503
    );
    let a = store.get_log(&a.sms_id).await.unwrap().unwrap();
    let b = store.get_log(&b.sms_id).await.unwrap().unwrap();
    assert_eq!(a.status, Status::Delivered);
    assert_eq!(a.delivered_at, Some(stack.now_ms()));
    assert_eq!(
        (b.status, b.error.as_deref()),
        (Status::Failed, Some("undelivered (error 30003)"))
    );
}

// F-SMS-15: a receipt that arrives before its log is recorded as sent (the
// provider answered, the sender has not written it yet) is held on the log
// and applied when the send is: the log ends delivered, nothing is dropped.
#[tokio::test]
async fn a_receipt_before_its_log_is_sent_is_applied_when_it_is() {
    use versus::sms::store::{Finish, Status};
    use versus::sms::MessageType;
    let stack = Stack::start_with(&[("TwilioAuthToken", TWILIO_TOKEN)]).await;
    stack.freeze_clock().await;
    let sdk = versus::db::aws_config().await;
    let store = outbox(&stack, stack.dynamodb().await, &sdk, |_| {})
        .store()
        .clone();
    let now = stack.now_ms();
    // Written, not queued, and due a day later: only this test moves it.
    let mut log = versus::sms::log::SmsLog::pending(
        versus::phone::PhoneNumber::parse(PHONE).unwrap(),
        MessageType::SecurityAlert,
        "New login to your account.".into(),
        Some("early".into()),
        &stack.config("profile-api").sms,
        now,
    );
    log.due_at = Some(now + 86_400_000);
    store.put_log(&log).await.unwrap();
    let claimed = store.claim(&log.sms_id, now, 60_000).await.unwrap();
    assert_eq!(claimed.unwrap().status, Status::Sending);
    let path = format!("/v1/webhooks/twilio/status?sms_id={}", log.sms_id);
    let params = [("MessageSid", "SMearly"), ("MessageStatus", "delivered")];
    assert_eq!(twilio(&stack, &path, &params, None).await.0, 204);
    let held = store.get_log(&log.sms_id).await.unwrap().unwrap();
    assert_eq!(held.status, Status::Sending, "not sent yet: held");
    store
        .finish(
            &log.sms_id,
            Finish::Sent {
                provider: "twilio",
                provider_message_id: "SMearly",
            },
            now + 1000,
        )
        .await
        .unwrap();
    let done = store.get_log(&log.sms_id).await.unwrap().unwrap();
    assert_eq!(done.status, Status::Delivered);
    assert_eq!(done.delivered_at, Some(now));
    assert_eq!(done.sent_at, Some(now + 1000));
    assert_eq!(done.provider_message_id.as_deref(), Some("SMearly"));
    let item = raw_log(&stack, &log.sms_id).await;
    assert!(!item.contains_key("early_receipt"), "{item:?}");
}

// F-SMS-15: an SNS delivery event names only SNS's own message id. While no
// sent log carries it (the index is eventually consistent, or the send is
// not recorded yet) the invocation fails, so that the event is delivered
// again, never dropped; once it does, the same event marks the log delivered.
#[tokio::test]
async fn an_sns_receipt_for_a_log_not_yet_known_is_retried() {
    use versus::sms::store::{Finish, Status};
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let sdk = versus::db::aws_config().await;
    let store = outbox(&stack, stack.dynamodb().await, &sdk, |_| {})
        .store()
        .clone();
    let webhooks = webhooks::function(&stack.config("webhooks")).await.unwrap();
    let now = stack.now_ms();
    let mut log = versus::sms::log::SmsLog::pending(
        PhoneNumber::parse(PHONE).unwrap(),
        versus::sms::MessageType::SecurityAlert,
        "New login to your account.".into(),
        Some("sns".into()),
        &stack.config("profile-api").sms,
        now,
    );
    log.due_at = Some(now + 86_400_000);
    store.put_log(&log).await.unwrap();
    store
        .claim(&log.sms_id, now, 60_000)
        .await
        .unwrap()
        .unwrap();
    let message = json!({"eventType": "TEXT_DELIVERED", "messageId": "sns-message-1"});
    let event = common::sms::topic_event(&message);
    assert!(
        webhooks(event.clone(), ctx()).await.is_err(),
        "retried, not dropped"
    );
    store
        .finish(
            &log.sms_id,
            Finish::Sent {
                provider: "sns",
                provider_message_id: "sns-message-1",
            },
            now,
        )
        .await
        .unwrap();
    common::eventually("the index has the sent log", || async {
        webhooks(event.clone(), ctx()).await.is_ok()
    })
    .await;
    let done = store.get_log(&log.sms_id).await.unwrap().unwrap();
    assert_eq!(done.status, Status::Delivered);
}

// F-SMS-8, F-SMS-9: preferences with consent capture; F-SMS-11: STOP by SMS
// turns the owner's master switch off and START back on.
#[tokio::test]
async fn sms_preferences_and_consent() {
    let stack = Stack::start_with(&[("TwilioAuthToken", TWILIO_TOKEN)]).await;
    let path = "/v1/me/sms-preferences";
    assert_eq!(stack.call("GET", path, Some("p1"), None).await.0, 404);
    stack.create_profile("p1", "prefers").await;
    let (status, prefs) = stack.call("GET", path, Some("p1"), None).await;
    assert_eq!(status, 200, "{prefs}");
    assert_eq!(prefs["allow_sms_invitations"], true);
    assert_eq!(prefs["consent"], Value::Null);
    assert_eq!(prefs["toggles"].as_object().unwrap().len(), 8);
    assert!(prefs["toggles"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v == true));

    let (status, prefs) = stack
        .call(
            "PUT",
            path,
            Some("p1"),
            Some(r#"{"consent": {"method": "web_form", "text_version": "2026-11"}, "toggles": {"battle_results": false}}"#),
        )
        .await;
    assert_eq!(status, 200, "{prefs}");
    assert_eq!(prefs["consent"]["method"], "web_form");
    assert_eq!(prefs["consent"]["text_version"], "2026-11");
    assert_eq!(prefs["consent"]["ip_address"], "127.0.0.1");
    assert!(prefs["consent"]["given_at"]
        .as_str()
        .unwrap()
        .starts_with("20"));
    assert_eq!(prefs["toggles"]["battle_results"], false);
    assert_eq!(prefs["toggles"]["streak_alerts"], true);
    let (_, me) = stack.call("GET", "/v1/me", Some("p1"), None).await;
    assert_eq!(me["sms_preferences"], prefs);
    // The caller's own address, whatever it is (here another loopback one).
    let consent = r#"{"consent": {"method": "web_form", "text_version": "2026-12"}}"#;
    let answer = common::client_from("127.0.0.9")
        .put(format!("{}{path}", stack.running.http_url))
        .bearer_auth(stack.token("p1"))
        .header("content-type", "application/json")
        .body(consent)
        .send()
        .await
        .unwrap();
    let again: Value = answer.json().await.unwrap();
    assert_eq!(again["consent"]["ip_address"], "127.0.0.9", "{again}");
    let prefs = again;

    // Bad input changes nothing.
    for body in [
        r#"{"toggles": {"weather": false}}"#,
        r#"{"consent": {"method": "sms_keyword", "text_version": "v1"}}"#,
        r#"{"consent": {"method": "web_form"}}"#,
        r#"{"allow_sms_invitations": "yes"}"#,
        r#"{"shout": true}"#,
        "not json",
    ] {
        let (status, err) = stack.call("PUT", path, Some("p1"), Some(body)).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert!(err["error"]["message"].is_string());
    }
    assert_eq!(stack.call("GET", path, Some("p1"), None).await.1, prefs);

    // With a verified number, STOP by SMS switches the master off; START back on.
    request_code(&stack, "p1", PHONE).await;
    let code = code_sent_to(&stack, PHONE, 0).await;
    assert_eq!(verify(&stack, "p1", &code).await.0, 200);
    let inbound = "/v1/webhooks/twilio/inbound";
    let text = |body: &'static str| [("From", PHONE), ("To", "+15005550006"), ("Body", body)];
    assert_eq!(twilio(&stack, inbound, &text("STOP"), None).await.0, 200);
    let (_, stopped) = stack.call("GET", path, Some("p1"), None).await;
    assert_eq!(
        (
            stopped["allow_sms_invitations"].as_bool(),
            stopped["opted_out"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(
        stopped["consent"], prefs["consent"],
        "the record of consent stays"
    );
    assert_eq!(twilio(&stack, inbound, &text("start"), None).await.0, 200);
    let (_, started) = stack.call("GET", path, Some("p1"), None).await;
    assert_eq!(
        (
            started["allow_sms_invitations"].as_bool(),
            started["opted_out"].as_bool()
        ),
        (Some(true), Some(false))
    );

    // Withdrawing consent; a user who never consented gets it by START.
    let (_, withdrawn) = stack
        .call("PUT", path, Some("p1"), Some(r#"{"consent": null}"#))
        .await;
    assert_eq!(withdrawn["consent"], Value::Null);
    assert_eq!(twilio(&stack, inbound, &text("STOP"), None).await.0, 200);
    assert_eq!(twilio(&stack, inbound, &text("YES"), None).await.0, 200);
    let (_, by_keyword) = stack.call("GET", path, Some("p1"), None).await;
    assert_eq!(by_keyword["consent"]["method"], "sms_keyword");
    assert_eq!(by_keyword["allow_sms_invitations"], true);
}

/// Enqueues 50 requests at once (`nth` makes each, with its time); the logs.
async fn race(
    outbox: &versus::sms::outbox::Outbox,
    nth: impl Fn(usize) -> (versus::sms::outbox::SmsRequest, i64),
) -> Vec<versus::sms::store::SmsLog> {
    futures::future::join_all(
        (0..50)
            .map(nth)
            .map(|(request, at)| async move { outbox.enqueue(request, at).await.unwrap() }),
    )
    .await
}

/// How many went out (pending) and how many were refused for `reason`.
fn tally(
    logs: &[versus::sms::store::SmsLog],
    reason: versus::sms::policy::Reason,
) -> (usize, usize) {
    use versus::sms::store::Status;
    let pending = logs.iter().filter(|l| l.status == Status::Pending).count();
    let refused = logs
        .iter()
        .filter(|l| l.status == Status::Suppressed && l.reason == Some(reason))
        .count();
    (pending, refused)
}

// F-SMS-12, F-SMS-27: each limit holds when 50 sends race, and each refusal
// is a suppressed log with its reason.
#[tokio::test]
async fn every_limit_holds_when_50_sends_race() {
    use versus::sms::policy::Reason;
    use versus::sms::MessageType::{
        BattleInvitation, BattleResult, PhoneVerification, SecurityAlert,
    };
    let stack = Stack::start().await;
    let sdk = versus::db::aws_config().await;
    let client = stack.dynamodb().await;
    let capped = outbox(&stack, client.clone(), &sdk, |c| {
        c.monthly_cap_micros = 10 * 30_000;
    });
    let per_country = outbox(&stack, client.clone(), &sdk, |c| {
        c.verification_per_country_hour = 5
    });
    let outbox = outbox(&stack, client, &sdk, |_| {});
    // 12:00 in Kampala, at the start of a 10-minute window: no quiet hours.
    let noon = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .timestamp_millis();
    let phone = |i: usize| format!("+2567721{i:05}");

    // One phone, 30 s apart at most once: 50 senders racing for the gap at
    // one instant; one takes it, the others learn when it was taken (they
    // defer to then + 30 s, F-SMS-12).
    let store = outbox.store().clone();
    let gaps = futures::future::join_all((0..50).map(|_| {
        let store = store.clone();
        async move {
            versus::sms::limits::take_gap(&store, "phone#+256772900000", 30, None, noon)
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(gaps.iter().filter(|g| g.is_ok()).count(), 1);
    assert!(gaps.iter().filter_map(|g| g.err()).all(|last| last == noon));

    // One user: 10 an hour ...
    let logs = race(&outbox, |i| {
        (request(SecurityAlert, &phone(i), "hourly"), noon)
    })
    .await;
    assert_eq!(tally(&logs, Reason::UserHourlyLimit), (10, 40));

    // ... and 30 a day: ten in each of five hours.
    let logs = race(&outbox, |i| {
        let at = noon + (i / 10) as i64 * 3_600_000;
        (request(SecurityAlert, &phone(100 + i), "daily"), at)
    })
    .await;
    assert_eq!(tally(&logs, Reason::UserDailyLimit), (30, 20));

    // SMS invitations: 5 per sender an hour.
    let logs = race(&outbox, |i| {
        let mut r = request(BattleInvitation, &phone(200 + i), "");
        r.user_id = None;
        r.verified = false;
        r.sender_id = Some("inviter".into());
        (r, noon)
    })
    .await;
    assert_eq!(tally(&logs, Reason::SenderInvitationLimit), (5, 45));

    // Verification codes: 3 per phone in 10 minutes (sends 31 s apart, so
    // the 30 s cooldown lets one through per slot) ...
    let logs = race(&outbox, |i| {
        let at = noon + (i % 19) as i64 * 31_000;
        (
            request(PhoneVerification, "+256772900001", &format!("v{i}")),
            at,
        )
    })
    .await;
    let (sent, limited) = tally(&logs, Reason::VerificationPhoneLimit);
    assert_eq!(sent, 3);
    assert!(limited > 0);
    assert_eq!(tally(&logs, Reason::PhoneCooldown).1 + limited, 47);

    // ... 10 per phone a day (each in its own 10-minute window) ...
    let logs = race(&outbox, |i| {
        let at = noon + 3_600_000 * 2 + i as i64 * 600_000;
        (
            request(PhoneVerification, "+256772900002", &format!("d{i}")),
            at,
        )
    })
    .await;
    assert_eq!(tally(&logs, Reason::VerificationDailyLimit), (10, 40));

    // ... and, against pumping, a cap per country calling code an hour.
    let logs = race(&per_country, |i| {
        (
            request(
                PhoneVerification,
                &format!("+2547221{i:05}"),
                &format!("k{i}"),
            ),
            noon,
        )
    })
    .await;
    assert_eq!(tally(&logs, Reason::VerificationCountryLimit), (5, 45));

    // The month's spend cap (ten Ugandan segments), in a month with no spend
    // yet: promotions stop at it ...
    let october = chrono::DateTime::parse_from_rfc3339("2026-10-15T09:00:00Z")
        .unwrap()
        .timestamp_millis();
    let logs = race(&capped, |i| {
        (
            request(BattleResult, &phone(300 + i), &format!("s{i}")),
            october,
        )
    })
    .await;
    assert_eq!(tally(&logs, Reason::SpendCap), (10, 40));
    // ... transactional messages still go.
    let alert = capped
        .enqueue(
            request(SecurityAlert, "+256772900003", "after-cap"),
            october,
        )
        .await
        .unwrap();
    assert_eq!(alert.status, versus::sms::store::Status::Pending);

    // Every refusal is on record with its reason.
    let reasons = suppressed_reasons(&stack).await;
    assert!(reasons.iter().all(|r| !r.is_empty()));
    assert_eq!(reasons.len(), 40 + 20 + 45 + 47 + 40 + 45 + 40);
}

// F-SMS-17, F-SMS-12: a second request inside the 30 s gap is refused, and the
// refusal changes nothing: the code already texted still works.
#[tokio::test]
async fn a_refused_second_request_keeps_the_first_code() {
    let stack = Stack::start().await;
    stack.create_profile("k1", "keeper").await;
    assert_eq!(request_code(&stack, "k1", PHONE).await.0, 202);
    let code = code_sent_to(&stack, PHONE, 0).await;
    let (status, body) = request_code(&stack, "k1", PHONE).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    let (status, me) = verify(&stack, "k1", &code).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["phone"]["verified"], true);
}

// F-SMS-27, F-SMS-5: no codes to premium-rate numbers, numbers with an
// extension, or a doubled +; nothing is written or sent for them.
#[tokio::test]
async fn codes_go_only_to_numbers_that_receive_texts() {
    let stack = Stack::start().await;
    stack.create_profile("p1", "pumper").await;
    for (phone, status, code) in [
        ("+1 900 555 0143", 422, "phone_type_not_supported"),
        ("+44 909 879 0123", 422, "phone_type_not_supported"),
        ("+1 202 555 0143 ext. 12", 400, "invalid_phone_number"),
        ("+1 202 555 0143;ext=12", 400, "invalid_phone_number"),
        ("++256772123456", 400, "invalid_phone_number"),
    ] {
        let (got, body) = request_code(&stack, "p1", phone).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{phone}: {body}"
        );
    }
    assert!(suppressed_reasons(&stack).await.is_empty());
    for to in [
        "+19005550143",
        "+449098790123",
        "+12025550143",
        "+256772123456",
    ] {
        assert!(local_sms(&stack, to).await.is_empty(), "{to}");
    }
}

// F-SMS-18: 20 users verify one number at once; at every instant one user
// holds it: one claim, and only its owner's profile shows the number.
#[tokio::test]
async fn twenty_concurrent_verifications_leave_one_owner() {
    const USERS: usize = 20;
    let stack = Stack::start().await;
    let config = stack.config("profile-api");
    let client = stack.dynamodb().await;
    let verification =
        common::sms::verification(&stack, client.clone(), &versus::db::aws_config().await);
    let phone = PhoneNumber::parse(PHONE).unwrap();
    let base = stack.now_ms();
    let mut codes = vec![];
    for i in 0..USERS {
        let user = format!("c{i}");
        stack.create_profile(&user, &format!("contender{i}")).await;
        // Each code in its own two days, clear of every per-number limit.
        let at = base + i as i64 * 2 * 86_400_000;
        verification
            .request(&user, phone.clone(), at)
            .await
            .unwrap();
        codes.push((user, code_sent_to(&stack, PHONE, i).await, at));
    }
    let results = futures::future::join_all(codes.iter().map(|(user, code, at)| {
        let verification = verification.clone();
        async move { verification.verify(user, code, at + 1000).await }
    }))
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert!(won >= 1, "someone verified");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.code(), "concurrent_update", "{e:?}");
        }
    }
    let owner = versus::sms::ownership::owner_of(&client, &config.tables.users, &phone)
        .await
        .unwrap()
        .expect("the number has an owner");
    let profiles = versus::wiring::profiles(&client, &config);
    let mut holders = vec![];
    for (user, _, _) in &codes {
        let p = profiles.get(user).await.unwrap().unwrap();
        if p.phone.number.as_deref() == Some(PHONE) {
            holders.push(user.clone());
        }
    }
    assert_eq!(
        holders,
        vec![owner],
        "one holder, and it is the claim's owner"
    );
}

// F-SMS-18 and issue 21: 20 removals of a number race 20 verifications of
// another one (one pair per player). Whatever wins, each player's profile
// and the claims agree: the profile shows the new number and holds its
// claim, or shows none and holds no claim; the old number's claim is gone.
#[tokio::test]
async fn removals_racing_verifications_leave_profile_and_claim_consistent() {
    const USERS: usize = 20;
    let stack = Stack::start().await;
    let config = stack.config("profile-api");
    let client = stack.dynamodb().await;
    let verification =
        common::sms::verification(&stack, client.clone(), &versus::db::aws_config().await);
    let now = stack.now_ms();
    let old_number = |i: usize| format!("+2567721300{i:02}");
    let new_number = |i: usize| format!("+2567721400{i:02}");
    let mut codes = vec![];
    for i in 0..USERS {
        let user = format!("r{i}");
        stack.create_profile(&user, &format!("racer{i}")).await;
        local_gateway::fixtures::verified_phone(
            &client,
            &config.tables.users,
            &user,
            &old_number(i),
            None,
        )
        .await
        .unwrap();
        verification
            .request(&user, PhoneNumber::parse(&new_number(i)).unwrap(), now)
            .await
            .unwrap();
        codes.push((user, code_sent_to(&stack, &new_number(i), 0).await));
    }
    let races = codes.iter().map(|(user, code)| {
        let verification = verification.clone();
        async move {
            let (verified, removed) = tokio::join!(
                verification.verify(user, code, now + 1000),
                verification.remove(user)
            );
            (verified.map(|_| ()), removed.map(|_| ()))
        }
    });
    let results = futures::future::join_all(races).await;
    let profiles = versus::wiring::profiles(&client, &config);
    for (i, (user, _)) in codes.iter().enumerate() {
        let (verified, removed) = &results[i];
        assert!(verified.is_ok(), "{user}: {verified:?}");
        assert!(removed.is_ok(), "{user}: {removed:?}");
        let profile = profiles.require(user).await.unwrap();
        let holder = |number: String| {
            let client = client.clone();
            let users = config.tables.users.clone();
            async move {
                versus::sms::ownership::owner_of(
                    &client,
                    &users,
                    &PhoneNumber::parse(&number).unwrap(),
                )
                .await
                .unwrap()
            }
        };
        assert_eq!(
            holder(old_number(i)).await,
            None,
            "{user}: the old claim is gone"
        );
        match profile.phone.number {
            Some(number) => {
                assert_eq!(number, new_number(i), "{user}");
                assert!(profile.phone.verified, "{user}");
                assert_eq!(
                    holder(number).await.as_deref(),
                    Some(user.as_str()),
                    "{user}"
                );
            }
            None => assert_eq!(holder(new_number(i)).await, None, "{user}: an orphan claim"),
        }
    }
}

// F-SMS-12: the 30 s per-number spacing (taken by the sender) is a true gap,
// also across the edge of a 30 s bucket; the hourly per-user limit is a
// clock-hour window, so at most twice the limit in a rolling hour that
// straddles the edge (the documented bound).
#[tokio::test]
async fn spacing_is_a_true_gap_and_hourly_windows_have_their_bound() {
    use versus::sms::policy::Reason;
    use versus::sms::store::Status;
    use versus::sms::MessageType::SecurityAlert;
    let stack = Stack::start().await;
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    let edge = (stack.now_ms() / 3_600_000 + 1) * 3_600_000; // a 30 s and an hour edge
    let send = |phone: &'static str, user: &'static str, at: i64| {
        let outbox = outbox.clone();
        async move {
            outbox
                .enqueue(request(SecurityAlert, phone, user), at)
                .await
                .unwrap()
        }
    };
    let gap = |at: i64| {
        let store = outbox.store().clone();
        async move {
            versus::sms::limits::take_gap(&store, "phone#+256772000301", 30, None, at)
                .await
                .unwrap()
        }
    };
    assert_eq!(gap(edge - 500).await, Ok(()));
    assert_eq!(gap(edge + 500).await, Err(edge - 500), "defer to its end");
    assert_eq!(
        gap(edge - 20_000).await,
        Err(edge - 500),
        "a gap either way"
    );
    assert_eq!(gap(edge + 29_500).await, Ok(()), "30 s after the last one");
    // The text that took the gap is not held back by it on a later attempt.
    let own = edge + 29_500;
    let store = outbox.store().clone();
    assert_eq!(
        versus::sms::limits::take_gap(&store, "phone#+256772000301", 30, Some(own), own + 2_000)
            .await
            .unwrap(),
        Ok(())
    );

    // Ten in the hour's last minutes and ten in the next hour's first: all
    // pass; the eleventh of the new hour does not.
    for i in 0..10 {
        let at = edge - 600_000 + i * 31_000;
        let phone: &'static str = Box::leak(format!("+2567720004{i:02}").into_boxed_str());
        assert_eq!(send(phone, "h1", at).await.status, Status::Pending);
    }
    for i in 0..10 {
        let at = edge + i * 31_000;
        let phone: &'static str = Box::leak(format!("+2567720005{i:02}").into_boxed_str());
        assert_eq!(send(phone, "h1", at).await.status, Status::Pending);
    }
    let eleventh = send("+256772000600", "h1", edge + 400_000).await;
    assert_eq!(eleventh.reason, Some(Reason::UserHourlyLimit));
}

// F-SMS-12, issue 23: far from the cap a promotion reserves its cost in its
// shard of the month, with no read of the others; near it, in the one exact
// counter, within the cap minus the shards' sum: the text that would pass
// the cap is refused.
#[tokio::test]
async fn promotions_reserve_in_shards_far_from_the_cap_and_exactly_near_it() {
    use versus::sms::policy::Reason;
    use versus::sms::spend::{reserved, Reserved};
    use versus::sms::store::Status;
    use versus::sms::MessageType;
    let stack = Stack::start().await;
    let sdk = versus::db::aws_config().await;
    let client = stack.dynamodb().await;
    let noon = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .timestamp_millis();
    let far = outbox(&stack, client.clone(), &sdk, |c| {
        c.monthly_cap_micros = 1_000_000_000_000
    });
    let first = far
        .enqueue(request(MessageType::BattleResult, PHONE, "s1"), noon)
        .await
        .unwrap();
    assert_eq!(first.status, Status::Pending);
    let cost = first.cost_micros;
    assert_eq!(
        reserved(far.store(), "2026-11").await.unwrap(),
        Reserved {
            shards: cost,
            exact: 0
        }
    );
    // A cap three texts' cost: this month's shard holds one, so two more fit
    // in the exact counter and the fourth is refused.
    let near = outbox(&stack, client.clone(), &sdk, |c| {
        c.monthly_cap_micros = 3 * cost
    });
    let mut statuses = Vec::new();
    for i in 0..3 {
        let log = near
            .enqueue(
                request(
                    MessageType::BattleResult,
                    &format!("+25677200050{i}"),
                    &format!("s{}", i + 2),
                ),
                noon,
            )
            .await
            .unwrap();
        statuses.push((log.status, log.reason));
    }
    assert_eq!(
        statuses,
        [
            (Status::Pending, None),
            (Status::Pending, None),
            (Status::Suppressed, Some(Reason::SpendCap))
        ]
    );
    assert_eq!(
        reserved(near.store(), "2026-11").await.unwrap(),
        Reserved {
            shards: cost,
            exact: 2 * cost
        }
    );
}

// F-SMS-3, F-JOB-5, issue 23: a log in flight since before the due index had
// shards (in its one `DUE` partition) is still released and sent once.
#[tokio::test]
async fn a_log_due_in_the_unsharded_partition_is_still_released() {
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let config = stack.config("sms-sender");
    let client = stack.dynamodb().await;
    let store = SmsStore::new(client.clone(), &config.tables.sms);
    let log = common::sms::put_pending_alert(
        &store,
        &config,
        PHONE,
        "New sign-in to your Versus account.",
        stack.now_ms(),
    )
    .await;
    client
        .update_item()
        .table_name(&config.tables.sms)
        .set_key(Some(versus::keys::sms::log_key(&log.sms_id)))
        .update_expression("SET due_shard = :legacy")
        .expression_attribute_values(":legacy", AttributeValue::S("DUE".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(common::sms::reconcile(&stack).await["requeued"], 1);
    common::eventually("the text is sent", || async {
        raw_log(&stack, &log.sms_id).await["status"].as_s().unwrap() == "sent"
    })
    .await;
    assert_eq!(local_sms(&stack, PHONE).await.len(), 1);
}
