//! The built binary: durability across kill -9, clean exit on SIGTERM, and the CLI.

use crate::helpers::{TOKEN, alert, test_config, write_config};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const KADEN: &str = env!("CARGO_BIN_EXE_kaden");
/// The lean binary of the notification commands.
const KADEN_NOTIFY: &str = env!("CARGO_BIN_EXE_kaden-notify");
/// `kaden zabbix-alert ...` and `kaden-notify zabbix-alert ...` (and `nagios-notify`) take
/// the same arguments and must answer alike: their tests run both.
const NOTIFIERS: [&str; 2] = [KADEN, KADEN_NOTIFY];

struct Daemon {
    child: Child,
    base: String,
    /// Every log line printed after start-up, for tests that look at the logs.
    logs: mpsc::Receiver<String>,
}

/// Starts `kaden serve` and waits for its "listening" log line to learn the port.
fn start(config: &Path) -> Daemon {
    start_with_env(config, &[])
}

/// `start`, with variables only the daemon's environment has (its secrets).
fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Daemon {
    let (lines, logs) = mpsc::channel();
    let mut daemon = Daemon {
        child: Command::new(KADEN)
            .args(["--log-format", "json", "serve", "-c"])
            .arg(config)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        base: String::new(),
        logs,
    };
    let stderr = BufReader::new(daemon.child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    while daemon.base.is_empty() {
        // A guard against a daemon that never starts, not a speed assertion.
        let line = daemon
            .logs
            .recv_timeout(Duration::from_secs(60))
            .expect("kaden printed its listening line");
        let event: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if event["message"] == "kaden is listening." {
            daemon.base = format!("http://{}", event["addr"].as_str().unwrap());
        }
    }
    daemon
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(base: &str, body: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    response.json().await.unwrap()
}

async fn get(base: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn accepted_alert_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut daemon = start(&config);
    let answer = post(&daemon.base, &alert("db-01", "problem", "disaster")).await;
    daemon.child.kill().unwrap(); // SIGKILL: no shutdown code runs.
    daemon.child.wait().unwrap();

    let restarted = start(&config);
    let incident = get(
        &restarted.base,
        &format!("/api/v1/incidents/{}", answer["incident_id"]),
    )
    .await;
    assert_eq!(incident["alerts"][0]["id"], answer["id"]);
    assert_eq!(incident["problem_list"][0]["key"], "db-01");
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = start(&write_config(dir.path()));
    post(&daemon.base, &alert("web-01/HTTP", "problem", "high")).await;
    let pid = nix::unistd::Pid::from_raw(daemon.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(
        daemon.child.wait().unwrap().success(),
        "SIGTERM is a clean exit"
    );
    let logs: Vec<String> = daemon.logs.try_iter().collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("\"incident_id\"") && l.contains("Alert stored.")),
        "{logs:#?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("kaden stopped.")),
        "{logs:#?}"
    );
    assert!(logs.iter().all(|l| !l.contains(TOKEN)));
}

#[test]
fn check_config_exits_1_on_errors_and_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "users:\n  - { id: a, phone: \"0901234\" }\nroutes:\n  - { call: nowhere }\n",
    )
    .unwrap();
    let out = Command::new(KADEN)
        .args(["check-config", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("bad.yaml:2: error: users[0].phone:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bad.yaml:4: error: routes[0].call: unknown call setting \"nowhere\""),
        "{stdout}"
    );
}

