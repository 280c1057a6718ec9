//! Tiers (F-PT-2) and levels (F-PT-3): one table each, pure functions of the
//! total; streaks (F-PT-4) and activity types (F-PT-5), with `today` passed in.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Ember,
    Spark,
    Blaze,
    Beacon,
    Phoenix,
}

/// (tier, points needed), ascending.
pub const TIERS: [(Tier, i64); 5] = [
    (Tier::Ember, 0),
    (Tier::Spark, 250),
    (Tier::Blaze, 500),
    (Tier::Beacon, 1000),
    (Tier::Phoenix, 2500),
];

/// Points needed for levels 1..=20; past 20 every level needs 10,000 more.
pub const LEVEL_THRESHOLDS: [i64; 20] = [
    0, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 2500, 3500, 5000, 7500, 10_000, 15_000,
    20_000, 30_000, 40_000, 50_000,
];
const POINTS_PER_LEVEL_PAST_TABLE: i64 = 10_000;

pub fn tier_for(total: i64) -> Tier {
    TIERS
        .iter()
        .rev()
        .find(|(_, min)| total >= *min)
        .map(|(t, _)| *t)
        .unwrap_or(Tier::Ember)
}

/// Points still needed for the next tier; `None` at the top tier.
pub fn points_to_next_tier(total: i64) -> Option<i64> {
    TIERS
        .iter()
        .find(|(_, min)| *min > total)
        .map(|(_, min)| min - total)
}

pub fn level_threshold(level: u32) -> i64 {
    match level {
        0 | 1 => 0,
        l if (l as usize) <= LEVEL_THRESHOLDS.len() => LEVEL_THRESHOLDS[l as usize - 1],
        l => LEVEL_THRESHOLDS[19] + (l as i64 - 20) * POINTS_PER_LEVEL_PAST_TABLE,
    }
}

pub fn level_for(total: i64) -> u32 {
    let total = total.max(0);
    if total >= LEVEL_THRESHOLDS[19] {
        return 20 + ((total - LEVEL_THRESHOLDS[19]) / POINTS_PER_LEVEL_PAST_TABLE) as u32;
    }
    LEVEL_THRESHOLDS
        .iter()
        .rposition(|t| total >= *t)
        .map(|i| i as u32 + 1)
        .unwrap_or(1)
}

pub fn points_to_next_level(total: i64) -> i64 {
    level_threshold(level_for(total) + 1) - total.max(0)
}

/// F-PT-5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    QuizComplete,
    ProjectCreate,
    ProjectUpdate,
    Comment,
    Reaction,
    DailyLogin,
    StreakBonus,
    WeeklyGoal,
    SideQuest,
    SpecialEvent,
    Referral,
    BattleWin,
    BattleTie,
    BattleParticipation,
}

impl ActivityType {
    /// Rewards the system pays for activity (bonuses, goals, quests) are not
    /// activity themselves: they neither extend a streak nor count towards
    /// goals and quests (which would let a reward pay for itself).
    pub fn is_reward(self) -> bool {
        matches!(
            self,
            ActivityType::StreakBonus | ActivityType::WeeklyGoal | ActivityType::SideQuest
        )
    }

