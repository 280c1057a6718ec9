//! The opt-out list (F-SMS-11) and its history: `OPTOUT#<e164>` / `OPTOUT`
//! while the number is opted out (since when, by which keyword or by whom,
//! why), and beside it one `HISTORY#<at>#<id>` item per change, by a text
//! (STOP, START) or by an operator, so the number's history is one Query.

use super::store::SmsStore;
use crate::db::{self, s, Cost, Item, Transaction};
use crate::error::Error;
use crate::keys::sms::{optout_history_key, optout_key};
use crate::keys::sms::{optout_pk, OPTOUT_SK};
use crate::phone::PhoneNumber;
use aws_sdk_dynamodb::types::Delete;
use serde::{Deserialize, Serialize};

/// A number's current opt-out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptOut {
    pub at: i64,
    /// The keyword texted (STOP, ...), when it came by text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// `sms`, or `admin:<user id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptAction {
    OptedOut,
    OptedIn,
}

/// One change of a number's opt-out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptChange {
    pub at: i64,
    pub action: OptAction,
    pub by: String,
    pub reason: String,
}

/// Changes a number's history keeps in one read at most (newest first).
const HISTORY_READ: i32 = 100;

pub async fn is_opted_out(store: &SmsStore, phone: &PhoneNumber) -> Result<bool, Error> {
    let found: Option<serde_json::Value> =
        db::get_item(&store.client, &store.table, optout_key(phone.e164())).await?;
    Ok(found.is_some())
}

/// F-SMS-11: STOP and its synonyms.
pub async fn opt_out(
    store: &SmsStore,
    phone: &PhoneNumber,
    keyword: &str,
    now_ms: i64,
) -> Result<(), Error> {
    change_opt_out(
        store,
        phone,
        OptAction::OptedOut,
        "sms",
        keyword,
        Some(keyword),
        now_ms,
    )
    .await
}

/// F-SMS-11: START / UNSTOP / YES.
pub async fn opt_in(
    store: &SmsStore,
    phone: &PhoneNumber,
    keyword: &str,
    now_ms: i64,
) -> Result<(), Error> {
    change_opt_out(
        store,
        phone,
        OptAction::OptedIn,
        "sms",
        keyword,
        None,
        now_ms,
    )
    .await
}

/// Puts the number on the list (again: the record is renewed) or takes it
/// off, and records who did it and why, in one transaction.
pub async fn change_opt_out(
    store: &SmsStore,
    phone: &PhoneNumber,
    action: OptAction,
    by: &str,
    reason: &str,
    keyword: Option<&str>,
    now_ms: i64,
) -> Result<(), Error> {
    let mut tx = Transaction::new();
    match action {
        OptAction::OptedOut => {
            let record = OptOut {
                at: now_ms,
                keyword: keyword.map(str::to_string),
                by: Some(by.to_string()),
                reason: Some(reason.to_string()),
            };
            let mut item: Item = serde_dynamo::to_item(&record)?;
            item.extend(optout_key(phone.e164()));
            tx.put_item(&store.table, item);
        }
        OptAction::OptedIn => {
            tx.delete(
                Delete::builder()
                    .table_name(&store.table)
                    .set_key(Some(optout_key(phone.e164())))
                    .build()
                    .expect("table and key set"),
            );
        }
    }
    let change = OptChange {
        at: now_ms,
        action,
        by: by.to_string(),
        reason: reason.to_string(),
    };
    let mut item: Item = serde_dynamo::to_item(&change)?;
    item.extend(optout_history_key(
        phone.e164(),
        now_ms,
        &crate::ids::new_id(),
    ));
    tx.put_item(&store.table, item);
    Ok(tx.commit(&store.client, &mut Cost::default()).await?)
}

/// The number's opt-out, if any, and its changes, newest first.
pub async fn opt_out_history(
    store: &SmsStore,
    phone: &PhoneNumber,
) -> Result<(Option<OptOut>, Vec<OptChange>), Error> {
    let out = store
        .client
        .query()
        .table_name(&store.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", s(optout_pk(phone.e164())))
        .scan_index_forward(false)
        .limit(HISTORY_READ + 1)
        .send()
        .await
        .map_err(db::dependency)?;
    let (mut current, mut changes) = (None, Vec::new());
    for item in out.items() {
        match item
            .get("sk")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            Some(OPTOUT_SK) => current = Some(serde_dynamo::from_item(item.clone())?),
            Some(_) => changes.push(serde_dynamo::from_item(item.clone())?),
            None => {}
        }
    }
    Ok((current, changes))
}
