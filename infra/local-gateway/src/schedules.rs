//! EventBridge Scheduler, locally: each `ScheduleV2` event of the template
//! fires its function on its `cron(...)` or `rate(...)` in UTC, by the
//! gateway's clock, with `<aws.scheduler.scheduled-time>` in its input
//! replaced by the slot it stands for, as the Scheduler does.
//! `POST /_local/schedules/{name}` fires one by hand, with an optional JSON
//! object merged into its input (e.g. another slot as `at`).

use crate::template::ScheduleDef;
use crate::Gateway;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// When a schedule fires.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// Every `minutes` minutes from the gateway's start.
    Rate { minutes: u64 },
    /// minute, hour, day of month, month, day of week (1 = Sunday), year.
    Cron([Field; 6]),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Any,
    Values(Vec<u32>),
}

impl Field {
    fn matches(&self, v: u32) -> bool {
        match self {
            Field::Any => true,
            Field::Values(vs) => vs.contains(&v),
        }
    }
}

pub fn parse(expression: &str) -> Result<When, String> {
    let expression = expression.trim();
    if let Some(body) = expression
        .strip_prefix("rate(")
        .and_then(|e| e.strip_suffix(')'))
    {
        let (n, unit) = body
            .trim()
            .split_once(' ')
            .ok_or(format!("bad rate: {expression}"))?;
        let n: u64 = n.parse().map_err(|_| format!("bad rate: {expression}"))?;
        let minutes = match unit.trim() {
            "minute" | "minutes" => n,
            "hour" | "hours" => n * 60,
            "day" | "days" => n * 1440,
            other => return Err(format!("bad rate unit {other:?}")),
        };
        return Ok(When::Rate {
            minutes: minutes.max(1),
        });
    }
    let body = expression
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
        .ok_or(format!("not a cron() or rate() expression: {expression}"))?;
    let parts: Vec<&str> = body.split_whitespace().collect();
    if parts.len() != 6 {
        return Err(format!("cron needs 6 fields: {expression}"));
    }
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)];
    let mut fields: Vec<Field> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        fields.push(parse_field(part, ranges[i], i)?);
    }
    Ok(When::Cron(fields.try_into().expect("six fields")))
}

fn name_value(s: &str, position: usize) -> Option<u32> {
    const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let upper = s.to_ascii_uppercase();
    match position {
        4 => DAYS.iter().position(|d| *d == upper).map(|i| i as u32 + 1),
        3 => MONTHS
            .iter()
            .position(|m| *m == upper)
            .map(|i| i as u32 + 1),
        _ => None,
    }
    .or_else(|| s.parse().ok())
}

fn parse_field(part: &str, (lo, hi): (u32, u32), position: usize) -> Result<Field, String> {
    if part == "*" || part == "?" {
        return Ok(Field::Any);
    }
    let mut values = Vec::new();
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| format!("bad step in {part}"))?,
            ),
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = name_value(a, position).ok_or(format!("bad value in {part}"))?;
            let b = name_value(b, position).ok_or(format!("bad value in {part}"))?;
            (a, b)
        } else {
            let a = name_value(range, position).ok_or(format!("unsupported cron field {part}"))?;
            (a, if item.contains('/') { hi } else { a })
        };
        values.extend((start..=end).step_by(step.max(1) as usize));
    }
    Ok(Field::Values(values))
}

impl When {
    /// Does the schedule fire in the minute starting at `t` (minutes since start for rates)?
    pub fn fires_at(&self, t: DateTime<Utc>, minutes_since_start: u64) -> bool {
        match self {
            When::Rate { minutes } => minutes_since_start > 0 && minutes_since_start % minutes == 0,
            When::Cron([minute, hour, dom, month, dow, year]) => {
                minute.matches(t.minute())
                    && hour.matches(t.hour())
                    && dom.matches(t.day())
                    && month.matches(t.month())
                    && dow.matches(t.weekday().num_days_from_sunday() + 1)
                    && year.matches(t.year() as u32)
            }
        }
    }
}

/// What EventBridge Scheduler puts in place of this in a target's input:
/// the time the run was scheduled for (F-JOB-7).
pub const SCHEDULED_TIME: &str = "<aws.scheduler.scheduled-time>";

