//! WebSocket route helpers. Client messages carry `action`; server messages
//! carry `type`; every error is `{"type":"error","code":"...","message":"..."}`.

use crate::auth::Caller;
use crate::error::Error;
use crate::ids::ConnectionId;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use serde_json::{json, Value};

/// API Gateway refuses frames above 32 KB; we refuse bigger messages ourselves.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

pub fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Result<ConnectionId, Error> {
    event
        .request_context
        .connection_id
        .clone()
        .map(ConnectionId::from)
        .ok_or_else(|| Error::bad_request("invalid_event", "event has no connection id"))
}

pub fn route_key(event: &ApiGatewayWebsocketProxyRequest) -> &str {
    event
        .request_context
        .route_key
        .as_deref()
        .unwrap_or("$default")
}

/// The caller the authorizer established on `$connect`.
pub fn caller(event: &ApiGatewayWebsocketProxyRequest) -> Result<Caller, Error> {
    let caller = Caller::from_authorizer_context(&event.request_context.authorizer.fields)?;
    crate::lambda::record_user(&caller.user_id);
    Ok(caller)
}

/// The message body as a JSON object.
pub fn message(event: &ApiGatewayWebsocketProxyRequest) -> Result<Value, Error> {
    let body = event.body.as_deref().unwrap_or("");
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(Error::PayloadTooLarge {
            limit: MAX_MESSAGE_BYTES,
        });
    }
    match serde_json::from_str::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::bad_request(
            "invalid_message",
            "a message must be a JSON object with an \"action\"",
        )),
        Err(_) => Err(Error::bad_request(
            "invalid_json",
            "message is not valid JSON",
        )),
    }
}

pub fn error_message(err: &Error) -> Value {
    err.log();
    json!({ "type": "error", "code": err.code(), "message": err.public_message() })
}

/// A route response: API Gateway sends `body` back on the connection when the
/// route has a route response (see template.yaml).
pub fn reply(value: &Value) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response.body = Some(Body::Text(value.to_string()));
    response
}

/// An empty 200: accept `$connect`, acknowledge `$disconnect`.
pub fn ok() -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response
}

/// Refuses a `$connect` (any non-2xx status closes the handshake).
pub fn refuse(status: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response
}
