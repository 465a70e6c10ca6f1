//! The engine's state, inputs and effects. All serializable: the state is stored in
//! SQLite after every step, so a restart continues where it was.

use super::items::Items;
use super::{Notice, Prompt};
use crate::config::{CallMode, CallSetting, Target};
use crate::domain::{
    AlertId, AlertKind, CallSettingId, IncidentId, PhoneNumber, Severity, Source, SourceRef, UserId,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Our id for one call: `<incident>-<n>`. Twilio's CallSid is learned later.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(String);

impl CallId {
    pub fn new(incident: IncidentId, seq: u32) -> Self {
        CallId(format!("{incident}-{seq}"))
    }
    pub fn parse(s: &str) -> Option<Self> {
        let (incident, seq) = s.split_once('-')?;
        (incident.parse::<i64>().is_ok() && seq.parse::<u32>().is_ok()).then(|| CallId(s.into()))
    }
    pub fn incident(&self) -> IncidentId {
        let incident = self.0.split_once('-').map_or("0", |(i, _)| i);
        IncidentId::new(incident.parse().unwrap_or_default())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The call setting as it was when the escalation started; config reloads do not touch it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingSnapshot {
    pub id: CallSettingId,
    pub broadcast: bool,
    pub targets: Vec<SnapshotTarget>,
    #[serde(with = "humantime_serde_secs")]
    pub ring_timeout: Duration,
    #[serde(with = "humantime_serde_secs")]
    pub retry_after: Duration,
    pub max_callbacks: u32,
    pub rounds: u32,
    pub notify_recovery: bool,
    #[serde(with = "humantime_serde_secs")]
    pub keypad_timeout: Duration,
    pub sms_on_exhaustion: bool,
    #[serde(default, with = "optional_secs")]
    pub reescalate_after: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotTarget {
    User(UserId),
    Schedule(crate::domain::ScheduleId),
}

impl From<&CallSetting> for SettingSnapshot {
    fn from(c: &CallSetting) -> Self {
        SettingSnapshot {
            id: c.id.clone(),
            broadcast: c.mode == CallMode::Broadcast,
            targets: c
                .targets
                .iter()
                .map(|t| match t {
                    Target::User(u) => SnapshotTarget::User(u.clone()),
                    Target::Schedule(s) => SnapshotTarget::Schedule(s.clone()),
                })
                .collect(),
            ring_timeout: c.ring_timeout,
            retry_after: c.retry_after,
            max_callbacks: c.max_callbacks,
            rounds: c.rounds,
            notify_recovery: c.notify_recovery,
            keypad_timeout: c.keypad_timeout,
            sms_on_exhaustion: c.sms_on_exhaustion,
            reescalate_after: c.reescalate_after,
        }
    }
}

/// Durations stored as whole seconds, readable in the JSON.
mod humantime_serde_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

mod optional_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemKey {
    pub source: Source,
    pub key: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Problem,
    Recovered,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckBy {
    /// Pressed on the phone during `call`; `key` is what was pressed (`9#`, `3#`, `4#`).
    Phone {
        user: UserId,
        call: CallId,
        #[serde(default)]
        key: Option<String>,
    },
    /// `kaden ack`, the API or the status page.
    Manual {
        by: String,
        #[serde(default)]
        via: ManualVia,
    },
    /// Someone acknowledged in the monitoring system itself.
    Source,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManualVia {
    /// `POST /api/v1/incidents/{id}/ack` (and `kaden ack`, which calls it).
    #[default]
    Api,
    /// The status page's button.
    Web,
}

impl AckBy {
    /// The name a source's own log shows as the author.
    pub fn author(&self) -> String {
        match self {
            AckBy::Phone { user, .. } => user.to_string(),
            AckBy::Manual { by, .. } => by.clone(),
            AckBy::Source => "kaden".into(),
        }
    }

    /// `{user, via, key}` as the API shows who acknowledged and how.
    pub fn view(&self) -> serde_json::Value {
        match self {
            AckBy::Phone { user, key, .. } => {
                serde_json::json!({ "user": user, "via": "phone", "key": key })
            }
            AckBy::Manual { by, via } => serde_json::json!({ "user": by, "via": via }),
            AckBy::Source => serde_json::json!({ "user": null, "via": "source" }),
        }
    }
}

/// The latest state of one thing that is broken (one key of one source).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: ItemKey,
    pub host: String,
    pub service: Option<String>,
    pub severity: Severity,
    pub state_word: String,
    pub output: String,
    pub status: ItemStatus,
    /// Bumped on every problem ↔ recovery change: "latest state" is (status, version).
    pub version: u32,
    /// The highest version anyone has heard.
    pub heard_version: u32,
    pub last_alert_id: AlertId,
    /// The problem alert to acknowledge in the source.
    pub problem_alert_id: AlertId,
    pub source_ref: SourceRef,
    pub ack: Option<AckBy>,
    /// When `ack` was made (re-escalation counts from it).
    #[serde(default)]
    pub acked_at: Option<Timestamp>,
}

impl Item {
    pub fn needs_ack(&self) -> bool {
        self.status == ItemStatus::Problem && self.ack.is_none()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPurpose {
    /// Wake someone until a problem is acknowledged.
    Escalate,
    /// One recovery notice; never escalates.
    Notice,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub id: CallId,
    pub target: usize,
    pub user: UserId,
    pub phone: PhoneNumber,
    pub purpose: CallPurpose,
    pub placed_at: Timestamp,
    pub sid: Option<String>,
    pub answered_at: Option<Timestamp>,
    /// After this the call counts as failed even if Twilio never reports its end.
    pub deadline: Timestamp,
    /// (item, version) played in this call.
    pub heard: Vec<(ItemKey, u32)>,
    /// Items whose details were played (what 3# acknowledges).
    pub details: Vec<ItemKey>,
    pub keys: Vec<String>,
    pub acknowledged: Vec<ItemKey>,
    pub machine: bool,
    pub passed: bool,
    /// kaden asked Twilio to end this call; its end has no consequence.
    pub ending: bool,
}

impl Call {
    /// Adds what a key acknowledged to the call log, once each however often it is pressed.
    pub fn note_acknowledged(&mut self, keys: Vec<ItemKey>) {
        for key in keys {
            if !self.acknowledged.contains(&key) {
                self.acknowledged.push(key);
            }
        }
    }
}

/// How a call ended, as Twilio reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallOutcome {
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl CallOutcome {
    pub fn parse(status: &str) -> Option<Self> {
        Some(match status {
            "completed" => CallOutcome::Completed,
            "busy" => CallOutcome::Busy,
            "no-answer" => CallOutcome::NoAnswer,
            "failed" => CallOutcome::Failed,
            "canceled" => CallOutcome::Canceled,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Completed => "completed",
            CallOutcome::Busy => "busy",
            CallOutcome::NoAnswer => "no-answer",
            CallOutcome::Failed => "failed",
            CallOutcome::Canceled => "canceled",
        }
    }
}

impl From<CallOutcome> for OutcomeLabel {
    fn from(outcome: CallOutcome) -> Self {
        match outcome {
            CallOutcome::Completed => OutcomeLabel::Completed,
            CallOutcome::Busy => OutcomeLabel::Busy,
            CallOutcome::NoAnswer => OutcomeLabel::NoAnswer,
            CallOutcome::Failed => OutcomeLabel::Failed,
            CallOutcome::Canceled => OutcomeLabel::Canceled,
        }
    }
}

/// How the call log labels a call: Twilio's own statuses, or what kaden made of the call.
/// Stored in `calls.outcome` and shown by the API, the CLI and the status page, so the
/// spellings never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeLabel {
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
    /// Passed on to the next person with the pass key.
    Passed,
    /// An answering machine picked up.
    Machine,
    /// Something was acknowledged on the call.
    Acknowledged,
    /// A recovery notice was heard.
    Notified,
    /// Answered, then ended without acknowledging.
    HungUp,
    /// Busy within seconds of ringing: the callee refused it.
    Declined,
    /// The hourly call cap put it off; it is placed again later under a new id.
    Deferred,
    /// The provider refused the number.
    InvalidNumber,
    /// The provider does not know the call (kaden restarted during it).
    Lost,
    /// Its outcome never arrived before its deadline.
    NoOutcome,
}

impl OutcomeLabel {
    pub const ALL: [OutcomeLabel; 15] = [
        OutcomeLabel::Completed,
        OutcomeLabel::Busy,
        OutcomeLabel::NoAnswer,
        OutcomeLabel::Failed,
        OutcomeLabel::Canceled,
        OutcomeLabel::Passed,
        OutcomeLabel::Machine,
        OutcomeLabel::Acknowledged,
        OutcomeLabel::Notified,
        OutcomeLabel::HungUp,
        OutcomeLabel::Declined,
        OutcomeLabel::Deferred,
        OutcomeLabel::InvalidNumber,
        OutcomeLabel::Lost,
        OutcomeLabel::NoOutcome,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeLabel::Completed => "completed",
            OutcomeLabel::Busy => "busy",
            OutcomeLabel::NoAnswer => "no-answer",
            OutcomeLabel::Failed => "failed",
            OutcomeLabel::Canceled => "canceled",
            OutcomeLabel::Passed => "passed",
            OutcomeLabel::Machine => "machine",
            OutcomeLabel::Acknowledged => "acknowledged",
            OutcomeLabel::Notified => "notified",
            OutcomeLabel::HungUp => "hung-up",
            OutcomeLabel::Declined => "declined",
            OutcomeLabel::Deferred => "deferred",
            OutcomeLabel::InvalidNumber => "invalid-number",
            OutcomeLabel::Lost => "lost",
            OutcomeLabel::NoOutcome => "no-outcome",
        }
    }

    /// The label a stored call log row carries, if it is one kaden writes.
    pub fn parse(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == label)
    }
}

impl fmt::Display for OutcomeLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the call log (design.md rule 9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: CallId,
    pub incident_id: IncidentId,
    pub user: UserId,
    pub phone: PhoneNumber,
    pub purpose: CallPurpose,
    pub placed_at: Timestamp,
    pub sid: Option<String>,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// `None` while the call is on.
    pub outcome: Option<OutcomeLabel>,
    pub keys: Vec<String>,
    pub acknowledged: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Calling (or waiting to call again) until every problem is acknowledged.
    Escalating,
    /// Every problem is acknowledged or recovered; new problems restart calling.
    Quiet,
    /// Every round ran out with a problem unacknowledged.
    Exhausted,
}

/// A scheduled call attempt: `target` (index into the snapshot's targets) at `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub target: usize,
    pub at: Timestamp,
}

/// One incident's escalation. Its fields are the engine's own: outside code feeds it
/// inputs, carries out the steps and reads it through the methods in `engine.rs`.
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

/// An alert of this incident, as the engine needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertInput {
    pub alert_id: AlertId,
    pub kind: AlertKind,
    pub key: ItemKey,
    pub host: String,
    pub service: Option<String>,
    pub severity: Severity,
    pub state_word: String,
    pub output: String,
    pub source_ref: SourceRef,
}

/// Something that happened, fed to [`Escalation::handle`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Input {
    Alert(AlertInput),
    /// Twilio accepted the call.
    Placed {
        call: CallId,
        sid: String,
    },
    /// Twilio refused the call; `skip_person` when retrying cannot help (bad number).
    PlaceFailed {
        call: CallId,
        reason: String,
        skip_person: bool,
    },
    /// The daemon-wide call cap is reached: try this call again at `until`.
    Deferred {
        call: CallId,
        until: Timestamp,
    },
    /// The callee picked up (Twilio fetched the voice URL); answers with the first prompt.
    Answered {
        call: CallId,
    },
    /// Answering-machine detection says a machine picked up.
    Machine {
        call: CallId,
    },
    /// Keys pressed before `#` (empty: `#` alone).
    Digits {
        call: CallId,
        digits: String,
    },
    Ended {
        call: CallId,
        outcome: CallOutcome,
    },
    /// The provider does not know the call (its record went with a restart).
    Lost {
        call: CallId,
    },
    /// A deadline passed.
    Tick,
    /// `kaden ack` / POST /api/v1/incidents/{id}/ack.
    ManualAck {
        by: String,
        via: ManualVia,
    },
}

/// What an SMS says; the speech module words it in the configured language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmsMessage {
    Exhausted {
        incident: IncidentId,
        rounds: u32,
        unacknowledged: usize,
    },
    /// The daemon-wide hourly call cap deferred calls for this incident.
    CallCapReached { incident: IncidentId, cap: u32 },
}

impl Input {
    /// The call an input is about, if any.
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Input::Placed { call, .. }
            | Input::PlaceFailed { call, .. }
            | Input::Deferred { call, .. }
            | Input::Answered { call }
            | Input::Machine { call }
            | Input::Digits { call, .. }
            | Input::Ended { call, .. }
            | Input::Lost { call } => Some(call),
            Input::Alert(_) | Input::Tick | Input::ManualAck { .. } => None,
        }
    }
}

