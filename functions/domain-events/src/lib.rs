//! domain-events: the target of the domain-events bus's rules (F-EV-1).
//! Other services `PutEvents` there; each event becomes at most one text
//! (F-SMS-25, F-SMS-13), under the full SMS policy.
//!
//! EventBridge invokes asynchronously: an `Err` is retried by Lambda (twice)
//! and then lands in the on-failure destination, so only a failure worth
//! retrying (a dependency down) is an `Err`. An event that is not one of
//! ours, or whose detail does not fit its type, is logged with the reason
//! and answered `rejected`: it does not come back.

use serde_json::{json, Value};
use std::sync::Arc;
use versus::lambda::{self, BoxError, Invoke};
use versus::texts::events::{Envelope, EventTexts};
use versus::{db, Config, Error};

pub struct App {
    texts: EventTexts,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let outbox = versus::wiring::outbox(&sdk, &client, config);
    let app = Arc::new(App {
        texts: versus::wiring::event_texts(outbox, &client, config),
    });
    Ok(lambda::typed(move |event: Value, _: lambda::Context| {
        let app = app.clone();
        async move { Ok::<_, BoxError>(app.handle(event, versus::now_ms()).await?) }
    }))
}

impl App {
    pub async fn handle(&self, event: Value, now_ms: i64) -> Result<Value, Error> {
        let envelope: Envelope = match serde_json::from_value(event) {
            Ok(envelope) => envelope,
            Err(e) => {
                let reason = format!("not an EventBridge event: {e}");
                tracing::warn!(%reason, "domain event rejected");
                return Ok(json!({"outcome": "rejected", "reason": reason}));
            }
        };
        self.texts.handle(&envelope, now_ms).await
    }
}
