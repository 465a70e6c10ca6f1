//! `kaden.yaml`: YAML → [`raw::RawConfig`] → validated [`Config`], in one conversion that
//! reports every problem at once with the file, the key path and the line.

mod callee;
mod notify;
mod raw;
mod secret;
mod validate;
mod yaml;

pub use callee::Behaviour;
pub use notify::{NotifySettings, notify_settings};
pub use secret::{SecretSource, SystemSecrets, resolve as resolve_secret};

use crate::domain::{CallSettingId, Keypad, PhoneNumber, ScheduleId, Severity, Source, UserId};
use regex::Regex;
use secrecy::SecretString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub locale: LocaleConfig,
    pub telephony: TelephonyConfig,
    pub users: Vec<User>,
    pub schedules: Vec<Schedule>,
    pub call_settings: Vec<CallSetting>,
    pub routes: Vec<Route>,
    pub sources: SourcesConfig,
    pub pronunciation: Vec<PathBuf>,
    pub speech: SpeechConfig,
    /// The keypad menu's keys (`keys:`).
    pub keys: Keypad,
    /// Checks-in expected from outside (`heartbeats:`).
    pub heartbeats: Vec<Heartbeat>,
    /// `telephony.rates` and `telephony.triggers`.
    pub usage: UsageConfig,
}

/// What telephony costs (`telephony.rates`) and when usage is worth telling someone
/// (`telephony.triggers`).
#[derive(Debug, Default)]
pub struct UsageConfig {
    pub rates: Rates,
    pub triggers: Vec<Trigger>,
}

/// Prices for estimates where Twilio has not reported one; the longest matching
/// destination prefix wins.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    /// ISO 4217 code of every price here (`USD`, `JPY`).
    pub currency: String,
    /// Per started minute of an answered call.
    pub calls: Vec<Rate>,
    /// Per SMS segment.
    pub sms: Vec<Rate>,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            currency: "USD".into(),
            calls: Vec::new(),
            sms: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rate {
    /// E.164 prefix such as `+8190`.
    pub prefix: String,
    pub price: f64,
}

/// A usage threshold: crossing it fires once per period.
#[derive(Debug)]
pub struct Trigger {
    pub id: String,
    pub metric: TriggerMetric,
    pub period: TriggerPeriod,
    pub threshold: f64,
    /// Users texted when it fires.
    pub sms: Vec<UserId>,
    /// Where a JSON notice is POSTed; a secret, as chat webhooks carry their key.
    pub webhook: Option<SecretString>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerMetric {
    Calls,
    Minutes,
    Sms,
    Cost,
    Errors,
}

impl TriggerMetric {
    pub const ALL: [TriggerMetric; 5] = [
        TriggerMetric::Calls,
        TriggerMetric::Minutes,
        TriggerMetric::Sms,
        TriggerMetric::Cost,
        TriggerMetric::Errors,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriggerMetric::Calls => "calls",
            TriggerMetric::Minutes => "minutes",
            TriggerMetric::Sms => "sms",
            TriggerMetric::Cost => "cost",
            TriggerMetric::Errors => "errors",
        }
    }
}

/// Periods are calendar hours, days and months in `locale.timezone`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerPeriod {
    Hour,
    Day,
    Month,
}

impl TriggerPeriod {
    pub const ALL: [TriggerPeriod; 3] = [
        TriggerPeriod::Hour,
        TriggerPeriod::Day,
        TriggerPeriod::Month,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriggerPeriod::Hour => "hour",
            TriggerPeriod::Day => "day",
            TriggerPeriod::Month => "month",
        }
    }
}

/// A heartbeat missed for `every + grace` is a problem for `call`, whatever the routes say.
#[derive(Debug)]
pub struct Heartbeat {
    pub id: String,
    pub every: Duration,
    pub grace: Duration,
    pub call: CallSettingId,
}

#[derive(Debug)]
pub struct SpeechConfig {
    /// TwiML `<Say voice>`; defaults to a Polly voice for the language.
    pub voice: String,
    /// Replacements for built-in wording, by template name.
    pub templates: std::collections::BTreeMap<String, String>,
    /// How long 4# puts the alerts of a call in downtime.
    pub downtime_minutes: u32,
}

