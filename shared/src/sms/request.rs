//! What a caller asks to send (the outbox's input, and what the caps are
//! decided from).

use super::limits::Limit;
use super::policy::Preferences;
use super::store::Related;
use super::MessageType;
use crate::phone::PhoneNumber;

/// What a caller asks to send.
pub struct SmsRequest {
    pub to: PhoneNumber,
    pub message_type: MessageType,
    pub body: String,
    /// The user the message is for, when there is one.
    pub user_id: Option<String>,
    /// Who caused it (battle invitations are limited per sender).
    pub sender_id: Option<String>,
    pub related: Option<Related>,
    /// The recipient's phone is verified by `user_id`.
    pub verified: bool,
    pub preferences: Option<Preferences>,
    pub timezone: Option<String>,
    /// What in `body` must not stay at rest (a code, an invite token): the
    /// stored body is masked once the text is final (`SmsLog::redacted_body`).
    pub secret: Option<String>,
    /// Limits of this request's own, counted with the usual ones (one
    /// invitation per number per 7 days, F-SMS-19).
    pub extra_limits: Vec<Limit>,
    /// When the text stops being worth sending (a reminder, its deadline):
    /// quiet hours that would hold it past then refuse it instead.
    pub send_by: Option<i64>,
}
