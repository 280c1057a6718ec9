//! How the HTTP API functions meet API Gateway (payload 2.0): each is an
//! axum `Router` (see `routing`) run through `lambda_http` by [`function`];
//! the caller comes from the JWT authorizer's claims; bodies are JSON
//! objects with a size limit. Kept out of `versus`, so the domain crate
//! builds without a web framework (and in parallel with it).

use lambda_http::request::LambdaRequest;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use lambda_http::{Adapter, Body, Request, Response, Service};
use lambda_runtime::{service_fn, Context, LambdaEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::convert::Infallible;
use versus::auth::Caller;
use versus::lambda::Invoke;
use versus::Error;

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

/// An HTTP API (payload 2.0) function: an axum router (see [`routing`]),
/// which answers every request itself, errors included, so the handler
/// cannot fail the invocation.
pub fn function(router: axum::Router) -> Invoke {
    versus::lambda::typed(move |request: LambdaRequest, context: Context| {
        serve(router.clone(), request, context)
    })
}

/// One API Gateway request through the router, for a function that has
/// other triggers besides (its own event type has this as one variant).
pub async fn serve(
    router: axum::Router,
    request: LambdaRequest,
    context: Context,
) -> Result<Value, lambda_runtime::Error> {
    let mut adapter = Adapter::from(service_fn(move |req: Request| {
        let mut router = router.clone();
        async move {
            std::future::poll_fn(|cx| Service::<Request>::poll_ready(&mut router, cx)).await?;
            let response = router.call(prepare(req)).await?;
            Ok::<_, Infallible>(into_lambda_response(response).await)
        }
    }));
    // The adapter hands the context to the request (`lambda_context()`).
    let response = adapter.call(LambdaEvent::new(request, context)).await?;
    Ok(serde_json::to_value(response)?)
}

/// The router's response with its body read: our bodies are JSON or XML,
/// sent as text (binary only if one ever is not UTF-8). Read here because
/// the router's streaming body cannot be held across the runtime's awaits.
async fn into_lambda_response(response: axum::response::Response) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) if bytes.is_empty() => Body::Empty,
        Ok(bytes) => match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        },
        Err(e) => {
            tracing::error!(error = %e, "response body could not be read");
            return Response::builder()
                .status(500)
                .body(Body::Empty)
                .expect("static parts are valid");
        }
    };
    Response::from_parts(parts, body)
}

/// One clock reading per event, for the handler and the `last_seen_at`
/// refresh alike; and `/v1/me/` routed as `/v1/me`.
fn prepare(mut req: Request) -> Request {
    req.extensions_mut()
        .insert(routing::Now(versus::clock::now_ms()));
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = rebuilt.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
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
        let r = routing::ApiError(Error::TooManyRequests {
            message: "x".into(),
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
    }
}
