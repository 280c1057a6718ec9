//! The profile store: reads, `PUT /v1/me` with its username claim, the
//! availability switch and the throttled `last_seen_at` refresh.

use super::{apply_input, no_profile, validate_username, Profile, ProfileInput};
use crate::auth::Caller;
use crate::db::{self, n, retry, s, Cost, Transaction, TxError, UpdateExpr};
use crate::error::Error;
use crate::keys::users::ONLINE_SHARD_ATTR;
use crate::keys::users::{online_shard, profile_key, username_key};
use crate::presence::OnlineIndex;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue};
use aws_sdk_dynamodb::Client;

const MAX_SAVE_ATTEMPTS: u32 = 5;

#[derive(Clone)]
pub struct Profiles {
    client: Client,
    table: String,
    shards: u32,
    online_window_ms: i64,
}

impl Profiles {
    pub fn new(client: Client, users_table: impl Into<String>, online: OnlineIndex) -> Self {
        Profiles {
            client,
            table: users_table.into(),
            shards: online.shards,
            online_window_ms: online.window_secs * 1000,
        }
    }

    pub async fn get(&self, user_id: &str) -> Result<Option<Profile>, Error> {
        db::get_item(&self.client, &self.table, profile_key(user_id)).await
    }

    /// The caller's profile, or the 404 that tells how to create it.
    pub async fn require(&self, user_id: &str) -> Result<Profile, Error> {
        self.get(user_id).await?.ok_or_else(no_profile)
    }

