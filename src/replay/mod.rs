//! What-if replay: past alerts, routed by a candidate config, escalated by the real engine
//! on a virtual clock, with simulated callees. Answers "had we used this policy, who would
//! have been called, how often, how fast, at what cost?" without placing a call or writing
//! to the database.
//!
//! Incidents are grouped as the store groups them (src/store/ingest.rs): a problem joins
//! the open incident that already tracks its key, else the open incident of its call
//! setting, else opens one; a recovery, acknowledgement or update joins the open incident
//! that tracks its key (else it is ignored); an incident is resolved when every problem
//! in it has recovered. As in the runner, an escalation starts with the first problem of
//! a routed incident and ends when it is idle with every item recovered. Not modelled:
//! the daemon-wide hourly call cap (`telephony.max_calls_per_hour`), which lives in the
//! runner, not the engine.
//!
//! Recorded answers (`Callee::recorded`, `kaden replay --recorded`): each call the replay
//! places is answered as the real callee answered its counterpart, the n-th call the
//! replay places to a person being matched with the n-th call really placed to that
//! person in the window (in order of `placed_at`, then call id). The callee picks up after
//! the recorded delay, presses the recorded keys in order 5 s apart, and the call ends
//! after the recorded duration with the recorded outcome; a call with no counterpart
//! rings out unanswered and is counted as unmatched. Calls the real runner deferred
//! (hourly call cap) are left out on both sides, as the cap is not modelled.

mod report;

pub use report::{AckTimes, Actual, Comparison, Difference, PersonCalls, Report, USD_PER_MINUTE};

use crate::config::Config;
use crate::domain::UserId;
use crate::domain::{Alert, AlertId, AlertKind, CallSettingId, IncidentId, Source};
use crate::escalation::{
    AckBy, Action, After, AlertInput, CallId, CallOutcome, CallRecord, Ctx, Escalation, Input,
    ItemKey, ItemStatus, OutcomeLabel, Record, SettingSnapshot, Status,
};
use crate::schedule::Override;
use crate::sources::PayloadError;
use crate::store::StoredCall;
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A callee who answers presses the acknowledge-all key (9#) this long after picking up:
/// people barge in as soon as they hear there is a problem.
const PRESS_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read the alerts file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {error}", path.display())]
    Alert {
        path: PathBuf,
        line: usize,
        error: PayloadError,
    },
}

/// How simulated people answer their phone.
#[derive(Clone, Debug)]
pub struct Callee {
    /// Time from the call being placed to the callee picking up.
    pub answer_after: Duration,
    /// Share of calls answered (0 to 1); the rest ring until the ring timeout.
    pub answer_rate: f64,
    pub seed: u64,
    /// Answer as the real callees answered these calls (module docs) instead of at
    /// random; `answer_after`, `answer_rate` and `seed` are then unused.
    pub recorded: Option<Vec<StoredCall>>,
}

/// Whether a recorded call takes part in the comparison and the matching: a call the
/// real runner deferred was placed again later under a new id.
pub fn is_replayable(call: &StoredCall) -> bool {
    call.outcome.as_deref() != Some(OutcomeLabel::Deferred.as_str())
}

/// One alert to replay, at the time kaden saw it.
#[derive(Clone, Debug)]
pub struct Timed {
    pub at: Timestamp,
    pub alert: Alert,
}

/// Reads generic alerts, one JSON object a line (blank lines skipped), each at its `time`,
/// keeping those in `[from, to)`, in time order.
pub fn alerts_from_file(
    path: &Path,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<Vec<Timed>, ReplayError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut alerts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // A line without a `time` cannot be placed on the timeline; the epoch makes that
        // visible in the report rather than borrowing the wall clock.
        let delivery = crate::sources::generic::parse(line.as_bytes(), Timestamp::UNIX_EPOCH)
            .map_err(|error| ReplayError::Alert {
                path: path.to_owned(),
                line: i + 1,
                error,
            })?;
        let at = delivery.alert.occurred_at;
        if from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t) {
            alerts.push(Timed {
                at,
                alert: delivery.alert,
            });
        }
    }
    // Stable: alerts at the same instant keep the file's order.
    alerts.sort_by_key(|a| a.at);
    Ok(alerts)
}

/// What the replay produced, before it is summarised.
#[derive(Debug, Default)]
pub struct Simulated {
    pub alerts: usize,
    /// Problems no route matched.
    pub unrouted: usize,
    pub incidents: Vec<IncidentRun>,
    /// The call log, in the order calls were placed.
    pub calls: Vec<CallRecord>,
    /// With recorded answers: calls placed that had no recorded counterpart.
    pub unmatched: usize,
}

