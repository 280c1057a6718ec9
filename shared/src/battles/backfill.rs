//! A one-off migration (F-JOB-4, F-JOB-7): active battles created before the
//! deadline listing existed are not in it, so no reminder finds them. This
//! walk lists them. It is the one job that scans (such battles are in no
//! index), it runs once by hand (`{"job":"backfill_deadline_listing"}` to
//! scheduled-jobs), resumes from its checkpoint, and repeating it changes
//! nothing: each battle is listed on the condition that it is still active
//! and not listed yet.

use super::store::{deadline_listing, BattleStore};
use super::Battle;
use crate::db::{self, key, s};
use crate::error::Error;
use crate::keys::battles::{battle_pk, BATTLE_SK};
use crate::keys::battles::{GSI1_PK, GSI1_SK};
use crate::sweep::{readable, Read, Segment, Sweep};
use futures::future::BoxFuture;

/// What the backfill reads: active battles with no listing.
pub fn unlisted_battles(store: &BattleStore) -> Vec<Segment> {
    vec![Segment {
        table: store.battles_table.clone(),
        read: Read::Scan {
            filter: "sk = :battle AND #status = :active AND attribute_not_exists(gsi1pk)",
            names: &[("#status", "status")],
            values: vec![(":battle", s(BATTLE_SK)), (":active", s("active"))],
        },
        cursor_attributes: &["pk", "sk"],
    }]
}

/// Lists one battle by its deadline, if it is still active and unlisted;
/// true when this call listed it.
async fn list_by_deadline(store: &BattleStore, battle: &Battle) -> Result<bool, Error> {
    let listing = deadline_listing(battle);
    let result = store
        .client
        .update_item()
        .table_name(&store.battles_table)
        .set_key(Some(key(battle_pk(&battle.battle_id), BATTLE_SK)))
        .update_expression("SET #pk = :pk, #sk = :sk")
        .condition_expression("#status = :active AND attribute_not_exists(#pk)")
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#pk", GSI1_PK)
        .expression_attribute_names("#sk", GSI1_SK)
        .expression_attribute_values(":active", s("active"))
        .expression_attribute_values(":pk", listing[GSI1_PK].clone())
        .expression_attribute_values(":sk", listing[GSI1_SK].clone())
        .send()
        .await;
    Ok(db::conditional(result)?.is_some())
}

/// The backfill's work on a page of battles.
pub struct DeadlineBackfill<'a>(pub &'a BattleStore);

impl Sweep for DeadlineBackfill<'_> {
    fn visit<'a>(&'a self, items: Vec<db::Item>) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let mut listed = 0;
            for battle in readable::<Battle>(items) {
                listed += u64::from(list_by_deadline(self.0, &battle).await?);
            }
            Ok(listed)
        })
    }
}
