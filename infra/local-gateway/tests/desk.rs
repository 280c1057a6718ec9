//! The operator's desk through the local stack (issue 24; F-SMS-2, F-SMS-11,
//! F-ID-2): four texts that ended differently are each found by number, by
//! user and by status, with timelines in order; players get 403 everywhere;
//! an admin's opt-out blocks the next text and shows in the history; a
//! cancelled deferral never goes; a resend goes once.

mod common;

use common::sms::{outbox, request};
use common::stubs::{twilio_parameters, ProviderStub, TWILIO_MESSAGES};
use common::Stack;
use serde_json::{json, Value};
use versus::sms::store::Status;
use versus::sms::MessageType;

fn admin(stack: &Stack) -> String {
    stack.token_with("boss", json!({"role": "admin"}))
}

async fn desk(stack: &Stack, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    stack
        .call_with_token(
            method,
            path,
            Some(&admin(stack)),
            body.map(|b| b.to_string()).as_deref(),
        )
        .await
}

/// The ids a search finds.
async fn found(stack: &Stack, query: &str) -> Vec<String> {
    let (status, page) = desk(stack, "GET", &format!("/v1/admin/sms?{query}"), None).await;
    assert_eq!(status, 200, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids of every page a search finds, following its cursors.
async fn every_page(stack: &Stack, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/sms?{query}&cursor={c}"),
            None => format!("/v1/admin/sms?{query}"),
        };
        let (status, page) = desk(stack, "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect();
        pages.push(ids);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return pages,
        }
        assert!(pages.len() < 10, "{query}: paging ends");
    }
}

/// The outbox the admin-api function uses.
async fn desk_outbox(stack: &Stack) -> versus::sms::outbox::Outbox {
    versus::wiring::outbox(
        &versus::db::aws_config().await,
        &stack.dynamodb().await,
        &stack.config("admin-api"),
    )
}

