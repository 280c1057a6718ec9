//! Secrets from AWS Secrets Manager, read once at init: the SMS providers'
//! secret (`SMS_SECRETS_ARN`) is a JSON object whose keys are named like the
//! settings they fill. No secret is a Lambda environment variable in a
//! deployment (anyone allowed `lambda:GetFunctionConfiguration` could read
//! it), and a rotated value reaches each new instance without a redeploy.

use super::Config;
use crate::error::Error;
use crate::secret::Secret;
use serde_json::{Map, Value};

/// The keys of the SMS providers' secret, and the setting each fills.
const SMS_SECRET_KEYS: [&str; 3] = ["TwilioAuthToken", "DmarkPassword", "DmarkDlrSecret"];

impl Config {
    /// Fills the SMS providers' secrets from Secrets Manager when
    /// `SMS_SECRETS_ARN` names one. An empty value leaves its feature off;
    /// an unreadable secret stops the function's start with the reason.
    pub async fn with_secrets(mut self, sdk: &aws_config::SdkConfig) -> Result<Config, Error> {
        let Some(arn) = self.sms_secrets_arn.clone() else {
            return Ok(self);
        };
        let client = aws_sdk_secretsmanager::Client::new(sdk);
        let out = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|e| {
                Error::Config(format!(
                    "reading the secret {arn} (SMS_SECRETS_ARN): {}",
                    crate::db::DisplayErrorContext(&e)
                ))
            })?;
        let text = out.secret_string().unwrap_or("{}");
        self.apply_sms_secrets(text)?;
        Ok(self)
    }

    /// `{"TwilioAuthToken": "...", ...}` onto the settings; empty values unset them.
    pub fn apply_sms_secrets(&mut self, text: &str) -> Result<(), Error> {
        let values: Map<String, Value> = serde_json::from_str(text).map_err(|_| {
            Error::Config(format!(
                "the SMS secret must be a JSON object with the keys {}",
                SMS_SECRET_KEYS.join(", ")
            ))
        })?;
        if let Some(unknown) = values
            .keys()
            .find(|k| !SMS_SECRET_KEYS.contains(&k.as_str()))
        {
            return Err(Error::Config(format!(
                "the SMS secret has a key {unknown:?}; it takes {}",
                SMS_SECRET_KEYS.join(", ")
            )));
        }
        let secret = |key: &str| -> Result<Option<Secret>, Error> {
            match values.get(key) {
                None => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(Secret::new(s.trim()))),
                Some(_) => Err(Error::Config(format!(
                    "the SMS secret's {key} must be a string"
                ))),
            }
        };
        self.sms.twilio.auth_token = secret("TwilioAuthToken")?;
        self.sms.dmark.password = secret("DmarkPassword")?;
        self.sms.dmark.dlr_secret = secret("DmarkDlrSecret")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_secret_fills_its_settings_and_nothing_else() {
        let mut config = super::super::tests::base_config();
        config
            .apply_sms_secrets(
                r#"{"TwilioAuthToken":"twilio-value-9x","DmarkPassword":"","DmarkDlrSecret":"dlr-value-9x"}"#,
            )
            .unwrap();
        assert_eq!(
            config.sms.twilio.auth_token.as_ref().unwrap().expose(),
            "twilio-value-9x"
        );
        assert!(config.sms.dmark.password.is_none());
        assert_eq!(
            config.sms.dmark.dlr_secret.as_ref().unwrap().expose(),
            "dlr-value-9x"
        );
        for bad in [r#"{"Other":"x"}"#, r#"{"TwilioAuthToken":1}"#, "[]", "tok"] {
            assert!(config.apply_sms_secrets(bad).is_err(), "{bad}");
        }
        assert!(!format!("{config:?}").contains("-value-9x"));
    }
}
