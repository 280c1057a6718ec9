//! Page cursors handed to clients (F-ERR-1, F-PT-7, F-MM-7). A cursor is the
//! query's `LastEvaluatedKey`, signed with HMAC-SHA256 and bound to one listing
//! and its owner: a client cannot forge one, nor replay it on another listing
//! or another user's items, so no client-made value reaches `ExclusiveStartKey`.
//!
//! The signing key is 32 random bytes kept in the table the listing reads
//! (created by the first process that needs it, read once per process), so
//! no secret lives in the template or a function's environment.

use crate::db::{self, Item};
use crate::error::Error;
use crate::keys::users::cursor_signing_key;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::sync::Arc;
use tokio::sync::OnceCell;

const KEY_LEN: usize = 32;

#[derive(Clone)]
pub struct Cursors {
    client: aws_sdk_dynamodb::Client,
    table: String,
    key: Arc<OnceCell<[u8; KEY_LEN]>>,
}

fn key_item_key() -> Item {
    cursor_signing_key()
}

fn invalid() -> Error {
    Error::bad_request("invalid_cursor", "the cursor is not one this API issued")
}

impl Cursors {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Cursors {
            client,
            table: table.into(),
            key: Arc::new(OnceCell::new()),
        }
    }

    /// The cursor for the page after `last_key`, in `listing` of `owner`.
    pub async fn seal(&self, listing: &str, owner: &str, last_key: &Item) -> Result<String, Error> {
        let payload = db::encode_cursor(last_key);
        let tag = self.tag(listing, owner, &payload).await?;
        Ok(format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag)))
    }

    /// A page of a query's items, read as `T`, and the cursor of the next
    /// (sealed for `listing` and `owner`) when the query stopped early.
    pub async fn page<T: serde::de::DeserializeOwned>(
        &self,
        listing: &str,
        owner: &str,
        items: &[Item],
        last_key: Option<&Item>,
    ) -> Result<(Vec<T>, Option<String>), Error> {
        let items = items
            .iter()
            .map(|i| serde_dynamo::from_item(i.clone()))
            .collect::<Result<Vec<T>, _>>()?;
        let next = match last_key {
            Some(last) => Some(self.seal(listing, owner, last).await?),
            None => None,
        };
        Ok((items, next))
    }

    /// The start key a cursor carries, once its signature shows this API made
    /// it for this listing and owner; it must name exactly `expected`.
    pub async fn open(
        &self,
        listing: &str,
        owner: &str,
        cursor: &str,
        expected: &[&str],
    ) -> Result<Item, Error> {
        let (payload, tag) = cursor.trim().split_once('.').ok_or_else(invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let mac = self.mac(listing, owner, payload).await?;
        mac.verify_slice(&tag).map_err(|_| invalid())?;
        db::decode_cursor(payload, expected)
    }

    async fn tag(&self, listing: &str, owner: &str, payload: &str) -> Result<Vec<u8>, Error> {
        Ok(self
            .mac(listing, owner, payload)
            .await?
            .finalize()
            .into_bytes()
            .to_vec())
    }

    async fn mac(&self, listing: &str, owner: &str, payload: &str) -> Result<Hmac<Sha256>, Error> {
        let key = self.signing_key().await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        // Lengths first, so no two (listing, owner, payload) triples sign alike.
        for part in [listing, owner, payload] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        Ok(mac)
    }

    async fn signing_key(&self) -> Result<&[u8; KEY_LEN], Error> {
        self.key.get_or_try_init(|| self.load_or_create()).await
    }

    /// Reads the key; the first process ever creates it (one winner, by condition).
    async fn load_or_create(&self) -> Result<[u8; KEY_LEN], Error> {
        if let Some(k) = self.read_key().await? {
            return Ok(k);
        }
        let mut fresh = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut fresh);
        let mut item = key_item_key();
        item.insert(
            "secret".into(),
            AttributeValue::B(Blob::new(fresh.to_vec())),
        );
        match db::put_new(&self.client, &self.table, item).await? {
            true => Ok(fresh),
            // Another process created it first: use theirs.
            false => self
                .read_key()
                .await?
                .ok_or_else(|| Error::internal("cursor signing key vanished")),
        }
    }

    async fn read_key(&self) -> Result<Option<[u8; KEY_LEN]>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(db::dependency)?;
        match out.item.as_ref().and_then(|i| i.get("secret")) {
            None => Ok(None),
            Some(AttributeValue::B(blob)) => blob
                .as_ref()
                .try_into()
                .map(Some)
                .map_err(|_| Error::internal("cursor signing key has the wrong length")),
            Some(_) => Err(Error::internal("cursor signing key is not binary")),
        }
    }
}
