//! Texts about battles (F-SMS-19 … F-SMS-22): the links they carry, their
//! wording, and who gets them. Sending goes through `sms::outbox` like every
//! other message, so consent, STOP, limits and quiet hours all apply.
//!
//! - `notices`: `match_found` and `battle_result` to players who are not
//!   connected (F-SMS-21, F-SMS-22), once per battle, player and type;
//! - `invites`: battle invitations by phone number, to players and to
//!   people without an account (F-SMS-19), and private match codes (F-MM-6);
//! - `reminders` and `streaks`: what the schedules text (F-SMS-23, F-SMS-24);
//! - `events`: what other services' events text (F-EV-1, F-SMS-25);
//! - `player`: how any of these reaches a player, once per key.
//!
//! Templates stay within GSM-7; a sender's personal message is folded to
//! GSM-7 where a look-alike exists (curly quotes, dashes, ellipses).

pub mod events;
pub mod invites;
pub mod notices;
pub mod player;
pub mod reminders;
pub mod streaks;

use crate::battles::{Battle, Outcome};
use crate::error::Error;
use crate::secret::Secret;

/// Links into the web client (`WEB_BASE_URL`).
#[derive(Clone, Debug)]
pub struct Links {
    base: String,
}

impl Links {
    pub fn new(web_base_url: &str) -> Self {
        Links {
            base: web_base_url.trim_end_matches('/').to_string(),
        }
    }

    pub fn battle(&self, battle_id: &str) -> String {
        format!("{}/battles/{battle_id}", self.base)
    }

    pub fn invitation(&self, invitation_id: &str) -> String {
        format!("{}/invitations/{invitation_id}", self.base)
    }

    /// The landing page of an invite link; it previews and accepts the token.
    pub fn invite(&self, token: &Secret) -> String {
        format!("{}/invite/{}", self.base, token.expose())
    }

    pub fn private_match(&self, code: &str) -> String {
        format!("{}/join/{code}", self.base)
    }

    /// A page of the web client (`""` for its home, `"messages/<thread>"`).
    pub fn page(&self, path: &str) -> String {
        match path {
            "" => format!("{}/", self.base),
            path => format!("{}/{path}", self.base),
        }
    }
}

/// F-SMS-21: to `user_id`, about their new battle.
pub fn match_found_text(battle: &Battle, user_id: &str, link: &str) -> String {
    let opponent = opponent_name(battle, user_id);
    format!(
        "Versus: you are matched with {opponent} for a {} battle. Play now: {link}",
        battle.challenge_type
    )
}

/// F-SMS-22: won, lost or tie, as `user_id` sees it.
pub fn battle_result_text(battle: &Battle, user_id: &str, link: &str) -> String {
    let opponent = opponent_name(battle, user_id);
    let outcome = match (battle.outcome, battle.winner_id.as_deref()) {
        (Some(Outcome::Tie), _) => format!("tied with {opponent} in"),
        (_, Some(winner)) if winner == user_id => format!("beat {opponent} in"),
        _ => format!("lost to {opponent} in"),
    };
    format!(
        "Versus: you {outcome} your {} battle. See the result: {link}",
        battle.challenge_type
    )
}

fn opponent_name<'a>(battle: &'a Battle, user_id: &str) -> &'a str {
    battle
        .opponent_of(user_id)
        .map(|p| p.username.as_str())
        .unwrap_or("your opponent")
}

/// F-SMS-23: the battle's deadline is about an hour away.
pub fn battle_reminder_text(battle: &Battle, user_id: &str, link: &str) -> String {
    let opponent = opponent_name(battle, user_id);
    format!(
        "Versus: your {} battle with {opponent} ends in about an hour. Play now: {link}",
        battle.challenge_type
    )
}

/// F-SMS-24: a streak that ends tonight unless the player plays.
pub fn streak_alert_text(streak_days: u32, link: &str) -> String {
    format!(
        "Versus: your {streak_days}-day streak ends at midnight. One battle keeps it alive: {link}"
    )
}

/// F-SMS-19: names the sender; the outbox adds the STOP line (F-SMS-10).
pub fn invitation_text(
    sender: &str,
    challenge_type: &str,
    message: Option<&str>,
    link: &str,
) -> String {
    match message {
        Some(m) => format!(
            "{sender} challenged you to a {challenge_type} battle on Versus: \"{m}\" Accept: {link}"
        ),
        None => format!("{sender} challenged you to a {challenge_type} battle on Versus: {link}"),
    }
}

/// F-MM-6 by phone: the code, the stake and until when it can be used.
pub fn private_match_text(
    sender: &str,
    challenge_type: &str,
    code: &str,
    stake: Option<i64>,
    valid_until_ms: i64,
    link: &str,
) -> String {
    let stake = stake.map(|s| format!(", stake {s}")).unwrap_or_default();
    let until = chrono::DateTime::from_timestamp_millis(valid_until_ms)
        .map(|t| t.format("%H:%M UTC on %d %b").to_string())
        .unwrap_or_default();
    format!(
        "{sender} invited you to a private {challenge_type} battle on Versus{stake}. Code {code}, valid until {until}. Join: {link}"
    )
}

