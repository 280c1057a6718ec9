//! `sns` (F-SMS-1): Amazon SNS `Publish` straight to a phone number, with
//! `AWS.SNS.SMS.SMSType` Transactional or Promotional by the message's
//! category, and the optional sender id and origination number.

use super::{Outgoing, Provider, SendError};
use crate::config::SnsConfig;
use crate::sms::Category;
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::MessageAttributeValue;
use futures::future::BoxFuture;

pub struct Sns {
    client: aws_sdk_sns::Client,
    config: SnsConfig,
}

fn text(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type is set")
}

/// Throttling and AWS-side faults are worth another attempt; a refused
/// parameter (an invalid number, a too-long message) is not.
fn classify(code: Option<&str>, detail: String) -> SendError {
    match code {
        Some(
            "Throttling" | "ThrottledException" | "InternalError" | "InternalFailure"
            | "ServiceUnavailable" | "KMSThrottling",
        )
        | None => SendError::Transient(detail),
        Some(_) => SendError::Permanent(detail),
    }
}

impl Sns {
    pub fn new(client: aws_sdk_sns::Client, config: SnsConfig) -> Self {
        Sns { client, config }
    }
}

impl Provider for Sns {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn send<'a>(&'a self, message: &'a Outgoing<'a>) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            let sms_type = match message.message_type.category() {
                Category::Transactional => "Transactional",
                Category::Promotional => "Promotional",
            };
            let mut publish = self
                .client
                .publish()
                .phone_number(message.to.e164())
                .message(message.body)
                .message_attributes("AWS.SNS.SMS.SMSType", text(sms_type));
            if let Some(sender_id) = &self.config.sender_id {
                publish = publish.message_attributes("AWS.SNS.SMS.SenderID", text(sender_id));
            }
            if let Some(number) = &self.config.origination_number {
                publish = publish.message_attributes("AWS.MM.SMS.OriginationNumber", text(number));
            }
            match publish.send().await {
                Ok(out) => out.message_id.ok_or_else(|| {
                    SendError::Permanent("sns accepted it without a MessageId".into())
                }),
                Err(e) => {
                    let code = e.code().map(str::to_string);
                    let detail = format!("sns: {}", aws_sdk_sns::error::DisplayErrorContext(&e));
                    Err(classify(code.as_deref(), detail))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_transient_and_bad_parameters_permanent() {
        assert!(matches!(
            classify(Some("Throttling"), "x".into()),
            SendError::Transient(_)
        ));
        assert!(matches!(
            classify(None, "timeout".into()),
            SendError::Transient(_)
        ));
        assert!(matches!(
            classify(Some("InvalidParameter"), "x".into()),
            SendError::Permanent(_)
        ));
    }
}
