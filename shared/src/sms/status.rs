//! The SMS log's state machine (F-SMS-2, F-SMS-4): its statuses, how each
//! is spelled, which are in flight (the `due` index), and every move between
//! them with the condition its write carries.

use crate::db::UpdateExpr;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Sending,
    Sent,
    Delivered,
    Failed,
    Suppressed,
    Deferred,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Sending,
        Status::Sent,
        Status::Delivered,
        Status::Failed,
        Status::Suppressed,
        Status::Deferred,
    ];

    /// The status as stored and shown: the one place it is spelled.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Suppressed => "suppressed",
            Status::Deferred => "deferred",
        }
    }

    /// As a value of a condition or an update.
    pub fn value(self) -> aws_sdk_dynamodb::types::AttributeValue {
        aws_sdk_dynamodb::types::AttributeValue::S(self.as_str().into())
    }

    /// Still to be sent (or being sent): the reconciler watches it through
    /// the sparse `due` index, which holds exactly these.
    pub const fn in_flight(self) -> bool {
        matches!(self, Status::Pending | Status::Sending | Status::Deferred)
    }
}

impl Status {
    /// How a condition or an update names this status as a value (`:sending`).
    pub fn placeholder(self) -> String {
        format!(":{}", self.as_str())
    }
}

/// Every move of a log, each one conditional write: the statuses it may
/// start from and the one it ends in. The writes' conditions are built
/// from this table ([`Transition::guard`]), so a new status or move is
/// decided here and nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Taken for sending: pending, or deferred or leased whose time came.
    Claim,
    /// The claimed log moves to the fallback provider (F-SMS-26).
    Fallback,
    /// A receipt that came while the send is being recorded waits on it.
    HoldReceipt,
    Send,
    Fail,
    Suppress,
    /// A transient failure: pending again, for another attempt.
    Retry,
    /// Held back by quiet hours or the gap.
    Defer,
    Deliver,
    /// A receipt says the sent text did not arrive.
    FailByReceipt,
    /// The reconciler queues a due log again.
    Requeue,
    /// The reconciler fails a due log out of attempts.
    GiveUp,
    /// An operator cancels a deferred text.
    Cancel,
}

impl Transition {
    pub const ALL: [Transition; 13] = [
        Transition::Claim,
        Transition::Fallback,
        Transition::HoldReceipt,
        Transition::Send,
        Transition::Fail,
        Transition::Suppress,
        Transition::Retry,
        Transition::Defer,
        Transition::Deliver,
        Transition::FailByReceipt,
        Transition::Requeue,
        Transition::GiveUp,
        Transition::Cancel,
    ];

    /// The statuses the move may start from.
    pub const fn from(self) -> &'static [Status] {
        use Status::*;
        match self {
            Transition::Claim | Transition::Requeue | Transition::GiveUp => {
                &[Pending, Sending, Deferred]
            }
            Transition::Fallback
            | Transition::HoldReceipt
            | Transition::Send
            | Transition::Fail
            | Transition::Suppress
            | Transition::Retry
            | Transition::Defer => &[Sending],
            Transition::Deliver | Transition::FailByReceipt => &[Sent],
            Transition::Cancel => &[Deferred],
        }
    }

    /// The status it ends in.
    pub const fn to(self) -> Status {
        match self {
            Transition::Claim | Transition::Fallback | Transition::HoldReceipt => Status::Sending,
            Transition::Send => Status::Sent,
            Transition::Fail | Transition::FailByReceipt | Transition::GiveUp => Status::Failed,
            Transition::Suppress | Transition::Cancel => Status::Suppressed,
            Transition::Retry | Transition::Requeue => Status::Pending,
            Transition::Defer => Status::Deferred,
            Transition::Deliver => Status::Delivered,
        }
    }

    /// `update` as this move: the status it ends in (unless it stays) and
    /// the condition that the log is in one it starts from, and `also`
    /// (which may name `#status` and the statuses' placeholders).
    pub fn guard(self, update: UpdateExpr, also: Option<&str>) -> UpdateExpr {
        let from = self.from();
        let mut update = if from == [self.to()] {
            update.named("status")
        } else {
            update.set("status", self.to().value())
        };
        let placeholders: Vec<String> = from.iter().map(|s| s.placeholder()).collect();
        for (status, placeholder) in from.iter().zip(&placeholders) {
            update = update.value(placeholder, status.value());
        }
        let guard = match placeholders.as_slice() {
            [one] => format!("#status = {one}"),
            many => format!("#status IN ({})", many.join(", ")),
        };
        update.condition(match also {
            Some(also) => format!("{guard} AND ({also})"),
            None => guard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    /// Every move, as the module docs and F-SMS-4 tell it.
    const TABLE: [(Transition, &[Status], Status); 13] = [
        (Transition::Claim, &[Pending, Sending, Deferred], Sending),
        (Transition::Fallback, &[Sending], Sending),
        (Transition::HoldReceipt, &[Sending], Sending),
        (Transition::Send, &[Sending], Sent),
        (Transition::Fail, &[Sending], Failed),
        (Transition::Suppress, &[Sending], Suppressed),
        (Transition::Retry, &[Sending], Pending),
        (Transition::Defer, &[Sending], Deferred),
        (Transition::Deliver, &[Sent], Delivered),
        (Transition::FailByReceipt, &[Sent], Failed),
        (Transition::Requeue, &[Pending, Sending, Deferred], Pending),
        (Transition::GiveUp, &[Pending, Sending, Deferred], Failed),
        (Transition::Cancel, &[Deferred], Suppressed),
    ];

    #[test]
    fn every_transition_starts_and_ends_where_the_table_says() {
        assert_eq!(TABLE.len(), Transition::ALL.len());
        for (transition, from, to) in TABLE {
            assert_eq!(transition.from(), from, "{transition:?}");
            assert_eq!(transition.to(), to, "{transition:?}");
        }
    }

    #[test]
    fn final_statuses_have_no_way_out_and_in_flight_ones_reach_one() {
        for status in Status::ALL {
            let ways_out: Vec<Transition> = Transition::ALL
                .into_iter()
                .filter(|t| t.from().contains(&status) && t.to() != status)
                .collect();
            match status {
                Delivered | Failed | Suppressed => assert!(ways_out.is_empty(), "{status:?}"),
                // A sent text waits for its receipt, and is not in flight.
                Sent => assert!(!status.in_flight() && !ways_out.is_empty()),
                _ => assert!(
                    status.in_flight() && ways_out.iter().any(|t| !t.to().in_flight()),
                    "{status:?} must be able to end"
                ),
            }
        }
    }

    #[test]
    fn guards_name_the_statuses_a_move_starts_from() {
        let one = Transition::Send.guard(UpdateExpr::new(), None);
        assert_eq!(one.expression(), "SET #status = :status");
        assert_eq!(one.condition_text(), Some("#status = :sending"));
        let many = Transition::Requeue.guard(UpdateExpr::new(), Some("#due_at = :seen"));
        assert_eq!(
            many.condition_text(),
            Some("#status IN (:pending, :sending, :deferred) AND (#due_at = :seen)")
        );
        // A move that stays writes no status, only checks it.
        let stays = Transition::Fallback.guard(UpdateExpr::new(), None);
        assert_eq!(stays.expression(), "");
        assert_eq!(stays.condition_text(), Some("#status = :sending"));
    }
}
