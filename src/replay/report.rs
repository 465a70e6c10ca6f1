//! The replay's summary, for people (`Display`) and scripts (`--json`).

use super::Simulated;
use crate::escalation::CallPurpose;
use crate::store::StoredCall;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Assumed price of one started minute of an answered call from a Twilio number to a
/// Japanese mobile, in US dollars; unanswered calls are not billed. Check your own
/// rate: Twilio's price list changes, and so does the yen.
pub const USD_PER_MINUTE: f64 = 0.16;

/// Calls between 22:00 and 06:00 local time wake someone up.
fn is_night(hour: i8) -> bool {
    !(6..22).contains(&hour)
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub alerts: usize,
    pub unrouted_problems: usize,
    pub incidents: usize,
    pub exhausted: usize,
    pub calls: usize,
    pub answered: usize,
    pub night_calls: usize,
    pub per_person: BTreeMap<String, PersonCalls>,
    /// Calls placed in each hour of the day (0–23) in `locale.timezone`.
    pub per_hour: [usize; 24],
    pub time_to_ack: AckTimes,
    pub billed_minutes: u64,
    pub usd_per_minute: f64,
    pub estimated_cost_usd: f64,
    /// What kaden really did over the same window; absent for `--alerts`.
    pub actual: Option<Actual>,
    /// With recorded answers: whether the replay placed the same calls as the real run.
    pub comparison: Option<Comparison>,
}

/// The replay's calls beside the real ones, as (person, purpose) in the order placed.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Comparison {
    /// Same people called for the same purpose in the same order.
    pub matches: bool,
    pub replay_calls: usize,
    pub real_calls: usize,
    /// Replay calls that had no recorded call to answer as.
    pub unmatched: usize,
    pub first_difference: Option<Difference>,
}

/// The first call (1-based) where the two runs part; `None` on a side that ran out.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Difference {
    pub call: usize,
    pub replay: Option<CallSeen>,
    pub real: Option<CallSeen>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CallSeen {
    pub user: String,
    pub purpose: CallPurpose,
    pub placed_at: Timestamp,
}

impl fmt::Display for CallSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let purpose = match self.purpose {
            CallPurpose::Escalate => "escalate",
            CallPurpose::Notice => "notice",
        };
        write!(f, "{} ({purpose}) at {}", self.user, self.placed_at)
    }
}

