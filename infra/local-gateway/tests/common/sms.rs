//! SMS helpers shared by the SMS test files.

use super::Stack;
use serde_json::Value;
use versus::sms::store::SmsStore;

/// What the console provider "sent" to `to`, newest first.
pub async fn local_sms(stack: &Stack, to: &str) -> Vec<Value> {
    let url = format!(
        "{}/_local/sms?to={}",
        stack.running.http_url,
        to.replace('+', "%2B")
    );
    let body: Value = stack
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["messages"].as_array().cloned().unwrap_or_default()
}

pub fn outbox(
    stack: &Stack,
    client: aws_sdk_dynamodb::Client,
    sdk: &aws_config::SdkConfig,
    adjust: impl FnOnce(&mut versus::config::SmsConfig),
) -> versus::sms::outbox::Outbox {
    let mut config = stack.config("profile-api").sms.clone();
    adjust(&mut config);
    versus::sms::outbox::Outbox::new(
        SmsStore::new(client, &stack.config("profile-api").tables.sms),
        aws_sdk_sqs::Client::new(sdk),
        config,
    )
}

/// A request that passes every rule a test is not about: verified, consented, Kampala time.
pub fn request(
    message_type: versus::sms::MessageType,
    phone: &str,
    user: &str,
) -> versus::sms::outbox::SmsRequest {
    local_gateway::fixtures::sms_request(message_type, phone, user)
}

/// The reason of every suppressed SmsLog in the stack's sms table ("" if none).
pub async fn suppressed_reasons(stack: &Stack) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let client = stack.dynamodb().await;
    let table = stack.config("profile-api").tables.sms;
    let mut reasons = vec![];
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(&table)
            .filter_expression("begins_with(pk, :p) AND #s = :s")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":p", AttributeValue::S("SMS#".into()))
            .expression_attribute_values(":s", AttributeValue::S("suppressed".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        reasons.extend(page.items().iter().map(|i| {
            i.get("reason")
                .and_then(|r| r.as_s().ok())
                .cloned()
                .unwrap_or_default()
        }));
        start = page.last_evaluated_key;
        if start.is_none() {
            return reasons;
        }
    }
}

/// The phone verification of the stack's profile-api, for tests that pass `now`.
pub fn verification(
    stack: &Stack,
    client: aws_sdk_dynamodb::Client,
    sdk: &aws_config::SdkConfig,
) -> versus::sms::verification::Verification {
    let config = stack.config("profile-api");
    let outbox = versus::sms::outbox::Outbox::new(
        SmsStore::new(client.clone(), &config.tables.sms),
        aws_sdk_sqs::Client::new(sdk),
        config.sms.clone(),
    );
    versus::wiring::verification(&client, &config, outbox)
}

/// Runs the SMS reconciler now (`ReconcileSms`) and returns its result.
pub async fn reconcile(stack: &Stack) -> Value {
    stack
        .http
        .post(format!(
            "{}/_local/schedules/ReconcileSms",
            stack.running.http_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A log's item as stored, every attribute (what a thief reading the table sees).
#[allow(dead_code)]
pub async fn raw_log(
    stack: &Stack,
    id: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    stack
        .dynamodb()
        .await
        .get_item()
        .table_name(&stack.config("profile-api").tables.sms)
        .set_key(Some(versus::keys::sms::log_key(id)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the log exists")
}

/// An SNS event as the SMS events topic delivers it (the sample under
/// `events/webhooks/`, every field AWS sends), carrying `message`.
pub fn topic_event(message: &Value) -> Value {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/webhooks/sns-delivery-event.json"
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(sample).unwrap()).unwrap();
    event["Records"][0]["Sns"]["Message"] = Value::String(message.to_string());
    event
}

/// A pending security alert to `to`, due at `at_ms`, put straight into the
/// table (as a text in flight from before a change would be).
pub async fn put_pending_alert(
    store: &SmsStore,
    config: &versus::Config,
    to: &str,
    body: &str,
    at_ms: i64,
) -> versus::sms::store::SmsLog {
    let log = versus::sms::store::SmsLog::pending(
        versus::phone::PhoneNumber::parse(to).unwrap(),
        versus::sms::MessageType::SecurityAlert,
        body.into(),
        None,
        &config.sms,
        at_ms,
    );
    store.put_log(&log).await.unwrap();
    log
}