/// A sender's personal message (F-SMS-19): trimmed, one line, at most
/// `max_chars`, and folded to GSM-7 where a look-alike exists so one emoji
/// does not double the cost of a whole text. Empty means none.
pub fn personal_message(raw: Option<&str>, max_chars: usize) -> Result<Option<String>, Error> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(Error::validation(
            "message may not contain control characters",
        ));
    }
    let folded: String = raw
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => "'".to_string(),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => "\"".to_string(),
            '\u{2013}' | '\u{2014}' | '\u{2212}' => "-".to_string(),
            '\u{2026}' => "...".to_string(),
            '\u{00A0}' => " ".to_string(),
            other => other.to_string(),
        })
        .collect();
    let message = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.is_empty() {
        return Ok(None);
    }
    let length = message.chars().count();
    if length > max_chars {
        return Err(Error::validation(format!(
            "message is {length} characters; at most {max_chars}"
        )));
    }
    Ok(Some(message))
}

/// Refuses a text that would be longer than `max_segments` once sent
/// (promotional ones with their STOP line), before anything is written.
pub fn check_length(
    message_type: crate::sms::MessageType,
    body: &str,
    max_segments: u32,
) -> Result<(), Error> {
    let sent = crate::sms::finish_body(message_type, body);
    let analysis = crate::sms::segments::analyze(&sent);
    if analysis.segments > max_segments {
        return Err(Error::bad_request(
            "message_too_long",
            format!(
                "with your message the text takes {} SMS segments ({}); at most {max_segments}: shorten the message",
                analysis.segments,
                crate::sms::wire_name(analysis.encoding)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::battles::{MatchSource, NewBattle, Player};
    use crate::sms::segments::{analyze, Encoding};
    use crate::sms::{finish_body, MessageType};

    fn battle() -> Battle {
        let p = |id: &str| Player {
            id: id.into(),
            username: format!("{id}_name"),
        };
        NewBattle {
            players: [p("a"), p("b")],
            challenge_type: "prompt_duel".into(),
            source: MatchSource::Queue,
            invitation_id: None,
            private_code: None,
            stake: None,
        }
        .build(0, 3600)
    }

    #[test]
    fn templates_are_one_gsm7_segment() {
        let links = Links::new("https://play.example.com/");
        let mut b = battle();
        let link = links.battle(&b.battle_id);
        assert!(link.starts_with("https://play.example.com/battles/"));
        let found = match_found_text(&b, "a", &link);
        assert!(found.contains("b_name") && found.contains(&link));
        b.outcome = Some(Outcome::Win);
        b.winner_id = Some("a".into());
        assert!(battle_result_text(&b, "a", &link).contains("beat b_name"));
        assert!(battle_result_text(&b, "b", &link).contains("lost to a_name"));
        b.outcome = Some(Outcome::Tie);
        b.winner_id = None;
        assert!(battle_result_text(&b, "b", &link).contains("tied with a_name"));
        let token = Secret::new("t".repeat(43));
        let invite = finish_body(
            MessageType::BattleInvitation,
            &invitation_text("alice", "prompt_duel", None, &links.invite(&token)),
        );
        for text in [found, battle_result_text(&b, "a", &link), invite.clone()] {
            let a = analyze(&finish_body(MessageType::BattleResult, &text));
            assert_eq!((a.encoding, a.segments), (Encoding::Gsm7, 1), "{text}");
        }
        assert!(
            invite.starts_with("alice challenged you")
                && invite.ends_with("Reply STOP to unsubscribe.")
        );
    }

    #[test]
    fn personal_messages_fold_to_gsm7_and_are_bounded() {
        assert_eq!(
            personal_message(Some("  “Bet you can’t” — win…  "), 100).unwrap(),
            Some("\"Bet you can't\" - win...".into())
        );
        assert_eq!(personal_message(Some("   "), 100).unwrap(), None);
        assert_eq!(personal_message(None, 100).unwrap(), None);
        assert!(personal_message(Some(&"x".repeat(101)), 100).is_err());
        assert!(personal_message(Some("a\u{7}b"), 100).is_err());
        let long = invitation_text(
            "alice",
            "prompt_duel",
            Some(&"🔥".repeat(60)),
            "https://x/invite/t",
        );
        assert_eq!(
            check_length(MessageType::BattleInvitation, &long, 3)
                .unwrap_err()
                .code(),
            "message_too_long"
        );
        assert!(check_length(MessageType::BattleInvitation, "short", 1).is_ok());
    }
}
