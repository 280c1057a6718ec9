//! Real-time push (F-PR-6): a message to a user goes to every open connection
//! of that user; a connection API Gateway reports gone (410) is forgotten.

use crate::db::DisplayErrorContext;
use crate::error::Error;
use crate::presence::Presence;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;
use serde::Serialize;

#[derive(Clone)]
pub struct Pusher {
    client: Client,
    presence: Presence,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub delivered: usize,
    pub gone_removed: usize,
    pub failed: usize,
}

/// The management API client for a WebSocket API stage endpoint.
pub fn management_client(sdk: &aws_config::SdkConfig, endpoint: &str) -> Client {
    let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

impl Pusher {
    pub fn new(client: Client, presence: Presence) -> Self {
        Pusher { client, presence }
    }

    /// A pusher through the WebSocket API's management endpoint
    /// (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
    pub fn to_endpoint(sdk: &aws_config::SdkConfig, endpoint: &str, presence: Presence) -> Self {
        Pusher::new(management_client(sdk, endpoint), presence)
    }

    /// Sends `message` to all of the user's connections, concurrently.
    /// Failures on one device never stop delivery to the others.
    pub async fn push<T: Serialize>(
        &self,
        user_id: &str,
        message: &T,
        now_ms: i64,
    ) -> Result<PushReport, Error> {
        let data = serde_json::to_vec(message)?;
        let connections = self.presence.connections(user_id, now_ms).await?;
        let sends = connections.iter().map(|connection_id| {
            let data = data.clone();
            async move {
                let result = self
                    .client
                    .post_to_connection()
                    .connection_id(connection_id)
                    .data(Blob::new(data))
                    .send()
                    .await;
                (connection_id, result)
            }
        });
        let mut report = PushReport::default();
        for (connection_id, result) in futures::future::join_all(sends).await {
            match result {
                Ok(_) => report.delivered += 1,
                Err(err) if is_gone(&err) => {
                    self.presence.remove(user_id, connection_id).await?;
                    report.gone_removed += 1;
                }
                Err(err) => {
                    tracing::warn!(connection_id, error = %DisplayErrorContext(&err), "push failed");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }
}

impl Pusher {
    /// Sends `message` to one connection (a reply to what that connection
    /// asked). Returns false when the connection is gone (and forgets it).
    pub async fn send_to_connection<T: Serialize>(
        &self,
        user_id: &str,
        connection_id: &str,
        message: &T,
    ) -> Result<bool, Error> {
        let data = serde_json::to_vec(message)?;
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if is_gone(&err) => {
                self.presence.remove(user_id, connection_id).await?;
                Ok(false)
            }
            Err(err) => Err(Error::dependency_caused(
                DisplayErrorContext(&err).to_string(),
                err,
            )),
        }
    }

    /// Pushes to a user and logs (does not fail on) a storage error: the
    /// state change the message reports has already committed.
    pub async fn notify<T: Serialize>(&self, user_id: &str, message: &T, now_ms: i64) {
        if let Err(e) = self.push(user_id, message, now_ms).await {
            e.log();
        }
    }
}

fn is_gone<R>(err: &SdkError<PostToConnectionError, R>) -> bool {
    matches!(
        err.as_service_error(),
        Some(PostToConnectionError::GoneException(_))
    )
}
