//! The SMS providers and the sender around them (F-SMS-1, F-SMS-4, F-SMS-15,
//! F-SMS-26): Twilio and DMark against local stubs that check the documented
//! requests, SNS against moto, per-country routing with one fallback, retries
//! with backoff into the dead-letter queue, and permanent failures at once.

mod common;

use base64::Engine;
use common::sms::{outbox, request};
use common::stubs::ProviderStub;
use common::{eventually_within, Stack};
use serde_json::Value;
use versus::sms::store::{SmsLog, SmsStore, Status};
use versus::sms::MessageType;

const WEBHOOKS: &str = "https://api.example.test";
const DLR_SECRET: &str = "dlr-shared-secret";

/// Sends one security alert (transactional: no quiet hours, no consent) through
/// the outbox and the queue, as every caller does.
async fn send(stack: &Stack, phone: &str) -> String {
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(stack, stack.dynamodb().await, &sdk, |_| {});
    let user = format!("u{}", ulid::Ulid::new());
    let log = outbox
        .enqueue(
            request(MessageType::SecurityAlert, phone, &user),
            stack.now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(log.status, Status::Pending);
    log.sms_id
}

async fn log(stack: &Stack, id: &str) -> SmsLog {
    let store = SmsStore::new(
        stack.dynamodb().await,
        &stack.config("sms-sender").tables.sms,
    );
    store.get_log(id).await.unwrap().unwrap()
}

async fn wait_for_status(stack: &Stack, id: &str, status: Status, secs: u64) -> SmsLog {
    eventually_within(&format!("SMS {id} becomes {status:?}"), secs, || async {
        log(stack, id).await.status == status
    })
    .await;
    log(stack, id).await
}

async fn dead_letters(stack: &Stack) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(&versus::db::aws_config().await);
    let url = sqs
        .get_queue_url()
        .queue_name(format!("{}SmsDlq", stack.prefix))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    out.messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect()
}

fn twilio_parameters(stub: &ProviderStub) -> Vec<(&'static str, String)> {
    common::stubs::twilio_parameters(stub, WEBHOOKS)
}

