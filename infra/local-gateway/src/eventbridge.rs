//! EventBridge, locally: `PutEvents` (the AWS JSON 1.1 protocol every AWS
//! SDK speaks: `POST /` with `X-Amz-Target: AWSEvents.PutEvents`) on the
//! HTTP port, so `AWS_ENDPOINT_URL_EVENTBRIDGE=<gateway>` makes a real SDK
//! client publish here. Each accepted entry becomes an event shaped as
//! EventBridge delivers it; every rule of the template on its bus whose
//! pattern matches it invokes its function asynchronously, as Lambda does:
//! a failed invocation is retried (`MaximumRetryAttempts`, 2 by default;
//! after 1 s and 2 s here, after about 1 and 2 minutes on AWS), then its
//! record goes to the on-failure destination queue.
//!
//! Patterns: exact values (strings, numbers, booleans, null), `prefix`,
//! `exists` and `anything-but` (values or a list), nested objects, and
//! arrays in the event (any element matching).

use crate::template::{AsyncConfig, EventRule};
use crate::Gateway;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::SubsecRound;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// At most this many entries per request (PutEvents' limit).
pub const MAX_ENTRIES: usize = 10;
/// At most this many bytes of entries per request (256 KB).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Does `event` match `pattern` (EventBridge's content filtering)?
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Value::Object(fields) = pattern else {
        return false;
    };
    fields.iter().all(|(name, wanted)| {
        let actual = event.get(name);
        match wanted {
            Value::Object(_) => actual.is_some_and(|a| a.is_object() && matches(wanted, a)),
            Value::Array(options) => options.iter().any(|option| value_matches(option, actual)),
            _ => false,
        }
    })
}

/// One option of a pattern's array against the event's value (or values).
fn value_matches(option: &Value, actual: Option<&Value>) -> bool {
    if let Value::Object(rule) = option {
        if let Some(exists) = rule.get("exists").and_then(Value::as_bool) {
            return actual.is_some() == exists;
        }
    }
    let candidates: Vec<&Value> = match actual {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => return false,
    };
    candidates.into_iter().any(|v| match option {
        Value::Object(rule) => {
            if let Some(prefix) = rule.get("prefix").and_then(Value::as_str) {
                return v.as_str().is_some_and(|s| s.starts_with(prefix));
            }
            if let Some(excluded) = rule.get("anything-but") {
                return match excluded {
                    Value::Array(list) => !list.contains(v),
                    single => single != v,
                };
            }
            false
        }
        exact => exact == v,
    })
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

/// `POST /` with `X-Amz-Target: AWSEvents.PutEvents`.
pub async fn put_events(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if target != "AWSEvents.PutEvents" {
        return error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("the local gateway plays EventBridge's PutEvents only, not {target:?}"),
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "the body is not a JSON object",
            )
        }
    };
    let entries = match request.get("Entries") {
        Some(Value::Array(entries)) if (1..=MAX_ENTRIES).contains(&entries.len()) => entries,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!("Entries must be a list of 1 to {MAX_ENTRIES} entries"),
            )
        }
    };
    if body.len() > MAX_REQUEST_BYTES {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Total size of the entries in the request is over the limit.",
        );
    }
    let buses: Vec<&str> = gateway.event_rules.iter().map(|r| r.bus.as_str()).collect();
    // A name or an ARN; absent means the default bus.
    let bus_of = |entry: &Value| -> Option<String> {
        match entry.get("EventBusName") {
            None | Some(Value::Null) => Some("default".into()),
            Some(Value::String(b)) => Some(b.rsplit('/').next().unwrap_or(b).to_string()),
            Some(_) => None,
        }
    };
    // Every bus is checked before any entry is delivered: a refused request
    // delivers nothing, so the caller's retry cannot deliver twice.
    if let Some(unknown) = entries
        .iter()
        .filter_map(bus_of)
        .find(|b| b != "default" && !buses.contains(&b.as_str()))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException",
            &format!("Event bus {unknown} does not exist."),
        );
    }
    let mut results = Vec::new();
    let mut failed = 0;
    let now = gateway.clock.now();
    for entry in entries {
        let Some(bus_name) = bus_of(entry) else {
            failed += 1;
            results.push(json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "EventBusName must be a string."}));
            continue;
        };
        let bus_name = bus_name.as_str();
        match event_of(entry, now) {
            Ok(event) => {
                results.push(json!({"EventId": event["id"]}));
                deliver(&gateway, bus_name, event);
            }
            Err((code, message)) => {
                failed += 1;
                results.push(json!({"ErrorCode": code, "ErrorMessage": message}));
            }
        }
    }
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"FailedEntryCount": failed, "Entries": results}).to_string(),
    )
        .into_response()
}

