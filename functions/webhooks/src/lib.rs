//! webhooks: what SMS providers call (public routes, each verifying its
//! origin, F-ID-4, F-SMS-11, F-SMS-15):
//! - `POST /v1/webhooks/twilio/inbound`: a text to our number; STOP and its
//!   synonyms put the number on the opt-out list, START takes it off, HELP
//!   answers; the reply is TwiML.
//! - `POST /v1/webhooks/twilio/status`: a delivery receipt for a message we sent.
//! - `GET|POST /v1/webhooks/dmark/dlr`: DMark's delivery report, at the URL the
//!   `dmark` provider gave it (`?secret=…&ref=<log id>`), plus a `status`.
//!
//! The Twilio routes check `X-Twilio-Signature` against the auth token; the
//! DMark route checks the shared secret. An unconfigured check answers 503.
//!
//! The SMS events topic (AWS End User Messaging SMS publishes there) reaches
//! the same function as an SNS event: delivery events of what the `sns`
//! provider sent (F-SMS-15) and two-way inbound texts (STOP/START, F-SMS-11).
//! SNS invokes the function itself under a permission that names the topic,
//! so the origin is established by IAM rather than by a message signature
//! (which an HTTPS subscription would need).

use aws_lambda_events::event::sns::SnsEvent;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use lambda_http::request::LambdaRequest;
use lambda_http::RequestExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use versus::lambda::{self, Invoke};
use versus::phone::PhoneNumber;
use versus::secret::Secret;
use versus::sms::inbound::{self, Keyword, SmsTopicMessage};
use versus::sms::preferences::PreferencesStore;
use versus::sms::receipts::{Receipt, ReceiptFor, ReceiptOutcome};
use versus::sms::store::SmsStore;
use versus::{db, Config, Error};
use versus_http::routing::{self, get, post, ApiError, Now, Reply, Router};

pub struct App {
    store: SmsStore,
    preferences: PreferencesStore,
    config: Config,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    // The providers' secrets come from Secrets Manager, read once here.
    let config = &config.clone().with_secrets(&sdk).await?;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.sms).await;
    let app = Arc::new(App {
        store: SmsStore::new(client.clone(), &config.tables.sms),
        preferences: PreferencesStore::new(client, &config.tables.users),
        config: config.clone(),
    });
    let routes = router(app.clone());
    Ok(lambda::typed(move |event: Trigger, context| {
        let (app, routes) = (app.clone(), routes.clone());
        async move {
            match event {
                Trigger::Topic(event) => Ok(serde_json::to_value(
                    app.sns_records(&event, versus::now_ms()).await?,
                )?),
                Trigger::Http(request) => versus_http::serve(routes, *request, context).await,
            }
        }
    }))
}

