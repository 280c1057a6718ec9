//! A proxy in front of DynamoDB Local that counts the calls going through it,
//! by operation: how the benches measure DynamoDB requests per unit of work.
//! Started with a heat meter ([`start_metered`]), it also attributes every
//! call's capacity units to the partition keys it touched (`crate::heat`).

use crate::heat::{self, Heat, Schema, Written};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Calls by operation (`GetItem`, `TransactWriteItems`, ...).
pub type Counts = Arc<Mutex<BTreeMap<String, usize>>>;

/// Units by partition key, shared with the bench that reads them.
pub type Meter = Arc<Mutex<Heat>>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    counts: Counts,
    heat: Option<Meter>,
}

/// Starts the proxy in front of `upstream` and points every DynamoDB client
/// built from now on at it (`AWS_ENDPOINT_URL_DYNAMODB`).
pub async fn start(upstream: &str) -> Counts {
    serve(upstream, None).await
}

/// [`start`], with the heat meter on every call.
pub async fn start_metered(upstream: &str) -> (Counts, Meter) {
    let meter = Meter::default();
    (serve(upstream, Some(meter.clone())).await, meter)
}

async fn serve(upstream: &str, heat: Option<Meter>) -> Counts {
    let counts: Counts = Arc::default();
    let proxy = Proxy {
        upstream: upstream.to_string(),
        http: reqwest::Client::new(),
        counts: counts.clone(),
        heat,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &url);
    counts
}

/// `total/n` and `op per-n, ...` of what was counted.
pub fn per(counts: &Counts, n: usize) -> (f64, String) {
    let counts = counts.lock().unwrap();
    let total: usize = counts.values().sum();
    let by_op: Vec<String> = counts
        .iter()
        .map(|(op, c)| format!("{op} {:.2}", *c as f64 / n as f64))
        .collect();
    (total as f64 / n as f64, by_op.join(", "))
}

/// Forwards a DynamoDB call as it is and counts it by its `X-Amz-Target`.
async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, HeaderMap, Bytes) {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("?")
        .to_string();
    *proxy
        .counts
        .lock()
        .unwrap()
        .entry(operation.clone())
        .or_default() += 1;
    let Some(meter) = proxy.heat.clone() else {
        let (status, out, body) = proxy.send(method, &uri, &headers, body).await;
        return (status, out, body);
    };
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return proxy.send(method, &uri, &headers, body).await;
    };
    proxy.learn_tables(&request, &headers, &meter).await;
    request["ReturnConsumedCapacity"] = Value::from("INDEXES");
    let writes = if heat::is_write(&operation) {
        heat::written_keys(&operation, &request, &meter.lock().unwrap())
    } else {
        vec![]
    };
    let mut before = vec![];
    for (table, key) in &writes {
        before.push(proxy.image(table, key, &headers).await);
    }
    let body = Bytes::from(serde_json::to_vec(&request).unwrap());
    let (status, out, answer) = proxy.send(method, &uri, &headers, body).await;
    let consumed = serde_json::from_slice::<Value>(&answer)
        .map(|a| heat::consumed(&a))
        .unwrap_or_default();
    if heat::is_write(&operation) {
        let mut written = vec![];
        for ((table, key), before) in writes.iter().zip(before) {
            let after = proxy.image(table, key, &headers).await;
            written.push(Written {
                table: table.clone(),
                before,
                after,
            });
        }
        meter.lock().unwrap().record_write(&consumed, &written);
    } else if operation == "ExecuteStatement" {
        if let Ok(answer) = serde_json::from_slice::<Value>(&answer) {
            meter.lock().unwrap().record_statement(&request, &answer);
        }
    } else {
        let mut heat = meter.lock().unwrap();
        let keys = heat::read_keys(&operation, &request, &heat);
        heat.record_read(&consumed, &keys);
    }
    (status, out, answer)
}

impl Proxy {
    async fn send(
        &self,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> (axum::http::StatusCode, HeaderMap, Bytes) {
        let url = format!("{}{}", self.upstream, uri.path());
        crate::relay::relay(&self.http, method, &url, headers, body)
            .await
            .expect("DynamoDB Local answers")
    }

    /// One uncounted call straight to DynamoDB Local, with the caller's
    /// credentials (DynamoDB Local keeps a database per access key).
    async fn direct(&self, operation: &str, body: Value, headers: &HeaderMap) -> Value {
        let mut request = self
            .http
            .post(format!("{}/", self.upstream))
            .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.to_string());
        if let Some(auth) = headers.get("authorization") {
            request = request.header("authorization", auth);
        }
        match request.send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// An item as it is now (`None`: absent).
    async fn image(&self, table: &str, key: &Value, headers: &HeaderMap) -> Option<Value> {
        let answer = self
            .direct("GetItem", heat::image_request(table, key), headers)
            .await;
        answer.get("Item").cloned()
    }

    /// Reads the key schema of every table the request names, once.
    async fn learn_tables(&self, request: &Value, headers: &HeaderMap, meter: &Meter) {
        let mut tables: Vec<String> = vec![];
        if let Some(t) = request["TableName"].as_str() {
            tables.push(t.into());
        }
        if let Some(t) = request["Statement"]
            .as_str()
            .and_then(|s| s.split('"').nth(1))
        {
            tables.push(t.into());
        }
        if let Some(items) = request["RequestItems"].as_object() {
            tables.extend(items.keys().cloned());
        }
        for item in request["TransactItems"].as_array().into_iter().flatten() {
            for part in item.as_object().into_iter().flat_map(|o| o.values()) {
                if let Some(t) = part["TableName"].as_str() {
                    tables.push(t.into());
                }
            }
        }
        for table in tables {
            if meter.lock().unwrap().schema(&table).is_some() {
                continue;
            }
            let described = self
                .direct("DescribeTable", json!({ "TableName": table }), headers)
                .await;
            if described["Table"].is_object() {
                let schema = Schema::from_description(&described["Table"]);
                meter.lock().unwrap().learn(&table, schema);
            }
        }
    }
}
