//! `kaden replay` as a process: a candidate config and a file of generic alerts, or the
//! alerts stored in its database.

use kaden::domain::{Alert, AlertKind, CallSettingId, Delivery, Severity, SourceRef};
use kaden::store::Store;
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
    std::fs::write(dir.path().join("kaden.yaml"), CONFIG).unwrap();
    let store = Store::open(&dir.path().join("kaden.db")).unwrap();
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
