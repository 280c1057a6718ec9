//! Phone verification (F-SMS-17, F-SMS-18): a 6-digit code from a CSPRNG,
//! stored hashed, valid 10 minutes, 5 wrong tries; a verified number has one
//! owner, and verifying it elsewhere takes it over atomically.

use super::outbox::{Committed, Outbox, SmsRequest};
use super::ownership::PhoneClaim;
use super::store::Status;
use super::{verification_body, MessageType};
use crate::db::{self, n, retry, s, Cost, Item, Transaction, TxError, UpdateExpr};
use crate::error::Error;
use crate::keys::sms::verification_code_key;
use crate::keys::users::{phone_claim_key, profile_key};
use crate::keys::TTL_ATTR;
use crate::phone::PhoneNumber;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, Update};
use aws_sdk_dynamodb::Client;
use rand::Rng;
use serde::{Deserialize, Serialize};

pub const CODE_TTL_SECS: i64 = 600;
/// Verifications of one number that race each other retry this many times.
const TAKEOVER_ATTEMPTS: u32 = 8;

enum Takeover {
    /// Verified; the user who held the number before, if another.
    Done(Option<String>),
    /// The code was used or replaced meanwhile.
    CodeGone,
    /// Someone else moved the number (or an owner) meanwhile: read again.
    Raced,
}
pub const MAX_TRIES: u32 = 5;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PendingCode {
    phone: PhoneNumber,
    code_hash: String,
    valid_until: i64,
    tries: u32,
}

/// The owner record of a verified number (users table).
/// The code's hash binds it to the user and the number it was sent to.
fn hash(user_id: &str, phone: &str, code: &str) -> String {
    crate::secret::sha256_hex(format!("{user_id}|{phone}|{code}").as_bytes())
}

pub fn new_code(rng: &mut impl Rng) -> String {
    format!("{:06}", rng.random_range(0..1_000_000))
}

#[derive(Clone)]
pub struct Verification {
    client: Client,
    profiles: crate::profile::Profiles,
    users_table: String,
    sms_table: String,
    outbox: Outbox,
    line_kinds: Vec<crate::phone::LineKind>,
}

/// What a successful verification changed.
pub struct Verified {
    pub phone: PhoneNumber,
    /// The user who held the number before, if another one.
    pub previous_owner: Option<String>,
}

impl Verification {
    /// `line_kinds`: the kinds of line codes may go to (F-SMS-27).
    pub fn new(
        client: Client,
        tables: &crate::config::Tables,
        line_kinds: Vec<crate::phone::LineKind>,
        profiles: crate::profile::Profiles,
        outbox: Outbox,
    ) -> Self {
        Verification {
            profiles,
            client,
            users_table: tables.users.clone(),
            sms_table: tables.sms.clone(),
            line_kinds,
            outbox,
        }
    }

    /// F-SMS-17: a new code replaces any earlier one; the SMS goes through
    /// the outbox (opt-out, allow-list, limits), and a refusal is an error
    /// that leaves no code behind.
    pub async fn request(
        &self,
        user_id: &str,
        phone: PhoneNumber,
        now_ms: i64,
    ) -> Result<i64, Error> {
        // F-SMS-27: no codes to premium-rate, shared-cost or other lines that
        // cannot receive a text (SMS pumping pays out through those).
        if !self.line_kinds.contains(&phone.kind()) {
            return Err(Error::Unprocessable {
                code: "phone_type_not_supported",
                message: format!(
                    "verification codes go only to mobile numbers; this is a {} number",
                    phone.kind().name().replace('_', " ")
                ),
            });
        }
        let code = new_code(&mut rand::rng());
        let pending = PendingCode {
            code_hash: hash(user_id, phone.e164(), &code),
            valid_until: now_ms + CODE_TTL_SECS * 1000,
            tries: 0,
            phone: phone.clone(),
        };
        let mut item: Item = serde_dynamo::to_item(&pending)?;
        item.extend(verification_code_key(user_id));
        item.insert(TTL_ATTR.into(), n(pending.valid_until / 1000 + 60));
        // The code replaces the earlier one only if its text is let through,
        // and only with it: one transaction with the log and its counters.
        let code_put = Put::builder()
            .table_name(&self.sms_table)
            .set_item(Some(item))
            .build()
            .expect("table and item set");
        let prepared = self
            .outbox
            .prepare(
                SmsRequest {
                    to: phone,
                    message_type: MessageType::PhoneVerification,
                    body: verification_body(&code, CODE_TTL_SECS / 60),
                    user_id: Some(user_id.to_string()),
                    sender_id: None,
                    related: None,
                    verified: false,
                    preferences: None,
                    timezone: None,
                    secret: Some(code),
                    extra_limits: Vec::new(),
                    // A code that arrives expired is only confusing.
                    send_by: Some(pending.valid_until),
                },
                None,
                now_ms,
            )
            .await?;
        let mut own = Transaction::new();
        own.put(code_put);
        let log = match self.outbox.commit(prepared, own, now_ms).await? {
            Committed::Logged(log) => *log,
            Committed::Declined(f) => return Err(f.into_error()),
            Committed::Repeat => return Err(Error::internal("a code request has no once-key")),
        };
        if log.status == Status::Suppressed {
            return Err(refusal(log.reason));
        }
        Ok(pending.valid_until)
    }

