//! `dmark` (F-SMS-1, seed 003): DMark Mobile's SMS API.
//!
//! A token from `POST /api/get_token/` {username, password} is kept for 90% of
//! the life its JWT `exp` gives (3000 s when it has none), in memory and in
//! DynamoDB, so a fleet of senders asks for one rarely. Messages go to
//! `POST /v3/api/send_sms/` with the header `authToken` and the body
//! `{msg, numbers, dlr_url}`, numbers in the local `0XXXXXXXXX` form.
//!
//! The delivery-report URL names our log (`ref`) and carries the shared
//! secret `webhooks` checks, so the log id is the provider message id.

use super::{classify_status, Outgoing, Provider, SendError};
use crate::config::DmarkConfig;
use crate::db::{self, n, s, Item};
use crate::error::Error;
use crate::keys::sms::provider_token_key;
use crate::keys::TTL_ATTR;
use base64::Engine;
use futures::future::BoxFuture;
use tokio::sync::Mutex;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Token {
    value: String,
    valid_until_ms: i64,
}

pub struct Dmark {
    http: reqwest::Client,
    base_url: String,
    username: String,
    password: crate::secret::Secret,
    fallback_secs: i64,
    dlr_base: Option<String>,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    /// Held while a token is looked up or fetched: one fetch per process at a time.
    token: Mutex<Option<Token>>,
}

fn token_key() -> Item {
    provider_token_key("dmark")
}

/// How long a fresh token may be used (F-SMS-1): 90% of what its `exp`
/// leaves, or the fallback when the token has no readable `exp`.
pub fn token_lifetime_ms(token: &str, now_ms: i64, fallback_secs: i64) -> i64 {
    let exp = token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|claims| claims["exp"].as_f64());
    match exp {
        Some(exp) => (((exp * 1000.0) as i64 - now_ms).max(0) * 9) / 10,
        None => fallback_secs * 1000,
    }
}

impl Dmark {
    pub fn new(
        http: reqwest::Client,
        config: &DmarkConfig,
        webhook_base_url: Option<&str>,
        dynamodb: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
    ) -> Result<Self, Error> {
        let required = |value: &Option<String>, name: &str| {
            value.clone().ok_or_else(|| {
                Error::Config(format!("{name} is required by the dmark SMS provider"))
            })
        };
        let dlr_base = match (webhook_base_url, &config.dlr_secret) {
            (Some(base), Some(secret)) => Some(format!(
                "{base}/v1/webhooks/dmark/dlr?secret={}",
                form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect::<String>()
            )),
            _ => None,
        };
        Ok(Dmark {
            base_url: required(&config.base_url, "DMARK_BASE_URL")?,
            username: required(&config.username, "DMARK_USERNAME")?,
            password: config.password.clone().ok_or_else(|| {
                Error::Config("DMARK_PASSWORD is required by the dmark SMS provider".into())
            })?,
            fallback_secs: config.token_fallback_secs,
            dlr_base,
            http,
            dynamodb,
            table: table.into(),
            token: Mutex::new(None),
        })
    }

