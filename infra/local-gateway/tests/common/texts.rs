//! Players who can be texted, for the tests of invitations and battle texts.

use super::Stack;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Timelike;
use versus::sms::log::SmsLog;

/// What is daytime at the stack's instant, well inside 08:00-21:00 (texts
/// are not held back by quiet hours, F-SMS-14): a time zone for players
/// (their profile's zone decides), and numbers. A number with no account is
/// timed by its own zones: [`Daytime::for_strangers`] first moves the
/// stack's clock to the next instant at which one of the allowed regions
/// below is in its day, if none is. (Not 07911 for the UK: the numbering
/// plan gives that range to Guernsey, outside the allowed regions.)
pub struct Daytime {
    pub timezone: &'static str,
    prefix: &'static str,
}

const REGIONS: [(&str, &str); 3] = [
    ("Africa/Kampala", "+2567721"),
    ("Europe/London", "+4474001"),
    // San Francisco (+1 415): its number's zone is Los Angeles.
    ("America/Los_Angeles", "+1415555"),
];

fn in_day(timezone: &str, now_ms: i64) -> bool {
    let tz: chrono_tz::Tz = timezone.parse().unwrap();
    let local = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap()
        .with_timezone(&tz);
    (9..19).contains(&local.hour())
}

impl Daytime {
    /// Daytime at the stack's instant, for players (whose profile zone counts).
    pub fn of(stack: &Stack) -> Daytime {
        Self::at(stack.now_ms())
    }

    fn at(now_ms: i64) -> Daytime {
        let zones = [
            "Africa/Kampala",
            "Europe/London",
            "America/New_York",
            "America/Los_Angeles",
            "Pacific/Honolulu",
            "Asia/Tokyo",
            "Asia/Kolkata",
        ];
        let region = REGIONS.iter().find(|(tz, _)| in_day(tz, now_ms));
        Daytime {
            timezone: zones
                .into_iter()
                .find(|tz| in_day(tz, now_ms))
                .expect("one of the zones is in its day at any hour"),
            prefix: region.map_or("+2567721", |(_, prefix)| prefix),
        }
    }

    /// Daytime for numbers with no account: when no allowed region is in its
    /// day at the stack's instant, the clock moves on (running) to the next
    /// hour at which one is.
    pub async fn for_strangers(stack: &Stack) -> Daytime {
        let now = stack.now_ms();
        if !REGIONS.iter().any(|(tz, _)| in_day(tz, now)) {
            let next = (1..24)
                .map(|h| now + h * 3_600_000)
                .find(|t| REGIONS.iter().any(|(tz, _)| in_day(tz, *t)))
                .expect("some region is in its day within a day");
            stack
                .set_clock(
                    chrono::DateTime::from_timestamp_millis(next).unwrap(),
                    false,
                )
                .await;
        }
        Self::of(stack)
    }

    /// The `i`-th number (0..100).
    pub fn number(&self, i: u32) -> String {
        assert!(i < 100);
        match self.prefix {
            "+1415555" => format!("+141555501{i:02}"),
            prefix => format!("{prefix}{i:05}"),
        }
    }
}

/// A player with a verified number, SMS consent and a daytime time zone
/// (the state verification and `PUT /v1/me/sms-preferences` leave; written
/// directly, so no verification text stands in the 30 s gap of F-SMS-12).
pub async fn texted_player(stack: &Stack, user: &str, username: &str, phone: &str, tz: &str) {
    stack.create_profile(user, username).await;
    let users = stack.config("profile-api").tables.users;
    local_gateway::fixtures::verified_phone(&stack.dynamodb().await, &users, user, phone, Some(tz))
        .await
        .unwrap();
}

/// Every SmsLog of the stack (tests may scan: tiny tables).
pub async fn sms_logs(stack: &Stack) -> Vec<SmsLog> {
    let client = stack.dynamodb().await;
    let mut logs = vec![];
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(stack.config("profile-api").tables.sms)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S("SMS#".into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            logs.push(serde_dynamo::from_item(item.clone()).unwrap());
        }
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return logs,
        }
    }
}

/// The logs of `message_type` to `phone`.
pub async fn logs_to(stack: &Stack, phone: &str, message_type: &str) -> Vec<SmsLog> {
    sms_logs(stack)
        .await
        .into_iter()
        .filter(|l| l.to.e164() == phone && versus::sms::wire_name(l.message_type) == message_type)
        .collect()
}

/// Waits until the console outbox holds a text of `message_type` to `phone`; returns its body.
pub async fn text_to(stack: &Stack, phone: &str, message_type: &str) -> String {
    super::eventually(&format!("a {message_type} text to {phone}"), || async {
        super::sms::local_sms(stack, phone)
            .await
            .iter()
            .any(|m| m["message_type"] == message_type)
    })
    .await;
    super::sms::local_sms(stack, phone)
        .await
        .into_iter()
        .find(|m| m["message_type"] == message_type)
        .and_then(|m| m["body"].as_str().map(str::to_string))
        .unwrap()
}

/// Items of the battles table whose key starts with `prefix`.
pub async fn battle_items(
    stack: &Stack,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    items(
        stack,
        &stack.config("invitations-api").tables.battles,
        prefix,
    )
    .await
}

/// Items of the sms table whose key starts with `prefix`.
pub async fn sms_items(
    stack: &Stack,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    items(stack, &stack.config("profile-api").tables.sms, prefix).await
}

async fn items(
    stack: &Stack,
    table: &str,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let out = stack
        .dynamodb()
        .await
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
        .send()
        .await
        .unwrap();
    out.items().to_vec()
}
