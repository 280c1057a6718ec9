//! Passing one HTTP call on to a local stand-in as it came: the proxies in
//! front of DynamoDB Local and moto (the benches' counter, the local IAM, the
//! tests' fault injector) each decide something about a call, then relay it.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};

/// Sends `body` with the caller's headers (not its `host` or length) to
/// `url`, and answers with the stand-in's status, headers and body.
pub async fn relay(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Bytes), reqwest::Error> {
    let mut request = http.request(method, url).body(body);
    for (name, value) in headers
        .iter()
        .filter(|(n, _)| *n != "host" && *n != "content-length")
    {
        request = request.header(name, value);
    }
    let response = request.send().await?;
    let status = response.status();
    let mut out = response.headers().clone();
    // The answer is re-framed on its way back.
    out.remove("content-length");
    out.remove("transfer-encoding");
    Ok((status, out, response.bytes().await.unwrap_or_default()))
}
