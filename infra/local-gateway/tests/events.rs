//! Each function fed the sample events under events/ (the same files
//! `cargo lambda invoke --data-file` takes) and AWS's own sample events.

mod common;

use common::ctx;

use common::{repo_root, Stack};
use serde_json::{json, Value};
use versus::lambda::Invoke;

fn event(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join("events").join(path)).expect("event file");
    serde_json::from_str(&text).expect("event JSON")
}

/// AWS's sample events ship in the aws_lambda_events crate's sources.
fn aws_fixture(name: &str) -> Value {
    let home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo")
        });
    let src = home.join("registry/src");
    for registry in std::fs::read_dir(&src).expect("cargo registry sources") {
        let registry = registry.unwrap().path();
        for krate in std::fs::read_dir(&registry).unwrap() {
            let krate = krate.unwrap().path();
            let is_events = krate
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("aws_lambda_events-1.");
            let file = krate.join("src/fixtures").join(name);
            if is_events && file.exists() {
                return serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
            }
        }
    }
    panic!("fixture {name} not found under {}", src.display());
}

/// A function of the stack built as Lambda would, reading the stack's
/// clock as it does when the gateway hosts it.
async fn function(stack: &Stack, name: &str) -> Invoke {
    let f = build(stack, name).await;
    let clock = stack.running.gateway.clock.clone();
    std::sync::Arc::new(move |event, context| {
        let work = f(event, context);
        Box::pin(versus::clock::with_source(clock.source(), work))
    })
}

async fn build(stack: &Stack, name: &str) -> Invoke {
    let config = stack.config(name);
    match name {
        "profile-api" => profile_api::function(&config).await.unwrap(),
        "ws-presence" => ws_presence::function(&config).await.unwrap(),
        "ws-authorizer" => ws_authorizer::function(&config).await.unwrap(),
        "ws-matchmaking" => ws_matchmaking::function(&config).await.unwrap(),
        "invitations-api" => invitations_api::function(&config).await.unwrap(),
        "invitation-timeouts" => invitation_timeouts::function(&config).await.unwrap(),
        "points-api" => points_api::function(&config).await.unwrap(),
        "scheduled-jobs" => scheduled_jobs::function(&config).await.unwrap(),
        "sms-sender" => sms_sender::function(&config).await.unwrap(),
        "webhooks" => webhooks::function(&config).await.unwrap(),
        "domain-events" => domain_events::function(&config).await.unwrap(),
        "admin-api" => admin_api::function(&config).await.unwrap(),
        other => panic!("no function {other}"),
    }
}

fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap()
}

