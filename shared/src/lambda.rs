//! How a function meets its trigger. Every function is an [`Invoke`]: raw event
//! JSON in, raw response JSON out, exactly what the Lambda Runtime API moves.
//! `main.rs` hands it to the runtime; the local gateway calls the same value
//! in-process, so both run the same deserialization and the same handler.
//! (HTTP API functions are built by the `versus-http` crate's `function`.)

use futures::future::BoxFuture;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;

pub type BoxError = lambda_runtime::Error;
pub type Invoke = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, BoxError>> + Send + Sync>;

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
