//! Who is on call: the one answer the API, the status page and `kaden oncall` give, from
//! the config's schedules and the stored overrides. No daemon is needed to compute it.

use crate::config::Config;
use crate::domain::{ScheduleId, UserId};
use crate::schedule::{self, Override, Schedule, Shift};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftView {
    pub user: Option<UserId>,
    pub name: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCall {
    pub schedule: ScheduleId,
    pub at: Timestamp,
    /// Who is on call at `at`, and the shift they are in.
    pub now: ShiftView,
    pub next: Vec<ShiftView>,
}

/// The configured name of a user.
pub fn name(config: &Config, user: &Option<UserId>) -> Option<String> {
    let user = user.as_ref()?;
    config
        .users
        .iter()
        .find(|u| &u.id == user)
        .map(|u| u.name.clone())
}

pub fn view(config: &Config, shift: Shift) -> ShiftView {
    ShiftView {
        name: name(config, &shift.user),
        user: shift.user,
        start: shift.start,
        end: shift.end,
    }
}

/// Who is on call at `at` in each of `schedules`, with the next `next` handoffs.
pub fn on_call(
    config: &Config,
    schedules: &[&Schedule],
    overrides: &[Override],
    at: Timestamp,
    next: usize,
) -> Vec<OnCall> {
    schedules
        .iter()
        .map(|s| {
            let upcoming = schedule::next_handoffs(s, overrides, at, next);
            let moment = at
                .saturating_add(SignedDuration::from_secs(1))
                .unwrap_or(at);
            // The shift in progress, from its real start to the first handoff.
            let current = schedule::shifts(s, overrides, at, moment)
                .into_iter()
                .next()
                .map_or(at, |sh| sh.start);
            let now = Shift {
                user: schedule::on_call_at(s, overrides, at),
                start: current,
                end: upcoming.first().map_or(at, |n| n.start),
            };
            OnCall {
                schedule: s.id.clone(),
                at,
                now: view(config, now),
                next: upcoming.into_iter().map(|sh| view(config, sh)).collect(),
            }
        })
        .collect()
}
