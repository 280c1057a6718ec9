//! Faults on demand: a proxy in front of DynamoDB Local and one in front of
//! moto's SQS. A test binary that calls [`install`] first points this
//! process's SDK clients (the functions run in-process) at the proxies; a
//! test then makes one operation fail for its own stack only (the request
//! names the stack's unique table or queue prefix) and heals it again.
//! A failed call is answered like AWS answers an internal error, HTTP 500,
//! which the SDK retries and then reports.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Debug)]
struct Rule {
    /// The operation, as the `X-Amz-Target` header ends (`.TransactWriteItems`).
    operation: String,
    /// Texts the request body holds, all of them (a stack's prefix, a key).
    contains: Vec<String>,
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
}

impl Faults {
    /// From now on, `operation` fails for requests that mention all of
    /// `contains` (the stack's prefix first).
    pub fn fail(&self, operation: &str, contains: &[&str]) {
        self.rules.lock().unwrap().push(Rule {
            operation: format!(".{operation}"),
            contains: contains.iter().map(|c| c.to_string()).collect(),
        });
    }

    /// Every fault for requests of the stack with this prefix is gone.
    pub fn heal(&self, prefix: &str) {
        self.rules
            .lock()
            .unwrap()
            .retain(|r| !r.contains.iter().any(|c| c == prefix));
    }

    fn failing(&self, target: &str, body: &[u8]) -> bool {
        let body = String::from_utf8_lossy(body);
        self.rules
            .lock()
            .unwrap()
            .iter()
            .any(|r| target.ends_with(&r.operation) && r.contains.iter().all(|c| body.contains(c)))
    }
}

struct Proxy {
    upstream: String,
    faults: Arc<Faults>,
    http: reqwest::Client,
}

/// Starts the proxies (once per test binary) and points the SDK at them;
/// call it before the first stack starts.
pub fn install() -> Arc<Faults> {
    static FAULTS: OnceLock<Arc<Faults>> = OnceLock::new();
    FAULTS
        .get_or_init(|| {
            let faults = Arc::new(Faults::default());
            for variable in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"] {
                let upstream = std::env::var(variable).expect("scripts/test sets the endpoints");
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                listener.set_nonblocking(true).unwrap();
                let address = listener.local_addr().unwrap();
                let proxy = Arc::new(Proxy {
                    upstream,
                    faults: faults.clone(),
                    http: reqwest::Client::new(),
                });
                // A runtime of its own: each test's runtime ends with the test.
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                        let app = axum::Router::new().fallback(forward).with_state(proxy);
                        axum::serve(listener, app).await.unwrap();
                    });
                });
                std::env::set_var(variable, format!("http://{address}"));
            }
            faults
        })
        .clone()
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if proxy.faults.failing(target, &body) {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/x-amz-json-1.0")],
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected fault"}"#,
        )
            .into_response();
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{}{path}", proxy.upstream);
    match local_gateway::relay::relay(&proxy.http, parts.method, &url, &parts.headers, body).await {
        Ok(answer) => answer.into_response(),
        Err(e) => (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
