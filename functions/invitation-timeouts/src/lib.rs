//! invitation-timeouts: receives the delayed SQS message of each random-opponent
//! invitation and expires it if nobody answered (F-MM-2), telling both players.
//!
//! Redelivery is harmless: only the call that moves the invitation from
//! pending to expired notifies. A message that cannot be handled now is
//! reported as a batch item failure, so SQS retries it alone and, after the
//! queue's receive limit, parks it in the dead-letter queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use std::sync::Arc;
use versus::battles::answers::ExpireResult;
use versus::battles::messages::notify;
use versus::battles::timer::TimeoutMessage;
use versus::battles::BattleStore;
use versus::ids::InvitationId;
use versus::lambda::{self, BoxError, Invoke, RecordOutcome};
use versus::realtime::Pusher;
use versus::{db, Config, Error};

pub struct App {
    battles: BattleStore,
    pusher: Pusher,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.battles).await;
    let app = Arc::new(App {
        battles: versus::wiring::battles(&client, config),
        pusher: versus::wiring::pusher(&sdk, &client, config)?,
    });
    Ok(lambda::typed(move |event: SqsEvent, _: lambda::Context| {
        let app = app.clone();
        async move { Ok::<_, BoxError>(app.handle(event, versus::now_ms()).await) }
    }))
}

impl App {
    pub async fn handle(&self, event: SqsEvent, now_ms: i64) -> SqsBatchResponse {
        lambda::partial_batch(&event.records, true, |record| async move {
            self.expire(record, now_ms)
                .await
                .map(|()| RecordOutcome::Done)
        })
        .await
    }

    async fn expire(&self, record: &SqsMessage, now_ms: i64) -> Result<(), Error> {
        let body = record.body.as_deref().unwrap_or("");
        let message: TimeoutMessage = match serde_json::from_str(body) {
            Ok(m) => m,
            // A malformed message will never parse: drop it (logged), do not retry it forever.
            Err(e) => {
                tracing::error!(error = %e, message_id = ?record.message_id, "unreadable timeout message dropped");
                return Ok(());
            }
        };
        match versus::battles::answers::expire_invitation(
            &self.battles,
            &InvitationId::parse(&message.invitation_id)?,
            now_ms,
        )
        .await?
        {
            ExpireResult::Expired(invitation) => {
                notify::invitation_expired_to_both(&self.pusher, &invitation, now_ms).await;
                Ok(())
            }
            ExpireResult::AlreadyClosed | ExpireResult::Gone => Ok(()),
            // Delivered early (SQS delays are whole seconds): try again after
            // the visibility timeout.
            ExpireResult::NotDue { due_in_ms } => Err(Error::Unprocessable {
                code: "not_due",
                message: format!(
                    "invitation {} is due in {due_in_ms} ms",
                    message.invitation_id
                ),
            }),
        }
    }
}
