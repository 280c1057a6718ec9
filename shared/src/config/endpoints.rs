//! The AWS SDK settings a function builds its clients from. The SDK reads a
//! service's endpoint override (`AWS_ENDPOINT_URL_<SERVICE>`) from the
//! process's environment; a function reads it from its own. In Lambda the
//! two are the same. The local gateway runs every function in one process
//! and gives each its own endpoints (its IAM stand-in, which knows the caller
//! by them), so the setting has to come with the function's configuration.

use super::Config;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use std::collections::BTreeMap;

/// The services whose endpoint a function's environment may set, by the
/// SDK's service id (which names the variable: `AWS_ENDPOINT_URL_SQS`).
const SERVICES: [&str; 4] = ["DynamoDB", "SQS", "SNS", "Secrets Manager"];

/// `AWS_ENDPOINT_URL_<SERVICE>` → URL, as the function's environment sets them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints(BTreeMap<String, String>);

fn variable(service_id: &str) -> String {
    format!(
        "AWS_ENDPOINT_URL_{}",
        service_id.to_uppercase().replace(' ', "_")
    )
}

impl Endpoints {
    pub(super) fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Self {
        Endpoints(
            SERVICES
                .iter()
                .map(|service| variable(service))
                .filter_map(|name| Some((name.clone(), get(&name)?)))
                .collect(),
        )
    }

    /// The URL the environment gives `service_id`'s clients, if any.
    pub fn of(&self, service_id: &str) -> Option<&str> {
        self.0.get(&variable(service_id)).map(String::as_str)
    }
}

/// The function's endpoints first, then whatever the SDK would have read.
#[derive(Debug)]
struct OwnEndpoints {
    endpoints: Endpoints,
    process: aws_config::SdkConfig,
}

impl LoadServiceConfig for OwnEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.env() == "AWS_ENDPOINT_URL" {
            if let Some(url) = self.endpoints.of(key.service_id()) {
                return Some(url.to_string());
            }
        }
        self.process.service_config()?.load_config(key)
    }
}

impl Config {
    /// The SDK settings every client of the function is built from: the
    /// environment's defaults, with the function's own endpoints.
    pub async fn aws_sdk(&self) -> aws_config::SdkConfig {
        let process = crate::db::aws_config().await;
        if self.aws_endpoints.0.is_empty() {
            return process;
        }
        process
            .clone()
            .into_builder()
            .service_config(OwnEndpoints {
                endpoints: self.aws_endpoints.clone(),
                process,
            })
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_is_named_after_the_service_id() {
        assert_eq!(
            variable("Secrets Manager"),
            "AWS_ENDPOINT_URL_SECRETS_MANAGER"
        );
        let endpoints = Endpoints::from_lookup(&|name| {
            (name == "AWS_ENDPOINT_URL_SQS").then(|| "http://127.0.0.1:9/f/sqs".to_string())
        });
        assert_eq!(endpoints.of("SQS"), Some("http://127.0.0.1:9/f/sqs"));
        assert_eq!(endpoints.of("DynamoDB"), None);
    }
}