#[derive(Clone, Debug)]
pub struct IncidentRun {
    pub id: IncidentId,
    pub call_setting: CallSettingId,
    /// Since when it has been calling without an acknowledgement, if it is.
    pub escalating_since: Option<Timestamp>,
    /// Each time calling started and ended with an acknowledgement on the phone: how long
    /// that took. Calling that stops because everything recovered is not counted.
    pub time_to_ack: Vec<SignedDuration>,
    pub exhausted: bool,
}

/// Replays `alerts` (in time order) under `config`, schedules resolved with `overrides`.
pub fn replay(
    config: &Config,
    overrides: &[Override],
    alerts: &[Timed],
    callee: &Callee,
) -> Simulated {
    let mut sim = Sim {
        config,
        roster: crate::oncall::ConfigRoster { config, overrides },
        callee,
        rng: fastrand::Rng::with_seed(callee.seed),
        queue: BTreeMap::new(),
        seq: 0,
        ticks: HashSet::new(),
        live: HashSet::new(),
        incidents: Vec::new(),
        opened: 0,
        escalations: HashMap::new(),
        runs: HashMap::new(),
        out: Simulated {
            alerts: alerts.len(),
            ..Simulated::default()
        },
        call_rows: HashMap::new(),
        recorded: HashMap::new(),
    };
    for call in callee
        .recorded
        .iter()
        .flatten()
        .filter(|c| is_replayable(c))
    {
        sim.recorded
            .entry(call.user.clone())
            .or_default()
            .push_back(call.clone());
    }
    for (i, timed) in alerts.iter().enumerate() {
        sim.push(timed.at, Event::Alert(i));
    }
    while let Some(((now, _), event)) = sim.queue.pop_first() {
        match event {
            Event::Alert(i) => sim.alert(AlertId::new(i as i64 + 1), &alerts[i].alert, now),
            Event::Tick(incident) => {
                sim.ticks.remove(&(incident, now));
                sim.step(incident, Input::Tick, now);
            }
            Event::Callee(incident, input) => {
                let call = input.call().expect("callee inputs are about a call");
                if sim.live.contains(call) {
                    sim.step(incident, input, now);
                }
            }
            Event::Provider(incident, input) => sim.step(incident, input, now),
        }
    }
    let mut out = sim.out;
    let mut runs: Vec<IncidentRun> = sim.runs.into_values().collect();
    runs.sort_by_key(|r| r.id);
    out.incidents = runs;
    out
}

enum Event {
    Alert(usize),
    Tick(IncidentId),
    /// What the simulated person does; dropped once the call is over.
    Callee(IncidentId, Input),
    /// What the telephony provider reports; always delivered.
    Provider(IncidentId, Input),
}

/// An incident as the store tracks it: its call setting and the status of each key.
struct OpenIncident {
    id: IncidentId,
    call_setting: Option<CallSettingId>,
    problems: HashMap<(Source, String), ItemStatus>,
}

struct Sim<'a> {
    config: &'a Config,
    roster: crate::oncall::ConfigRoster<'a>,
    callee: &'a Callee,
    rng: fastrand::Rng,
    /// The virtual clock's timeline; the sequence number keeps same-instant events in
    /// the order they were scheduled.
    queue: BTreeMap<(Timestamp, u64), Event>,
    seq: u64,
    /// Ticks already queued, so a deadline is ticked once.
    ticks: HashSet<(IncidentId, Timestamp)>,
    /// Calls placed and not yet ended.
    live: HashSet<CallId>,
    /// Open incidents, oldest first.
    incidents: Vec<OpenIncident>,
    /// Incidents opened so far: the next one's id.
    opened: i64,
    escalations: HashMap<IncidentId, Escalation>,
    runs: HashMap<IncidentId, IncidentRun>,
    out: Simulated,
    call_rows: HashMap<CallId, usize>,
    /// Recorded calls not yet matched, per person, oldest first.
    recorded: HashMap<UserId, VecDeque<StoredCall>>,
}