/// Every template name `speech.templates` may replace: speech has built-in wording for
/// each, in both languages.
pub const TEMPLATE_NAMES: &[&str] = &[
    "greeting",
    "summary",
    "recoveries",
    "host_problem",
    "service_problem",
    "host_recovered",
    "service_recovered",
    "more",
    "acknowledged",
    "nothing_to_acknowledge",
    "downtime",
    "passed_on",
    "handled_by",
    "nothing_pending",
    "menu",
    "closing",
    "separator",
    "sms_exhausted",
    "sms_call_cap",
];

#[derive(Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where Twilio reaches the webhooks; signatures are computed over it.
    pub public_url: Option<String>,
    /// Where other instances on the same PostgreSQL reach this one, to hand it requests
    /// while it leads. Without it, the address the listener is bound to.
    pub instance_url: Option<String>,
    /// Bearer tokens for the webhooks and the API; none (allowed on loopback only) means
    /// no token is asked for.
    pub api_tokens: Vec<SecretString>,
    /// Tokens that may only post alerts (`/webhooks/*`, `POST /api/v1/alerts`): what the
    /// notification commands, running as the monitoring system's user, are given.
    pub ingest_tokens: Vec<SecretString>,
    pub limits: ServerLimits,
}

/// What one client can hold of the listener, so a flood of idle or slow connections
/// cannot take `/healthz` and the webhooks down.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// Open connections at once; keep it well below the process's file descriptor limit.
    pub max_connections: usize,
    /// A connection that has not sent a request's headers within this is closed.
    pub header_read_timeout: Duration,
    /// A request (body included) not answered within this gets 408.
    pub request_timeout: Duration,
}

#[derive(Debug)]
pub struct StorageConfig {
    pub sqlite: PathBuf,
    /// The PostgreSQL URL (it may carry the password) when the store is PostgreSQL.
    pub postgres: Option<secrecy::SecretString>,
    /// Where notification commands leave alerts while the daemon is unreachable.
    pub spool: PathBuf,
}

#[derive(Debug)]
pub struct LocaleConfig {
    pub timezone: jiff::tz::TimeZone,
    pub language: Language,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    JaJp,
    EnUs,
}

#[derive(Debug)]
pub struct TelephonyConfig {
    pub provider: Provider,
    /// Daemon-wide cost guard.
    pub max_calls_per_hour: u32,
    /// Loop guard: at most this many calls to one number for one incident ...
    pub per_number_limit: u32,
    /// ... within this window.
    pub per_number_window: Duration,
    /// A second Twilio account for when the first fails account-wide.
    pub fallback: Option<FallbackConfig>,
    /// Told, beside the SMS, when calling has failed: an escalation exhausted, the hourly
    /// call cap reached.
    pub alarm_webhook: Option<SecretString>,
}

#[derive(Debug)]
pub struct FallbackConfig {
    pub twilio: TwilioConfig,
    /// While on the fallback, the primary account is checked this often; kaden returns
    /// to it when it answers as active.
    pub probe_every: Duration,
}

#[derive(Debug)]
pub enum Provider {
    /// The built-in stand-in for Twilio: no account, nobody's phone rings.
    Simulator(SimulatorConfig),
    Twilio(TwilioConfig),
}

#[derive(Debug)]
pub struct SimulatorConfig {
    pub from: PhoneNumber,
    /// The token outside Twilio clients use against the simulator (`kaden sim
    /// credentials`); without it, a fresh random token per run.
    pub auth_token: Option<SecretString>,
    pub machine_detection: bool,
    /// What each simulated callee does; numbers not listed answer and press the
    /// acknowledge-all key (9#).
    pub phones: std::collections::BTreeMap<String, Behaviour>,
}

#[derive(Debug)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: SecretString,
    pub from: PhoneNumber,
    pub api_base: String,
    pub machine_detection: bool,
    pub calls_per_second: u32,
}

#[derive(Debug)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub phone: PhoneNumber,
    pub greeting: Option<String>,
    pub closing: Option<String>,
}

pub use crate::schedule::{Layer, Rotation, Schedule, Window};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallMode {
    /// 一斉通知: everyone at once.
    Broadcast,
    /// 輪番通知: one at a time, in order.
    RoundRobin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    User(UserId),
    Schedule(ScheduleId),
}

