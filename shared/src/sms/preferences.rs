//! A user's SMS preferences and consent (F-SMS-8, F-SMS-9), kept on the
//! profile item as `sms_preferences` (with `sms_preferences_rev` guarding
//! concurrent changes), and the keyword side of F-SMS-11: STOP turns the
//! master switch of the number's owner off, START turns it back on.

use super::policy::{Consent, ConsentMethod, Preferences};
use super::Toggle;
use crate::clock::rfc3339;
use crate::db::{self, n, retry, Item};
use crate::error::Error;
use crate::keys::users::profile_key;
use crate::phone::PhoneNumber;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const ALL_TOGGLES: [Toggle; 8] = [
    Toggle::MatchNotifications,
    Toggle::Invitations,
    Toggle::BattleResults,
    Toggle::BattleReminders,
    Toggle::StreakAlerts,
    Toggle::Achievements,
    Toggle::ChallengeReminders,
    Toggle::DirectMessages,
];

/// The consent text a START reply stands for (F-SMS-9, method `sms_keyword`).
pub const START_CONSENT_VERSION: &str = "sms-start-1";
const MAX_ATTEMPTS: u32 = 5;

/// `PUT /v1/me/sms-preferences`: every field optional; `"consent": null`
/// withdraws consent (no more promotional texts).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesInput {
    #[serde(default)]
    pub allow_sms_invitations: Option<bool>,
    #[serde(default)]
    pub toggles: BTreeMap<Toggle, bool>,
    #[serde(default, deserialize_with = "present")]
    pub consent: Option<Option<ConsentInput>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub method: ConsentMethod,
    /// Which consent text the user agreed to (`2026-11`, `tos-v3`).
    pub text_version: String,
}

/// Tells a field given as `null` (Some(None)) from a field left out (None).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Where the consent came from, besides the body: the caller's address.
pub struct ConsentContext<'a> {
    pub ip_address: Option<&'a str>,
    pub now_ms: i64,
}

/// The preferences after a change (pure).
pub fn apply(
    mut current: Preferences,
    input: &PreferencesInput,
    context: &ConsentContext<'_>,
) -> Result<Preferences, Error> {
    if let Some(allow) = input.allow_sms_invitations {
        current.allow_sms_invitations = allow;
    }
    for (toggle, on) in &input.toggles {
        if *on {
            current.off.remove(&super::wire_name(*toggle));
        } else {
            current.off.insert(super::wire_name(*toggle), true);
        }
    }
    match &input.consent {
        None => {}
        Some(None) => current.consent = None,
        Some(Some(consent)) => {
            if consent.method == ConsentMethod::SmsKeyword {
                return Err(Error::validation(
                    "consent by sms_keyword comes only from a START text; use web_form or api",
                ));
            }
            let version = consent.text_version.trim();
            if version.is_empty()
                || version.len() > 40
                || !version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(Error::validation(
                    "consent.text_version must be 1-40 letters, digits, '.', '_' or '-'",
                ));
            }
            current.consent = Some(Consent {
                at: context.now_ms,
                method: consent.method,
                ip_address: context.ip_address.map(str::to_string),
                text_version: version.to_string(),
            });
            // Consenting is opting in, unless the same request says otherwise.
            if input.allow_sms_invitations.is_none() {
                current.allow_sms_invitations = true;
            }
        }
    }
    Ok(current)
}

/// What `GET /v1/me/sms-preferences` (and `GET /v1/me`) show.
pub fn view(preferences: &Preferences, opted_out: Option<bool>) -> Value {
    let toggles: serde_json::Map<String, Value> = ALL_TOGGLES
        .iter()
        .map(|t| {
            let name = super::wire_name(*t);
            let on = !preferences.off.get(&name).copied().unwrap_or(false);
            (name, Value::Bool(on))
        })
        .collect();
    let mut view = json!({
        "allow_sms_invitations": preferences.allow_sms_invitations,
        "toggles": toggles,
        "consent": preferences.consent.as_ref().map(|c| json!({
            "given_at": rfc3339(c.at),
            "method": c.method,
            "ip_address": c.ip_address,
            "text_version": c.text_version,
        })),
    });
    if let Some(opted_out) = opted_out {
        view["opted_out"] = Value::Bool(opted_out);
    }
    view
}

#[derive(Clone)]
pub struct PreferencesStore {
    client: aws_sdk_dynamodb::Client,
    users_table: String,
}

impl PreferencesStore {
    pub fn new(client: aws_sdk_dynamodb::Client, users_table: impl Into<String>) -> Self {
        PreferencesStore {
            client,
            users_table: users_table.into(),
        }
    }

    async fn read(&self, user_id: &str) -> Result<Option<(Preferences, i64)>, Error> {
        let item: Option<Item> = self
            .client
            .get_item()
            .table_name(&self.users_table)
            .set_key(Some(profile_key(user_id)))
            .projection_expression("sms_preferences, sms_preferences_rev")
            .consistent_read(true)
            .send()
            .await
            .map_err(db::dependency)?
            .item;
        let Some(item) = item else {
            return Ok(None);
        };
        let preferences = match item.get("sms_preferences") {
            Some(value) => serde_dynamo::from_attribute_value(value.clone())?,
            None => Preferences::default(),
        };
        Ok(Some((
            preferences,
            db::get_n(&item, "sms_preferences_rev").unwrap_or(0),
        )))
    }

