//! What the operator's desk searches by (F-SMS-2): a number, a user or a
//! message type on its UTC days, each a set of search partitions
//! (`keys::sms::SearchFacet`) read newest first.

use super::log::{SmsLog, Status};
use super::store::SmsStore;
use super::MessageType;
use crate::db::{self, s};
use crate::error::Error;
use crate::keys::sms::{search_shards, SearchFacet};
use crate::phone::PhoneNumber;

/// A search by type reads at most this many days.
pub const MAX_TYPE_DAYS: i64 = 31;
pub const MAX_PAGE: i32 = 100;
const DAY_MS: i64 = 86_400_000;

/// What a search asks for: a number, a user or a message type (at least
/// one), narrowed by status and a time range.
#[derive(Clone, Debug, Default)]
pub struct Search {
    pub number: Option<PhoneNumber>,
    pub user_id: Option<String>,
    pub message_type: Option<MessageType>,
    pub status: Option<Status>,
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Search {
    /// Sets the time range: `from`/`to` as given, else up to now, over the
    /// last 30 days (7 for a search by type alone).
    pub fn range(&mut self, from: Option<i64>, to: Option<i64>, now_ms: i64) -> Result<(), Error> {
        let to = to.unwrap_or(now_ms);
        let days = if self.number.is_none() && self.user_id.is_none() {
            7
        } else {
            30
        };
        let from = from.unwrap_or(to - days * DAY_MS);
        if from > to {
            return Err(Error::validation("from must not be after to"));
        }
        (self.from_ms, self.to_ms) = (from, to);
        Ok(())
    }

    /// The partitions it reads, newest first: each group is read together
    /// (a day's shards of a type), merged newest first.
    pub(crate) fn partitions(&self) -> Result<Vec<Vec<String>>, Error> {
        if let Some(number) = &self.number {
            return Ok(vec![vec![SearchFacet::Number(number.e164()).pk()]]);
        }
        if let Some(user) = &self.user_id {
            return Ok(vec![vec![SearchFacet::User(user).pk()]]);
        }
        let Some(kind) = self.message_type else {
            return Err(Error::validation(
                "give number, user_id or message_type (status and from/to narrow them)",
            ));
        };
        let kind = super::wire_name(kind);
        let (first, last) = (
            crate::clock::utc_date(self.from_ms),
            crate::clock::utc_date(self.to_ms),
        );
        if (last - first).num_days() >= MAX_TYPE_DAYS {
            return Err(Error::validation(format!(
                "a search by message_type spans at most {MAX_TYPE_DAYS} days"
            )));
        }
        Ok(last
            .iter_days()
            .rev()
            .take_while(|d| *d >= first)
            .map(|day| {
                let day = day.to_string();
                search_shards()
                    .map(|shard| SearchFacet::TypeOnDay(&kind, &day, shard).pk())
                    .collect()
            })
            .collect())
    }

    /// What a cursor is bound to: the same search, the same admin.
    pub(crate) fn listing(&self) -> String {
        format!(
            "sms-search:{}|{}|{}|{}|{}|{}",
            self.number.as_ref().map(|p| p.e164()).unwrap_or(""),
            self.user_id.as_deref().unwrap_or(""),
            self.message_type.map(super::wire_name).unwrap_or_default(),
            self.status.map(super::wire_name).unwrap_or_default(),
            self.from_ms,
            self.to_ms
        )
    }

    pub(crate) fn keeps(&self, log: &SmsLog) -> bool {
        self.number
            .as_ref()
            .is_none_or(|p| log.to.e164() == p.e164())
            && self
                .user_id
                .as_ref()
                .is_none_or(|u| log.user_id.as_ref() == Some(u))
            && self.message_type.is_none_or(|t| log.message_type == t)
            && self.status.is_none_or(|st| log.status == st)
            && (self.from_ms..=self.to_ms).contains(&log.created_at)
    }
}

/// Up to `limit` entries of one search partition with a sort key in
/// `[low, below)`, newest first: (sort key, log id).
pub(crate) async fn newest_below(
    store: &SmsStore,
    pk: &str,
    low: &str,
    below: &str,
    limit: usize,
) -> Result<Vec<(String, String)>, Error> {
    // `below` is exclusive in the key condition itself: a limit counted
    // after dropping the cursor's own entry would end a page one short and
    // read as "no more". Newest first, so entries under `low` come last.
    let out = store
        .client
        .query()
        .table_name(&store.table)
        .key_condition_expression("pk = :pk AND sk < :below")
        .expression_attribute_values(":pk", s(pk))
        .expression_attribute_values(":below", s(below))
        .scan_index_forward(false)
        .limit(limit as i32)
        .send()
        .await
        .map_err(db::dependency)?;
    Ok(out
        .items()
        .iter()
        .filter_map(|i| {
            Some((
                db::get_s(i, "sk")?.to_string(),
                db::get_s(i, "sms_id")?.to_string(),
            ))
        })
        .take_while(|(sk, _)| sk.as_str() >= low)
        .collect())
}
