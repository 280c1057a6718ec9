//! HTTP API helpers: the caller from the authorizer's claims and JSON
//! bodies with limits; `routing` builds the functions' routers on them.

use crate::auth::Caller;
use crate::error::Error;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use serde::de::DeserializeOwned;

/// Request bodies above this are refused before parsing (F-ERR-2).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub mod routing;

/// The caller, from the claims API Gateway's JWT authorizer put in the request context.
pub fn caller(req: &impl RequestExt) -> Result<Caller, Error> {
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    };
    match claims {
        Some(claims) => Caller::from_claims(claims),
        None => Err(Error::Unauthorized(
            "missing or invalid bearer token".into(),
        )),
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(Error::bad_request(
                "invalid_json",
                "request body must be a JSON object",
            ))
        }
        // serde reads a JSON array as a struct's fields in order: `["bob"]`
        // would pass for `{"username":"bob"}`. Only objects are bodies (F-ERR-2).
        Some(b'{') => {}
        Some(_) => {
            return Err(Error::validation(
                "request body must be a JSON object, not an array, string, number or null",
            ))
        }
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = match e.classify() {
            serde_json::error::Category::Data => format!("invalid request body: {e}"),
            _ => format!(
                "request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        };
        let code = if e.is_data() {
            "validation_error"
        } else {
            "invalid_json"
        };
        Error::bad_request(code, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body1 {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn json_errors_are_clear() {
        let e = parse_json::<Body1>(b"{not json").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        let e = parse_json::<Body1>(b"{\"name\":\"a\",\"extra\":1}").unwrap_err();
        assert_eq!(e.code(), "validation_error");
        assert!(e.to_string().contains("extra"));
        for not_object in [&b"[\"a\"]"[..], b" \"a\"", b"1", b"null", b"true"] {
            let e = parse_json::<Body1>(not_object).unwrap_err();
            assert_eq!(e.status(), 400);
            assert!(e.to_string().contains("JSON object"), "{e}");
        }
        let e = parse_json::<Body1>(b"").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(parse_json::<Body1>(&big).unwrap_err().status(), 413);
    }

    #[test]
    fn rate_limit_sets_retry_after() {
        use axum::response::IntoResponse;
        let r = Error::TooManyRequests {
            message: "x".into(),
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
    }
}