async fn start(parameters: &[(&'static str, String)]) -> Stack {
    let borrowed: Vec<(&str, &str)> = parameters.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Stack::start_with(&borrowed).await
}

const MESSAGES: &str = common::stubs::TWILIO_MESSAGES;

// F-SMS-1: Twilio's REST Messages API gets the documented request.
#[tokio::test]
async fn twilio_gets_the_documented_request() {
    let stub = ProviderStub::start(201).await;
    let mut parameters = twilio_parameters(&stub);
    parameters.push(("SmsProvider", "twilio".into()));
    let stack = start(&parameters).await;
    let id = send(&stack, "+14155550100").await;
    let sent = wait_for_status(&stack, &id, Status::Sent, 10).await;

    let requests = stub.requests(MESSAGES);
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    let basic =
        base64::engine::general_purpose::STANDARD.encode("AC0123456789abcdef:twilio-test-token");
    assert_eq!(r.headers["authorization"], format!("Basic {basic}"));
    assert_eq!(
        r.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let form = r.form();
    assert_eq!(form["To"], "+14155550100");
    assert_eq!(form["From"], "+15005550006");
    assert_eq!(form["Body"], sent.body);
    assert_eq!(
        form["StatusCallback"],
        format!("{WEBHOOKS}/v1/webhooks/twilio/status?sms_id={id}")
    );
    assert_eq!(form.len(), 4);
    assert_eq!(sent.provider.as_deref(), Some("twilio"));
    assert!(sent.provider_message_id.unwrap().starts_with("SM"));
    assert_eq!(sent.attempts, 1);
}

// F-SMS-4: a 503 is retried with backoff, then the log fails and the message
// lands in the dead-letter queue.
#[tokio::test]
async fn a_503_is_retried_then_dead_lettered() {
    let stub = ProviderStub::start(503).await;
    let mut parameters = twilio_parameters(&stub);
    parameters.push(("SmsProvider", "twilio".into()));
    let stack = start(&parameters).await;
    let id = send(&stack, "+14155550101").await;
    // Backoff 1 + 2 + 4 + 8 s between the five attempts.
    let failed = wait_for_status(&stack, &id, Status::Failed, 60).await;
    assert_eq!(failed.attempts, sms_sender::MAX_ATTEMPTS);
    assert!(failed.error.unwrap().contains("503"));
    assert_eq!(stub.requests(MESSAGES).len(), 5);
    eventually_within("the message reaches the DLQ", 20, || async {
        !dead_letters(&stack).await.is_empty()
    })
    .await;
    let parked = dead_letters(&stack).await;
    assert_eq!(parked.len(), 1);
    assert!(parked[0].contains(&id));
    assert_eq!(stub.requests(MESSAGES).len(), 5, "no sixth attempt");
}

// F-SMS-4: a 400 (an invalid number) fails at once, without a retry.
#[tokio::test]
async fn a_400_fails_at_once() {
    let stub = ProviderStub::start(400).await;
    let mut parameters = twilio_parameters(&stub);
    parameters.push(("SmsProvider", "twilio".into()));
    let stack = start(&parameters).await;
    let id = send(&stack, "+14155550102").await;
    let failed = wait_for_status(&stack, &id, Status::Failed, 10).await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.error.unwrap().contains("21211"));
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(stub.requests(MESSAGES).len(), 1);
    assert!(dead_letters(&stack).await.is_empty());
    assert_eq!(log(&stack, &id).await.attempts, 1);
}

async fn moto_sms() -> Vec<Value> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SNS").expect("moto's endpoint");
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["sns"]["SMS"].as_array().cloned().unwrap_or_default()
}

// F-SMS-26: +256 goes to DMark, the rest to SNS; a transient DMark failure
// goes to the fallback (Twilio) exactly once.
#[tokio::test]
async fn routes_by_country_and_falls_back_once() {
    let dmark = ProviderStub::start(503).await;
    let twilio = ProviderStub::start(201).await;
    let mut parameters = twilio_parameters(&twilio);
    parameters.extend([
        ("SmsProvider", "sns".into()),
        ("SmsRoutes", "256=dmark".into()),
        ("SmsFallbackProvider", "twilio".into()),
        ("DmarkBaseUrl", dmark.url.clone()),
        ("DmarkUsername", "versus".into()),
        ("DmarkPassword", "dmark-test-password".into()),
        ("DmarkDlrSecret", DLR_SECRET.into()),
        ("SnsSenderId", "Versus".into()),
    ]);
    let stack = start(&parameters).await;

    let uganda = send(&stack, "+256772100200").await;
    let sent = wait_for_status(&stack, &uganda, Status::Sent, 10).await;
    assert_eq!(sent.provider.as_deref(), Some("twilio"));
    assert_eq!(dmark.requests("/v3/api/send_sms/").len(), 1);
    assert_eq!(twilio.requests(MESSAGES).len(), 1);
    assert_eq!(twilio.requests(MESSAGES)[0].form()["To"], "+256772100200");
    assert_eq!(sent.attempts, 1);

    let us = send(&stack, "+14155550103").await;
    let sent = wait_for_status(&stack, &us, Status::Sent, 10).await;
    assert_eq!(sent.provider.as_deref(), Some("sns"));
    let published = moto_sms().await;
    let mine: Vec<_> = published
        .iter()
        .filter(|m| m["message_id"] == sent.provider_message_id.clone().unwrap().as_str())
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["phone_number"], "+14155550103");
    assert_eq!(mine[0]["message"], sent.body.as_str());
    // Neither the DMark route nor the fallback saw the US number.
    assert_eq!(dmark.requests("/v3/api/send_sms/").len(), 1);
    assert_eq!(twilio.requests(MESSAGES).len(), 1);
}

fn dmark_parameters(stub: &ProviderStub) -> Vec<(&'static str, String)> {
    vec![
        ("SmsProvider", "dmark".into()),
        ("DmarkBaseUrl", stub.url.clone()),
        ("DmarkUsername", "versus".into()),
        ("DmarkPassword", "dmark-test-password".into()),
        ("DmarkDlrSecret", DLR_SECRET.into()),
        ("WebhookBaseUrl", WEBHOOKS.into()),
        ("SmsRetryBaseSeconds", "1".into()),
    ]
}