    /// F-SMS-18.
    pub async fn verify(&self, user_id: &str, code: &str, now_ms: i64) -> Result<Verified, Error> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::validation("code must be the 6 digits from the SMS"));
        }
        let pending: PendingCode = db::get_item(&self.client, &self.sms_table, verification_code_key(user_id))
            .await?
            .ok_or_else(|| {
                Error::not_found("no_verification", "no code was requested (or it was used); request one with POST /v1/me/phone/verification")
            })?;
        if now_ms >= pending.valid_until {
            return Err(Error::Unprocessable {
                code: "code_expired",
                message: "the code has expired; request a new one".into(),
            });
        }
        if pending.tries >= MAX_TRIES {
            return Err(dead_code());
        }
        if !super::constant_time_eq(
            &hash(user_id, pending.phone.e164(), code),
            &pending.code_hash,
        ) {
            return self.wrong_try(user_id, &pending).await;
        }
        let phone = pending.phone.clone();
        // The number's claim moves only from the owner we read: if another
        // verification took it meanwhile, read again and retry, so at any
        // instant exactly one user holds it (F-SMS-18).
        for attempt in 0..TAKEOVER_ATTEMPTS {
            if attempt > 0 {
                retry::pause(attempt).await;
            }
            match self.take_over(user_id, &pending, now_ms).await? {
                Takeover::Done(previous_owner) => {
                    return Ok(Verified {
                        phone,
                        previous_owner,
                    })
                }
                Takeover::CodeGone => {
                    return Err(Error::conflict(
                        "code_used",
                        "the code was just used or replaced; request a new one",
                    ))
                }
                Takeover::Raced => continue,
            }
        }
        Err(Error::conflict(
            "concurrent_update",
            "the number is being verified by someone else right now; retry",
        ))
    }

    /// One try at the verification transaction (F-SMS-18): the code is used
    /// once; the number's claim goes from the owner read just before (or from
    /// nobody) to the caller; the previous owner and the caller's earlier
    /// number are released in the same transaction.
    async fn take_over(
        &self,
        user_id: &str,
        pending: &PendingCode,
        now_ms: i64,
    ) -> Result<Takeover, Error> {
        let phone = pending.phone.e164();
        let previous: Option<PhoneClaim> =
            db::get_item(&self.client, &self.users_table, phone_claim_key(phone)).await?;
        let previous_holder = previous.map(|c| c.user_id);
        let previous_owner = previous_holder.clone().filter(|u| u != user_id);
        let me = self
            .profiles
            .get(user_id)
            .await?
            .ok_or_else(crate::profile::no_profile)?;
        let mut claim = Put::builder().table_name(&self.users_table).set_item(Some({
            let mut claim = phone_claim_key(phone);
            claim.insert("user_id".into(), s(user_id));
            claim.insert("verified_at".into(), n(now_ms));
            claim
        }));
        claim = match &previous_holder {
            None => claim.condition_expression("attribute_not_exists(pk)"),
            Some(holder) => claim
                .condition_expression("user_id = :holder")
                .expression_attribute_values(":holder", s(holder)),
        };
        let mut tx = Transaction::new();
        // The code is used once, and only while it is still alive.
        let code_use = tx.delete(
            Delete::builder()
                .table_name(&self.sms_table)
                .set_key(Some(verification_code_key(user_id)))
                .condition_expression("code_hash = :h AND tries < :max")
                .expression_attribute_values(":h", s(&pending.code_hash))
                .expression_attribute_values(":max", n(MAX_TRIES))
                .build()
                .expect("table and key set"),
        );
        tx.put(claim.build().expect("table and item set"));
        tx.update(
            UpdateExpr::new()
                .set("phone_number", s(phone))
                .set("phone_verified", AttributeValue::Bool(true))
                .set("phone_verified_at", n(now_ms))
                .condition("attribute_exists(pk)")
                .into_update(&self.users_table, profile_key(user_id)),
        );
        if let Some(owner) = &previous_owner {
            tx.update(release_update(&self.users_table, owner, phone));
        }
        if let Some(old) = me.phone.number.as_deref().filter(|p| *p != phone) {
            tx.delete(self.release_claim(old, user_id));
        }
        match tx.commit(&self.client, &mut Cost::default()).await {
            Ok(()) => Ok(Takeover::Done(previous_owner)),
            Err(f) if f.condition_failed(code_use) => Ok(Takeover::CodeGone),
            // The claim, an owner's profile or a concurrent transaction
            // moved under us.
            Err(TxError::Cancelled(_)) => Ok(Takeover::Raced),
            Err(TxError::Failed(e)) => Err(e),
        }
    }

    async fn wrong_try(&self, user_id: &str, pending: &PendingCode) -> Result<Verified, Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.sms_table)
            .set_key(Some(verification_code_key(user_id)))
            .update_expression("ADD tries :one")
            .condition_expression("code_hash = :h AND tries < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":h", s(&pending.code_hash))
            .expression_attribute_values(":max", n(MAX_TRIES))
            .send()
            .await;
        if db::conditional(result)?.is_none() {
            return Err(dead_code());
        }
        let left = MAX_TRIES.saturating_sub(pending.tries + 1);
        if left == 0 {
            Err(dead_code())
        } else {
            Err(Error::Unprocessable {
                code: "wrong_code",
                message: format!("wrong code; {left} tries left"),
            })
        }
    }

    /// `DELETE /v1/me/phone`: forgets the caller's number and its claim;
    /// returns the profile as it is now. The profile changes only if it
    /// still shows the number read: a verification that lands in between
    /// (a new number, a new claim) is read again and removed with its claim,
    /// never left as an orphan claim.
    pub async fn remove(&self, user_id: &str) -> Result<crate::profile::Profile, Error> {
        for attempt in 0..TAKEOVER_ATTEMPTS {
            if attempt > 0 {
                retry::pause(attempt).await;
            }
            let profile = self.profiles.require(user_id).await?;
            let shown = profile.phone.number.as_deref();
            let update = UpdateExpr::new()
                .remove("phone_number")
                .remove("phone_verified")
                .remove("phone_verified_at");
            let update = match shown {
                Some(number) => update
                    .condition("#phone_number = :read")
                    .value(":read", s(number)),
                None => {
                    update.condition("attribute_exists(pk) AND attribute_not_exists(#phone_number)")
                }
            };
            let mut tx = Transaction::new();
            tx.update(update.into_update(&self.users_table, profile_key(user_id)));
            if let Some(number) = shown {
                tx.delete(self.release_claim(number, user_id));
            }
            match tx.commit(&self.client, &mut Cost::default()).await {
                Ok(()) => {
                    return Ok(crate::profile::Profile {
                        phone: Default::default(),
                        ..profile
                    })
                }
                // The number changed under us (or another write conflicted).
                Err(TxError::Cancelled(_)) => continue,
                Err(TxError::Failed(e)) => return Err(e),
            }
        }
        Err(Error::conflict(
            "concurrent_update",
            "the number is being changed right now; retry",
        ))
    }

    /// Deletes `user_id`'s claim of `phone` (a claim another user took is left alone).
    fn release_claim(&self, phone: &str, user_id: &str) -> Delete {
        Delete::builder()
            .table_name(&self.users_table)
            .set_key(Some(phone_claim_key(phone)))
            .condition_expression("attribute_not_exists(pk) OR user_id = :me")
            .expression_attribute_values(":me", s(user_id))
            .build()
            .expect("table and key set")
    }
}

