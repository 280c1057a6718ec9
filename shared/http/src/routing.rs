//! HTTP functions as axum routers. `lambda_http` hands the router each API
//! Gateway request; the pieces here keep every answer in the F-ERR-1 shape:
//! a JSON body that is not an object, an unknown path (404) or method (405),
//! a missing caller (401), all answer `{"error":{"code","message"}}`.
//!
//! A function's router: public routes, then [`authenticated`] routes (the
//! caller from the JWT authorizer's claims, and the throttled `last_seen_at`
//! refresh alongside the work), then [`finish`] for the fallbacks.

use super::{caller, parse_json, MAX_BODY_BYTES};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use versus::auth::{Caller, TokenVerifier};
use versus::profile::Profiles;
use versus::{Config, Error};

pub use axum::routing::{delete, get, post, put};
pub use axum::Router;

/// A JSON answer with its status.
#[derive(Debug)]
pub struct Reply(pub u16, pub Value);

/// What a handler returns: a reply, or an error in the F-ERR-1 shape.
pub type Answer = Result<Reply, ApiError>;

/// The one error type as an HTTP response (status, F-ERR-1 body,
/// `Retry-After` for 429/503). `?` turns any `versus::Error` into one.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError(e.into())
    }
}

fn json_response(status: u16, body: String) -> Response {
    axum::http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .expect("static headers are valid")
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        json_response(self.0, self.1.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(error) = self;
        error.log();
        let mut response = json_response(error.status(), error.body().to_string());
        if let Some(secs) = error.retry_after_secs() {
            response.headers_mut().insert(
                "retry-after",
                secs.to_string().parse().expect("digits are a valid header"),
            );
        }
        response
    }
}

/// The clock reading of this event, taken once when it arrived (see `lambda::http`).
#[derive(Clone, Copy, Debug)]
pub struct Now(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Now {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(parts
            .extensions
            .get::<Now>()
            .copied()
            .unwrap_or_else(|| Now(versus::clock::now_ms())))
    }
}

/// The caller [`authenticated`] established.
pub struct Authenticated(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(|| Error::Unauthorized("missing or invalid bearer token".into()).into())
    }
}

/// The request body, a JSON object read into `T` (F-ERR-2: at most
/// `MAX_BODY_BYTES`, never an array or a scalar).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES + 1)
            .await
            .map_err(|_| Error::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            })?;
        Ok(JsonBody(parse_json(&bytes)?))
    }
}

/// The request body, read but not yet parsed: for routes that check who may
/// call them before they look at what was sent (a player's award is a 403
/// whatever its body).
pub struct RawBody(Option<axum::body::Bytes>);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        // Over the limit: kept as `None`, refused (413) when parsed.
        Ok(RawBody(
            axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES + 1)
                .await
                .ok(),
        ))
    }
}

impl RawBody {
    /// The body as a JSON object read into `T` (the rules of [`JsonBody`]).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match &self.0 {
            Some(bytes) => parse_json(bytes),
            None => Err(Error::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            }),
        }
    }
}

/// The one parameter of a route's path (`{id}`, `{code}`), percent-decoded.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathParam(p.0))
            .map_err(|_| Error::validation("the path parameter is not valid").into())
    }
}

/// The query string, as API Gateway parsed it.
pub struct Query(lambda_http::aws_lambda_events::query_map::QueryMap);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Query(parts.query_string_parameters()))
    }
}

impl Query {
    pub fn first(&self, name: &str) -> Option<String> {
        self.0.first(name).map(str::to_string)
    }

    /// `?limit=` (or another name): an integer from 1 to `max`, `default` when absent.
    pub fn limit(&self, name: &str, default: i32, max: i32) -> Result<i32, Error> {
        match self.0.first(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<i32>()
                .ok()
                .filter(|l| (1..=max).contains(l))
                .ok_or_else(|| {
                    Error::validation(format!("{name} must be an integer from 1 to {max}"))
                }),
        }
    }
}

/// The caller's address as API Gateway saw it (F-SMS-9 consent records).
pub struct SourceIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for SourceIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(SourceIp(match parts.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            _ => None,
        }))
    }
}

/// How authenticated routes find their caller, and what they refresh.
#[derive(Clone)]
pub struct Authentication {
    profiles: Profiles,
    throttle_secs: i64,
    /// Under `sam local` (`AWS_SAM_LOCAL=true`), which runs no JWT
    /// authorizer: a request without claims has its bearer token verified
    /// here, by the authorizer's rules (issuer, audience, expiry, key).
    sam_local: Option<TokenVerifier>,
}

impl Authentication {
    pub fn new(config: &Config, profiles: Profiles) -> Self {
        Authentication {
            profiles,
            throttle_secs: config.last_seen_throttle_secs,
            sam_local: config
                .sam_local
                .then(|| TokenVerifier::new(config.jwt.clone())),
        }
    }

    /// The authorizer's claims; under `sam local`, without them, the
    /// verified bearer token's.
    async fn caller(&self, parts: &Parts) -> Result<Caller, Error> {
        match (caller(parts), &self.sam_local) {
            (Err(Error::Unauthorized(_)), Some(verifier)) if !has_claims(parts) => {
                let token = parts
                    .headers
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or("");
                verifier.verify(token).await
            }
            (found, _) => found,
        }
    }
}

fn has_claims(parts: &Parts) -> bool {
    matches!(
        parts.request_context_ref(),
        Some(RequestContext::ApiGatewayV2(ctx))
            if ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).is_some_and(|j| !j.claims.is_empty())
    )
}

/// Puts `routes` behind authentication: a request without the authorizer's
/// claims is a 401 before any route (or 404/405) is considered; an
/// authenticated one refreshes `last_seen_at` (F-PR-2, throttled, best
/// effort) alongside its own work.
pub fn authenticated(routes: Router, auth: Authentication) -> Router {
    finish(routes).layer(axum::middleware::from_fn(
        move |mut req: Request, next: Next| {
            let auth = auth.clone();
            async move {
                let (mut parts, body) = req.into_parts();
                let caller = match auth.caller(&parts).await {
                    Ok(c) => c,
                    Err(e) => return ApiError(e).into_response(),
                };
                versus::lambda::record_user(&caller.user_id);
                let Now(now_ms) = Now::from_request_parts(&mut parts, &())
                    .await
                    .unwrap_or(Now(versus::clock::now_ms()));
                parts.extensions.insert(caller.clone());
                req = Request::from_parts(parts, body);
                let touch =
                    auth.profiles
                        .note_activity(&caller.user_id, now_ms, auth.throttle_secs);
                let (_, response) = tokio::join!(touch, next.run(req));
                response
            }
        },
    ))
}

/// A function with public routes besides its authenticated ones: the
/// public routes answer without a caller; anything else goes through
/// `authenticated` (which answers 401, 404 or 405 as it applies).
pub fn with_public(public: Router, authenticated: Router) -> Router {
    finish(public).fallback_service(authenticated)
}

/// The fallbacks every router ends with: 404 for an unknown path, 405 for a
/// known path with another method, both in the F-ERR-1 shape.
pub fn finish(router: Router) -> Router {
    router
        .fallback(|req: Request| async move {
            ApiError(Error::not_found(
                "route_not_found",
                format!("no route {} {}", req.method(), req.uri().path()),
            ))
        })
        .method_not_allowed_fallback(|req: Request| async move {
            ApiError(Error::MethodNotAllowed(format!(
                "{} is not allowed on {}",
                req.method(),
                req.uri().path()
            )))
        })
}
