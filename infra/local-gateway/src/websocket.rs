//! Plays an API Gateway WebSocket API: the `$connect` authorizer, `$connect`,
//! route selection on `$request.body.action` with `$default` as fallback,
//! route responses, `$disconnect`, and the `@connections` management API the
//! real SDK client posts to.

use crate::Gateway;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// API Gateway's message size limit: a bigger client message closes the
/// connection with 1009 (message too big).
const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// What the socket library may buffer before it gives up on a peer; above
/// the API's limit so that an over-size message gets the API's close code.
const MAX_BUFFERED_BYTES: usize = 4 * 1024 * 1024;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_PROTOCOL_ERROR: u16 = 1002;

pub struct Connection {
    pub outbox: mpsc::UnboundedSender<Message>,
    pub authorizer: Map<String, Value>,
    pub connected_at: i64,
    pub last_active_at: i64,
    pub identity: Identity,
}

/// Who is on the other end, as API Gateway reports it in
/// `requestContext.identity`: the peer's address and its user agent.
#[derive(Clone, Debug)]
pub struct Identity {
    pub source_ip: String,
    pub user_agent: String,
}

impl Identity {
    fn json(&self) -> Value {
        json!({ "sourceIp": self.source_ip, "userAgent": self.user_agent })
    }
}

/// API Gateway connection ids look like `L0SM9cOFvHcCIhw=`.
fn new_connection_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let id: String = (0..15)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{id}=")
}

fn base_context(
    gw: &Gateway,
    route_key: &str,
    event_type: &str,
    connection_id: &str,
    connected_at: i64,
    identity: &Identity,
) -> Value {
    let now = gw.clock.now();
    json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": ulid::Ulid::new().to_string(),
        "requestTime": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        "messageDirection": "IN",
        "stage": gw.stage,
        "connectedAt": connected_at,
        "requestTimeEpoch": now.timestamp_millis(),
        "identity": identity.json(),
        "requestId": ulid::Ulid::new().to_string(),
        "domainName": "127.0.0.1",
        "connectionId": connection_id,
        "apiId": crate::template::LOCAL_WEBSOCKET_API_ID,
    })
}

fn headers_json(headers: &HeaderMap) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let v = value.to_str().unwrap_or_default().to_string();
        single.insert(name.as_str().to_string(), Value::String(v.clone()));
        multi
            .entry(name.as_str().to_string())
            .or_insert_with(|| Value::Array(vec![]))
            .as_array_mut()
            .expect("inserted as array")
            .push(Value::String(v));
    }
    (Value::Object(single), Value::Object(multi))
}

