//! Texting a player: every notice about a player (battles, reminders,
//! streaks, other services' events) reaches them the same way. Their
//! profile gives the number (only a verified one is texted), the time zone
//! and the preferences; the outbox applies the policy; the message goes at
//! most once per `once` key, whatever replays or redeliveries follow.

use crate::error::Error;
use crate::phone::PhoneNumber;
use crate::profile::{Profile, Profiles};
use crate::sms::limits::Limit;
use crate::sms::outbox::{Outbox, SmsRequest};
use crate::sms::store::{Related, SmsLog};
use crate::sms::MessageType;

/// What one notice for a player is.
pub struct Notice {
    pub message_type: MessageType,
    pub body: String,
    pub related: Option<Related>,
    /// At most one message per key (e.g. `battle_reminder#<battle>#<user>`).
    pub once: String,
    /// Limits of this notice's own (one direct-message notice per thread per
    /// 5 minutes, F-SMS-13), counted with the usual ones.
    pub extra_limits: Vec<Limit>,
    /// After this the notice is pointless (a deadline): quiet hours do not
    /// hold it past then, they refuse it.
    pub send_by: Option<i64>,
}

/// What became of a notice.
#[derive(Debug)]
pub enum Texted {
    /// A log was written: pending, deferred (quiet hours) or suppressed with its reason.
    Logged(Box<SmsLog>),
    /// The once-key was used already: nothing sent, nothing recorded.
    Repeat,
    /// No profile, or no verified number: there is nobody to text.
    NoNumber,
}

#[derive(Clone)]
pub struct PlayerTexts {
    profiles: Profiles,
    outbox: Outbox,
}

impl PlayerTexts {
    pub fn new(profiles: Profiles, outbox: Outbox) -> Self {
        PlayerTexts { profiles, outbox }
    }

    pub fn profiles(&self) -> &Profiles {
        &self.profiles
    }

    /// Reads the player's profile and texts them.
    pub async fn text(&self, user_id: &str, notice: Notice, now_ms: i64) -> Result<Texted, Error> {
        match self.profiles.get(user_id).await? {
            Some(profile) => self.text_profile(&profile, notice, now_ms).await,
            None => Ok(Texted::NoNumber),
        }
    }

    /// Texts the owner of `profile` (already read by the caller).
    pub async fn text_profile(
        &self,
        profile: &Profile,
        notice: Notice,
        now_ms: i64,
    ) -> Result<Texted, Error> {
        let once = notice.once.clone();
        let Some(request) = request_for(profile, notice)? else {
            return Ok(Texted::NoNumber);
        };
        Ok(
            match self.outbox.enqueue_once(request, &once, now_ms).await? {
                Some(log) => Texted::Logged(Box::new(log)),
                None => Texted::Repeat,
            },
        )
    }
}

/// The text of `notice` to the owner of `profile`, under their preferences
/// and time zone; `None` without a verified number.
pub fn request_for(profile: &Profile, notice: Notice) -> Result<Option<SmsRequest>, Error> {
    let number = match (&profile.phone.number, profile.phone.verified) {
        (Some(number), true) => PhoneNumber::parse(number)?,
        _ => return Ok(None),
    };
    Ok(Some(SmsRequest {
        to: number,
        message_type: notice.message_type,
        body: notice.body,
        user_id: Some(profile.user_id.clone()),
        sender_id: None,
        related: notice.related,
        verified: true,
        preferences: profile.sms_preferences.clone(),
        timezone: Some(profile.timezone.clone()).filter(|t| !t.is_empty()),
        secret: None,
        extra_limits: notice.extra_limits,
        send_by: notice.send_by,
    }))
}
