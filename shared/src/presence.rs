//! Presence (F-PR-2..4): WebSocket connections and the online test.
//!
//! Items in the users table:
//! - `USER#<id>` / `CONN#<connection>`: one per open connection (the user's devices);
//! - `CONN#<connection>` / `CONN`: the reverse lookup `$disconnect` needs.
//!
//! Both carry `expires_at`: API Gateway closes a connection after two hours at
//! most, so a record we missed the `$disconnect` of stops counting by itself.
//!
//! The per-user record is also an entry of the online index (F-PR-4: an open
//! connection means online, however long ago the user was last seen): it
//! carries the user's `online_shard` and `online_until` = its expiry. The
//! matchmaker reads the candidate's profile anyway, which filters out
//! connected users who are unavailable.

use crate::db::{self, get_s, key, n, s, Cost, Item, Transaction};
use crate::error::Error;
use crate::keys::users::online_entry;
use crate::keys::users::{connection_owner_key, connection_sk, user_pk, CONNECTION_PREFIX};
use crate::keys::TTL_ATTR;
use aws_sdk_dynamodb::types::Delete;
use aws_sdk_dynamodb::Client;

/// API Gateway's maximum connection duration, plus a minute of slack.
pub const CONNECTION_TTL_SECS: i64 = 2 * 3600 + 60;

/// F-PR-4, the pure rule: online means an open connection, or seen within the window.
pub fn is_online(
    last_seen_ms: Option<i64>,
    has_open_connection: bool,
    now_ms: i64,
    window_secs: i64,
) -> bool {
    has_open_connection || last_seen_ms.is_some_and(|seen| now_ms - seen <= window_secs * 1000)
}

/// The sharded index of online players (F-MM-1, F-PR-4): how many shards,
/// and how long after being seen a player still counts as online.
#[derive(Clone, Copy, Debug)]
pub struct OnlineIndex {
    pub shards: u32,
    pub window_secs: i64,
}

#[derive(Clone)]
pub struct Presence {
    client: Client,
    table: String,
    shards: u32,
}

impl Presence {
    pub fn new(client: Client, users_table: impl Into<String>, online: OnlineIndex) -> Self {
        Presence {
            client,
            table: users_table.into(),
            shards: online.shards,
        }
    }

    /// F-PR-3: records a connection for a user (both items, atomically).
    pub async fn connect(
        &self,
        user_id: &str,
        connection_id: &str,
        now_ms: i64,
    ) -> Result<(), Error> {
        let expires_at = now_ms / 1000 + CONNECTION_TTL_SECS;
        let mut by_user = key(user_pk(user_id), connection_sk(connection_id));
        by_user.insert("connection_id".into(), s(connection_id));
        by_user.insert("connected_at".into(), n(now_ms));
        by_user.insert(TTL_ATTR.into(), n(expires_at));
        by_user.extend(online_entry(user_id, self.shards, expires_at * 1000));
        let mut reverse = connection_owner_key(connection_id);
        reverse.insert("user_id".into(), s(user_id));
        reverse.insert(TTL_ATTR.into(), n(expires_at));
        // Both records of a connection change together or not at all.
        let mut tx = Transaction::new();
        for item in [by_user, reverse] {
            tx.put_item(&self.table, item);
        }
        Ok(tx.commit(&self.client, &mut Cost::default()).await?)
    }

    /// F-PR-3: forgets a connection. Idempotent: an unknown connection is fine.
    /// Returns the user the connection belonged to.
    pub async fn disconnect(&self, connection_id: &str) -> Result<Option<String>, Error> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(connection_owner_key(connection_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(db::dependency)?;
        let Some(user_id) = found
            .item
            .as_ref()
            .and_then(|i| get_s(i, "user_id"))
            .map(str::to_string)
        else {
            return Ok(None);
        };
        self.remove(&user_id, connection_id).await?;
        Ok(Some(user_id))
    }

    /// Removes both records of a connection (a `$disconnect`, or a 410 on push).
    pub async fn remove(&self, user_id: &str, connection_id: &str) -> Result<(), Error> {
        let mut tx = Transaction::new();
        for k in [
            key(user_pk(user_id), connection_sk(connection_id)),
            connection_owner_key(connection_id),
        ] {
            tx.delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(k))
                    .build()
                    .expect("table and key set"),
            );
        }
        Ok(tx.commit(&self.client, &mut Cost::default()).await?)
    }

    /// The user's open connections (expired records are treated as absent).
    pub async fn connections(&self, user_id: &str, now_ms: i64) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :conn)")
                .expression_attribute_values(":pk", s(user_pk(user_id)))
                .expression_attribute_values(":conn", s(CONNECTION_PREFIX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(db::dependency)?;
            for item in page.items() {
                let live = db::get_n(item, TTL_ATTR).is_none_or(|exp| exp * 1000 > now_ms);
                if let (true, Some(id)) = (live, get_s(item, "connection_id")) {
                    out.push(id.to_string());
                }
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_rule() {
        let now = 1_000_000_000;
        assert!(is_online(None, true, now, 300));
        assert!(is_online(Some(now - 300_000), false, now, 300));
        assert!(!is_online(Some(now - 300_001), false, now, 300));
        assert!(!is_online(None, false, now, 300));
    }
}
