//! RawConfig → Config. Every check pushes a [`Problem`] and carries on with a placeholder,
//! so one run reports everything that is wrong.

use super::raw::{OneOrMany, RawCallSetting, RawConfig, RawMatch, RawSources, RawTelephony};
use super::secret::{self, SecretSource};
use super::yaml::{self, LineIndex, child_index, child_key};
use super::*;
use crate::domain::Key;
use secrecy::ExposeSecret;
use std::collections::HashSet;

mod usage;

/// Characters a host or service name does not have but a regular expression does.
fn looks_like_regex(value: &str) -> bool {
    value.contains([
        '^', '$', '*', '+', '?', '[', ']', '(', ')', '|', '\\', '{', '}',
    ])
}

pub(super) const DEFAULT_LISTEN: &str = "127.0.0.1:8480";
const DEFAULT_SQLITE: &str = "data/kaden.db";

/// The database and the spool, relative to the config's directory; the spool defaults
/// to `spool/` beside the database.
pub(super) fn storage_paths(
    base_dir: &Path,
    sqlite: Option<&str>,
    spool: Option<&str>,
) -> (PathBuf, PathBuf) {
    let sqlite = secret::resolve_path(base_dir, sqlite.unwrap_or(DEFAULT_SQLITE));
    let spool = match spool {
        Some(dir) => secret::resolve_path(base_dir, dir),
        None => sqlite.parent().unwrap_or(base_dir).join("spool"),
    };
    (sqlite, spool)
}
const DEFAULT_TIMEZONE: &str = "Asia/Tokyo";
const DEFAULT_TWILIO_API: &str = "https://api.twilio.com";
const DEFAULT_MACKEREL_API: &str = "https://api.mackerelio.com";
/// Below Japanese carriers' usual voicemail pickup (design.md rule 4).
const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(20);
const VOICEMAIL_RISK: Duration = Duration::from_secs(25);
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
const DEFAULT_KEYPAD_TIMEOUT: Duration = Duration::from_secs(30);
/// 16 random characters are out of reach of guessing over HTTP; shorter ones may not be.
pub const MIN_API_TOKEN_CHARS: usize = 16;
const DEFAULT_MAX_CONNECTIONS: usize = 1024;
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Twilio gives up on a webhook after 15 s; nothing kaden serves takes longer.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const ALL_DAYS: [jiff::civil::Weekday; 7] = {
    use jiff::civil::Weekday::*;
    [
        Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
    ]
};
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub fn validate_text(
    text: &str,
    base_dir: &Path,
    secrets: &dyn SecretSource,
) -> (Option<Config>, Vec<Problem>) {
    let (value, index) = match yaml::parse(text) {
        Ok(parsed) => parsed,
        Err((line, message)) => {
            let problem = Problem {
                level: Level::Error,
                path: String::new(),
                line,
                message: format!("not valid YAML: {message}"),
            };
            return (None, vec![problem]);
        }
    };
    // Every key has a default, so an empty file would otherwise start a daemon that can
    // call nobody: almost certainly the wrong file or a failed deployment.
    if value.is_null() || value.as_object().is_some_and(|m| m.is_empty()) {
        let problem = Problem {
            level: Level::Error,
            path: String::new(),
            line: None,
            message: "the config file is empty; start from examples/kaden.yaml (users, call_settings and routes at least)".into(),
        };
        return (None, vec![problem]);
    }
    let mut v = Validator {
        index: &index,
        problems: Vec::new(),
        base_dir,
        secrets,
    };
    let mut unknown = Vec::new();
    let raw: Result<RawConfig, _> =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut |path| {
            unknown.push(ignored_path(&path))
        }));
    for path in unknown {
        v.error(
            &path,
            "unknown key (check its spelling against examples/kaden.yaml)",
        );
    }
    let config = match raw {
        Ok(raw) => Some(v.config(raw)),
        Err(e) => {
            v.error(&e.path().to_string(), e.inner().to_string());
            None
        }
    };
    let mut problems = v.problems;
    problems.sort_by_key(|p| p.line);
    (config, problems)
}

/// serde_ignored's path, written the way the rest of kaden writes key paths.
fn ignored_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => child_index(&ignored_path(parent), *index),
        P::Map { parent, key } => child_key(&ignored_path(parent), key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

struct Validator<'a> {
    index: &'a LineIndex,
    problems: Vec<Problem>,
    base_dir: &'a Path,
    secrets: &'a dyn SecretSource,
}