/// Clears the number from a profile that still shows it.
fn release_update(table: &str, owner: &str, phone: &str) -> Update {
    UpdateExpr::new()
        .remove("phone_number")
        .remove("phone_verified")
        .remove("phone_verified_at")
        .condition("attribute_not_exists(#phone_number) OR #phone_number = :p")
        .value(":p", s(phone))
        .into_update(table, profile_key(owner))
}

fn dead_code() -> Error {
    Error::Unprocessable {
        code: "code_dead",
        message: "too many wrong tries; request a new code".into(),
    }
}

/// A verification SMS the policy refused, as the caller sees it.
fn refusal(reason: Option<super::policy::Reason>) -> Error {
    use super::policy::Reason::*;
    match reason {
        Some(OptedOut) => Error::Unprocessable {
            code: "phone_opted_out",
            message: "this number has opted out of SMS; text START to it to opt back in".into(),
        },
        Some(CountryNotAllowed) => Error::Unprocessable {
            code: "country_not_supported",
            message: "SMS to this country is not supported".into(),
        },
        Some(PhoneCooldown) => Error::TooManyRequests {
            message: "a code was just sent to this number; wait 30 seconds".into(),
            retry_after_secs: 30,
        },
        _ => Error::TooManyRequests {
            message: "too many codes requested; try again later".into(),
            retry_after_secs: 600,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_hashes_bind_user_and_number() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..100 {
            let c = new_code(&mut rng);
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_ne!(hash("u1", "+1", "123456"), hash("u2", "+1", "123456"));
        assert!(super::super::constant_time_eq(
            &hash("u", "+1", "1"),
            &hash("u", "+1", "1")
        ));
        assert!(!super::super::constant_time_eq("ab", "abc"));
    }
}
