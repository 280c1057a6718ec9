//! `local-gateway`: runs the whole bundle on this machine (see scripts/dev).
//!
//! Environment: `HTTP_PORT` (3000), `WS_PORT` (3001), `TEMPLATE` (template.yaml),
//! `TABLE_PREFIX` (`versus-dev-`), `JWT_DEV_SECRET` (required),
//! `PARAMETER_OVERRIDES` (template parameters, `Key=Value Key2=Value2` as
//! `sam deploy --parameter-overrides` takes them), `LOCAL_CLOCK` (where the
//! gateway's clock starts: `2026-12-24T07:59:00Z`, or with `,frozen`; the
//! system clock when unset), plus the AWS SDK's own
//! variables (`AWS_ENDPOINT_URL_DYNAMODB`, ...).

use std::net::SocketAddr;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

#[tokio::main]
async fn main() {
    versus::lambda::init_tracing();
    let addr = |port_var: &str, default: &str| -> SocketAddr {
        let port = env_or(port_var, default);
        format!("127.0.0.1:{port}").parse().unwrap_or_else(|_| {
            eprintln!("{port_var} must be a port number, got {port:?}");
            std::process::exit(2)
        })
    };
    let Ok(dev_secret) = std::env::var("JWT_DEV_SECRET") else {
        eprintln!("JWT_DEV_SECRET is not set (scripts/dev sets it)");
        std::process::exit(2)
    };
    let options = local_gateway::Options {
        template: env_or("TEMPLATE", "template.yaml").into(),
        http_addr: addr("HTTP_PORT", "3000"),
        ws_addr: addr("WS_PORT", "3001"),
        table_prefix: env_or("TABLE_PREFIX", "versus-dev-"),
        dev_secret,
        parameters: match local_gateway::parse_parameter_overrides(&env_or(
            "PARAMETER_OVERRIDES",
            "",
        )) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("PARAMETER_OVERRIDES: {e}");
                std::process::exit(2)
            }
        },
        clock: std::env::var("LOCAL_CLOCK")
            .ok()
            .filter(|v| !v.is_empty())
            .map(|raw| {
                local_gateway::clock::Start::parse(&raw).unwrap_or_else(|e| {
                    eprintln!("LOCAL_CLOCK: {e}");
                    std::process::exit(2)
                })
            }),
    };
    let running = match local_gateway::start(options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("local-gateway: {e}");
            std::process::exit(1)
        }
    };
    println!("HTTP API:        {}", running.http_url);
    println!("WebSocket API:   {}?token=<JWT>", running.ws_url);
    println!(
        "@connections:    {}/@connections/<id>",
        running.management_endpoint
    );
    println!(
        "Clock:           {} ({}/_local/clock: GET to read, POST to set or advance)",
        running.gateway.clock.view()["now"]
            .as_str()
            .unwrap_or_default(),
        running.http_url
    );
    for bus in running.gateway.event_buses() {
        println!(
            "EventBridge:     {} (PutEvents; AWS_ENDPOINT_URL_EVENTBRIDGE), bus {bus}",
            running.http_url
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    running.stop().await;
}
