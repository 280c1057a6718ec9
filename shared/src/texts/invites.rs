//! F-SMS-19: a player invites someone to a battle by phone number; F-MM-6:
//! a private match code sent by text.
//!
//! A number a player has verified gets that player an in-app invitation
//! (pushed like a direct one) and, if their preferences allow, a text. Any
//! other number gets an invitation with an invite link, written only
//! together with the text's log, so a refused text leaves no invitation
//! and no token. The decision for texts to people without an account: no
//! consent record is needed (there is none), but they are capped at one per
//! number per 7 days across all senders and five per sender per hour, name
//! the sender, end with the STOP line, and a STOP blocks every later one.

use super::{check_length, invitation_text, personal_message, private_match_text, Links};
use crate::battles::invitations::{Invitation, InviteFailure};
use crate::battles::messages::{self, notify};
use crate::battles::private_code::{code_space_exhausted, PrivateMatch, MAX_CREATE_ATTEMPTS};
use crate::battles::{validate_challenge_type, BattleStore, MatchSource};
use crate::db::{Cost, Transaction};
use crate::error::Error;
use crate::phone::PhoneNumber;
use crate::profile::Profile;
use crate::realtime::Pusher;
use crate::sms::limits::Limit;
use crate::sms::log::{SmsLog, Status};
use crate::sms::outbox::{Committed, Outbox, SmsRequest};
use crate::sms::policy::Reason;
use crate::sms::store::Related;
use crate::sms::MessageType;
use serde::Deserialize;
use serde_json::{json, Value};

/// F-SMS-19: one invitation per number per this long, across all senders.
const RECIPIENT_GAP_SECS: i64 = 7 * 24 * 3600;

/// `POST /v1/invitations/sms` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsInviteInput {
    pub phone_number: String,
    pub challenge_type: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct InviteSettings {
    pub message_max_chars: usize,
    pub max_segments: u32,
}

#[derive(Clone)]
pub struct SmsInvites {
    battles: BattleStore,
    outbox: Outbox,
    pusher: Pusher,
    links: Links,
    settings: InviteSettings,
}

/// Who an invited number belongs to.
enum Invitee {
    /// The player who verified it.
    Player(Box<Profile>),
    /// Nobody here: the text carries an invite link.
    Stranger,
}

/// What an invitation by phone did: the invitation, and what became of its text.
pub struct Invited {
    pub invitation: Invitation,
    pub sms: SmsLog,
}

impl Invited {
    /// The answer: never the token, its hash or the text (the link goes only by SMS).
    pub fn view(&self, now_ms: i64) -> Value {
        let mut view = self.invitation.view(now_ms);
        view["sms"] = sms_view(&self.sms);
        view
    }
}

/// The status of a text as a response shows it.
pub fn sms_view(log: &SmsLog) -> Value {
    json!({ "status": log.status, "reason": log.reason })
}

impl SmsInvites {
    pub fn new(
        battles: BattleStore,
        outbox: Outbox,
        pusher: Pusher,
        links: Links,
        settings: InviteSettings,
    ) -> Self {
        SmsInvites {
            battles,
            outbox,
            pusher,
            links,
            settings,
        }
    }

    async fn invitee(&self, sender: &Profile, phone: &PhoneNumber) -> Result<Invitee, Error> {
        not_own_number(sender, phone)?;
        let owner =
            crate::sms::ownership::owner_of(&self.battles.client, &self.battles.users_table, phone)
                .await?;
        let profile = match owner {
            Some(id) => self.battles.profiles().get(&id).await?,
            None => None,
        };
        Ok(match profile.filter(|p| owns(p, phone)) {
            Some(player) => Invitee::Player(Box::new(player)),
            None => Invitee::Stranger,
        })
    }

    /// The text of an invitation from `sender` to `phone`: a player's own
    /// preferences decide for them; a stranger gets the invitation rules.
    fn request(
        &self,
        invitee: &Invitee,
        phone: PhoneNumber,
        sender: &Profile,
        body: String,
        related: Related,
    ) -> SmsRequest {
        let mut request = SmsRequest {
            to: phone,
            message_type: MessageType::BattleInvitation,
            body,
            user_id: None,
            sender_id: Some(sender.user_id.clone()),
            related: Some(related),
            verified: false,
            preferences: None,
            timezone: None,
            secret: None,
            extra_limits: Vec::new(),
            send_by: None,
        };
        match invitee {
            Invitee::Player(player) => {
                request.user_id = Some(player.user_id.clone());
                request.verified = true;
                request.preferences = player.sms_preferences.clone();
                request.timezone = Some(player.timezone.clone()).filter(|t| !t.is_empty());
            }
            Invitee::Stranger => request.extra_limits.push(Limit::spacing(
                format!("invitee#{}", request.to.e164()),
                RECIPIENT_GAP_SECS,
                Reason::RecipientRecentlyInvited,
            )),
        }
        request
    }

