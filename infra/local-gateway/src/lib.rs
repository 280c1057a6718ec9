//! The local gateway: reads `template.yaml` and plays API Gateway (HTTP API
//! with its JWT authorizer, WebSocket API with its Lambda authorizer and the
//! `@connections` management API) for every function in it, in-process.
//! Tables are created in DynamoDB Local from the template's definitions.
//!
//! Event sources slot in the same way as the APIs: a template section is read
//! in `template`, turned into events shaped as AWS shapes them, and handed to
//! the function's [`Invoke`].

pub mod bench_data;
pub mod clock;
pub mod cost;
pub mod counting_proxy;
pub mod desk_page;
pub mod eventbridge;
pub mod fixtures;
pub mod heat;
pub mod http_api;
pub mod iam;
pub mod queues;
pub mod registry;
pub mod relay;
pub mod schedules;
pub mod tables;
pub mod template;
pub mod websocket;

use axum::routing::{any, get};
use axum::Router;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use template::{HttpRoute, Template, WsRoute};
use tokio::net::TcpListener;
use tracing::Instrument;
use versus::auth::TokenVerifier;
use versus::config::{JwtConfig, JwtKeys};
use versus::lambda::Invoke;
use versus::Config;

pub const LOCAL_ISSUER: &str = "versus-local";
pub const LOCAL_AUDIENCE: &str = "versus";

#[derive(Clone, Debug)]
pub struct Options {
    pub template: PathBuf,
    pub http_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    /// Prefix of every table name (tests use a unique one each).
    pub table_prefix: String,
    /// The HS256 secret dev tokens are signed with.
    pub dev_secret: String,
    /// Template parameter values beyond the local defaults.
    pub parameters: HashMap<String, String>,
    /// Where the gateway's clock starts; `None`: the system clock.
    pub clock: Option<clock::Start>,
}

pub struct Gateway {
    functions: HashMap<String, (Invoke, std::time::Duration)>,
    http_routes: Vec<HttpRoute>,
    ws_routes: HashMap<String, WsRoute>,
    pub(crate) verifier: TokenVerifier,
    /// The local operator's admin token, minted at start, that the
    /// `/_local/` page's desk proxy calls with.
    pub(crate) operator_token: String,
    pub(crate) stage: String,
    pub(crate) connections: Mutex<HashMap<String, websocket::Connection>>,
    pub(crate) schedules: Vec<template::ScheduleDef>,
    /// The sms table, where the console provider records what it "sent".
    pub(crate) sms_table: String,
    pub(crate) dynamodb: aws_sdk_dynamodb::Client,
    /// EventBridge rules of the template, and how each function's
    /// asynchronous invocations are retried and dead-lettered.
    pub(crate) event_rules: Vec<template::EventRule>,
    pub(crate) async_configs: HashMap<String, template::AsyncConfig>,
    pub(crate) sqs: aws_sdk_sqs::Client,
    /// The template's queues: logical id → (URL, ARN).
    pub(crate) queue_urls: HashMap<String, (String, String)>,
    /// What every hosted function, schedule and event reads the time from.
    pub clock: clock::Clock,
}

impl Gateway {
    /// Invokes a function of the template by logical id, as its trigger would.
    pub async fn invoke(
        &self,
        logical_id: &str,
        event: impl serde::Serialize,
    ) -> Result<Value, String> {
        // What the Runtime API moves: the event as JSON.
        let event = serde_json::to_value(event).map_err(|e| e.to_string())?;
        let (f, timeout) = self
            .functions
            .get(logical_id)
            .ok_or(format!("no function {logical_id}"))?;
        // As Lambda: a request id, the deadline, and the runtime's span.
        let context = versus::lambda::local_context(logical_id, *timeout);
        let span = versus::lambda::runtime_span(&context);
        let invocation =
            versus::clock::with_source(self.clock.source(), f(event, context)).instrument(span);
        // (The function's own spans are made when its work starts, inside this one.)
        // Past its timeout Lambda stops the invocation wherever it is: the
        // future is dropped mid-flight, as a killed process would leave it.
        match tokio::time::timeout(*timeout, invocation).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "{logical_id}: Task timed out after {} seconds",
                timeout.as_secs()
            )),
        }
    }

    pub(crate) fn match_http(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&HttpRoute, HashMap<String, String>)> {
        // As API Gateway: the most specific route wins (`/v1/invitations/preview`
        // over `/v1/invitations/{id}`), a greedy `{proxy+}` last.
        self.http_routes
            .iter()
            .filter(|r| r.method == method || r.method == "ANY")
            .filter_map(|r| http_api::match_path(&r.path, path).map(|p| (r, p)))
            .min_by_key(|(r, _)| http_api::route_generality(&r.path))
    }

    pub(crate) fn ws_route(&self, key: &str) -> Option<&WsRoute> {
        self.ws_routes.get(key)
    }

    /// The event buses the template's rules listen on.
    pub fn event_buses(&self) -> Vec<String> {
        let mut buses: Vec<String> = self.event_rules.iter().map(|r| r.bus.clone()).collect();
        buses.sort();
        buses.dedup();
        buses
    }

    /// A queue of the template, as created locally: (URL, ARN).
    pub fn queue(&self, logical_id: &str) -> Option<(String, String)> {
        self.queue_urls.get(logical_id).cloned()
    }

    pub fn open_connections(&self) -> usize {
        self.connections.lock().expect("lock").len()
    }
}

