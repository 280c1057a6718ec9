//! F-JOB-2, F-SMS-24: one `streak_alert` a day to a player whose streak of
//! 3+ days ends tonight: no activity yet today in their own time zone, and
//! their local evening now. The ledger files each such streak under the UTC
//! hour its evening starts (the sparse `streak_alerts` index, see
//! `points::rules::streak_alert_hour`), so an hourly run reads only the
//! players it may text; it still checks each one's current profile.

use super::player::{Notice, PlayerTexts, Texted};
use super::{streak_alert_text, Links};
use crate::clock::{local_date, local_day_end, local_hour, utc_hour_key};
use crate::db::{self, s, Item};
use crate::error::Error;
use crate::keys::users::profile_key;
use crate::keys::users::{STREAK_ALERTS_INDEX, STREAK_ALERT_HOUR_ATTR};
use crate::points::rules::{EveningWindow, STREAK_ALERT_MIN_DAYS};
use crate::profile::Profile;
use crate::sms::store::Status;
use crate::sms::MessageType;
use crate::sweep::{readable, Read, Segment, Sweep};
use futures::future::BoxFuture;

#[derive(Clone)]
pub struct StreakAlerts {
    texts: PlayerTexts,
    client: aws_sdk_dynamodb::Client,
    users_table: String,
    links: Links,
    window: EveningWindow,
}

/// Is `profile`'s streak at risk at `at_ms`, in their local evening?
/// Returns their local date (the alert's once-key), if so.
pub fn at_risk(profile: &Profile, at_ms: i64, window: EveningWindow) -> Option<chrono::NaiveDate> {
    let points = &profile.points;
    if points.current_streak_days < STREAK_ALERT_MIN_DAYS {
        return None;
    }
    let zone = profile.day_zone();
    let today = local_date(at_ms, &zone);
    if points.last_activity_date? != today.pred_opt()? {
        return None;
    }
    window.contains(local_hour(at_ms, &zone)).then_some(today)
}

/// The UTC hour (`YYYY-MM-DDTHH`) a run at `at_ms` covers: the partition
/// `points::rules::streak_alert_hour` filed its players under.
pub fn run_hour(at_ms: i64) -> String {
    utc_hour_key(at_ms)
}

impl StreakAlerts {
    pub fn new(
        texts: PlayerTexts,
        client: aws_sdk_dynamodb::Client,
        users_table: impl Into<String>,
        links: Links,
        window: EveningWindow,
    ) -> Self {
        StreakAlerts {
            texts,
            client,
            users_table: users_table.into(),
            links,
            window,
        }
    }

    /// The one partition a run at `at_ms` reads.
    pub fn segments(&self, at_ms: i64) -> Vec<Segment> {
        vec![Segment {
            table: self.users_table.clone(),
            read: Read::Partition {
                index: STREAK_ALERTS_INDEX,
                partition: (STREAK_ALERT_HOUR_ATTR, s(run_hour(at_ms))),
                sort_between: None,
            },
            cursor_attributes: &["pk", "sk", STREAK_ALERT_HOUR_ATTR, "user_id"],
        }]
    }

    /// One run's sweep: `at_ms` is the time the run stands for (its
    /// schedule), `now_ms` when the texts are sent.
    pub fn sweep(&self, at_ms: i64, now_ms: i64) -> StreakSweep<'_> {
        StreakSweep {
            alerts: self,
            at_ms,
            now_ms,
        }
    }

    async fn alert(&self, profile: &Profile, at_ms: i64, now_ms: i64) -> Result<u64, Error> {
        let Some(today) = at_risk(profile, at_ms, self.window) else {
            return Ok(0);
        };
        let notice = Notice {
            message_type: MessageType::StreakAlert,
            body: streak_alert_text(profile.points.current_streak_days, &self.links.page("")),
            related: None,
            once: format!("streak_alert#{}#{today}", profile.user_id),
            extra_limits: Vec::new(),
            // At midnight the streak is gone: a text held past it says nothing true.
            send_by: Some(local_day_end(at_ms, &profile.day_zone())),
        };
        Ok(
            match self.texts.text_profile(profile, notice, now_ms).await? {
                Texted::Logged(log) => u64::from(log.status != Status::Suppressed),
                Texted::Repeat | Texted::NoNumber => 0,
            },
        )
    }
}

pub struct StreakSweep<'a> {
    alerts: &'a StreakAlerts,
    at_ms: i64,
    now_ms: i64,
}

/// Texts in flight at once within a page.
const CONCURRENCY: usize = 8;

impl Sweep for StreakSweep<'_> {
    fn visit<'a>(&'a self, items: Vec<Item>) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let keys: Vec<Item> = items
                .iter()
                .filter_map(|i| db::get_s(i, "user_id"))
                .map(profile_key)
                .collect();
            let items: Vec<Item> =
                db::batch_get(&self.alerts.client, &self.alerts.users_table, keys).await?;
            let profiles = readable::<Profile>(items);
            let mut queued = 0;
            for chunk in profiles.chunks(CONCURRENCY) {
                let each = chunk
                    .iter()
                    .map(|p| self.alerts.alert(p, self.at_ms, self.now_ms));
                for n in futures::future::join_all(each).await {
                    queued += n?;
                }
            }
            Ok(queued)
        })
    }
}
