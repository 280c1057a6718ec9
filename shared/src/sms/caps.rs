//! The limits a text is counted against (F-SMS-12, F-SMS-27): the 30 s gap
//! per number, the caps per recipient, the verification and invitation
//! rates, and the month's spend; which apply is decided here, the counting
//! is `limits`.

use super::limits::Limit;
use super::policy::Reason;
use super::request::SmsRequest;
use super::spend::Reservation;
use super::MessageType;
use crate::config::SmsConfig;
use crate::phone::PhoneNumber;

/// The scope of a number's 30 s gap between texts (F-SMS-12).
pub fn gap_scope(phone: &PhoneNumber) -> String {
    format!("phone#{}", phone.e164())
}

/// The 30 s gap between texts to one number (F-SMS-12).
pub const GAP_SECS: i64 = 30;

/// The caps on what one user is sent (F-SMS-12): counted when the text
/// goes, so a text deferred overnight counts in the hour it leaves.
pub fn recipient_caps(user_id: &str) -> Vec<Limit> {
    vec![
        Limit::count(
            format!("user#{user_id}#h"),
            3600,
            10,
            Reason::UserHourlyLimit,
        ),
        Limit::count(
            format!("user#{user_id}#d"),
            86_400,
            30,
            Reason::UserDailyLimit,
        ),
    ]
}

/// The counted limits a request is subject to when it is made (F-SMS-12,
/// F-SMS-27); `deferred`: it waits for quiet hours to end, and the
/// recipient's caps are counted when it leaves instead. Every send reserves
/// its estimated cost in the month's spend counter; only promotions are
/// refused by the cap, transactional messages still go. The 30 s gap is
/// taken by the sender right before the provider call, where it defers;
/// only a code request takes it here, and is answered "try again" (a code
/// that arrived 30 s late would only confuse).
pub fn limits_for(
    request: &SmsRequest,
    cost_micros: u64,
    spend: Reservation,
    config: &SmsConfig,
    deferred: bool,
) -> Vec<Limit> {
    let phone = request.to.e164();
    let mut limits = vec![Limit {
        scope: spend.scope,
        window_secs: 0,
        limit: spend.limit,
        amount: cost_micros,
        reason: Reason::SpendCap,
        spacing: false,
    }];
    if let Some(user) = request.user_id.as_deref().filter(|_| !deferred) {
        limits.extend(recipient_caps(user));
    }
    match request.message_type {
        MessageType::PhoneVerification => {
            limits.push(Limit::spacing(
                gap_scope(&request.to),
                GAP_SECS,
                Reason::PhoneCooldown,
            ));
            limits.push(Limit::count(
                format!("verify#{phone}#10m"),
                600,
                3,
                Reason::VerificationPhoneLimit,
            ));
            limits.push(Limit::count(
                format!("verify#{phone}#d"),
                86_400,
                10,
                Reason::VerificationDailyLimit,
            ));
            limits.push(Limit::count(
                format!("verify#cc{}#h", request.to.country_code()),
                3600,
                config.verification_per_country_hour.into(),
                Reason::VerificationCountryLimit,
            ));
        }
        MessageType::BattleInvitation => {
            if let Some(sender) = &request.sender_id {
                limits.push(Limit::count(
                    format!("invites#{sender}#h"),
                    3600,
                    5,
                    Reason::SenderInvitationLimit,
                ));
            }
        }
        _ => {}
    }
    limits
}