impl Sim<'_> {
    fn push(&mut self, at: Timestamp, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn alert(&mut self, alert_id: AlertId, alert: &Alert, now: Timestamp) {
        let call_setting = crate::routing::route(&self.config.routes, alert, now).cloned();
        if alert.kind == AlertKind::Problem && call_setting.is_none() {
            self.out.unrouted += 1;
        }
        let Some(incident) = self.group(alert, call_setting) else {
            return;
        };
        if !self.escalations.contains_key(&incident) {
            let setting = self
                .incidents
                .iter()
                .find(|i| i.id == incident)
                .and_then(|i| {
                    i.call_setting
                        .as_ref()
                        .and_then(|id| self.config.call_setting(id))
                });
            let (AlertKind::Problem, Some(setting)) = (alert.kind, setting) else {
                return;
            };
            self.escalations.insert(
                incident,
                Escalation::new(incident, SettingSnapshot::from(setting)),
            );
            self.runs.entry(incident).or_insert_with(|| IncidentRun {
                id: incident,
                call_setting: setting.id.clone(),
                escalating_since: None,
                time_to_ack: Vec::new(),
                exhausted: false,
            });
        }
        let input = Input::Alert(AlertInput {
            alert_id,
            kind: alert.kind,
            key: ItemKey {
                source: alert.source(),
                key: alert.key.clone(),
            },
            host: alert.host.clone(),
            service: alert.service.clone(),
            severity: alert.severity,
            state_word: alert.state.clone(),
            output: alert.output.clone(),
            source_ref: alert.source_ref.clone(),
        });
        self.step(incident, input, now);
    }

    /// The store's grouping rule (module docs); the incident the alert joins, if any.
    fn group(&mut self, alert: &Alert, call_setting: Option<CallSettingId>) -> Option<IncidentId> {
        let key = (alert.source(), alert.key.clone());
        let known = self
            .incidents
            .iter()
            .rposition(|i| i.problems.contains_key(&key));
        let index = match (alert.kind, known) {
            (_, Some(i)) => i,
            (AlertKind::Problem, None) => {
                match self
                    .incidents
                    .iter()
                    .rposition(|i| i.call_setting == call_setting)
                {
                    Some(i) => i,
                    None => {
                        self.opened += 1;
                        let id = IncidentId::new(self.opened);
                        self.incidents.push(OpenIncident {
                            id,
                            call_setting,
                            problems: HashMap::new(),
                        });
                        self.incidents.len() - 1
                    }
                }
            }
            (_, None) => return None,
        };
        let incident = &mut self.incidents[index];
        let id = incident.id;
        match alert.kind {
            AlertKind::Problem => {
                incident.problems.insert(key, ItemStatus::Problem);
            }
            AlertKind::Recovery => {
                incident.problems.insert(key, ItemStatus::Recovered);
                if incident
                    .problems
                    .values()
                    .all(|s| *s == ItemStatus::Recovered)
                {
                    self.incidents.remove(index);
                }
            }
            AlertKind::Acknowledgement | AlertKind::Update => {}
        }
        Some(id)
    }

    /// One engine step, as the runner takes it: handle, note the next deadline, carry out
    /// the effects (here: schedule what the phone network and the callee do next).
    fn step(&mut self, incident: IncidentId, input: Input, now: Timestamp) {
        let Some(escalation) = self.escalations.get_mut(&incident) else {
            return;
        };
        let call = input.call().cloned();
        let answered = matches!(input, Input::Answered { .. });
        if let Input::Ended { call, .. } = &input {
            self.live.remove(call);
        }
        let ctx = Ctx {
            roster: &self.roster,
            per_number_limit: self.config.telephony.per_number_limit,
            per_number_window: self.config.telephony.per_number_window,
            downtime_minutes: self.config.speech.downtime_minutes,
            keypad: self.config.keys,
        };
        let before = escalation.status();
        let step = escalation.handle(input, now, &ctx);
        let status = escalation.status();
        let deadline = escalation.next_deadline();
        if step.finished {
            self.escalations.remove(&incident);
        } else if let Some(at) = deadline
            && self.ticks.insert((incident, at))
        {
            self.push(at, Event::Tick(incident));
        }
        if let Some(run) = self.runs.get_mut(&incident) {
            run.exhausted |= status == Status::Exhausted;
            let escalating = status == Status::Escalating;
            if escalating && before != Status::Escalating {
                run.escalating_since = Some(now);
            }
            let phone_ack = step.records.iter().any(|r| {
                matches!(
                    r,
                    Record::Acknowledged {
                        by: AckBy::Phone { .. },
                        ..
                    }
                )
            });
            if !escalating
                && let Some(since) = run.escalating_since.take()
                && phone_ack
            {
                run.time_to_ack.push(now.duration_since(since));
            }
        }
        for record in step.records {
            if let Record::Call(record) = record {
                self.record_call(record);
            }
        }
        for action in step.actions {
            self.act(incident, action, call.as_ref(), answered, now);
        }
    }

    fn record_call(&mut self, record: CallRecord) {
        match self.call_rows.get(&record.call_id) {
            Some(&row) => self.out.calls[row] = record,
            None => {
                self.call_rows
                    .insert(record.call_id.clone(), self.out.calls.len());
                self.out.calls.push(record);
            }
        }
    }

    /// `call` and `answered`: the call the step was about, and whether it was just picked up.
    fn act(
        &mut self,
        incident: IncidentId,
        action: Action,
        call: Option<&CallId>,
        answered: bool,
        now: Timestamp,
    ) {
        match action {
            Action::PlaceCall {
                call,
                user,
                ring_timeout,
                ..
            } => {
                self.live.insert(call.clone());
                let sid = format!("replay-{call}");
                self.push(
                    now,
                    provider(
                        incident,
                        Input::Placed {
                            call: call.clone(),
                            sid,
                        },
                    ),
                );
                if self.callee.recorded.is_some() {
                    self.answer_as_recorded(incident, call, user, ring_timeout, now);
                    return;
                }
                let answers = self.rng.f64() < self.callee.answer_rate
                    && self.callee.answer_after < ring_timeout;
                let (at, input) = if answers {
                    (self.callee.answer_after, Input::Answered { call })
                } else {
                    let outcome = CallOutcome::NoAnswer;
                    (ring_timeout, Input::Ended { call, outcome })
                };
                self.push(later(now, at), Event::Callee(incident, input));
            }
            Action::EndCall {
                call, answered: up, ..
            } => {
                // The call is over for the callee now; its end reaches the engine as the
                // provider reports it (a hang-up when answered, else a cancel).
                self.live.remove(&call);
                let outcome = if up {
                    CallOutcome::Completed
                } else {
                    CallOutcome::Canceled
                };
                self.push(now, provider(incident, Input::Ended { call, outcome }));
            }
            Action::Respond(prompt) => {
                let Some(call) = call.filter(|c| self.live.contains(*c)).cloned() else {
                    return;
                };
                match prompt.after {
                    After::Gather if answered && self.callee.recorded.is_none() => {
                        let digits = self.config.keys.acknowledge_all.to_string();
                        let input = Input::Digits { call, digits };
                        self.push(later(now, PRESS_AFTER), Event::Callee(incident, input));
                    }
                    After::Gather => {}
                    After::Hangup => {
                        let outcome = CallOutcome::Completed;
                        let input = Input::Ended { call, outcome };
                        let at = later(now, prompt.speaking_time());
                        self.push(at, provider(incident, input));
                    }
                }
            }
            // No messages or write-backs in a what-if run.
            Action::SendSms { .. } | Action::Alarm(_) | Action::WriteBack => {}
        }
    }
}

