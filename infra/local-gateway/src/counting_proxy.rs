//! A proxy in front of DynamoDB Local that counts the calls going through it,
//! by operation: how the benches measure DynamoDB requests per unit of work.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Calls by operation (`GetItem`, `TransactWriteItems`, ...).
pub type Counts = Arc<Mutex<BTreeMap<String, usize>>>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    counts: Counts,
}

/// Starts the proxy in front of `upstream` and points every DynamoDB client
/// built from now on at it (`AWS_ENDPOINT_URL_DYNAMODB`).
pub async fn start(upstream: &str) -> Counts {
    let counts: Counts = Arc::default();
    let proxy = Proxy {
        upstream: upstream.to_string(),
        http: reqwest::Client::new(),
        counts: counts.clone(),
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
    *proxy.counts.lock().unwrap().entry(operation).or_default() += 1;
    let mut request = proxy
        .http
        .request(method, format!("{}{}", proxy.upstream, uri.path()))
        .body(body);
    for (name, value) in headers.iter().filter(|(n, _)| *n != "host") {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("DynamoDB Local answers");
    let status = response.status();
    let mut out = HeaderMap::new();
    for (name, value) in response.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out.insert(name, value.clone());
        }
    }
    (status, out, response.bytes().await.unwrap_or_default())
}