#[tokio::test]
async fn profile_api_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "profile-api").await;
    let r = f(event("profile-api/health.json"), ctx()).await.unwrap();
    assert_eq!(
        (r["statusCode"].as_i64(), body(&r)),
        (Some(200), json!({"status":"ok"}))
    );
    let r = f(event("profile-api/get-me.json"), ctx()).await.unwrap();
    assert_eq!(r["statusCode"], 404);
    let r = f(event("profile-api/put-me.json"), ctx()).await.unwrap();
    assert_eq!(r["statusCode"], 201, "{r}");
    assert_eq!(body(&r)["role"], "learner");
    let r = f(event("profile-api/get-me.json"), ctx()).await.unwrap();
    assert_eq!(body(&r)["username"], "event_user");
    let r = f(event("profile-api/put-availability.json"), ctx())
        .await
        .unwrap();
    assert_eq!(body(&r)["is_available_for_battles"], false);
    let r = f(event("profile-api/request-phone-verification.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 202, "{r}");
    assert_eq!(body(&r)["phone_number"], "+********3456");
    let r = f(event("profile-api/put-sms-preferences.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(body(&r)["consent"]["ip_address"], "203.0.113.10");
    assert_eq!(body(&r)["toggles"]["battle_results"], false);
    for bad in [
        "profile-api/put-me-malformed.json",
        "profile-api/put-me-unknown-field.json",
    ] {
        let r = f(event(bad), ctx()).await.unwrap();
        assert_eq!(r["statusCode"], 400, "{bad}");
        assert!(body(&r)["error"]["code"].is_string());
    }
    // AWS's own payload 2.0 samples: claims without a subject, a route we do
    // not serve, and no authorizer at all.
    let mut sample = aws_fixture("example-apigw-v2-request-jwt-authorizer.json");
    let r = f(sample.clone(), ctx()).await.unwrap();
    assert_eq!(r["statusCode"], 401);
    sample["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("u1");
    let r = f(sample, ctx()).await.unwrap();
    assert_eq!(r["statusCode"], 404);
    assert_eq!(body(&r)["error"]["code"], "route_not_found");
    let r = f(
        aws_fixture("example-apigw-v2-request-no-authorizer.json"),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(r["statusCode"], 401);
    assert_eq!(body(&r)["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn ws_presence_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "ws-presence").await;
    let presence = versus::wiring::presence(&stack.dynamodb().await, &stack.config("ws-presence"));
    let r = f(event("ws-presence/connect.json"), ctx()).await.unwrap();
    assert_eq!(r["statusCode"], 200);
    assert_eq!(
        presence
            .connections("event-user", stack.now_ms())
            .await
            .unwrap(),
        vec!["L0SM9cOFvHcCIhw="]
    );
    let r = f(event("ws-presence/ping.json"), ctx()).await.unwrap();
    assert_eq!(body(&r), json!({"type":"pong"}));
    let r = f(event("ws-presence/unknown-action.json"), ctx())
        .await
        .unwrap();
    assert_eq!(body(&r)["code"], "unknown_action");
    let r = f(event("ws-presence/malformed.json"), ctx()).await.unwrap();
    assert_eq!(body(&r)["code"], "invalid_json");
    let r = f(event("ws-presence/disconnect.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 200);
    assert!(presence
        .connections("event-user", stack.now_ms())
        .await
        .unwrap()
        .is_empty());
    // Redelivered $disconnect: nothing to do, still fine.
    let r = f(event("ws-presence/disconnect.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 200);
    // AWS's sample has no authorizer context: the $connect is refused, nothing recorded.
    let mut sample = aws_fixture("example-apigw-websocket-request.json");
    sample["requestContext"]["routeKey"] = json!("$connect");
    let r = f(sample, ctx()).await.unwrap();
    assert_eq!(r["statusCode"], 401);
}

#[tokio::test]
async fn ws_authorizer_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "ws-authorizer").await;
    let effect = |r: &Value| {
        r["policyDocument"]["Statement"][0]["Effect"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for name in [
        "ws-authorizer/missing-token.json",
        "ws-authorizer/bad-token.json",
    ] {
        assert_eq!(
            effect(&f(event(name), ctx()).await.unwrap()),
            "Deny",
            "{name}"
        );
    }
    assert_eq!(
        effect(
            &f(
                aws_fixture("example-apigw-v2-custom-authorizer-websocket-request.json"),
                ctx()
            )
            .await
            .unwrap()
        ),
        "Deny"
    );
    let mut good = event("ws-authorizer/missing-token.json");
    good["queryStringParameters"] =
        json!({ "token": stack.token_with("u7", json!({"scope": "versus/service"})) });
    let r = f(good, ctx()).await.unwrap();
    assert_eq!(effect(&r), "Allow");
    assert_eq!(r["principalId"], "u7");
    assert_eq!(r["context"]["sub"], "u7");
    assert_eq!(r["context"]["scope"], "versus/service");
}

/// A real socket for `user`, and its connection id (so a sample event can
/// name a connection that exists and its replies can be read).
async fn socket_of(stack: &Stack, user: &str) -> (common::Socket, String) {
    let socket = stack.connect(Some(&stack.token(user))).await.unwrap();
    let presence = versus::wiring::presence(&stack.dynamodb().await, &stack.config("ws-presence"));
    let ids = presence.connections(user, stack.now_ms()).await.unwrap();
    (socket, ids[0].clone())
}

#[tokio::test]
async fn ws_matchmaking_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "ws-matchmaking").await;
    let (mut socket, connection) = socket_of(&stack, "event-user").await;
    let on_socket = |name: &str| {
        let mut e = event(name);
        e["requestContext"]["connectionId"] = json!(connection);
        e
    };
    // No profile yet: every action answers with an error on the connection.
    let r = f(on_socket("ws-matchmaking/find-opponent.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 200);
    assert_eq!(
        common::next_json(&mut socket).await["code"],
        "profile_not_found"
    );
    stack.create_profile("event-user", "event_user").await;
    for (name, reply) in [
        (
            "ws-matchmaking/find-opponent.json",
            json!({"type": "no_active_users"}),
        ),
        ("ws-matchmaking/join-queue.json", json!({"type": "queued"})),
        (
            "ws-matchmaking/leave-queue.json",
            json!({"type": "left_queue"}),
        ),
        (
            "ws-matchmaking/respond-unknown-invitation.json",
            json!({"code": "invitation_not_found"}),
        ),
        (
            "ws-matchmaking/find-opponent-unknown-field.json",
            json!({"code": "invalid_message"}),
        ),
    ] {
        f(on_socket(name), ctx()).await.unwrap();
        let m = common::next_json(&mut socket).await;
        for (k, v) in reply.as_object().unwrap() {
            assert_eq!(&m[k], v, "{name}: {m}");
        }
    }
    // The files as they are name a connection that is gone: handled, not an error.
    let r = f(event("ws-matchmaking/find-opponent.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 200);
}

#[tokio::test]
async fn invitations_api_sample_events() {
    let stack = Stack::start().await;
    // The samples' own instant (10:00 UTC, daytime for the Kampala number
    // invited below): texts to it go now, not at 08:00.
    stack
        .set_clock("2026-11-22T10:00:00Z".parse().unwrap(), false)
        .await;
    let f = function(&stack, "invitations-api").await;
    stack.create_profile("event-user", "event_user").await;
    let r = f(event("invitations-api/create-private-match.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 201, "{r}");
    assert_eq!(body(&r)["stake"], 500);
    let r = f(event("invitations-api/list-outgoing.json"), ctx())
        .await
        .unwrap();
    assert_eq!(
        (r["statusCode"].as_i64(), body(&r)["items"].clone()),
        (Some(200), json!([]))
    );
    let r = f(event("invitations-api/get-unknown-battle.json"), ctx())
        .await
        .unwrap();
    assert_eq!(body(&r)["error"]["code"], "battle_not_found");
    let r = f(event("invitations-api/result-as-player.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 403);
    // F-SMS-19, F-SMS-20: an invitation by text; unknown links, public and not.
    let r = f(event("invitations-api/invite-by-sms.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 201, "{r}");
    assert_eq!(body(&r)["to_phone"], "+********5010");
    assert_eq!(body(&r)["sms"]["status"], "pending");
    for sample in [
        "invitations-api/preview-unknown-invite.json",
        "invitations-api/accept-unknown-invite-token.json",
    ] {
        let r = f(event(sample), ctx()).await.unwrap();
        assert_eq!(
            (r["statusCode"].as_i64(), body(&r)["error"]["code"].clone()),
            (Some(404), json!("invite_not_found")),
            "{sample}"
        );
    }
}

#[tokio::test]
async fn invitation_timeouts_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "invitation-timeouts").await;
    // An unknown invitation and an unreadable body: both done with, no retries.
    let r = f(
        event("invitation-timeouts/unknown-and-unreadable.json"),
        ctx(),
    )
    .await
    .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    let r = f(aws_fixture("example-sqs-event.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    // A pending invitation that is not due yet: that record alone is reported.
    stack.create_profile("ta", "ta_name").await;
    stack.create_profile("tb", "tb_name").await;
    let (_, inv) = stack
        .call(
            "POST",
            "/v1/invitations",
            Some("ta"),
            Some(r#"{"username":"tb_name","challenge_type":"duel"}"#),
        )
        .await;
    let mut batch = event("invitation-timeouts/unknown-and-unreadable.json");
    batch["Records"][0]["body"] = json!(json!({"invitation_id": inv["invitation_id"]}).to_string());
    let r = f(batch.clone(), ctx()).await.unwrap();
    assert_eq!(
        r["batchItemFailures"],
        json!([{"itemIdentifier": batch["Records"][0]["messageId"]}])
    );
}

// The operator's desk (issue 24): a player is refused, an admin searches.
#[tokio::test]
async fn admin_api_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "admin-api").await;
    let r = f(event("admin-api/search-as-player.json"), ctx())
        .await
        .unwrap();
    assert_eq!(
        (r["statusCode"].as_i64(), body(&r)["error"]["code"].as_str()),
        (Some(403), Some("forbidden"))
    );
    let r = f(event("admin-api/search-by-number.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(body(&r)["items"], json!([]));
    let r = f(event("admin-api/opt-out-of-number.json"), ctx())
        .await
        .unwrap();
    assert_eq!(
        (r["statusCode"].as_i64(), body(&r)["opted_out"].as_bool()),
        (Some(200), Some(false))
    );
}

#[tokio::test]
async fn points_api_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "points-api").await;
    let r = f(event("points-api/my-points.json"), ctx()).await.unwrap();
    assert_eq!(body(&r)["error"]["code"], "profile_not_found");
    stack.create_profile("event-user", "event_user").await;
    let r = f(event("points-api/my-points.json"), ctx()).await.unwrap();
    assert_eq!(
        (r["statusCode"].as_i64(), body(&r)["total_points"].as_i64()),
        (Some(200), Some(0))
    );
    let r = f(event("points-api/leaderboard.json"), ctx())
        .await
        .unwrap();
    assert_eq!(body(&r)["items"], json!([]));
    // The sample's caller is a player: awarding is for the service scope (F-ID-3).
    let r = f(event("points-api/award-as-player.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 403);
    let mut as_service = event("points-api/award-as-player.json");
    as_service["requestContext"]["authorizer"]["jwt"]["claims"]["scope"] = json!("versus/service");
    let r = f(as_service.clone(), ctx()).await.unwrap();
    assert_eq!(r["statusCode"], 201, "{r}");
    let r = f(as_service, ctx()).await.unwrap();
    assert_eq!(
        (
            r["statusCode"].as_i64(),
            body(&r)["award"]["replayed"].as_bool()
        ),
        (Some(200), Some(true))
    );
}

#[tokio::test]
async fn scheduled_jobs_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "scheduled-jobs").await;
    for name in [
        "scheduled-jobs/streak-bonus.json",
        "scheduled-jobs/weekly-goals.json",
        "scheduled-jobs/streak-alerts.json",
        "scheduled-jobs/battle-reminders.json",
        "scheduled-jobs/sms-cost-report.json",
        "scheduled-jobs/backfill-deadline-listing.json",
    ] {
        let r = f(event(name), ctx()).await.unwrap();
        assert_eq!(r["status"], "done", "{name}: {r}");
    }
    let r = f(event("scheduled-jobs/continue-from-queue.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    // The schedule's own input fans the date out; one shard's run, as the
    // jobs queue brings it, runs to the end.
    let r = f(event("scheduled-jobs/streak-bonus-scheduled.json"), ctx())
        .await
        .unwrap();
    assert_eq!(
        (r["status"].as_str(), r["shards"].as_u64()),
        (
            Some("fanned_out"),
            Some(u64::from(versus::points::jobs::SHARDS))
        ),
        "{r}"
    );
    let r = f(event("scheduled-jobs/streak-bonus-shard.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    // A shard no date has is refused and dropped, not retried into the DLQ.
    let mut stray = event("scheduled-jobs/streak-bonus-shard.json");
    stray["Records"][0]["body"] =
        json!(r#"{"job": "streak_bonus", "date": "2026-11-22", "shard": 999}"#);
    let r = f(stray, ctx()).await.unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    // Run directly (an asynchronous invoke), it fails: the failure
    // destination keeps it.
    let err = f(
        json!({"job": "streak_bonus", "date": "2026-11-22", "shard": 999}),
        ctx(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("shard"), "{err}");
    // AWS's scheduled-event shape carries no job: refused with a clear reason.
    let err = f(
        json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
        ctx(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not a job input"), "{err}");
}

// F-EV-1: one sample per detail-type; with no such user there is nobody to
// text, and the malformed one is rejected with its reason (not an error,
// which Lambda would retry). AWS's own EventBridge sample is not ours.
#[tokio::test]
async fn domain_events_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "domain-events").await;
    for name in [
        "direct-message-created",
        "achievement-unlocked",
        "challenge-deadline-approaching",
        "security-event",
        "payment-settled",
    ] {
        let r = f(event(&format!("domain-events/{name}.json")), ctx())
            .await
            .unwrap();
        assert_eq!(r["outcome"], "no_number", "{name}: {r}");
    }
    let r = f(event("domain-events/malformed-detail.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["outcome"], "rejected", "{r}");
    assert!(
        r["reason"].as_str().unwrap().starts_with("detail.amount"),
        "{r}"
    );
    let r = f(aws_fixture("example-eventbridge-event-obj.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["outcome"], "rejected", "{r}");
    let r = f(json!([1, 2]), ctx()).await.unwrap();
    assert_eq!(r["outcome"], "rejected", "{r}");
}

#[tokio::test]
async fn sms_sender_sample_events() {
    let stack = Stack::start().await;
    let f = function(&stack, "sms-sender").await;
    // An unknown log and an unreadable body: nothing to send, nothing to retry.
    let r = f(event("sms-sender/unknown-and-unreadable.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    let r = f(aws_fixture("example-sqs-event.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]));
    // The release schedule's input, with nothing deferred.
    let r = f(event("sms-sender/reconcile.json"), ctx()).await.unwrap();
    assert_eq!(
        r,
        json!({"job": "reconcile_sms", "requeued": 0, "gave_up": 0})
    );
    assert!(f(json!({"job": "release_everything"}), ctx())
        .await
        .is_err());
}

#[tokio::test]
async fn webhooks_sample_events() {
    // Without an auth token the Twilio webhooks are closed (503) ...
    let stack = Stack::start().await;
    let f = function(&stack, "webhooks").await;
    let r = f(event("webhooks/twilio-inbound-unsigned.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 503);
    // ... with one, an unsigned request is refused and changes nothing.
    let stack = Stack::start_with(&[("TwilioAuthToken", "t0ken")]).await;
    let f = function(&stack, "webhooks").await;
    let r = f(event("webhooks/twilio-inbound-unsigned.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 403);
    let store = versus::sms::store::SmsStore::new(
        stack.dynamodb().await,
        &stack.config("webhooks").tables.sms,
    );
    let phone = versus::phone::PhoneNumber::parse("+256772123456").unwrap();
    assert!(!versus::sms::optouts::is_opted_out(&store, &phone)
        .await
        .unwrap());
    // DMark's delivery report: closed without a secret, refused with a wrong one.
    let r = f(event("webhooks/dmark-dlr-wrong-secret.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 503);
    let stack = Stack::start_with(&[("DmarkDlrSecret", "s3cret")]).await;
    let f = function(&stack, "webhooks").await;
    let r = f(event("webhooks/dmark-dlr-wrong-secret.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 403);
    assert!(body(&r)["error"]["code"].is_string());

    // The SMS events topic: a delivery event moves the log the sns provider
    // sent; an inbound STOP opts the number out; a stray message is skipped.
    let store = versus::sms::store::SmsStore::new(
        stack.dynamodb().await,
        &stack.config("webhooks").tables.sms,
    );
    let config = stack.config("webhooks");
    // Due now: no minute may turn (and reconcile send it) before the claim.
    stack.freeze_clock().await;
    let log = common::sms::put_pending_alert(
        &store,
        &config,
        phone.e164(),
        "New sign-in to your Versus account.",
        stack.now_ms(),
    )
    .await;
    let now = stack.now_ms();
    store
        .claim(&log.sms_id, now, 60_000)
        .await
        .unwrap()
        .unwrap();
    let sns_id = "6d8e1c3a-0f4b-4c2d-9a55-example00001";
    store
        .finish(
            &log.sms_id,
            versus::sms::store::Finish::Sent {
                provider: "sns",
                provider_message_id: sns_id,
            },
            now,
        )
        .await
        .unwrap();
    let r = f(event("webhooks/sns-delivery-event.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r, json!({"receipts": 1, "texts": 0, "skipped": 0}));
    let delivered = store.get_log(&log.sms_id).await.unwrap().unwrap();
    assert_eq!(delivered.status, versus::sms::store::Status::Delivered);
    let r = f(event("webhooks/sns-inbound-stop.json"), ctx())
        .await
        .unwrap();
    assert_eq!(r, json!({"receipts": 0, "texts": 1, "skipped": 0}));
    assert!(versus::sms::optouts::is_opted_out(&store, &phone)
        .await
        .unwrap());
    let mut stray = event("webhooks/sns-inbound-stop.json");
    stray["Records"][0]["Sns"]["Message"] = json!("not json");
    let r = f(stray, ctx()).await.unwrap();
    assert_eq!(r["skipped"], 1);
}

/// `event` with another method and path (the rest of the request as sent).
fn retarget(mut event: Value, method: &str, path: &str) -> Value {
    event["routeKey"] = json!(format!("{method} {path}"));
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["routeKey"] = json!(format!("{method} {path}"));
    event
}

// Issue 11: every HTTP function is a router. An unknown method on a known
// path is a 405, an unknown path a 404, both F-ERR-1; authentication comes
// first on authenticated routes; a trailing slash routes as without it.
#[tokio::test]
async fn routers_answer_404_and_405_in_the_error_shape() {
    let stack = Stack::start().await;
    let get_me = event("profile-api/get-me.json");
    let mut anonymous = get_me.clone();
    anonymous["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    for name in ["profile-api", "invitations-api", "points-api"] {
        let f = function(&stack, name).await;
        let (known, wrong_method) = match name {
            "profile-api" => ("/v1/me/availability", "GET"),
            "invitations-api" => ("/v1/matches/private", "DELETE"),
            _ => ("/v1/points/award", "GET"),
        };
        let r = f(retarget(get_me.clone(), wrong_method, known), ctx())
            .await
            .unwrap();
        assert_eq!(r["statusCode"], 405, "{name}: {r}");
        assert!(
            r["headers"]["allow"].is_string(),
            "{name}: 405 names the allowed methods"
        );
        assert_eq!(body(&r)["error"]["code"], "method_not_allowed", "{name}");
        let r = f(retarget(get_me.clone(), "GET", "/v1/nowhere"), ctx())
            .await
            .unwrap();
        assert_eq!(r["statusCode"], 404, "{name}: {r}");
        assert_eq!(body(&r)["error"]["code"], "route_not_found", "{name}");
        let r = f(retarget(anonymous.clone(), wrong_method, known), ctx())
            .await
            .unwrap();
        assert_eq!(r["statusCode"], 401, "{name}: {r}");
        assert_eq!(body(&r)["error"]["code"], "unauthorized", "{name}");
    }
    let profiles = function(&stack, "profile-api").await;
    let r = profiles(retarget(anonymous.clone(), "POST", "/v1/health"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 405, "{r}");
    assert_eq!(body(&r)["error"]["code"], "method_not_allowed");
    let r = profiles(retarget(get_me.clone(), "GET", "/v1/health/"), ctx())
        .await
        .unwrap();
    assert_eq!(
        (r["statusCode"].as_i64(), body(&r)),
        (Some(200), json!({"status":"ok"}))
    );
    let webhooks = function(&stack, "webhooks").await;
    let r = webhooks(retarget(anonymous, "PUT", "/v1/webhooks/dmark/dlr"), ctx())
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 405, "{r}");
    assert_eq!(body(&r)["error"]["code"], "method_not_allowed");
}