// F-SMS-1: the DMark token is fetched once for many sends, and again after it
// expires (kept for 90% of its life) or when DMark refuses it.
#[tokio::test]
async fn dmark_token_is_reused_then_refreshed() {
    let stub = ProviderStub::start(200).await;
    // Long-lived first: six sends share one token however slowly they go.
    stub.set_token_ttl(3600);
    let stack = start(&dmark_parameters(&stub)).await;

    let phones: Vec<String> = (0..6).map(|i| format!("+25677210030{i}")).collect();
    let ids: Vec<String> = futures::future::join_all(phones.iter().map(|p| send(&stack, p))).await;
    for id in &ids {
        wait_for_status(&stack, id, Status::Sent, 10).await;
    }
    let tokens = stub.requests("/api/get_token/");
    assert_eq!(tokens.len(), 1, "one token for six sends");
    assert_eq!(tokens[0].method, "POST");
    assert_eq!(
        tokens[0].json(),
        serde_json::json!({"username": "versus", "password": "dmark-test-password"})
    );
    let sends = stub.requests("/v3/api/send_sms/");
    assert_eq!(sends.len(), 6);
    // One token for all six, and the stub refuses any token it did not issue.
    let token = sends[0].headers["authtoken"].clone();
    for r in &sends {
        assert_eq!(r.method, "POST");
        assert_eq!(r.headers["authtoken"], token);
        let body = r.json();
        let id = body["dlr_url"]
            .as_str()
            .unwrap()
            .rsplit_once("&ref=")
            .unwrap()
            .1
            .to_string();
        assert!(ids.contains(&id));
        assert_eq!(
            body,
            serde_json::json!({
                "msg": log(&stack, &id).await.body,
                "numbers": format!("0{}", &log(&stack, &id).await.to.e164()[4..]),
                "dlr_url": format!("{WEBHOOKS}/v1/webhooks/dmark/dlr?secret={DLR_SECRET}&ref={id}"),
            })
        );
        assert!(body["numbers"].as_str().unwrap().starts_with("07"));
    }

    // A long-lived token that DMark revokes early: refused once, a new
    // token (this one lives 4 s), sent.
    stub.set_token_ttl(4);
    stub.revoke_tokens();
    let sends_before = stub.requests("/v3/api/send_sms/").len();
    let revoked = send(&stack, "+256772100312").await;
    let sent = wait_for_status(&stack, &revoked, Status::Sent, 10).await;
    assert_eq!(sent.attempts, 1);
    assert_eq!(stub.requests("/api/get_token/").len(), 2);
    assert_eq!(stub.requests("/v3/api/send_sms/").len(), sends_before + 2);

    // 90% of a 4 s life: a send 4 s later needs a new token.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let later = send(&stack, "+256772100310").await;
    wait_for_status(&stack, &later, Status::Sent, 10).await;
    assert_eq!(stub.requests("/api/get_token/").len(), 3);
}

