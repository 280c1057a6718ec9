//! SMS providers (F-SMS-1) behind one interface, and the per-country routing
//! with one fallback (F-SMS-26), built from configuration by `router`.

pub mod console;
pub mod dmark;
pub mod sns;
pub mod twilio;

use super::MessageType;
use crate::config::SmsConfig;
use crate::error::Error;
use crate::phone::PhoneNumber;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct Outgoing<'a> {
    pub sms_id: &'a str,
    pub to: &'a PhoneNumber,
    pub body: &'a str,
    pub message_type: MessageType,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// Timeouts, 5xx, throttling: worth another attempt (F-SMS-4).
    Transient(String),
    /// 4xx, an invalid number: retrying cannot help.
    Permanent(String),
}

/// An HTTP answer from a provider that is not a success: throttling (429),
/// a timeout (408) and 5xx are transient, every other status permanent.
pub fn classify_status(status: u16, detail: String) -> SendError {
    if status == 408 || status == 429 || status >= 500 {
        SendError::Transient(detail)
    } else {
        SendError::Permanent(detail)
    }
}

pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Sends one message; the provider's message id on success.
    fn send<'a>(&'a self, message: &'a Outgoing<'a>) -> BoxFuture<'a, Result<String, SendError>>;
}

/// Which provider takes a number: the first route whose country calling code
/// matches, else the default; a transient failure may go to the fallback once.
#[derive(Clone)]
pub struct Router {
    pub routes: Vec<(u16, Arc<dyn Provider>)>,
    pub default: Arc<dyn Provider>,
    pub fallback: Option<Arc<dyn Provider>>,
}

impl Router {
    pub fn single(provider: Arc<dyn Provider>) -> Self {
        Router {
            routes: vec![],
            default: provider,
            fallback: None,
        }
    }

    pub fn primary_for(&self, to: &PhoneNumber) -> Arc<dyn Provider> {
        self.routes
            .iter()
            .find(|(code, _)| *code == to.country_code())
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| self.default.clone())
    }

    /// The fallback for a number, if it differs from its primary.
    pub fn fallback_for(&self, to: &PhoneNumber) -> Option<Arc<dyn Provider>> {
        let primary = self.primary_for(to);
        self.fallback.clone().filter(|f| f.name() != primary.name())
    }
}

/// The clients a router's providers use, built once at init.
pub struct Clients<'a> {
    pub sdk: &'a aws_config::SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The sms table: console messages and the DMark token live there.
    pub table: &'a str,
}

/// The router `SMS_PROVIDER`, `SMS_ROUTES` and `SMS_FALLBACK_PROVIDER`
/// describe. Each named provider is built once, and a provider that lacks its
/// settings is a configuration error at init, not at the first send.
pub fn router(config: &SmsConfig, clients: Clients<'_>) -> Result<Router, Error> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
    let webhooks = config.webhook_base_url.as_deref();
    let mut built: HashMap<String, Arc<dyn Provider>> = HashMap::new();
    let mut get = |name: &str| -> Result<Arc<dyn Provider>, Error> {
        if let Some(provider) = built.get(name) {
            return Ok(provider.clone());
        }
        let provider: Arc<dyn Provider> = match name {
            "console" => Arc::new(console::Console::new(
                clients.dynamodb.clone(),
                clients.table,
            )),
            "sns" => Arc::new(sns::Sns::new(
                aws_sdk_sns::Client::new(clients.sdk),
                config.sns.clone(),
            )),
            "twilio" => Arc::new(twilio::Twilio::new(http.clone(), &config.twilio, webhooks)?),
            "dmark" => Arc::new(dmark::Dmark::new(
                http.clone(),
                &config.dmark,
                webhooks,
                clients.dynamodb.clone(),
                clients.table,
            )?),
            other => return Err(Error::Config(format!("unknown SMS provider {other:?}"))),
        };
        built.insert(name.to_string(), provider.clone());
        Ok(provider)
    };
    Ok(Router {
        routes: config
            .routes
            .iter()
            .map(|(code, name)| Ok((*code, get(name)?)))
            .collect::<Result<_, Error>>()?,
        default: get(&config.provider)?,
        fallback: config
            .fallback_provider
            .as_deref()
            .map(&mut get)
            .transpose()?,
    })
}
