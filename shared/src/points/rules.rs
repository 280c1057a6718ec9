//! Tiers (F-PT-2) and levels (F-PT-3): one table each, pure functions of the total.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
}