    /// F-SMS-19: `POST /v1/invitations/sms`.
    #[tracing::instrument(name = "invite_by_sms", skip_all, fields(sender = %sender.user_id))]
    pub async fn invite(
        &self,
        sender: &Profile,
        input: SmsInviteInput,
        now_ms: i64,
    ) -> Result<Invited, Error> {
        let phone = PhoneNumber::parse(&input.phone_number)?;
        let challenge_type = validate_challenge_type(input.challenge_type.as_deref())?;
        let message = personal_message(input.message.as_deref(), self.settings.message_max_chars)?;
        let invitee = self.invitee(sender, &phone).await?;
        let Invitee::Player(player) = &invitee else {
            return self
                .invite_stranger(sender, phone, &challenge_type, message, now_ms)
                .await;
        };
        // Measured with an id of the final length, before anything is written.
        let text = |invitation_id: &str| {
            let link = self.links.invitation(invitation_id);
            invitation_text(&sender.username, &challenge_type, message.as_deref(), &link)
        };
        let body = text(&crate::ids::new_id());
        check_length(
            MessageType::BattleInvitation,
            &body,
            self.settings.max_segments,
        )?;
        let invitation = crate::battles::invitations::create_invitation(
            &self.battles,
            sender,
            player,
            &challenge_type,
            MatchSource::SmsInvite,
            now_ms,
            &mut Cost::default(),
        )
        .await
        .map_err(|f| match f {
            InviteFailure::Failed(e) => e,
            _ => Error::conflict("invitee_unavailable", "that player cannot be invited now"),
        })?;
        notify::to_invitee(
            &self.pusher,
            &invitation,
            &messages::invitation_received(&invitation),
            now_ms,
        )
        .await;
        let request = self.request(
            &invitee,
            phone,
            sender,
            text(&invitation.invitation_id),
            related(&invitation),
        );
        let sms = self.outbox.enqueue(request, now_ms).await?;
        Ok(Invited { invitation, sms })
    }

    async fn invite_stranger(
        &self,
        sender: &Profile,
        phone: PhoneNumber,
        challenge_type: &str,
        message: Option<String>,
        now_ms: i64,
    ) -> Result<Invited, Error> {
        let pending = crate::battles::invite_tokens::phone_invitation(
            &self.battles,
            sender,
            &phone,
            challenge_type,
            now_ms,
        )?;
        let body = invitation_text(
            &sender.username,
            challenge_type,
            message.as_deref(),
            &self.links.invite(&pending.token),
        );
        check_length(
            MessageType::BattleInvitation,
            &body,
            self.settings.max_segments,
        )?;
        let mut request = self.request(
            &Invitee::Stranger,
            phone,
            sender,
            body,
            related(&pending.invitation),
        );
        request.secret = Some(pending.token.expose().to_string());
        request.send_by = Some(pending.invitation.valid_until);
        // The invitation and its token exist exactly when the text is on its way.
        let prepared = self.outbox.prepare(request, None, now_ms).await?;
        let sms = match self.outbox.commit(prepared, pending.writes, now_ms).await? {
            Committed::Logged(sms) => *sms,
            Committed::Declined(f) => return Err(f.into_error()),
            Committed::Repeat => return Err(Error::internal("an invitation has no once-key")),
        };
        if sms.status == Status::Suppressed {
            return Err(refusal(sms.reason));
        }
        Ok(Invited {
            invitation: pending.invitation,
            sms,
        })
    }

