//! Inbound SMS (F-SMS-11): keywords, and Twilio's request signature.

use hmac::{Hmac, Mac};
use sha1::Sha1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Stop,
    Start,
    Help,
}

const STOP_WORDS: [&str; 11] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "OPT-OUT",
    "REMOVE",
    "ARRET",
    "TD",
];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];

/// The keyword a message is, ignoring case and spaces (`" stop "`, `"Opt Out"`).
pub fn keyword(body: &str) -> Option<Keyword> {
    let word: String = body
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let word = if word == "OPTOUT" || word == "OPT-OUT" {
        "OPTOUT".to_string()
    } else {
        word
    };
    if STOP_WORDS
        .iter()
        .any(|w| w.replace('-', "") == word.replace('-', ""))
    {
        Some(Keyword::Stop)
    } else if START_WORDS.contains(&word.as_str()) {
        Some(Keyword::Start)
    } else if word == "HELP" || word == "INFO" {
        Some(Keyword::Help)
    } else {
        None
    }
}

pub const STOP_REPLY: &str =
    "You are unsubscribed from Versus texts and will get no more. Reply START to resubscribe.";
pub const START_REPLY: &str = "You are resubscribed to Versus texts. Reply STOP to unsubscribe.";
pub const HELP_REPLY: &str = "Versus: battle invitations, results and alerts. Msg&data rates may apply. Reply STOP to unsubscribe.";

/// A DMark delivery report's status: `Some(true)` delivered, `Some(false)`
/// failed, `None` for an interim state (accepted, sent to the network).
/// Both SMPP-style (`DELIVRD`) and word (`delivered`) forms are understood.
pub fn dmark_status(status: &str) -> Option<bool> {
    match status.trim().to_ascii_uppercase().as_str() {
        "DELIVRD" | "DELIVERED" | "SUCCESS" | "1" => Some(true),
        "UNDELIV" | "UNDELIVERED" | "FAILED" | "FAILURE" | "REJECTD" | "REJECTED" | "EXPIRED"
        | "DELETED" | "2" => Some(false),
        _ => None,
    }
}

/// What AWS End User Messaging SMS publishes to the SMS events topic (an
/// SNS record's `Message`): a delivery event of a text we sent, or a text
/// to our number (two-way SMS).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum SmsTopicMessage {
    Delivery {
        #[serde(rename = "eventType")]
        event_type: String,
        /// The provider's message id (ours is not echoed).
        #[serde(rename = "messageId")]
        message_id: String,
        #[serde(rename = "messageStatusDescription", default)]
        description: Option<String>,
    },
    Inbound {
        #[serde(rename = "originationNumber")]
        from: String,
        #[serde(rename = "messageBody")]
        body: String,
    },
}

impl SmsTopicMessage {
    /// `None` for a message that is neither (logged and skipped by the caller).
    pub fn parse(message: &str) -> Option<Self> {
        serde_json::from_str(message).ok()
    }
}

/// An AWS End User Messaging SMS event type: `Some(true)` delivered,
/// `Some(false)` failed for good, `None` for an interim state (queued,
/// pending, handed to the carrier).
pub fn sns_event_delivered(event_type: &str) -> Option<bool> {
    match event_type {
        "TEXT_DELIVERED" => Some(true),
        "TEXT_BLOCKED"
        | "TEXT_CARRIER_BLOCKED"
        | "TEXT_CARRIER_UNREACHABLE"
        | "TEXT_INVALID"
        | "TEXT_INVALID_MESSAGE"
        | "TEXT_SPAM"
        | "TEXT_TTL_EXPIRED"
        | "TEXT_UNREACHABLE"
        | "TEXT_UNKNOWN"
        | "TEXT_PROTECT_BLOCKED" => Some(false),
        _ => None,
    }
}

/// Twilio's `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, URL + each
/// POST parameter's name and value, sorted by name)).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(twilio_mac(auth_token, url, params).finalize().into_bytes())
}

/// Twilio's HMAC-SHA1 over the URL and the sorted parameters.
fn twilio_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    mac
}

/// Checks a signature with the `hmac` crate's constant-time comparison
/// (nothing told, by timing, of how much matched); one that is not base64
/// is simply wrong.
pub fn twilio_signature_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    use base64::Engine;
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    twilio_mac(auth_token, url, params)
        .verify_slice(&tag)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_ignore_case_and_spaces() {
        for w in [
            "STOP",
            " stop ",
            "Stop All",
            "unsubscribe",
            "opt-out",
            "Opt Out",
            "arret",
            "TD",
            "quit",
        ] {
            assert_eq!(keyword(w), Some(Keyword::Stop), "{w}");
        }
        for w in ["start", "UNSTOP", "Yes"] {
            assert_eq!(keyword(w), Some(Keyword::Start), "{w}");
        }
        assert_eq!(keyword("help"), Some(Keyword::Help));
        assert_eq!(keyword("stop it please"), None);
        assert_eq!(keyword("hello"), None);
        for reply in [STOP_REPLY, START_REPLY, HELP_REPLY] {
            assert_eq!(
                super::super::segments::analyze(reply).encoding,
                super::super::segments::Encoding::Gsm7
            );
        }
    }

    #[test]
    fn dmark_statuses() {
        assert_eq!(dmark_status("DELIVRD"), Some(true));
        assert_eq!(dmark_status(" delivered "), Some(true));
        assert_eq!(dmark_status("UNDELIV"), Some(false));
        assert_eq!(dmark_status("expired"), Some(false));
        assert_eq!(dmark_status("ACCEPTD"), None);
        assert_eq!(dmark_status("sent"), None);
    }

    #[test]
    fn twilio_signature_follows_the_documented_algorithm() {
        // The parameters of Twilio's "Webhooks security" example; the expected
        // value was computed independently (Python's hmac module) from the
        // documented recipe: URL + sorted name/value pairs, HMAC-SHA1, base64.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sig = twilio_signature(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
        );
        assert_eq!(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(twilio_signature_valid(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            &sig
        ));
        assert!(!twilio_signature_valid(
            "12346",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            &sig
        ));
    }

    #[test]
    fn topic_messages_are_delivery_events_or_inbound_texts() {
        assert_eq!(
            SmsTopicMessage::parse(
                r#"{"eventType":"TEXT_BLOCKED","messageId":"m-1","messageStatusDescription":"Blocked","isFinal":true}"#
            ),
            Some(SmsTopicMessage::Delivery {
                event_type: "TEXT_BLOCKED".into(),
                message_id: "m-1".into(),
                description: Some("Blocked".into()),
            })
        );
        assert_eq!(
            SmsTopicMessage::parse(
                r#"{"originationNumber":"+256772123456","destinationNumber":"+15005550006","messageBody":"Stop"}"#
            ),
            Some(SmsTopicMessage::Inbound {
                from: "+256772123456".into(),
                body: "Stop".into(),
            })
        );
        for unreadable in ["", "[]", r#"{"eventType":"TEXT_DELIVERED"}"#, "not json"] {
            assert_eq!(SmsTopicMessage::parse(unreadable), None, "{unreadable}");
        }
    }
}
