//! What an escalation is made of: its call setting, items, calls and attempts, and the
//! ids that name them. All serializable: the state is stored in SQLite after every step,
//! so a restart continues where it was.

use crate::config::{CallMode, CallSetting, Target};
use crate::domain::{
    AlertId, CallSettingId, IncidentId, PhoneNumber, Severity, Source, SourceRef, UserId,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
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
        if keys.is_empty() {
            return;
        }
        // A set, not `contains` per key: one press can acknowledge a storm's thousands.
        let mut noted: HashSet<ItemKey> = self.acknowledged.iter().cloned().collect();
        for key in keys {
            if noted.insert(key.clone()) {
                self.acknowledged.push(key);
            }
        }
    }
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
