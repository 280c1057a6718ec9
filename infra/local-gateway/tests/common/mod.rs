//! A whole local stack per test: the gateway on free ports, its own tables
//! (unique prefix) in the DynamoDB Local that scripts/test started.

#![allow(dead_code)]

pub mod faults;
pub mod logs;
pub mod sms;
pub mod stubs;
pub mod texts;

use futures::{SinkExt, StreamExt};
use local_gateway::{Options, Running};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An invocation context as Lambda gives one (request id, deadline in 60 s),
/// for tests that call a function directly.
pub fn ctx() -> versus::lambda::Context {
    versus::lambda::local_context("test", Duration::from_secs(60))
}

/// The repository's template with the local parameters, its queues and
/// secrets given stand-in URLs and ARNs: enough to read its functions,
/// routes and environments without starting anything.
pub fn offline_template() -> local_gateway::template::Template {
    let mut template = local_gateway::template::Template::load(
        &repo_root().join("template.yaml"),
        "t_",
        &local_gateway::local_parameters(&Default::default()),
    )
    .unwrap();
    for q in template.queues() {
        template.set_queue(&q.logical_id, "http://queue".into(), "arn:queue".into());
    }
    for secret in template.secrets() {
        template.set_secret(&secret.logical_id, "arn:secret".into());
    }
    template
}

/// Where every stack's clock starts: `VERSUS_TEST_CLOCK` (an RFC 3339
/// instant, optionally `,frozen`), so the whole suite can be run at any
/// instant (`scripts/test --clock 2026-12-31T23:59:50Z`); unset, the system
/// clock. Tests compute what they expect from the stack's clock, never
/// from the wall clock.
pub fn suite_clock() -> Option<local_gateway::clock::Start> {
    let raw = std::env::var("VERSUS_TEST_CLOCK")
        .ok()
        .filter(|v| !v.is_empty())?;
    Some(local_gateway::clock::Start::parse(&raw).expect("VERSUS_TEST_CLOCK"))
}

/// An HTTP client that connects from `ip`, another loopback address
/// (127.0.0.0/8 is all local): a second caller with an address of its own.
pub fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Stack {
    pub running: Running,
    pub secret: String,
    pub http: reqwest::Client,
    pub prefix: String,
}