// F-SMS-15, F-SMS-11: DMark's delivery report, with its shared secret, moves
// the log; a wrong secret is refused.
#[tokio::test]
async fn dmark_delivery_reports() {
    let stub = ProviderStub::start(200).await;
    let stack = start(&dmark_parameters(&stub)).await;
    let delivered = send(&stack, "+256772100400").await;
    let undelivered = send(&stack, "+256772100401").await;
    for id in [&delivered, &undelivered] {
        wait_for_status(&stack, id, Status::Sent, 10).await;
    }
    let dlr = |query: String| {
        let url = format!("{}/v1/webhooks/dmark/dlr?{query}", stack.running.http_url);
        let http = stack.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        dlr(format!("secret=wrong&ref={delivered}&status=DELIVRD")).await,
        403
    );
    assert_eq!(log(&stack, &delivered).await.status, Status::Sent);
    assert_eq!(
        dlr(format!("secret={DLR_SECRET}&status=DELIVRD")).await,
        400
    );
    assert_eq!(
        dlr(format!(
            "secret={DLR_SECRET}&ref={delivered}&status=DELIVRD"
        ))
        .await,
        200
    );
    assert_eq!(log(&stack, &delivered).await.status, Status::Delivered);
    // A report posted as JSON, the way some DLR senders do.
    let posted = stack
        .http
        .post(format!(
            "{}/v1/webhooks/dmark/dlr?secret={DLR_SECRET}&ref={undelivered}",
            stack.running.http_url
        ))
        .json(&serde_json::json!({"status": "UNDELIV"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 200);
    let failed = log(&stack, &undelivered).await;
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.error.as_deref(), Some("dmark: UNDELIV"));
    // A late interim report changes nothing.
    assert_eq!(
        dlr(format!(
            "secret={DLR_SECRET}&ref={delivered}&status=ACCEPTD"
        ))
        .await,
        200
    );
    assert_eq!(log(&stack, &delivered).await.status, Status::Delivered);
}

// F-SMS-4, F-SMS-26: a first provider that hangs past its budget hands the
// message to the fallback once; a message on the fallback stays there on
// every retry, and its failure is recorded under the fallback's name.
#[tokio::test]
async fn a_hanging_provider_falls_back_once_and_the_fallback_keeps_it() {
    use common::stubs::HANG;
    let hanging = ProviderStub::start(HANG).await;
    let mut parameters = twilio_parameters(&hanging);
    parameters.extend([
        ("SmsProvider", "twilio".into()),
        ("SmsFallbackProvider", "console".into()),
        ("SmsSendBudgetSeconds", "1".into()),
    ]);
    let stack = start(&parameters).await;
    let id = send(&stack, "+14155550177").await;
    let sent = wait_for_status(&stack, &id, Status::Sent, 20).await;
    assert_eq!(sent.provider.as_deref(), Some("console"));
    assert!(sent.on_fallback);
    assert_eq!(sent.attempts, 1);
    assert_eq!(hanging.requests(MESSAGES).len(), 1);
    assert_eq!(
        common::sms::local_sms(&stack, "+14155550177").await.len(),
        1
    );

    // Twilio fails transiently, DMark (the fallback) too: every later attempt
    // goes to DMark alone, and the failure names DMark.
    let twilio = ProviderStub::start(503).await;
    let dmark = ProviderStub::start(503).await;
    let mut parameters = twilio_parameters(&twilio);
    parameters.extend([
        ("SmsProvider", "twilio".into()),
        ("SmsFallbackProvider", "dmark".into()),
        ("DmarkBaseUrl", dmark.url.clone()),
        ("DmarkUsername", "versus".into()),
        ("DmarkPassword", "dmark-test-password".into()),
        ("SmsRetryBaseSeconds", "0".into()),
    ]);
    let stack = start(&parameters).await;
    let id = send(&stack, "+14155550178").await;
    let failed = wait_for_status(&stack, &id, Status::Failed, 30).await;
    assert_eq!(failed.provider.as_deref(), Some("dmark"));
    assert_eq!(failed.attempts, sms_sender::MAX_ATTEMPTS);
    assert_eq!(
        twilio.requests(MESSAGES).len(),
        1,
        "the first provider once"
    );
    assert_eq!(
        dmark.requests("/v3/api/send_sms/").len(),
        sms_sender::MAX_ATTEMPTS as usize,
        "every attempt on the fallback"
    );
    eventually_within("the message is dead-lettered", 20, || async {
        dead_letters(&stack).await.iter().any(|b| b.contains(&id))
    })
    .await;
}

// F-SMS-4: with no fallback, a provider that never answers costs one budget
// per attempt; the log ends failed and the message in the dead-letter queue.
#[tokio::test]
async fn a_hanging_provider_without_fallback_ends_failed() {
    use common::stubs::HANG;
    let hanging = ProviderStub::start(HANG).await;
    let mut parameters = twilio_parameters(&hanging);
    parameters.extend([
        ("SmsProvider", "twilio".into()),
        ("SmsSendBudgetSeconds", "1".into()),
        ("SmsRetryBaseSeconds", "0".into()),
    ]);
    let stack = start(&parameters).await;
    let id = send(&stack, "+14155550179").await;
    let failed = wait_for_status(&stack, &id, Status::Failed, 40).await;
    assert!(failed.error.unwrap().contains("no answer within 1 s"));
    assert_eq!(
        hanging.requests(MESSAGES).len(),
        sms_sender::MAX_ATTEMPTS as usize
    );
    eventually_within("the message is dead-lettered", 20, || async {
        dead_letters(&stack).await.iter().any(|b| b.contains(&id))
    })
    .await;
}

// F-SMS-3: the queue is down when the log is written (the SQS endpoint
// refuses connections, as a stopped moto does): the caller still gets its
// pending log, and the reconciler queues it once the time comes.
#[tokio::test]
async fn a_log_the_queue_never_got_is_queued_by_the_reconciler() {
    let stack = start(&[("SmsRequeueAfterSeconds", "1".into())]).await;
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sdk = versus::db::aws_config().await;
    let down = aws_sdk_sqs::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{dead_port}"))
        .build();
    let outbox = versus::sms::outbox::Outbox::new(
        SmsStore::new(
            stack.dynamodb().await,
            &stack.config("profile-api").tables.sms,
        ),
        aws_sdk_sqs::Client::from_conf(down),
        stack.config("profile-api").sms.clone(),
    );
    let log = outbox
        .enqueue(
            request(MessageType::SecurityAlert, "+14155550180", "u-dual"),
            stack.now_ms(),
        )
        .await
        .expect("an SMS failure never fails the caller");
    assert_eq!(log.status, Status::Pending);
    assert!(
        outbox.queue(&log.sms_id).await.is_err(),
        "the queue is down"
    );
    // The requeue time passes on the stack's clock (frozen or running).
    stack.advance_clock(1.5).await;
    // (Unless the minute schedule ran meanwhile: it is the same reconciler.)
    let ran = common::sms::reconcile(&stack).await;
    assert!(ran["requeued"].as_u64().unwrap() <= 1, "{ran}");
    let sent = wait_for_status(&stack, &log.sms_id, Status::Sent, 10).await;
    assert_eq!(sent.attempts, 1);
    assert_eq!(
        common::sms::local_sms(&stack, "+14155550180").await.len(),
        1
    );
}

// F-SMS-4: a sender that dies right after its claim leaves a lease; once it
// runs out the reconciler queues the log again and it is sent once. A log
// out of attempts is failed instead of queued forever.
#[tokio::test]
async fn a_claim_whose_sender_died_is_taken_again() {
    let stack = start(&[
        ("SmsLeaseSeconds", "1".into()),
        ("SmsRequeueAfterSeconds", "1".into()),
    ])
    .await;
    let config = stack.config("sms-sender");
    let store = SmsStore::new(stack.dynamodb().await, &config.tables.sms);
    let phone = versus::phone::PhoneNumber::parse("+14155550181").unwrap();
    let new_log = || {
        SmsLog::pending(
            phone.clone(),
            MessageType::SecurityAlert,
            "New sign-in to your Versus account.".into(),
            None,
            &config.sms,
            stack.now_ms(),
        )
    };
    let killed = new_log();
    store.put_log(&killed).await.unwrap();
    // What a killed sender leaves: its claim, and nothing after it.
    let claimed = store
        .claim(&killed.sms_id, stack.now_ms(), 1000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.status, Status::Sending);
    assert!(
        store
            .claim(&killed.sms_id, stack.now_ms(), 1000)
            .await
            .unwrap()
            .is_none(),
        "a live lease is not taken"
    );
    let exhausted = new_log();
    store.put_log(&exhausted).await.unwrap();
    // Five senders, each dead after its claim (leases that ended at once).
    for _ in 0..sms_sender::MAX_ATTEMPTS {
        let claimed = store
            .claim(&exhausted.sms_id, stack.now_ms() - 60_000, 0)
            .await
            .unwrap();
        assert!(claimed.is_some(), "an expired lease is taken again");
    }
    stack.advance_clock(1.2).await;
    // (The minute schedule may have run first: outcomes are what count.)
    let ran = common::sms::reconcile(&stack).await;
    assert!(ran["requeued"].as_u64().unwrap() <= 1, "{ran}");
    let sent = wait_for_status(&stack, &killed.sms_id, Status::Sent, 10).await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(
        common::sms::local_sms(&stack, "+14155550181").await.len(),
        1
    );
    let failed = log(&stack, &exhausted.sms_id).await;
    assert_eq!(failed.status, Status::Failed);
    assert!(failed.error.unwrap().contains("gave up"));
    // Nothing left in flight: a later run does nothing, nothing goes twice.
    stack.advance_clock(1.2).await;
    let ran = common::sms::reconcile(&stack).await;
    assert_eq!(
        (ran["requeued"].as_u64(), ran["gave_up"].as_u64()),
        (Some(0), Some(0)),
        "{ran}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        common::sms::local_sms(&stack, "+14155550181").await.len(),
        1
    );
}

// Issue 21, F-SMS-17: a stored verification text holds its code only while
// it may still be sent. A retry after a 503 sends the real text; once sent,
// the item holds no code anywhere (the body reads `Your Versus code is ******`).
#[tokio::test]
async fn a_code_is_kept_only_while_its_text_may_still_go() {
    let stub = ProviderStub::start(503).await;
    let mut parameters = twilio_parameters(&stub);
    parameters.extend([
        ("SmsProvider", "twilio".into()),
        ("SmsRetryBaseSeconds", "1".into()),
    ]);
    let stack = start(&parameters).await;
    stack.create_profile("coder", "coder").await;
    let phone = "+256772123499";
    let (status, answer) = stack
        .call(
            "POST",
            "/v1/me/phone/verification",
            Some("coder"),
            Some(&serde_json::json!({ "phone_number": phone }).to_string()),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    eventually_within("the first attempt", 10, || async {
        !stub.requests(MESSAGES).is_empty()
    })
    .await;
    stub.set_send_status(201);
    let logs = common::texts::logs_to(&stack, phone, "phone_verification").await;
    let sent = wait_for_status(&stack, &logs[0].sms_id, Status::Sent, 20).await;
    let bodies: Vec<String> = stub
        .requests(MESSAGES)
        .iter()
        .map(|r| r.form()["Body"].clone())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let code = bodies[0]
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code");
    assert_eq!(bodies[0], bodies[1], "the retry sends the real text");
    assert!(
        sent.body.starts_with("Your Versus code is ******."),
        "{}",
        sent.body
    );
    let item = format!("{:?}", common::sms::raw_log(&stack, &sent.sms_id).await);
    assert!(!item.contains(code), "{item}");
    assert!(!item.contains("redacted_body"), "{item}");
}

// Issue 21: over the SMS flows (a verification, an invitation to a number
// with no account, texts sent, and a failure whose provider error echoes the
// number, as Twilio's does) no log line holds a full number, in any of its
// forms, nor the code or the invite token.
#[tokio::test]
async fn no_log_line_holds_a_number_a_code_or_a_token() {
    use common::texts::{texted_player, Daytime};
    let logs = common::logs::captured();
    let stub = ProviderStub::start(201).await;
    let mut parameters = twilio_parameters(&stub);
    parameters.push(("SmsProvider", "twilio".into()));
    let stack = start(&parameters).await;
    let day = Daytime::for_strangers(&stack).await;
    let (verified, inviter, stranger, failing) = (
        day.number(61),
        day.number(62),
        day.number(63),
        day.number(64),
    );
    let body_to = |to: &str| {
        stub.requests(MESSAGES)
            .iter()
            .map(|r| r.form())
            .find(|f| f["To"] == to)
            .map(|f| f["Body"].clone())
    };
    let sent_to = |to: String| async move {
        eventually_within(&format!("a text to {to}"), 10, || async {
            body_to(&to).is_some()
        })
        .await;
        body_to(&to).unwrap()
    };

    stack.create_profile("logger", "logger").await;
    let request = serde_json::json!({ "phone_number": verified }).to_string();
    let (status, _) = stack
        .call(
            "POST",
            "/v1/me/phone/verification",
            Some("logger"),
            Some(&request),
        )
        .await;
    assert_eq!(status, 202);
    let text = sent_to(verified.clone()).await;
    let code = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a code")
        .to_string();

    texted_player(&stack, "inviter", "inviter", &inviter, day.timezone).await;
    let invite = serde_json::json!({"phone_number": stranger, "challenge_type": "prompt_duel"});
    let (status, _) = stack
        .call(
            "POST",
            "/v1/invitations/sms",
            Some("inviter"),
            Some(&invite.to_string()),
        )
        .await;
    assert_eq!(status, 201);
    let text = sent_to(stranger.clone()).await;
    let start = text.find("/invite/").expect("a link") + "/invite/".len();
    let token = text[start..start + 43].to_string();

    stub.set_send_status(400);
    let id = send(&stack, &failing).await;
    let failed = wait_for_status(&stack, &id, Status::Failed, 10).await;
    let error = failed.error.unwrap();
    assert!(error.contains("is not a valid phone number"), "{error}");
    assert!(
        !error.contains(&failing[1..]),
        "the record keeps no number: {error}"
    );

    let lines = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    // The provider's error reached a log line, with the number masked.
    let masked = versus::phone::PhoneNumber::parse(&failing)
        .unwrap()
        .redact_in(&failing);
    assert!(
        lines
            .lines()
            .any(|l| l.contains(&id) && l.contains(&masked)),
        "the failure is logged with {masked}"
    );
    for number in [&verified, &inviter, &stranger, &failing] {
        let phone = versus::phone::PhoneNumber::parse(number).unwrap();
        for form in [
            number.to_string(),
            number[1..].to_string(),
            phone.local_form(),
        ] {
            assert!(!holds_number(&lines, &form), "{form} is in a log line");
        }
    }
    assert!(!holds_number(&lines, &code), "the code is in a log line");
    assert!(!lines.contains(&token), "the token is in a log line");
}

/// `digits` stands in `text` as a number of its own, not inside a longer
/// one (a 6-digit code is found inside some millisecond timestamp of a busy
/// log by chance).
fn holds_number(text: &str, digits: &str) -> bool {
    let is_digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    text.match_indices(digits).any(|(at, found)| {
        let before = text[..at].chars().next_back();
        let after = text[at + found.len()..].chars().next();
        // A leading `+` is part of the number, not a digit before it.
        !is_digit(before) && !is_digit(after)
    })
}
