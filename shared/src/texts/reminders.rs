//! F-JOB-4, F-SMS-23: `battle_reminder` to each player of an active battle
//! whose deadline is about an hour away. Active battles are listed by the
//! UTC hour of their deadline, in shards (`gsi1`, `DEADLINE#<hour>#<nn>`),
//! so a run reads only the battles due in its window. Windows of runs 15 minutes apart
//! overlap (each is 30 minutes wide), so one late or lost run misses
//! nobody; the once-key per battle and player keeps it to one text.

use super::notices::battle_related;
use super::player::{Notice, PlayerTexts, Texted};
use super::{battle_reminder_text, Links};
use crate::battles::{Battle, BattleStatus};
use crate::db::{s, Item};
use crate::error::Error;
use crate::keys::battles::{deadline_partitions, deadline_sk};
use crate::keys::battles::{GSI1, GSI1_PK, GSI1_SK};
use crate::sms::store::Status;
use crate::sms::MessageType;
use crate::sweep::{readable, Read, Segment, Sweep};
use futures::future::BoxFuture;

/// Reminders go this long before a deadline...
pub const LEAD_MS: i64 = 60 * 60_000;
/// ...give or take this much (the run period, 15 minutes).
pub const SLACK_MS: i64 = 15 * 60_000;

#[derive(Clone)]
pub struct BattleReminders {
    texts: PlayerTexts,
    battles_table: String,
    links: Links,
}

/// The deadlines a run at `at_ms` reminds about: `[at + 45 min, at + 75 min]`.
pub fn window(at_ms: i64) -> (i64, i64) {
    (at_ms + LEAD_MS - SLACK_MS, at_ms + LEAD_MS + SLACK_MS)
}

impl BattleReminders {
    pub fn new(texts: PlayerTexts, battles_table: impl Into<String>, links: Links) -> Self {
        BattleReminders {
            texts,
            battles_table: battles_table.into(),
            links,
        }
    }

    /// The deadline-hour partitions that hold the window of a run at `at_ms`.
    pub fn segments(&self, at_ms: i64) -> Vec<Segment> {
        let (from, to) = window(at_ms);
        let mut partitions: Vec<String> = Vec::new();
        let mut t = from - from.rem_euclid(3_600_000);
        while t <= to {
            partitions.extend(deadline_partitions(t));
            t += 3_600_000;
        }
        partitions
            .into_iter()
            .map(|partition| Segment {
                table: self.battles_table.clone(),
                read: Read::Partition {
                    index: GSI1,
                    partition: (GSI1_PK, s(partition)),
                    sort_between: Some((
                        GSI1_SK,
                        s(deadline_sk(from, "")),
                        // Past every id of that millisecond.
                        s(deadline_sk(to, "~")),
                    )),
                },
                cursor_attributes: &["pk", "sk", GSI1_PK, GSI1_SK],
            })
            .collect()
    }

    /// One run's sweep, texting at `now_ms`.
    pub fn sweep(&self, now_ms: i64) -> ReminderSweep<'_> {
        ReminderSweep {
            reminders: self,
            now_ms,
        }
    }

    async fn remind(&self, battle: &Battle, now_ms: i64) -> Result<u64, Error> {
        if battle.status != BattleStatus::Active {
            return Ok(0);
        }
        let mut queued = 0;
        for player in &battle.players {
            let notice = Notice {
                message_type: MessageType::BattleReminder,
                body: battle_reminder_text(
                    battle,
                    &player.id,
                    &self.links.battle(&battle.battle_id),
                ),
                related: Some(battle_related(battle)),
                once: format!("battle_reminder#{}#{}", battle.battle_id, player.id),
                extra_limits: Vec::new(),
                // Not held by quiet hours past the deadline it is about.
                send_by: Some(battle.deadline_at),
            };
            if let Texted::Logged(log) = self.texts.text(&player.id, notice, now_ms).await? {
                queued += u64::from(log.status != Status::Suppressed);
            }
        }
        Ok(queued)
    }
}

pub struct ReminderSweep<'a> {
    reminders: &'a BattleReminders,
    now_ms: i64,
}

impl Sweep for ReminderSweep<'_> {
    fn visit<'a>(&'a self, items: Vec<Item>) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let battles = readable::<Battle>(items);
            let each = battles
                .iter()
                .map(|b| self.reminders.remind(b, self.now_ms));
            let mut queued = 0;
            for n in futures::future::join_all(each).await {
                queued += n?;
            }
            Ok(queued)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_deadline_is_in_two_runs_windows() {
        let quarter = 15 * 60_000;
        let deadline = 1_795_000_000_000i64;
        let runs: Vec<i64> = (0..12)
            .map(|i| deadline - 2 * LEAD_MS + i * quarter)
            .map(|t| t - t.rem_euclid(quarter))
            .filter(|&at| {
                let (from, to) = window(at);
                (from..=to).contains(&deadline)
            })
            .collect();
        assert!(runs.len() >= 2, "{runs:?}");
    }
}
