//! `twilio` (F-SMS-1): Twilio's REST Messages API. One form POST per message
//! to `/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth with
//! the account SID and auth token, and a `StatusCallback` URL that brings the
//! delivery receipts to `webhooks` (F-SMS-15).

use super::{classify_status, Outgoing, Provider, SendError};
use crate::config::TwilioConfig;
use crate::error::Error;
use futures::future::BoxFuture;

pub struct Twilio {
    http: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: crate::secret::Secret,
    from: String,
    status_callback: Option<String>,
}

impl Twilio {
    pub fn new(
        http: reqwest::Client,
        config: &TwilioConfig,
        webhook_base_url: Option<&str>,
    ) -> Result<Self, Error> {
        let required = |value: &Option<String>, name: &str| {
            value.clone().ok_or_else(|| {
                Error::Config(format!("{name} is required by the twilio SMS provider"))
            })
        };
        let account_sid = required(&config.account_sid, "TWILIO_ACCOUNT_SID")?;
        Ok(Twilio {
            messages_url: format!(
                "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
                config.api_base
            ),
            auth_token: config.auth_token.clone().ok_or_else(|| {
                Error::Config("TWILIO_AUTH_TOKEN is required by the twilio SMS provider".into())
            })?,
            from: required(&config.from, "TWILIO_FROM")?,
            status_callback: webhook_base_url
                .map(|base| format!("{base}/v1/webhooks/twilio/status")),
            account_sid,
            http,
        })
    }

    fn form(&self, message: &Outgoing<'_>) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("To", message.to.e164());
        // A Messaging Service picks the sender itself.
        if self.from.starts_with("MG") {
            form.append_pair("MessagingServiceSid", &self.from);
        } else {
            form.append_pair("From", &self.from);
        }
        form.append_pair("Body", message.body);
        // The callback names the log, so its receipt is matched by key.
        if let Some(url) = &self.status_callback {
            form.append_pair(
                "StatusCallback",
                &format!("{url}?sms_id={}", message.sms_id),
            );
        }
        form.finish()
    }
}

impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn send<'a>(&'a self, message: &'a Outgoing<'a>) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            let response = self
                .http
                .post(&self.messages_url)
                .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(self.form(message))
                .send()
                .await
                .map_err(|e| SendError::Transient(format!("twilio: {e}")))?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if status.is_success() {
                // Accepted: never retried from here on, or it could go out twice.
                return body["sid"].as_str().map(str::to_string).ok_or_else(|| {
                    SendError::Permanent("twilio accepted it without a sid".into())
                });
            }
            let detail = format!(
                "twilio {}: error {} {}",
                status.as_u16(),
                body["code"],
                body["message"].as_str().unwrap_or("")
            );
            Err(classify_status(status.as_u16(), detail))
        })
    }
}