    /// A token that is still good: from memory, else DynamoDB, else DMark.
    async fn token(&self, now_ms: i64) -> Result<String, SendError> {
        let mut held = self.token.lock().await;
        if let Some(token) = held.as_ref().filter(|t| t.valid_until_ms > now_ms) {
            return Ok(token.value.clone());
        }
        let stored: Option<Item> = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(token_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                SendError::Transient(format!("token cache: {}", db::DisplayErrorContext(&e)))
            })?
            .item;
        let stored = stored.and_then(|item| {
            Some(Token {
                value: db::get_s(&item, "token")?.to_string(),
                valid_until_ms: db::get_n(&item, "valid_until_ms")?,
            })
        });
        let token = match stored.filter(|t| t.valid_until_ms > now_ms) {
            Some(token) => token,
            None => self.fetch_token(now_ms).await?,
        };
        *held = Some(token.clone());
        Ok(token.value)
    }

    async fn fetch_token(&self, now_ms: i64) -> Result<Token, SendError> {
        let response = self
            .http
            .post(format!("{}/api/get_token/", self.base_url))
            .json(
                &serde_json::json!({"username": self.username, "password": self.password.expose()}),
            )
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("dmark token: {e}")))?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let value = match body["access_token"].as_str() {
            Some(v) if (200..300).contains(&status) => v.to_string(),
            _ => {
                return Err(classify_status(
                    status,
                    format!("dmark token {status}: no access_token"),
                ))
            }
        };
        let token = Token {
            valid_until_ms: now_ms + token_lifetime_ms(&value, now_ms, self.fallback_secs),
            value,
        };
        let mut item = token_key();
        item.insert("token".into(), s(&token.value));
        item.insert("valid_until_ms".into(), n(token.valid_until_ms));
        item.insert(TTL_ATTR.into(), n(token.valid_until_ms / 1000 + 3600));
        // Not fatal: this process still has it in memory.
        if let Err(e) = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
        {
            tracing::warn!(error = %db::DisplayErrorContext(&e), "could not cache the DMark token");
        }
        tracing::info!(
            valid_for_ms = token.valid_until_ms - now_ms,
            "fetched a DMark token"
        );
        Ok(token)
    }

    /// Forgets a token DMark refused, unless another send already replaced it.
    async fn forget(&self, refused: &str) {
        let mut held = self.token.lock().await;
        if held.as_ref().is_some_and(|t| t.value == refused) {
            *held = None;
            let _ = self
                .dynamodb
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(token_key()))
                .condition_expression("#t = :t")
                .expression_attribute_names("#t", "token")
                .expression_attribute_values(":t", s(refused))
                .send()
                .await;
        }
    }

    async fn post(&self, token: &str, message: &Outgoing<'_>) -> Result<u16, SendError> {
        let mut body = serde_json::json!({
            "msg": message.body,
            "numbers": message.to.local_form(),
        });
        if let Some(base) = &self.dlr_base {
            body["dlr_url"] = format!("{base}&ref={}", message.sms_id).into();
        }
        let response = self
            .http
            .post(format!("{}/v3/api/send_sms/", self.base_url))
            .header("authToken", token)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("dmark: {e}")))?;
        Ok(response.status().as_u16())
    }
}

impl Provider for Dmark {
    fn name(&self) -> &'static str {
        "dmark"
    }

    fn send<'a>(&'a self, message: &'a Outgoing<'a>) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            // The token's lifetime is the provider's, in real time.
            let mut token = self.token(crate::clock::system_now_ms()).await?;
            let mut status = self.post(&token, message).await?;
            // A token revoked before its time: one fresh token, one more try.
            if status == 401 || status == 403 {
                self.forget(&token).await;
                token = self.token(crate::clock::system_now_ms()).await?;
                status = self.post(&token, message).await?;
            }
            if (200..300).contains(&status) {
                Ok(message.sms_id.to_string())
            } else {
                Err(classify_status(
                    status,
                    format!("dmark send: HTTP {status}"),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"HS256"}"#), b64(claims))
    }

    #[test]
    fn ninety_percent_of_the_remaining_life() {
        let now = 1_000_000_000_000;
        let token = jwt(&format!(r#"{{"exp":{}}}"#, now / 1000 + 3600));
        assert_eq!(token_lifetime_ms(&token, now, 3000), 3240 * 1000);
    }

    #[test]
    fn fallback_without_a_readable_exp() {
        let now = 1_000_000_000_000;
        assert_eq!(token_lifetime_ms("opaque-token", now, 3000), 3_000_000);
        assert_eq!(
            token_lifetime_ms(&jwt(r#"{"sub":"x"}"#), now, 3000),
            3_000_000
        );
        assert_eq!(token_lifetime_ms("a.%%%.c", now, 10), 10_000);
    }

    #[test]
    fn an_expired_token_is_not_kept() {
        let now = 1_000_000_000_000;
        let token = jwt(&format!(r#"{{"exp":{}}}"#, now / 1000 - 5));
        assert_eq!(token_lifetime_ms(&token, now, 3000), 0);
    }
}
