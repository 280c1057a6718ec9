//! The local gateway's clock (`/_local/clock`): what the hosted functions
//! and the schedules read; set, frozen, advanced, and refused when the
//! change is not one it knows.

mod common;

use common::Stack;
use serde_json::Value;

async fn change(stack: &Stack, body: &str) -> (u16, Value) {
    let response = stack
        .http
        .post(format!("{}/_local/clock", stack.running.http_url))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_clock_is_set_frozen_advanced_and_read_by_the_functions() {
    let stack = Stack::start().await;
    let (status, view) = change(&stack, r#"{"set":"2026-12-24T20:59:00Z","frozen":true}"#).await;
    assert_eq!(
        (status, view["mode"].as_str()),
        (200, Some("frozen")),
        "{view}"
    );
    assert_eq!(view["now"], "2026-12-24T20:59:00.000Z");
    let (status, view) = change(&stack, r#"{"advance_secs":90}"#).await;
    assert_eq!(
        (status, view["now"].as_str()),
        (200, Some("2026-12-24T21:00:30.000Z"))
    );
    // A hosted function reads it: the profile it makes is stamped then.
    stack.create_profile("clocked", "clocked").await;
    let users = stack.config("profile-api").tables.users;
    let item = stack
        .dynamodb()
        .await
        .get_item()
        .table_name(users)
        .set_key(Some(versus::keys::users::profile_key("clocked")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["created_at"].as_n().unwrap(), "1798146030000");
    // Back to the system clock.
    let (status, view) = change(&stack, r#"{"system":true}"#).await;
    assert_eq!((status, view["mode"].as_str()), (200, Some("system")));
}

#[tokio::test]
async fn an_advance_can_run_the_schedules_it_skipped() {
    let stack = Stack::start().await;
    change(&stack, r#"{"set":"2026-12-24T18:59:30Z","frozen":true}"#).await;
    let (status, view) = change(&stack, r#"{"advance_secs":60,"run_schedules":true}"#).await;
    assert_eq!(status, 200, "{view}");
    let ran = view["ran"].as_array().unwrap();
    // 19:00 came: the hourly streak alerts for their 19:00 slot; the SMS
    // reconciler is a rate, not a slot, and the others' times did not come.
    assert_eq!(
        ran.iter()
            .map(|r| (
                r["schedule"].as_str().unwrap(),
                r["slot"].as_str().unwrap(),
                r["ok"].as_bool().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("StreakAlerts", "2026-12-24T19:00:00Z", true)],
        "{view}"
    );
}

// The hostile set: nothing but one known change is taken, and a refused
// change moves nothing.
#[tokio::test]
async fn clock_changes_it_does_not_know_are_refused() {
    let stack = Stack::start().await;
    change(&stack, r#"{"set":"2026-12-24T10:00:00Z","frozen":true}"#).await;
    for body in [
        "[]",
        "\"set\"",
        "{oops",
        "{}",
        r#"{"set":"tomorrow"}"#,
        r#"{"set":12}"#,
        r#"{"advance_secs":-60}"#,
        r#"{"advance_secs":"60"}"#,
        r#"{"advance_secs":1e12}"#,
        r#"{"advance_secs":60,"frozen":false}"#,
        r#"{"set":"2026-12-24T10:00:00Z","advance_secs":60}"#,
        r#"{"system":false}"#,
        r#"{"rewind":true}"#,
        &format!(r#"{{"set":"{}"}}"#, "9".repeat(70_000)),
    ] {
        let (status, answer) = change(&stack, body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid_clock_change")),
            "{body:.80}: {answer}"
        );
    }
    assert_eq!(stack.now().to_rfc3339(), "2026-12-24T10:00:00+00:00");
}