/// Every test's functions stay within their template policies: a call the
/// local IAM refused fails the test that made it, even where the function
/// only logged the error.
impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let denials = self.running.iam_denials.lock().unwrap();
        assert!(
            denials.is_empty(),
            "calls the functions' policies in template.yaml do not allow: {denials:?}"
        );
    }
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_with(&[]).await
    }

    /// A stack with template parameters overridden (e.g. a short invitation timeout).
    pub async fn start_with(parameters: &[(&str, &str)]) -> Stack {
        assert!(
            std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
            "these tests need DynamoDB Local: run them with scripts/test"
        );
        let prefix = format!("t{}_", ulid::Ulid::new().to_string().to_lowercase());
        let secret = format!("test-secret-{}", ulid::Ulid::new());
        let running = local_gateway::start(Options {
            template: repo_root().join("template.yaml"),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            ws_addr: "127.0.0.1:0".parse().unwrap(),
            table_prefix: prefix.clone(),
            dev_secret: secret.clone(),
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
            clock: suite_clock(),
        })
        .await
        .expect("local gateway starts");
        Stack {
            running,
            secret,
            http: reqwest::Client::new(),
            prefix,
        }
    }

    /// The stack's clock: what its functions read (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.running.gateway.clock.now_ms()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.running.gateway.clock.now()
    }

    /// Sets the stack's clock (`POST /_local/clock`), frozen there or running on.
    pub async fn set_clock(&self, at: chrono::DateTime<chrono::Utc>, frozen: bool) {
        self.clock_change(json!({
            "set": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "frozen": frozen,
        }))
        .await;
    }

    /// Stops the stack's clock where it is: no hour, day or week turns while
    /// a test counts within one.
    pub async fn freeze_clock(&self) {
        self.set_clock(self.now(), true).await;
    }

    pub async fn advance_clock(&self, secs: f64) {
        self.clock_change(json!({ "advance_secs": secs })).await;
    }

    async fn clock_change(&self, change: Value) {
        let response = self
            .http
            .post(format!("{}/_local/clock", self.running.http_url))
            .json(&change)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "clock change {change}");
    }

    pub fn token_with(&self, user: &str, extra: Value) -> String {
        let mut claims = json!({
            "sub": user, "iss": "versus-local", "aud": "versus",
            "exp": chrono::Utc::now().timestamp() + 600,
        });
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        versus::auth::mint_dev_token(&self.secret, &claims)
    }

    pub fn token(&self, user: &str) -> String {
        self.token_with(user, json!({}))
    }

    pub fn config(&self, function: &str) -> versus::Config {
        self.running.configs[function].clone()
    }

    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        versus::db::dynamodb(&versus::db::aws_config().await)
    }

    /// An HTTP call; returns status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let token = user.map(|u| self.token(u));
        self.call_with_token(method, path, token.as_deref(), body)
            .await
    }

    /// An HTTP call with a given bearer token (custom claims: roles, scopes).
    pub async fn call_with_token(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.http.request(
            method.parse().unwrap(),
            format!("{}{}", self.running.http_url, path),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("gateway answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }

    pub async fn create_profile(&self, user: &str, username: &str) -> Value {
        let (status, body) = self
            .call(
                "PUT",
                "/v1/me",
                Some(user),
                Some(&json!({ "username": username }).to_string()),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// A battle between two players with profiles, made through a private
    /// code (`creator` creates it, `joiner` joins); returns the battle id.
    pub async fn battle_between(&self, creator: &str, joiner: &str) -> String {
        let (status, code) = self
            .call(
                "POST",
                "/v1/matches/private",
                Some(creator),
                Some(r#"{"challenge_type":"prompt_duel"}"#),
            )
            .await;
        assert_eq!(status, 201, "{code}");
        let path = format!(
            "/v1/matches/private/{}/join",
            code["code"].as_str().unwrap()
        );
        let (status, joined) = self.call("POST", &path, Some(joiner), None).await;
        assert_eq!(status, 201, "{joined}");
        joined["battle"]["battle_id"].as_str().unwrap().to_string()
    }

    /// Records a battle's result as the judging service does (a service
    /// token), and expects it taken.
    pub async fn record_result(&self, battle_id: &str, result: Value) {
        let service = self.token_with("svc", json!({"scope": "versus/service"}));
        let (status, body) = self
            .call_with_token(
                "POST",
                &format!("/v1/battles/{battle_id}/result"),
                Some(&service),
                Some(&result.to_string()),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn connect(
        &self,
        token: Option<&str>,
    ) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let url = match token {
            Some(t) => format!("{}?token={t}", self.running.ws_url),
            None => self.running.ws_url.clone(),
        };
        tokio_tungstenite::connect_async(url).await.map(|(s, _)| s)
    }
}

pub async fn send(socket: &mut Socket, value: &str) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON text message, or a panic after 10 s.
pub async fn next_json(socket: &mut Socket) -> Value {
    next_json_within(socket, 10).await
}

/// The next JSON text message, or a panic after `secs` (for work that takes
/// long on a loaded machine: 50 players pairing at once).
pub async fn next_json_within(socket: &mut Socket, secs: u64) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(secs), socket.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("no socket error");
        if let Message::Text(t) = message {
            return serde_json::from_str(&t).expect("JSON message");
        }
    }
}

/// Reads messages until one of type `kind` arrives (others are returned too, in order).
pub async fn until_type(socket: &mut Socket, kind: &str) -> (Value, Vec<Value>) {
    until_type_within(socket, kind, 10).await
}

pub async fn until_type_within(socket: &mut Socket, kind: &str, secs: u64) -> (Value, Vec<Value>) {
    let mut skipped = Vec::new();
    loop {
        let m = next_json_within(socket, secs).await;
        if m["type"] == kind {
            return (m, skipped);
        }
        skipped.push(m);
    }
}

/// Asserts that no message arrives within `millis`.
pub async fn silent_for(socket: &mut Socket, millis: u64) {
    if let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout(Duration::from_millis(millis), socket.next()).await
    {
        panic!("unexpected message {t}");
    }
}

/// Polls `check` until it holds (for effects that follow a socket close).
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(what, 10, check).await
}

/// `eventually`, for effects that take longer (retries with backoff).
pub async fn eventually_within<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..secs * 10 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within {secs} s");
}

/// Sets attributes of `user`'s profile item directly (states no API call makes).
pub async fn set_profile(
    stack: &Stack,
    user: &str,
    expression: &str,
    values: &[(&str, aws_sdk_dynamodb::types::AttributeValue)],
) {
    let mut update = stack
        .dynamodb()
        .await
        .update_item()
        .table_name(&stack.config("ws-matchmaking").tables.users)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()),
        )
        .update_expression(expression);
    for (k, v) in values {
        update = update.expression_attribute_values(*k, v.clone());
    }
    update.send().await.unwrap();
}

/// Runs a one-off scheduled job (`{"job": <job>}`) as its invoker would.
pub async fn run_one_off(stack: &Stack, job: &str) -> Value {
    stack
        .running
        .gateway
        .invoke("ScheduledJobsFunction", json!({ "job": job }))
        .await
        .unwrap()
}

/// Forgets a one-off job's checkpoint, so that it runs from the start again.
pub async fn forget_checkpoint(stack: &Stack, job: &str) {
    stack
        .dynamodb()
        .await
        .delete_item()
        .table_name(stack.config("scheduled-jobs").tables.users)
        .set_key(Some(versus::keys::users::job_state_key(job, "once")))
        .send()
        .await
        .unwrap();
}
