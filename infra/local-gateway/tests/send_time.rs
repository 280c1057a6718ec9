//! The SMS policy at send time (F-SMS-12, F-SMS-14, F-JOB-5): right before
//! the provider call the sender checks quiet hours, the caps and the 30 s
//! gap again; what would break one is deferred to the first instant it
//! would not, never refused for it. Every test pins the stack's clock.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::sms::{outbox, reconcile, request};
use common::stubs::{twilio_parameters, ProviderStub, TWILIO_MESSAGES};
use common::texts::{logs_to, texted_player};
use common::{eventually, eventually_within, Stack};
use serde_json::json;
use versus::sms::log::SmsLog;
use versus::sms::store::{SmsStore, Status};
use versus::sms::MessageType;

fn at(t: &str) -> DateTime<Utc> {
    t.parse().unwrap()
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

async fn log(stack: &Stack, id: &str) -> SmsLog {
    SmsStore::new(
        stack.dynamodb().await,
        &stack.config("sms-sender").tables.sms,
    )
    .get_log(id)
    .await
    .unwrap()
    .unwrap()
}

/// Waits until `id` has `status`, and returns it.
async fn settled(stack: &Stack, id: &str, status: Status) -> SmsLog {
    eventually(&format!("{id} is {status:?}"), || async {
        log(stack, id).await.status == status
    })
    .await;
    log(stack, id).await
}

/// Waits until a `kind` text to `phone` has `status`.
async fn until_text(stack: &Stack, phone: &str, kind: &str, status: Status) {
    eventually(
        &format!("a {kind} text to {phone} is {status:?}"),
        || async {
            logs_to(stack, phone, kind)
                .await
                .iter()
                .any(|l| l.status == status)
        },
    )
    .await;
}

/// The statuses of `ids`, in their order.
async fn statuses(stack: &Stack, ids: &[String]) -> Vec<(Status, Option<i64>, Option<i64>)> {
    let mut out = vec![];
    for id in ids {
        let l = log(stack, id).await;
        out.push((l.status, l.due_at, l.sent_at));
    }
    out
}

// Three promotions deferred at 22:00, 22:01 and 22:02 in Kampala leave at
// 08:00, 08:00:30 and 08:01, not in one burst.
#[tokio::test]
async fn promotions_released_together_leave_the_gap_apart() {
    let stack = Stack::start().await;
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    let phone = "+256772000701";
    let night = at("2026-12-07T19:00:00Z"); // 22:00 in Kampala
    stack.set_clock(night, true).await;
    let mut ids = vec![];
    for i in 0..3 {
        let now = stack.now_ms();
        let promo = outbox
            .enqueue(request(MessageType::StreakAlert, phone, "night_owl"), now)
            .await
            .unwrap();
        assert_eq!(
            (promo.status, promo.due_at),
            (Status::Deferred, Some(ms(at("2026-12-08T05:00:00Z")))),
            "promotion {i}"
        );
        ids.push(promo.sms_id);
        stack.advance_clock(60.0).await;
    }
    let eight = at("2026-12-08T05:00:00Z");
    let mut sent_at = vec![];
    for step in 0..3 {
        let now = eight + Duration::seconds(30 * step);
        stack.set_clock(now, true).await;
        let released = reconcile(&stack).await;
        assert_eq!(released["requeued"], 3 - step, "{released}");
        eventually(&format!("{} sent at {now}", step + 1), || async {
            let s = statuses(&stack, &ids).await;
            s.iter().filter(|(st, ..)| *st == Status::Sent).count() == step as usize + 1
                && s.iter()
                    .all(|(st, ..)| matches!(st, Status::Sent | Status::Deferred))
        })
        .await;
        let s = statuses(&stack, &ids).await;
        let newest = s.iter().filter_map(|(_, _, sent)| *sent).max().unwrap();
        sent_at.push(newest);
        // The rest wait for the gap after this one.
        for (status, due, _) in s.iter().filter(|(st, ..)| *st == Status::Deferred) {
            assert_eq!((*status, *due), (Status::Deferred, Some(ms(now) + 30_000)));
        }
    }
    assert_eq!(
        sent_at,
        [ms(eight), ms(eight) + 30_000, ms(eight) + 60_000],
        "08:00, 08:00:30, 08:01 in Kampala"
    );
    // Deferrals are not attempts.
    for id in &ids {
        assert_eq!(log(&stack, id).await.attempts, 1);
    }
}

// A reminder 5 s after another text to the number waits 25 s more and goes:
// the gap defers, it never refuses (F-SMS-12).
#[tokio::test]
async fn a_text_inside_the_gap_waits_for_it() {
    let stack = Stack::start().await;
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    let phone = "+256772000702";
    let noon = at("2026-12-07T09:00:00Z"); // 12:00 in Kampala
    stack.set_clock(noon, true).await;
    let first = outbox
        .enqueue(
            request(MessageType::SecurityAlert, phone, "gapped"),
            ms(noon),
        )
        .await
        .unwrap();
    let first = settled(&stack, &first.sms_id, Status::Sent).await;
    assert_eq!(first.sent_at, Some(ms(noon)));
    stack.advance_clock(5.0).await;
    let mut reminder = request(MessageType::BattleReminder, phone, "gapped");
    reminder.send_by = Some(ms(noon) + 3_600_000);
    let reminder = outbox.enqueue(reminder, stack.now_ms()).await.unwrap();
    assert_eq!(
        reminder.status,
        Status::Pending,
        "the gap is not checked here"
    );
    let held = settled(&stack, &reminder.sms_id, Status::Deferred).await;
    assert_eq!(held.due_at, Some(ms(noon) + 30_000));
    assert_eq!(held.reason, None);
    stack.advance_clock(25.0).await;
    assert_eq!(reconcile(&stack).await["requeued"], 1);
    let sent = settled(&stack, &reminder.sms_id, Status::Sent).await;
    assert_eq!(sent.sent_at, Some(ms(noon) + 30_000), "25 s later");
}

// A battle judged 10 s after its match_found texts: each player's
// battle_result leaves 30 s after their match text (it used to be refused
// for good by the gap, F-SMS-21, F-SMS-22).
#[tokio::test]
async fn a_result_judged_within_the_gap_follows_the_match_text() {
    let stack = Stack::start().await;
    let noon = at("2026-12-07T09:00:00Z"); // 12:00 in Kampala
    stack.set_clock(noon, true).await;
    let players = [("gp1", "+256772000711"), ("gp2", "+256772000712")];
    for (user, phone) in players {
        texted_player(&stack, user, user, phone, "Africa/Kampala").await;
    }
    let battle = stack.battle_between("gp1", "gp2").await;
    for (_, phone) in players {
        until_text(&stack, phone, "match_found", Status::Sent).await;
    }
    stack.advance_clock(10.0).await;
    stack
        .record_result(&battle, json!({"outcome": "win", "winner_id": "gp1"}))
        .await;
    for (_, phone) in players {
        until_text(&stack, phone, "battle_result", Status::Deferred).await;
    }
    stack.advance_clock(20.0).await;
    reconcile(&stack).await;
    for (_, phone) in players {
        until_text(&stack, phone, "battle_result", Status::Sent).await;
        let matched = logs_to(&stack, phone, "match_found").await[0]
            .sent_at
            .unwrap();
        let result = logs_to(&stack, phone, "battle_result").await;
        assert_eq!(result.len(), 1);
        assert_eq!(result[0].sent_at, Some(matched + 30_000), "{phone}");
    }
}

// A transient failure at 20:59:50 local is retried at 08:00, not at
// 21:00:10: quiet hours hold at send time, retries included (F-SMS-4).
#[tokio::test]
async fn a_retry_that_would_land_in_quiet_hours_waits_for_the_morning() {
    let stub = ProviderStub::start(503).await;
    let mut parameters = twilio_parameters(&stub, "https://api.example.test");
    parameters.push(("SmsProvider", "twilio".into()));
    // The first retry 5 s later: time for the test to move the clock on.
    parameters.retain(|(k, _)| *k != "SmsRetryBaseSeconds");
    parameters.push(("SmsRetryBaseSeconds", "5".into()));
    let borrowed: Vec<(&str, &str)> = parameters.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stack = Stack::start_with(&borrowed).await;
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    // 20:59:50 in San Francisco, whose zone the number (+1 415) gives.
    let late = at("2026-12-08T04:59:50Z");
    stack.set_clock(late, true).await;
    let mut promo = request(MessageType::StreakAlert, "+14155550777", "sf_player");
    promo.timezone = None;
    let promo = outbox.enqueue(promo, ms(late)).await.unwrap();
    assert_eq!(promo.status, Status::Pending);
    eventually_within("the first attempt fails", 10, || async {
        let l = log(&stack, &promo.sms_id).await;
        l.status == Status::Pending && l.attempts == 1
    })
    .await;
    // The retry comes 5 s later, at 21:00:10 by then.
    stack.advance_clock(20.0).await;
    let held = settled(&stack, &promo.sms_id, Status::Deferred).await;
    let eight = at("2026-12-08T16:00:00Z"); // 08:00 in San Francisco
    assert_eq!((held.due_at, held.attempts), (Some(ms(eight)), 1));
    assert_eq!(stub.requests(MESSAGES).len(), 1, "nothing sent at night");
    stub.set_send_status(201);
    stack.set_clock(eight, true).await;
    assert_eq!(reconcile(&stack).await["requeued"], 1);
    let sent = settled(&stack, &promo.sms_id, Status::Sent).await;
    assert_eq!(sent.sent_at, Some(ms(eight)));
    assert_eq!(stub.requests(MESSAGES).len(), 2);
}

const MESSAGES: &str = TWILIO_MESSAGES;