pub async fn connect(
    State(gw): State<Arc<Gateway>>,
    Query(query): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let connection_id = new_connection_id();
    let connected_at = chrono::Utc::now().timestamp_millis();
    let identity = Identity {
        source_ip: peer.ip().to_string(),
        user_agent: headers
            .get("user-agent")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string(),
    };
    let (single, multi) = headers_json(&headers);
    let multi_query: Map<String, Value> =
        query.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let mut authorizer = Map::new();

    if let Some(route) = gw.ws_route("$connect") {
        if let Some(auth_fn) = &route.authorizer {
            let event = json!({
                "type": "REQUEST",
                "methodArn": format!("arn:aws:execute-api:us-east-1:{}:{}/{}/$connect", crate::template::ACCOUNT_ID, crate::template::LOCAL_WEBSOCKET_API_ID, gw.stage),
                "headers": single,
                "multiValueHeaders": multi,
                "queryStringParameters": query,
                "multiValueQueryStringParameters": multi_query,
                "stageVariables": {},
                "requestContext": base_context(&gw, "$connect", "CONNECT", &connection_id, connected_at, &identity),
            });
            let verdict = match gw.invoke(auth_fn, event).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "authorizer failed");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            };
            let allowed = verdict
                .pointer("/policyDocument/Statement")
                .and_then(Value::as_array)
                .is_some_and(|s| {
                    !s.is_empty()
                        && s.iter()
                            .all(|st| st.get("Effect").and_then(Value::as_str) == Some("Allow"))
                });
            if !allowed {
                return (
                    StatusCode::FORBIDDEN,
                    axum::Json(json!({"message": "Forbidden"})),
                )
                    .into_response();
            }
            if let Some(Value::Object(ctx)) = verdict.get("context") {
                authorizer.extend(ctx.clone());
            }
            if let Some(principal) = verdict.get("principalId") {
                authorizer.insert("principalId".into(), principal.clone());
            }
        }
        let mut context = base_context(
            &gw,
            "$connect",
            "CONNECT",
            &connection_id,
            connected_at,
            &identity,
        );
        context["authorizer"] = Value::Object(authorizer.clone());
        let event = json!({
            "headers": single,
            "multiValueHeaders": multi,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "requestContext": context,
            "isBase64Encoded": false,
        });
        match gw.invoke(&route.function, event).await {
            Ok(resp) => {
                let status = resp
                    .get("statusCode")
                    .and_then(Value::as_u64)
                    .unwrap_or(200);
                if !(200..300).contains(&status) {
                    let status =
                        StatusCode::from_u16(status as u16).unwrap_or(StatusCode::FORBIDDEN);
                    return status.into_response();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "$connect failed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    }

    upgrade
        .max_message_size(MAX_BUFFERED_BYTES)
        .max_frame_size(MAX_BUFFERED_BYTES)
        .on_upgrade(move |socket| {
            run(
                gw,
                socket,
                connection_id,
                authorizer,
                connected_at,
                identity,
            )
        })
}

async fn run(
    gw: Arc<Gateway>,
    socket: WebSocket,
    connection_id: String,
    authorizer: Map<String, Value>,
    connected_at: i64,
    identity: Identity,
) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut inbox) = mpsc::unbounded_channel::<Message>();
    gw.connections.lock().expect("lock").insert(
        connection_id.clone(),
        Connection {
            outbox: outbox.clone(),
            authorizer: authorizer.clone(),
            connected_at,
            last_active_at: connected_at,
            identity: identity.clone(),
        },
    );
    let mut writer = tokio::spawn(async move {
        while let Some(message) = inbox.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
    });

    let mut close_code = 1005;
    let mut close_reason = String::new();
    let close = |code: u16, reason: &str| {
        let _ = outbox.send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        })));
    };
    while let Some(received) = stream.next().await {
        let message = match received {
            Ok(m) => m,
            Err(e) => {
                tracing::info!(connection_id, error = %e, "WebSocket read failed; closing");
                (close_code, close_reason) = (CLOSE_PROTOCOL_ERROR, e.to_string());
                close(close_code, "protocol error");
                break;
            }
        };
        let size = match &message {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            _ => 0,
        };
        if size > MAX_MESSAGE_BYTES {
            (close_code, close_reason) = (CLOSE_TOO_BIG, "Message too big".into());
            close(close_code, &close_reason);
            break;
        }
        let text = match message {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(frame) => {
                if let Some(f) = frame {
                    close_code = f.code;
                    close_reason = f.reason.to_string();
                }
                break;
            }
            _ => continue,
        };
        if let Some(c) = gw.connections.lock().expect("lock").get_mut(&connection_id) {
            c.last_active_at = chrono::Utc::now().timestamp_millis();
        }
        // API Gateway invokes routes concurrently; so do we.
        let gw = gw.clone();
        let (connection_id, authorizer, identity, outbox) = (
            connection_id.clone(),
            authorizer.clone(),
            identity.clone(),
            outbox.clone(),
        );
        tokio::spawn(async move {
            message_route(
                &gw,
                &connection_id,
                &authorizer,
                connected_at,
                &identity,
                text,
                &outbox,
            )
            .await;
        });
    }

    gw.connections.lock().expect("lock").remove(&connection_id);
    drop(outbox);
    // Let a close frame we queued reach the client before the socket goes.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut writer).await;
    writer.abort();
    if let Some(route) = gw.ws_route("$disconnect") {
        let mut context = base_context(
            &gw,
            "$disconnect",
            "DISCONNECT",
            &connection_id,
            connected_at,
            &identity,
        );
        context["authorizer"] = Value::Object(authorizer);
        context["disconnectStatusCode"] = json!(close_code);
        context["disconnectReason"] = json!(close_reason);
        let event = json!({ "requestContext": context, "isBase64Encoded": false });
        if let Err(e) = gw.invoke(&route.function, event).await {
            tracing::error!(error = %e, "$disconnect failed");
        }
    }
}