pub struct Running {
    pub http_url: String,
    pub ws_url: String,
    /// What functions use as `WEBSOCKET_API_ENDPOINT`.
    pub management_endpoint: String,
    /// The configuration each function was built with (by crate name).
    pub configs: HashMap<String, Config>,
    /// The calls the local IAM refused (none, while the template's policies
    /// cover what the functions do).
    pub iam_denials: iam::Denials,
    pub gateway: Arc<Gateway>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// `GET /_local/sms[?to=+256...]`: what the console provider sent, newest first.
async fn console_sms(
    axum::extract::State(gateway): axum::extract::State<Arc<Gateway>>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> (http::StatusCode, axum::Json<Value>) {
    let out = gateway
        .dynamodb
        .query()
        .table_name(&gateway.sms_table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", versus::db::s("CONSOLE"))
        .scan_index_forward(false)
        .limit(200)
        .send()
        .await;
    let items = match out {
        Ok(out) => out.items.unwrap_or_default(),
        Err(e) => {
            return (
                http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    serde_json::json!({"error": {"code": "dependency_failure", "message": versus::db::DisplayErrorContext(&e).to_string()}}),
                ),
            )
        }
    };
    let wanted = query.get("to").map(|t| t.trim().replace(' ', "+"));
    let messages: Vec<Value> = items
        .iter()
        .filter(|i| {
            wanted
                .as_deref()
                .is_none_or(|w| versus::db::get_s(i, "to") == Some(w))
        })
        .map(|i| {
            serde_json::json!({
                "sms_id": versus::db::get_s(i, "sms_id"),
                "to": versus::db::get_s(i, "to"),
                "body": versus::db::get_s(i, "body"),
                "message_type": versus::db::get_s(i, "message_type"),
                "at": versus::db::get_n(i, "at").map(versus::rfc3339),
            })
        })
        .collect();
    (
        http::StatusCode::OK,
        axum::Json(serde_json::json!({ "messages": messages })),
    )
}

/// `Key=Value Key2=Value2` (or `ParameterKey=K,ParameterValue=V`), the
/// forms `sam deploy --parameter-overrides` takes. A value cannot contain a
/// space here; the template's secrets are single words.
pub fn parse_parameter_overrides(raw: &str) -> Result<HashMap<String, String>, String> {
    raw.split_whitespace()
        .map(|pair| {
            if let Some(rest) = pair.strip_prefix("ParameterKey=") {
                if let Some((key, value)) = rest.split_once(",ParameterValue=") {
                    return Ok((key.to_string(), value.to_string()));
                }
            }
            match pair.split_once('=') {
                Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
                _ => Err(format!("{pair:?} is not Key=Value")),
            }
        })
        .collect()
}

/// The parameter values the local stack runs with.
pub const LOCAL_WEB_BASE_URL: &str = "http://localhost:8080";

pub fn local_parameters(extra: &HashMap<String, String>) -> HashMap<String, String> {
    let mut p = HashMap::from([
        ("JwtIssuer".to_string(), LOCAL_ISSUER.to_string()),
        ("JwtAudience".to_string(), LOCAL_AUDIENCE.to_string()),
        // Where a local web client would serve the links texts carry.
        ("WebBaseUrl".to_string(), LOCAL_WEB_BASE_URL.to_string()),
    ]);
    p.extend(extra.clone());
    p
}

/// The template's secrets in Secrets Manager (moto locally), with the values
/// the parameters gave (see `Template::secrets`); an existing one (a
/// restarted gateway on the same moto) gets the new value.
async fn create_secrets(
    client: &aws_sdk_secretsmanager::Client,
    template: &mut Template,
) -> Result<(), String> {
    for secret in template.secrets() {
        let created = client
            .create_secret()
            .name(&secret.name)
            .secret_string(&secret.value)
            .send()
            .await;
        let arn = match created {
            Ok(out) => out.arn,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                client
                    .put_secret_value()
                    .secret_id(&secret.name)
                    .secret_string(&secret.value)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "secret {}: {}",
                            secret.name,
                            versus::db::DisplayErrorContext(&e)
                        )
                    })?
                    .arn
            }
            Err(e) => {
                return Err(format!(
                    "creating the secret {} (is AWS_ENDPOINT_URL_SECRETS_MANAGER moto?): {}",
                    secret.name,
                    versus::db::DisplayErrorContext(&e)
                ))
            }
        };
        let arn = arn.ok_or(format!("secret {}: no ARN", secret.name))?;
        template.set_secret(&secret.logical_id, arn);
    }
    Ok(())
}

