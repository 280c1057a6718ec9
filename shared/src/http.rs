//! HTTP API helpers: the caller, JSON bodies with limits, F-ERR-1 responses.

use crate::auth::Caller;
use crate::error::Error;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{de::DeserializeOwned, Serialize};

/// Request bodies above this are refused before parsing (F-ERR-2).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The caller, from the claims API Gateway's JWT authorizer put in the request context.
pub fn caller(req: &Request) -> Result<Caller, Error> {
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

/// A request's body as bytes, however the event carried it.
pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

/// Parses a JSON body into `T` (which should deny unknown fields where they matter).
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, Error> {
    parse_json(body_bytes(req))
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

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_string)
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_string)
}

/// `?limit=` (or another name): an integer from 1 to `max`, `default` when absent.
pub fn limit_param(req: &Request, name: &str, default: i32, max: i32) -> Result<i32, Error> {
    match query_param(req, name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| Error::validation(format!("{name} must be an integer from 1 to {max}"))),
    }
}

pub fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .expect("static headers are valid")
}

/// F-ERR-1: the error as a JSON response with the right status and, for 429/503, Retry-After.
pub fn error(err: &Error) -> Response<Body> {
    err.log();
    let mut response = json(err.status(), &err.body());
    if let Some(secs) = err.retry_after_secs() {
        response.headers_mut().insert(
            "retry-after",
            secs.to_string().parse().expect("digits are a valid header"),
        );
    }
    response
}

/// The frame of every authenticated route: the caller from the authorizer's
/// claims, the F-PR-2 `last_seen_at` refresh alongside the work (best effort),
/// and the result as JSON or as an F-ERR-1 error.
pub async fn authenticated<T, F, Fut>(
    req: &Request,
    profiles: &crate::profile::Profiles,
    throttle_secs: i64,
    now_ms: i64,
    work: F,
) -> Response<Body>
where
    T: Serialize,
    F: FnOnce(Caller) -> Fut,
    Fut: std::future::Future<Output = Result<(u16, T), Error>>,
{
    let caller = match caller(req) {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    let touch = profiles.note_activity(&caller.user_id, now_ms, throttle_secs);
    let (_, result) = tokio::join!(touch, work(caller.clone()));
    respond(result)
}

pub fn respond<T: Serialize>(result: Result<(u16, T), Error>) -> Response<Body> {
    match result {
        Ok((status, value)) => json(status, &value),
        Err(e) => error(&e),
    }
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
        let r = error(&Error::TooManyRequests {
            message: "x".into(),
            retry_after_secs: 7,
        });
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
    }
}
