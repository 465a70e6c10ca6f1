//! A serde mirror of `kaden.yaml`, as written. Values that need parsing (durations, phone
//! numbers, targets, secrets) stay strings here so validation can report each one with
//! its key path and line, all at once.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub locale: RawLocale,
    #[serde(default)]
    pub telephony: RawTelephony,
    #[serde(default)]
    pub users: Vec<RawUser>,
    #[serde(default)]
    pub schedules: Vec<RawSchedule>,
    #[serde(default)]
    pub call_settings: Vec<RawCallSetting>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    #[serde(default)]
    pub sources: RawSources,
    #[serde(default)]
    pub pronunciation: Vec<String>,
    #[serde(default)]
    pub speech: RawSpeech,
    #[serde(default)]
    pub keys: RawKeys,
    #[serde(default)]
    pub heartbeats: Vec<RawHeartbeat>,
}

/// `heartbeats:`: something that must check in every so often.
#[derive(Debug, Deserialize)]
pub struct RawHeartbeat {
    pub id: String,
    pub every: String,
    pub grace: String,
    pub call: String,
}

/// `keys:`: the keypad menu's keys, each a digit (`9`) or a string (`"*"`, `"9#"`).
#[derive(Debug, Default, Deserialize)]
pub struct RawKeys {
    pub details: Option<RawKey>,
    pub pass: Option<RawKey>,
    pub acknowledge_details: Option<RawKey>,
    pub downtime: Option<RawKey>,
    pub acknowledge_all: Option<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawKey {
    Digit(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSpeech {
    pub voice: Option<String>,
    #[serde(default)]
    pub templates: std::collections::BTreeMap<String, String>,
    pub downtime_minutes: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawServer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub instance_url: Option<String>,
    #[serde(default)]
    pub api_tokens: Vec<String>,
    #[serde(default)]
    pub ingest_tokens: Vec<String>,
    pub max_connections: Option<usize>,
    pub header_read_timeout: Option<String>,
    pub request_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStorage {
    pub sqlite: Option<String>,
    /// A PostgreSQL URL, or `${env:..}`/`${file:..}` giving one.
    pub postgres: Option<String>,
    pub spool: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawLocale {
    pub timezone: Option<String>,
    pub language: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawTelephony {
    pub provider: Option<String>,
    pub twilio: Option<RawTwilio>,
    pub simulator: Option<RawSimulator>,
    pub max_calls_per_hour: Option<u32>,
    pub per_number_limit: Option<u32>,
    pub per_number_window: Option<String>,
    pub fallback: Option<RawFallback>,
    pub alarm_webhook: Option<String>,
    pub rates: Option<RawRates>,
    #[serde(default)]
    pub triggers: Vec<RawTrigger>,
}

#[derive(Debug, Deserialize)]
pub struct RawFallback {
    pub twilio: Option<RawTwilio>,
    pub probe_every: Option<String>,
}

/// `telephony.rates`: what a minute of a call or an SMS segment costs, by destination
/// prefix, for estimates where Twilio has not reported a price.
#[derive(Debug, Default, Deserialize)]
pub struct RawRates {
    pub currency: Option<String>,
    #[serde(default)]
    pub calls: Vec<RawCallRate>,
    #[serde(default)]
    pub sms: Vec<RawSmsRate>,
}

#[derive(Debug, Deserialize)]
pub struct RawCallRate {
    pub prefix: String,
    pub per_minute: f64,
}

#[derive(Debug, Deserialize)]
pub struct RawSmsRate {
    pub prefix: String,
    pub per_segment: f64,
}

/// `telephony.triggers`: a usage threshold per period, and whom to tell.
#[derive(Debug, Deserialize)]
pub struct RawTrigger {
    pub id: String,
    pub metric: String,
    pub period: String,
    pub threshold: f64,
    #[serde(default)]
    pub notify: RawTriggerNotify,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawTriggerNotify {
    #[serde(default)]
    pub sms: Vec<String>,
    pub webhook: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawTwilio {
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
    pub from: Option<String>,
    pub api_base: Option<String>,
    pub machine_detection: Option<bool>,
    pub calls_per_second: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSimulator {
    pub from: Option<String>,
    pub auth_token: Option<String>,
    pub machine_detection: Option<bool>,
    /// Callee scripts by phone number; checked in validation so errors carry a line.
    #[serde(default)]
    pub phones: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct RawUser {
    pub id: String,
    pub name: Option<String>,
    pub phone: String,
    pub greeting: Option<String>,
    pub closing: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawSchedule {
    pub id: String,
    pub timezone: Option<String>,
    /// Shorthand for a single layer.
    pub rotation: Option<RawLayer>,
    #[serde(default)]
    pub layers: Vec<RawLayer>,
    pub notify_before: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawLayer {
    pub every: String,
    pub handoff: String,
    pub members: Vec<String>,
    pub window: Option<RawWindow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawWindow {
    pub days: Option<OneOrMany>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cron: Option<String>,
    /// Routes only: a layer's window is read in its schedule's zone.
    pub timezone: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawCallSetting {
    pub id: String,
    pub mode: Option<String>,
    pub targets: Vec<String>,
    pub ring_timeout: Option<String>,
    pub retry_after: Option<String>,
    pub max_callbacks: Option<u32>,
    pub rounds: Option<u32>,
    pub notify_recovery: Option<bool>,
    pub keypad_timeout: Option<String>,
    pub sms_on_exhaustion: Option<bool>,
    pub reescalate_after: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawRoute {
    #[serde(default)]
    pub when: RawMatch,
    pub call: String,
}

/// One value or a list of values (`severity: high` or `severity: [high, disaster]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMatch {
    pub source: Option<OneOrMany>,
    pub host: Option<OneOrMany>,
    pub service: Option<OneOrMany>,
    pub severity: Option<OneOrMany>,
    pub host_regex: Option<String>,
    pub service_regex: Option<String>,
    pub window: Option<RawWindow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSources {
    pub zabbix: Option<RawZabbix>,
    pub nagios: Option<RawNagios>,
    pub icinga2: Option<RawIcinga2>,
    pub mackerel: Option<RawMackerel>,
}

#[derive(Debug, Deserialize)]
pub struct RawZabbix {
    pub api_url: String,
    pub api_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawNagios {
    pub command_file: String,
    pub status_file: Option<String>,
    pub ack_sticky: Option<bool>,
    pub ack_notify: Option<bool>,
    pub ack_persistent: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct RawIcinga2 {
    pub api_url: String,
    pub username: String,
    pub password: String,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Debug, Deserialize)]
pub struct RawMackerel {
    pub api_key: String,
    pub api_base: Option<String>,
    #[serde(default)]
    pub close_on_ack: bool,
}
