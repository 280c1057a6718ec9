//! Observability: every invocation runs in the runtime's span (the Lambda
//! request id) and an `invocation` span (the user once known), so each log
//! line of a request names both; the context reaches the handlers with the
//! invocation's deadline.

mod common;

use common::Stack;
use std::collections::BTreeMap;

/// The crates whose lines come from a function's own code.
const OURS: [&str; 13] = [
    "versus",
    "admin_api",
    "versus_http",
    "profile_api",
    "invitations_api",
    "points_api",
    "sms_sender",
    "webhooks",
    "ws_presence",
    "ws_matchmaking",
    "ws_authorizer",
    "scheduled_jobs",
    "invitation_timeouts",
];

fn request_id(line: &str) -> Option<&str> {
    let start = line.find("requestId=")? + "requestId=".len();
    line[start..].split(['}', ' ', ':']).next()
}

/// The crate of a line as the fmt layer prints it:
/// `<time> <LEVEL> [<span>{..}:<span>{..}:] <target>: <message>`.
fn target_crate(line: &str) -> Option<&str> {
    line.split_whitespace()
        .skip(2)
        .find(|w| {
            w.len() > 1
                && w.ends_with(':')
                && w[..w.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':')
        })
        .and_then(|w| w.split("::").next())
        .map(|c| c.trim_end_matches(':'))
}

#[tokio::test]
async fn every_line_of_a_request_carries_its_request_id() {
    let logs = common::logs::captured();
    let stack = Stack::start().await;
    // What init logs has no request (Lambda's init phase has none either).
    let from = logs.lock().unwrap().len();
    stack.create_profile("observer", "observer").await;
    let (status, body) = stack
        .call(
            "POST",
            "/v1/me/phone/verification",
            Some("observer"),
            Some(r#"{"phone_number":"+256772000999"}"#),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    // The text is sent by sms-sender, another invocation with its own id.
    common::eventually("the code is sent", || async {
        !common::sms::local_sms(&stack, "+256772000999")
            .await
            .is_empty()
    })
    .await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()[from..]).to_string();

    let mut by_request: BTreeMap<&str, usize> = BTreeMap::new();
    for line in text.lines().filter(|l| l.contains("\"observer\"")) {
        let id = request_id(line).unwrap_or_else(|| panic!("no request id: {line}"));
        *by_request.entry(id).or_default() += 1;
    }
    // PUT /v1/me and the verification request: two requests, many lines each.
    assert!(by_request.len() >= 2, "{by_request:?}");
    assert!(by_request.values().all(|n| *n >= 2), "{by_request:?}");
    let mut ours = 0;
    for line in text.lines() {
        let Some(target) = target_crate(line) else {
            continue;
        };
        if OURS.contains(&target) {
            ours += 1;
            let id = request_id(line)
                .unwrap_or_else(|| panic!("a function line without its request: {line}"));
            assert_eq!(id.len(), 36, "{line}");
        }
    }
    assert!(ours > 0, "the functions' own lines are captured:\n{text}");
}