/// The function's two triggers: the SMS events topic (an SNS event, read
/// first: it has `Records`) and the HTTP API.
pub enum Trigger {
    Topic(SnsEvent),
    Http(Box<LambdaRequest>),
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Through a `Value`: `LambdaRequest` reads itself from serde_json's
        // own deserializers only (it keeps the raw JSON), not from serde's
        // buffered content an untagged enum would hand it.
        let event = serde_json::Value::deserialize(deserializer)?;
        match SnsEvent::deserialize(&event) {
            Ok(topic) => Ok(Trigger::Topic(topic)),
            Err(_) => serde_json::from_value(event)
                .map(|request| Trigger::Http(Box::new(request)))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// What one SNS invocation did with its records.
#[derive(Debug, Default, Serialize)]
pub struct TopicSummary {
    pub receipts: usize,
    pub texts: usize,
    pub skipped: usize,
}

type Shared = State<Arc<App>>;

/// The routes (the template's `WebhooksFunction` events name the same ones).
pub fn router(app: Arc<App>) -> Router {
    routing::finish(
        Router::new()
            .route("/v1/webhooks/twilio/inbound", post(twilio_inbound))
            .route("/v1/webhooks/twilio/status", post(twilio_status))
            .route("/v1/webhooks/dmark/dlr", get(dmark_dlr).post(dmark_dlr))
            .with_state(app),
    )
}

async fn twilio_inbound(State(app): Shared, Now(now_ms): Now, hook: Hook) -> Answer<Response> {
    Ok(app.twilio_inbound(&hook.parts, &hook.body, now_ms).await?)
}

async fn twilio_status(State(app): Shared, Now(now_ms): Now, hook: Hook) -> Answer<Response> {
    Ok(app.twilio_status(&hook.parts, &hook.body, now_ms).await?)
}

async fn dmark_dlr(State(app): Shared, Now(now_ms): Now, hook: Hook) -> Answer<Reply> {
    Ok(app.dmark_dlr(&hook.parts, &hook.body, now_ms).await?)
}

type Answer<T> = Result<T, ApiError>;

/// A provider's request as its origin check reads it: the head (URL,
/// headers) and the raw body, at most `MAX_BODY_BYTES`.
struct Hook {
    parts: Parts,
    body: axum::body::Bytes,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Hook {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let limit = versus_http::MAX_BODY_BYTES;
        let body = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| ApiError(Error::PayloadTooLarge { limit }))?;
        Ok(Hook { parts, body })
    }
}

/// `<Response>` with an optional reply message.
fn twiml(message: Option<&str>) -> Response {
    let inner = message
        .map(|m| format!("<Message>{}</Message>", xml_escape(m)))
        .unwrap_or_default();
    (
        [("content-type", "text/xml")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{inner}</Response>"),
    )
        .into_response()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl App {
    /// The form parameters of a Twilio request, once its signature holds.
    fn verified_twilio_form(
        &self,
        req: &Parts,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, Error> {
        let token = self
            .config
            .sms
            .twilio
            .auth_token
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| Error::dependency("TWILIO_AUTH_TOKEN is not configured"))?;
        let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        let host = req
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let base = self
            .config
            .sms
            .webhook_base_url
            .clone()
            .unwrap_or_else(|| format!("https://{host}"));
        let query = req
            .query_string_parameters_ref()
            .map(|_| req.uri.query().unwrap_or(""))
            .filter(|q| !q.is_empty())
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let url = format!("{base}{}{query}", req.uri.path());
        let signature = req
            .headers
            .get("x-twilio-signature")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if !inbound::twilio_signature_valid(token, &url, &params, signature) {
            return Err(Error::Forbidden(
                "the request signature does not verify".into(),
            ));
        }
        Ok(params)
    }

    async fn twilio_inbound(
        &self,
        req: &Parts,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Response, Error> {
        let params = self.verified_twilio_form(req, body)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let from = PhoneNumber::parse(get("From").unwrap_or(""))?;
        Ok(
            match self
                .inbound_text(&from, get("Body").unwrap_or(""), now_ms)
                .await?
            {
                Some(Keyword::Stop) => twiml(Some(inbound::STOP_REPLY)),
                Some(Keyword::Start) => twiml(Some(inbound::START_REPLY)),
                Some(Keyword::Help) => twiml(Some(inbound::HELP_REPLY)),
                None => twiml(None),
            },
        )
    }

    /// F-SMS-11: a text to our number. STOP and its synonyms put the number on
    /// the opt-out list and switch its owner's SMS off; START undoes both.
    async fn inbound_text(
        &self,
        from: &PhoneNumber,
        body: &str,
        now_ms: i64,
    ) -> Result<Option<Keyword>, Error> {
        let keyword = inbound::keyword(body);
        let word = body.trim().to_ascii_uppercase();
        match keyword {
            Some(Keyword::Stop) => {
                versus::sms::optouts::opt_out(&self.store, from, &word, now_ms).await?;
                let owner = self.preferences.keyword_from(from, false, now_ms).await?;
                tracing::info!(from = %from, ?owner, "opted out by SMS");
            }
            Some(Keyword::Start) => {
                versus::sms::optouts::opt_in(&self.store, from, &word, now_ms).await?;
                let owner = self.preferences.keyword_from(from, true, now_ms).await?;
                tracing::info!(from = %from, ?owner, "opted back in by SMS");
            }
            Some(Keyword::Help) | None => {}
        }
        Ok(keyword)
    }

    /// The SMS events topic: delivery events (`eventType`, `messageId`) and
    /// inbound texts (`originationNumber`, `messageBody`). A record that is not
    /// readable is logged and skipped; a storage failure fails the invocation,
    /// so that SNS delivers it again.
    pub async fn sns_records(&self, event: &SnsEvent, now_ms: i64) -> Result<TopicSummary, Error> {
        let mut summary = TopicSummary::default();
        for record in &event.records {
            match SmsTopicMessage::parse(&record.sns.message) {
                Some(SmsTopicMessage::Delivery {
                    event_type,
                    message_id,
                    description,
                }) => {
                    let Some(delivered) = inbound::sns_event_delivered(&event_type) else {
                        summary.skipped += 1;
                        continue;
                    };
                    let receipt = if delivered {
                        Receipt::delivered(now_ms)
                    } else {
                        let description = description.as_deref().unwrap_or("");
                        Receipt::failed(
                            format!("sns: {event_type} {description}").trim_end(),
                            now_ms,
                        )
                    };
                    // SNS does not echo our id: its own, through the index
                    // (a log not in it yet fails the invocation: retried).
                    versus::sms::receipts::record_receipt(
                        &self.store,
                        ReceiptFor::ProviderMessage(&message_id),
                        &receipt,
                    )
                    .await?;
                    summary.receipts += 1;
                }
                Some(SmsTopicMessage::Inbound { from, body }) => match PhoneNumber::parse(&from) {
                    Ok(from) => {
                        self.inbound_text(&from, &body, now_ms).await?;
                        summary.texts += 1;
                    }
                    Err(_) => summary.skipped += 1,
                },
                None => {
                    tracing::warn!(message_id = %record.sns.message_id, "unreadable SMS event skipped");
                    summary.skipped += 1;
                }
            }
        }
        Ok(summary)
    }

    /// F-SMS-15: DMark's delivery report. Its parameters may come in the
    /// query, a form or a JSON body; `ref` names our log, `status` the outcome.
    async fn dmark_dlr(&self, req: &Parts, body: &[u8], now_ms: i64) -> Result<Reply, Error> {
        let secret = self
            .config
            .sms
            .dmark
            .dlr_secret
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| Error::dependency("DMARK_DLR_SECRET is not configured"))?;
        let mut params: Vec<(String, String)> =
            form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(fields)) => {
                params.extend(fields.into_iter().map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    (k, v)
                }))
            }
            _ => params.extend(form_urlencoded::parse(body).into_owned()),
        }
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        if !versus::sms::constant_time_eq(get("secret").unwrap_or(""), secret) {
            return Err(Error::Forbidden(
                "the delivery report secret does not match".into(),
            ));
        }
        let reference = get("ref").ok_or_else(|| Error::validation("ref is missing"))?;
        let status = get("status").ok_or_else(|| Error::validation("status is missing"))?;
        let receipt = match inbound::dmark_status(status) {
            Some(true) => Receipt::delivered(now_ms),
            Some(false) => Receipt::failed(format!("dmark: {status}"), now_ms),
            // Not final yet (buffered, sent to the network): nothing to record.
            None => return Ok(Reply(200, json!({"received": true}))),
        };
        // `ref` is our log id: the report is tied to its log by key.
        let outcome = versus::sms::receipts::record_receipt(
            &self.store,
            ReceiptFor::Log(reference),
            &receipt,
        )
        .await?;
        if outcome == ReceiptOutcome::Unknown {
            tracing::warn!(reference, "DMark delivery report for no known message");
        }
        Ok(Reply(200, json!({"received": true})))
    }

    async fn twilio_status(
        &self,
        req: &Parts,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Response, Error> {
        let params = self.verified_twilio_form(req, body)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let sid = get("MessageSid").ok_or_else(|| Error::validation("MessageSid is missing"))?;
        let receipt = match get("MessageStatus") {
            Some("delivered") => Receipt::delivered(now_ms),
            Some(status @ ("failed" | "undelivered")) => Receipt::failed(
                format!("{status} (error {})", get("ErrorCode").unwrap_or("unknown")),
                now_ms,
            ),
            // queued, sending, sent: nothing to record yet.
            _ => return Ok(axum::http::StatusCode::NO_CONTENT.into_response()),
        };
        // The callback URL names our log (`?sms_id=`, signed with the rest);
        // one without it predates that and is found by Twilio's id.
        let sms_id = form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
            .find(|(name, _)| name == "sms_id")
            .map(|(_, id)| id.into_owned());
        let about = match &sms_id {
            Some(id) => ReceiptFor::Log(id),
            None => ReceiptFor::ProviderMessage(sid),
        };
        if versus::sms::receipts::record_receipt(&self.store, about, &receipt).await?
            == ReceiptOutcome::Unknown
        {
            tracing::warn!(
                message_sid = sid,
                "Twilio status callback for no known message"
            );
        }
        Ok(axum::http::StatusCode::NO_CONTENT.into_response())
    }
}

