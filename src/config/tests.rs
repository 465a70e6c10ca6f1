//! Every config mistake named in the issue, each reported with key path and line, plus a
//! parse of every shipped example.

use super::validate::validate_text;
use super::*;

/// Answers every secret reference, so examples validate without real secrets.
struct AnySecret;

impl SecretSource for AnySecret {
    fn env(&self, name: &str) -> Option<String> {
        Some(format!("value-of-{name}"))
    }
    fn file(&self, _: &Path) -> std::io::Result<String> {
        Ok("secret-from-file\n".into())
    }
}

fn problems(text: &str) -> Vec<Problem> {
    validate_text(text, Path::new("/etc/kaden"), &AnySecret).1
}

fn expect(problems: &[Problem], level: Level, path: &str, line: u64, fragment: &str) {
    assert!(
        problems.iter().any(|p| p.level == level
            && p.path == path
            && p.line == Some(line)
            && p.message.contains(fragment)),
        "no {level:?} at {path} line {line} containing {fragment:?} in {problems:#?}"
    );
}

const BASE: &str = "\
users:
  - { id: a, phone: \"+819012345678\" }
  - { id: b, phone: \"+819023456789\" }
schedules:
  - id: s
    rotation: { every: 1w, handoff: \"2026-11-02T10:00\", members: [a, b] }
call_settings:
  - id: infra
    targets: [user:a, schedule:s]
routes:
  - { when: { severity: high }, call: infra }
";

#[test]
fn a_correct_config_has_no_problems() {
    assert_eq!(problems(BASE), vec![]);
}

#[test]
fn unknown_keys_are_reported_at_their_line() {
    let text =
        BASE.replace("  - id: infra\n", "  - id: infra\n    ringtimeout: 10s\n") + "serverr: {}\n";
    let found = problems(&text);
    expect(
        &found,
        Level::Error,
        "call_settings[0].ringtimeout",
        9,
        "unknown key",
    );
    expect(&found, Level::Error, "serverr", 13, "unknown key");
}

#[test]
fn unknown_user_and_schedule_in_targets() {
    let text = BASE.replace(
        "[user:a, schedule:s]",
        "[user:a, user:zz, schedule:nope, bob]",
    );
    let found = problems(&text);
    expect(
        &found,
        Level::Error,
        "call_settings[0].targets[1]",
        9,
        "unknown user \"zz\"",
    );
    expect(
        &found,
        Level::Error,
        "call_settings[0].targets[2]",
        9,
        "unknown schedule \"nope\"",
    );
    expect(
        &found,
        Level::Error,
        "call_settings[0].targets[3]",
        9,
        "write user:ID or schedule:ID",
    );
}

#[test]
fn phone_not_in_e164() {
    let text = BASE.replace("\"+819023456789\"", "\"090-2345-6789\"");
    expect(&problems(&text), Level::Error, "users[1].phone", 3, "E.164");
}

#[test]
fn duplicate_ids() {
    let text = BASE.replace("id: b,", "id: a,");
    expect(
        &problems(&text),
        Level::Error,
        "users[1].id",
        3,
        "duplicate id \"a\"",
    );
}

#[test]
fn unknown_rotation_member() {
    let text = BASE.replace("members: [a, b]", "members: [a, ghost]");
    expect(
        &problems(&text),
        Level::Error,
        "schedules[0].rotation.members[1]",
        6,
        "unknown user \"ghost\"",
    );
}

#[test]
fn route_to_a_missing_call_setting() {
    let text = BASE.replace("call: infra", "call: infar");
    expect(
        &problems(&text),
        Level::Error,
        "routes[0].call",
        11,
        "unknown call setting \"infar\"",
    );
}

#[test]
fn ring_timeout_at_25s_warns_about_voicemail() {
    let text = BASE.replace("    targets:", "    ring_timeout: 25s\n    targets:");
    let found = problems(&text);
    expect(
        &found,
        Level::Warning,
        "call_settings[0].ring_timeout",
        9,
        "voicemail",
    );
    assert!(
        found.iter().all(|p| p.level == Level::Warning),
        "{found:#?}"
    );
    let below = BASE.replace("    targets:", "    ring_timeout: 24s\n    targets:");
    assert_eq!(problems(&below), vec![]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = BASE
        .replace("\"+819023456789\"", "\"12345\"")
        .replace("call: infra", "call: nowhere")
        .replace("user:a,", "user:nobody,");
    let found = problems(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    let lines: Vec<_> = found.iter().map(|p| p.line.unwrap()).collect();
    assert_eq!(lines, [3, 9, 11], "reported in file order");
}

#[test]
fn wrong_types_and_bad_values_name_the_key() {
    let text = BASE.replace(
        "  - id: infra\n",
        "  - id: infra\n    rounds: many\n    retry_after: soon\n",
    );
    let found = problems(&text);
    expect(
        &found,
        Level::Error,
        "call_settings[0].rounds",
        9,
        "invalid type",
    );
    let text = BASE.replace(
        "  - id: infra\n",
        "  - id: infra\n    retry_after: soon\n    mode: everyone\n",
    );
    let found = problems(&text);
    expect(
        &found,
        Level::Error,
        "call_settings[0].retry_after",
        9,
        "not a duration",
    );
    expect(
        &found,
        Level::Error,
        "call_settings[0].mode",
        10,
        "use round_robin or broadcast",
    );
}

#[test]
fn missing_secret_names_the_variable_and_never_a_value() {
    struct NoSecrets;
    impl SecretSource for NoSecrets {
        fn env(&self, _: &str) -> Option<String> {
            None
        }
        fn file(&self, _: &Path) -> std::io::Result<String> {
            Err(std::io::ErrorKind::NotFound.into())
        }
    }
    let text = "server:\n  api_tokens: [${env:KADEN_API_TOKEN}, literal-token-value]\n";
    let (_, found) = validate_text(text, Path::new("/"), &NoSecrets);
    expect(
        &found,
        Level::Error,
        "server.api_tokens[0]",
        2,
        "KADEN_API_TOKEN is not set",
    );
    assert!(!format!("{found:?}").contains("literal-token-value"));
}

#[test]
fn twilio_needs_a_public_url_and_its_credentials() {
    let text = format!(
        "server: {{ listen: 127.0.0.1:8480 }}\ntelephony:\n  provider: twilio\n  twilio:\n    account_sid: nope\n{BASE}"
    );
    let found = problems(&text);
    expect(&found, Level::Error, "server.public_url", 1, "public_url");
    expect(
        &found,
        Level::Error,
        "telephony.twilio.account_sid",
        5,
        "AC",
    );
    expect(
        &found,
        Level::Error,
        "telephony.twilio",
        4,
        "auth_token is missing",
    );
}

#[test]
fn syntax_errors_carry_a_line() {
    let found = problems("users:\n  - { id: a\n");
    assert_eq!(found.len(), 1);
    assert!(found[0].message.starts_with("not valid YAML"), "{found:?}");
    assert!(found[0].line.is_some());
}

#[test]
fn report_names_file_line_level_and_path() {
    let report = Report {
        file: "kaden.yaml".into(),
        problems: problems(&BASE.replace("call: infra", "call: x")),
    };
    assert_eq!(
        report.to_string(),
        "kaden.yaml:11: error: routes[0].call: unknown call setting \"x\"; add it under call_settings:\n"
    );
}

#[test]
fn every_shipped_example_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let (config, found) = validate_text(&text, path.parent().unwrap(), &AnySecret);
            assert_eq!(found, vec![], "{}", path.display());
            assert!(config.is_some());
            checked += 1;
        }
    }
    assert!(checked >= 2, "examples/ holds the configs README points to");
}

#[test]
fn schedule_layers_and_windows_are_checked() {
    let text = "\
users:
  - { id: a, phone: \"+819012345678\" }
schedules:
  - id: s
    layers:
      - { every: 1d, handoff: \"2026-11-02T09:00\", members: [a] }
      - { every: 1d, handoff: \"2026-11-02T09:00\", members: [a], window: { days: [mon, funday] } }
      - { every: 1d, handoff: \"2026-11-02T09:00\", members: [a], window: { cron: \"every day\" } }
      - { every: 1d, handoff: \"2026-11-02T09:00\", members: [a], window: { days: mon-fri, from: \"25:00\" } }
  - id: both
    rotation: { every: 1d, handoff: \"2026-11-02T09:00\", members: [a] }
    layers: [{ every: 1d, handoff: \"2026-11-02T09:00\", members: [a] }]
";
    let found = problems(text);
    expect(
        &found,
        Level::Error,
        "schedules[0].layers[1].window.days",
        7,
        "\"funday\" is not a weekday",
    );
    expect(
        &found,
        Level::Error,
        "schedules[0].layers[2].window.cron",
        8,
        "invalid cron expression",
    );
    expect(
        &found,
        Level::Error,
        "schedules[0].layers[3].window.from",
        9,
        "not a time of day",
    );
    expect(&found, Level::Error, "schedules[1]", 10, "either rotation");
}

#[test]
fn an_empty_file_is_an_error() {
    for text in ["", "\n# only a comment\n", "{}\n"] {
        let found = problems(text);
        assert_eq!(found.len(), 1, "{text:?}: {found:#?}");
        assert_eq!(found[0].level, Level::Error);
        assert!(
            found[0].message.contains("config file is empty"),
            "{found:?}"
        );
    }
}

#[test]
fn empty_and_short_secrets_are_refused_without_their_value() {
    struct Empty;
    impl SecretSource for Empty {
        fn env(&self, name: &str) -> Option<String> {
            (name != "UNSET").then(String::new)
        }
        fn file(&self, _: &Path) -> std::io::Result<String> {
            Ok("\n".into())
        }
    }
    let text = format!(
        "server:\n  public_url: https://k.example\n  api_tokens: [${{env:EMPTY}}, short-tok3n, ${{env:UNSET}}]\n\
         telephony:\n  provider: twilio\n  twilio:\n    account_sid: AC0123456789abcdef0123456789abcdef\n    \
         auth_token: ${{file:/etc/kaden/twilio_token}}\n    from: \"+815012345678\"\n{BASE}"
    );
    let (_, found) = validate_text(&text, Path::new("/"), &Empty);
    let at = |path: &str| found.iter().filter(|p| p.path == path).count();
    expect(
        &found,
        Level::Error,
        "server.api_tokens[0]",
        3,
        "${env:EMPTY} gives an empty value",
    );
    expect(
        &found,
        Level::Error,
        "server.api_tokens[1]",
        3,
        "at least 16 characters",
    );
    expect(
        &found,
        Level::Error,
        "server.api_tokens[2]",
        3,
        "UNSET is not set",
    );
    assert_eq!(
        at("server.api_tokens[2]"),
        1,
        "an unset variable is reported once"
    );
    expect(
        &found,
        Level::Error,
        "telephony.twilio.auth_token",
        8,
        "the secret is empty",
    );
    assert!(!format!("{found:?}").contains("short-tok3n"));
}

#[test]
fn listening_beyond_loopback_needs_api_tokens() {
    let open = format!("server:\n  listen: 0.0.0.0:8480\n{BASE}");
    expect(
        &problems(&open),
        Level::Error,
        "server.listen",
        2,
        "server.api_tokens must be set",
    );
    let loopback = format!("server:\n  listen: \"[::1]:8480\"\n{BASE}");
    assert_eq!(problems(&loopback), vec![]);
    let with_token =
        format!("server:\n  listen: 0.0.0.0:8480\n  api_tokens: [0123456789abcdef]\n{BASE}");
    assert_eq!(problems(&with_token), vec![]);
}

#[test]
fn server_limits_have_defaults_and_are_checked() {
    let (config, found) = validate_text(BASE, Path::new("/"), &AnySecret);
    assert_eq!(found, vec![]);
    let limits = config.unwrap().server.limits;
    assert_eq!(limits.max_connections, 1024);
    assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
    let text = format!("server:\n  max_connections: 0\n  request_timeout: 0s\n{BASE}");
    let found = problems(&text);
    expect(
        &found,
        Level::Error,
        "server.max_connections",
        2,
        "at least 1",
    );
    expect(
        &found,
        Level::Error,
        "server.request_timeout",
        3,
        "longer than zero",
    );
}

#[test]
fn japanese_calls_get_a_japanese_neural_voice() {
    let (config, found) = validate_text(BASE, Path::new("/etc/kaden"), &AnySecret);
    assert_eq!(found, vec![]);
    assert_eq!(config.unwrap().speech.voice, "Polly.Kazuha-Neural");
    for ok in [
        "Polly.Takumi-Neural",
        "Polly.Mizuki",
        "Google.ja-JP-Neural2-B",
    ] {
        let text = format!("{BASE}speech: {{ voice: {ok} }}\n");
        assert_eq!(problems(&text), vec![], "{ok}");
    }
    let text = format!("{BASE}speech: {{ voice: Polly.Joanna-Neural }}\n");
    let found = problems(&text);
    expect(
        &found,
        Level::Warning,
        "speech.voice",
        12,
        "not one of Twilio's Japanese voices",
    );
    let text = format!("{BASE}speech: {{ voice: \"\" }}\n");
    expect(
        &problems(&text),
        Level::Error,
        "speech.voice",
        12,
        "empty voice",
    );
}

#[test]
fn route_windows_read_in_their_zone_and_regex_lookalikes_warn() {
    let text = BASE.replace(
        "routes:\n  - { when: { severity: high }, call: infra }\n",
        "routes:\n  - { when: { window: { from: \"18:00\", to: \"09:00\", timezone: UTC } }, call: infra }\n  - { when: { host: \"^db\" }, call: infra }\n  - { when: { window: { days: [sat, sun] } }, call: infra }\n",
    );
    let (config, found) = validate_text(&text, Path::new("/etc/kaden"), &AnySecret);
    expect(
        &found,
        Level::Warning,
        "routes[1].when.host",
        12,
        "use host_regex",
    );
    let config = config.unwrap();
    let night = config.routes[0].when.window.as_ref().unwrap();
    assert_eq!(night.timezone, jiff::tz::TimeZone::UTC);
    let weekend = config.routes[2].when.window.as_ref().unwrap();
    assert_eq!(
        weekend.timezone, config.locale.timezone,
        "locale.timezone by default"
    );
    assert!(!config.routes[0].when.is_catch_all());

    let layered = BASE.replace(
        "    rotation: { every: 1w, handoff: \"2026-11-02T10:00\", members: [a, b] }\n",
        "    layers:\n      - { every: 1w, handoff: \"2026-11-02T10:00\", members: [a], window: { days: [sat], timezone: UTC } }\n",
    );
    expect(
        &problems(&layered),
        Level::Error,
        "schedules[0].layers[0].window.timezone",
        7,
        "its schedule's timezone",
    );
}

#[test]
fn keypad_keys_default_to_x_mon_and_are_checked() {
    let (config, found) = validate_text(BASE, Path::new("/"), &AnySecret);
    assert_eq!(found, vec![]);
    assert_eq!(config.unwrap().keys, Keypad::default());

    let text = format!("{BASE}keys: {{ details: 5, acknowledge_all: \"*\", pass: \"0#\" }}\n");
    let (config, found) = validate_text(&text, Path::new("/"), &AnySecret);
    assert_eq!(found, vec![]);
    let keys = config.unwrap().keys;
    assert_eq!(
        (keys.details, keys.pass, keys.acknowledge_all, keys.downtime),
        ('5', '0', '*', '4')
    );

    let text =
        format!("{BASE}keys:\n  details: 12\n  pass: \"#\"\n  downtime: 3\n  acknowledge_all: 1\n");
    let found = problems(&text);
    expect(
        &found,
        Level::Error,
        "keys.details",
        13,
        "\"12\" is not a key",
    );
    expect(&found, Level::Error, "keys.pass", 14, "\"#\" is not a key");
    // A clash with a default is reported at the key the file sets.
    expect(
        &found,
        Level::Error,
        "keys.downtime",
        15,
        "3 is also the acknowledge_details key",
    );
    expect(
        &found,
        Level::Error,
        "keys.acknowledge_all",
        16,
        "1 is also the details key",
    );
}

#[test]
fn heartbeats_are_checked() {
    let text = format!(
        "{BASE}heartbeats:
  - {{ id: zabbix-server, every: 5m, grace: 2m, call: infra }}
  - {{ id: zabbix-server, every: 0s, grace: soon, call: infar }}
"
    );
    let (config, problems) = validate_text(&text, Path::new("/etc/kaden"), &AnySecret);
    expect(
        &problems,
        Level::Error,
        "heartbeats[1].id",
        14,
        "duplicate id \"zabbix-server\"",
    );
    expect(
        &problems,
        Level::Error,
        "heartbeats[1].every",
        14,
        "longer than 0s",
    );
    expect(
        &problems,
        Level::Error,
        "heartbeats[1].grace",
        14,
        "not a duration",
    );
    expect(
        &problems,
        Level::Error,
        "heartbeats[1].call",
        14,
        "unknown call setting \"infar\"",
    );
    assert_eq!(problems.len(), 4, "{problems:#?}");
    let first = &config.unwrap().heartbeats[0];
    assert_eq!(
        (first.every, first.grace, first.call.as_str()),
        (
            std::time::Duration::from_secs(300),
            std::time::Duration::from_secs(120),
            "infra"
        )
    );
}

const TWILIO: &str = "\
server: { public_url: https://k.example }
telephony:
  provider: twilio
  twilio:
    account_sid: AC0123456789abcdef0123456789abcdef
    auth_token: ${env:TWILIO_TOKEN}
    from: \"+815012345678\"
";

#[test]
fn a_fallback_account_is_read_as_telephony_twilio_is() {
    let text = format!(
        "{TWILIO}  fallback:\n    probe_every: 2m\n    twilio:\n      account_sid: ACfedcba9876543210fedcba9876543210\n      \
         auth_token: ${{file:fallback_token}}\n      from: \"+815087654321\"\n      api_base: https://api.dublin.ie1.twilio.com\n{BASE}"
    );
    let (config, found) = validate_text(&text, Path::new("/etc/kaden"), &AnySecret);
    assert_eq!(found, vec![]);
    let fallback = config.unwrap().telephony.fallback.unwrap();
    assert_eq!(
        fallback.twilio.account_sid,
        "ACfedcba9876543210fedcba9876543210"
    );
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&fallback.twilio.auth_token),
        "secret-from-file"
    );
    assert_eq!(fallback.twilio.from.as_str(), "+815087654321");
    assert_eq!(
        fallback.twilio.api_base,
        "https://api.dublin.ie1.twilio.com"
    );
    assert_eq!(fallback.probe_every, std::time::Duration::from_secs(120));
}

#[test]
fn a_fallback_account_is_checked_key_by_key() {
    struct Empty;
    impl SecretSource for Empty {
        fn env(&self, _: &str) -> Option<String> {
            Some("token".into())
        }
        fn file(&self, _: &Path) -> std::io::Result<String> {
            Ok("\n".into())
        }
    }
    let text = format!(
        "{TWILIO}  fallback:\n    probe_every: often\n    twilio:\n      account_sid: nope\n      \
         auth_token: ${{file:fallback_token}}\n      colour: red\n{BASE}"
    );
    let (_, found) = validate_text(&text, Path::new("/etc/kaden"), &Empty);
    let at = "telephony.fallback.twilio";
    expect(
        &found,
        Level::Error,
        "telephony.fallback.probe_every",
        9,
        "not a duration",
    );
    expect(&found, Level::Error, &format!("{at}.account_sid"), 11, "AC");
    expect(
        &found,
        Level::Error,
        &format!("{at}.auth_token"),
        12,
        "the secret is empty",
    );
    expect(&found, Level::Error, at, 10, "from (the caller number");
    expect(
        &found,
        Level::Error,
        &format!("{at}.colour"),
        13,
        "unknown key",
    );
    assert_eq!(found.len(), 5, "{found:#?}");
}

#[test]
fn a_fallback_account_needs_the_twilio_provider() {
    let text = format!(
        "telephony:\n  fallback:\n    twilio:\n      account_sid: ACfedcba9876543210fedcba9876543210\n      \
         auth_token: t0ken\n      from: \"+815087654321\"\n{BASE}"
    );
    let found = problems(&text);
    expect(
        &found,
        Level::Error,
        "telephony.fallback",
        2,
        "only with telephony.provider: twilio",
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let missing = format!("{TWILIO}  fallback: {{ probe_every: 1m }}\n{BASE}");
    expect(
        &problems(&missing),
        Level::Error,
        "telephony.fallback",
        8,
        "needs a twilio section",
    );
}

#[test]
fn rates_and_triggers_are_checked() {
    let text = format!(
        "{BASE}telephony:
  rates:
    currency: usd
    calls:
      - {{ prefix: \"+8190\", per_minute: 0.17 }}
      - {{ prefix: \"81\", per_minute: 0.10 }}
      - {{ prefix: \"+8190\", per_minute: -1 }}
    sms: [{{ prefix: \"+81\", per_segment: 0.08 }}]
  triggers:
    - {{ id: calls-per-hour, metric: calls, period: hour, threshold: 50, notify: {{ sms: [a], webhook: \"https://hooks.example/kaden\" }} }}
    - {{ id: calls-per-hour, metric: dollars, period: week, threshold: 0, notify: {{ sms: [zz], webhook: \"ftp://x\" }} }}
"
    );
    let (config, problems) = validate_text(&text, Path::new("/etc/kaden"), &AnySecret);
    let at = |path: &str, line: u64, fragment: &str| {
        expect(&problems, Level::Error, path, line, fragment);
    };
    at(
        "telephony.rates.currency",
        14,
        "not an ISO 4217 currency code",
    );
    at(
        "telephony.rates.calls[1].prefix",
        17,
        "not a phone number prefix",
    );
    at("telephony.rates.calls[2].prefix", 18, "listed twice");
    at("telephony.rates.calls[2].per_minute", 18, "not a price");
    at(
        "telephony.triggers[1].id",
        22,
        "duplicate id \"calls-per-hour\"",
    );
    at(
        "telephony.triggers[1].metric",
        22,
        "unknown metric \"dollars\"",
    );
    at(
        "telephony.triggers[1].period",
        22,
        "unknown period \"week\"",
    );
    at("telephony.triggers[1].threshold", 22, "above 0");
    at(
        "telephony.triggers[1].notify.sms[0]",
        22,
        "unknown user \"zz\"",
    );
    at(
        "telephony.triggers[1].notify.webhook",
        22,
        "\"ftp://x\" is not an http",
    );
    assert_eq!(problems.len(), 10, "{problems:#?}");
    assert!(config.is_some());

    // The same, written right.
    let text = text
        .replace("usd", "USD")
        .replace("\"81\"", "\"+81\"")
        .replace("\"+8190\", per_minute: -1", "\"+8150\", per_minute: 0.09")
        .replace(
            "\n    - { id: calls-per-hour, metric: dollars, period: week, threshold: 0, notify: { sms: [zz], webhook: \"ftp://x\" } }",
            "",
        );
    let (config, problems) = validate_text(&text, Path::new("/etc/kaden"), &AnySecret);
    assert_eq!(problems, vec![]);
    let usage = config.unwrap().usage;
    assert_eq!(usage.rates.calls[0].prefix, "+8190");
    assert_eq!(usage.rates.sms[0].price, 0.08);
    let trigger = &usage.triggers[0];
    assert_eq!(
        (trigger.metric, trigger.period, trigger.threshold),
        (TriggerMetric::Calls, TriggerPeriod::Hour, 50.0)
    );
    assert_eq!(trigger.sms, [UserId::new("a")]);
    use secrecy::ExposeSecret;
    assert_eq!(
        trigger.webhook.as_ref().unwrap().expose_secret(),
        "https://hooks.example/kaden"
    );
}

#[test]
fn numbers_without_a_rate_and_triggers_telling_nobody_are_warned_of() {
    let text = format!(
        "{BASE}telephony:
  rates: {{ calls: [{{ prefix: \"+8150\", per_minute: 0.1 }}] }}
  triggers:
    - {{ id: spend, metric: cost, period: month, threshold: 100 }}
"
    );
    let found = problems(&text);
    let warn = |path: &str, line: u64, fragment: &str| {
        expect(&found, Level::Warning, path, line, fragment);
    };
    warn(
        "users[0].phone",
        2,
        "no telephony.rates.calls prefix matches +819012345678",
    );
    warn("users[1].phone", 3, "its cost is not estimated");
    warn("telephony.triggers[0]", 15, "neither sms nor webhook");
    assert_eq!(found.len(), 3, "{found:#?}");

    let text = format!(
        "{BASE}telephony:
  triggers:
    - {{ id: spend, metric: cost, period: month, threshold: 100, notify: {{ sms: [a] }} }}
"
    );
    let found = problems(&text);
    expect(
        &found,
        Level::Warning,
        "telephony.triggers[0].metric",
        14,
        "without telephony.rates",
    );
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn an_alarm_webhook_must_be_a_web_url() {
    let text = format!("telephony:\n  alarm_webhook: ftp://hooks.example/kaden\n{BASE}");
    let found = problems(&text);
    expect(
        &found,
        Level::Error,
        "telephony.alarm_webhook",
        2,
        "is not an http:// or https:// URL",
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let fine = format!("telephony:\n  alarm_webhook: https://hooks.example/kaden\n{BASE}");
    assert!(problems(&fine).is_empty());
}
