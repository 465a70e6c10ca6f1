//! The normalized alert: what every source's payload becomes before anything else sees it.

use super::Severity;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an alert came from. Decides the write-back path for acknowledgements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Zabbix,
    Nagios,
    Icinga2,
    Mackerel,
    Generic,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::Zabbix,
        Source::Nagios,
        Source::Icinga2,
        Source::Mackerel,
        Source::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Zabbix => "zabbix",
            Source::Nagios => "nagios",
            Source::Icinga2 => "icinga2",
            Source::Mackerel => "mackerel",
            Source::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|src| src.as_str() == s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The source-side identity needed to acknowledge the alert later. The source is derived
/// from it, so the two can never disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceRef {
    /// `{EVENT.ID}`: the problem event, also carried by its recovery and updates.
    Zabbix { event_id: u64 },
    /// Host, optional service and `$HOSTPROBLEMID$` / `$SERVICEPROBLEMID$`.
    Nagios {
        host: String,
        service: Option<String>,
        problem_id: u64,
    },
    /// The Icinga 2 object name: `host` or `host!service`.
    Icinga2 { object: String },
    /// Mackerel `alert.id`.
    Mackerel { alert_id: String },
    /// Generic alerts have nothing to write back to.
    Generic,
}

impl SourceRef {
    pub fn source(&self) -> Source {
        match self {
            SourceRef::Zabbix { .. } => Source::Zabbix,
            SourceRef::Nagios { .. } => Source::Nagios,
            SourceRef::Icinga2 { .. } => Source::Icinga2,
            SourceRef::Mackerel { .. } => Source::Mackerel,
            SourceRef::Generic => Source::Generic,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Problem,
    Recovery,
    /// Someone acknowledged the problem in the source itself.
    Acknowledgement,
    /// Any other change reported by the source (comment, severity change).
    Update,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Problem => "problem",
            AlertKind::Recovery => "recovery",
            AlertKind::Acknowledgement => "acknowledgement",
            AlertKind::Update => "update",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        [
            AlertKind::Problem,
            AlertKind::Recovery,
            AlertKind::Acknowledgement,
            AlertKind::Update,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An alert as kaden understands it, whatever sent it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub source_ref: SourceRef,
    /// What is broken; a later recovery with the same key (and source) resolves it.
    pub key: String,
    pub kind: AlertKind,
    pub severity: Severity,
    pub host: String,
    pub service: Option<String>,
    /// The source's own state word (CRITICAL, DOWN, PROBLEM, critical ...).
    pub state: String,
    /// The check output or trigger name: what is read aloud as the details.
    pub output: String,
    pub occurred_at: Timestamp,
    /// The payload exactly as received, for audit and for fields kaden does not model.
    pub raw: String,
}

impl Alert {
    pub fn source(&self) -> Source {
        self.source_ref.source()
    }
}