async fn message_route(
    gw: &Gateway,
    connection_id: &str,
    authorizer: &Map<String, Value>,
    connected_at: i64,
    identity: &Identity,
    body: String,
    outbox: &mpsc::UnboundedSender<Message>,
) {
    // `$connect` and `$disconnect` are the API's own: a client message that
    // names one goes to `$default`, as on API Gateway.
    let action = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("action").and_then(Value::as_str).map(str::to_string))
        .filter(|a| !a.starts_with('$'));
    let route = action
        .as_deref()
        .and_then(|a| gw.ws_route(a))
        .or_else(|| gw.ws_route("$default"));
    let Some(route) = route else {
        let _ = outbox.send(Message::Text(
            json!({"message": "Forbidden", "connectionId": connection_id, "requestId": ulid::Ulid::new().to_string()}).to_string().into(),
        ));
        return;
    };
    let mut context = base_context(
        gw,
        &route.route_key,
        "MESSAGE",
        connection_id,
        connected_at,
        identity,
    );
    context["authorizer"] = Value::Object(authorizer.clone());
    context["messageId"] = json!(ulid::Ulid::new().to_string());
    let event = json!({ "requestContext": context, "body": body, "isBase64Encoded": false });
    match gw.invoke(&route.function, event).await {
        Ok(resp) if route.two_way => {
            if let Some(body) = resp
                .get("body")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty())
            {
                let _ = outbox.send(Message::Text(body.to_string().into()));
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(route = route.route_key, error = %e, "route failed");
            let _ = outbox.send(Message::Text(
                json!({"message": "Internal server error", "connectionId": connection_id, "requestId": ulid::Ulid::new().to_string()}).to_string().into(),
            ));
        }
    }
}

fn gone(connection_id: &str) -> Response {
    (
        StatusCode::GONE,
        [
            ("x-amzn-errortype", "GoneException"),
            ("content-type", "application/json"),
        ],
        json!({ "message": format!("connection {connection_id} is gone") }).to_string(),
    )
        .into_response()
}

/// `POST /{stage}/@connections/{id}`: send data to a connection.
pub async fn post(
    State(gw): State<Arc<Gateway>>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    if body.len() > MAX_MESSAGE_BYTES {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            [("x-amzn-errortype", "PayloadTooLargeException")],
            "{}",
        )
            .into_response();
    }
    let sent = gw.connections.lock().expect("lock").get(&id).map(|c| {
        c.outbox
            .send(Message::Text(
                String::from_utf8_lossy(&body).into_owned().into(),
            ))
            .is_ok()
    });
    match sent {
        Some(true) => StatusCode::OK.into_response(),
        _ => gone(&id),
    }
}

/// `GET /{stage}/@connections/{id}`: connection info.
pub async fn info(
    State(gw): State<Arc<Gateway>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let connections = gw.connections.lock().expect("lock");
    match connections.get(&id) {
        Some(c) => {
            let ts = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default()
            };
            axum::Json(json!({
                "connectedAt": ts(c.connected_at),
                "lastActiveAt": ts(c.last_active_at),
                "identity": c.identity.json(),
            }))
            .into_response()
        }
        None => gone(&id),
    }
}

/// `DELETE /{stage}/@connections/{id}`: close a connection (its `$disconnect` follows).
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let closed = gw.connections.lock().expect("lock").get(&id).map(|c| {
        c.outbox
            .send(Message::Close(Some(CloseFrame {
                code: 1000,
                reason: "closed by the API".into(),
            })))
            .is_ok()
    });
    match closed {
        Some(true) => StatusCode::NO_CONTENT.into_response(),
        _ => gone(&id),
    }
}
