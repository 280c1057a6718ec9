//! Writes that could half-happen, under faults (issue 21; F-SMS-3,
//! F-SMS-19, F-MM-6): DynamoDB or SQS fails in the middle of a use case,
//! and what is stored afterwards is all of it or none of it. This binary
//! talks to DynamoDB Local and moto through the fault proxies of
//! `common::faults`; each test fails only its own stack's requests.

mod common;

use common::faults;
use common::texts::{battle_items, logs_to, sms_items, texted_player, Daytime};
use common::Stack;
use serde_json::json;
use versus::sms::store::Status;

// The commit of an SMS invitation fails after its limits were computed: 503,
// nothing stored (no invitation, no token, no log, no counter), and the same
// request then succeeds.
#[tokio::test]
async fn a_failed_invitation_commit_leaves_nothing_and_the_retry_goes() {
    let faults = faults::install();
    let stack = Stack::start().await;
    let day = Daytime::for_strangers(&stack).await;
    let friend = day.number(12);
    texted_player(&stack, "alice", "alice", &day.number(11), day.timezone).await;
    let body = json!({"phone_number": friend, "challenge_type": "prompt_duel"}).to_string();
    let invite = || stack.call("POST", "/v1/invitations/sms", Some("alice"), Some(&body));

    // Only the write that carries the invitation fails: whatever was
    // written before it (limit counters, once) would stay.
    faults.fail("TransactWriteItems", &[&stack.prefix, "INVITATION#"]);
    let (status, failed) = invite().await;
    assert_eq!(status, 503, "{failed}");
    assert_eq!(failed["error"]["code"], "service_unavailable", "{failed}");
    assert!(battle_items(&stack, "INVITATION#").await.is_empty());
    assert!(battle_items(&stack, "INVITE#").await.is_empty());
    assert!(sms_items(&stack, "SMS#").await.is_empty());
    assert!(
        sms_items(&stack, "LIMIT#").await.is_empty(),
        "no counter spent"
    );

    faults.heal(&stack.prefix);
    let (status, invited) = invite().await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["sms"]["status"], "pending");
    assert_eq!(battle_items(&stack, "INVITATION#").await.len(), 1);
    assert_eq!(battle_items(&stack, "INVITE#").await.len(), 1);
    assert_eq!(logs_to(&stack, &friend, "battle_invitation").await.len(), 1);
}

// F-MM-6 with invite_phone: with SQS failing the code and its text are both
// written (the reconciler queues the text when SQS is back); with DynamoDB
// failing neither is: no code exists without its text.
#[tokio::test]
async fn invite_phone_under_faults_leaves_no_code_without_its_text() {
    let faults = faults::install();
    let stack = Stack::start().await;
    let day = Daytime::for_strangers(&stack).await;
    let friend = day.number(22);
    texted_player(&stack, "bob", "bob", &day.number(21), day.timezone).await;
    let body = json!({"challenge_type": "prompt_duel", "invite_phone": friend}).to_string();
    let create = || stack.call("POST", "/v1/matches/private", Some("bob"), Some(&body));

    faults.fail("SendMessage", &[&stack.prefix]);
    let (status, made) = create().await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["sms"]["status"], "pending");
    assert_eq!(battle_items(&stack, "PRIVATE#").await.len(), 1);
    let texts = logs_to(&stack, &friend, "battle_invitation").await;
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].status, Status::Pending, "not queued: SQS is down");
    faults.heal(&stack.prefix);
    // Due again after the requeue time: the reconciler queues it.
    stack
        .advance_clock(stack.config("profile-api").sms.requeue_after_secs as f64 + 1.0)
        .await;
    assert_eq!(common::sms::reconcile(&stack).await["requeued"], 1);
    common::eventually("the code's text is sent", || async {
        logs_to(&stack, &friend, "battle_invitation").await[0].status == Status::Sent
    })
    .await;

    // Only the write that carries the code fails.
    faults.fail("TransactWriteItems", &[&stack.prefix, "PRIVATE#"]);
    let (status, failed) = create().await;
    assert_eq!(status, 503, "{failed}");
    assert_eq!(
        battle_items(&stack, "PRIVATE#").await.len(),
        1,
        "no new code"
    );
    assert_eq!(logs_to(&stack, &friend, "battle_invitation").await.len(), 1);
    faults.heal(&stack.prefix);
}

// F-SMS-3, F-JOB-5: a reconciler run whose queue request fails has moved the
// text (due again after the requeue time) and queued nothing; the next run
// after that time queues it, and it is sent once.
#[tokio::test]
async fn a_reconciler_run_that_cannot_queue_leaves_the_text_due() {
    let faults = faults::install();
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let day = Daytime::for_strangers(&stack).await;
    let friend = day.number(32);
    texted_player(&stack, "cal", "cal", &day.number(31), day.timezone).await;
    let body = json!({"challenge_type": "prompt_duel", "invite_phone": friend}).to_string();
    // The queue never gets the text when it is written...
    faults.fail("SendMessage", &[&stack.prefix]);
    let (status, made) = stack
        .call("POST", "/v1/matches/private", Some("cal"), Some(&body))
        .await;
    assert_eq!(status, 201, "{made}");
    // ... nor when the reconciler releases it.
    faults.fail("SendMessageBatch", &[&stack.prefix]);
    let requeue = stack.config("sms-sender").sms.requeue_after_secs as f64 + 1.0;
    stack.advance_clock(requeue).await;
    assert_eq!(common::sms::reconcile(&stack).await["requeued"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let texts = logs_to(&stack, &friend, "battle_invitation").await;
    assert_eq!(texts[0].status, Status::Pending, "not queued: SQS is down");
    // Too early for another try: nothing moves.
    assert_eq!(common::sms::reconcile(&stack).await["requeued"], 0);
    faults.heal(&stack.prefix);
    stack.advance_clock(requeue).await;
    assert_eq!(common::sms::reconcile(&stack).await["requeued"], 1);
    common::eventually("the text is sent", || async {
        logs_to(&stack, &friend, "battle_invitation").await[0].status == Status::Sent
    })
    .await;
    assert_eq!(logs_to(&stack, &friend, "battle_invitation").await.len(), 1);
}