/// The event EventBridge makes of an entry, or the entry's error.
fn event_of(
    entry: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, (&'static str, String)> {
    let text = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (Some(source), Some(detail_type), Some(detail)) =
        (text("Source"), text("DetailType"), text("Detail"))
    else {
        return Err((
            "InvalidArgument",
            "Parameters Source, DetailType and Detail are required.".into(),
        ));
    };
    let detail: Value = match serde_json::from_str(detail) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Err(("MalformedDetail", "Detail is malformed.".into())),
    };
    let time = text("Time")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or(now);
    let mut event = EventBridgeEvent::<Value>::default();
    event.version = Some("0".into());
    event.id = Some(uuid_like());
    event.detail_type = detail_type.into();
    event.source = source.into();
    event.account = Some(crate::template::ACCOUNT_ID.into());
    event.time = Some(time.trunc_subsecs(0));
    event.region = Some(crate::template::REGION_FALLBACK.into());
    event.resources = Some(
        entry
            .get("Resources")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .unwrap_or_default(),
    );
    event.detail = detail;
    // Rules match patterns against the event's JSON, as EventBridge does.
    serde_json::to_value(event).map_err(|e| ("InternalException", e.to_string()))
}

/// An id shaped like EventBridge's (a UUID), from a fresh ULID's bits.
fn uuid_like() -> String {
    let hex = format!("{:032x}", u128::from(ulid::Ulid::new()));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Invokes, in the background, every function whose rule on `bus` matches.
fn deliver(gateway: &Arc<Gateway>, bus: &str, event: Value) {
    let rules: Vec<EventRule> = gateway
        .event_rules
        .iter()
        .filter(|r| r.bus == bus && matches(&r.pattern, &event))
        .cloned()
        .collect();
    for rule in rules {
        let gateway = gateway.clone();
        let event = event.clone();
        tokio::spawn(async move { invoke_async(&gateway, &rule, event).await });
    }
}

/// Lambda's asynchronous invocation: retries, then the on-failure destination.
async fn invoke_async(gateway: &Gateway, rule: &EventRule, event: Value) {
    let config: AsyncConfig = gateway
        .async_configs
        .get(&rule.function)
        .cloned()
        .unwrap_or(AsyncConfig {
            maximum_retry_attempts: 2,
            on_failure_queue: None,
        });
    let mut attempts = 0u32;
    let error = loop {
        attempts += 1;
        match gateway.invoke(&rule.function, event.clone()).await {
            Ok(_) => return,
            Err(e) if attempts > config.maximum_retry_attempts => break e,
            Err(e) => {
                tracing::warn!(rule = %rule.name, attempt = attempts, error = %e, "asynchronous invocation failed; retrying");
                tokio::time::sleep(Duration::from_secs(u64::from(attempts))).await;
            }
        }
    };
    tracing::error!(rule = %rule.name, attempts, error = %error, "asynchronous invocation failed; retries spent");
    let Some(queue) = config.on_failure_queue else {
        return;
    };
    let Some((url, _)) = gateway.queue_urls.get(&queue).cloned() else {
        return;
    };
    let record = json!({
        "version": "1.0",
        "timestamp": gateway.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "requestContext": {
            "requestId": uuid_like(),
            "functionArn": format!("arn:aws:lambda:{}:{}:function:{}:$LATEST", crate::template::REGION_FALLBACK, crate::template::ACCOUNT_ID, rule.function),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": error},
    });
    if let Err(e) = gateway
        .sqs
        .send_message()
        .queue_url(url)
        .message_body(record.to_string())
        .send()
        .await
    {
        tracing::error!(error = %versus::db::DisplayErrorContext(&e), "on-failure destination unavailable");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_eventbridge_does() {
        let event = json!({
            "source": "chat", "detail-type": "DirectMessageCreated",
            "detail": {"thread_id": "t1", "tags": ["a", "b"], "n": 5, "kind": "new_login"}
        });
        assert!(matches(
            &json!({"detail-type": ["DirectMessageCreated"]}),
            &event
        ));
        assert!(matches(
            &json!({"source": ["x", "chat"], "detail": {"n": [5]}}),
            &event
        ));
        assert!(!matches(
            &json!({"detail-type": ["PaymentSettled"]}),
            &event
        ));
        assert!(
            !matches(&json!({"detail": {"n": ["5"]}}), &event),
            "types are exact"
        );
        assert!(
            matches(&json!({"detail": {"tags": ["b"]}}), &event),
            "any element of an array"
        );
        assert!(matches(
            &json!({"detail": {"thread_id": [{"prefix": "t"}]}}),
            &event
        ));
        assert!(matches(
            &json!({"detail": {"missing": [{"exists": false}]}}),
            &event
        ));
        assert!(!matches(
            &json!({"detail": {"missing": [{"exists": true}]}}),
            &event
        ));
        assert!(matches(
            &json!({"detail": {"kind": [{"anything-but": ["password_changed"]}]}}),
            &event
        ));
        assert!(!matches(
            &json!({"detail": {"kind": [{"anything-but": "new_login"}]}}),
            &event
        ));
        assert!(!matches(
            &json!({"detail": {"thread_id": {"deeper": ["x"]}}}),
            &event
        ));
        assert!(
            !matches(&json!({"source": "chat"}), &event),
            "values are lists"
        );
    }
}
