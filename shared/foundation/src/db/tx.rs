//! Transactions whose failures are read by name, not by position: every
//! item added returns a [`Handle`], and a cancelled transaction answers
//! "did this item's condition fail?" for a handle. Reordering or inserting
//! items can no longer make a caller read another item's reason.

use super::{classify, Cost, Item, WriteFailure};
use crate::error::Error;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

/// One item of a [`Transaction`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle(usize);

#[derive(Clone, Debug, Default)]
pub struct Transaction {
    items: Vec<TransactWriteItem>,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&mut self, put: Put) -> Handle {
        self.push(TransactWriteItem::builder().put(put).build())
    }

    /// Puts `item`, replacing any item with its key.
    pub fn put_item(&mut self, table: &str, item: Item) -> Handle {
        self.put(
            put_builder(table, item)
                .build()
                .expect("table and item set"),
        )
    }

    /// Puts `item` on the condition that no item has its key yet (the
    /// transactional form of `db::put_new`).
    pub fn put_new(&mut self, table: &str, item: Item) -> Handle {
        self.put(new_item_put(table, item))
    }

    pub fn update(&mut self, update: Update) -> Handle {
        self.push(TransactWriteItem::builder().update(update).build())
    }

    pub fn delete(&mut self, delete: Delete) -> Handle {
        self.push(TransactWriteItem::builder().delete(delete).build())
    }

    pub fn check(&mut self, check: ConditionCheck) -> Handle {
        self.push(TransactWriteItem::builder().condition_check(check).build())
    }

    fn push(&mut self, item: TransactWriteItem) -> Handle {
        self.items.push(item);
        Handle(self.items.len() - 1)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Commits the items as one transaction, adding the request to `cost`.
    pub async fn commit(self, client: &Client, cost: &mut Cost) -> Result<(), TxError> {
        // A token of its own per commit: when the SDK sends the call again
        // (a timeout, a 500) after it took effect, DynamoDB answers success
        // instead of running it twice and failing its own conditions.
        let result = client
            .transact_write_items()
            .client_request_token(ulid::Ulid::new().to_string())
            .set_transact_items(Some(self.items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                cost.write(out.consumed_capacity());
                Ok(())
            }
            Err(err) => {
                // A cancelled transaction still consumed capacity, which the
                // error does not report: count the request.
                cost.write(&[]);
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    err.as_service_error()
                {
                    return Err(TxError::Cancelled(Cancelled {
                        reasons: reasons_of(cancelled),
                    }));
                }
                Err(match classify(err) {
                    WriteFailure::ConditionFailed => TxError::Failed(Error::internal(
                        "a transaction reported a single-item condition failure",
                    )),
                    WriteFailure::Other(e) => TxError::Failed(e),
                })
            }
        }
    }
}

/// The reasons of a cancelled transaction, one per item in request order,
/// as the SDK parsed them (`None` for an item that was not the cause).
fn reasons_of(cancelled: &TransactionCanceledException) -> Vec<Option<String>> {
    cancelled
        .cancellation_reasons()
        .iter()
        .map(|reason| {
            reason
                .code()
                .filter(|code| *code != "None")
                .map(str::to_string)
        })
        .collect()
}

/// A put of `item` that fails if its key exists: a write to hand to a
/// transaction someone else commits (an SMS log and what goes with it).
pub fn new_item_put(table: &str, item: Item) -> Put {
    put_builder(table, item)
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .expect("table and item set")
}

fn put_builder(table: &str, item: Item) -> aws_sdk_dynamodb::types::builders::PutBuilder {
    Put::builder().table_name(table).set_item(Some(item))
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub enum TxError {
    Cancelled(Cancelled),
    /// Not a cancellation: a dependency failure (or a bug).
    Failed(Error),
}

/// The reasons of a cancelled transaction, one per item.
#[derive(Debug)]
pub struct Cancelled {
    reasons: Vec<Option<String>>,
}

impl Cancelled {
    /// Did the condition of `item` fail?
    pub fn condition_failed(&self, item: Handle) -> bool {
        self.reasons
            .get(item.0)
            .is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed"))
    }

    /// No condition failed: a conflict with a concurrent transaction (or a
    /// throttle), worth a retry of the same transaction.
    pub fn is_conflict(&self) -> bool {
        !self
            .reasons
            .iter()
            .any(|r| r.as_deref() == Some("ConditionalCheckFailed"))
    }
}

impl TxError {
    /// Cancelled because the condition of `item` failed.
    pub fn condition_failed(&self, item: Handle) -> bool {
        matches!(self, TxError::Cancelled(c) if c.condition_failed(item))
    }

    /// Cancelled because the condition of one of the first `items` failed
    /// (the writes a caller put in before handing the transaction on).
    pub fn condition_failed_among(&self, items: usize) -> bool {
        (0..items).any(|i| self.condition_failed(Handle(i)))
    }

    /// Cancelled with no failed condition: retry.
    pub fn is_conflict(&self) -> bool {
        matches!(self, TxError::Cancelled(c) if c.is_conflict())
    }

    /// A failure the caller did not expect, as an error: a conflict is a
    /// 503 (the client may retry), a failed condition nobody handled a bug.
    pub fn into_error(self) -> Error {
        match self {
            TxError::Failed(e) => e,
            TxError::Cancelled(c) if c.is_conflict() => {
                Error::dependency(format!("transaction cancelled: {:?}", c.reasons))
            }
            TxError::Cancelled(c) => {
                Error::internal(format!("transaction cancelled: {:?}", c.reasons))
            }
        }
    }
}

impl From<TxError> for Error {
    fn from(e: TxError) -> Self {
        e.into_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_come_typed_from_the_sdk_in_order() {
        use aws_sdk_dynamodb::types::CancellationReason;
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let cancelled = TransactionCanceledException::builder()
            .cancellation_reasons(reason("None"))
            .cancellation_reasons(reason("ConditionalCheckFailed"))
            .cancellation_reasons(CancellationReason::builder().build())
            .cancellation_reasons(reason("TransactionConflict"))
            .build();
        assert_eq!(
            reasons_of(&cancelled),
            vec![
                None,
                Some("ConditionalCheckFailed".into()),
                None,
                Some("TransactionConflict".into())
            ]
        );
    }

    #[test]
    fn reasons_are_read_by_handle() {
        let mut tx = Transaction::new();
        let key = super::super::key("a", "b");
        let check = |t: &str| {
            ConditionCheck::builder()
                .table_name(t)
                .set_key(Some(key.clone()))
                .condition_expression("attribute_exists(pk)")
                .build()
                .unwrap()
        };
        let first = tx.check(check("t1"));
        let second = tx.check(check("t2"));
        assert_eq!(tx.len(), 2);
        let cancelled = TxError::Cancelled(Cancelled {
            reasons: vec![None, Some("ConditionalCheckFailed".into())],
        });
        assert!(!cancelled.condition_failed(first));
        assert!(cancelled.condition_failed(second));
        assert!(!cancelled.is_conflict());
        let conflict = TxError::Cancelled(Cancelled {
            reasons: vec![Some("TransactionConflict".into()), None],
        });
        assert!(conflict.is_conflict());
        assert!(!conflict.condition_failed(first));
    }
}
