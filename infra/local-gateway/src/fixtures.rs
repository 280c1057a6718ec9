//! State that tests and benches write straight to the tables, as the real
//! flows would leave it, when the flow itself is not what they measure.

use aws_sdk_dynamodb::types::AttributeValue;
use versus::db::UpdateExpr;
use versus::sms::policy::{Consent, ConsentMethod, Preferences};

/// SMS preferences with a consent record (given through the API), every toggle on.
pub fn consented() -> Preferences {
    Preferences {
        consent: Some(Consent {
            at: 1,
            method: ConsentMethod::WebForm,
            ip_address: None,
            text_version: "v1".into(),
        }),
        ..Default::default()
    }
}

/// A text to `user`'s verified, consenting number in Kampala's time zone.
pub fn sms_request(
    message_type: versus::sms::MessageType,
    phone: &str,
    user: &str,
) -> versus::sms::outbox::SmsRequest {
    versus::sms::outbox::SmsRequest {
        to: versus::phone::PhoneNumber::parse(phone).expect("a valid number"),
        message_type,
        body: "Your battle result is in.".into(),
        user_id: Some(user.into()),
        sender_id: None,
        related: None,
        verified: true,
        preferences: Some(consented()),
        timezone: Some("Africa/Kampala".into()),
        secret: None,
        extra_limits: Vec::new(),
        send_by: None,
    }
}

/// What phone verification and `PUT /v1/me/sms-preferences` leave: `user`
/// holds `phone` (verified, with its `PHONE#` claim) and has consented;
/// `timezone`, when given, is the profile's. Written directly, so no
/// verification text stands in the 30 s gap between texts (F-SMS-12).
pub async fn verified_phone(
    client: &aws_sdk_dynamodb::Client,
    users_table: &str,
    user: &str,
    phone: &str,
    timezone: Option<&str>,
) -> Result<(), String> {
    let preferences = serde_dynamo::to_attribute_value(consented()).map_err(|e| e.to_string())?;
    let mut update = UpdateExpr::new()
        .set("phone_number", AttributeValue::S(phone.into()))
        .set("phone_verified", AttributeValue::Bool(true))
        .set("phone_verified_at", AttributeValue::N("1".into()))
        .set("sms_preferences", preferences);
    if let Some(tz) = timezone {
        update = update.set("timezone", AttributeValue::S(tz.into()));
    }
    update
        .apply(
            client
                .update_item()
                .table_name(users_table)
                .set_key(Some(versus::keys::users::profile_key(user))),
        )
        .send()
        .await
        .map_err(|e| versus::db::DisplayErrorContext(&e).to_string())?;
    let mut claim = versus::keys::users::phone_claim_key(phone);
    claim.insert("user_id".into(), AttributeValue::S(user.into()));
    claim.insert("verified_at".into(), AttributeValue::N("1".into()));
    client
        .put_item()
        .table_name(users_table)
        .set_item(Some(claim))
        .send()
        .await
        .map_err(|e| versus::db::DisplayErrorContext(&e).to_string())?;
    Ok(())
}

/// A time zone (`Etc/GMT±N`) in which the local hour is `hour` at `now_ms`:
/// players whose evening, or night, it is at the instant a test pinned.
pub fn zone_at_local_hour(hour: u32, now_ms: i64) -> String {
    use chrono::Timelike;
    let utc = chrono::DateTime::from_timestamp_millis(now_ms)
        .expect("an instant in range")
        .hour() as i32;
    let mut offset = (hour as i32 - utc).rem_euclid(24);
    if offset > 14 {
        offset -= 24;
    }
    // Etc/GMT names have the sign the other way round.
    match offset {
        0 => "Etc/GMT".into(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}
