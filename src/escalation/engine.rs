//! The transitions. Read top-down: `handle` applies one input, then `settle` restores the
//! invariants (nobody forgotten, nobody called twice at once, finished calls followed up).

use super::items::Items;
use super::notice::{Notice, Unreachable};
use super::prompt::{After, ItemView, Line, Prompt};
use super::state::*;
use super::step::*;
use crate::domain::{AlertKind, IncidentId, Key, Keypad, PhoneNumber, ScheduleId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Duration;

/// Twilio reports a declined call as `busy` within seconds of placing it.
const DECLINE_WINDOW: Duration = Duration::from_secs(15);
/// How long past the ring timeout to wait for a call's outcome before calling it failed.
const OUTCOME_GRACE: Duration = Duration::from_secs(60);
/// An answered call must send keys or end this long after its prompt has been spoken
/// and the keypad has waited; silence past it means the call is gone (kaden restarted,
/// a webhook was lost), so it ends unacknowledged and the call-back rule applies.
const KEYPAD_GRACE: Duration = Duration::from_secs(20);
/// Details list at most this many alerts; the rest are counted.
const MAX_DETAILS: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: UserId,
    pub name: String,
    pub phone: PhoneNumber,
}

/// Who people are and who is on call: the engine's only view of config and schedules.
pub trait Roster {
    fn person(&self, id: &UserId) -> Option<Person>;
    fn on_call(&self, schedule: &ScheduleId, at: Timestamp) -> Option<UserId>;
}

pub struct Ctx<'a> {
    pub roster: &'a dyn Roster,
    /// Loop guard: at most this many calls to one number for one incident ...
    pub per_number_limit: u32,
    /// ... within this window.
    pub per_number_window: Duration,
    pub downtime_minutes: u32,
    /// Which key picks which menu entry.
    pub keypad: Keypad,
}

/// One incident's escalation. Its fields are the engine's own: outside code feeds it
/// inputs, carries out the steps and reads it through the methods below.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Escalation {
    pub(super) incident_id: IncidentId,
    pub(super) setting: SettingSnapshot,
    pub(super) status: Status,
    /// Stored apart, one row per item (only changed items are written); absent from
    /// the stored state.
    #[serde(default)]
    pub(super) items: Items,
    pub(super) calls: Vec<Call>,
    pub(super) attempts: Vec<Attempt>,
    /// Round-robin position.
    pub(super) cursor: usize,
    pub(super) round: u32,
    /// Call-backs used per target in this round.
    pub(super) callbacks: Vec<u32>,
    /// Every call placed (phone, time), for the per-number loop guard.
    pub(super) placed: Vec<(PhoneNumber, Timestamp)>,
    pub(super) next_seq: u32,
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .expect("saturating timestamp arithmetic with a positive span never fails")
}

enum Disposition {
    /// Same person again after retry_after (hung up unacknowledged, declined).
    CallBack,
    /// On to the next person (no answer, busy, failed, machine, 2#).
    Next,
}

impl Escalation {
    pub fn new(incident_id: IncidentId, setting: SettingSnapshot) -> Self {
        let targets = setting.targets.len();
        Escalation {
            incident_id,
            setting,
            status: Status::Quiet,
            items: Items::default(),
            calls: Vec::new(),
            attempts: Vec::new(),
            cursor: 0,
            round: 0,
            callbacks: vec![0; targets],
            placed: Vec::new(),
            next_seq: 1,
        }
    }

    /// An escalation as stored: [`Escalation::core_json`] and its items in order.
    pub fn restore(core_json: &str, items: Vec<Item>) -> Result<Self, serde_json::Error> {
        let mut escalation: Escalation = serde_json::from_str(core_json)?;
        escalation.items = Items::from(items);
        Ok(escalation)
    }

    pub fn incident_id(&self) -> IncidentId {
        self.incident_id
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// How long a call's keypad waits for keys after a prompt.
    pub fn keypad_timeout(&self) -> Duration {
        self.setting.keypad_timeout
    }

    /// The calls placed and not yet ended, with Twilio's CallSid once it is known.
    pub fn live_calls(&self) -> impl Iterator<Item = (&CallId, Option<&str>)> {
        self.calls.iter().map(|c| (&c.id, c.sid.as_deref()))
    }

    /// Calls recorded before they were placed whose sid never came back: the instance
    /// placing them may have died half-way. With their numbers, when they were recorded,
    /// and every sid this escalation knows.
    pub fn unconfirmed_calls(&self) -> (Vec<(&CallId, &str, Timestamp)>, Vec<String>) {
        let unconfirmed = self
            .calls
            .iter()
            .filter(|c| c.sid.is_none())
            .map(|c| (&c.id, c.phone.as_str(), c.placed_at))
            .collect();
        let known = self.calls.iter().filter_map(|c| c.sid.clone()).collect();
        (unconfirmed, known)
    }

    /// The items changed since the last call, with their positions: what a step must
    /// store besides [`Escalation::core_json`].
    pub fn take_changed_items(&mut self) -> Vec<(usize, Item)> {
        self.items.take_changed()
    }

    /// When the engine next needs a `Tick`, if ever.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let attempts = self.attempts.iter().map(|a| a.at);
        let calls = self.calls.iter().map(|c| c.deadline);
        attempts.chain(calls).chain(self.next_stale()).min()
    }

