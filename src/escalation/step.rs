//! What goes into a step and what comes out: the inputs, and the records to store and
//! the actions to carry out that [`Escalation::handle`](super::Escalation::handle) returns.

use super::notice::Notice;
use super::prompt::Prompt;
use super::state::{AckBy, CallId, CallPurpose, ItemKey, ManualVia};
use crate::domain::{AlertId, AlertKind, IncidentId, PhoneNumber, Severity, SourceRef, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

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
    /// Calling has failed: tell `telephony.alarm_webhook`, whether or not an SMS could go
    /// out (nobody may resolve to a person, or the SMS is switched off).
    Alarm(SmsMessage),
    /// New rows wait in the write-back outbox.
    WriteBack,
}
