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

/// The engine's view of people and schedules: the config's users and schedules, with
/// the overrides (the runner's, and the replay's from the database).
pub struct ConfigRoster<'a> {
    pub config: &'a Config,
    pub overrides: &'a [Override],
}

impl crate::escalation::Roster for ConfigRoster<'_> {
    fn person(&self, id: &UserId) -> Option<crate::escalation::Person> {
        let user = self.config.users.iter().find(|u| &u.id == id)?;
        Some(crate::escalation::Person {
            id: user.id.clone(),
            name: user.name.clone(),
            phone: user.phone.clone(),
        })
    }
    fn on_call(&self, schedule: &ScheduleId, at: Timestamp) -> Option<UserId> {
        let schedule = self.config.schedules.iter().find(|s| &s.id == schedule)?;
        schedule::on_call_at(schedule, self.overrides, at)
    }
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

/// A stretch with nobody on call: in a schedule, or for a call setting (every target of
/// it resolves to nobody).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// `schedule` or `call_setting`.
    pub kind: String,
    pub id: String,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// Every gap in `[from, to)`, schedules first, then call settings.
pub fn gaps(config: &Config, overrides: &[Override], from: Timestamp, to: Timestamp) -> Vec<Gap> {
    let nobody = |s: &Schedule| -> Vec<(Timestamp, Timestamp)> {
        schedule::shifts(s, overrides, from, to)
            .into_iter()
            .filter(|sh| sh.user.is_none())
            .map(|sh| (sh.start.max(from), sh.end))
            .collect()
    };
    let mut out: Vec<Gap> = config
        .schedules
        .iter()
        .flat_map(|s| {
            nobody(s).into_iter().map(|(from, to)| Gap {
                kind: "schedule".into(),
                id: s.id.to_string(),
                from,
                to,
            })
        })
        .collect();
    for setting in &config.call_settings {
        // A user target always answers for the call setting: no gap.
        let mut covered_by: Vec<Vec<(Timestamp, Timestamp)>> = Vec::new();
        let mut always = false;
        for target in &setting.targets {
            match target {
                crate::config::Target::User(_) => always = true,
                crate::config::Target::Schedule(id) => {
                    if let Some(s) = config.schedules.iter().find(|s| &s.id == id) {
                        covered_by.push(nobody(s));
                    }
                }
            }
        }
        if always || covered_by.is_empty() {
            continue;
        }
        // The call setting has nobody where every schedule target has nobody.
        let common = covered_by
            .into_iter()
            .reduce(|a, b| intersect(&a, &b))
            .unwrap_or_default();
        out.extend(common.into_iter().map(|(from, to)| Gap {
            kind: "call_setting".into(),
            id: setting.id.to_string(),
            from,
            to,
        }));
    }
    out
}

fn intersect(
    a: &[(Timestamp, Timestamp)],
    b: &[(Timestamp, Timestamp)],
) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    for (a_from, a_to) in a {
        for (b_from, b_to) in b {
            let (from, to) = ((*a_from).max(*b_from), (*a_to).min(*b_to));
            if from < to {
                out.push((from, to));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SystemSecrets;

    const WEEKDAYS_ONLY: &str = "\
users:
  - { id: a, name: 山田, phone: \"+819000000001\" }
schedules:
  - id: weekdays
    timezone: Asia/Tokyo
    layers:
      - { every: 1w, handoff: \"2026-11-02T09:00\", members: [a], window: { days: mon-fri } }
call_settings:
  - { id: infra, targets: [schedule:weekdays] }
  - { id: backed, targets: [schedule:weekdays, user:a] }
";

    fn config(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kaden.yaml");
        std::fs::write(&path, text).unwrap();
        crate::config::load(&path, &SystemSecrets).unwrap().0
    }

    #[test]
    fn a_weekdays_only_schedule_has_a_weekend_hole() {
        let config = config(WEEKDAYS_ONLY);
        let monday: Timestamp = "2026-11-23T00:00:00+09:00".parse().unwrap();
        let next_monday = monday
            .checked_add(SignedDuration::from_hours(24 * 7))
            .unwrap();
        let found = gaps(&config, &[], monday, next_monday);
        let saturday: Timestamp = "2026-11-28T00:00:00+09:00".parse().unwrap();
        let hole = |kind: &str, id: &str| Gap {
            kind: kind.into(),
            id: id.into(),
            from: saturday,
            to: next_monday,
        };
        assert_eq!(
            found,
            [hole("schedule", "weekdays"), hole("call_setting", "infra")],
            "a user target covers the call setting `backed`"
        );
    }
}