/// Builds every function of the template, creates the tables and starts serving.
pub async fn start(options: Options) -> Result<Running, String> {
    let mut template = Template::load(
        &options.template,
        &options.table_prefix,
        &local_parameters(&options.parameters),
    )?;
    let http_listener = TcpListener::bind(options.http_addr)
        .await
        .map_err(|e| format!("HTTP port: {e}"))?;
    let ws_listener = TcpListener::bind(options.ws_addr)
        .await
        .map_err(|e| format!("WebSocket port: {e}"))?;
    let http_addr = http_listener.local_addr().map_err(|e| e.to_string())?;
    let ws_addr = ws_listener.local_addr().map_err(|e| e.to_string())?;
    let stage = template.websocket_stage();
    let management_endpoint = format!("http://{ws_addr}/{stage}");

    let sdk = versus::db::aws_config().await;
    tables::create_all(&versus::db::dynamodb(&sdk), &template.tables()).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    queues::create_all(&sqs, &mut template).await?;
    create_secrets(&aws_sdk_secretsmanager::Client::new(&sdk), &mut template).await?;

    let (shutdown, signal) = tokio::sync::watch::channel(false);
    let serve = |listener: TcpListener, app: Router| {
        let mut signal = signal.clone();
        tokio::spawn(async move {
            let stop = async move {
                let _ = signal.wait_for(|s| *s).await;
            };
            // With the peer's address: functions see the caller's source IP.
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "server stopped");
            }
        })
    };
    // Every function reaches DynamoDB and SQS through the local IAM (`iam.rs`),
    // under its own path: a call its template policy does not allow fails.
    let iam_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("IAM proxy port: {e}"))?;
    let iam_url = format!(
        "http://{}",
        iam_listener.local_addr().map_err(|e| e.to_string())?
    );
    let mut upstreams = BTreeMap::new();
    for (service, variable) in iam::CHECKED {
        if let Ok(url) = std::env::var(variable) {
            upstreams.insert(service.to_string(), url);
        }
    }
    let queue_arns = template
        .queues()
        .iter()
        .filter_map(|q| template.queue(&q.logical_id))
        .filter_map(|(url, arn)| Some((url.rsplit('/').next()?.to_string(), arn)))
        .collect();
    let (iam_router, iam_denials) = iam::router(iam::Stack {
        policies: template.policies()?,
        upstreams: upstreams.clone(),
        table_arn_prefix: template.table_arn_prefix(),
        queue_arns,
    });
    // Serving before the functions start: their init calls DynamoDB.
    let mut tasks = vec![serve(iam_listener, iam_router)];

    let deployed_ws_prefix = format!("https://{}.execute-api.", template::LOCAL_WEBSOCKET_API_ID);
    let mut functions = HashMap::new();
    let mut configs = HashMap::new();
    let mut http_routes = Vec::new();
    let mut sqs_sources = Vec::new();
    let mut schedules = Vec::new();
    let mut event_rules = Vec::new();
    let mut async_configs = HashMap::new();
    for def in template.functions()? {
        let mut env = def.environment.clone();
        for value in env.values_mut() {
            // The deployed management endpoint of our WebSocket API is us.
            if value.starts_with(&deployed_ws_prefix) {
                *value = management_endpoint.clone();
            }
        }
        env.insert("JWT_DEV_SECRET".into(), options.dev_secret.clone());
        for (service, variable) in iam::CHECKED {
            if upstreams.contains_key(service) {
                env.insert(variable.into(), format!("{iam_url}/{}/{service}", def.name));
            }
        }
        let config = Config::from_lookup(|k| env.get(k).cloned())
            .map_err(|e| format!("{}: {e}", def.name))?;
        let build = registry::builder(&def.name).ok_or(format!(
            "{} ({}) has no handler in infra/local-gateway/src/registry.rs",
            def.logical_id, def.name
        ))?;
        let invoke = build(&config)
            .await
            .map_err(|e| format!("{}: {e}", def.name))?;
        functions.insert(
            def.logical_id.clone(),
            (invoke, std::time::Duration::from_secs(def.timeout_secs)),
        );
        configs.insert(def.name.clone(), config);
        http_routes.extend(def.http_routes.clone());
        sqs_sources.extend(def.sqs_sources.clone());
        schedules.extend(def.schedules.clone());
        event_rules.extend(def.event_rules.clone());
        async_configs.insert(def.logical_id.clone(), def.async_config.clone());
    }
    let queue_urls = template
        .queues()
        .iter()
        .filter_map(|q| Some((q.logical_id.clone(), template.queue(&q.logical_id)?)))
        .collect();
    // Literal segments before parameters, as API Gateway prefers the most specific route.
    http_routes.sort_by_key(|r| r.path.matches('{').count());
    let ws_routes = template
        .websocket_routes()?
        .into_iter()
        .map(|r| (r.route_key.clone(), r))
        .collect();
    let issuer = template
        .parameter("JwtIssuer")
        .unwrap_or_else(|| LOCAL_ISSUER.into());
    let audience = template
        .parameter("JwtAudience")
        .unwrap_or_else(|| LOCAL_AUDIENCE.into());
    let gateway = Arc::new(Gateway {
        functions,
        http_routes,
        ws_routes,
        operator_token: desk_page::operator_token(&options.dev_secret, &issuer, &audience),
        // The HTTP API's JWT authorizer: the template's issuer and audience,
        // checked by the same rules as the WebSocket authorizer (F-ID-1).
        verifier: TokenVerifier::new(JwtConfig {
            keys: JwtKeys::DevSecret(options.dev_secret.clone().into()),
            issuer,
            audiences: vec![audience],
        }),
        stage,
        connections: Mutex::new(HashMap::new()),
        schedules: schedules.clone(),
        sms_table: template.table_name("SmsTable"),
        dynamodb: versus::db::dynamodb(&sdk),
        event_rules,
        async_configs,
        sqs: sqs.clone(),
        queue_urls,
        clock: clock::Clock::new(options.clock),
    });

    let http_app = Router::new()
        .route(
            "/_local/schedules/{name}",
            axum::routing::post(schedules::trigger),
        )
        .route("/_local/sms", get(console_sms))
        .route("/_local/", get(desk_page::page))
        .route("/_local/desk/{*rest}", any(desk_page::desk))
        .route("/_local/clock", get(clock::show).post(clock::change))
        // EventBridge's PutEvents (the AWS JSON protocol posts to `/`);
        // any other method on `/` is the HTTP API's, as on API Gateway.
        .route(
            "/",
            axum::routing::post(eventbridge::put_events).fallback(http_api::handle),
        )
        .fallback(any(http_api::handle))
        .with_state(gateway.clone());
    let ws_app = Router::new()
        .route(
            "/{stage}/@connections/{id}",
            get(websocket::info)
                .post(websocket::post)
                .delete(websocket::delete),
        )
        .route(
            "/@connections/{id}",
            get(websocket::info)
                .post(websocket::post)
                .delete(websocket::delete),
        )
        .fallback(get(websocket::connect))
        .with_state(gateway.clone());

    tasks.push(serve(http_listener, http_app));
    tasks.push(serve(ws_listener, ws_app));
    tasks.push(schedules::spawn_ticker(
        gateway.clone(),
        schedules,
        signal.clone(),
    ));
    for source in sqs_sources {
        let (queue_url, queue_arn) = template
            .queue(&source.queue)
            .ok_or(format!("{}: no queue {}", source.function, source.queue))?;
        let mapping = queues::Mapping {
            queue_url,
            queue_arn,
            region: template.region().to_string(),
            source,
        };
        tasks.push(queues::spawn_poller(
            gateway.clone(),
            sqs.clone(),
            mapping,
            signal.clone(),
        ));
    }
    Ok(Running {
        http_url: format!("http://{http_addr}"),
        ws_url: format!("ws://{ws_addr}/{}", gateway.stage),
        management_endpoint,
        configs,
        iam_denials,
        gateway,
        shutdown,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_overrides_take_both_sam_forms() {
        let p = parse_parameter_overrides(
            " SmsProvider=twilio ParameterKey=TwilioFrom,ParameterValue=+15005550006 Url=https://x/?a=b ",
        )
        .unwrap();
        assert_eq!(p["SmsProvider"], "twilio");
        assert_eq!(p["TwilioFrom"], "+15005550006");
        assert_eq!(p["Url"], "https://x/?a=b");
        assert!(parse_parameter_overrides("").unwrap().is_empty());
        assert!(parse_parameter_overrides("novalue").is_err());
        assert!(parse_parameter_overrides("=x").is_err());
    }
}