    /// The profile that holds a username (case-insensitive), through its claim.
    pub async fn find_by_username(&self, username: &str) -> Result<Option<Profile>, Error> {
        let Ok(name) = validate_username(username) else {
            return Ok(None);
        };
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(username_key(&name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(db::dependency)?;
        match out.item.as_ref().and_then(|i| db::get_s(i, "user_id")) {
            Some(user_id) => self.get(user_id).await,
            None => Ok(None),
        }
    }

    /// Creates or updates the caller's profile. The username claim, the old
    /// claim's release and the profile commit together; a concurrent edit of
    /// the same profile is retried on the fresh version.
    /// Returns the profile and whether this call created it.
    pub async fn save(
        &self,
        caller: &Caller,
        input: ProfileInput,
        now_ms: i64,
    ) -> Result<(Profile, bool), Error> {
        for attempt in 0..MAX_SAVE_ATTEMPTS {
            if attempt > 0 {
                // The version moved under us: the same backoff as any lost race.
                retry::pause(attempt - 1).await;
            }
            let current = self.get(&caller.user_id).await?;
            let mut next =
                apply_input(current.as_ref(), input.clone(), caller, now_ms, self.shards)?;
            if current.is_none() {
                next.availability.online_until = Some(now_ms + self.online_window_ms);
            }
            match self.write(current.as_ref(), &next).await {
                Ok(()) => return Ok((next, current.is_none())),
                Err(SaveConflict::ProfileChanged) => continue,
                Err(SaveConflict::UsernameTaken) => {
                    return Err(Error::conflict(
                        "username_taken",
                        format!("username {:?} is taken", next.username),
                    ))
                }
                Err(SaveConflict::Failed(e)) => return Err(e),
            }
        }
        Err(Error::conflict(
            "concurrent_update",
            "the profile is being changed by another request, retry",
        ))
    }

    async fn write(&self, current: Option<&Profile>, next: &Profile) -> Result<(), SaveConflict> {
        let failed = |e: Error| SaveConflict::Failed(e);
        let me = s(&next.user_id);
        let mut tx = Transaction::new();
        let profile_write = match current {
            None => {
                let mut item: db::Item =
                    serde_dynamo::to_item(next).map_err(|e| failed(e.into()))?;
                item.extend(profile_key(&next.user_id));
                tx.put_new(&self.table, item)
            }
            Some(c) => {
                let role =
                    serde_dynamo::to_attribute_value(next.role).map_err(|e| failed(e.into()))?;
                let privileged = next
                    .availability
                    .privileged_role
                    .map(serde_dynamo::to_attribute_value)
                    .transpose()
                    .map_err(|e| failed(e.into()))?;
                tx.update(
                    UpdateExpr::new()
                        .set("username", s(&next.username))
                        .set("display_name", s(&next.display_name))
                        .set("role", role)
                        .set("timezone", s(&next.timezone))
                        .set("updated_at", n(next.updated_at))
                        .set("version", n(next.version))
                        .set_or_remove(
                            ONLINE_SHARD_ATTR,
                            next.availability.online_shard.as_ref().map(s),
                        )
                        .set_or_remove("privileged_role", privileged)
                        .condition("#version = :read_version")
                        .value(":read_version", n(c.version))
                        .into_update(&self.table, profile_key(&next.user_id)),
                )
            }
        };
        let username_changed =
            current.is_none_or(|c| !c.username.eq_ignore_ascii_case(&next.username));
        let mut claim_write = None;
        if username_changed {
            let mut claim = username_key(&next.username);
            claim.insert("user_id".into(), me.clone());
            claim.insert("username".into(), s(&next.username));
            claim_write = Some(
                tx.put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(claim))
                        .condition_expression("attribute_not_exists(pk) OR user_id = :me")
                        .expression_attribute_values(":me", me.clone())
                        .build()
                        .expect("table and item set"),
                ),
            );
            if let Some(old) = current {
                tx.delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(username_key(&old.username)))
                        .condition_expression("attribute_not_exists(pk) OR user_id = :me")
                        .expression_attribute_values(":me", me.clone())
                        .build()
                        .expect("table and key set"),
                );
            }
        }
        match tx.commit(&self.client, &mut Cost::default()).await {
            Ok(()) => Ok(()),
            Err(f) if f.condition_failed(profile_write) => Err(SaveConflict::ProfileChanged),
            Err(f) if claim_write.is_some_and(|c| f.condition_failed(c)) => {
                Err(SaveConflict::UsernameTaken)
            }
            // Cancelled for another reason (e.g. a conflicting transaction): retry.
            Err(TxError::Cancelled(_)) => Err(SaveConflict::ProfileChanged),
            Err(TxError::Failed(e)) => Err(SaveConflict::Failed(e)),
        }
    }

    /// F-PR-5. Leaving the available set also leaves the online index.
    pub async fn set_availability(
        &self,
        user_id: &str,
        available: bool,
        now_ms: i64,
    ) -> Result<Profile, Error> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(user_id)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":a", AttributeValue::Bool(available))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew);
        // The version moves too, so a concurrent `PUT /v1/me` rereads and
        // keeps `online_shard` consistent with availability.
        update = if available {
            update
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(privileged_role)")
                .update_expression(
                    "SET is_available_for_battles = :a, updated_at = :now, #shard = :shard ADD version :one",
                )
                .expression_attribute_values(":shard", s(online_shard(user_id, self.shards)))
        } else {
            update.update_expression(
                "SET is_available_for_battles = :a, updated_at = :now REMOVE #shard ADD version :one",
            )
        }
        .expression_attribute_names("#shard", ONLINE_SHARD_ATTR)
        .expression_attribute_values(":one", n(1));
        match db::conditional(update.send().await)? {
            Some(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| Error::internal("update returned no attributes"))?;
                Ok(serde_dynamo::from_item(item)?)
            }
            None => {
                // Only a privileged account fails the condition of an existing profile.
                self.require(user_id).await?;
                self.set_availability_flag_only(user_id, available, now_ms)
                    .await?;
                self.require(user_id).await
            }
        }
    }

    /// A privileged account may toggle the flag, but never joins the online index.
    async fn set_availability_flag_only(
        &self,
        user_id: &str,
        available: bool,
        now_ms: i64,
    ) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(user_id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression(
                "SET is_available_for_battles = :a, updated_at = :now ADD version :one",
            )
            .expression_attribute_values(":a", AttributeValue::Bool(available))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(db::dependency)?;
        Ok(())
    }

    /// F-PR-2 for every authenticated call: best effort, logged, never failing
    /// the call it accompanies.
    pub async fn note_activity(&self, user_id: &str, now_ms: i64, throttle_secs: i64) {
        if let Err(e) = self.touch_last_seen(user_id, now_ms, throttle_secs).await {
            e.log();
        }
    }

    /// F-PR-2: refreshes `last_seen_at` unless it was refreshed within
    /// `throttle_secs`. One conditional write, no cache; returns whether it wrote.
    pub async fn touch_last_seen(
        &self,
        user_id: &str,
        now_ms: i64,
        throttle_secs: i64,
    ) -> Result<bool, Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(profile_key(user_id)))
            .update_expression("SET last_seen_at = :now, #until = :until")
            .expression_attribute_names("#until", crate::keys::users::ONLINE_UNTIL_ATTR)
            .expression_attribute_values(":until", n(now_ms + self.online_window_ms))
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(last_seen_at) OR last_seen_at <= :cutoff)")
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":cutoff", n(now_ms - throttle_secs * 1000))
            .send()
            .await;
        Ok(db::conditional(result)?.is_some())
    }
}

enum SaveConflict {
    ProfileChanged,
    UsernameTaken,
    Failed(Error),
}