fn events(text: &Value) -> Vec<String> {
    text["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["event"].as_str().unwrap().to_string())
        .collect()
}

fn enc(number: &str) -> String {
    number.replace('+', "%2B").replace(' ', "%20")
}

async fn wait_status(stack: &Stack, id: &str, status: Status) {
    let store = outbox(
        stack,
        stack.dynamodb().await,
        &versus::db::aws_config().await,
        |_| {},
    )
    .store()
    .clone();
    common::eventually(&format!("{id} becomes {status:?}"), || async {
        store.get_log(id).await.unwrap().unwrap().status == status
    })
    .await;
}

#[tokio::test]
async fn four_texts_are_found_by_number_user_and_status_with_their_timelines() {
    // +1 numbers go to a Twilio stub that refuses them (400); the rest to the console.
    let twilio = ProviderStub::start(400).await;
    let mut parameters = twilio_parameters(&twilio, "https://hooks.example.com");
    parameters.push(("SmsRoutes", "1=twilio".into()));
    let borrowed: Vec<(&str, &str)> = parameters.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let stack = Stack::start_with(&borrowed).await;
    stack.freeze_clock().await;
    let now = stack.now_ms();
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    let users = stack.config("profile-api").tables.users;
    let client = stack.dynamodb().await;

    // 1. A verification code, sent.
    stack.create_profile("coder", "coder").await;
    let code_to = "+256772123461";
    let (status, _) = stack
        .call(
            "POST",
            "/v1/me/phone/verification",
            Some("coder"),
            Some(&json!({"phone_number": code_to}).to_string()),
        )
        .await;
    assert_eq!(status, 202);
    // 2. A promotion deferred by quiet hours (23:00 where the player is).
    let night_to = "+256772123462";
    let night_zone = local_gateway::fixtures::zone_at_local_hour(23, now);
    let mut promo = request(MessageType::StreakAlert, night_to, "night");
    promo.timezone = Some(night_zone);
    let deferred = outbox.enqueue(promo, now).await.unwrap();
    assert_eq!(deferred.status, Status::Deferred);
    // 3. An invitation text refused by the invited player's toggle.
    let shy_to = "+256772123463";
    stack.create_profile("shy", "shy_player").await;
    local_gateway::fixtures::verified_phone(&client, &users, "shy", shy_to, Some("Africa/Kampala"))
        .await
        .unwrap();
    let (status, _) = stack
        .call(
            "PUT",
            "/v1/me/sms-preferences",
            Some("shy"),
            Some(r#"{"toggles": {"invitations": false}}"#),
        )
        .await;
    assert_eq!(status, 200);
    stack.create_profile("inviter", "inviter").await;
    let (status, invited) = stack
        .call(
            "POST",
            "/v1/invitations/sms",
            Some("inviter"),
            Some(&json!({"phone_number": shy_to, "challenge_type": "prompt_duel"}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["sms"]["status"], "suppressed");
    // 4. A security alert the provider refuses.
    let far_to = "+14155550177";
    stack.create_profile("far", "far_player").await;
    local_gateway::fixtures::verified_phone(
        &client,
        &users,
        "far",
        far_to,
        Some("America/Los_Angeles"),
    )
    .await
    .unwrap();
    let failed = outbox
        .enqueue(request(MessageType::SecurityAlert, far_to, "far"), now)
        .await
        .unwrap();
    wait_status(&stack, &failed.sms_id, Status::Failed).await;

    let code_id = {
        let ids = found(&stack, "user_id=coder").await;
        assert_eq!(ids.len(), 1, "{ids:?}");
        ids[0].clone()
    };
    wait_status(&stack, &code_id, Status::Sent).await;
    let invitation_id = found(&stack, "user_id=shy").await[0].clone();
    let cases = [
        (code_to, "coder", "sent", &code_id),
        (night_to, "night", "deferred", &deferred.sms_id),
        (shy_to, "shy", "suppressed", &invitation_id),
        (far_to, "far", "failed", &failed.sms_id),
    ];
    for (number, user, status, id) in cases {
        // By number as a person types it, by user, by status.
        let typed = format!("{} {} {}", &number[..4], &number[4..7], &number[7..]);
        assert_eq!(
            found(&stack, &format!("number={}", enc(&typed))).await,
            vec![id.clone()]
        );
        assert_eq!(
            found(&stack, &format!("user_id={user}")).await,
            vec![id.clone()]
        );
        assert_eq!(
            found(&stack, &format!("user_id={user}&status={status}")).await,
            vec![id.clone()]
        );
        assert!(found(&stack, &format!("user_id={user}&status=delivered"))
            .await
            .is_empty());
    }
    // By type on its day, and by status across types.
    let failed_today = found(&stack, "message_type=security_alert&status=failed").await;
    assert_eq!(failed_today, vec![failed.sms_id.clone()]);

    let timeline = |id: String| {
        let stack = &stack;
        async move {
            let (status, text) = desk(stack, "GET", &format!("/v1/admin/sms/{id}"), None).await;
            assert_eq!(status, 200, "{text}");
            text
        }
    };
    let text = timeline(code_id.clone()).await;
    assert_eq!(events(&text), ["created", "claimed", "sent"], "{text}");
    assert!(text["body"]
        .as_str()
        .unwrap()
        .starts_with("Your Versus code is ******"));
    assert!(text["cost_micros"].as_u64().unwrap() > 0);
    let text = timeline(deferred.sms_id.clone()).await;
    assert_eq!(events(&text), ["created"]);
    assert!(text["timeline"][0]["detail"]
        .as_str()
        .unwrap()
        .starts_with("deferred until"));
    let text = timeline(invitation_id).await;
    assert_eq!(
        (text["status"].as_str(), text["reason"].as_str()),
        (Some("suppressed"), Some("toggle_off"))
    );
    assert_eq!(text["timeline"][0]["detail"], "suppressed: toggle_off");
    let text = timeline(failed.sms_id.clone()).await;
    assert_eq!(events(&text), ["created", "claimed", "failed"], "{text}");
    assert!(text["timeline"][2]["detail"]
        .as_str()
        .unwrap()
        .starts_with("twilio: "));

    // A resend goes once: the provider takes it now (past the number's
    // 30 s gap since the failed attempt).
    twilio.set_send_status(201);
    stack.advance_clock(31.0).await;
    let (status, resent) = desk(
        &stack,
        "POST",
        &format!("/v1/admin/sms/{}/resend", failed.sms_id),
        None,
    )
    .await;
    assert_eq!(status, 201, "{resent}");
    assert_eq!(resent["resend_of"], json!(failed.sms_id));
    let resent_id = resent["id"].as_str().unwrap().to_string();
    wait_status(&stack, &resent_id, Status::Sent).await;
    let (status, again) = desk(
        &stack,
        "POST",
        &format!("/v1/admin/sms/{}/resend", failed.sms_id),
        None,
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("already_resent"))
    );
    assert_eq!(
        twilio.requests(TWILIO_MESSAGES).len(),
        2,
        "the failure and one resend"
    );
    let first = timeline(failed.sms_id.clone()).await;
    assert_eq!(events(&first).last().unwrap(), "resent");

    // A cancelled deferral is never sent, also after 08:00.
    let (status, cancelled) = desk(
        &stack,
        "POST",
        &format!("/v1/admin/sms/{}/cancel", deferred.sms_id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["reason"], "cancelled_by_operator");
    assert_eq!(events(&cancelled), ["created", "cancelled"]);
    stack.advance_clock(10.0 * 3600.0).await;
    common::sms::reconcile(&stack).await;
    assert!(common::sms::local_sms(&stack, night_to).await.is_empty());
    let (status, twice) = desk(
        &stack,
        "POST",
        &format!("/v1/admin/sms/{}/cancel", deferred.sms_id),
        None,
    )
    .await;
    assert_eq!(
        (status, twice["error"]["code"].as_str()),
        (409, Some("not_deferred"))
    );
}

#[tokio::test]
async fn an_admins_opt_out_blocks_the_next_text_and_is_in_the_history() {
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let sdk = versus::db::aws_config().await;
    let outbox = outbox(&stack, stack.dynamodb().await, &sdk, |_| {});
    let number = "+256772123470";
    let (status, added) = desk(
        &stack,
        "POST",
        "/v1/admin/opt-outs",
        Some(json!({"number": "+256 772 123470", "reason": "asked support to stop"})),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["opted_out"], true);
    assert_eq!(added["by"], "admin:boss");
    let log = outbox
        .enqueue(
            request(MessageType::SecurityAlert, number, "quiet"),
            stack.now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(
        (log.status, log.reason),
        (
            Status::Suppressed,
            Some(versus::sms::policy::Reason::OptedOut)
        )
    );
    // Taking it off needs a reason too.
    let (status, _) = desk(
        &stack,
        "POST",
        "/v1/admin/opt-outs/remove",
        Some(json!({"number": number, "reason": " "})),
    )
    .await;
    assert_eq!(status, 400);
    stack.advance_clock(60.0).await;
    let (status, removed) = desk(
        &stack,
        "POST",
        "/v1/admin/opt-outs/remove",
        Some(json!({"number": number, "reason": "texted by mistake"})),
    )
    .await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["opted_out"], false);
    let (status, history) = desk(
        &stack,
        "GET",
        &format!("/v1/admin/opt-outs?number={}", enc(number)),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let changes: Vec<(String, String, String)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().into(),
                c["by"].as_str().unwrap().into(),
                c["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                "opted_in".into(),
                "admin:boss".into(),
                "texted by mistake".into()
            ),
            (
                "opted_out".into(),
                "admin:boss".into(),
                "asked support to stop".into()
            ),
        ]
    );
    let (status, again) = desk(
        &stack,
        "POST",
        "/v1/admin/opt-outs/remove",
        Some(json!({"number": number, "reason": "again"})),
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("not_opted_out"))
    );
}

// F-ID-2: a player (or a service) gets 403 on every admin route, whatever
// the body; nothing is read or written.
#[tokio::test]
async fn players_get_403_on_every_admin_route() {
    let stack = Stack::start().await;
    stack.create_profile("player", "player").await;
    let service = stack.token_with("svc", json!({"scope": "versus/service"}));
    for token in [stack.token("player"), service] {
        for (method, path, body) in [
            ("GET", "/v1/admin/sms?number=%2B256772123456", None),
            ("GET", "/v1/admin/sms/01jabcdefghjkmnpqrstvwxyz0", None),
            (
                "POST",
                "/v1/admin/sms/01jabcdefghjkmnpqrstvwxyz0/cancel",
                None,
            ),
            (
                "POST",
                "/v1/admin/sms/01jabcdefghjkmnpqrstvwxyz0/resend",
                None,
            ),
            ("GET", "/v1/admin/opt-outs?number=%2B256772123456", None),
            ("POST", "/v1/admin/opt-outs", Some("{not json")),
            (
                "POST",
                "/v1/admin/opt-outs/remove",
                Some(r#"{"number":"+256772123456","reason":"x"}"#),
            ),
        ] {
            let (status, answer) = stack
                .call_with_token(method, path, Some(&token), body)
                .await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "{method} {path}: {answer}"
            );
        }
    }
}

// The hostile set with an admin's token (F-ERR-1): every bad input is a
// clear 4xx, never a 5xx, and nothing is written; a forged admin token is 401.
#[tokio::test]
async fn the_desk_refuses_bad_input_clearly() {
    let stack = Stack::start().await;
    let big = format!(
        r#"{{"number":"+256772123456","reason":"{}"}}"#,
        "x".repeat(20_000)
    );
    let cases: Vec<(&str, String, Option<String>, u16)> = vec![
        ("GET", "/v1/admin/sms".into(), None, 400),
        ("GET", "/v1/admin/sms?number=12".into(), None, 400),
        ("GET", "/v1/admin/sms?message_type=weather".into(), None, 400),
        ("GET", "/v1/admin/sms?user_id=u1&status=lost".into(), None, 400),
        ("GET", "/v1/admin/sms?user_id=u1&from=yesterday".into(), None, 400),
        ("GET", "/v1/admin/sms?user_id=u1&limit=0".into(), None, 400),
        ("GET", "/v1/admin/sms?user_id=u1&cursor=forged.cursor".into(), None, 400),
        (
            "GET",
            "/v1/admin/sms?message_type=match_found&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z".into(),
            None,
            400,
        ),
        ("GET", "/v1/admin/sms/not%20an%20id".into(), None, 404),
        ("GET", "/v1/admin/sms/01jabcdefghjkmnpqrstvwxyz0".into(), None, 404),
        ("POST", "/v1/admin/sms/01jabcdefghjkmnpqrstvwxyz0/cancel".into(), None, 404),
        ("POST", "/v1/admin/sms/01jabcdefghjkmnpqrstvwxyz0/resend".into(), None, 404),
        ("GET", "/v1/admin/opt-outs".into(), None, 400),
        ("GET", "/v1/admin/opt-outs?number=abc".into(), None, 400),
        ("POST", "/v1/admin/opt-outs".into(), Some("[1,2]".into()), 400),
        ("POST", "/v1/admin/opt-outs".into(), Some("{oops".into()), 400),
        ("POST", "/v1/admin/opt-outs".into(), Some(r#"{"number":"+256772123456","reason":"r","x":1}"#.into()), 400),
        ("POST", "/v1/admin/opt-outs".into(), Some(r#"{"number":256772123456,"reason":"r"}"#.into()), 400),
        ("POST", "/v1/admin/opt-outs".into(), Some(r#"{"number":"+256772123456","reason":""}"#.into()), 400),
        ("POST", "/v1/admin/opt-outs".into(), Some(big.clone()), 413),
        ("POST", "/v1/admin/opt-outs/remove".into(), Some(r#"{"number":"+256772123456"}"#.into()), 400),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = desk_raw(&stack, method, &path, body.as_deref()).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        assert!(
            answer["error"]["code"].is_string() || answer["message"].is_string(),
            "{answer}"
        );
    }
    let forged = format!("{}x", admin(&stack));
    let (status, _) = stack
        .call_with_token("GET", "/v1/admin/sms?user_id=u1", Some(&forged), None)
        .await;
    assert_eq!(status, 401);
    let (_, history) = desk_raw(
        &stack,
        "GET",
        "/v1/admin/opt-outs?number=%2B256772123456",
        None,
    )
    .await;
    assert_eq!(history["history"], json!([]), "nothing was written");
}

async fn desk_raw(stack: &Stack, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    stack
        .call_with_token(method, path, Some(&admin(stack)), body)
        .await
}

// Logs from before the desk have no search entries; the one-off walk
// (`{"job":"index_sms_logs"}`) writes them, and a rerun writes nothing.
#[tokio::test]
async fn old_logs_are_found_after_the_one_off_walk() {
    let stack = Stack::start().await;
    let config = stack.config("scheduled-jobs");
    let store = versus::sms::store::SmsStore::new(stack.dynamodb().await, &config.tables.sms);
    let number = "+256772123490";
    let mut old = versus::sms::log::SmsLog::pending(
        versus::phone::PhoneNumber::parse(number).unwrap(),
        MessageType::SecurityAlert,
        "New login to your account.".into(),
        Some("elder".into()),
        &config.sms,
        stack.now_ms(),
    );
    old.status = Status::Sent;
    old.due_at = None;
    store.put_log(&old).await.unwrap();
    assert!(found(&stack, &format!("number={}", enc(number)))
        .await
        .is_empty());
    let walk = || common::run_one_off(&stack, "index_sms_logs");
    let first = walk().await;
    assert_eq!(
        (
            first["status"].as_str(),
            first["checkpoint"]["effects"].as_u64()
        ),
        (Some("done"), Some(1)),
        "{first}"
    );
    assert_eq!(
        found(&stack, &format!("number={}", enc(number))).await,
        vec![old.sms_id.clone()]
    );
    assert_eq!(
        found(&stack, "user_id=elder").await,
        vec![old.sms_id.clone()]
    );
    common::forget_checkpoint(&stack, "index_sms_logs").await;
    assert_eq!(walk().await["checkpoint"]["effects"], 0);
}

// F-SMS-2, issue 23: a type's day is split in shards; a search by type
// pages through every shard and across days, newest first, each text once.
#[tokio::test]
async fn a_search_by_type_pages_through_every_shard_and_day() {
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let outbox = desk_outbox(&stack).await;
    // Twelve alerts from 23:50 to 00:01 UTC, a minute apart.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-20T23:50:00Z")
        .unwrap()
        .timestamp_millis();
    let mut sent = Vec::new();
    for i in 0..12i64 {
        // One user's (the last two over its hourly cap: suppressed, and
        // found all the same).
        let request = request(
            MessageType::SecurityAlert,
            &format!("+2567729{i:05}"),
            "pager",
        );
        let log = outbox.enqueue(request, start + i * 60_000).await.unwrap();
        sent.push(log.sms_id);
    }
    sent.reverse();
    let range = "from=2026-11-20T00:00:00Z&to=2026-11-21T23:59:59Z&limit=5";
    // By type (a day's 33 partitions), and by user (one partition).
    for facet in ["message_type=security_alert", "user_id=pager"] {
        let pages = every_page(&stack, &format!("{facet}&{range}")).await;
        let lengths: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(lengths, [5, 5, 2], "{facet}");
        assert_eq!(
            pages.concat(),
            sent,
            "{facet}: every text once, newest first"
        );
    }
}

// F-SMS-2, issue 23: texts whose type-day entry is in the day's unsharded
// partition (`FIND#type#<type>#<day>`, as before the shards) are found by a
// search by type beside the sharded ones, newest first, each once.
#[tokio::test]
async fn a_search_by_type_finds_entries_from_before_the_shards() {
    use versus::keys::sms::{search_key, search_shard, SearchFacet};
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let config = stack.config("admin-api");
    let client = stack.dynamodb().await;
    let outbox = versus::wiring::outbox(&versus::db::aws_config().await, &client, &config);
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
        .unwrap()
        .timestamp_millis();
    let mut sent = Vec::new();
    for i in 0..6i64 {
        let to = format!("+2567728{i:05}");
        let request = request(MessageType::SecurityAlert, &to, &format!("old{i}"));
        let log = outbox.enqueue(request, start + i * 60_000).await.unwrap();
        if i % 2 == 0 {
            // Move its entry to the unsharded partition.
            let day = "2026-11-20";
            let facet = |shard| SearchFacet::TypeOnDay("security_alert", day, shard);
            let sharded = search_key(
                facet(search_shard(&log.sms_id)),
                log.created_at,
                &log.sms_id,
            );
            let mut entry = client
                .get_item()
                .table_name(&config.tables.sms)
                .set_key(Some(sharded.clone()))
                .send()
                .await
                .unwrap()
                .item
                .expect("the sharded entry");
            entry.extend(search_key(facet(None), log.created_at, &log.sms_id));
            client
                .put_item()
                .table_name(&config.tables.sms)
                .set_item(Some(entry))
                .send()
                .await
                .unwrap();
            client
                .delete_item()
                .table_name(&config.tables.sms)
                .set_key(Some(sharded))
                .send()
                .await
                .unwrap();
        }
        sent.push(log.sms_id);
    }
    sent.reverse();
    let query =
        "message_type=security_alert&from=2026-11-20T00:00:00Z&to=2026-11-20T23:59:59Z&limit=4";
    let pages = every_page(&stack, query).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 2]);
    assert_eq!(pages.concat(), sent, "every text once, newest first");
}

// F-ERR-1, F-SMS-2: a desk cursor serves only the admin and the search it was
// issued for (400 `invalid_cursor` otherwise, and the search still pages to
// its end with it); cancelling a text that is not deferred and resending one
// that has not failed are 409s that change nothing.
#[tokio::test]
async fn desk_cursors_and_actions_refuse_what_is_not_theirs() {
    let stack = Stack::start().await;
    stack.freeze_clock().await;
    let outbox = desk_outbox(&stack).await;
    let mut sent = Vec::new();
    for i in 0..3i64 {
        let to = format!("+2567728{i:05}");
        let request = request(MessageType::SecurityAlert, &to, "held");
        let log = outbox
            .enqueue(request, stack.now_ms() - 10 + i)
            .await
            .unwrap();
        sent.push(log.sms_id);
    }
    for id in &sent {
        wait_status(&stack, id, Status::Sent).await;
    }
    let (status, first) = desk(&stack, "GET", "/v1/admin/sms?user_id=held&limit=2", None).await;
    assert_eq!(status, 200, "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let deputy = stack.token_with("deputy", json!({"role": "admin"}));
    let (status, answer) = stack
        .call_with_token(
            "GET",
            &format!("/v1/admin/sms?user_id=held&limit=2&cursor={cursor}"),
            Some(&deputy),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_cursor")),
        "another admin: {answer}"
    );
    for other_search in [
        "user_id=someone_else&limit=2",
        "user_id=held&limit=2&status=failed",
        "message_type=security_alert&limit=2",
    ] {
        let path = format!("/v1/admin/sms?{other_search}&cursor={cursor}");
        let (status, answer) = desk(&stack, "GET", &path, None).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid_cursor")),
            "{other_search}: {answer}"
        );
    }
    let (status, last) = desk(
        &stack,
        "GET",
        &format!("/v1/admin/sms?user_id=held&limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{last}");
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert!(last["next_cursor"].is_null(), "{last}");
    let text_path = format!("/v1/admin/sms/{}", sent[0]);
    let (_, before) = desk(&stack, "GET", &text_path, None).await;
    for (action, code) in [("cancel", "not_deferred"), ("resend", "not_failed")] {
        let (status, answer) = desk(&stack, "POST", &format!("{text_path}/{action}"), None).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (409, Some(code)),
            "{action}: {answer}"
        );
    }
    let (_, after) = desk(&stack, "GET", &text_path, None).await;
    assert_eq!(before, after, "a refused action changes nothing");
}
