//! `kaden replay` as a process: a candidate config and a file of generic alerts, or the
//! alerts stored in its database.

use crate::helpers::{open_store, test_config};
use kaden::domain::{Alert, AlertKind, CallSettingId, Delivery, Severity, SourceRef};
use std::path::Path;
use std::process::Command;

const CONFIG: &str = "\
storage:
  sqlite: kaden.db
locale:
  timezone: Asia/Tokyo
users:
  - { id: yamada, name: 山田, phone: \"+819012345678\" }
  - { id: suzuki, name: 鈴木, phone: \"+819023456789\" }
call_settings:
  - { id: infra, mode: round_robin, targets: [user:yamada, user:suzuki], rounds: 1, max_callbacks: 0, notify_recovery: false }
routes:
  - { when: { severity: high }, call: infra }
";

/// web1 breaks at 02:00 and db1 at 14:00, Tokyo time.
const ALERTS: &str = r#"{"key":"web1","kind":"problem","severity":"high","host":"web1","summary":"down","time":"2026-11-02T02:00:00+09:00"}
{"key":"db1","kind":"problem","severity":"high","host":"db1","summary":"down","time":"2026-11-02T14:00:00+09:00"}
"#;

fn kaden(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kaden"))
        .arg("replay")
        .arg("-c")
        .arg(dir.join("kaden.yaml"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn replays_a_file_of_alerts_and_prints_the_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kaden.yaml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("alerts.jsonl"), ALERTS).unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let alerts = alerts.to_str().unwrap();

    let text = kaden(dir.path(), &["--alerts", alerts, "--answer-rate", "1"]);
    // db1 joins web1's incident: acknowledged, but open until web1 recovers.
    assert!(text.contains("incidents: 1"), "{text}");
    assert!(
        text.contains("calls: 2 (answered 2, at night 22:00-06:00: 1)"),
        "{text}"
    );
    assert!(text.contains("median 20s"), "{text}");
    assert!(
        !text.contains("actually"),
        "no real run beside a file: {text}"
    );

    let json = kaden(
        dir.path(),
        &["--alerts", alerts, "--answer-rate", "0", "--json"],
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    // One incident; each problem runs one round of yamada and suzuki, unanswered.
    assert_eq!(report["incidents"], 1);
    assert_eq!(report["exhausted"], 1);
    assert_eq!(report["calls"], 4);
    assert_eq!(report["per_person"]["yamada"]["night"], 1);
    assert_eq!(report["per_hour"][2], 2);
    assert_eq!(report["per_hour"][14], 2);
    assert_eq!(report["estimated_cost_usd"], 0.0);
    assert_eq!(report["actual"], serde_json::Value::Null);
}

#[tokio::test]
async fn replays_the_stored_alerts_beside_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kaden.yaml");
    std::fs::write(&config, test_config(CONFIG)).unwrap();
    let store = open_store(&config);
    for (i, at) in ["2026-11-02T02:00:00+09:00", "2026-11-09T02:00:00+09:00"]
        .into_iter()
        .enumerate()
    {
        let at = at.parse().unwrap();
        let alert = Alert {
            source_ref: SourceRef::Generic,
            key: format!("web{i}"),
            kind: AlertKind::Problem,
            severity: Severity::High,
            host: format!("web{i}"),
            service: None,
            state: "problem".into(),
            output: "down".into(),
            occurred_at: at,
            raw: "{}".into(),
        };
        let infra = Some(CallSettingId::new("infra"));
        store
            .ingest(Delivery::new(alert, Some(format!("n{i}"))), infra, at)
            .await
            .unwrap();
    }
    drop(store);

    let json = kaden(
        dir.path(),
        &[
            "--to",
            "2026-11-03T00:00:00+09:00",
            "--answer-rate",
            "1",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["alerts"], 1, "only the first week: {report}");
    assert_eq!(report["per_person"]["yamada"]["answered"], 1);
    assert_eq!(report["actual"]["calls"], 0, "nothing was really called");
    let text = kaden(dir.path(), &["--answer-rate", "1"]);
    assert!(text.contains("ACTUAL CALLS"), "{text}");
    assert!(text.contains("alerts: 2"), "{text}");
}

/// The daemon, with simulated phones: a picks up and hangs up, b acknowledges with 9#.
const LIVE: &str = "\
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
  - { id: infra, targets: [user:a, user:b], ring_timeout: 5s, retry_after: 1s, max_callbacks: 0 }
routes:
  - { call: infra }
";

/// Starts `kaden serve` and learns its address from the "listening" log line.
fn serve(config: &Path) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_kaden"))
        .args(["--log-format", "json", "serve", "-c"])
        .arg(config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("kaden printed its listening line")
            .unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["message"] == "kaden is listening." {
            break format!("http://{}", event["addr"].as_str().unwrap());
        }
    };
    // Keep draining the logs so the daemon never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

#[tokio::test]
async fn the_current_config_replayed_with_the_recorded_answers_matches_the_real_run() {
    use crate::helpers::TOKEN;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kaden.yaml"), test_config(LIVE)).unwrap();
    let (mut daemon, base) = serve(&dir.path().join("kaden.yaml"));
    let client = reqwest::Client::new();
    let alert = crate::helpers::alert("db-01", "problem", "high");
    let response = client
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(TOKEN)
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let mut real = Vec::new();
    for _ in 0..600 {
        let calls: serde_json::Value = client
            .get(format!("{base}/api/v1/calls"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        real = calls.as_array().cloned().unwrap_or_default();
        if real.iter().any(|c| c["outcome"] == "acknowledged") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let outcomes: Vec<(&str, &str)> = real
        .iter()
        .rev()
        .map(|c| (c["user"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("a", "hung-up"), ("b", "acknowledged")]);

    let text = kaden(dir.path(), &["--recorded"]);
    assert!(
        text.contains("the replay matches the real run: the same 2 calls in the same order"),
        "{text}"
    );
    let json = kaden(dir.path(), &["--recorded", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["comparison"]["matches"], true, "{report}");
    assert_eq!(report["comparison"]["unmatched"], 0);
    assert_eq!(report["per_person"]["b"]["answered"], 1);
    assert_eq!(report["time_to_ack"]["acknowledged"], 1);

    // The same week under a candidate that calls b first: the first call differs.
    let config = dir.path().join("kaden.yaml");
    let reversed = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[user:a, user:b]", "[user:b, user:a]");
    std::fs::write(&config, reversed).unwrap();
    let text = kaden(dir.path(), &["--recorded"]);
    assert!(text.contains("at call 1: replay b (escalate)"), "{text}");
}
