//! Plays an API Gateway HTTP API (payload format 2.0) with a JWT authorizer.

use crate::Gateway;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// API Gateway's payload limit.
const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

pub async fn handle(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let Some((route, path_parameters)) = gw.match_http(&method, &path) else {
        return gateway_message(StatusCode::NOT_FOUND, "Not Found");
    };
    let claims = if route.public {
        None
    } else {
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or(v.strip_prefix("bearer ")))
            .unwrap_or("");
        match gw.verifier.verify_claims(token).await {
            Ok(claims) => Some(claims),
            Err(_) => return gateway_message(StatusCode::UNAUTHORIZED, "Unauthorized"),
        }
    };
    let Ok(bytes) = to_bytes(body, MAX_PAYLOAD).await else {
        return gateway_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let route_key = format!("{} {}", route.method, route.path);
    let mut event = event(
        &parts.headers,
        &parts.uri,
        &method,
        &route_key,
        path_parameters,
        claims,
        &bytes,
    );
    // API Gateway gives the TCP peer's address (not a forwarded header).
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        event["requestContext"]["http"]["sourceIp"] = json!(peer.ip().to_string());
    }
    // Stamped as API Gateway stamps it, by the gateway's clock.
    let now = gw.clock.now();
    event["requestContext"]["time"] = json!(now.format("%d/%b/%Y:%H:%M:%S +0000").to_string());
    event["requestContext"]["timeEpoch"] = json!(now.timestamp_millis());
    match gw.invoke(&route.function, event).await {
        Ok(response) => into_response(response),
        Err(e) => {
            tracing::error!(function = route.function, error = %e, "invocation failed");
            gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

fn gateway_message(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

fn event(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    method: &str,
    route_key: &str,
    path_parameters: HashMap<String, String>,
    claims: Option<HashMap<String, String>>,
    body: &[u8],
) -> Value {
    let mut header_map: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let value = value.to_str().unwrap_or_default();
        let entry = header_map
            .entry(name.as_str().to_string())
            .or_insert(Value::String(String::new()));
        let joined = match entry.as_str() {
            Some("") | None => value.to_string(),
            Some(prev) => format!("{prev},{value}"),
        };
        *entry = Value::String(joined);
    }
    let raw_query = uri.query().unwrap_or("").to_string();
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in url_pairs(&raw_query) {
        let joined = match query.get(&k).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{v}"),
            None => v,
        };
        query.insert(k, Value::String(joined));
    }
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let mut context = json!({
        "accountId": crate::template::ACCOUNT_ID,
        "apiId": crate::template::LOCAL_HTTP_API_ID,
        "domainName": headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
        "domainPrefix": "local",
        "http": {
            "method": method,
            "path": uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": headers.get("user-agent").and_then(|h| h.to_str().ok()).unwrap_or(""),
        },
        "requestId": ulid::Ulid::new().to_string(),
        "routeKey": route_key,
        "stage": "$default",
    });
    if let Some(claims) = claims {
        context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": context,
        "isBase64Encoded": is_base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = json!(path_parameters);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Payload 2.0 response: `{statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded}`.
fn into_response(value: Value) -> Response {
    let status = value
        .get("statusCode")
        .and_then(Value::as_u64)
        .unwrap_or(200) as u16;
    let mut builder = Response::builder().status(status);
    for field in ["headers", "multiValueHeaders"] {
        if let Some(Value::Object(headers)) = value.get(field) {
            for (name, v) in headers {
                let values: Vec<&str> = match v {
                    Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                    Value::String(s) => vec![s.as_str()],
                    _ => vec![],
                };
                for item in values {
                    if let Ok(hv) = HeaderValue::from_str(item) {
                        builder = builder.header(name.as_str(), hv);
                    }
                }
            }
        }
    }
    if let Some(Value::Array(cookies)) = value.get("cookies") {
        for c in cookies.iter().filter_map(Value::as_str) {
            builder = builder.header("set-cookie", c);
        }
    }
    let body = value.get("body").and_then(Value::as_str).unwrap_or("");
    let bytes = if value.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    builder
        .body(Body::from(bytes))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

/// Matches `/v1/invitations/{id}/accept` style templates; `{proxy+}` takes the rest.
pub fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    let mut t = template.trim_matches('/').split('/');
    let mut p = path.trim_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(seg), Some(value)) if seg.starts_with('{') && seg.ends_with("+}") => {
                let rest: Vec<&str> = std::iter::once(value).chain(p).collect();
                params.insert(seg[1..seg.len() - 2].to_string(), rest.join("/"));
                return Some(params);
            }
            (Some(seg), Some(value))
                if seg.starts_with('{') && seg.ends_with('}') && !value.is_empty() =>
            {
                params.insert(seg[1..seg.len() - 1].to_string(), percent_decode(value));
            }
            (Some(seg), Some(value)) if seg == value => {}
            _ => return None,
        }
    }
}

/// Orders routes that match the same path: a literal segment before a
/// parameter at the first place they differ, a greedy parameter last.
pub fn route_generality(template: &str) -> (bool, Vec<bool>) {
    let segments: Vec<&str> = template.trim_matches('/').split('/').collect();
    let greedy = segments.last().is_some_and(|s| s.ends_with("+}"));
    (
        greedy,
        segments.iter().map(|s| s.starts_with('{')).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_routes_win_over_parameters() {
        let mut routes = [
            "/v1/invitations/{id}",
            "/{proxy+}",
            "/v1/invitations/preview",
        ];
        routes.sort_by_key(|r| route_generality(r));
        assert_eq!(routes[0], "/v1/invitations/preview");
        assert_eq!(routes[2], "/{proxy+}");
    }

    #[test]
    fn path_templates() {
        assert!(match_path("/v1/me", "/v1/me").unwrap().is_empty());
        assert!(match_path("/v1/me", "/v1/me/x").is_none());
        let p = match_path("/v1/invitations/{id}/accept", "/v1/invitations/abc/accept").unwrap();
        assert_eq!(p["id"], "abc");
        let p = match_path("/files/{proxy+}", "/files/a/b").unwrap();
        assert_eq!(p["proxy"], "a/b");
        assert_eq!(percent_decode("a%3Db+c"), "a=b c");
    }
}
