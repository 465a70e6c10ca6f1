//! The replay on fixed alerts: round-robin a → b, one problem at 02:00 Tokyo time.

use super::*;
use crate::config::{SystemSecrets, load};

const CONFIG: &str = "\
storage:
  sqlite: kaden.db
locale:
  timezone: Asia/Tokyo
users:
  - { id: a, name: A, phone: \"+819000000001\" }
  - { id: b, name: B, phone: \"+819000000002\" }
call_settings:
  - { id: infra, mode: round_robin, targets: [user:a, user:b], rounds: 2, max_callbacks: 0, notify_recovery: false }
routes:
  - { when: { severity: high }, call: infra }
";

fn config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.yaml");
    std::fs::write(&path, CONFIG).unwrap();
    load(&path, &SystemSecrets).unwrap().0
}

fn alerts(lines: &[&str]) -> Vec<Timed> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    alerts_from_file(&path, None, None).unwrap()
}

const WEB1_DOWN: &str = r#"{"key":"web1","kind":"problem","severity":"high","host":"web1","summary":"down","time":"2026-11-02T02:00:00+09:00"}"#;
const NOISE: &str = r#"{"key":"x","kind":"problem","severity":"info","host":"x","summary":"meh","time":"2026-11-02T03:00:00+09:00"}"#;

fn run(answer_rate: f64, seed: u64, lines: &[&str]) -> Report {
    let config = config();
    let callee = Callee {
        answer_after: Duration::from_secs(15),
        answer_rate,
        seed,
    };
    let simulated = replay(&config, &[], &alerts(lines), &callee);
    Report::new(&simulated, &config.locale.timezone, None)
}

#[test]
fn nobody_answers_every_round_is_called_then_exhausted() {
    let report = run(0.0, 1, &[WEB1_DOWN, NOISE]);
    assert_eq!((report.alerts, report.unrouted_problems), (2, 1));
    assert_eq!((report.incidents, report.exhausted), (1, 1));
    // a, b, a, b: two rounds, no call-backs.
    assert_eq!(report.calls, 4);
    assert_eq!(report.per_person["a"].calls, 2);
    assert_eq!(report.per_person["b"].calls, 2);
    assert_eq!(report.night_calls, 4, "02:00 in Tokyo is night");
    assert_eq!(report.per_hour[2], 4);
    assert_eq!(report.time_to_ack.acknowledged, 0);
    assert_eq!(report.billed_minutes, 0, "unanswered calls are free");
}

#[test]
fn everyone_answers_the_first_person_acknowledges() {
    let report = run(1.0, 1, &[WEB1_DOWN]);
    assert_eq!((report.incidents, report.exhausted), (1, 0));
    assert_eq!(report.calls, 1);
    assert_eq!(
        report.per_person["a"],
        PersonCalls {
            calls: 1,
            answered: 1,
            night: 1
        }
    );
    // Picked up after 15 s, 9# pressed 5 s later.
    assert_eq!(report.time_to_ack.median_secs, Some(20));
    assert_eq!(report.time_to_ack.worst_secs, Some(20));
    assert_eq!(report.billed_minutes, 1);
    assert_eq!(report.estimated_cost_usd, USD_PER_MINUTE);
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let many: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"key":"k{i}","kind":"{}","severity":"high","host":"h","summary":"s","time":"2026-11-{:02}T{:02}:00:00Z"}}"#,
                if i % 2 == 0 { "problem" } else { "recovery" },
                1 + i / 8,
                (i * 5) % 24,
            )
        })
        .collect();
    let lines: Vec<&str> = many.iter().map(String::as_str).collect();
    let json = |seed| serde_json::to_string(&run(0.5, seed, &lines)).unwrap();
    assert_eq!(json(7), json(7));
    assert_ne!(json(7), json(8), "the seed changes who answers");
}

#[test]
fn a_bad_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    std::fs::write(&path, format!("{WEB1_DOWN}\n\n{{\"key\":1}}\n")).unwrap();
    let err = alerts_from_file(&path, None, None).unwrap_err();
    assert!(matches!(err, ReplayError::Alert { line: 3, .. }), "{err}");
}

#[test]
fn each_time_an_open_incident_calls_again_counts_towards_time_to_ack() {
    let db1_down = WEB1_DOWN.replace("web1", "db1").replace("T02:", "T04:");
    let report = run(1.0, 1, &[WEB1_DOWN, &db1_down]);
    // db1 joins web1's open (acknowledged) incident and starts calling again.
    assert_eq!((report.incidents, report.calls), (1, 2));
    assert_eq!(report.time_to_ack.acknowledged, 2);
    assert_eq!(report.time_to_ack.worst_secs, Some(20));
}