/// The event a schedule delivers for its `slot`: its constant input (with the
/// scheduled time filled in), or EventBridge's scheduled-event shape when it
/// has none; `extra` is merged in.
pub fn event(schedule: &ScheduleDef, extra: Option<&Value>, slot: DateTime<Utc>) -> Value {
    let slot_text = slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut event = match &schedule.input {
        Some(input) => {
            let input = input.replace(SCHEDULED_TIME, &slot_text);
            serde_json::from_str(&input).unwrap_or(Value::String(input))
        }
        None => json!({
            "version": "0",
            "id": ulid::Ulid::new().to_string(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": crate::template::ACCOUNT_ID,
            "time": slot_text,
            "region": crate::template::REGION_FALLBACK,
            "resources": [format!("arn:aws:events:{}:{}:rule/{}", crate::template::REGION_FALLBACK, crate::template::ACCOUNT_ID, schedule.name)],
            "detail": {},
        }),
    };
    if let (Value::Object(target), Some(Value::Object(more))) = (&mut event, extra) {
        target.extend(more.clone());
    }
    event
}

/// Minutes since the epoch of an instant (the ticker's unit).
fn minute_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

fn minute_start(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minute * 60, 0).expect("minutes in chrono's range")
}

/// The latest minute in `(after, upto]` at which a cron schedule fires
/// (rates have no fixed minutes: `None`).
fn latest_slot(when: &When, after: i64, upto: i64) -> Option<DateTime<Utc>> {
    if matches!(when, When::Rate { .. }) {
        return None;
    }
    // At most a year back: no schedule of ours is rarer than weekly.
    let floor = after.max(upto - 366 * 1440);
    (floor + 1..=upto)
        .rev()
        .map(minute_start)
        .find(|t| when.fires_at(*t, 0))
}

fn spawn_run(gateway: &Arc<Gateway>, schedule: &ScheduleDef, slot: DateTime<Utc>) {
    let gateway = gateway.clone();
    let event = event(schedule, None, slot);
    let schedule = schedule.clone();
    tokio::spawn(async move {
        if let Err(e) = gateway.invoke(&schedule.function, event).await {
            tracing::warn!(schedule = %schedule.name, error = %e, "scheduled run failed");
        }
    });
}

/// Fires every schedule on time, by the gateway's clock, until `stop`. A
/// frozen clock fires nothing; a clock set or advanced by more than a minute
/// fires nothing for the minutes it skipped (`POST /_local/clock` with
/// `run_schedules` runs those on purpose).
pub fn spawn_ticker(
    gateway: Arc<Gateway>,
    schedules: Vec<ScheduleDef>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let parsed: Vec<(ScheduleDef, When)> = schedules
            .into_iter()
            .filter_map(|s| match parse(&s.expression) {
                Ok(w) => Some((s, w)),
                Err(e) => {
                    tracing::warn!(schedule = %s.name, error = %e, "schedule not run locally");
                    None
                }
            })
            .collect();
        let mut ticks: u64 = 0;
        let mut last = minute_of(gateway.clock.now());
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            let minute = minute_of(gateway.clock.now());
            let natural_tick = minute == last + 1 && !gateway.clock.is_frozen();
            last = minute;
            if !natural_tick {
                continue;
            }
            ticks += 1;
            let slot = minute_start(minute);
            for (schedule, when) in &parsed {
                if when.fires_at(slot, ticks) {
                    spawn_run(&gateway, schedule, slot);
                }
            }
        }
    })
}

/// Runs, once each and to the end, every cron schedule whose time came in
/// `(from, to]`, for the latest such slot; answers what ran.
pub async fn run_between(
    gateway: &Arc<Gateway>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    let mut ran = vec![];
    for schedule in &gateway.schedules {
        let Ok(when) = parse(&schedule.expression) else {
            continue;
        };
        let Some(slot) = latest_slot(&when, minute_of(from), minute_of(to)) else {
            continue;
        };
        let result = gateway
            .invoke(&schedule.function, event(schedule, None, slot))
            .await;
        ran.push(json!({
            "schedule": schedule.name,
            "slot": slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "ok": result.is_ok(),
        }));
    }
    ran
}

