//! The local gateway's SQS event source: it polls moto, invokes the function
//! with an SQS event, deletes what succeeded and leaves batch item failures
//! on the queue (invisible until the visibility timeout).

mod common;

use aws_sdk_sqs::types::QueueAttributeName;
use common::Stack;
use serde_json::json;

async fn counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (i64, i64) {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    let get = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(-1);
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test]
async fn successes_are_deleted_and_failures_stay_in_flight() {
    let stack = Stack::start().await;
    let url = stack
        .config("ws-matchmaking")
        .invitation_timeouts_queue_url
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&versus::db::aws_config().await);
    stack.create_profile("sa", "sa_name").await;
    stack.create_profile("sb", "sb_name").await;
    // A direct invitation is valid for a day: its timeout is not due, so the
    // function reports it as a batch item failure.
    let (_, inv) = stack
        .call(
            "POST",
            "/v1/invitations",
            Some("sa"),
            Some(r#"{"username":"sb_name","challenge_type":"duel"}"#),
        )
        .await;
    for body in [
        json!({"invitation_id": inv["invitation_id"]}).to_string(),
        "unreadable".to_string(),
    ] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .delay_seconds(0)
            .send()
            .await
            .unwrap();
    }
    common::eventually(
        "the poller takes both, deletes one, leaves one in flight",
        || async { counts(&sqs, &url).await == (0, 1) },
    )
    .await;
    // The invitation was left alone.
    let (_, still) = stack
        .call(
            "GET",
            &format!("/v1/invitations/{}", inv["invitation_id"].as_str().unwrap()),
            Some("sb"),
            None,
        )
        .await;
    assert_eq!(still["status"], "pending");
}
