//! The one retry policy for writes that lose a race (a cancelled transaction,
//! a guard that moved): exponential backoff with full jitter, so contenders
//! spread apart instead of colliding again in step, bounded by a cap. Each
//! caller bounds its attempts by what the operation can bear.
//!
//! Two scales of the same curve, because the races differ in kind:
//! - [`HOT_ITEM`]: many writers of one item whose writes commute (point
//!   awards). Any pause idles the item, so pauses stay short.
//! - [`RACE`]: a few requests racing for the same state, each re-reading it
//!   before its next try (battles, invitations, phone takeovers, limits).
//!   Pauses grow longer, so the losers read the winner's result.

use rand::Rng;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// The first pause's ceiling; each attempt doubles it.
    base_ms: u64,
    /// No pause is longer than this, however many attempts came before.
    cap_ms: u64,
}

pub const HOT_ITEM: Backoff = Backoff {
    base_ms: 4,
    cap_ms: 64,
};

pub const RACE: Backoff = Backoff {
    base_ms: 10,
    cap_ms: 640,
};

impl Backoff {
    /// The pause before retry number `attempt` (0 for the first retry).
    pub fn delay(self, attempt: u32) -> Duration {
        let ceiling = (self.base_ms << attempt.min(16)).min(self.cap_ms);
        Duration::from_millis(rand::rng().random_range(0..=ceiling))
    }

    /// Sleeps [`Backoff::delay`]`(attempt)`.
    pub async fn pause(self, attempt: u32) {
        tokio::time::sleep(self.delay(attempt)).await;
    }
}

/// [`RACE`]'s pause: the default for a lost race.
pub async fn pause(attempt: u32) {
    RACE.pause(attempt).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_are_bounded_and_grow() {
        for policy in [HOT_ITEM, RACE] {
            for attempt in 0..40 {
                assert!(policy.delay(attempt) <= Duration::from_millis(policy.cap_ms));
            }
            let first = (0..200).map(|_| policy.delay(0)).max().unwrap();
            assert!(first <= Duration::from_millis(policy.base_ms));
        }
    }
}
