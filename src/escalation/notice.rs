//! What the engine tells operators about an incident: shown on it, logged, and stored in
//! the `notices` table as the text [`Notice`]'s `Display` gives.

use super::state::{CallId, ItemKey};
use crate::domain::{CallSettingId, IncidentId, ScheduleId, UserId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// `reescalate_after` passed with the problem still open.
    AcknowledgementStale { key: ItemKey, after: Duration },
    /// The provider refused the call.
    PlaceFailed { call: CallId, reason: String },
    /// The provider does not know the call (kaden restarted during it).
    CallLost { call: CallId },
    /// The source reported back an acknowledgement kaden wrote.
    OwnWriteBack { key: ItemKey },
    /// Someone acknowledged in the source itself.
    AcknowledgedInSource { key: ItemKey },
    /// Every round ran out unacknowledged.
    Exhausted { incident: IncidentId, rounds: u32 },
    /// A target of the call setting resolves to nobody; `target` counts from 1.
    TargetUnreachable {
        target: usize,
        setting: CallSettingId,
        why: Unreachable,
    },
    /// The per-number loop guard holds the next call back.
    NumberLimit {
        user: UserId,
        limit: u32,
        window: Duration,
        incident: IncidentId,
        until: Timestamp,
    },
}

/// Why a target resolves to nobody.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unreachable {
    NobodyOnCall(ScheduleId),
    UnknownUser(UserId),
}

impl Notice {
    /// Whether it is an error (else it is for information).
    pub fn is_error(&self) -> bool {
        !matches!(
            self,
            Notice::OwnWriteBack { .. } | Notice::AcknowledgedInSource { .. }
        )
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::AcknowledgementStale { key, after } => write!(
                f,
                "The acknowledgement of {} is stale: still open after {}; calling again.",
                key.key,
                humantime::format_duration(*after)
            ),
            Notice::PlaceFailed { call, reason } => {
                write!(f, "Call {call} could not be placed: {reason}")
            }
            Notice::CallLost { call } => write!(
                f,
                "Call {call} is unknown to the telephony provider (kaden restarted during it); it ends unacknowledged."
            ),
            Notice::OwnWriteBack { key } => write!(
                f,
                "Acknowledgement of {} from {} is kaden's own write-back; ignored.",
                key.key, key.source
            ),
            Notice::AcknowledgedInSource { key } => write!(
                f,
                "{} was acknowledged in {}; calling stops for it.",
                key.key, key.source
            ),
            Notice::Exhausted { incident, rounds } => write!(
                f,
                "Escalation exhausted: nobody acknowledged incident {incident} after {rounds} round(s)."
            ),
            Notice::TargetUnreachable {
                target,
                setting,
                why,
            } => write!(
                f,
                "Target {target} of call setting {setting}: {why}; moving on."
            ),
            Notice::NumberLimit {
                user,
                limit,
                window,
                incident,
                until,
            } => write!(
                f,
                "{user} was called {limit} times within {} for incident {incident}; the next call waits until {until}.",
                humantime::format_duration(*window)
            ),
        }
    }
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreachable::NobodyOnCall(schedule) => {
                write!(f, "schedule {schedule} has nobody on call")
            }
            Unreachable::UnknownUser(user) => write!(f, "user {user} is no longer in the config"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Source;

    /// The stored and shown wording, which operators and their log searches know.
    #[test]
    fn notices_read_as_they_always_have() {
        let key = ItemKey {
            source: Source::Zabbix,
            key: "web-01/HTTP".into(),
        };
        let call = CallId::new(IncidentId::new(7), 2);
        let incident = IncidentId::new(7);
        let cases = [
            (
                Notice::AcknowledgementStale {
                    key: key.clone(),
                    after: Duration::from_secs(7200),
                },
                true,
                "The acknowledgement of web-01/HTTP is stale: still open after 2h; calling again.",
            ),
            (
                Notice::PlaceFailed {
                    call: call.clone(),
                    reason: "HTTP 400".into(),
                },
                true,
                "Call 7-2 could not be placed: HTTP 400",
            ),
            (
                Notice::CallLost { call },
                true,
                "Call 7-2 is unknown to the telephony provider (kaden restarted during it); it ends unacknowledged.",
            ),
            (
                Notice::OwnWriteBack { key: key.clone() },
                false,
                "Acknowledgement of web-01/HTTP from zabbix is kaden's own write-back; ignored.",
            ),
            (
                Notice::AcknowledgedInSource { key },
                false,
                "web-01/HTTP was acknowledged in zabbix; calling stops for it.",
            ),
            (
                Notice::Exhausted {
                    incident,
                    rounds: 3,
                },
                true,
                "Escalation exhausted: nobody acknowledged incident 7 after 3 round(s).",
            ),
            (
                Notice::TargetUnreachable {
                    target: 2,
                    setting: CallSettingId::new("infra"),
                    why: Unreachable::NobodyOnCall(ScheduleId::new("primary")),
                },
                true,
                "Target 2 of call setting infra: schedule primary has nobody on call; moving on.",
            ),
            (
                Notice::TargetUnreachable {
                    target: 1,
                    setting: CallSettingId::new("infra"),
                    why: Unreachable::UnknownUser(UserId::new("gone")),
                },
                true,
                "Target 1 of call setting infra: user gone is no longer in the config; moving on.",
            ),
            (
                Notice::NumberLimit {
                    user: UserId::new("a"),
                    limit: 2,
                    window: Duration::from_secs(3600),
                    incident,
                    until: "2026-11-23T19:00:00Z".parse().unwrap(),
                },
                true,
                "a was called 2 times within 1h for incident 7; the next call waits until 2026-11-23T19:00:00Z.",
            ),
        ];
        for (notice, error, text) in cases {
            assert_eq!(notice.to_string(), text);
            assert_eq!(notice.is_error(), error, "{text}");
        }
    }
}
