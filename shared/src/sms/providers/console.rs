//! The `console` provider (F-SMS-1): for development. It logs that a message
//! went (number masked, never the body) and records it in the sms table under `CONSOLE`, where the
//! local gateway shows it at `GET /_local/sms`.

use super::{Outgoing, Provider, SendError};
use crate::db::{n, s};
use crate::keys::sms::console_key;
use crate::keys::TTL_ATTR;
use aws_sdk_dynamodb::Client;
use futures::future::BoxFuture;

/// Console messages are kept a day.
const KEEP_SECS: i64 = 24 * 3600;

pub struct Console {
    client: Client,
    table: String,
}

impl Console {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Console {
            client,
            table: table.into(),
        }
    }
}

impl Provider for Console {
    fn name(&self) -> &'static str {
        "console"
    }

    fn send<'a>(&'a self, message: &'a Outgoing<'a>) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            let now = crate::clock::now_ms();
            // Not the body: it can carry a verification code or an invite
            // link; `GET /_local/sms` shows it to the developer.
            tracing::info!(to = %message.to, sms_id = message.sms_id, "console SMS");
            let mut item = console_key(now, message.sms_id);
            item.insert("sms_id".into(), s(message.sms_id));
            item.insert("to".into(), s(message.to.e164()));
            item.insert("body".into(), s(message.body));
            item.insert(
                "message_type".into(),
                s(crate::sms::wire_name(message.message_type)),
            );
            item.insert("at".into(), n(now));
            item.insert(TTL_ATTR.into(), n(now / 1000 + KEEP_SECS));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| {
                    SendError::Transient(crate::db::DisplayErrorContext(&e).to_string())
                })?;
            Ok(format!("console-{}", message.sms_id))
        })
    }
}
