//! DynamoDB plumbing: one client built at init, item (de)serialization, and
//! the mapping of conditional-check failures to domain outcomes.

pub mod retry;
pub mod tx;
pub mod update;

pub use tx::{new_item_put, Handle, Transaction, TxError};
pub use update::UpdateExpr;

use crate::error::Error;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// Loads the AWS configuration from the environment. `AWS_ENDPOINT_URL` and
/// `AWS_ENDPOINT_URL_DYNAMODB` are honoured by the SDK itself, which is how the
/// local stack points clients at DynamoDB Local.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub fn dynamodb(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

/// Opens the TLS connection during init, so the first request of a cold start
/// does not pay for it.
pub async fn warm_up(client: &aws_sdk_dynamodb::Client, table: &str) {
    if let Err(e) = client.describe_table().table_name(table).send().await {
        tracing::warn!(error = %DisplayErrorContext(&e), "warm-up call failed");
    }
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads one item (strongly consistent) as `T`; `None` when absent.
pub async fn get_item<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
) -> Result<Option<T>, Error> {
    get_item_counted(client, table, key, &mut Cost::default()).await
}

/// [`get_item`], adding the read to `cost`.
pub async fn get_item_counted<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
    cost: &mut Cost,
) -> Result<Option<T>, Error> {
    get_projected(client, table, key, &[], cost).await
}

/// Reads only `attributes` of one item (all of them when empty; strongly
/// consistent) as `T`, adding the read to `cost`; `None` when the item is
/// absent. Every name is aliased, so reserved words (`timezone`, `status`)
/// need no care.
pub async fn get_projected<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
    attributes: &[&str],
    cost: &mut Cost,
) -> Result<Option<T>, Error> {
    let aliases: Vec<String> = (0..attributes.len()).map(|i| format!("#p{i}")).collect();
    let names: HashMap<String, String> = aliases
        .iter()
        .cloned()
        .zip(attributes.iter().map(|a| a.to_string()))
        .collect();
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .set_projection_expression((!aliases.is_empty()).then(|| aliases.join(", ")))
        .set_expression_attribute_names((!names.is_empty()).then_some(names))
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(dependency)?;
    cost.read(out.consumed_capacity.as_slice());
    out.item
        .filter(|item| !item.is_empty())
        .map(serde_dynamo::from_item)
        .transpose()
        .map_err(Error::from)
}

/// Up to 100 items of one table by key, in one request (unprocessed keys
/// are read again); absent items are left out, and the order is not kept.
pub async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut keys: Vec<Item>,
) -> Result<Vec<Item>, Error> {
    let mut out = Vec::new();
    while !keys.is_empty() {
        let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
            .set_keys(Some(std::mem::take(&mut keys)))
            .build()
            .expect("keys set");
        let page = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(dependency)?;
        for item in page
            .responses()
            .and_then(|r| r.get(table))
            .into_iter()
            .flatten()
        {
            out.push(item.clone());
        }
        if let Some(rest) = page.unprocessed_keys().and_then(|u| u.get(table)) {
            keys = rest.keys().to_vec();
        }
    }
    Ok(out)
}

/// A page cursor for clients: the `LastEvaluatedKey`, opaque (base64url JSON).
pub fn encode_cursor(last_key: &Item) -> String {
    use base64::Engine;
    let map: serde_json::Map<String, serde_json::Value> = last_key
        .iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) => Some((k.clone(), serde_json::json!(["S", s]))),
            AttributeValue::N(n) => Some((k.clone(), serde_json::json!(["N", n]))),
            _ => None,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::Value::Object(map).to_string())
}

/// Reads a cursor back; it must name exactly the `expected` key attributes.
pub fn decode_cursor(cursor: &str, expected: &[&str]) -> Result<Item, Error> {
    use base64::Engine;
    let invalid = || Error::bad_request("invalid_cursor", "the cursor is not one this API issued");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let map: HashMap<String, (String, String)> =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
    let mut wanted = expected.to_vec();
    names.sort_unstable();
    wanted.sort_unstable();
    if names != wanted {
        return Err(invalid());
    }
    map.into_iter()
        .map(|(k, (kind, v))| match kind.as_str() {
            "S" => Ok((k, AttributeValue::S(v))),
            "N" if v.parse::<f64>().is_ok() => Ok((k, AttributeValue::N(v))),
            _ => Err(invalid()),
        })
        .collect()
}