#[derive(Debug)]
pub struct CallSetting {
    pub id: CallSettingId,
    pub mode: CallMode,
    pub targets: Vec<Target>,
    pub ring_timeout: Duration,
    pub retry_after: Duration,
    pub max_callbacks: u32,
    pub rounds: u32,
    pub notify_recovery: bool,
    pub keypad_timeout: Duration,
    /// Text the first target when every round ran out unacknowledged.
    pub sms_on_exhaustion: bool,
    /// An acknowledged problem still open this long later goes stale: calling starts
    /// again, with whoever acknowledged it first.
    pub reescalate_after: Option<Duration>,
}

#[derive(Debug)]
pub struct Route {
    pub when: RouteMatch,
    pub call: CallSettingId,
}

/// Every condition given must hold; a list matches any of its values. An empty match
/// matches every alert (a default route).
#[derive(Debug, Default)]
pub struct RouteMatch {
    pub sources: Vec<Source>,
    pub hosts: Vec<String>,
    pub services: Vec<String>,
    pub severities: Vec<Severity>,
    pub host_regex: Option<Regex>,
    pub service_regex: Option<Regex>,
    /// When the route applies (business hours, nights), in `timezone`.
    pub window: Option<RouteWindow>,
}

#[derive(Debug)]
pub struct RouteWindow {
    pub window: Window,
    /// The window's own `timezone`, else `locale.timezone`.
    pub timezone: jiff::tz::TimeZone,
}

#[derive(Debug, Default)]
pub struct SourcesConfig {
    pub zabbix: Option<ZabbixConfig>,
    pub nagios: Option<NagiosConfig>,
    pub icinga2: Option<Icinga2Config>,
    pub mackerel: Option<MackerelConfig>,
}

#[derive(Clone, Debug)]
pub enum ZabbixAuth {
    Token(SecretString),
    Password {
        username: String,
        password: SecretString,
    },
}

#[derive(Debug)]
pub struct ZabbixConfig {
    pub api_url: String,
    pub auth: ZabbixAuth,
}

#[derive(Debug)]
pub struct NagiosConfig {
    pub command_file: PathBuf,
    /// Where acknowledgements and downtimes are confirmed.
    pub status_file: Option<PathBuf>,
    /// Acknowledgement stays until the service is OK (default true).
    pub ack_sticky: bool,
    /// Nagios notifies contacts of kaden's acknowledgement (default false: no echo).
    pub ack_notify: bool,
    /// The acknowledgement comment survives a Nagios restart (default true).
    pub ack_persistent: bool,
}

#[derive(Debug)]
pub struct Icinga2Config {
    pub api_url: String,
    pub username: String,
    pub password: SecretString,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
}

#[derive(Debug)]
pub struct MackerelConfig {
    pub api_key: SecretString,
    pub api_base: String,
    pub close_on_ack: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// One finding about the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub level: Level,
    /// Key path such as `call_settings[0].targets[1]`.
    pub path: String,
    pub line: Option<u64>,
    pub message: String,
}

/// Every problem found in one file, in file order.
#[derive(Debug)]
pub struct Report {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.level == Level::Error)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.problems {
            let level = match p.level {
                Level::Error => "error",
                Level::Warning => "warning",
            };
            let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
            let path = if p.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", p.path)
            };
            writeln!(
                f,
                "{}{line}: {level}: {path}{}",
                self.file.display(),
                p.message
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file has errors:\n{0}")]
    Invalid(Report),
}

/// Loads and validates a config file. On success the report holds only warnings.
pub fn load(path: &Path, secrets: &dyn SecretSource) -> Result<(Config, Report), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let (config, problems) = validate::validate_text(&text, base_dir, secrets);
    let report = Report {
        file: path.to_owned(),
        problems,
    };
    match config {
        Some(config) if !report.has_errors() => Ok((config, report)),
        _ => Err(ConfigError::Invalid(report)),
    }
}

/// The address a process on this host reaches `listen` at: a wildcard listen address is
/// reached on loopback.
pub fn local_addr(listen: SocketAddr) -> SocketAddr {
    let ip = if listen.ip().is_unspecified() {
        std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    } else {
        listen.ip()
    };
    SocketAddr::new(ip, listen.port())
}

/// `http://` + [`local_addr`].
pub fn local_url(listen: SocketAddr) -> String {
    format!("http://{}", local_addr(listen))
}

impl Config {
    pub fn call_setting(&self, id: &CallSettingId) -> Option<&CallSetting> {
        self.call_settings.iter().find(|c| &c.id == id)
    }
}

#[cfg(test)]
mod tests;
