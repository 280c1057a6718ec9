//! Every reading and rendering of time. Handlers take one reading per event
//! ([`now_ms`]) and pass it down; the rules below are pure functions of it.
//!
//! Deployed, that reading is the system clock and nothing else. The local
//! gateway runs each invocation inside [`with_source`], so the functions it
//! hosts read the gateway's clock, which tests pin and advance. The source is
//! a task-local value set by the process that hosts the handler, never
//! something a request can carry.

use chrono::{NaiveDate, TimeZone};
use std::future::Future;
use std::sync::Arc;

/// Where an invocation reads the time from, when not the system clock.
pub type Source = Arc<dyn Fn() -> i64 + Send + Sync>;

tokio::task_local! {
    static SOURCE: Source;
}

/// Milliseconds since the epoch: the one clock reading a handler takes per event.
pub fn now_ms() -> i64 {
    SOURCE
        .try_with(|source| source())
        .unwrap_or_else(|_| system_now_ms())
}

/// The system clock, whoever hosts the handler: for what Lambda itself
/// times (an invocation's deadline), never for a rule.
pub fn system_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs `work` with [`now_ms`] reading `source` (the local gateway's clock).
pub async fn with_source<F: Future>(source: Source, work: F) -> F::Output {
    SOURCE.scope(source, work).await
}

/// A timestamp as clients see it: RFC 3339, UTC, milliseconds.
pub fn rfc3339(ms: i64) -> serde_json::Value {
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| serde_json::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(serde_json::Value::Null)
}

/// The UTC calendar date of an instant (counter windows, daily jobs).
pub fn utc_date(now_ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .date_naive()
}

/// The date in `timezone` (an IANA name); UTC when the name is unknown.
pub fn local_date(now_ms: i64, timezone: &str) -> NaiveDate {
    let utc = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => utc.with_timezone(&tz).date_naive(),
        Err(_) => utc.date_naive(),
    }
}

/// A time zone by IANA name; UTC when the name is unknown.
pub fn zone(timezone: &str) -> chrono_tz::Tz {
    timezone.parse().unwrap_or(chrono_tz::UTC)
}

/// The hour of the day (0-23) in `timezone` at an instant.
pub fn local_hour(now_ms: i64, timezone: &str) -> u32 {
    use chrono::Timelike;
    chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&zone(timezone))
        .hour()
}

/// The first instant (ms) of the day after `now_ms`'s, in `timezone`.
pub fn local_day_end(now_ms: i64, timezone: &str) -> i64 {
    let tz = zone(timezone);
    let next = local_date(now_ms, timezone)
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| tz.from_local_datetime(&t).earliest());
    next.map_or(now_ms + 86_400_000, |t| t.timestamp_millis())
}

/// The UTC hour of an instant as a key (`2026-11-22T18`): index partitions
/// by hour (battle deadlines, streak alerts) are named by it, written and
/// read alike.
pub fn utc_hour_key(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hosted_invocation_reads_its_hosts_clock() {
        let pinned: Source = Arc::new(|| 1_000);
        assert_eq!(with_source(pinned, async { now_ms() }).await, 1_000);
        // Outside the scope, the system clock (well after 1970).
        assert!(now_ms() > 1_700_000_000_000);
    }

    #[test]
    fn local_dates_follow_the_time_zone() {
        // 2026-11-22 23:30 UTC is already the 23rd in Kampala (UTC+3).
        let ms = chrono::DateTime::parse_from_rfc3339("2026-11-22T23:30:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(local_date(ms, "Africa/Kampala").to_string(), "2026-11-23");
        assert_eq!(local_date(ms, "UTC").to_string(), "2026-11-22");
        assert_eq!(utc_date(ms).to_string(), "2026-11-22");
    }
}
