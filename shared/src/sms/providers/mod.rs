//! SMS providers (F-SMS-1) behind one interface, and the per-country routing
//! with one fallback (F-SMS-26). Only `console` exists so far; `sns`,
//! `twilio` and `dmark` implement the same trait.

pub mod console;

use super::MessageType;
use crate::phone::PhoneNumber;
use futures::future::BoxFuture;
use std::sync::Arc;

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