#[cfg(test)]
mod trigger_tests {
    use super::Trigger;

    // What `sam local generate-event sns notification` makes (message
    // attributes included) is the topic; an HTTP API request is not.
    #[test]
    fn topic_events_and_http_requests_are_told_apart() {
        let sns = serde_json::json!({"Records": [{
            "EventSource": "aws:sns", "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1::ExampleTopic",
            "Sns": {
                "Type": "Notification", "MessageId": "95df01b4",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:ExampleTopic",
                "Subject": "example subject", "Message": "example message",
                "Timestamp": "1970-01-01T00:00:00.000Z", "SignatureVersion": "1",
                "Signature": "EXAMPLE", "SigningCertUrl": "EXAMPLE", "UnsubscribeUrl": "EXAMPLE",
                "MessageAttributes": {"Test": {"Type": "String", "Value": "TestString"}}
            }
        }]});
        assert!(matches!(
            serde_json::from_value::<Trigger>(sns).unwrap(),
            Trigger::Topic(_)
        ));
        let http = serde_json::json!({
            "version": "2.0", "routeKey": "POST /v1/webhooks/twilio/status",
            "rawPath": "/v1/webhooks/twilio/status", "rawQueryString": "",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
                "domainPrefix": "example", "requestId": "r1", "routeKey": "POST /v1/webhooks/twilio/status",
                "stage": "$default", "time": "07/Dec/2026:05:00:00 +0000", "timeEpoch": 1796274000000u64,
                "http": {"method": "POST", "path": "/v1/webhooks/twilio/status", "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "TwilioProxy/1.1"}
            },
            "body": "MessageSid=SM1", "isBase64Encoded": false
        });
        assert!(matches!(
            serde_json::from_value::<Trigger>(http).unwrap(),
            Trigger::Http(_)
        ));
        assert!(serde_json::from_value::<Trigger>(serde_json::json!([1])).is_err());
    }
}
