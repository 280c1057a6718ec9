//! The gateway's one clock. Every function it hosts reads it (through
//! `versus::clock::with_source`), and so do its schedule ticks, the times in
//! the events it builds and the request contexts of its APIs. By default it
//! is the system clock. Tests, and `scripts/dev` users who want to see
//! tomorrow's reminders today, set it to an instant (running on from there,
//! or frozen) and advance it with `POST /_local/clock`.
//!
//! Only the local gateway has this: a deployed function reads the system
//! clock, and no request can move it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Copy, Debug)]
enum Mode {
    System,
    /// `at` when it was set, plus the real time elapsed since `set`.
    Running {
        at: i64,
        set: Instant,
    },
    Frozen {
        at: i64,
    },
}

/// Where the clock starts (`Options::clock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    pub at_ms: i64,
    pub frozen: bool,
}

impl Start {
    /// `2026-12-31T23:59:50Z`, or the same followed by `,frozen`.
    pub fn parse(raw: &str) -> Result<Start, String> {
        let (instant, frozen) = match raw.trim().strip_suffix(",frozen") {
            Some(i) => (i, true),
            None => (raw.trim(), false),
        };
        let at = DateTime::parse_from_rfc3339(instant)
            .map_err(|e| format!("clock start {raw:?}: not an RFC 3339 instant ({e})"))?;
        Ok(Start {
            at_ms: at.timestamp_millis(),
            frozen,
        })
    }
}

#[derive(Clone)]
pub struct Clock(Arc<Mutex<Mode>>);

impl Clock {
    pub fn new(start: Option<Start>) -> Clock {
        let clock = Clock(Arc::new(Mutex::new(Mode::System)));
        if let Some(start) = start {
            clock.set(start.at_ms, start.frozen);
        }
        clock
    }

    pub fn now_ms(&self) -> i64 {
        match *self.0.lock().expect("clock lock") {
            Mode::System => Utc::now().timestamp_millis(),
            Mode::Running { at, set } => at + set.elapsed().as_millis() as i64,
            Mode::Frozen { at } => at,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).expect("clock within chrono's range")
    }

    pub fn is_frozen(&self) -> bool {
        matches!(*self.0.lock().expect("clock lock"), Mode::Frozen { .. })
    }

    pub fn set(&self, at_ms: i64, frozen: bool) {
        *self.0.lock().expect("clock lock") = if frozen {
            Mode::Frozen { at: at_ms }
        } else {
            Mode::Running {
                at: at_ms,
                set: Instant::now(),
            }
        };
    }

    /// Moves the clock on by `ms` (the system clock becomes a running one).
    pub fn advance(&self, ms: i64) {
        let mut mode = self.0.lock().expect("clock lock");
        *mode = match *mode {
            Mode::Frozen { at } => Mode::Frozen { at: at + ms },
            Mode::Running { at, set } => Mode::Running { at: at + ms, set },
            Mode::System => Mode::Running {
                at: Utc::now().timestamp_millis() + ms,
                set: Instant::now(),
            },
        };
    }

    pub fn reset(&self) {
        *self.0.lock().expect("clock lock") = Mode::System;
    }

    /// What the functions read: this clock.
    pub fn source(&self) -> versus::clock::Source {
        let clock = self.clone();
        Arc::new(move || clock.now_ms())
    }

    pub fn view(&self) -> Value {
        let mode = match *self.0.lock().expect("clock lock") {
            Mode::System => "system",
            Mode::Running { .. } => "running",
            Mode::Frozen { .. } => "frozen",
        };
        json!({
            "now": self.now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "now_ms": self.now_ms(),
            "mode": mode,
        })
    }
}

/// `POST /_local/clock`: exactly one of
/// `{"set": "<RFC 3339>", "frozen": bool}`, `{"advance_secs": n}` or
/// `{"system": true}`. With `"run_schedules": true` an advance also runs,
/// once each, the schedules whose time came in the stretch it skipped.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    #[serde(default)]
    set: Option<String>,
    #[serde(default)]
    frozen: Option<bool>,
    #[serde(default)]
    advance_secs: Option<f64>,
    #[serde(default)]
    system: Option<bool>,
    #[serde(default)]
    run_schedules: bool,
}

/// `GET /_local/clock`: the clock now.
pub async fn show(State(gateway): State<Arc<crate::Gateway>>) -> Json<Value> {
    Json(gateway.clock.view())
}

pub async fn change(
    State(gateway): State<Arc<crate::Gateway>>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let bad = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "invalid_clock_change", "message": message}})),
        )
    };
    let change: Change = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return bad(format!(
                "expected {{\"set\"|\"advance_secs\"|\"system\"}}: {e}"
            ))
        }
    };
    let clock = &gateway.clock;
    let before = clock.now();
    match (&change.set, change.advance_secs, change.system) {
        (Some(at), None, None) => match DateTime::parse_from_rfc3339(at) {
            Ok(at) => clock.set(at.timestamp_millis(), change.frozen.unwrap_or(false)),
            Err(e) => return bad(format!("set: not an RFC 3339 instant ({e})")),
        },
        (None, Some(secs), None) if change.frozen.is_none() => {
            if !secs.is_finite() || !(0.0..=366.0 * 86_400.0).contains(&secs) {
                return bad("advance_secs: 0 to one year, forwards only".into());
            }
            clock.advance((secs * 1000.0).round() as i64);
        }
        (None, None, Some(true)) if change.frozen.is_none() => clock.reset(),
        _ => return bad("exactly one of set (with frozen), advance_secs or system: true".into()),
    }
    let mut view = clock.view();
    if change.run_schedules {
        let ran = crate::schedules::run_between(&gateway, before, clock.now()).await;
        view["ran"] = json!(ran);
    }
    (StatusCode::OK, Json(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_parse_with_and_without_frozen() {
        let s = Start::parse("2026-12-31T23:59:50Z,frozen").unwrap();
        assert!(s.frozen);
        assert_eq!(s.at_ms, 1_798_761_590_000);
        assert!(!Start::parse("2026-12-31T23:59:50+00:00").unwrap().frozen);
        assert!(Start::parse("tomorrow").is_err());
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::new(Some(Start {
            at_ms: 1_000_000,
            frozen: true,
        }));
        assert_eq!(clock.now_ms(), 1_000_000);
        clock.advance(30_000);
        assert_eq!(clock.now_ms(), 1_030_000);
        assert!(clock.is_frozen());
        clock.reset();
        assert_eq!(clock.view()["mode"], "system");
    }
}
