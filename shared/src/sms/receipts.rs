//! Delivery receipts (F-SMS-15): a provider's report moves a sent log to
//! delivered or failed, matched by the log id it echoes (DMark's `ref`,
//! Twilio's callback `?sms_id=`) or, for SNS, through the `provider_message`
//! index; one that comes while the send is being recorded waits on the log.

pub use super::log::Receipt;
use super::log::{Status, Transition, PROVIDER_MESSAGE_ATTR, PROVIDER_MESSAGE_INDEX};
use super::store::SmsStore;
use crate::db::{self, s, UpdateExpr};
use crate::error::Error;
use crate::keys::sms::log_id_of_pk;

/// F-SMS-15: a delivery receipt moves a sent log to delivered or failed.
/// A receipt that arrives while its log is `sending` (the provider
/// answered the send, the sender has not written it yet) is held on the
/// log and applied when the send is; a duplicate or late one for a final log
/// changes nothing (a `sent` never undoes `delivered`).
pub async fn record_receipt(
    store: &SmsStore,
    about: ReceiptFor<'_>,
    receipt: &Receipt,
) -> Result<ReceiptOutcome, Error> {
    let id = match about {
        ReceiptFor::Log(id) => {
            // No id of ours is long, and a key may not be empty: refuse
            // what DynamoDB would, as the caller's mistake (F-ERR-1).
            reference_ok(id)?;
            id.to_string()
        }
        ReceiptFor::ProviderMessage(provider_message_id) => {
            reference_ok(provider_message_id)?;
            let found = store
                .client
                .query()
                .table_name(&store.table)
                .index_name(PROVIDER_MESSAGE_INDEX)
                .key_condition_expression("#id = :id")
                .expression_attribute_names("#id", PROVIDER_MESSAGE_ATTR)
                .expression_attribute_values(":id", s(provider_message_id))
                .limit(1)
                .send()
                .await
                .map_err(db::dependency)?;
            // The index is eventually consistent: a log sent a moment ago
            // may not be in it yet. The caller fails, and its delivery is
            // tried again (SNS redelivers), never dropped.
            let pk = found.items().first().and_then(|i| db::get_s(i, "pk"));
            let pk = pk.ok_or_else(|| {
                Error::dependency(format!(
                    "no SMS log has provider id {provider_message_id} yet; the receipt is retried"
                ))
            })?;
            log_id_of_pk(pk).to_string()
        }
    };
    // Each step is conditional on the status it expects; a log that
    // moved between two steps (it was just sent) is tried again.
    for _ in 0..3 {
        if store.apply_receipt(&id, receipt).await? {
            return Ok(ReceiptOutcome::Recorded);
        }
        // Only while an attempt is out: a receipt that comes while the
        // log waits for another attempt is about an earlier one.
        let hold =
            UpdateExpr::new().set("early_receipt", serde_dynamo::to_attribute_value(receipt)?);
        let held = Transition::HoldReceipt
            .guard(hold, None)
            .apply(store.log_update(&id))
            .send()
            .await;
        if db::conditional(held)?.is_some() {
            return Ok(ReceiptOutcome::Held);
        }
        match store.get_log(&id).await? {
            None => return Ok(ReceiptOutcome::Unknown),
            Some(log) if log.status == Status::Sent => continue,
            Some(_) => return Ok(ReceiptOutcome::Final),
        }
    }
    Err(Error::dependency(
        "the SMS log kept changing; retry the receipt",
    ))
}

/// Which log a delivery receipt is about.
#[derive(Clone, Copy, Debug)]
pub enum ReceiptFor<'a> {
    /// Our log id, echoed by the provider (DMark's `ref`, the `sms_id` of
    /// Twilio's status callback URL): read by key, consistently.
    Log(&'a str),
    /// Only the provider's message id (SNS): found through the
    /// `provider_message` index.
    ProviderMessage(&'a str),
}

/// What a receipt did.
#[derive(Debug, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// The sent log is now delivered or failed.
    Recorded,
    /// The log is not sent yet: the receipt waits on it and is applied
    /// when the send is recorded.
    Held,
    /// The log was final already (a duplicate, or out of order), or waits
    /// for another attempt (the receipt is about an earlier one).
    Final,
    /// No log has this id.
    Unknown,
}

fn reference_ok(reference: &str) -> Result<(), Error> {
    if reference.is_empty() || reference.len() > 256 {
        return Err(Error::validation(
            "the message reference must be 1 to 256 characters",
        ));
    }
    Ok(())
}
