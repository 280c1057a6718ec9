//! Texting a friend to battle, end to end through the local gateway:
//! invitations by phone number (F-SMS-19), invite links (F-SMS-20),
//! private codes by text (F-MM-6), match_found and battle_result texts to
//! players who are not connected (F-SMS-21, F-SMS-22), and the rules that
//! keep them from being abused (F-SMS-10, F-SMS-12).

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::sms::raw_log;
use common::texts::{battle_items, logs_to, sms_logs, text_to, texted_player, Daytime};
use common::{send, until_type, Stack};
use serde_json::{json, Value};
use versus::sms::store::Status;

async fn invite(stack: &Stack, user: &str, body: Value) -> (u16, Value) {
    stack
        .call(
            "POST",
            "/v1/invitations/sms",
            Some(user),
            Some(&body.to_string()),
        )
        .await
}

fn token_in(text: &str) -> String {
    let start = text.find("/invite/").expect("an invite link") + "/invite/".len();
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

async fn preview(stack: &Stack, token: &str) -> (u16, Value) {
    stack
        .call(
            "GET",
            &format!("/v1/invitations/preview?token={token}"),
            None,
            None,
        )
        .await
}

async fn accept_token(stack: &Stack, user: &str, token: &str) -> (u16, Value) {
    stack
        .call(
            "POST",
            "/v1/invitations/accept-token",
            Some(user),
            Some(&json!({ "token": token }).to_string()),
        )
        .await
}

// F-SMS-19: a number a player verified gets them an in-app invitation and a
// text; accepting starts a sms_invite battle; match_found is texted to the
// sender (not connected), not to the invitee (connected).
#[tokio::test]
async fn inviting_a_players_number_is_an_in_app_invitation_and_a_text() {
    let stack = Stack::start().await;
    let day = Daytime::of(&stack);
    let (alice_phone, bob_phone) = (day.number(1), day.number(2));
    texted_player(&stack, "alice", "alice", &alice_phone, day.timezone).await;
    texted_player(&stack, "bob", "bob", &bob_phone, day.timezone).await;
    let mut bob_socket = stack.connect(Some(&stack.token("bob"))).await.unwrap();
    common::eventually("bob's connection is recorded", || async {
        versus::wiring::presence(&stack.dynamodb().await, &stack.config("profile-api"))
            .connections("bob", stack.now_ms())
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;

    let (status, invited) = invite(
        &stack,
        "alice",
        json!({"phone_number": bob_phone, "challenge_type": "prompt_duel", "message": "Rematch?"}),
    )
    .await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["to"]["username"], "bob");
    assert_eq!(invited["source"], "sms_invite");
    assert_eq!(invited["status"], "pending");
    assert_eq!(invited["sms"]["status"], "pending");
    let id = invited["invitation_id"].as_str().unwrap();
    let (pushed, _) = until_type(&mut bob_socket, "invitation_received").await;
    assert_eq!(pushed["invitation_id"], id);
    let text = text_to(&stack, &bob_phone, "battle_invitation").await;
    assert!(
        text.starts_with("alice challenged you to a prompt_duel battle"),
        "{text}"
    );
    assert!(text.contains("\"Rematch?\"") && text.contains(&format!("/invitations/{id}")));
    assert!(text.ends_with("Reply STOP to unsubscribe."), "{text}");

    let (status, accepted) = stack
        .call(
            "POST",
            &format!("/v1/invitations/{id}/accept"),
            Some("bob"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["battle"]["source"], "sms_invite");
    let battle_id = accepted["battle"]["battle_id"].as_str().unwrap();
    until_type(&mut bob_socket, "match_found").await;
    let text = text_to(&stack, &alice_phone, "match_found").await;
    assert!(
        text.contains("bob") && text.contains(&format!("/battles/{battle_id}")),
        "{text}"
    );
    assert!(logs_to(&stack, &bob_phone, "match_found").await.is_empty());
}

// F-SMS-19, F-SMS-20: a number with no account gets an invite link; the
// preview shows sender, challenge and expiry only; 20 racing accepts make
// one battle; the token is in the text and nowhere else.
#[tokio::test]
async fn a_friend_without_an_account_previews_and_accepts_the_link_once() {
    let logs = common::logs::captured();
    let stack = Stack::start().await;
    let day = Daytime::for_strangers(&stack).await;
    let friend = day.number(12);
    let alice_phone = day.number(11);
    texted_player(&stack, "alice", "alice", &alice_phone, day.timezone).await;

    let (status, invited) = invite(
        &stack,
        "alice",
        json!({"phone_number": friend, "challenge_type": "prompt_duel"}),
    )
    .await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["to"], Value::Null);
    assert_eq!(invited["to_phone"], versus::phone::mask(&friend));
    assert_eq!(invited["sms"]["status"], "pending");
    let invitation_id = invited["invitation_id"].as_str().unwrap().to_string();
    let text = text_to(&stack, &friend, "battle_invitation").await;
    assert!(text.starts_with("alice challenged you"), "{text}");
    assert!(text.ends_with("Reply STOP to unsubscribe."), "{text}");
    let token = token_in(&text);
    assert_eq!(token.len(), 43, "{text}");
    // Once sent, the stored log keeps no token: the link is masked (issue 21);
    // the token item is keyed by its hash.
    common::eventually("the invitation text is sent", || async {
        logs_to(&stack, &friend, "battle_invitation").await[0].status == Status::Sent
    })
    .await;
    let log = logs_to(&stack, &friend, "battle_invitation")
        .await
        .remove(0);
    assert!(log.body.contains("/invite/****"), "{}", log.body);
    assert!(!format!("{:?}", raw_log(&stack, &log.sms_id).await).contains(&token));
    let tokens = battle_items(&stack, "INVITE#").await;
    assert_eq!(tokens.len(), 1);
    assert!(!format!("{tokens:?}").contains(&token));

    let (status, shown) = preview(&stack, &token).await;
    assert_eq!(status, 200, "{shown}");
    let keys: Vec<&String> = shown.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["challenge_type", "expires_at", "sender_username"]);
    assert_eq!(shown["sender_username"], "alice");

    stack.create_profile("bob", "bob").await;
    let accepts = (0..20).map(|_| accept_token(&stack, "bob", &token));
    let answers = futures::future::join_all(accepts).await;
    let created: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (status, body) in &answers {
        assert!(*status == 201 || *status == 409, "{status} {body}");
    }
    let battle = &created[0].1["battle"];
    assert_eq!(battle["source"], "sms_invite");
    assert_eq!(battle_items(&stack, "BATTLE#").await.len(), 1);
    assert_eq!(created[0].1["invitation"]["to"]["username"], "bob");
    let (status, again) = accept_token(&stack, "bob", &token).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("invitation_already_accepted"))
    );
    // Now bob's incoming box has it, like a direct invitation.
    let (_, incoming) = stack
        .call("GET", "/v1/invitations?box=incoming", Some("bob"), None)
        .await;
    assert_eq!(
        incoming["items"][0]["invitation_id"],
        invitation_id.as_str()
    );
    let text = text_to(&stack, &alice_phone, "match_found").await;
    assert!(text.contains("bob"), "{text}");

    // Used, unknown, malformed and expired links: one and the same answer.
    let (status, used) = preview(&stack, &token).await;
    assert_eq!(status, 404);
    let unknown_token = "A".repeat(43);
    for other in [unknown_token.as_str(), "not-a-token"] {
        assert_eq!(preview(&stack, other).await, (404, used.clone()));
    }
    let (status, _) = invite(
        &stack,
        "alice",
        json!({"phone_number": day.number(13), "challenge_type": "prompt_duel"}),
    )
    .await;
    assert_eq!(status, 201);
    let late = token_in(&text_to(&stack, &day.number(13), "battle_invitation").await);
    let client = stack.dynamodb().await;
    for item in battle_items(&stack, "INVITE#")
        .await
        .into_iter()
        .chain(battle_items(&stack, "INVITATION#").await)
    {
        client
            .update_item()
            .table_name(stack.config("invitations-api").tables.battles)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .update_expression("SET valid_until = :past")
            .expression_attribute_values(":past", AttributeValue::N("1000".into()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(preview(&stack, &late).await, (404, used.clone()));
    stack.create_profile("carol", "carol").await;
    let (status, expired) = accept_token(&stack, "carol", &late).await;
    assert_eq!(
        (status, expired["error"]["code"].as_str()),
        (409, Some("invitation_expired"))
    );
    let (status, unknown) = accept_token(&stack, "carol", &unknown_token).await;
    assert_eq!(
        (status, unknown["error"]["code"].as_str()),
        (404, Some("invite_not_found"))
    );
    assert_eq!(battle_items(&stack, "BATTLE#").await.len(), 1);

    // Nowhere but in the texts: not in any answer, not in any log line.
    let answers_text = format!("{invited} {shown} {answers:?} {incoming}");
    for token in [&token, &late] {
        assert!(!answers_text.contains(token.as_str()));
        let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
        assert!(
            logged.contains("console SMS"),
            "the functions' logs are captured"
        );
        assert!(
            !logged.contains(token.as_str()),
            "a token reached a log line"
        );
    }
}

// F-SMS-12, F-SMS-19: an opted-out number, a sixth invitation within the
// hour, a second invitation to a number within 7 days: refused with the
// reason recorded, and no invitation or token written.
#[tokio::test]
async fn refused_invitations_leave_no_token() {
    let stack = Stack::start().await;
    let day = Daytime::for_strangers(&stack).await;
    // Five an hour: no hour may turn while they are counted.
    stack.freeze_clock().await;
    texted_player(&stack, "alice", "alice", &day.number(21), day.timezone).await;
    texted_player(&stack, "dave", "dave", &day.number(22), day.timezone).await;
    let body = |n: u32| json!({"phone_number": day.number(n), "challenge_type": "prompt_duel"});

    // A STOP from the number (F-SMS-11) blocks every invitation to it.
    let stopped = versus::phone::PhoneNumber::parse(&day.number(30)).unwrap();
    let sms = versus::sms::store::SmsStore::new(
        stack.dynamodb().await,
        &stack.config("profile-api").tables.sms,
    );
    versus::sms::optouts::opt_out(&sms, &stopped, "STOP", stack.now_ms())
        .await
        .unwrap();
    let (status, refused) = invite(&stack, "alice", body(30)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("recipient_opted_out")),
        "{refused}"
    );

    for n in 31..35 {
        assert_eq!(invite(&stack, "alice", body(n)).await.0, 201);
    }
    // Another sender, a number already invited: once per 7 days across senders.
    let (status, refused) = invite(&stack, "dave", body(31)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("recipient_recently_invited")),
        "{refused}"
    );
    assert_eq!(invite(&stack, "alice", body(35)).await.0, 201);
    let (status, refused) = invite(&stack, "alice", body(36)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{refused}"
    );

    let mut reasons = common::sms::suppressed_reasons(&stack).await;
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "opted_out",
            "recipient_recently_invited",
            "sender_invitation_limit"
        ]
    );
    assert_eq!(battle_items(&stack, "INVITE#").await.len(), 5);
    assert_eq!(battle_items(&stack, "INVITATION#").await.len(), 5);
    // A cancelled invitation's link shows and accepts nothing.
    let (_, outgoing) = stack
        .call(
            "GET",
            "/v1/invitations?box=outgoing&limit=1",
            Some("alice"),
            None,
        )
        .await;
    let id = outgoing["items"][0]["invitation_id"].as_str().unwrap();
    let (status, cancelled) = stack
        .call(
            "POST",
            &format!("/v1/invitations/{id}/cancel"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(
        (status, cancelled["invitation"]["status"].as_str()),
        (200, Some("cancelled"))
    );
    let link = token_in(&text_to(&stack, &day.number(35), "battle_invitation").await);
    assert_eq!(preview(&stack, &link).await.0, 404);
    let (status, refused) = accept_token(&stack, "dave", &link).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("invitation_cancelled"))
    );
    for n in [30, 36] {
        assert!(common::sms::local_sms(&stack, &day.number(n))
            .await
            .is_empty());
    }

    // A message that would push the text past the segment cap is refused first.
    let (status, long) = invite(
        &stack,
        "dave",
        json!({"phone_number": day.number(40), "challenge_type": "prompt_duel", "message": "🔥".repeat(90)}),
    )
    .await;
    assert_eq!(
        (status, long["error"]["code"].as_str()),
        (400, Some("message_too_long")),
        "{long}"
    );
    let (status, own) = invite(&stack, "alice", body(21)).await;
    assert_eq!(
        (status, own["error"]["code"].as_str()),
        (422, Some("cannot_invite_yourself"))
    );
    assert_eq!(battle_items(&stack, "INVITE#").await.len(), 5);
}