impl Comparison {
    /// `real`: the recorded calls of the window, in the order placed.
    pub fn new(sim: &Simulated, real: &[StoredCall]) -> Comparison {
        let replay: Vec<CallSeen> = sim
            .calls
            .iter()
            .map(|c| CallSeen {
                user: c.user.to_string(),
                purpose: c.purpose,
                placed_at: c.placed_at,
            })
            .collect();
        let real: Vec<CallSeen> = real
            .iter()
            .filter(|c| super::is_replayable(c))
            .map(|c| CallSeen {
                user: c.user.to_string(),
                purpose: c.purpose,
                placed_at: c.placed_at,
            })
            .collect();
        let same = |a: &CallSeen, b: &CallSeen| a.user == b.user && a.purpose == b.purpose;
        let first_difference = (0..replay.len().max(real.len()))
            .find(|&i| match (replay.get(i), real.get(i)) {
                (Some(a), Some(b)) => !same(a, b),
                _ => true,
            })
            .map(|i| Difference {
                call: i + 1,
                replay: replay.get(i).cloned(),
                real: real.get(i).cloned(),
            });
        Comparison {
            matches: first_difference.is_none(),
            replay_calls: sim.calls.len(),
            real_calls: real.len(),
            unmatched: sim.unmatched,
            first_difference,
        }
    }
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct PersonCalls {
    pub calls: usize,
    pub answered: usize,
    pub night: usize,
}

/// Seconds from calling starting (a new problem) to the acknowledgement on the phone
/// that stopped it, over every time an incident started calling.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AckTimes {
    pub acknowledged: usize,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
    pub worst_secs: Option<i64>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Actual {
    pub calls: usize,
    pub answered: usize,
    pub per_person: BTreeMap<String, usize>,
}

impl Actual {
    pub fn new(calls: &[StoredCall]) -> Actual {
        let mut per_person = BTreeMap::new();
        for c in calls {
            *per_person.entry(c.user.to_string()).or_default() += 1;
        }
        Actual {
            calls: calls.len(),
            answered: calls.iter().filter(|c| c.answered).count(),
            per_person,
        }
    }
}

/// The value below which `q` of the sorted values fall (nearest rank).
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

impl Report {
    pub fn new(
        sim: &Simulated,
        zone: &TimeZone,
        actual: Option<Actual>,
        comparison: Option<Comparison>,
    ) -> Report {
        let mut per_person: BTreeMap<String, PersonCalls> = BTreeMap::new();
        let mut per_hour = [0; 24];
        let mut billed_minutes = 0;
        for call in &sim.calls {
            let hour = call.placed_at.to_zoned_datetime(zone.clone()).hour();
            per_hour[hour as usize] += 1;
            let person = per_person.entry(call.user.to_string()).or_default();
            person.calls += 1;
            person.night += usize::from(is_night(hour));
            if let Some(answered) = call.answered_at {
                person.answered += 1;
                let ended = call.ended_at.unwrap_or(answered);
                let secs = ended
                    .duration_since(answered)
                    .as_secs()
                    .max(0)
                    .unsigned_abs();
                billed_minutes += crate::usage::billed_minutes(secs, true);
            }
        }
        let mut acks: Vec<i64> = sim
            .incidents
            .iter()
            .flat_map(|i| i.time_to_ack.iter().map(|d| d.as_secs()))
            .collect();
        acks.sort_unstable();
        Report {
            alerts: sim.alerts,
            unrouted_problems: sim.unrouted,
            incidents: sim.incidents.len(),
            exhausted: sim.incidents.iter().filter(|i| i.exhausted).count(),
            calls: sim.calls.len(),
            answered: per_person.values().map(|p| p.answered).sum(),
            night_calls: per_person.values().map(|p| p.night).sum(),
            per_person,
            per_hour,
            time_to_ack: AckTimes {
                acknowledged: acks.len(),
                median_secs: quantile(&acks, 0.5),
                p90_secs: quantile(&acks, 0.9),
                worst_secs: acks.last().copied(),
            },
            billed_minutes,
            usd_per_minute: USD_PER_MINUTE,
            estimated_cost_usd: (billed_minutes as f64 * USD_PER_MINUTE * 100.0).round() / 100.0,
            actual,
            comparison,
        }
    }
}

fn secs(s: Option<i64>) -> String {
    s.map_or("-".into(), |s| {
        jiff::SignedDuration::from_secs(s)
            .to_string()
            .trim_start_matches("PT")
            .to_lowercase()
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "alerts: {}  incidents: {}  unrouted problems: {}  escalations exhausted: {}",
            self.alerts, self.incidents, self.unrouted_problems, self.exhausted
        )?;
        writeln!(
            f,
            "calls: {} (answered {}, at night 22:00-06:00: {})",
            self.calls, self.answered, self.night_calls
        )?;
        let t = &self.time_to_ack;
        writeln!(
            f,
            "time to acknowledge ({} escalations): median {}, p90 {}, worst {}",
            t.acknowledged,
            secs(t.median_secs),
            secs(t.p90_secs),
            secs(t.worst_secs)
        )?;
        writeln!(
            f,
            "estimated cost: ${:.2} ({} billed minutes at ${}/min)",
            self.estimated_cost_usd, self.billed_minutes, self.usd_per_minute
        )?;
        let mut headers = vec!["PERSON", "CALLS", "ANSWERED", "NIGHT"];
        if self.actual.is_some() {
            headers.push("ACTUAL CALLS");
        }
        let mut people: Vec<&String> = self.per_person.keys().collect();
        if let Some(actual) = &self.actual {
            people.extend(actual.per_person.keys());
            people.sort();
            people.dedup();
        }
        let none = PersonCalls::default();
        let rows: Vec<Vec<String>> = people
            .into_iter()
            .map(|id| {
                let p = self.per_person.get(id).unwrap_or(&none);
                let mut row = vec![
                    id.clone(),
                    p.calls.to_string(),
                    p.answered.to_string(),
                    p.night.to_string(),
                ];
                if let Some(actual) = &self.actual {
                    row.push(actual.per_person.get(id).copied().unwrap_or(0).to_string());
                }
                row
            })
            .collect();
        write!(f, "{}", crate::display::table(&headers, &rows))?;
        let hours: Vec<String> = self
            .per_hour
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(h, n)| {
                let night = if is_night(h as i8) { "*" } else { "" };
                format!("{h:02}h{night}:{n}")
            })
            .collect();
        writeln!(f, "calls by hour (* night): {}", hours.join(" "))?;
        if let Some(actual) = &self.actual {
            writeln!(
                f,
                "actually: {} calls (answered {})",
                actual.calls, actual.answered
            )?;
        }
        if let Some(c) = &self.comparison {
            let unmatched = match c.unmatched {
                0 => String::new(),
                n => format!("; {n} replay calls had no recorded answer"),
            };
            match &c.first_difference {
                None => writeln!(
                    f,
                    "with the recorded answers the replay matches the real run: the same {} calls in the same order{unmatched}",
                    c.replay_calls
                )?,
                Some(d) => {
                    let side = |s: &Option<CallSeen>| {
                        s.as_ref().map_or("no call".to_owned(), ToString::to_string)
                    };
                    writeln!(
                        f,
                        "with the recorded answers the replay differs from the real run ({} calls, really {}) at call {}: replay {}, really {}{unmatched}",
                        c.replay_calls,
                        c.real_calls,
                        d.call,
                        side(&d.replay),
                        side(&d.real)
                    )?
                }
            }
        }
        Ok(())
    }
}