    /// Changes a user's preferences with `change`, against concurrent changes.
    /// `None` when the user has no profile.
    pub async fn update(
        &self,
        user_id: &str,
        change: impl Fn(Preferences) -> Result<Preferences, Error>,
    ) -> Result<Option<Preferences>, Error> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                // The revision moved under us: the same backoff as any lost race.
                retry::pause(attempt - 1).await;
            }
            let Some((current, rev)) = self.read(user_id).await? else {
                return Ok(None);
            };
            let next = change(current.clone())?;
            if next == current {
                return Ok(Some(next));
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.users_table)
                .set_key(Some(profile_key(user_id)))
                .update_expression("SET sms_preferences = :p, sms_preferences_rev = :next")
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(sms_preferences_rev) OR sms_preferences_rev = :rev)",
                )
                .expression_attribute_values(":p", serde_dynamo::to_attribute_value(&next)?)
                .expression_attribute_values(":next", n(rev + 1))
                .expression_attribute_values(":rev", n(rev))
                .send()
                .await;
            if db::conditional(result)?.is_some() {
                return Ok(Some(next));
            }
        }
        Err(Error::conflict(
            "concurrent_update",
            "the SMS preferences are being changed by another request, retry",
        ))
    }

    /// F-SMS-11: a STOP (`allow` false) or START (`allow` true) text from a
    /// number moves the master switch of the user who verified it, if any.
    /// START also records consent by keyword when there was none.
    pub async fn keyword_from(
        &self,
        phone: &PhoneNumber,
        allow: bool,
        now_ms: i64,
    ) -> Result<Option<String>, Error> {
        let Some(owner) =
            super::ownership::owner_of(&self.client, &self.users_table, phone).await?
        else {
            return Ok(None);
        };
        self.update(&owner, |mut p| {
            p.allow_sms_invitations = allow;
            if allow && p.consent.is_none() {
                p.consent = Some(Consent {
                    at: now_ms,
                    method: ConsentMethod::SmsKeyword,
                    ip_address: None,
                    text_version: START_CONSENT_VERSION.into(),
                });
            }
            Ok(p)
        })
        .await?;
        Ok(Some(owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ConsentContext<'static> {
        ConsentContext {
            ip_address: Some("203.0.113.9"),
            now_ms: 1_700_000_000_000,
        }
    }

    fn input(json: &str) -> PreferencesInput {
        serde_json::from_str(json).unwrap()
    }

    fn apply(
        current: Preferences,
        input: PreferencesInput,
        context: &ConsentContext<'_>,
    ) -> Result<Preferences, Error> {
        super::apply(current, &input, context)
    }

    #[test]
    fn consent_records_when_how_where_and_which_text() {
        let next = apply(
            Preferences {
                allow_sms_invitations: false,
                ..Default::default()
            },
            input(r#"{"consent": {"method": "web_form", "text_version": "2026-11"}}"#),
            &context(),
        )
        .unwrap();
        assert!(next.allow_sms_invitations);
        let consent = next.consent.unwrap();
        assert_eq!(consent.at, 1_700_000_000_000);
        assert_eq!(consent.method, ConsentMethod::WebForm);
        assert_eq!(consent.ip_address.as_deref(), Some("203.0.113.9"));
        assert_eq!(consent.text_version, "2026-11");
    }

    #[test]
    fn null_withdraws_consent_and_absent_keeps_it() {
        let given = apply(
            Preferences::default(),
            input(r#"{"consent": {"method": "api", "text_version": "v1"}}"#),
            &context(),
        )
        .unwrap();
        let kept = apply(
            given.clone(),
            input(r#"{"allow_sms_invitations": true}"#),
            &context(),
        )
        .unwrap();
        assert!(kept.consent.is_some());
        let withdrawn = apply(given, input(r#"{"consent": null}"#), &context()).unwrap();
        assert!(withdrawn.consent.is_none());
    }

    #[test]
    fn toggles_switch_categories() {
        let next = apply(
            Preferences::default(),
            input(r#"{"toggles": {"battle_results": false, "streak_alerts": false}}"#),
            &context(),
        )
        .unwrap();
        assert!(!next.allows(Toggle::BattleResults));
        assert!(next.allows(Toggle::MatchNotifications));
        let back = apply(
            next,
            input(r#"{"toggles": {"battle_results": true}}"#),
            &context(),
        )
        .unwrap();
        assert!(back.allows(Toggle::BattleResults));
        assert!(!back.allows(Toggle::StreakAlerts));
        let shown = view(&back, Some(false));
        assert_eq!(shown["toggles"]["streak_alerts"], false);
        assert_eq!(shown["toggles"]["direct_messages"], true);
        assert_eq!(shown["toggles"].as_object().unwrap().len(), 8);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(
            serde_json::from_str::<PreferencesInput>(r#"{"toggles": {"weather": false}}"#).is_err()
        );
        assert!(serde_json::from_str::<PreferencesInput>(r#"{"colour": "red"}"#).is_err());
        for body in [
            r#"{"consent": {"method": "sms_keyword", "text_version": "v1"}}"#,
            r#"{"consent": {"method": "web_form", "text_version": ""}}"#,
            r#"{"consent": {"method": "web_form", "text_version": "<script>"}}"#,
        ] {
            assert!(
                apply(Preferences::default(), input(body), &context()).is_err(),
                "{body}"
            );
        }
    }
}
