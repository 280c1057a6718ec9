//! `/_local/`: one page for whoever runs scripts/dev, rather than reading
//! tables by hand: the console outbox (what the `console` provider "sent")
//! and the operator's desk (search by number, user, type or status; a
//! text's timeline), live (it refreshes every second). Loopback callers only
//! and no token: `/_local/desk/<path>` calls the desk's own routes
//! (`/v1/admin/<path>`, AdminApiFunction) as a local operator with the
//! admin role, exactly as a deployed admin's request would go.

use crate::Gateway;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

const PAGE: &str = include_str!("desk_page.html");

/// The local operator's token: the admin role, for a day past any run.
pub fn operator_token(dev_secret: &str, issuer: &str, audience: &str) -> String {
    versus::auth::mint_dev_token(
        dev_secret,
        &serde_json::json!({
            "sub": "local-operator",
            "role": "admin",
            "iss": issuer,
            "aud": audience,
            "exp": 4_102_444_800i64,
        }),
    )
}

fn from_loopback(peer: &SocketAddr) -> bool {
    peer.ip().is_loopback()
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({"message": "Forbidden"})),
    )
        .into_response()
}

pub async fn page(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if !from_loopback(&peer) {
        return forbidden();
    }
    Html(PAGE).into_response()
}

/// The desk's route for `rest`, called as the local operator.
pub async fn desk(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(rest): Path<String>,
    request: Request,
) -> Response {
    if !from_loopback(&peer) {
        return forbidden();
    }
    let (mut parts, body) = request.into_parts();
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let Ok(uri) = format!("/v1/admin/{rest}{query}").parse::<Uri>() else {
        return (StatusCode::BAD_REQUEST, "not a desk path").into_response();
    };
    parts.uri = uri;
    let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {}", gw.operator_token)) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    parts.headers.insert("authorization", bearer);
    crate::http_api::handle(State(gw), Request::from_parts(parts, body)).await
}