    /// The lifetime counter an activity moves (F-PT-5).
    pub fn lifetime_counter(self) -> Option<&'static str> {
        match self {
            ActivityType::QuizComplete => Some("lifetime_quizzes_completed"),
            ActivityType::ProjectCreate => Some("lifetime_projects_created"),
            ActivityType::Comment => Some("lifetime_comments_posted"),
            _ => None,
        }
    }

    pub fn is_battle(self) -> bool {
        matches!(
            self,
            ActivityType::BattleWin | ActivityType::BattleTie | ActivityType::BattleParticipation
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streak {
    pub current: u32,
    pub longest: u32,
    pub last_activity_date: Option<NaiveDate>,
}

/// F-PT-4: the streak after activity on `today` (the user's local date).
/// The same day changes nothing, the next day extends it, a gap restarts at 1;
/// a date before the last one (a clock going back) changes nothing either.
pub fn streak_after(streak: Streak, today: NaiveDate) -> Streak {
    let current = match streak.last_activity_date {
        Some(last) if last >= today => {
            return Streak {
                current: streak.current.max(1),
                longest: streak.longest.max(streak.current.max(1)),
                ..streak
            }
        }
        Some(last) if last.succ_opt() == Some(today) => streak.current + 1,
        _ => 1,
    };
    Streak {
        current,
        longest: streak.longest.max(current),
        last_activity_date: Some(today),
    }
}

/// The streak as it stands on `today` without new activity: a streak whose
/// last day is before yesterday is broken (reads show 0; F-PT-7).
pub fn streak_on(streak: Streak, today: NaiveDate) -> u32 {
    match streak.last_activity_date {
        Some(last) if last >= today.pred_opt().unwrap_or(today) => streak.current,
        _ => 0,
    }
}

/// F-JOB-1: the daily streak bonus.
pub fn streak_bonus(current_streak: u32) -> i64 {
    5 * i64::from(current_streak.min(100))
}

/// F-SMS-24: the local evening hours in which a streak at risk is worth a
/// text (`start` inclusive, `end` exclusive, 0-24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EveningWindow {
    pub start_hour: u32,
    pub end_hour: u32,
}

impl Default for EveningWindow {
    fn default() -> Self {
        EveningWindow {
            start_hour: 19,
            end_hour: 20,
        }
    }
}

impl EveningWindow {
    pub fn contains(&self, local_hour: u32) -> bool {
        (self.start_hour..self.end_hour).contains(&local_hour)
    }
}

/// Streaks this long are worth a reminder when at risk (F-SMS-24).
pub const STREAK_ALERT_MIN_DAYS: u32 = 3;

/// F-JOB-2: the UTC hour (`YYYY-MM-DDTHH`) whose hourly run finds a streak
/// last extended on local `date`: the day after, at the evening window's
/// start in `timezone`, rounded up to a whole UTC hour (so a +05:30 zone's
/// 19:00 is found at 19:30, still inside the window). A user active again
/// gets a later hour, which is how "no activity today" stays true of
/// everyone the run finds. `None` for a streak too short to alert.
pub fn streak_alert_hour(
    streak_days: u32,
    date: NaiveDate,
    timezone: &str,
    window: EveningWindow,
) -> Option<String> {
    use chrono::{TimeZone, Timelike};
    if streak_days < STREAK_ALERT_MIN_DAYS {
        return None;
    }
    let tz = crate::clock::zone(timezone);
    let next_day = date.succ_opt()?;
    // A start hour inside a DST gap moves to the next hour that exists.
    let start = (window.start_hour..window.end_hour.max(window.start_hour + 1))
        .filter_map(|h| next_day.and_hms_opt(h, 0, 0))
        .find_map(|t| tz.from_local_datetime(&t).earliest())?
        .with_timezone(&chrono::Utc);
    let hour = start.with_minute(0)?.with_second(0)?;
    let hour = if hour < start {
        hour + chrono::Duration::hours(1)
    } else {
        hour
    };
    Some(crate::clock::utc_hour_key(hour.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    #[test]
    fn streaks_across_days_gaps_and_the_longest() {
        let s = streak_after(Streak::default(), day("2026-11-20"));
        assert_eq!((s.current, s.longest), (1, 1));
        let s = streak_after(s, day("2026-11-20"));
        assert_eq!((s.current, s.longest), (1, 1), "same day");
        let s = streak_after(s, day("2026-11-21"));
        let s = streak_after(s, day("2026-11-22"));
        assert_eq!((s.current, s.longest), (3, 3));
        // Across a month and a year boundary.
        let s = streak_after(
            Streak {
                current: 3,
                longest: 3,
                last_activity_date: Some(day("2026-12-31")),
            },
            day("2027-01-01"),
        );
        assert_eq!(s.current, 4);
        // A gap restarts at 1 and keeps the longest.
        let s = streak_after(s, day("2027-01-03"));
        assert_eq!((s.current, s.longest), (1, 4));
        assert_eq!(streak_on(s, day("2027-01-04")), 1);
        assert_eq!(streak_on(s, day("2027-01-05")), 0);
        // Time going back changes nothing.
        assert_eq!(streak_after(s, day("2027-01-01")), s);
    }

    #[test]
    fn streak_bonus_is_capped() {
        assert_eq!(streak_bonus(1), 5);
        assert_eq!(streak_bonus(100), 500);
        assert_eq!(streak_bonus(365), 500);
    }

    proptest! {
        #[test]
        fn streaks_never_exceed_their_longest(gaps in proptest::collection::vec(0u32..4, 1..60)) {
            let mut s = Streak::default();
            let mut today = day("2026-01-01");
            for g in gaps {
                today = today + chrono::Days::new(u64::from(g));
                s = streak_after(s, today);
                prop_assert!(s.current >= 1 && s.current <= s.longest);
                prop_assert_eq!(s.last_activity_date, Some(today));
            }
        }
    }

    #[test]
    fn tiers_follow_the_table() {
        assert_eq!(tier_for(0), Tier::Ember);
        assert_eq!(tier_for(249), Tier::Ember);
        assert_eq!(tier_for(250), Tier::Spark);
        assert_eq!(tier_for(999), Tier::Blaze);
        assert_eq!(tier_for(1000), Tier::Beacon);
        assert_eq!(tier_for(2500), Tier::Phoenix);
        assert_eq!(points_to_next_tier(240), Some(10));
        assert_eq!(points_to_next_tier(9999), None);
    }

    #[test]
    fn levels_follow_the_table_and_continue_past_20() {
        assert_eq!(level_for(0), 1);
        assert_eq!(level_for(49), 1);
        assert_eq!(level_for(50), 2);
        assert_eq!(level_for(50_000), 20);
        assert_eq!(level_for(59_999), 20);
        assert_eq!(level_for(60_000), 21);
        assert_eq!(level_for(70_000), 22);
        assert_eq!(points_to_next_level(0), 50);
        assert_eq!(points_to_next_level(55_000), 5_000);
    }

    proptest! {
        #[test]
        fn level_is_monotonic_and_consistent(a in 0i64..2_000_000, b in 0i64..2_000_000) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(level_for(lo) <= level_for(hi));
            let l = level_for(a);
            prop_assert!(level_threshold(l) <= a && a < level_threshold(l + 1));
        }
    }

    #[test]
    fn streak_alert_hours_follow_the_zone() {
        let d: NaiveDate = "2026-11-22".parse().unwrap();
        let w = EveningWindow::default();
        // Kampala is UTC+3: 19:00 on the 23rd is 16:00 UTC.
        assert_eq!(
            streak_alert_hour(3, d, "Africa/Kampala", w).as_deref(),
            Some("2026-11-23T16")
        );
        // Kolkata is UTC+05:30: 19:00 is 13:30 UTC, found by the 14:00 run (19:30 local).
        assert_eq!(
            streak_alert_hour(5, d, "Asia/Kolkata", w).as_deref(),
            Some("2026-11-23T14")
        );
        // Los Angeles is UTC-8 in November: 19:00 on the 23rd is 03:00 UTC on the 24th.
        assert_eq!(
            streak_alert_hour(3, d, "America/Los_Angeles", w).as_deref(),
            Some("2026-11-24T03")
        );
        // Too short a streak: no alert; an unknown zone counts as UTC.
        assert_eq!(streak_alert_hour(2, d, "UTC", w), None);
        assert_eq!(
            streak_alert_hour(3, d, "Not/AZone", w).as_deref(),
            Some("2026-11-23T19")
        );
        // A DST gap at the window's start (London, 29 March 2026, 01:00 -> 02:00).
        let gap = EveningWindow {
            start_hour: 1,
            end_hour: 3,
        };
        let before: NaiveDate = "2026-03-28".parse().unwrap();
        assert_eq!(
            streak_alert_hour(3, before, "Europe/London", gap).as_deref(),
            Some("2026-03-29T01")
        );
        assert!(w.contains(19) && !w.contains(20) && !w.contains(18));
    }
}
