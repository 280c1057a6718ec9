//! ws-matchmaking: the WebSocket actions `find_opponent`, `respond_invitation`,
//! `join_queue` and `leave_queue` (F-MM-1 … F-MM-5).
//!
//! Every answer goes out through the management API: what concerns a user
//! (`invitation_sent`, `match_found`, ...) to all of that user's connections
//! (F-PR-6), a direct reply (`queued`, `no_active_users`, errors) to the
//! connection that asked. The routes therefore have no route responses.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use versus::battles::invitations::Answer;
use versus::battles::matchmaking::FindOutcome;
use versus::battles::messages::{self, notify};
use versus::battles::queue::JoinOutcome;
use versus::battles::timer::InvitationTimer;
use versus::battles::{validate_challenge_type, BattleStore};
use versus::ids::{ConnectionId, InvitationId, UserId};
use versus::lambda::{self, BoxError, Invoke};
use versus::realtime::Pusher;
use versus::texts::notices::BattleNotices;
use versus::{db, ws, Config, Error};

pub struct App {
    battles: BattleStore,
    pusher: Pusher,
    /// match_found, pushed and texted to a player who is not connected (F-SMS-21).
    notices: BattleNotices,
    timer: InvitationTimer,
    config: Config,
}

/// Client → server messages. Unknown fields are refused (F-ERR-2).
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    FindOpponent {
        match_type: Option<String>,
        challenge_type: Option<String>,
    },
    RespondInvitation {
        invitation_id: String,
        accept: bool,
    },
    JoinQueue {
        challenge_type: Option<String>,
    },
    LeaveQueue {},
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let queue_url = config
        .invitation_timeouts_queue_url
        .as_deref()
        .ok_or_else(|| Error::Config("INVITATION_TIMEOUTS_QUEUE_URL is not set".into()))?;
    let pusher = versus::wiring::pusher(&sdk, &client, config)?;
    let outbox = versus::wiring::outbox(&sdk, &client, config);
    let app = Arc::new(App {
        battles: versus::wiring::battles(&client, config),
        notices: versus::wiring::battle_notices(pusher.clone(), outbox, &client, config),
        pusher,
        timer: InvitationTimer::new(&sdk, queue_url),
        config: config.clone(),
    });
    Ok(lambda::typed(
        move |event: ApiGatewayWebsocketProxyRequest, _: lambda::Context| {
            let app = app.clone();
            async move { app.handle(event, versus::now_ms()).await }
        },
    ))
}

impl App {
    pub async fn handle(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
        now_ms: i64,
    ) -> Result<ApiGatewayProxyResponse, BoxError> {
        let connection_id = ws::connection_id(&event)?;
        let caller = ws::caller(&event)?;
        let touch = self.battles.profiles().note_activity(
            &caller.user_id,
            now_ms,
            self.config.last_seen_throttle_secs,
        );
        let work = self.route(&event, &caller.user_id, &connection_id, now_ms);
        let (_, result) = tokio::join!(touch, work);
        let reply = match result {
            Ok(Some(reply)) => reply,
            Ok(None) => return Ok(ws::ok()),
            Err(e) => ws::error_message(&e),
        };
        self.pusher
            .send_to_connection(&caller.user_id, &connection_id, &reply)
            .await?;
        Ok(ws::ok())
    }

    /// Does the work; returns the direct reply to the asking connection, if any.
    async fn route(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
        user_id: &UserId,
        connection_id: &ConnectionId,
        now_ms: i64,
    ) -> Result<Option<Value>, Error> {
        let message = ws::message(event)?;
        let request: Request = serde_json::from_value(message)
            .map_err(|e| Error::bad_request("invalid_message", format!("invalid message: {e}")))?;
        match request {
            Request::FindOpponent {
                match_type,
                challenge_type,
            } => {
                if match_type.as_deref().unwrap_or("active_user") != "active_user" {
                    return Err(Error::bad_request(
                        "unsupported_match_type",
                        "find_opponent supports match_type \"active_user\"; use join_queue to wait for a player",
                    ));
                }
                let challenge_type = validate_challenge_type(challenge_type.as_deref())?;
                self.find_opponent(user_id, &challenge_type, now_ms).await
            }
            Request::RespondInvitation {
                invitation_id,
                accept,
            } => {
                match versus::battles::answers::answer(
                    &self.battles,
                    &InvitationId::parse(&invitation_id)?,
                    user_id,
                    accept,
                    now_ms,
                )
                .await?
                {
                    Answer::Accepted { battle, .. } => {
                        self.notices.match_found(&battle, now_ms).await
                    }
                    Answer::Declined(invitation) => {
                        notify::invitation_declined_to_both(&self.pusher, &invitation, now_ms).await
                    }
                }
                Ok(None)
            }
            Request::JoinQueue { challenge_type } => {
                let challenge_type = validate_challenge_type(challenge_type.as_deref())?;
                match versus::battles::queue::join_queue(
                    &self.battles,
                    user_id,
                    connection_id,
                    &challenge_type,
                    now_ms,
                )
                .await?
                {
                    JoinOutcome::Queued => Ok(Some(messages::queued(&challenge_type))),
                    JoinOutcome::Matched(battle) => {
                        self.notices.match_found(&battle, now_ms).await;
                        Ok(None)
                    }
                    // The joiner that took us has notified both players.
                    JoinOutcome::TakenByOther => Ok(None),
                }
            }
            Request::LeaveQueue {} => {
                let was_queued =
                    versus::battles::queue::leave_queue(&self.battles, user_id, None).await?;
                Ok(Some(messages::left_queue(was_queued)))
            }
        }
    }

    async fn find_opponent(
        &self,
        user_id: &UserId,
        challenge_type: &str,
        now_ms: i64,
    ) -> Result<Option<Value>, Error> {
        let found = versus::battles::matchmaking::find_opponent(
            &self.battles,
            user_id,
            challenge_type,
            now_ms,
        )
        .await?;
        tracing::info!(
            requests = found.cost.requests,
            read_units = found.cost.read_units,
            write_units = found.cost.write_units,
            "find_opponent cost"
        );
        match found.outcome {
            FindOutcome::NoActiveUsers => Ok(Some(messages::no_active_users(challenge_type))),
            FindOutcome::Invited(invitation) => {
                // Without the timer the invitation still lapses at its
                // `valid_until` (reads and guards check it); only the
                // `invitation_expired` push would be missing.
                if let Err(e) = self.timer.schedule(&invitation, now_ms).await {
                    e.log();
                }
                notify::invitation_created(&self.pusher, &invitation, now_ms).await;
                Ok(None)
            }
        }
    }
}