// F-MM-6 with invite_phone: the code, stake and expiry by text.
#[tokio::test]
async fn invite_phone_sends_the_private_code() {
    let stack = Stack::start().await;
    let day = Daytime::for_strangers(&stack).await;
    let friend = day.number(42);
    texted_player(&stack, "alice", "alice", &day.number(41), day.timezone).await;
    let (status, private) = stack
        .call(
            "POST",
            "/v1/matches/private",
            Some("alice"),
            Some(
                &json!({"challenge_type": "prompt_duel", "stake": 50, "invite_phone": friend})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 201, "{private}");
    assert_eq!(private["sms"]["status"], "pending");
    let code = private["code"].as_str().unwrap();
    let text = text_to(&stack, &friend, "battle_invitation").await;
    assert!(
        text.contains(&format!("Code {code}")) && text.contains("stake 50"),
        "{text}"
    );
    assert!(
        text.contains(&format!("/join/{code}")) && text.contains("valid until"),
        "{text}"
    );
    assert!(text.ends_with("Reply STOP to unsubscribe."), "{text}");
    // Once sent, the stored log holds the code nowhere (body or related).
    common::eventually("the code's text is sent", || async {
        logs_to(&stack, &friend, "battle_invitation").await[0].status == Status::Sent
    })
    .await;
    let log = logs_to(&stack, &friend, "battle_invitation")
        .await
        .remove(0);
    assert!(log.body.contains("Code ******"), "{}", log.body);
    let item = format!("{:?}", raw_log(&stack, &log.sms_id).await);
    assert!(!item.contains(code), "{item}");
    let (status, bad) = stack
        .call(
            "POST",
            "/v1/matches/private",
            Some("alice"),
            Some(&json!({"challenge_type": "prompt_duel", "invite_phone": "12"}).to_string()),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    // Her own number: refused before a code is made.
    let own = json!({"challenge_type": "prompt_duel", "invite_phone": day.number(41)});
    let (status, refused) = stack
        .call(
            "POST",
            "/v1/matches/private",
            Some("alice"),
            Some(&own.to_string()),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("cannot_invite_yourself"))
    );
    assert_eq!(battle_items(&stack, "PRIVATE#").await.len(), 1);
}

/// `first` waits in the queue, `second` joins: both connected, both get
/// `match_found` (returns the first's).
async fn queue_match(stack: &Stack, first: &str, second: &str) -> Value {
    let join = r#"{"action":"join_queue","challenge_type":"prompt_duel"}"#;
    let mut a = stack.connect(Some(&stack.token(first))).await.unwrap();
    let mut b = stack.connect(Some(&stack.token(second))).await.unwrap();
    send(&mut a, join).await;
    until_type(&mut a, "queued").await;
    send(&mut b, join).await;
    until_type(&mut b, "match_found").await;
    until_type(&mut a, "match_found").await.0
}

/// Waits until `user` has no open connection left.
async fn gone(stack: &Stack, user: &str) {
    common::eventually(&format!("{user}'s connections are gone"), || async {
        versus::wiring::presence(&stack.dynamodb().await, &stack.config("profile-api"))
            .connections(user, stack.now_ms())
            .await
            .unwrap()
            .is_empty()
    })
    .await;
}

async fn connected(stack: &Stack, user: &str) -> common::Socket {
    let socket = stack.connect(Some(&stack.token(user))).await.unwrap();
    common::eventually(&format!("{user}'s connection is recorded"), || async {
        !versus::wiring::presence(&stack.dynamodb().await, &stack.config("profile-api"))
            .connections(user, stack.now_ms())
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    socket
}

// F-SMS-21 from the private code, direct and queue sources, and F-SMS-22:
// texts go to players who are not connected, once, whatever the replays.
#[tokio::test]
async fn match_and_result_texts_reach_players_who_are_not_connected() {
    let stack = Stack::start().await;
    let day = Daytime::of(&stack);
    let players = ["p1", "p2", "d1", "d2", "q1", "q2", "r1", "r2", "s1", "s2"];
    for (i, p) in players.iter().enumerate() {
        texted_player(
            &stack,
            p,
            &format!("{p}_name"),
            &day.number(50 + i as u32),
            day.timezone,
        )
        .await;
    }
    let phone = |p: &str| day.number(50 + players.iter().position(|x| *x == p).unwrap() as u32);

    // Private code: both offline, both texted, with the battle link.
    let battle = stack.battle_between("p1", "p2").await;
    for p in ["p1", "p2"] {
        let text = text_to(&stack, &phone(p), "match_found").await;
        assert!(text.contains(&format!("/battles/{battle}")), "{text}");
    }
    // Direct invitation: both offline.
    let (status, inv) = stack
        .call(
            "POST",
            "/v1/invitations",
            Some("d1"),
            Some(r#"{"username":"d2_name","challenge_type":"prompt_duel"}"#),
        )
        .await;
    assert_eq!(status, 201, "{inv}");
    let path = format!(
        "/v1/invitations/{}/accept",
        inv["invitation_id"].as_str().unwrap()
    );
    assert_eq!(stack.call("POST", &path, Some("d2"), None).await.0, 200);
    for p in ["d1", "d2"] {
        text_to(&stack, &phone(p), "match_found").await;
    }
    // Queue: both players are connected (a queue entry lives as long as its
    // connection), so both got the push and nobody is texted.
    queue_match(&stack, "q1", "q2").await;

    // A battle made while both were connected, judged after both left:
    // recorded three times, texted to each once.
    let s1 = connected(&stack, "s1").await;
    let s2 = connected(&stack, "s2").await;
    let s_battle = stack.battle_between("s1", "s2").await;
    drop((s1, s2));
    gone(&stack, "s1").await;
    gone(&stack, "s2").await;
    let service = stack.token_with("svc", json!({"scope": "versus/service"}));
    let result_path = |b: &str| format!("/v1/battles/{b}/result");
    let win = json!({"outcome": "win", "winner_id": "s1"}).to_string();
    for _ in 0..3 {
        let (status, body) = stack
            .call_with_token("POST", &result_path(&s_battle), Some(&service), Some(&win))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let text = text_to(&stack, &phone("s1"), "battle_result").await;
    assert!(
        text.contains("beat s2_name") && text.ends_with("Reply STOP to unsubscribe."),
        "{text}"
    );
    assert!(text_to(&stack, &phone("s2"), "battle_result")
        .await
        .contains("lost to s1_name"));

    // r1 connected throughout, r2 not: only r2 is texted, match and result.
    let mut r1 = connected(&stack, "r1").await;
    let r_battle = stack.battle_between("r1", "r2").await;
    until_type(&mut r1, "match_found").await;
    text_to(&stack, &phone("r2"), "match_found").await;
    let tie = json!({"outcome": "tie"}).to_string();
    for _ in 0..3 {
        let (status, body) = stack
            .call_with_token("POST", &result_path(&r_battle), Some(&service), Some(&tie))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    until_type(&mut r1, "battle_result").await;

    let logs = sms_logs(&stack).await;
    let count = |p: &str, kind: &str| {
        logs.iter()
            .filter(|l| l.to.e164() == phone(p) && versus::sms::wire_name(l.message_type) == kind)
            .count()
    };
    for p in ["s1", "s2"] {
        assert_eq!(count(p, "battle_result"), 1, "{p}");
        assert_eq!(count(p, "match_found"), 0, "{p} was connected");
    }
    // r2's result text falls in the 30 s gap after its match text
    // (F-SMS-12): it is recorded once and waits for the gap, never twice.
    assert_eq!(count("r2", "battle_result"), 1);
    assert_eq!(count("r1", "battle_result"), 0);
    for p in ["q1", "q2", "r1"] {
        assert_eq!(count(p, "match_found"), 0, "{p} was connected");
    }
    for p in ["p1", "p2", "d1", "d2", "r2"] {
        assert_eq!(count(p, "match_found"), 1, "{p}");
    }
}

// F-SMS-21 for the random-opponent and queue sources with texts for every
// player (BattleTextsOnlyOffline=false), and the random pick's offline side.
#[tokio::test]
async fn random_and_queue_matches_text_as_configured() {
    let stack = Stack::start_with(&[("BattleTextsOnlyOffline", "false")]).await;
    let day = Daytime::of(&stack);
    texted_player(&stack, "q1", "q1_name", &day.number(71), day.timezone).await;
    texted_player(&stack, "q2", "q2_name", &day.number(72), day.timezone).await;
    assert_eq!(queue_match(&stack, "q1", "q2").await["source"], "queue");
    for n in [71, 72] {
        text_to(&stack, &day.number(n), "match_found").await;
    }

    // Random opponent, default rule: the caller is connected, the picked
    // player is online (seen a moment ago) but has no connection.
    let stack = Stack::start().await;
    texted_player(
        &stack,
        "caller",
        "caller_name",
        &day.number(73),
        day.timezone,
    )
    .await;
    texted_player(
        &stack,
        "picked",
        "picked_name",
        &day.number(74),
        day.timezone,
    )
    .await;
    let mut caller = stack.connect(Some(&stack.token("caller"))).await.unwrap();
    send(
        &mut caller,
        r#"{"action":"find_opponent","match_type":"active_user","challenge_type":"prompt_duel"}"#,
    )
    .await;
    let (sent, _) = until_type(&mut caller, "invitation_sent").await;
    let path = format!(
        "/v1/invitations/{}/accept",
        sent["invitation_id"].as_str().unwrap()
    );
    let (status, accepted) = stack.call("POST", &path, Some("picked"), None).await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["battle"]["source"], "active_user");
    until_type(&mut caller, "match_found").await;
    text_to(&stack, &day.number(74), "match_found").await;
    assert!(logs_to(&stack, &day.number(73), "match_found")
        .await
        .is_empty());
}

// The invitation routes' own hostile cases (the generic set runs in hostile.rs).
#[tokio::test]
async fn invitation_routes_refuse_what_they_cannot_use() {
    let stack = Stack::start_with(&[]).await;
    let day = Daytime::of(&stack);
    texted_player(&stack, "alice", "alice", &day.number(81), day.timezone).await;
    for (body, code) in [
        (
            json!({"phone_number": 12, "challenge_type": "prompt_duel"}),
            "validation_error",
        ),
        (
            json!({"phone_number": "+1", "challenge_type": "prompt_duel"}),
            "invalid_phone_number",
        ),
        (
            json!({"phone_number": day.number(82), "challenge_type": "Bad Type"}),
            "validation_error",
        ),
        (
            json!({"phone_number": day.number(82), "challenge_type": "x", "message": ["hi"]}),
            "validation_error",
        ),
        (
            json!({"phone_number": day.number(82), "challenge_type": "x", "message": "a\u{7}b"}),
            "validation_error",
        ),
        (
            json!({"phone_number": day.number(82), "challenge_type": "x", "message": "m".repeat(101)}),
            "validation_error",
        ),
    ] {
        let (status, answer) = invite(&stack, "alice", body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {answer}"
        );
    }
    // A profile is needed to invite or to accept.
    let (status, answer) = invite(
        &stack,
        "nobody",
        json!({"phone_number": day.number(82), "challenge_type": "x"}),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    for token in [json!(123), json!(null), json!("x".repeat(5000))] {
        let (status, answer) = stack
            .call(
                "POST",
                "/v1/invitations/accept-token",
                Some("alice"),
                Some(&json!({"token": token}).to_string()),
            )
            .await;
        assert!(status == 400 || status == 404, "{token}: {status} {answer}");
        assert!(answer["error"]["code"].is_string());
    }
    let (status, answer) = stack
        .call("GET", "/v1/invitations/preview", None, None)
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("validation_error"))
    );
    assert!(battle_items(&stack, "INVITE#").await.is_empty());
    assert!(sms_logs(&stack).await.is_empty());
    // Guessing is rate-limited per address (30 a minute by default); the
    // clock stands still, so no minute turns between the 30th and the 31st.
    stack.freeze_clock().await;
    let guess = "B".repeat(43);
    let mut statuses = vec![];
    for _ in 0..31 {
        statuses.push(preview(&stack, &guess).await.0);
    }
    assert_eq!(statuses[..30], [404; 30]);
    assert_eq!(statuses[30], 429);
    // Per address: a caller from another address (the gateway gives each
    // function the TCP peer's, as API Gateway does) is not held back.
    let elsewhere = common::client_from("127.0.0.2");
    let url = format!(
        "{}/v1/invitations/preview?token={guess}",
        stack.running.http_url
    );
    assert_eq!(elsewhere.get(url).send().await.unwrap().status(), 404);
}
