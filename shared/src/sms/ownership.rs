//! Who holds a verified phone number (F-SMS-18): the `PHONE#<e164>` claim in
//! the users table. Verification writes it; preferences, STOP handling and
//! invitations read it.

use crate::db;
use crate::error::Error;
use crate::keys::users::phone_claim_key;
use crate::phone::PhoneNumber;
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct PhoneClaim {
    pub(crate) user_id: String,
}

/// The user who verified `phone`, if anyone has.
pub async fn owner_of(
    client: &aws_sdk_dynamodb::Client,
    users_table: &str,
    phone: &PhoneNumber,
) -> Result<Option<String>, Error> {
    let claim: Option<PhoneClaim> =
        db::get_item(client, users_table, phone_claim_key(phone.e164())).await?;
    Ok(claim.map(|c| c.user_id))
}