impl Validator<'_> {
    fn push(&mut self, level: Level, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            level,
            path: path.to_owned(),
            line: self.index.line_of(path),
            message: message.into(),
        });
    }

    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.push(Level::Error, path, message);
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.push(Level::Warning, path, message);
    }

    fn duration(&mut self, path: &str, raw: Option<&str>, default: Duration) -> Duration {
        let Some(raw) = raw else { return default };
        humantime::parse_duration(raw).unwrap_or_else(|e| {
            self.error(
                path,
                format!("{raw:?} is not a duration ({e}); write e.g. 20s, 5m, 1h"),
            );
            default
        })
    }

    /// A webhook URL, which may be a secret reference (chat webhooks carry their key).
    fn webhook_url(&mut self, path: &str, raw: &str) -> SecretString {
        let url = self.secret(path, raw);
        let resolved = url.expose_secret();
        // An empty one is reported as an empty secret already.
        if !(resolved.is_empty()
            || resolved.starts_with("http://")
            || resolved.starts_with("https://"))
        {
            // The resolved value may be a secret: only the config's text is named.
            self.error(path, format!("{raw:?} is not an http:// or https:// URL"));
        }
        url
    }

    /// An empty secret is refused: an empty key is one anybody can present.
    fn secret(&mut self, path: &str, raw: &str) -> SecretString {
        let resolved = secret::resolve(raw, self.base_dir, self.secrets).unwrap_or_else(|e| {
            self.error(path, e);
            SecretString::from(String::new())
        });
        if resolved.expose_secret().is_empty() && !self.has_error_at(path) {
            let from = if raw.is_empty() {
                String::new()
            } else {
                format!(" ({raw} gives an empty value)")
            };
            self.error(path, format!("the secret is empty{from}; set it"));
        }
        resolved
    }

    fn has_error_at(&self, path: &str) -> bool {
        self.problems
            .iter()
            .any(|p| p.level == Level::Error && p.path == path)
    }

    fn timezone(&mut self, path: &str, name: Option<&str>) -> jiff::tz::TimeZone {
        let name = name.unwrap_or(DEFAULT_TIMEZONE);
        jiff::tz::TimeZone::get(name).unwrap_or_else(|_| {
            self.error(
                path,
                format!("unknown time zone {name:?}; use an IANA name such as Asia/Tokyo"),
            );
            jiff::tz::TimeZone::UTC
        })
    }

    fn phone(&mut self, path: &str, raw: &str) -> PhoneNumber {
        PhoneNumber::parse(raw).unwrap_or_else(|e| {
            self.error(path, e.to_string());
            PhoneNumber::parse("+10000000000").expect("placeholder is valid E.164")
        })
    }

    fn http_url(&mut self, path: &str, raw: &str) -> String {
        if !(raw.starts_with("http://") || raw.starts_with("https://")) {
            self.error(path, format!("{raw:?} is not an http:// or https:// URL"));
        }
        raw.trim_end_matches('/').to_owned()
    }

    /// Reports ids seen twice in one list.
    fn unique_ids<'i>(&mut self, list: &str, ids: impl Iterator<Item = &'i str>) {
        let mut seen = HashSet::new();
        for (i, id) in ids.enumerate() {
            if !seen.insert(id) {
                let path = child_key(&child_index(list, i), "id");
                self.error(&path, format!("duplicate id {id:?} in {list}"));
            }
        }
    }

    fn config(&mut self, mut raw: RawConfig) -> Config {
        let server = self.server(raw.server);
        let (sqlite, spool) = storage_paths(
            self.base_dir,
            raw.storage.sqlite.as_deref(),
            raw.storage.spool.as_deref(),
        );
        let postgres = raw.storage.postgres.as_deref().map(|url| {
            if raw.storage.sqlite.is_some() {
                self.error(
                    "storage.postgres",
                    "storage.sqlite is set too; keep one of the two",
                );
            }
            let url = self.secret("storage.postgres", url);
            if !self.has_error_at("storage.postgres")
                && url.expose_secret().parse::<postgres::Config>().is_err()
            {
                self.error(
                    "storage.postgres",
                    "not a PostgreSQL URL (postgres://user:password@host:port/db)",
                );
            }
            url
        });
        let storage = StorageConfig {
            sqlite,
            postgres,
            spool,
        };
        let locale = self.locale(raw.locale);
        let rates = raw.telephony.rates.take();
        let triggers = std::mem::take(&mut raw.telephony.triggers);
        let telephony = self.telephony(raw.telephony, server.public_url.is_some());
        let users = self.users(raw.users);
        let user_ids: HashSet<&UserId> = users.iter().map(|u| &u.id).collect();
        let usage = self.usage(rates, triggers, &users);
        let schedules = self.schedules(raw.schedules, &user_ids);
        let schedule_ids: HashSet<&ScheduleId> = schedules.iter().map(|s| &s.id).collect();
        let call_settings = self.call_settings(raw.call_settings, &user_ids, &schedule_ids);
        let setting_ids: HashSet<&CallSettingId> = call_settings.iter().map(|c| &c.id).collect();
        let routes = self.routes(raw.routes, &setting_ids, &locale.timezone);
        let sources = self.sources(raw.sources);
        let pronunciation = self.pronunciation(raw.pronunciation);
        let speech = self.speech(raw.speech, locale.language);
        let keys = self.keys(raw.keys);
        let heartbeats = self.heartbeats(raw.heartbeats, &setting_ids);
        Config {
            server,
            storage,
            locale,
            telephony,
            users,
            schedules,
            call_settings,
            routes,
            sources,
            pronunciation,
            speech,
            keys,
            heartbeats,
            usage,
        }
    }

    fn heartbeats(
        &mut self,
        raw: Vec<super::raw::RawHeartbeat>,
        settings: &HashSet<&CallSettingId>,
    ) -> Vec<Heartbeat> {
        self.unique_ids("heartbeats", raw.iter().map(|h| h.id.as_str()));
        raw.into_iter()
            .enumerate()
            .map(|(i, h)| {
                let path = child_index("heartbeats", i);
                if h.id.is_empty() || h.id.contains(['/', '?', '#']) {
                    self.error(
                        &child_key(&path, "id"),
                        format!(
                            "{:?} is not a heartbeat id; use letters, digits, - and _",
                            h.id
                        ),
                    );
                }
                let mut positive = |key: &str, raw: &str| {
                    let path = child_key(&path, key);
                    let d = self.duration(&path, Some(raw), Duration::from_secs(1));
                    if d.is_zero() {
                        self.error(&path, "must be longer than 0s");
                    }
                    d
                };
                let every = positive("every", &h.every);
                let grace = positive("grace", &h.grace);
                let call = CallSettingId::new(h.call);
                if !settings.contains(&call) {
                    self.error(
                        &child_key(&path, "call"),
                        format!(
                            "unknown call setting {:?}; add it under call_settings:",
                            call.as_str()
                        ),
                    );
                }
                Heartbeat {
                    id: h.id,
                    every,
                    grace,
                    call,
                }
            })
            .collect()
    }

    /// Each key one of 0-9 and `*` (a trailing `#` is allowed, as menus write them), no
    /// two entries on the same key.
    fn keys(&mut self, raw: super::raw::RawKeys) -> Keypad {
        use super::raw::RawKey;
        let mut keys = Keypad::default();
        let given = [
            (Key::Details, raw.details, &mut keys.details),
            (Key::Pass, raw.pass, &mut keys.pass),
            (
                Key::AcknowledgeDetails,
                raw.acknowledge_details,
                &mut keys.acknowledge_details,
            ),
            (Key::Downtime, raw.downtime, &mut keys.downtime),
            (
                Key::AcknowledgeAll,
                raw.acknowledge_all,
                &mut keys.acknowledge_all,
            ),
        ];
        let mut written = Vec::new();
        for (entry, raw, key) in given {
            let Some(raw) = raw else { continue };
            written.push(entry);
            let text = match raw {
                RawKey::Digit(n) => n.to_string(),
                RawKey::Text(t) => t,
            };
            let mut chars = text.strip_suffix('#').unwrap_or(&text).chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if Keypad::is_key(c) => *key = c,
                _ => self.error(
                    &child_key("keys", entry.name()),
                    format!("{text:?} is not a key; use one of 0-9 or \"*\""),
                ),
            }
        }
        let mut seen: Vec<(char, Key)> = Vec::new();
        for entry in Key::MENU {
            let Some(c) = keys.key_of(entry) else {
                continue;
            };
            let Some(&(_, other)) = seen.iter().find(|(k, _)| *k == c) else {
                seen.push((c, entry));
                continue;
            };
            // Reported where the file sets it: a default it collides with has no line.
            let (at, other) = if written.contains(&entry) {
                (entry, other)
            } else {
                (other, entry)
            };
            self.error(
                &child_key("keys", at.name()),
                format!(
                    "{c} is also the {} key; each menu entry needs its own key",
                    other.name()
                ),
            );
        }
        keys
    }

    fn speech(&mut self, raw: super::raw::RawSpeech, language: Language) -> SpeechConfig {
        for name in raw.templates.keys() {
            if !TEMPLATE_NAMES.contains(&name.as_str()) {
                self.error(
                    &child_key("speech.templates", name),
                    format!("unknown template; known: {}", TEMPLATE_NAMES.join(", ")),
                );
            }
        }
        // Neural voices: Polly.Mizuki (standard) reads Japanese flatly and stumbles on
        // katakana loanwords.
        let default_voice = match language {
            Language::JaJp => "Polly.Kazuha-Neural",
            Language::EnUs => "Polly.Joanna",
        };
        match raw.voice.as_deref() {
            Some(v) if v.trim().is_empty() => self.error(
                "speech.voice",
                format!("empty voice; leave it out for {default_voice}, or name a Twilio <Say> voice such as Polly.Takumi-Neural"),
            ),
            // A voice of another language reads Japanese text badly or not at all.
            Some(v) if language == Language::JaJp && !is_japanese_voice(v) => self.warn(
                "speech.voice",
                format!("{v} is not one of Twilio's Japanese voices (Polly.Kazuha-Neural, Polly.Takumi-Neural, Polly.Tomoko-Neural, Polly.Mizuki, Google.ja-JP-…)"),
            ),
            _ => {}
        }
        SpeechConfig {
            voice: raw.voice.unwrap_or_else(|| default_voice.to_owned()),
            templates: raw.templates,
            downtime_minutes: raw.downtime_minutes.unwrap_or(60),
        }
    }

    /// Tokens: resolved secrets, none empty or shorter than `MIN_API_TOKEN_CHARS`.
    fn tokens(&mut self, key: &str, raw: &[String]) -> Vec<SecretString> {
        raw.iter()
            .enumerate()
            .map(|(i, t)| {
                let path = child_index(key, i);
                let token = self.secret(&path, t);
                let length = token.expose_secret().chars().count();
                if length > 0 && length < MIN_API_TOKEN_CHARS {
                    self.error(
                        &path,
                        format!(
                            "a token must be at least {MIN_API_TOKEN_CHARS} characters; make one with `openssl rand -hex 16`"
                        ),
                    );
                }
                token
            })
            .collect()
    }

    fn server(&mut self, raw: super::raw::RawServer) -> ServerConfig {
        let listen_raw = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen_raw.parse().unwrap_or_else(|_| {
            self.error(
                "server.listen",
                format!("{listen_raw:?} is not an address:port such as 127.0.0.1:8480"),
            );
            DEFAULT_LISTEN
                .parse()
                .expect("default listen address parses")
        });
        let public_url = raw
            .public_url
            .map(|url| self.http_url("server.public_url", &url));
        let instance_url = raw
            .instance_url
            .map(|url| self.http_url("server.instance_url", &url));
        let api_tokens = self.tokens("server.api_tokens", &raw.api_tokens);
        let ingest_tokens = self.tokens("server.ingest_tokens", &raw.ingest_tokens);
        if api_tokens.is_empty() && !listen.ip().is_loopback() {
            self.error(
                "server.listen",
                format!(
                    "{listen} is reachable beyond this host, so server.api_tokens must be set: without tokens anyone who reaches the port can post alerts and acknowledge incidents (or listen on 127.0.0.1)"
                ),
            );
        }
        let max_connections = raw.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if max_connections == 0 {
            self.error("server.max_connections", "must be at least 1");
        }
        let mut timeout = |key: &str, raw: Option<&str>, default: Duration| {
            let path = child_key("server", key);
            let timeout = self.duration(&path, raw, default);
            if timeout.is_zero() {
                self.error(&path, "must be longer than zero");
                return default;
            }
            timeout
        };
        let limits = ServerLimits {
            max_connections: max_connections.max(1),
            header_read_timeout: timeout(
                "header_read_timeout",
                raw.header_read_timeout.as_deref(),
                DEFAULT_HEADER_READ_TIMEOUT,
            ),
            request_timeout: timeout(
                "request_timeout",
                raw.request_timeout.as_deref(),
                DEFAULT_REQUEST_TIMEOUT,
            ),
        };
        ServerConfig {
            listen,
            public_url,
            instance_url,
            api_tokens,
            ingest_tokens,
            limits,
        }
    }

    fn locale(&mut self, raw: super::raw::RawLocale) -> LocaleConfig {
        let timezone = self.timezone("locale.timezone", raw.timezone.as_deref());
        let language = match raw.language.as_deref() {
            None | Some("ja-JP") => Language::JaJp,
            Some("en-US") => Language::EnUs,
            Some(other) => {
                self.error(
                    "locale.language",
                    format!("unsupported language {other:?}; use ja-JP or en-US"),
                );
                Language::JaJp
            }
        };
        LocaleConfig { timezone, language }
    }

    fn telephony(&mut self, raw: RawTelephony, has_public_url: bool) -> TelephonyConfig {
        let max_calls_per_hour = raw.max_calls_per_hour.unwrap_or(60);
        if max_calls_per_hour == 0 {
            self.error(
                "telephony.max_calls_per_hour",
                "must be at least 1, or kaden could never call anyone",
            );
        }
        let simulator = raw.simulator.unwrap_or_default();
        let provider = match (raw.provider.as_deref(), raw.twilio) {
            (None | Some("simulator"), _) => Provider::Simulator(self.simulator(simulator)),
            (Some("twilio"), Some(t)) => {
                if !has_public_url {
                    self.error(
                        "server.public_url",
                        "telephony.provider is twilio, so server.public_url must say where Twilio reaches kaden's webhooks",
                    );
                }
                Provider::Twilio(self.twilio("telephony.twilio", t))
            }
            (Some("twilio"), None) => {
                self.error(
                    "telephony.provider",
                    "provider twilio needs a telephony.twilio section (account_sid, auth_token, from)",
                );
                Provider::Simulator(self.simulator(simulator))
            }
            (Some(other), _) => {
                self.error(
                    "telephony.provider",
                    format!("unknown provider {other:?}; use twilio or simulator"),
                );
                Provider::Simulator(self.simulator(simulator))
            }
        };
        let per_number_limit = raw.per_number_limit.unwrap_or(10);
        if per_number_limit == 0 {
            self.error("telephony.per_number_limit", "must be at least 1");
        }
        let fallback = raw.fallback.and_then(|f| self.fallback(f, &provider));
        let alarm_webhook = raw
            .alarm_webhook
            .map(|raw| self.webhook_url("telephony.alarm_webhook", &raw));
        TelephonyConfig {
            provider,
            fallback,
            alarm_webhook,
            max_calls_per_hour,
            per_number_limit,
            per_number_window: self.duration(
                "telephony.per_number_window",
                raw.per_number_window.as_deref(),
                Duration::from_secs(3600),
            ),
        }
    }

    fn simulator(&mut self, raw: super::raw::RawSimulator) -> SimulatorConfig {
        let path = "telephony.simulator";
        let from = raw.from.as_deref().unwrap_or("+815000000000");
        let phones = raw
            .phones
            .into_iter()
            .filter_map(|(number, script)| {
                let at = child_key(&child_key(path, "phones"), &number);
                if let Err(e) = PhoneNumber::parse(&number) {
                    self.error(&at, e.to_string());
                }
                match serde_json::from_value(script) {
                    Ok(behaviour) => Some((number, behaviour)),
                    Err(e) => {
                        self.error(
                            &at,
                            format!("{e}; e.g. {{ behaviour: answer, keys: [\"1#\", \"9#\"] }}"),
                        );
                        None
                    }
                }
            })
            .collect();
        SimulatorConfig {
            from: self.phone(&child_key(path, "from"), from),
            auth_token: raw
                .auth_token
                .map(|t| self.secret(&child_key(path, "auth_token"), &t)),
            machine_detection: raw.machine_detection.unwrap_or(true),
            phones,
        }
    }

    /// `telephony.fallback`: a second Twilio account, only beside a first one.
    fn fallback(
        &mut self,
        raw: super::raw::RawFallback,
        provider: &Provider,
    ) -> Option<FallbackConfig> {
        let path = "telephony.fallback";
        let probe_every = self.duration(
            &child_key(path, "probe_every"),
            raw.probe_every.as_deref(),
            Duration::from_secs(300),
        );
        if probe_every.is_zero() {
            self.error(&child_key(path, "probe_every"), "must be at least 1s");
        }
        let Some(twilio) = raw.twilio else {
            self.error(
                path,
                "needs a twilio section (account_sid, auth_token, from), as telephony.twilio",
            );
            return None;
        };
        let twilio = self.twilio(&child_key(path, "twilio"), twilio);
        if !matches!(provider, Provider::Twilio(_)) {
            self.error(
                path,
                "a fallback account is used only with telephony.provider: twilio (the simulator has no account to fail)",
            );
            return None;
        }
        Some(FallbackConfig {
            twilio,
            probe_every,
        })
    }

    /// A Twilio account under `path` (`telephony.twilio`, `telephony.fallback.twilio`).
    fn twilio(&mut self, path: &str, raw: super::raw::RawTwilio) -> TwilioConfig {
        let at = |key: &str| child_key(path, key);
        let account_sid = raw.account_sid.unwrap_or_default();
        if !(account_sid.len() == 34 && account_sid.starts_with("AC")) {
            self.error(
                &at("account_sid"),
                "an account SID is AC followed by 32 hex digits",
            );
        }
        let auth_token = match raw.auth_token {
            Some(t) => self.secret(&at("auth_token"), &t),
            None => {
                self.error(path, "auth_token is missing");
                SecretString::from(String::new())
            }
        };
        let from = match raw.from {
            Some(f) => self.phone(&at("from"), &f),
            None => {
                self.error(path, "from (the caller number, E.164) is missing");
                self.phone(path, "+10000000000")
            }
        };
        let api_base = self.http_url(
            &at("api_base"),
            raw.api_base.as_deref().unwrap_or(DEFAULT_TWILIO_API),
        );
        let calls_per_second = raw.calls_per_second.unwrap_or(1);
        if calls_per_second == 0 {
            self.error(&at("calls_per_second"), "must be at least 1");
        }
        TwilioConfig {
            account_sid,
            auth_token,
            from,
            api_base,
            machine_detection: raw.machine_detection.unwrap_or(true),
            calls_per_second,
        }
    }

    fn users(&mut self, raw: Vec<super::raw::RawUser>) -> Vec<User> {
        self.unique_ids("users", raw.iter().map(|u| u.id.as_str()));
        raw.into_iter()
            .enumerate()
            .map(|(i, u)| {
                let path = child_index("users", i);
                User {
                    phone: self.phone(&child_key(&path, "phone"), &u.phone),
                    name: u.name.unwrap_or_else(|| u.id.clone()),
                    id: UserId::new(u.id),
                    greeting: u.greeting,
                    closing: u.closing,
                }
            })
            .collect()
    }

    fn schedules(
        &mut self,
        raw: Vec<super::raw::RawSchedule>,
        users: &HashSet<&UserId>,
    ) -> Vec<Schedule> {
        self.unique_ids("schedules", raw.iter().map(|s| s.id.as_str()));
        raw.into_iter()
            .enumerate()
            .map(|(i, s)| {
                let path = child_index("schedules", i);
                let timezone = self.timezone(&child_key(&path, "timezone"), s.timezone.as_deref());
                let layers: Vec<(String, super::raw::RawLayer)> =
                    match (s.rotation, s.layers.is_empty()) {
                        (Some(rotation), true) => vec![(child_key(&path, "rotation"), rotation)],
                        (None, false) => s
                            .layers
                            .into_iter()
                            .enumerate()
                            .map(|(l, layer)| (child_index(&child_key(&path, "layers"), l), layer))
                            .collect(),
                        (None, true) => {
                            self.error(&path, "a schedule needs a rotation or layers");
                            Vec::new()
                        }
                        (Some(_), false) => {
                            self.error(
                                &path,
                                "give either rotation (one layer) or layers, not both",
                            );
                            Vec::new()
                        }
                    };
                let layers = layers
                    .into_iter()
                    .map(|(at, layer)| self.layer(&at, layer, users))
                    .collect();
                let notify_before = s.notify_before.as_deref().map(|raw| {
                    self.duration(
                        &child_key(&path, "notify_before"),
                        Some(raw),
                        Duration::ZERO,
                    )
                });
                Schedule {
                    id: ScheduleId::new(s.id),
                    timezone,
                    layers,
                    notify_before,
                }
            })
            .collect()
    }

    fn layer(&mut self, path: &str, raw: super::raw::RawLayer, users: &HashSet<&UserId>) -> Layer {
        let every = self.duration(
            &child_key(path, "every"),
            Some(&raw.every),
            Duration::from_secs(7 * 86400),
        );
        if every < Duration::from_secs(60) {
            self.error(
                &child_key(path, "every"),
                "a shift must last at least a minute (e.g. 12h, 1d, 1w)",
            );
        }
        let handoff = raw.handoff.parse().unwrap_or_else(|_| {
            self.error(
                &child_key(path, "handoff"),
                format!(
                    "{:?} is not a local date and time such as 2026-11-02T10:00",
                    raw.handoff
                ),
            );
            jiff::civil::DateTime::default()
        });
        if raw.members.is_empty() {
            self.error(
                &child_key(path, "members"),
                "a rotation needs at least one member",
            );
        }
        let members = raw
            .members
            .into_iter()
            .enumerate()
            .map(|(m, id)| {
                let id = UserId::new(id);
                if !users.contains(&id) {
                    let member_path = child_index(&child_key(path, "members"), m);
                    self.error(
                        &member_path,
                        format!("unknown user {:?}; add it under users:", id.as_str()),
                    );
                }
                id
            })
            .collect();
        let window = raw.window.and_then(|w| {
            let window_path = child_key(path, "window");
            if w.timezone.is_some() {
                self.error(
                    &child_key(&window_path, "timezone"),
                    "a layer's window is read in its schedule's timezone; set timezone on the schedule",
                );
            }
            self.window(&window_path, w)
        });
        Layer {
            rotation: Rotation {
                every: jiff::SignedDuration::try_from(every)
                    .unwrap_or(jiff::SignedDuration::from_hours(168)),
                handoff,
                members,
            },
            window,
        }
    }

    fn window(&mut self, path: &str, raw: super::raw::RawWindow) -> Option<Window> {
        if let Some(expr) = raw.cron {
            if raw.days.is_some() || raw.from.is_some() || raw.to.is_some() {
                self.error(path, "give either cron or days/from/to, not both");
            }
            return match crate::schedule::window::parse_cron(&expr) {
                Ok(schedule) => Some(Window::Cron(Box::new(schedule))),
                Err(e) => {
                    self.error(&child_key(path, "cron"), e);
                    None
                }
            };
        }
        let days = match raw.days {
            None => ALL_DAYS.to_vec(),
            Some(days) => days
                .into_vec()
                .iter()
                .flat_map(|d| self.days(&child_key(path, "days"), d))
                .collect(),
        };
        let mut time = |key: &str, raw: Option<String>| -> jiff::civil::Time {
            let raw = raw.unwrap_or_else(|| "00:00".into());
            raw.parse().unwrap_or_else(|_| {
                self.error(
                    &child_key(path, key),
                    format!("{raw:?} is not a time of day such as 09:00"),
                );
                jiff::civil::Time::midnight()
            })
        };
        let from = time("from", raw.from);
        let to = time("to", raw.to);
        Some(Window::Weekly { days, from, to })
    }

    /// `mon`, `sat`, or a range `mon-fri`.
    fn days(&mut self, path: &str, raw: &str) -> Vec<jiff::civil::Weekday> {
        let day = |s: &str| {
            ALL_DAYS
                .iter()
                .zip(DAY_NAMES)
                .find(|(_, n)| s.eq_ignore_ascii_case(n))
                .map(|(d, _)| *d)
        };
        let (first, last) = raw.split_once('-').unwrap_or((raw, raw));
        match (day(first.trim()), day(last.trim())) {
            (Some(first), Some(last)) => {
                let mut out = vec![first];
                let mut d = first;
                while d != last {
                    d = d.next();
                    out.push(d);
                }
                out
            }
            _ => {
                self.error(
                    path,
                    format!("{raw:?} is not a weekday (mon, tue, ... sun) or a range like mon-fri"),
                );
                Vec::new()
            }
        }
    }

    fn call_settings(
        &mut self,
        raw: Vec<RawCallSetting>,
        users: &HashSet<&UserId>,
        schedules: &HashSet<&ScheduleId>,
    ) -> Vec<CallSetting> {
        self.unique_ids("call_settings", raw.iter().map(|c| c.id.as_str()));
        raw.into_iter()
            .enumerate()
            .map(|(i, c)| self.call_setting(&child_index("call_settings", i), c, users, schedules))
            .collect()
    }

    fn call_setting(
        &mut self,
        path: &str,
        c: RawCallSetting,
        users: &HashSet<&UserId>,
        schedules: &HashSet<&ScheduleId>,
    ) -> CallSetting {
        let mode = match c.mode.as_deref() {
            None | Some("round_robin") => CallMode::RoundRobin,
            Some("broadcast") => CallMode::Broadcast,
            Some(other) => {
                self.error(
                    &child_key(path, "mode"),
                    format!("unknown mode {other:?}; use round_robin or broadcast"),
                );
                CallMode::RoundRobin
            }
        };
        if c.targets.is_empty() {
            self.error(
                &child_key(path, "targets"),
                "a call setting needs at least one target",
            );
        }
        let targets = c
            .targets
            .iter()
            .enumerate()
            .filter_map(|(t, raw)| {
                let target_path = child_index(&child_key(path, "targets"), t);
                self.target(&target_path, raw, users, schedules)
            })
            .collect();
        let ring_path = child_key(path, "ring_timeout");
        let ring_timeout =
            self.duration(&ring_path, c.ring_timeout.as_deref(), DEFAULT_RING_TIMEOUT);
        if ring_timeout >= VOICEMAIL_RISK {
            self.warn(
                &ring_path,
                format!(
                    "{} lets voicemail answer before the timeout on many Japanese carriers; keep it below 25s",
                    humantime::format_duration(ring_timeout)
                ),
            );
        }
        let rounds = c.rounds.unwrap_or(3);
        if rounds == 0 {
            self.error(&child_key(path, "rounds"), "must be at least 1");
        }
        CallSetting {
            id: CallSettingId::new(c.id),
            mode,
            targets,
            ring_timeout,
            retry_after: self.duration(
                &child_key(path, "retry_after"),
                c.retry_after.as_deref(),
                DEFAULT_RETRY_AFTER,
            ),
            max_callbacks: c.max_callbacks.unwrap_or(2),
            rounds,
            notify_recovery: c.notify_recovery.unwrap_or(true),
            keypad_timeout: self.duration(
                &child_key(path, "keypad_timeout"),
                c.keypad_timeout.as_deref(),
                DEFAULT_KEYPAD_TIMEOUT,
            ),
            sms_on_exhaustion: c.sms_on_exhaustion.unwrap_or(true),
            reescalate_after: c.reescalate_after.as_deref().map(|raw| {
                self.duration(
                    &child_key(path, "reescalate_after"),
                    Some(raw),
                    Duration::ZERO,
                )
            }),
        }
    }

    fn target(
        &mut self,
        path: &str,
        raw: &str,
        users: &HashSet<&UserId>,
        schedules: &HashSet<&ScheduleId>,
    ) -> Option<Target> {
        if let Some(id) = raw.strip_prefix("user:") {
            let id = UserId::new(id);
            if !users.contains(&id) {
                self.error(
                    path,
                    format!("unknown user {:?}; add it under users:", id.as_str()),
                );
            }
            Some(Target::User(id))
        } else if let Some(id) = raw.strip_prefix("schedule:") {
            let id = ScheduleId::new(id);
            if !schedules.contains(&id) {
                self.error(
                    path,
                    format!(
                        "unknown schedule {:?}; add it under schedules:",
                        id.as_str()
                    ),
                );
            }
            Some(Target::Schedule(id))
        } else {
            self.error(
                path,
                format!("{raw:?} is not a target; write user:ID or schedule:ID"),
            );
            None
        }
    }

    fn routes(
        &mut self,
        raw: Vec<super::raw::RawRoute>,
        settings: &HashSet<&CallSettingId>,
        zone: &jiff::tz::TimeZone,
    ) -> Vec<Route> {
        let mut catch_all_seen = false;
        raw.into_iter()
            .enumerate()
            .map(|(i, r)| {
                let path = child_index("routes", i);
                if catch_all_seen {
                    self.warn(
                        &path,
                        "an earlier route matches every alert, so this one is never used",
                    );
                }
                let call = CallSettingId::new(r.call);
                if !settings.contains(&call) {
                    self.error(
                        &child_key(&path, "call"),
                        format!(
                            "unknown call setting {:?}; add it under call_settings:",
                            call.as_str()
                        ),
                    );
                }
                let when = self.route_match(&child_key(&path, "when"), r.when, zone);
                catch_all_seen |= when.is_catch_all();
                Route { when, call }
            })
            .collect()
    }

    fn route_match(&mut self, path: &str, raw: RawMatch, zone: &jiff::tz::TimeZone) -> RouteMatch {
        let list = |v: Option<OneOrMany>| v.map(OneOrMany::into_vec).unwrap_or_default();
        let hosts = list(raw.host);
        let services = list(raw.service);
        for (key, regex_key, values) in [
            ("host", "host_regex", &hosts),
            ("service", "service_regex", &services),
        ] {
            for value in values.iter().filter(|v| looks_like_regex(v)) {
                self.warn(
                    &child_key(path, key),
                    format!(
                        "{value:?} looks like a regular expression, but {key} matches the exact name; use {regex_key}"
                    ),
                );
            }
        }
        let window = raw.window.and_then(|w| {
            let window_path = child_key(path, "window");
            let timezone = match w.timezone.as_deref() {
                Some(name) => self.timezone(&child_key(&window_path, "timezone"), Some(name)),
                None => zone.clone(),
            };
            self.window(&window_path, w)
                .map(|window| RouteWindow { window, timezone })
        });
        let sources = list(raw.source)
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                Source::parse(s).or_else(|| {
                    let at = format!("{}[{i}]", child_key(path, "source"));
                    self.error(
                        &at,
                        format!(
                            "unknown source {s:?}; use zabbix, nagios, icinga2, mackerel or generic"
                        ),
                    );
                    None
                })
            })
            .collect();
        let severities = list(raw.severity)
            .iter()
            .filter_map(|s| {
                s.parse()
                    .map_err(|e: crate::domain::UnknownSeverity| {
                        self.error(&child_key(path, "severity"), e.to_string())
                    })
                    .ok()
            })
            .collect();
        RouteMatch {
            sources,
            hosts,
            services,
            severities,
            host_regex: self.regex(&child_key(path, "host_regex"), raw.host_regex),
            service_regex: self.regex(&child_key(path, "service_regex"), raw.service_regex),
            window,
        }
    }

    fn regex(&mut self, path: &str, raw: Option<String>) -> Option<Regex> {
        let raw = raw?;
        Regex::new(&raw)
            .map_err(|e| {
                let detail = e.to_string().lines().last().unwrap_or_default().to_owned();
                self.error(path, format!("invalid regular expression: {detail}"))
            })
            .ok()
    }

    fn sources(&mut self, raw: RawSources) -> SourcesConfig {
        let zabbix = raw.zabbix.map(|z| {
            let api_url = self.http_url("sources.zabbix.api_url", &z.api_url);
            let auth = match (z.api_token, z.username, z.password) {
                (Some(t), None, None) => {
                    ZabbixAuth::Token(self.secret("sources.zabbix.api_token", &t))
                }
                (None, Some(username), Some(p)) => ZabbixAuth::Password {
                    username,
                    password: self.secret("sources.zabbix.password", &p),
                },
                _ => {
                    self.error(
                        "sources.zabbix",
                        "give either api_token, or username and password",
                    );
                    ZabbixAuth::Token(SecretString::from(String::new()))
                }
            };
            ZabbixConfig { api_url, auth }
        });
        let nagios = raw.nagios.map(|n| NagiosConfig {
            command_file: secret::resolve_path(self.base_dir, &n.command_file),
            status_file: n
                .status_file
                .map(|s| secret::resolve_path(self.base_dir, &s)),
            ack_sticky: n.ack_sticky.unwrap_or(true),
            ack_notify: n.ack_notify.unwrap_or(false),
            ack_persistent: n.ack_persistent.unwrap_or(true),
        });
        let icinga2 = raw.icinga2.map(|c| Icinga2Config {
            api_url: self.http_url("sources.icinga2.api_url", &c.api_url),
            password: self.secret("sources.icinga2.password", &c.password),
            username: c.username,
            ca_file: c.ca_file.map(|p| secret::resolve_path(self.base_dir, &p)),
            insecure: c.insecure,
        });
        let mackerel = raw.mackerel.map(|m| MackerelConfig {
            api_key: self.secret("sources.mackerel.api_key", &m.api_key),
            api_base: self.http_url(
                "sources.mackerel.api_base",
                m.api_base.as_deref().unwrap_or(DEFAULT_MACKEREL_API),
            ),
            close_on_ack: m.close_on_ack,
        });
        SourcesConfig {
            zabbix,
            nagios,
            icinga2,
            mackerel,
        }
    }

    fn pronunciation(&mut self, raw: Vec<String>) -> Vec<PathBuf> {
        raw.iter()
            .enumerate()
            .map(|(i, p)| {
                let path = secret::resolve_path(self.base_dir, p);
                if !path.is_file() {
                    self.error(
                        &child_index("pronunciation", i),
                        format!("pronunciation rules file {} does not exist", path.display()),
                    );
                } else if let Err(e) = crate::pronunciation::check_rules_file(&path) {
                    // The same parser `serve` loads the file with, so what passes here
                    // starts there; the message names the file and line of the bad rule.
                    self.error(
                        &child_index("pronunciation", i),
                        format!("{e}; fix that line or remove the file from the list"),
                    );
                }
                path
            })
            .collect()
    }
}

/// Twilio's ja-JP `<Say>` voices: Amazon Polly's Japanese voices (standard or neural) and
/// Google's ja-JP voices.
fn is_japanese_voice(voice: &str) -> bool {
    const POLLY_JA: &[&str] = &["Mizuki", "Takumi", "Kazuha", "Tomoko"];
    match voice.split_once('.') {
        Some(("Polly", name)) => POLLY_JA.contains(&name.trim_end_matches("-Neural")),
        Some(("Google", name)) => name.starts_with("ja-JP-"),
        _ => false,
    }
}

impl RouteMatch {
    pub fn is_catch_all(&self) -> bool {
        self.sources.is_empty()
            && self.hosts.is_empty()
            && self.services.is_empty()
            && self.severities.is_empty()
            && self.host_regex.is_none()
            && self.service_regex.is_none()
            && self.window.is_none()
    }
}
