//! ws-presence: `$connect`, `$disconnect`, `ping` and the `$default` fallback
//! of the WebSocket API (F-PR-2, F-PR-3). `ping` answers `{"type":"pong"}`; an
//! unknown action or a malformed message is answered with an error message.
//! A disconnect also leaves the matchmaking queue (F-MM-5).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use serde_json::{json, Value};
use std::sync::Arc;
use versus::battles::BattleStore;
use versus::ids::UserId;
use versus::lambda::{self, BoxError, Invoke};
use versus::presence::Presence;
use versus::profile::Profiles;
use versus::{db, ws, Config, Error};

pub struct App {
    presence: Presence,
    battles: BattleStore,
    profiles: Profiles,
    config: Config,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let app = Arc::new(App::new(client, config.clone()));
    Ok(lambda::typed(
        move |event: ApiGatewayWebsocketProxyRequest, _: lambda::Context| {
            let app = app.clone();
            async move { app.handle(event, versus::now_ms()).await }
        },
    ))
}

impl App {
    pub fn new(client: aws_sdk_dynamodb::Client, config: Config) -> Self {
        App {
            presence: versus::wiring::presence(&client, &config),
            battles: versus::wiring::battles(&client, &config),
            profiles: versus::wiring::profiles(&client, &config),
            config,
        }
    }

    /// Storage failures on `$connect`/`$disconnect` fail the invocation (API
    /// Gateway then refuses the handshake); message routes answer with an error message.
    pub async fn handle(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
        now_ms: i64,
    ) -> Result<ApiGatewayProxyResponse, BoxError> {
        let connection_id = ws::connection_id(&event)?;
        match ws::route_key(&event) {
            "$connect" => {
                let caller = match ws::caller(&event) {
                    Ok(c) => c,
                    Err(_) => return Ok(ws::refuse(401)),
                };
                self.presence
                    .connect(&caller.user_id, &connection_id, now_ms)
                    .await?;
                self.touch(&caller.user_id, now_ms).await;
                Ok(ws::ok())
            }
            "$disconnect" => {
                // F-MM-5: a player who disconnects leaves the queue it joined
                // from this connection.
                if let Some(user_id) = self.presence.disconnect(&connection_id).await? {
                    // Our own record's: a token subject when it was written.
                    let user_id = UserId::parse(&user_id)?;
                    versus::battles::queue::leave_queue(
                        &self.battles,
                        &user_id,
                        Some(&connection_id),
                    )
                    .await?;
                }
                Ok(ws::ok())
            }
            route => Ok(ws::reply(
                &match self.message(route, &event, now_ms).await {
                    Ok(v) => v,
                    Err(e) => ws::error_message(&e),
                },
            )),
        }
    }

    async fn message(
        &self,
        route: &str,
        event: &ApiGatewayWebsocketProxyRequest,
        now_ms: i64,
    ) -> Result<Value, Error> {
        let caller = ws::caller(event)?;
        self.touch(&caller.user_id, now_ms).await;
        let message = ws::message(event)?;
        match (route, message.get("action").and_then(Value::as_str)) {
            ("ping", _) | (_, Some("ping")) => Ok(json!({ "type": "pong" })),
            (_, Some(action)) => Err(Error::bad_request(
                "unknown_action",
                format!("unknown action {:?}", truncate(action, 64)),
            )),
            (_, None) => Err(Error::bad_request(
                "missing_action",
                "a message needs an \"action\" field",
            )),
        }
    }

    async fn touch(&self, user_id: &str, now_ms: i64) {
        self.profiles
            .note_activity(user_id, now_ms, self.config.last_seen_throttle_secs)
            .await
    }
}

fn truncate(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map(|(i, _)| &s[..i]).unwrap_or(s)
}