/// An alert to acknowledge (or put in downtime) in its source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBackItem {
    pub key: ItemKey,
    pub alert_id: AlertId,
    pub source_ref: SourceRef,
    pub host: String,
    pub service: Option<String>,
}

/// What one input did. The store saves every record with the new state; only then does
/// the runner carry out the actions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    pub records: Vec<Record>,
    pub actions: Vec<Action>,
    /// Nothing more can happen for this incident: it can be put away.
    pub finished: bool,
}

/// Something to keep: the call log, the incident's notices and lifecycle, the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    Call(CallRecord),
    /// Something an operator must see: shown on the incident (and logged).
    Notice(Notice),
    /// These problems are acknowledged: recorded on the incident, and queued for writing
    /// back to the source unless the acknowledgement came from it.
    Acknowledged {
        items: Vec<WriteBackItem>,
        by: AckBy,
    },
    /// Downtime to schedule in the source.
    Downtime {
        items: Vec<WriteBackItem>,
        minutes: u32,
        by: AckBy,
    },
    /// These acknowledgements went stale (`reescalate_after`): the problems are open again.
    AcknowledgementStale {
        keys: Vec<ItemKey>,
    },
}

/// Something to do in the outside world once the step is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    PlaceCall {
        call: CallId,
        user: UserId,
        phone: PhoneNumber,
        ring_timeout: Duration,
    },
    /// Hang up (or cancel while ringing); with `farewell`, say it first.
    EndCall {
        call: CallId,
        sid: Option<String>,
        /// Hang up (answered) rather than cancel (still ringing).
        answered: bool,
        farewell: Option<Prompt>,
    },
    /// The answer to an `Answered` or `Digits` input.
    Respond(Prompt),
    SendSms {
        user: UserId,
        phone: PhoneNumber,
        message: SmsMessage,
    },
    /// New rows wait in the write-back outbox.
    WriteBack,
}