/// `POST /_local/schedules/{name}`: runs a schedule now and answers with the
/// function's result. The run stands for the schedule's latest slot by the
/// gateway's clock (the current minute for a rate); a body's fields are
/// merged into the input (an `at` there names another slot).
pub async fn trigger(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let Some(schedule) = gateway.schedules.iter().find(|s| s.name == name).cloned() else {
        let known: Vec<&str> = gateway.schedules.iter().map(|s| s.name.as_str()).collect();
        return (
            StatusCode::NOT_FOUND,
            Json(
                json!({"error": {"code": "schedule_not_found", "message": format!("no schedule {name:?}; known: {known:?}")}}),
            ),
        );
    };
    // Any content type: `curl -d '{...}'` sends form encoding by default.
    let extra = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(
                        json!({"error": {"code": "invalid_json", "message": "the body, if any, must be a JSON object (merged into the schedule's input)"}}),
                    ),
                )
            }
        }
    };
    let now = minute_of(gateway.clock.now());
    let slot = parse(&schedule.expression)
        .ok()
        .and_then(|when| latest_slot(&when, i64::MIN, now))
        .unwrap_or_else(|| minute_start(now));
    let event = event(&schedule, extra.as_ref(), slot);
    match gateway.invoke(&schedule.function, event).await {
        Ok(result) => (StatusCode::OK, Json(result)),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({"error": {"code": "function_error", "message": e}})),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn cron_expressions_of_the_template() {
        let bonus = parse("cron(55 23 * * ? *)").unwrap();
        assert!(bonus.fires_at(at("2026-11-22T23:55:00Z"), 1));
        assert!(!bonus.fires_at(at("2026-11-22T23:54:00Z"), 1));
        let monday = parse("cron(0 0 ? * MON *)").unwrap();
        assert!(monday.fires_at(at("2026-11-23T00:00:00Z"), 1)); // a Monday
        assert!(!monday.fires_at(at("2026-11-22T00:00:00Z"), 1)); // a Sunday
        let every = parse("cron(0/15 * * * ? *)").unwrap();
        assert!(every.fires_at(at("2026-11-22T10:45:00Z"), 1));
        assert!(!every.fires_at(at("2026-11-22T10:46:00Z"), 1));
        let weekdays = parse("cron(0 9 ? * MON-FRI *)").unwrap();
        assert!(weekdays.fires_at(at("2026-11-27T09:00:00Z"), 1)); // Friday
        assert!(!weekdays.fires_at(at("2026-11-28T09:00:00Z"), 1)); // Saturday
    }

    #[test]
    fn a_run_stands_for_its_latest_slot() {
        let hourly = parse("cron(0 * * * ? *)").unwrap();
        let upto = minute_of(at("2026-11-22T20:00:30Z"));
        assert_eq!(
            latest_slot(&hourly, i64::MIN, upto),
            Some(at("2026-11-22T20:00:00Z"))
        );
        // Nothing of it between 20:01 and 20:59.
        let after = minute_of(at("2026-11-22T20:00:00Z"));
        assert_eq!(latest_slot(&hourly, after, after + 59), None);
        let input = ScheduleDef {
            name: "StreakAlerts".into(),
            function: "F".into(),
            expression: "cron(0 * * * ? *)".into(),
            input: Some(format!(
                r#"{{"job":"streak_alerts","at":"{SCHEDULED_TIME}"}}"#
            )),
        };
        let e = event(&input, None, at("2026-11-22T19:00:00Z"));
        assert_eq!(e["at"], "2026-11-22T19:00:00Z");
    }

    #[test]
    fn rates_and_bad_expressions() {
        let r = parse("rate(15 minutes)").unwrap();
        assert!(r.fires_at(at("2026-11-22T10:00:00Z"), 30));
        assert!(!r.fires_at(at("2026-11-22T10:00:00Z"), 31));
        assert_eq!(parse("rate(1 hour)").unwrap(), When::Rate { minutes: 60 });
        assert!(parse("cron(0 0 * *)").is_err());
        assert!(parse("every day").is_err());
    }
}
