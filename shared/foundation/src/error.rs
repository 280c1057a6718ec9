//! The one error type. Every failure a caller can see maps to a status and a
//! stable `code` (F-ERR-1); internal details are logged, never returned.

use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed or a field is invalid.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 405: the path exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the request conflicts with the current state (taken name, double accept, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 422: well-formed but not processable in the current state.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 429 with Retry-After.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 503: a dependency (DynamoDB, a provider) failed; safe to retry.
    /// `message` reads the whole cause chain for the logs; `source` keeps
    /// the error itself, for whoever walks the chain.
    #[error("dependency failure: {message}")]
    Dependency {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Misconfiguration detected at init.
    #[error("configuration error: {0}")]
    Config(String),
    /// 500: a bug or an unexpected state.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Error::bad_request("validation_error", message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Error::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }
    pub fn dependency(message: impl std::fmt::Display) -> Self {
        Error::Dependency {
            message: message.to_string(),
            source: None,
        }
    }

    /// A dependency's failure, told by `message` and caused by `source`.
    pub fn dependency_caused(
        message: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Dependency {
            message: message.to_string(),
            source: Some(Box::new(source)),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest { .. } => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound { .. } => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::Conflict { .. } => 409,
            Error::PayloadTooLarge { .. } => 413,
            Error::Unprocessable { .. } => 422,
            Error::TooManyRequests { .. } => 429,
            Error::Dependency { .. } => 503,
            Error::Config(_) | Error::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest { code, .. }
            | Error::NotFound { code, .. }
            | Error::Conflict { code, .. }
            | Error::Unprocessable { code, .. } => code,
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::TooManyRequests { .. } => "rate_limited",
            Error::Dependency { .. } => "service_unavailable",
            Error::Config(_) | Error::Internal(_) => "internal_error",
        }
    }

    /// The message a caller may see. Dependency and internal details stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            Error::Dependency { .. } => "a backing service is unavailable, try again".into(),
            Error::Config(_) | Error::Internal(_) => "something went wrong on our side".into(),
            other => other.to_string(),
        }
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Error::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Error::Dependency { .. } => Some(1),
            _ => None,
        }
    }

    /// F-ERR-1 body: `{"error":{"code":"...","message":"..."}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({ "error": { "code": self.code(), "message": self.public_message() } })
    }

    /// Log server-side failures with their detail; client errors are not noise.
    pub fn log(&self) {
        if self.status() >= 500 {
            tracing::error!(code = self.code(), detail = %self, "request failed");
        }
    }
}

impl From<serde_dynamo::Error> for Error {
    fn from(e: serde_dynamo::Error) -> Self {
        Error::Internal(format!("item (de)serialization: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_failure_keeps_its_cause_and_shows_none_of_it() {
        let cause = std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "dynamodb.local:8000 timed out",
        );
        let e = Error::dependency_caused("GetItem failed: timed out", cause);
        let source = std::error::Error::source(&e).expect("the cause is kept");
        assert_eq!(source.to_string(), "dynamodb.local:8000 timed out");
        assert_eq!(e.status(), 503);
        assert!(
            !e.body().to_string().contains("dynamodb.local"),
            "{}",
            e.body()
        );
    }

    #[test]
    fn internal_details_never_leak() {
        let e = Error::Internal("db password is hunter2".into());
        let body = e.body().to_string();
        assert!(!body.contains("hunter2"));
        assert_eq!(e.status(), 500);
        let e = Error::dependency("DynamoDB timed out at 10.0.0.1");
        assert!(!e.body().to_string().contains("10.0.0.1"));
        assert_eq!(e.status(), 503);
    }

    #[test]
    fn shape_is_f_err_1() {
        let e = Error::conflict("username_taken", "username is taken");
        assert_eq!(
            e.body(),
            json!({"error":{"code":"username_taken","message":"username is taken"}})
        );
        assert_eq!(e.status(), 409);
        let e = Error::TooManyRequests {
            message: "slow down".into(),
            retry_after_secs: 30,
        };
        assert_eq!(e.retry_after_secs(), Some(30));
        assert_eq!(e.status(), 429);
    }
}