    /// When the oldest acknowledgement of a still open problem goes stale.
    fn next_stale(&self) -> Option<Timestamp> {
        let after_ack = self.setting.reescalate_after?;
        let (acked_at, _) = self.items.oldest_acknowledgement()?;
        Some(after(acked_at, after_ack))
    }

    /// True once nothing more can happen for this incident: no call, nothing scheduled,
    /// not escalating, and every problem recovered.
    pub fn finished(&self) -> bool {
        self.is_idle() && self.status != Status::Escalating && self.items.all_recovered()
    }

    /// The stored form of the state, without its items (stored one row each).
    pub fn core_json(&self) -> String {
        #[derive(Serialize)]
        struct Core<'a> {
            incident_id: IncidentId,
            setting: &'a SettingSnapshot,
            status: Status,
            calls: &'a [Call],
            attempts: &'a [Attempt],
            cursor: usize,
            round: u32,
            callbacks: &'a [u32],
            placed: &'a [(PhoneNumber, Timestamp)],
            next_seq: u32,
        }
        serde_json::to_string(&Core {
            incident_id: self.incident_id,
            setting: &self.setting,
            status: self.status,
            calls: &self.calls,
            attempts: &self.attempts,
            cursor: self.cursor,
            round: self.round,
            callbacks: &self.callbacks,
            placed: &self.placed,
            next_seq: self.next_seq,
        })
        .expect("escalation state serializes")
    }

    /// `reescalate_after`: acknowledgements of problems still open that long go stale;
    /// calling starts again, with whoever acknowledged first.
    fn reescalate_stale(&mut self, now: Timestamp, ctx: &Ctx, fx: &mut Step) {
        let Some(after_ack) = self.setting.reescalate_after else {
            return;
        };
        let Some(acked_until) = now
            .checked_sub(SignedDuration::try_from(after_ack).unwrap_or(SignedDuration::MAX))
            .ok()
        else {
            return;
        };
        let stale = self.items.acknowledged_until(acked_until);
        if stale.is_empty() {
            return;
        }
        let first_acker = stale.iter().find_map(|&i| match &self.items[i].ack {
            Some(AckBy::Phone { user, .. }) => Some(user.clone()),
            _ => None,
        });
        let mut keys = Vec::new();
        for &i in &stale {
            fx.records
                .push(Record::Notice(Notice::AcknowledgementStale {
                    key: self.items[i].key.clone(),
                    after: after_ack,
                }));
            keys.push(self.items.update(i, |item| {
                item.ack = None;
                item.acked_at = None;
                item.key.clone()
            }));
        }
        fx.records.push(Record::AcknowledgementStale { keys });
        if let Some(user) = first_acker
            && let Some(target) = (0..self.setting.targets.len())
                .find(|&t| self.resolve(t, now, ctx).is_ok_and(|p| p.id == user))
        {
            self.cursor = target;
        }
        self.restart(now);
    }

    /// True once nothing can happen without new input: no call, nothing scheduled.
    pub fn is_idle(&self) -> bool {
        self.calls.is_empty() && self.attempts.is_empty()
    }

    pub fn handle(&mut self, input: Input, now: Timestamp, ctx: &Ctx) -> Step {
        let mut fx = Step::default();
        match input {
            Input::Alert(alert) => self.apply_alert(alert, now, &mut fx),
            Input::Placed { call, sid } => {
                if let Some(i) = self.call_index(&call) {
                    self.calls[i].sid = Some(sid);
                    fx.records.push(self.record(i, None, None));
                }
            }
            Input::PlaceFailed {
                call,
                reason,
                skip_person,
            } => {
                fx.records.push(Record::Notice(Notice::PlaceFailed {
                    call: call.clone(),
                    reason,
                }));
                let outcome = if skip_person {
                    OutcomeLabel::InvalidNumber
                } else {
                    OutcomeLabel::Failed
                };
                self.call_ended(&call, CallOutcome::Failed, Some(outcome), now, ctx, &mut fx);
            }
            Input::Deferred { call, until } => {
                if let Some(i) = self.call_index(&call) {
                    fx.records
                        .push(self.record(i, Some(now), Some(OutcomeLabel::Deferred)));
                    let call = self.calls.remove(i);
                    self.attempts.push(Attempt {
                        target: call.target,
                        at: until,
                    });
                }
            }
            Input::Answered { call } => {
                let prompt = self.answer(&call, now, &mut fx);
                self.expect_reply(&call, &prompt, now);
                fx.actions.push(Action::Respond(prompt));
            }
            Input::Machine { call } => {
                if let Some(i) = self.call_index(&call) {
                    self.calls[i].machine = true;
                    fx.actions.push(Action::EndCall {
                        call: call.clone(),
                        sid: self.calls[i].sid.clone(),
                        answered: true,
                        farewell: None,
                    });
                }
            }
            Input::Digits { call, digits } => {
                let prompt = self.digits(&call, &digits, now, ctx, &mut fx);
                self.expect_reply(&call, &prompt, now);
                fx.actions.push(Action::Respond(prompt));
            }
            Input::Ended { call, outcome } => {
                self.call_ended(&call, outcome, None, now, ctx, &mut fx)
            }
            Input::Lost { call } => {
                fx.records
                    .push(Record::Notice(Notice::CallLost { call: call.clone() }));
                self.call_ended(
                    &call,
                    CallOutcome::Failed,
                    Some(OutcomeLabel::Lost),
                    now,
                    ctx,
                    &mut fx,
                )
            }
            Input::Tick => {}
            Input::ManualAck { by, via } => {
                let all: Vec<usize> = (0..self.items.len()).collect();
                self.acknowledge(&all, AckBy::Manual { by, via }, now, &mut fx);
            }
        }
        self.settle(now, ctx, &mut fx);
        fx.finished = self.finished();
        fx
    }

    fn apply_alert(&mut self, a: AlertInput, now: Timestamp, fx: &mut Step) {
        let existing = self.items.position(&a.key);
        if let Some(i) = existing
            && self.items[i].last_alert_id >= a.alert_id
        {
            return; // Replayed after a restart: already applied.
        }
        match (a.kind, existing) {
            (AlertKind::Problem, None) => {
                self.items.push(Item {
                    key: a.key,
                    host: a.host,
                    service: a.service,
                    severity: a.severity,
                    state_word: a.state_word,
                    output: a.output,
                    status: ItemStatus::Problem,
                    version: 1,
                    heard_version: 0,
                    last_alert_id: a.alert_id,
                    problem_alert_id: a.alert_id,
                    source_ref: a.source_ref,
                    ack: None,
                    acked_at: None,
                });
                self.restart(now);
            }
            (AlertKind::Problem, Some(i)) => {
                let reopened = self.items.update(i, |item| {
                    let reopened = item.status == ItemStatus::Recovered;
                    item.last_alert_id = a.alert_id;
                    item.severity = a.severity;
                    item.state_word = a.state_word;
                    item.output = a.output;
                    if reopened {
                        item.status = ItemStatus::Problem;
                        item.version += 1;
                        item.ack = None;
                        item.acked_at = None;
                        item.problem_alert_id = a.alert_id;
                        item.source_ref = a.source_ref;
                    }
                    reopened
                });
                if reopened {
                    self.restart(now);
                }
            }
            (AlertKind::Recovery, Some(i)) => self.items.update(i, |item| {
                item.last_alert_id = a.alert_id;
                if item.status == ItemStatus::Problem {
                    item.status = ItemStatus::Recovered;
                    item.version += 1;
                    item.state_word = a.state_word;
                }
            }),
            (AlertKind::Acknowledgement, Some(i)) => {
                self.items.update(i, |item| item.last_alert_id = a.alert_id);
                let item = &self.items[i];
                match &item.ack {
                    Some(AckBy::Phone { .. } | AckBy::Manual { .. }) => {
                        fx.records.push(Record::Notice(Notice::OwnWriteBack {
                            key: item.key.clone(),
                        }))
                    }
                    Some(AckBy::Source) => {}
                    None if item.status == ItemStatus::Problem => {
                        fx.records
                            .push(Record::Notice(Notice::AcknowledgedInSource {
                                key: item.key.clone(),
                            }));
                        self.acknowledge(&[i], AckBy::Source, now, fx);
                    }
                    None => {}
                }
            }
            (AlertKind::Update, Some(i)) => {
                self.items.update(i, |item| item.last_alert_id = a.alert_id)
            }
            (_, None) => {}
        }
    }

    /// A problem needs acknowledging again: start calling from the current position.
    fn restart(&mut self, now: Timestamp) {
        if self.status != Status::Escalating {
            self.status = Status::Escalating;
            self.round = 0;
            self.callbacks.fill(0);
            self.attempts.clear();
            self.schedule_round(now);
        }
    }

    /// Attempts for a round: round-robin calls the person at the cursor, broadcast everyone.
    fn schedule_round(&mut self, at: Timestamp) {
        if self.setting.broadcast {
            self.attempts = (0..self.setting.targets.len())
                .map(|target| Attempt { target, at })
                .collect();
        } else {
            self.attempts = vec![Attempt {
                target: self.cursor,
                at,
            }];
        }
    }

    fn call_index(&self, id: &CallId) -> Option<usize> {
        self.calls.iter().position(|c| &c.id == id)
    }

    fn needs_ack(&self) -> bool {
        self.items.any_unacknowledged()
    }

    fn unheard_recoveries(&self) -> bool {
        self.setting.notify_recovery && self.items.any_unheard_recovery()
    }

    /// What a call plays now: unacknowledged problems, and recoveries nobody heard yet.
    /// Hosts before services (design.md rule 2).
    fn playable(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.items.len())
            .filter(|&i| {
                let item = &self.items[i];
                item.needs_ack()
                    || (self.setting.notify_recovery
                        && item.status == ItemStatus::Recovered
                        && item.heard_version < item.version)
            })
            .collect();
        idx.sort_by(|&a, &b| {
            let (a, b) = (&self.items[a], &self.items[b]);
            (a.service.is_some(), &a.host, &a.service).cmp(&(
                b.service.is_some(),
                &b.host,
                &b.service,
            ))
        });
        idx
    }

    /// Marks what is playable as heard in call `c` and returns the summary line.
    fn hear_summary(&mut self, c: usize) -> Option<Line> {
        let playable = self.playable();
        if playable.is_empty() {
            return None;
        }
        let (mut host_problems, mut service_problems, mut recoveries) = (0, 0, 0);
        let mut heard = Vec::with_capacity(playable.len());
        for &i in &playable {
            let item = &self.items[i];
            match (item.status, item.service.is_some()) {
                (ItemStatus::Recovered, _) => recoveries += 1,
                (ItemStatus::Problem, false) => host_problems += 1,
                (ItemStatus::Problem, true) => service_problems += 1,
            }
            heard.push((item.key.clone(), item.version));
            // Only a change is an update: a step stores every item it updated, and a
            // call hears a storm's items again on every prompt.
            if item.heard_version < item.version {
                self.items
                    .update(i, |item| item.heard_version = item.version);
            }
        }
        let now_heard: HashSet<&ItemKey> = heard.iter().map(|(k, _)| k).collect();
        let call = &mut self.calls[c];
        call.heard.retain(|(k, _)| !now_heard.contains(k));
        call.heard.extend(heard);
        Some(Line::Summary {
            host_problems,
            service_problems,
            recoveries,
        })
    }

    fn view(item: &Item) -> ItemView {
        ItemView {
            host: item.host.clone(),
            service: item.service.clone(),
            status: item.status,
            state_word: item.state_word.clone(),
            output: item.output.clone(),
        }
    }

    fn answer(&mut self, id: &CallId, now: Timestamp, fx: &mut Step) -> Prompt {
        let Some(c) = self.call_index(id) else {
            return Prompt {
                lines: vec![Line::NothingPending],
                after: After::Hangup,
            };
        };
        let call = &mut self.calls[c];
        if call.answered_at.is_none() {
            call.answered_at = Some(now);
            fx.records.push(self.record(c, None, None));
        }
        let call = &self.calls[c];
        let mut lines = vec![Line::Greeting {
            user: call.user.clone(),
        }];
        let after_lines = self.summary_then_menu(c, &mut lines);
        Prompt {
            lines,
            after: after_lines,
        }
    }

    /// After a prompt, the call must come back (keys, or its end) by the time the prompt
    /// is spoken, the keypad has waited and a grace has passed.
    fn expect_reply(&mut self, id: &CallId, prompt: &Prompt, now: Timestamp) {
        let keypad = match prompt.after {
            After::Gather => self.setting.keypad_timeout,
            After::Hangup => Duration::ZERO,
        };
        if let Some(c) = self.call_index(id) {
            self.calls[c].deadline = after(now, prompt.speaking_time() + keypad + KEYPAD_GRACE);
        }
    }

    /// Appends the summary and the menu, or the closing when nothing is left to hear.
    /// A call with nothing to acknowledge (a recovery notice) hears the summary and ends:
    /// it offers no keys it could not honour.
    fn summary_then_menu(&mut self, c: usize, lines: &mut Vec<Line>) -> After {
        match self.hear_summary(c) {
            Some(summary) => {
                lines.push(summary);
                let acknowledgeable = self.calls[c].heard.iter().any(|(k, _)| {
                    self.items
                        .position(k)
                        .is_some_and(|at| self.items[at].needs_ack())
                });
                if acknowledgeable {
                    lines.push(Line::Menu);
                    After::Gather
                } else {
                    self.close(c, lines)
                }
            }
            None => self.close(c, lines),
        }
    }

    fn close(&mut self, c: usize, lines: &mut Vec<Line>) -> After {
        if lines.is_empty() || matches!(lines.last(), Some(Line::Greeting { .. })) {
            lines.push(Line::NothingPending);
        }
        lines.push(Line::Closing {
            user: self.calls[c].user.clone(),
        });
        self.calls[c].ending = true;
        After::Hangup
    }

    fn digits(
        &mut self,
        id: &CallId,
        digits: &str,
        now: Timestamp,
        ctx: &Ctx,
        fx: &mut Step,
    ) -> Prompt {
        let Some(c) = self.call_index(id) else {
            return Prompt {
                lines: vec![Line::NothingPending],
                after: After::Hangup,
            };
        };
        let digits = digits.trim_end_matches('#');
        self.calls[c].keys.push(format!("{digits}#"));
        let mut lines = Vec::new();
        let after = match ctx.keypad.entry(digits) {
            // `#` alone: end unacknowledged; the same person is called back.
            Key::Nothing => After::Hangup,
            Key::Details => {
                self.play_details(c, &mut lines);
                lines.push(Line::Menu);
                After::Gather
            }
            Key::Pass => {
                self.calls[c].passed = true;
                lines.push(Line::PassedOn);
                After::Hangup
            }
            key @ (Key::AcknowledgeDetails | Key::Downtime | Key::AcknowledgeAll) => {
                self.phone_acknowledge(c, key, now, ctx, fx, &mut lines)
            }
            // Anything else: the summary and the menu again, with whatever arrived since.
            Key::Other => self.summary_then_menu(c, &mut lines),
        };
        fx.records.push(self.record(c, None, None));
        Prompt { lines, after }
    }

    /// The details of what call `c` heard (at most `MAX_DETAILS`, the rest counted); they
    /// become what the acknowledge-details key acknowledges.
    fn play_details(&mut self, c: usize, lines: &mut Vec<Line>) {
        self.hear_summary(c);
        let heard: HashSet<&ItemKey> = self.calls[c].heard.iter().map(|(k, _)| k).collect();
        let shown: Vec<&Item> = self
            .playable()
            .into_iter()
            .map(|i| &self.items[i])
            .filter(|i| heard.contains(&i.key))
            .collect();
        lines.extend(
            shown
                .iter()
                .take(MAX_DETAILS)
                .map(|i| Line::Detail(Self::view(i))),
        );
        if shown.len() > MAX_DETAILS {
            lines.push(Line::More {
                count: shown.len() - MAX_DETAILS,
            });
        }
        let details: Vec<ItemKey> = shown
            .iter()
            .take(MAX_DETAILS)
            .map(|i| i.key.clone())
            .collect();
        let call = &mut self.calls[c];
        call.details.retain(|k| !details.contains(k));
        call.details.extend(details);
    }

    /// Positions of the items heard in call `c`.
    fn heard(&self, c: usize) -> Vec<usize> {
        let keys: Vec<ItemKey> = self.calls[c].heard.iter().map(|(k, _)| k.clone()).collect();
        self.items.positions(&keys)
    }

    fn write_back_items(
        &self,
        positions: &[usize],
        keep: impl Fn(&Item) -> bool,
    ) -> Vec<WriteBackItem> {
        positions
            .iter()
            .map(|&at| &self.items[at])
            .filter(|i| keep(i))
            .map(|i| WriteBackItem {
                key: i.key.clone(),
                alert_id: i.problem_alert_id,
                source_ref: i.source_ref.clone(),
                host: i.host.clone(),
                service: i.service.clone(),
            })
            .collect()
    }

    /// The three acknowledging keys, one path: what `key` covers (the alerts whose details
    /// were played, or everything heard) is acknowledged by the person on call `c`, put in
    /// downtime first for the downtime key, and said ("N件を認知済みにしました").
    /// Acknowledging the details leaves the call on the menu; the others end it.
    fn phone_acknowledge(
        &mut self,
        c: usize,
        key: Key,
        now: Timestamp,
        ctx: &Ctx,
        fx: &mut Step,
        lines: &mut Vec<Line>,
    ) -> After {
        let positions = match key {
            Key::AcknowledgeDetails => self.items.positions(&self.calls[c].details),
            _ => self.heard(c),
        };
        let call = &self.calls[c];
        let by = AckBy::Phone {
            user: call.user.clone(),
            call: call.id.clone(),
            // As pressed (`9#`): the call log's last entry.
            key: call.keys.last().cloned(),
        };
        if key == Key::Downtime {
            let items = self.write_back_items(&positions, |i| i.status == ItemStatus::Problem);
            if !items.is_empty() {
                fx.records.push(Record::Downtime {
                    items,
                    minutes: ctx.downtime_minutes,
                    by: by.clone(),
                });
                fx.actions.push(Action::WriteBack);
            }
            lines.push(Line::Downtime {
                minutes: ctx.downtime_minutes,
            });
        }
        let acknowledged = self.acknowledge(&positions, by, now, fx);
        lines.push(Line::Acknowledged {
            count: acknowledged.len(),
        });
        self.calls[c].note_acknowledged(acknowledged);
        match key {
            Key::AcknowledgeDetails => self.summary_then_menu(c, lines),
            _ => self.close(c, lines),
        }
    }

    /// Acknowledges the unacknowledged problems among the items at `positions` (in
    /// arrival order); returns their keys.
    fn acknowledge(
        &mut self,
        positions: &[usize],
        by: AckBy,
        now: Timestamp,
        fx: &mut Step,
    ) -> Vec<ItemKey> {
        let items = self.write_back_items(positions, Item::needs_ack);
        for &at in positions {
            let item = &self.items[at];
            // Pressing the key again changes nothing, and stores nothing.
            if !item.needs_ack() && item.heard_version >= item.version {
                continue;
            }
            self.items.update(at, |item| {
                if item.needs_ack() {
                    item.ack = Some(by.clone());
                    item.acked_at = Some(now);
                }
                item.heard_version = item.heard_version.max(item.version);
            });
        }
        let acknowledged = items.iter().map(|i| i.key.clone()).collect();
        if !items.is_empty() {
            if by != AckBy::Source {
                fx.actions.push(Action::WriteBack);
            }
            fx.records.push(Record::Acknowledged { items, by });
        }
        acknowledged
    }

    fn record(
        &self,
        c: usize,
        ended_at: Option<Timestamp>,
        outcome: Option<OutcomeLabel>,
    ) -> Record {
        let call = &self.calls[c];
        Record::Call(CallRecord {
            call_id: call.id.clone(),
            incident_id: self.incident_id,
            user: call.user.clone(),
            phone: call.phone.clone(),
            purpose: call.purpose,
            placed_at: call.placed_at,
            sid: call.sid.clone(),
            answered_at: call.answered_at,
            ended_at,
            outcome,
            keys: call.keys.clone(),
            acknowledged: call.acknowledged.iter().map(|k| k.key.clone()).collect(),
        })
    }

    fn call_ended(
        &mut self,
        id: &CallId,
        outcome: CallOutcome,
        label: Option<OutcomeLabel>,
        now: Timestamp,
        ctx: &Ctx,
        fx: &mut Step,
    ) {
        let Some(c) = self.call_index(id) else {
            return; // Repeated or late callback: already handled.
        };
        let call = &self.calls[c];
        let declined = outcome == CallOutcome::Busy
            && now.duration_since(call.placed_at)
                <= SignedDuration::try_from(DECLINE_WINDOW).unwrap_or_default();
        let (disposition, label) = if call.passed {
            (Disposition::Next, OutcomeLabel::Passed)
        } else if call.machine {
            (Disposition::Next, OutcomeLabel::Machine)
        } else if !call.acknowledged.is_empty() {
            (Disposition::CallBack, OutcomeLabel::Acknowledged)
        } else if call.purpose == CallPurpose::Notice && call.answered_at.is_some() {
            (Disposition::CallBack, OutcomeLabel::Notified)
        } else if call.answered_at.is_some() {
            (Disposition::CallBack, label.unwrap_or(OutcomeLabel::HungUp))
        } else if declined {
            (Disposition::CallBack, OutcomeLabel::Declined)
        } else {
            (Disposition::Next, label.unwrap_or(outcome.into()))
        };
        fx.records.push(self.record(c, Some(now), Some(label)));
        let call = self.calls.remove(c);
        if call.purpose == CallPurpose::Notice {
            // One recovery notice per recovery, answered or not.
            self.mark_recoveries_heard();
            return;
        }
        if !self.needs_ack() || self.status != Status::Escalating {
            return;
        }
        if call.ending {
            // Hung up after acknowledging what was heard; what arrived meanwhile is called
            // in to the same person at once (X-MON Q&A: 9# then additions).
            if !call.acknowledged.is_empty() {
                self.attempts.push(Attempt {
                    target: call.target,
                    at: now,
                });
            }
            return;
        }
        match disposition {
            Disposition::CallBack if self.callbacks[call.target] < self.setting.max_callbacks => {
                self.callbacks[call.target] += 1;
                let at = after(now, self.setting.retry_after);
                self.attempts.push(Attempt {
                    target: call.target,
                    at,
                });
            }
            _ if self.setting.broadcast => {}
            _ => self.advance(now, ctx, fx),
        }
        // Broadcast: the round ends when nobody is on the phone and no call-back is due.
        let live = self
            .calls
            .iter()
            .any(|c| c.purpose == CallPurpose::Escalate);
        if self.setting.broadcast && !live && self.attempts.is_empty() {
            self.next_round(now, ctx, fx);
        }
    }

    /// Round-robin: the next person now, or after the last the next round after retry_after.
    fn advance(&mut self, now: Timestamp, ctx: &Ctx, fx: &mut Step) {
        self.cursor += 1;
        if self.cursor < self.setting.targets.len() {
            self.attempts.push(Attempt {
                target: self.cursor,
                at: now,
            });
        } else {
            self.cursor = 0;
            self.next_round(now, ctx, fx);
        }
    }

    fn next_round(&mut self, now: Timestamp, ctx: &Ctx, fx: &mut Step) {
        self.round += 1;
        if self.round >= self.setting.rounds {
            self.exhaust(now, ctx, fx);
        } else {
            self.callbacks.fill(0);
            self.schedule_round(after(now, self.setting.retry_after));
        }
    }

    fn exhaust(&mut self, now: Timestamp, ctx: &Ctx, fx: &mut Step) {
        self.status = Status::Exhausted;
        self.attempts.clear();
        fx.records.push(Record::Notice(Notice::Exhausted {
            incident: self.incident_id,
            rounds: self.setting.rounds,
        }));
        let message = SmsMessage::Exhausted {
            incident: self.incident_id,
            rounds: self.setting.rounds,
            unacknowledged: self.items.unacknowledged(),
        };
        fx.actions.push(Action::Alarm(message.clone()));
        if !self.setting.sms_on_exhaustion {
            return;
        }
        // The SMS goes to the first target that resolves to a person right now.
        let first = (0..self.setting.targets.len()).find_map(|t| self.resolve(t, now, ctx).ok());
        if let Some(person) = first {
            fx.actions.push(Action::SendSms {
                user: person.id,
                phone: person.phone,
                message,
            });
        }
    }

    /// Restores the invariants after any input.
    fn settle(&mut self, now: Timestamp, ctx: &Ctx, fx: &mut Step) {
        self.reescalate_stale(now, ctx, fx);
        let expired: Vec<CallId> = self
            .calls
            .iter()
            .filter(|c| c.deadline <= now)
            .map(|c| c.id.clone())
            .collect();
        for id in expired {
            let call = self.calls.iter().find(|c| c.id == id);
            fx.actions.push(Action::EndCall {
                call: id.clone(),
                sid: call.and_then(|c| c.sid.clone()),
                answered: call.is_some_and(|c| c.answered_at.is_some()),
                farewell: None,
            });
            self.call_ended(
                &id,
                CallOutcome::Failed,
                Some(OutcomeLabel::NoOutcome),
                now,
                ctx,
                fx,
            );
        }

        if !self.needs_ack() {
            self.attempts.clear();
            self.status = Status::Quiet;
            self.end_escalation_calls(fx);
            if self.unheard_recoveries() && self.calls.is_empty() {
                self.place_notices(now, ctx, fx);
            }
            return;
        }
        if self.status != Status::Escalating {
            return; // Exhausted: waits for a new problem or an acknowledgement.
        }
        // Never stall: a finished call with problems left is followed up at once.
        let live = self
            .calls
            .iter()
            .any(|c| c.purpose == CallPurpose::Escalate);
        if !live && self.attempts.is_empty() {
            self.schedule_round(now);
        }
        // Placing can schedule more attempts (an unreachable target moves the cursor).
        while let Some(i) = self.attempts.iter().position(|a| a.at <= now) {
            let attempt = self.attempts.remove(i);
            self.try_place(attempt.target, CallPurpose::Escalate, now, ctx, fx);
            if self.status != Status::Escalating {
                break;
            }
        }
    }

    /// Everything is acknowledged or recovered: stop the calls still ringing, and tell
    /// people still on the line who took it.
    fn end_escalation_calls(&mut self, fx: &mut Step) {
        if !self
            .calls
            .iter()
            .any(|c| c.purpose == CallPurpose::Escalate && !c.ending)
        {
            return;
        }
        let handled_by = self.items.iter().rev().find_map(|i| match &i.ack {
            Some(AckBy::Phone { user, .. }) => Some(user.to_string()),
            Some(AckBy::Manual { by, .. }) => Some(by.clone()),
            _ => None,
        });
        for call in self
            .calls
            .iter_mut()
            .filter(|c| c.purpose == CallPurpose::Escalate && !c.ending)
        {
            call.ending = true;
            let farewell = call.answered_at.map(|_| Prompt {
                lines: vec![
                    match &handled_by {
                        Some(name) => Line::HandledBy { name: name.clone() },
                        None => Line::NothingPending,
                    },
                    Line::Closing {
                        user: call.user.clone(),
                    },
                ],
                after: After::Hangup,
            });
            fx.actions.push(Action::EndCall {
                call: call.id.clone(),
                sid: call.sid.clone(),
                answered: call.answered_at.is_some(),
                farewell,
            });
        }
    }

    fn place_notices(&mut self, now: Timestamp, ctx: &Ctx, fx: &mut Step) {
        let targets: Vec<usize> = if self.setting.broadcast {
            (0..self.setting.targets.len()).collect()
        } else {
            vec![self.cursor]
        };
        for target in targets {
            self.try_place(target, CallPurpose::Notice, now, ctx, fx);
        }
        if self.calls.is_empty() {
            self.mark_recoveries_heard();
        }
    }

    fn mark_recoveries_heard(&mut self) {
        let unheard: Vec<usize> = (0..self.items.len())
            .filter(|&at| {
                let item = &self.items[at];
                item.status == ItemStatus::Recovered && item.heard_version != item.version
            })
            .collect();
        for at in unheard {
            self.items
                .update(at, |item| item.heard_version = item.version);
        }
    }

    fn resolve(&self, target: usize, now: Timestamp, ctx: &Ctx) -> Result<Person, Unreachable> {
        let user = match &self.setting.targets[target] {
            SnapshotTarget::User(u) => u.clone(),
            SnapshotTarget::Schedule(s) => ctx
                .roster
                .on_call(s, now)
                .ok_or_else(|| Unreachable::NobodyOnCall(s.clone()))?,
        };
        ctx.roster
            .person(&user)
            .ok_or(Unreachable::UnknownUser(user))
    }

    fn try_place(
        &mut self,
        target: usize,
        purpose: CallPurpose,
        now: Timestamp,
        ctx: &Ctx,
        fx: &mut Step,
    ) {
        let person = match self.resolve(target, now, ctx) {
            Ok(p) => p,
            Err(why) => {
                fx.records.push(Record::Notice(Notice::TargetUnreachable {
                    target: target + 1,
                    setting: self.setting.id.clone(),
                    why,
                }));
                if purpose == CallPurpose::Escalate && !self.setting.broadcast {
                    self.advance(now, ctx, fx);
                }
                return;
            }
        };
        if self.calls.iter().any(|c| c.user == person.id) {
            return; // Already on the phone for this call setting (design.md rule 1).
        }
        let window = SignedDuration::try_from(ctx.per_number_window).unwrap_or(SignedDuration::MAX);
        let recent: Vec<Timestamp> = self
            .placed
            .iter()
            .filter(|(p, at)| *p == person.phone && now.duration_since(*at) < window)
            .map(|(_, at)| *at)
            .collect();
        if recent.len() as u32 >= ctx.per_number_limit {
            let oldest = recent.into_iter().min().unwrap_or(now);
            let at = after(oldest, ctx.per_number_window);
            fx.records.push(Record::Notice(Notice::NumberLimit {
                user: person.id,
                limit: ctx.per_number_limit,
                window: ctx.per_number_window,
                incident: self.incident_id,
                until: at,
            }));
            self.attempts.push(Attempt { target, at });
            return;
        }
        let id = CallId::new(self.incident_id, self.next_seq);
        self.next_seq += 1;
        self.placed.push((person.phone.clone(), now));
        self.calls.push(Call {
            id: id.clone(),
            target,
            user: person.id.clone(),
            phone: person.phone.clone(),
            purpose,
            placed_at: now,
            sid: None,
            answered_at: None,
            deadline: after(now, self.setting.ring_timeout + OUTCOME_GRACE),
            heard: Vec::new(),
            details: Vec::new(),
            keys: Vec::new(),
            acknowledged: Vec::new(),
            machine: false,
            passed: false,
            ending: false,
        });
        fx.actions.push(Action::PlaceCall {
            call: id,
            user: person.id,
            phone: person.phone,
            ring_timeout: self.setting.ring_timeout,
        });
        fx.records
            .push(self.record(self.calls.len() - 1, None, None));
    }
}