impl Sim<'_> {
    /// Schedules what the callee did on the recorded counterpart of `call` (module docs).
    fn answer_as_recorded(
        &mut self,
        incident: IncidentId,
        call: CallId,
        user: UserId,
        ring_timeout: Duration,
        now: Timestamp,
    ) {
        let Some(real) = self.recorded.get_mut(&user).and_then(VecDeque::pop_front) else {
            self.out.unmatched += 1;
            let outcome = CallOutcome::NoAnswer;
            let input = Input::Ended { call, outcome };
            self.push(later(now, ring_timeout), Event::Callee(incident, input));
            return;
        };
        let since =
            |t: Timestamp| Duration::try_from(t.duration_since(real.placed_at)).unwrap_or_default();
        let label = real.outcome.as_deref().and_then(OutcomeLabel::parse);
        let Some(answered) = real.answered_at.map(since) else {
            let outcome = match label {
                Some(OutcomeLabel::Busy | OutcomeLabel::Declined) => CallOutcome::Busy,
                Some(OutcomeLabel::Failed | OutcomeLabel::InvalidNumber | OutcomeLabel::Lost) => {
                    CallOutcome::Failed
                }
                // Canceled by kaden, or rang out: the callee never picked up; the replay
                // cancels it itself if it should.
                _ => CallOutcome::NoAnswer,
            };
            let rang = match (outcome, real.ended_at) {
                (CallOutcome::NoAnswer, _) | (_, None) => ring_timeout,
                (_, Some(ended)) => since(ended),
            };
            let input = Input::Ended { call, outcome };
            self.push(later(now, rang), Event::Callee(incident, input));
            return;
        };
        let up = later(now, answered);
        if label == Some(OutcomeLabel::Machine) {
            let input = Input::Machine { call };
            self.push(up, Event::Callee(incident, input));
            return;
        }
        let answer = Input::Answered { call: call.clone() };
        self.push(up, Event::Callee(incident, answer));
        let mut at = up;
        for key in &real.keys {
            at = later(at, PRESS_AFTER);
            let digits = key.trim_end_matches('#').to_owned();
            let input = Input::Digits {
                call: call.clone(),
                digits,
            };
            self.push(at, Event::Callee(incident, input));
        }
        // The callee hangs up when the real call ended, unless kaden ends it first.
        let pressed = later(at, PRESS_AFTER);
        let end = real
            .ended_at
            .map_or(pressed, |t| later(now, since(t)).max(pressed));
        let outcome = CallOutcome::Completed;
        let input = Input::Ended { call, outcome };
        self.push(end, Event::Callee(incident, input));
    }
}

fn provider(incident: IncidentId, input: Input) -> Event {
    Event::Provider(incident, input)
}

fn later(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .expect("saturating timestamp arithmetic with a positive span never fails")
}

#[cfg(test)]
mod tests;
