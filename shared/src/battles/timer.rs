//! F-MM-2: the invitation timeout, as a message on an SQS delay queue that
//! `invitation-timeouts` receives when the invitation is due.

use super::invitations::Invitation;
use crate::db;
use crate::error::Error;
use serde::{Deserialize, Serialize};

/// SQS delays a message by at most 15 minutes.
const MAX_DELAY_SECS: i64 = 900;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutMessage {
    pub invitation_id: String,
}

#[derive(Clone)]
pub struct InvitationTimer {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

/// Seconds until the invitation is due, as SQS takes them (rounded up).
pub fn delay_secs(valid_until_ms: i64, now_ms: i64) -> i32 {
    let ms = (valid_until_ms - now_ms).max(0);
    ((ms + 999) / 1000).min(MAX_DELAY_SECS) as i32
}

impl InvitationTimer {
    pub fn new(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        InvitationTimer {
            client: aws_sdk_sqs::Client::new(sdk),
            queue_url: queue_url.into(),
        }
    }

    pub async fn schedule(&self, invitation: &Invitation, now_ms: i64) -> Result<(), Error> {
        let body = serde_json::to_string(&TimeoutMessage {
            invitation_id: invitation.invitation_id.clone(),
        })?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_secs(invitation.valid_until, now_ms))
            .send()
            .await
            .map_err(db::unavailable)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_stay_in_range() {
        assert_eq!(delay_secs(61_000, 0), 61);
        assert_eq!(delay_secs(60_001, 0), 61);
        assert_eq!(delay_secs(0, 5), 0);
        assert_eq!(delay_secs(10_000_000, 0), 900);
    }
}
