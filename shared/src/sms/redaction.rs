//! Secrets at rest (F-SMS-17, F-SMS-19, F-MM-6): a stored text keeps the
//! code or invite token it carries only while it may still be sent. The
//! outbox stores the masked text beside a new log (`redacted_body`), and
//! every final write moves it into `body`. Logs written before that hold
//! their secrets in `body` for their whole 180 days: a one-off walk
//! (`{"job":"redact_sms_bodies"}` to scheduled-jobs, run once by hand after
//! upgrading) masks the final ones. It scans (those logs are in no index),
//! resumes from its checkpoint, and a rerun changes nothing.

use super::log::{SmsLog, Status};
use super::store::SmsStore;
use crate::db::{self, s, UpdateExpr};
use crate::error::Error;
use crate::sweep::{readable, Read, Segment, Sweep};
use futures::future::BoxFuture;

/// Where a secret starts in a text, what it is made of, and what it becomes.
struct SecretShape {
    after: &'static str,
    part_of: fn(char) -> bool,
    mask: &'static str,
}

/// The secrets texts carry: a verification code, an invite link's token, a
/// private match code (in the text and in its link).
const SECRETS: [SecretShape; 4] = [
    SecretShape {
        after: "Your Versus code is ",
        part_of: |c| c.is_ascii_digit(),
        mask: "******",
    },
    SecretShape {
        after: "/invite/",
        part_of: |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
        mask: "****",
    },
    SecretShape {
        after: "Code ",
        part_of: |c| c.is_ascii_alphanumeric(),
        mask: "******",
    },
    SecretShape {
        after: "/join/",
        part_of: |c| c.is_ascii_alphanumeric(),
        mask: "******",
    },
];

/// `body` with every secret it carries masked; `None` when it has none
/// (or has only masks already).
pub fn masked(body: &str) -> Option<String> {
    let mut out = body.to_string();
    for shape in &SECRETS {
        let mut from = 0;
        while let Some(found) = out[from..].find(shape.after) {
            let start = from + found + shape.after.len();
            let len: usize = out[start..]
                .chars()
                .take_while(|c| (shape.part_of)(*c))
                .map(char::len_utf8)
                .sum();
            if len > 0 {
                out.replace_range(start..start + len, shape.mask);
            }
            from = start + if len > 0 { shape.mask.len() } else { 0 };
        }
    }
    (out != body).then_some(out)
}

/// What the walk reads: final logs of the types that carry secrets.
pub fn unredacted_logs(store: &SmsStore) -> Vec<Segment> {
    vec![Segment {
        table: store.table.clone(),
        read: Read::Scan {
            filter: "sk = :log AND #status IN (:sent, :delivered, :failed, :suppressed) \
                     AND message_type IN (:code, :invitation)",
            names: &[("#status", "status")],
            values: vec![
                (":log", s("LOG")),
                (":sent", Status::Sent.value()),
                (":delivered", Status::Delivered.value()),
                (":failed", Status::Failed.value()),
                (":suppressed", Status::Suppressed.value()),
                (":code", s("phone_verification")),
                (":invitation", s("battle_invitation")),
            ],
        },
        cursor_attributes: &["pk", "sk"],
    }]
}

/// Masks one final log's body, on the condition that it is still the
/// body read; true when this call changed it.
async fn redact_body(store: &SmsStore, log: &SmsLog) -> Result<bool, Error> {
    let Some(masked) = masked(&log.body) else {
        return Ok(false);
    };
    let update = UpdateExpr::new()
        .set("body", s(masked))
        .remove("redacted_body")
        .condition("#body = :seen")
        .value(":seen", s(&log.body))
        .apply(store.log_update(&log.sms_id));
    Ok(db::conditional(update.send().await)?.is_some())
}

/// The walk's work on a page of logs.
pub struct BodyRedaction<'a>(pub &'a SmsStore);

impl Sweep for BodyRedaction<'_> {
    fn visit<'a>(&'a self, items: Vec<db::Item>) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let mut masked = 0;
            for log in readable::<SmsLog>(items) {
                masked += u64::from(redact_body(self.0, &log).await?);
            }
            Ok(masked)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn secrets_are_masked_and_the_rest_kept() {
        assert_eq!(
            masked("Your Versus code is 123456. It expires in 10 minutes. Do not share it.")
                .as_deref(),
            Some("Your Versus code is ******. It expires in 10 minutes. Do not share it.")
        );
        let token = "a".repeat(20) + "-_B9" + &"c".repeat(19);
        assert_eq!(
            masked(&format!("alice challenged you: https://versus.example/invite/{token} Reply STOP to unsubscribe.")).as_deref(),
            Some("alice challenged you: https://versus.example/invite/**** Reply STOP to unsubscribe.")
        );
        assert_eq!(
            masked("bob invited you to a private duel battle on Versus. Code K7MPQ2, valid until 10:00 UTC on 07 Dec. Join: https://v.example/join/K7MPQ2").as_deref(),
            Some("bob invited you to a private duel battle on Versus. Code ******, valid until 10:00 UTC on 07 Dec. Join: https://v.example/join/******")
        );
        // Nothing to mask, or masked already: no change.
        assert_eq!(masked("Your battle result is in."), None);
        assert_eq!(masked("Your Versus code is ******."), None);
        assert_eq!(masked("https://v.example/invite/****"), None);
    }
}