    /// Refuses, before the code is created, an `invite_phone` the text
    /// could not go to: the sender's own number, or a text longer than the
    /// segment cap.
    pub fn check_private_invite(
        &self,
        sender: &Profile,
        phone: &PhoneNumber,
        challenge_type: &str,
        stake: Option<i64>,
    ) -> Result<(), Error> {
        not_own_number(sender, phone)?;
        let placeholder = "X".repeat(crate::battles::private_code::CODE_LENGTH);
        let body = private_match_text(
            &sender.username,
            challenge_type,
            &placeholder,
            stake,
            0,
            &self.links.private_match(&placeholder),
        );
        check_length(
            MessageType::BattleInvitation,
            &body,
            self.settings.max_segments,
        )
    }

    /// F-MM-6 with `invite_phone`: a new code, its stake and expiry by
    /// text, under the invitation rules. The code is written with the text's
    /// log in one transaction: a refused text is refused like an invitation
    /// (its reason as the error) and leaves no code, and so does a failed
    /// commit.
    pub async fn create_private_with_text(
        &self,
        sender: &Profile,
        challenge_type: &str,
        stake: Option<i64>,
        phone: PhoneNumber,
        now_ms: i64,
    ) -> Result<(PrivateMatch, SmsLog), Error> {
        let invitee = self.invitee(sender, &phone).await?;
        for _ in 0..MAX_CREATE_ATTEMPTS {
            let (private, item) = crate::battles::private_code::draft_private_match(
                &self.battles,
                sender,
                challenge_type,
                stake,
                now_ms,
            )?;
            let body = private_match_text(
                &sender.username,
                &private.challenge_type,
                &private.code,
                private.stake,
                private.valid_until,
                &self.links.private_match(&private.code),
            );
            // Not the code: whoever reads the log could join with it. The
            // match is named by its creator and creation time.
            let related = Related {
                kind: "private_match".into(),
                id: format!("{}#{}", sender.user_id, private.created_at),
            };
            let mut request = self.request(&invitee, phone.clone(), sender, body, related);
            request.secret = Some(private.code.clone());
            request.send_by = Some(private.valid_until);
            let prepared = self.outbox.prepare(request, None, now_ms).await?;
            let mut own = Transaction::new();
            let code = own.put_new(&self.battles.battles_table, item);
            match self.outbox.commit(prepared, own, now_ms).await? {
                Committed::Logged(sms) if sms.status == Status::Suppressed => {
                    return Err(refusal(sms.reason))
                }
                Committed::Logged(sms) => return Ok((private, *sms)),
                // The code is taken (one in ~900 million): draw again.
                Committed::Declined(f) if f.condition_failed(code) => continue,
                Committed::Declined(f) => return Err(f.into_error()),
                Committed::Repeat => {
                    return Err(Error::internal("a private code text has no once-key"))
                }
            }
        }
        Err(code_space_exhausted())
    }
}

/// The number is verified by this profile.
fn owns(profile: &Profile, phone: &PhoneNumber) -> bool {
    profile.phone.verified && profile.phone.number.as_deref() == Some(phone.e164())
}

fn not_own_number(sender: &Profile, phone: &PhoneNumber) -> Result<(), Error> {
    if owns(sender, phone) {
        return Err(Error::Unprocessable {
            code: "cannot_invite_yourself",
            message: "this is your own number; invite a friend's".into(),
        });
    }
    Ok(())
}

fn related(invitation: &Invitation) -> Related {
    Related {
        kind: "invitation".into(),
        id: invitation.invitation_id.clone(),
    }
}

/// Why an invitation to a number was not made (nothing was written but the
/// suppressed log that records the reason, F-SMS-12).
fn refusal(reason: Option<Reason>) -> Error {
    match reason {
        Some(Reason::OptedOut) => Error::Unprocessable {
            code: "recipient_opted_out",
            message: "this number replied STOP to Versus texts; it cannot be invited by SMS"
                .into(),
        },
        Some(Reason::RecipientRecentlyInvited) => Error::conflict(
            "recipient_recently_invited",
            "this number was invited to Versus in the last 7 days; ask your friend to use that invite",
        ),
        Some(Reason::SenderInvitationLimit) => Error::TooManyRequests {
            message: "you can send 5 SMS invitations per hour; try again later".into(),
            retry_after_secs: 3600,
        },
        Some(Reason::CountryNotAllowed) => Error::Unprocessable {
            code: "country_not_supported",
            message: "SMS to this country is not supported".into(),
        },
        other => Error::Unprocessable {
            code: "sms_not_sent",
            message: format!(
                "the invitation text cannot be sent now ({}); try again later",
                other.map(crate::sms::wire_name).unwrap_or_default()
            ),
        },
    }
}
