//! Local stand-ins for the SMS providers' HTTP APIs (Twilio, DMark). They
//! record every request as it arrived, so tests check the exact request the
//! provider documents, and answer as the provider would (or fail on demand).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

struct Behaviour {
    requests: Vec<Recorded>,
    /// The status message sends answer with (201 Twilio / 200 DMark, 503, 400…);
    /// `HANG`: message sends are never answered.
    send_status: u16,
    /// DMark: the life of the tokens it issues, in seconds.
    token_ttl_secs: i64,
    /// DMark: token → expiry (unix seconds); removed when revoked.
    tokens: HashMap<String, i64>,
}

/// A send status that makes the stub hold message sends without answering.
pub const HANG: u16 = 0;

#[derive(Clone)]
pub struct ProviderStub {
    pub url: String,
    state: Arc<Mutex<Behaviour>>,
}

impl ProviderStub {
    pub async fn start(send_status: u16) -> ProviderStub {
        let state = Arc::new(Mutex::new(Behaviour {
            requests: vec![],
            send_status,
            token_ttl_secs: 3600,
            tokens: HashMap::new(),
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ProviderStub { url, state }
    }

    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// What message sends answer from now on.
    pub fn set_send_status(&self, status: u16) {
        self.state.lock().unwrap().send_status = status;
    }

    pub fn set_token_ttl(&self, secs: i64) {
        self.state.lock().unwrap().token_ttl_secs = secs;
    }

    /// DMark revokes every token it issued (they answer 401 from now on).
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }
}

fn unsigned_jwt(exp: i64) -> String {
    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.stub-signature",
        b64(json!({"alg": "HS256", "typ": "JWT"}).to_string()),
        b64(json!({"exp": exp, "jti": ulid::Ulid::new().to_string()}).to_string())
    )
}

async fn answer(
    State(state): State<Arc<Mutex<Behaviour>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let hang = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        state.send_status == HANG && path != "/api/get_token/"
    };
    if hang {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    let mut state = state.lock().unwrap();
    let now = chrono::Utc::now().timestamp();
    let status = StatusCode::from_u16(state.send_status).unwrap();
    if path == "/api/get_token/" {
        let token = unsigned_jwt(now + state.token_ttl_secs);
        let exp = now + state.token_ttl_secs;
        state.tokens.insert(token.clone(), exp);
        return Json(json!({"access_token": token, "token_type": "Bearer"})).into_response();
    }
    if path == "/v3/api/send_sms/" {
        let presented = headers.get("authToken").and_then(|v| v.to_str().ok());
        let valid = presented
            .and_then(|t| state.tokens.get(t))
            .is_some_and(|exp| *exp > now);
        if !valid {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"detail": "invalid token"})),
            )
                .into_response();
        }
        return (status, Json(json!({"Status": status.as_u16()}))).into_response();
    }
    if path.starts_with("/2010-04-01/Accounts/") && path.ends_with("/Messages.json") {
        let body = match status.as_u16() {
            200..=299 => json!({"sid": format!("SM{}", ulid::Ulid::new()), "status": "queued"}),
            // As Twilio words it: the message names the number.
            400 => {
                let to = form_urlencoded::parse(&body)
                    .find(|(k, _)| k == "To")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                json!({"code": 21211, "message": format!("The 'To' number {to} is not a valid phone number."), "status": 400})
            }
            s => json!({"code": 20500, "message": "Internal Server Error", "status": s}),
        };
        return (status, Json(body)).into_response();
    }
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "no such stub route"})),
    )
        .into_response()
}

/// The template parameters that point the Twilio provider at `stub`
/// (transient failures retried after 1 s, 2 s, ...).
pub fn twilio_parameters(stub: &ProviderStub, webhooks: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TwilioAccountSid", "AC0123456789abcdef".into()),
        ("TwilioAuthToken", "twilio-test-token".into()),
        ("TwilioFrom", "+15005550006".into()),
        ("TwilioApiBase", stub.url.clone()),
        ("WebhookBaseUrl", webhooks.into()),
        ("SmsRetryBaseSeconds", "1".into()),
    ]
}

/// Where the Twilio stub takes message sends.
pub const TWILIO_MESSAGES: &str = "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json";
