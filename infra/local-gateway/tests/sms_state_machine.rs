//! The SMS log's state machine against DynamoDB Local (F-SMS-2, F-SMS-4):
//! for every move and every status, the move's guarded write goes through
//! exactly when the log is in a status the move starts from, and leaves it
//! in the status the move ends in; otherwise nothing is written.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::Stack;
use versus::db::{self, s, UpdateExpr};
use versus::sms::store::{Status, Transition};

#[tokio::test]
async fn every_move_is_taken_from_its_statuses_only() {
    let stack = Stack::start().await;
    let client = stack.dynamodb().await;
    let table = stack.config("sms-sender").tables.sms;
    for transition in Transition::ALL {
        for status in Status::ALL {
            let key = db::key(format!("MACHINE#{transition:?}#{status:?}"), "LOG");
            let mut item = key.clone();
            item.insert("status".into(), status.value());
            item.insert("note".into(), s("before"));
            client
                .put_item()
                .table_name(&table)
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
            let update = UpdateExpr::new().set("note", s("after"));
            let written = transition
                .guard(update, None)
                .apply(
                    client
                        .update_item()
                        .table_name(&table)
                        .set_key(Some(key.clone())),
                )
                .send()
                .await;
            let allowed = transition.from().contains(&status);
            let went = db::conditional(written).unwrap().is_some();
            assert_eq!(went, allowed, "{transition:?} from {status:?}");
            let now = client
                .get_item()
                .table_name(&table)
                .set_key(Some(key))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            let expected = if allowed { transition.to() } else { status };
            assert_eq!(
                now["status"],
                AttributeValue::S(expected.as_str().into()),
                "{transition:?} from {status:?}"
            );
            let note = if allowed { "after" } else { "before" };
            assert_eq!(now["note"], s(note), "{transition:?} from {status:?}");
        }
    }
}
