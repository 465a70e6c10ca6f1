//! When a layer applies: weekdays and a time of day (overnight ranges allowed), or a cron
//! expression matched minute by minute, in the schedule's zone.

use chrono::TimeZone as _;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone)]
pub enum Window {
    /// On `days`, from `from` to `to` local time; `to` at or before `from` runs past
    /// midnight into the next day (18:00–09:00 is a night).
    Weekly {
        days: Vec<Weekday>,
        from: Time,
        to: Time,
    },
    /// Every minute the expression matches (5 fields: minute hour day month weekday).
    Cron(Box<cron::Schedule>),
}

impl Window {
    pub fn contains(&self, at: Timestamp, tz: &TimeZone) -> bool {
        let local = at.to_zoned_datetime(tz.clone());
        match self {
            Window::Weekly { days, from, to } => {
                let time = local.time();
                let today = local.weekday();
                let yesterday = today.previous();
                if from < to {
                    days.contains(&today) && *from <= time && time < *to
                } else {
                    // Overnight: the evening part belongs to the day it starts on.
                    (days.contains(&today) && time >= *from)
                        || (days.contains(&yesterday) && time < *to)
                }
            }
            Window::Cron(schedule) => {
                let offset = local.offset().seconds();
                let minute = at.as_second().div_euclid(60) * 60;
                chrono::FixedOffset::east_opt(offset)
                    .and_then(|tz| tz.timestamp_opt(minute, 0).single())
                    .is_some_and(|dt| schedule.includes(dt))
            }
        }
    }

    /// Minutes in `(from, to)` where `contains` changes. Windows are minute-granular, so
    /// checking each minute is exact.
    pub fn edges(&self, from: Timestamp, to: Timestamp, tz: &TimeZone) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut minute =
            Timestamp::from_second(from.as_second().div_euclid(60) * 60).unwrap_or(from);
        let mut inside = self.contains(from, tz);
        loop {
            minute = match minute.checked_add(SignedDuration::from_mins(1)) {
                Ok(m) if m < to => m,
                _ => break,
            };
            let now_inside = self.contains(minute, tz);
            if now_inside != inside {
                out.push(minute);
                inside = now_inside;
            }
        }
        out
    }
}

/// Parses a 5-field cron line (the usual crontab form), or the cron crate's 6/7-field
/// form with seconds.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {expr}")
    } else {
        expr.to_owned()
    };
    full.parse::<cron::Schedule>()
        .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))
}