/// What a piece of work cost in DynamoDB: requests and capacity units, summed
/// from the `ConsumedCapacity` the calls were asked to return. Logged with the
/// work and printed by `scripts/bench` (F-MM-1: independent of the user count).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Cost {
    pub requests: u32,
    pub read_units: f64,
    pub write_units: f64,
}

impl Cost {
    /// A read request (GetItem, Query, BatchGetItem, or a write's condition-only items).
    pub fn read(&mut self, consumed: &[aws_sdk_dynamodb::types::ConsumedCapacity]) {
        self.requests += 1;
        self.read_units += consumed
            .iter()
            .filter_map(|c| c.capacity_units)
            .sum::<f64>();
    }

    /// A write request (PutItem, UpdateItem, TransactWriteItems, ...).
    pub fn write(&mut self, consumed: &[aws_sdk_dynamodb::types::ConsumedCapacity]) {
        self.requests += 1;
        self.write_units += consumed
            .iter()
            .filter_map(|c| c.capacity_units)
            .sum::<f64>();
    }
}

/// The full error chain, for logs.
pub struct DisplayErrorContext<'a, E>(pub &'a E);

impl<E: std::error::Error> std::fmt::Display for DisplayErrorContext<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// What a failed write means for the caller.
pub enum WriteFailure {
    /// A condition expression did not hold (a single-item write).
    ConditionFailed,
    /// Anything else: a dependency failure.
    Other(Error),
}

/// The outcome of a single-item conditional write (PutItem, UpdateItem,
/// DeleteItem): `Some(output)` when it applied, `None` when its condition did
/// not hold; any other failure is an error.
pub fn conditional<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<Option<T>, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(err) => match classify(err) {
            WriteFailure::ConditionFailed => Ok(None),
            WriteFailure::Other(e) => Err(e),
        },
    }
}

/// Puts `item` only if no item has its key yet: `true` when it was put,
/// `false` when one was there already (a rerun, a taken code, a lost race).
pub async fn put_new(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: Item,
) -> Result<bool, Error> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    Ok(conditional(result)?.is_some())
}

/// Classifies an SDK error from PutItem/UpdateItem/DeleteItem (a cancelled
/// transaction is read, typed, by `Transaction::commit`).
pub fn classify<E, R>(err: SdkError<E, R>) -> WriteFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.as_service_error().and_then(ProvideErrorMetadata::code);
    if code == Some("ConditionalCheckFailedException") {
        return WriteFailure::ConditionFailed;
    }
    WriteFailure::Other(dependency(err))
}

/// A failed call as the caller sees it: a 503-class error with the whole
/// chain for the logs, except that a value DynamoDB refuses to take
/// (`ValidationException`: a key too long, an empty key string) is a 400. The
/// handlers validate what clients send; this is the net under them, so client
/// input never becomes a 503 that invites retries (F-ERR-1).
pub fn dependency<E, R>(err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let refused = err
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ValidationException");
    if refused {
        tracing::warn!(detail = %DisplayErrorContext(&err), "a value was refused by DynamoDB");
        return Error::bad_request("invalid_value", "a value in the request is not acceptable");
    }
    unavailable(err)
}

/// Any AWS call's failure as a 503-class error: the whole cause chain for
/// the logs, the error itself as the source.
pub fn unavailable(err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::dependency_caused(DisplayErrorContext(&err).to_string(), err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let mut k = key("INVITATION#1", "INVITATION");
        k.insert("gsi1pk".into(), s("INVITED#u"));
        k.insert("gsi1sk".into(), s("0001#1"));
        let c = encode_cursor(&k);
        let back = decode_cursor(&c, &["pk", "sk", "gsi1pk", "gsi1sk"]).unwrap();
        assert_eq!(back, k);
        assert!(decode_cursor(&c, &["pk", "sk"]).is_err());
        assert!(decode_cursor("not base64!", &["pk"]).is_err());
        assert_eq!(decode_cursor("e30", &["pk"]).unwrap_err().status(), 400);
    }
}