#[test]
fn check_config_accepts_the_shipped_default() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kaden.yaml");
    let out = Command::new(KADEN)
        .args(["check-config", "-c"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let before = Command::new(KADEN)
        .arg("-c")
        .arg(&example)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(
        before.status.code(),
        Some(0),
        "-c is accepted before the subcommand too"
    );
}

#[tokio::test]
async fn incidents_command_lists_what_the_daemon_holds() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let daemon = start(&config);
    post(&daemon.base, &alert("db-01", "problem", "disaster")).await;
    // The CLI reads the listen address from the config; point it at the running port.
    let port = daemon.base.rsplit(':').next().unwrap().to_owned();
    let cli_config = dir.path().join("cli.yaml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&cli_config, text).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(KADEN)
            .args(["incidents", "-c"])
            .arg(&cli_config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().nth(1).unwrap().contains("everyone"),
        "{stdout}"
    );
    drop(daemon);
}

const ESCALATION: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
telephony:
  provider: simulator
  simulator:
    phones:
      \"+819000000001\": { behaviour: hang_up, after_secs: 1 }
      \"+819000000002\": { behaviour: answer, keys: [\"9#\"], after_secs: 0 }
users:
  - { id: a, phone: \"+819000000001\" }
  - { id: b, phone: \"+819000000002\" }
call_settings:
  - { id: infra, targets: [user:a, user:b], ring_timeout: 5s, retry_after: 3s, max_callbacks: 1 }
routes:
  - { call: infra }
";

/// Polls the call log until `check` holds; the limit only guards against a hang.
async fn wait_for_calls(base: &str, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..600 {
        let calls = get(base, "/api/v1/calls").await;
        let mut calls = calls.as_array().cloned().unwrap_or_default();
        calls.reverse(); // oldest first
        if check(&calls) {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited 60 s for {what}");
}

#[tokio::test]
async fn escalation_continues_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kaden.yaml");
    std::fs::write(&config, test_config(ESCALATION)).unwrap();
    let mut daemon = start(&config);
    post(&daemon.base, &alert("db-01", "problem", "high")).await;
    wait_for_calls(&daemon.base, "a to hang up", |c| {
        c.len() == 1 && c[0]["outcome"] == "hung-up"
    })
    .await;
    daemon.child.kill().unwrap(); // the call-back to a is due in 3 s
    daemon.child.wait().unwrap();

    let restarted = start(&config);
    let calls = wait_for_calls(&restarted.base, "b to acknowledge", |c| {
        c.last()
            .is_some_and(|last| last["outcome"] == "acknowledged")
    })
    .await;
    let who: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c["user"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        who,
        [("a", "hung-up"), ("a", "hung-up"), ("b", "acknowledged")],
        "one call-back to a after the restart, then b: nobody called twice"
    );
    let first_end: jiff::Timestamp = calls[0]["ended_at"].as_str().unwrap().parse().unwrap();
    let callback: jiff::Timestamp = calls[1]["placed_at"].as_str().unwrap().parse().unwrap();
    assert!(
        callback.duration_since(first_end) >= jiff::SignedDuration::from_secs(3),
        "retry_after is kept"
    );
}

#[tokio::test]
async fn nagios_notify_spools_while_the_daemon_is_down_and_the_daemon_delivers_it() {
    for binary in NOTIFIERS {
        nagios_notify_spools_and_the_daemon_delivers(binary).await;
    }
}

async fn nagios_notify_spools_and_the_daemon_delivers(binary: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_daemon_down(dir.path());
    let notify = |kind: &str| {
        Command::new(binary)
            .args(["nagios-notify", "-c"])
            .arg(&config)
            .args([
                "--type",
                kind,
                "--host",
                "web01",
                "--service",
                "HTTP",
                "--state",
                "CRITICAL",
            ])
            .args(["--output", "HTTP CRITICAL - 503", "--problem-id", "12"])
            .output()
            .unwrap()
    };
    let out = notify("PROBLEM");
    assert_eq!(
        out.status.code(),
        Some(0),
        "spooled is safe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    assert!(stderr.contains("alert spooled at"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("spool")).unwrap().count(),
        1
    );

    let daemon = start(&config);
    let incidents = wait_for_incidents(&daemon.base).await;
    assert_eq!(incidents[0]["call_setting"], "infra");
    assert_eq!(
        std::fs::read_dir(dir.path().join("spool")).unwrap().count(),
        0,
        "delivered and removed"
    );

    // A notification the daemon refuses is not spooled: it exits non-zero with the reason.
    let out = notify("BOGUS");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown $NOTIFICATIONTYPE$"));
}

/// A config whose daemon address is a port nobody listens on.
fn config_with_daemon_down(dir: &Path) -> PathBuf {
    let config = write_config(dir);
    let port = crate::helpers::free_port();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&config, text).unwrap();
    config
}

fn spooled_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("spool"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[test]
fn invalid_alerts_are_refused_by_the_cli_with_the_daemon_down() {
    for binary in NOTIFIERS {
        invalid_alerts_are_refused(binary);
    }
}

fn invalid_alerts_are_refused(binary: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_daemon_down(dir.path());
    let run = |args: &[&str]| {
        Command::new(binary)
            .arg("-c")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    };
    let cases: [(&[&str], &str); 4] = [
        (
            &["zabbix-alert", "x", "y", "host_name: h"],
            "missing field `event_id`",
        ),
        (
            &[
                "zabbix-alert",
                "x",
                "y",
                "event_id: 12\nevent_value: 7\nhost_name: h",
            ],
            "event_value",
        ),
        (
            &[
                "nagios-notify",
                "--type",
                "PROBLEM",
                "--host",
                "h",
                "--state",
                "MELTED",
            ],
            "state: unknown state \"MELTED\"",
        ),
        (
            &[
                "nagios-notify",
                "--type",
                "BOGUS",
                "--host",
                "h",
                "--state",
                "OK",
            ],
            "unknown $NOTIFICATIONTYPE$",
        ),
    ];
    for (args, fragment) in cases {
        let out = run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(fragment), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    }
    assert_eq!(
        spooled_files(dir.path()),
        Vec::<PathBuf>::new(),
        "nothing spooled"
    );

    // A valid alert is spooled, and what is spooled is what the daemon delivers.
    let out = run(&[
        "zabbix-alert",
        "x",
        "y",
        "event_id: 12\nevent_value: 1\nhost_name: h",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(spooled_files(dir.path()).len(), 1);
}

/// `kaden-notify` is `kaden` for the notification commands: the same help, and the same
/// answers whether the daemon is down (spooled) or up (delivered).
#[tokio::test]
async fn kaden_notify_answers_as_kaden_zabbix_alert_does_spooled_and_live() {
    for command in ["zabbix-alert", "nagios-notify"] {
        let help = NOTIFIERS.map(|binary| {
            let out = Command::new(binary)
                .args([command, "--help"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{binary} {command} --help: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        });
        assert_eq!(help[0], help[1].replace("kaden-notify", "kaden"));
    }

    let dir = tempfile::tempdir().unwrap();
    let config = config_with_daemon_down(dir.path());
    let zabbix_alert = |binary: &str, host: &str, event_id: u32| {
        let message = format!(
            "event_id: {event_id}\nevent_value: 1\nevent_severity: 4\nhost_name: {host}\nevent_name: HTTP is down"
        );
        Command::new(binary)
            .args(["zabbix-alert", "-c"])
            .arg(&config)
            .args(["+819000000001", "Problem: HTTP is down", &message])
            .output()
            .unwrap()
    };
    // The daemon down: each spools, and says so in the same line.
    let said: Vec<String> = NOTIFIERS
        .iter()
        .zip(["spooled-kaden", "spooled-lean"])
        .zip(1..)
        .map(|((binary, host), event_id)| {
            let out = zabbix_alert(binary, host, event_id);
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert_eq!(out.status.code(), Some(0), "{binary}: {stderr}");
            // The spooled file's name differs; everything before it must not.
            let (line, file) = stderr.split_once(" at ").expect("names the spooled file");
            assert!(file.contains("/spool/"), "{binary}: {stderr}");
            line.to_owned()
        })
        .collect();
    assert_eq!(said[0], said[1]);
    assert!(
        said[0].starts_with("kaden: daemon unreachable ("),
        "{}",
        said[0]
    );
    assert_eq!(spooled_files(dir.path()).len(), 2);

    // The daemon up: it drains both, and each binary delivers at once, silently.
    let daemon = start(&config);
    for ((binary, host), event_id) in NOTIFIERS.iter().zip(["live-kaden", "live-lean"]).zip(3..) {
        let out = zabbix_alert(binary, host, event_id);
        assert_eq!(out.status.code(), Some(0), "{binary}: {out:?}");
        assert!(out.stderr.is_empty(), "{binary}: {out:?}");
    }
    let mut hosts = Vec::new();
    for _ in 0..300 {
        hosts = stored_hosts(&daemon.base).await;
        if hosts.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hosts.sort();
    assert_eq!(
        hosts,
        ["live-kaden", "live-lean", "spooled-kaden", "spooled-lean"]
    );
    assert_eq!(spooled_files(dir.path()), Vec::<PathBuf>::new(), "drained");
}

/// The host of every alert the daemon stored, over all incidents.
async fn stored_hosts(base: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    for incident in get(base, "/api/v1/incidents").await.as_array().unwrap() {
        let alerts = get(
            base,
            &format!("/api/v1/incidents/{}/alerts", incident["id"]),
        )
        .await;
        hosts.extend(
            alerts["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["host"].as_str().unwrap().to_owned()),
        );
    }
    hosts
}

#[tokio::test]
async fn a_spooled_alert_already_delivered_is_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let body = serde_json::json!({
        "type": "PROBLEM", "host": "web01", "service": "HTTP", "state": "CRITICAL",
        "output": "HTTP CRITICAL - 503", "problem_id": 12
    });
    let mut daemon = start(&config);
    // The notification command posts with its key; the daemon stores the alert and is
    // killed before the answer arrives, so the command spools the same alert.
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/nagios", daemon.base))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "cli-7f3a")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let stored: Value = response.json().await.unwrap();
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let spooled =
        serde_json::json!({ "source": "nagios", "body": body, "idempotency_key": "cli-7f3a" });
    std::fs::write(spool.join("1-1-00000001.json"), spooled.to_string()).unwrap();

    let restarted = start(&config);
    for _ in 0..300 {
        if spooled_files(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        spooled_files(dir.path()),
        Vec::<PathBuf>::new(),
        "drained, not rejected"
    );
    let incident = get(
        &restarted.base,
        &format!("/api/v1/incidents/{}", stored["incident_id"]),
    )
    .await;
    let alerts = incident["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{incident:#}");
    assert_eq!(alerts[0]["id"], stored["id"]);
}

async fn wait_for_incidents(base: &str) -> Vec<Value> {
    for _ in 0..300 {
        let list = get(base, "/api/v1/incidents").await;
        if let Some(list) = list.as_array().filter(|l| !l.is_empty()) {
            return list.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the spooled alert never arrived");
}

const SCHEDULED: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
locale: { timezone: Asia/Tokyo }
users:
  - { id: a, name: 山田, phone: \"+819000000001\" }
  - { id: b, name: 鈴木, phone: \"+819000000002\" }
  - { id: c, name: 田中, phone: \"+819000000003\" }
schedules:
  - id: primary
    timezone: Asia/Tokyo
    rotation: { every: 1w, handoff: \"2026-11-02T10:00\", members: [a, b] }
";

fn oncall_cli(config: &Path, args: &[&str]) -> String {
    let out = Command::new(KADEN)
        .args([
            "oncall",
            "primary",
            "--at",
            "2026-11-09T10:00:00+09:00",
            "-c",
        ])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn oncall_answers_with_the_daemon_stopped_as_the_api_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kaden.yaml");
    std::fs::write(&config, test_config(SCHEDULED)).unwrap();
    let mut daemon = start(&config);
    // Tanaka covers the first day of Suzuki's week.
    let client = reqwest::Client::new();
    let created = client
        .post(format!(
            "{}/api/v1/schedules/primary/overrides",
            daemon.base
        ))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "user": "c", "replaces": "b",
            "start": "2026-11-09T10:00:00+09:00", "end": "2026-11-10T10:00:00+09:00" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let api: Value = get(
        &daemon.base,
        "/api/v1/oncall?schedule=primary&at=2026-11-09T10:00:00%2B09:00",
    )
    .await;
    let running: Value = serde_json::from_str(&oncall_cli(&config, &["--json"])).unwrap();
    assert_eq!(running, api, "the CLI and the API agree");
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();

    let stopped: Value = serde_json::from_str(&oncall_cli(&config, &["--json"])).unwrap();
    assert_eq!(stopped, api, "the same answer with the daemon stopped");
    assert_eq!(stopped[0]["now"]["user"], "c", "the override counts");
    let text = oncall_cli(&config, &[]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SCHEDULE"), "{text}");
    assert!(
        lines[1].contains("田中 (c)") && lines[1].contains("2026-11-09 10:00:00 JST"),
        "{text}"
    );
    assert!(lines[2].contains("鈴木 (b)"), "{text}");
}

#[tokio::test]
async fn notification_commands_need_no_secret_but_an_ingest_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_daemon_down(dir.path());
    // The daemon's secrets come from its environment, which the monitoring user does not
    // have; the notification command gets an ingest token file and nothing else.
    let ingest = "ingest-token-0123456789";
    std::fs::write(dir.path().join("ingest_token"), ingest).unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("api_tokens: [{TOKEN}]"),
        "api_tokens: [${env:KADEN_TEST_API_TOKEN}]\n  ingest_tokens: [${file:ingest_token}]",
    ) + "sources:\n  mackerel: { api_key: ${env:KADEN_TEST_MACKEREL_KEY} }\n";
    std::fs::write(&config, text).unwrap();
    let daemon = start_with_env(
        &config,
        &[
            ("KADEN_TEST_API_TOKEN", TOKEN),
            ("KADEN_TEST_MACKEREL_KEY", "mackerel-key-0123456789"),
        ],
    );
    let notify = |problem_id: &str| {
        Command::new(KADEN)
            .args(["nagios-notify", "-c"])
            .arg(&config)
            .args(["--type", "PROBLEM", "--host", "web01", "--service", "HTTP"])
            .args(["--state", "CRITICAL", "--output", "HTTP CRITICAL - 503"])
            .args(["--problem-id", problem_id])
            .env_remove("KADEN_TEST_API_TOKEN")
            .env_remove("KADEN_TEST_MACKEREL_KEY")
            .output()
            .unwrap()
    };
    let out = notify("1");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "delivered at once: {out:?}");
    assert_eq!(spooled_files(dir.path()), Vec::<PathBuf>::new());
    assert_eq!(wait_for_incidents(&daemon.base).await.len(), 1);

    // The token file unreadable: the alert still arrives, through the spool.
    std::fs::remove_file(dir.path().join("ingest_token")).unwrap();
    let out = notify("2");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("alert spooled at"), "{stderr}");
    assert!(
        !stderr.contains(ingest) && !stderr.contains(TOKEN),
        "{stderr}"
    );
    for _ in 0..300 {
        if spooled_files(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(spooled_files(dir.path()), Vec::<PathBuf>::new(), "drained");
    let incident = get(&daemon.base, "/api/v1/incidents").await;
    let detail = get(
        &daemon.base,
        &format!("/api/v1/incidents/{}", incident[0]["id"]),
    )
    .await;
    assert_eq!(detail["alerts_total"], 2, "{detail:#}");

    // An ingest token posts alerts and nothing else.
    let denied = reqwest::Client::new()
        .get(format!("{}/api/v1/incidents", daemon.base))
        .bearer_auth(ingest)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
}

#[test]
fn doctor_names_what_to_fix_on_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_daemon_down(dir.path());
    let text = std::fs::read_to_string(&config).unwrap()
        + "sources:\n  nagios: { command_file: /nonexistent/nagios.cmd }\n";
    std::fs::write(&config, text).unwrap();
    let out = Command::new(KADEN)
        .args(["doctor", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ok    telephony: the built-in simulator"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  daemon: "), "{stdout}");
    assert!(
        stdout.contains("FAIL  sources.nagios: cannot reach /nonexistent/nagios.cmd"),
        "{stdout}"
    );
}

#[test]
fn oncall_gaps_find_the_weekend_hole_and_check_config_warns_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kaden.yaml");
    std::fs::write(
        &config,
        "\
users:
  - { id: a, name: 山田, phone: \"+819000000001\" }
schedules:
  - id: weekdays
    timezone: Asia/Tokyo
    layers:
      - { every: 1w, handoff: \"2026-11-02T09:00\", members: [a], window: { days: mon-fri } }
call_settings:
  - { id: infra, targets: [schedule:weekdays] }
",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(KADEN)
            .args(args)
            .arg("-c")
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let gaps: Value =
        serde_json::from_str(&run(&["oncall", "--gaps", "--days", "14", "--json"])).unwrap();
    let weekdays: Vec<&Value> = gaps
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["id"] == "weekdays")
        .collect();
    assert!(weekdays.len() >= 2, "two weekends in 14 days: {gaps:#}");
    for gap in weekdays {
        let from: jiff::Timestamp = gap["from"].as_str().unwrap().parse().unwrap();
        let local = from.to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
        // Starting now (mid-weekend) or at Saturday 00:00, Tokyo.
        assert!(
            matches!(
                local.weekday(),
                jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
            ),
            "{gap}"
        );
    }
    let table = run(&["oncall", "--gaps"]);
    assert!(table.starts_with("WHAT"), "{table}");
    let checked = run(&["check-config"]);
    assert!(
        checked.contains("warning: schedules.weekdays: nobody on call from")
            && checked.contains("warning: call_settings.infra: nobody on call from"),
        "{checked}"
    );
}
