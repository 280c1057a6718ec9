//! How a function meets its trigger. Every function is an [`Invoke`]: raw event
//! JSON in, raw response JSON out, exactly what the Lambda Runtime API moves.
//! `main.rs` hands it to the runtime; the local gateway calls the same value
//! in-process, so both run the same deserialization and the same handler.

use futures::future::BoxFuture;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Body, Request, Response, Service};
use lambda_runtime::{service_fn, Context, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

pub type BoxError = lambda_runtime::Error;
pub type Invoke = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, BoxError>> + Send + Sync>;

/// An HTTP API (payload 2.0) function: an axum router (see `http::routing`),
/// which answers every request itself, errors included, so the handler
/// cannot fail the invocation.
pub fn http(router: axum::Router) -> Invoke {
    Arc::new(move |event: Value| {
        let router = router.clone();
        Box::pin(async move {
            let request: LambdaRequest = serde_json::from_value(event)?;
            let mut adapter = Adapter::from(service_fn(move |req: Request| {
                let mut router = router.clone();
                async move {
                    std::future::poll_fn(|cx| Service::<Request>::poll_ready(&mut router, cx))
                        .await?;
                    let response = router.call(prepare(req)).await?;
                    Ok::<_, Infallible>(into_lambda_response(response).await)
                }
            }));
            let response = adapter
                .call(LambdaEvent::new(request, Context::default()))
                .await?;
            Ok(serde_json::to_value(response)?)
        })
    })
}

/// The router's response with its body read: our bodies are JSON or XML,
/// sent as text (binary only if one ever is not UTF-8). Read here because
/// the router's streaming body cannot be held across the runtime's awaits.
async fn into_lambda_response(response: axum::response::Response) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) if bytes.is_empty() => Body::Empty,
        Ok(bytes) => match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        },
        Err(e) => {
            tracing::error!(error = %e, "response body could not be read");
            return Response::builder()
                .status(500)
                .body(Body::Empty)
                .expect("static parts are valid");
        }
    };
    Response::from_parts(parts, body)
}

/// One clock reading per event, for the handler and the `last_seen_at`
/// refresh alike; and `/v1/me/` routed as `/v1/me`.
fn prepare(mut req: Request) -> Request {
    req.extensions_mut()
        .insert(crate::http::routing::Now(crate::clock::now_ms()));
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = rebuilt.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// A function with a typed event and response (WebSocket routes, authorizers, queues, schedules).
pub fn typed<E, R, H, Fut>(handler: H) -> Invoke
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    H: Fn(E) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, BoxError>> + Send + 'static,
{
    Arc::new(move |event: Value| {
        let handler = handler.clone();
        Box::pin(async move {
            let event: E = serde_json::from_value(event)?;
            let response = handler(event).await?;
            Ok(serde_json::to_value(response)?)
        })
    })
}

/// Runs an [`Invoke`] on the Lambda Runtime API.
pub async fn run(invoke: Invoke) -> Result<(), BoxError> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        invoke(event.payload)
    }))
    .await
}

/// Structured logs, once per process.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
