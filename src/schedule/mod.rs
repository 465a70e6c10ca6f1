//! Who is on call: layered rotations with time windows and overrides, resolved at an
//! instant. Everything here is a pure function of (schedule, overrides, time).
//!
//! - A layer is a rotation: members in order, each on for `every` from the handoff, in
//!   the schedule's zone. Shift boundaries are computed in local wall time, so a daily
//!   09:00 handoff stays at 09:00 across DST.
//! - Later layers win wherever they have someone: a layer with a window (weekends,
//!   nights, a cron expression) covers only those times.
//! - Overrides win over layers: "b covers a from T1 to T2", or "b takes the whole
//!   schedule from T1 to T2".

pub mod ics;
mod rotation;
#[cfg(test)]
mod tests;
pub mod window;

pub use rotation::Rotation;
pub use window::Window;

use crate::domain::{ScheduleId, UserId};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct Layer {
    pub rotation: Rotation,
    pub window: Option<Window>,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub id: ScheduleId,
    pub timezone: TimeZone,
    pub layers: Vec<Layer>,
    /// Text each person this long before their shift starts, and when an override
    /// changes their shifts.
    pub notify_before: Option<std::time::Duration>,
}

/// "`user` covers `replaces` (or the whole schedule) from `start` to `end`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub id: i64,
    pub schedule: ScheduleId,
    pub user: UserId,
    pub replaces: Option<UserId>,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// One stretch of time with one person on call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub user: Option<UserId>,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Schedule {
    /// Who the layers put on call at `at`, before overrides.
    fn layered(&self, at: Timestamp) -> Option<UserId> {
        self.layers
            .iter()
            .rev()
            .filter(|l| {
                l.window
                    .as_ref()
                    .is_none_or(|w| w.contains(at, &self.timezone))
            })
            .find_map(|l| l.rotation.member_at(at, &self.timezone))
    }
}

/// The one person on call at `at`, or `None` when no layer covers that time.
pub fn on_call_at(schedule: &Schedule, overrides: &[Override], at: Timestamp) -> Option<UserId> {
    let layered = schedule.layered(at);
    // The newest override that applies wins.
    let covering = overrides
        .iter()
        .filter(|o| o.schedule == schedule.id && o.start <= at && at < o.end)
        .filter(|o| o.replaces.is_none() || o.replaces == layered)
        .max_by_key(|o| o.id);
    covering.map(|o| o.user.clone()).or(layered)
}

/// Every instant in `[from, to)` where the answer may change.
fn boundaries(
    schedule: &Schedule,
    overrides: &[Override],
    from: Timestamp,
    to: Timestamp,
) -> Vec<Timestamp> {
    let mut points = vec![from];
    for layer in &schedule.layers {
        points.extend(layer.rotation.handoffs(from, to, &schedule.timezone));
        if let Some(window) = &layer.window {
            points.extend(window.edges(from, to, &schedule.timezone));
        }
    }
    for o in overrides.iter().filter(|o| o.schedule == schedule.id) {
        points.extend(
            [o.start, o.end]
                .into_iter()
                .filter(|t| from < *t && *t < to),
        );
    }
    points.sort();
    points.dedup();
    points
}

/// How far back the shift in progress at `from` is traced to its real start.
const SHIFT_LOOKBACK: SignedDuration = SignedDuration::from_hours(24 * 92);

/// The shifts covering `[from, to)`, contiguous, with no gaps and no overlaps; a stretch
/// with nobody on call is a shift with `user: None`. The first one keeps its real start
/// (up to `SHIFT_LOOKBACK` before `from`), so it is the same shift whenever it is asked
/// for: calendar entries keep their UID from one fetch to the next.
pub fn shifts(
    schedule: &Schedule,
    overrides: &[Override],
    from: Timestamp,
    to: Timestamp,
) -> Vec<Shift> {
    let mut out: Vec<Shift> = Vec::new();
    if from >= to {
        return out;
    }
    let traced = from.saturating_sub(SHIFT_LOOKBACK).unwrap_or(from);
    let mut points = boundaries(schedule, overrides, traced, to);
    // Only the change that starts the shift in progress at `from` is kept from before it.
    if let Some(first) = points.iter().rposition(|p| *p <= from) {
        let user = on_call_at(schedule, overrides, points[first]);
        let mut start = first;
        while start > 0 && on_call_at(schedule, overrides, points[start - 1]) == user {
            start -= 1;
        }
        points.drain(..start);
    }
    for (i, start) in points.iter().enumerate() {
        let end = points.get(i + 1).copied().unwrap_or(to);
        let user = on_call_at(schedule, overrides, *start);
        match out.last_mut() {
            Some(last) if last.user == user => last.end = end,
            _ => out.push(Shift {
                user,
                start: *start,
                end,
            }),
        }
    }
    out
}

/// The next `count` changes of who is on call after `at` (looking up to a year ahead).
pub fn next_handoffs(
    schedule: &Schedule,
    overrides: &[Override],
    at: Timestamp,
    count: usize,
) -> Vec<Shift> {
    let horizon = at
        .saturating_add(SignedDuration::from_hours(24 * 366))
        .unwrap_or(at);
    let mut found = shifts(schedule, overrides, at, horizon);
    if !found.is_empty() {
        found.remove(0); // the current shift
    }
    found.truncate(count);
    found
}
