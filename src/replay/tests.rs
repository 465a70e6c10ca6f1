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
    config_from(CONFIG)
}

fn config_from(text: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.yaml");
    std::fs::write(&path, text).unwrap();
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
        recorded: None,
    };
    let simulated = replay(&config, &[], &alerts(lines), &callee);
    Report::new(&simulated, &config.locale.timezone, None, None)
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
fn the_answering_callee_presses_the_configured_acknowledge_key() {
    let config = config_from(&format!("{CONFIG}keys: {{ acknowledge_all: 7 }}\n"));
    let callee = Callee {
        answer_after: Duration::from_secs(15),
        answer_rate: 1.0,
        seed: 1,
        recorded: None,
    };
    let simulated = replay(&config, &[], &alerts(&[WEB1_DOWN]), &callee);
    assert_eq!(simulated.calls.len(), 1);
    assert_eq!(simulated.calls[0].keys, ["7#"]);
    assert_eq!(simulated.calls[0].outcome, Some(OutcomeLabel::Acknowledged));
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

/// What really happened to WEB1_DOWN: a did not answer; b picked up after 10 s, pressed
/// 9# and the call ended 25 s after it was placed.
fn recorded_calls() -> Vec<StoredCall> {
    let at = |t: &str| t.parse::<Timestamp>().unwrap();
    let call = |user: &str| StoredCall {
        user: UserId::new(user),
        purpose: crate::escalation::CallPurpose::Escalate,
        placed_at: at("2026-11-01T17:00:00Z"),
        answered: false,
        answered_at: None,
        ended_at: None,
        outcome: None,
        keys: Vec::new(),
    };
    vec![
        StoredCall {
            ended_at: Some(at("2026-11-01T17:00:30Z")),
            outcome: Some("no-answer".into()),
            ..call("a")
        },
        StoredCall {
            placed_at: at("2026-11-01T17:00:31Z"),
            answered: true,
            answered_at: Some(at("2026-11-01T17:00:41Z")),
            ended_at: Some(at("2026-11-01T17:00:56Z")),
            outcome: Some("acknowledged".into()),
            keys: vec!["9#".into()],
            ..call("b")
        },
    ]
}

fn run_recorded(config: &Config) -> (Simulated, Report) {
    let real = recorded_calls();
    let callee = Callee {
        answer_after: Duration::from_secs(15),
        answer_rate: 1.0,
        seed: 1,
        recorded: Some(real.clone()),
    };
    let simulated = replay(config, &[], &alerts(&[WEB1_DOWN]), &callee);
    let comparison = Comparison::new(&simulated, &real);
    let actual = Actual::new(&real);
    let report = Report::new(
        &simulated,
        &config.locale.timezone,
        Some(actual),
        Some(comparison),
    );
    (simulated, report)
}

#[test]
fn recorded_answers_under_the_same_config_reproduce_the_real_calls() {
    let (simulated, report) = run_recorded(&config());
    let calls: Vec<(&str, Option<&str>, &[String])> = simulated
        .calls
        .iter()
        .map(|c| {
            (
                c.user.as_str(),
                c.outcome.map(OutcomeLabel::as_str),
                c.keys.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("a", Some("no-answer"), &[][..]),
            ("b", Some("acknowledged"), &["9#".to_owned()][..]),
        ]
    );
    // b picked up 10 s into the call, pressed 9# 5 s later.
    assert_eq!(
        simulated.calls[1]
            .answered_at
            .map(|a| a.duration_since(simulated.calls[1].placed_at).as_secs()),
        Some(10)
    );
    assert_eq!(report.exhausted, 0);
    assert_eq!(report.time_to_ack.acknowledged, 1);
    let comparison = report.comparison.as_ref().unwrap();
    assert!(comparison.matches, "{report}");
    assert_eq!(
        (
            comparison.replay_calls,
            comparison.real_calls,
            comparison.unmatched
        ),
        (2, 2, 0)
    );
    assert!(
        report
            .to_string()
            .contains("the replay matches the real run: the same 2 calls in the same order"),
        "{report}"
    );
}

#[test]
fn recorded_answers_under_reversed_targets_name_the_first_difference() {
    let reversed = CONFIG.replace("targets: [user:a, user:b]", "targets: [user:b, user:a]");
    let (simulated, report) = run_recorded(&config_from(&reversed));
    // b is called first, answers as b really did, and acknowledges: a is never called.
    assert_eq!(simulated.calls.len(), 1);
    assert_eq!(simulated.calls[0].user.as_str(), "b");
    assert_eq!(simulated.calls[0].outcome, Some(OutcomeLabel::Acknowledged));
    let comparison = report.comparison.as_ref().unwrap();
    assert!(!comparison.matches);
    let difference = comparison.first_difference.as_ref().unwrap();
    assert_eq!(difference.call, 1);
    assert_eq!(difference.replay.as_ref().unwrap().user, "b");
    assert_eq!(difference.real.as_ref().unwrap().user, "a");
    let text = report.to_string();
    assert!(
        text.contains(
            "differs from the real run (1 calls, really 2) at call 1: replay b (escalate)"
        ),
        "{text}"
    );
    assert!(text.contains("really a (escalate)"), "{text}");
}

#[test]
fn a_call_without_a_recorded_counterpart_rings_out_and_is_unmatched() {
    let config = config();
    let callee = Callee {
        answer_after: Duration::from_secs(15),
        answer_rate: 1.0,
        seed: 1,
        recorded: Some(Vec::new()),
    };
    let simulated = replay(&config, &[], &alerts(&[WEB1_DOWN]), &callee);
    // Nobody answers: a, b, a, b, then exhausted.
    assert_eq!(simulated.calls.len(), 4);
    assert_eq!(simulated.unmatched, 4);
    assert!(simulated.calls.iter().all(|c| c.answered_at.is_none()));
    let comparison = Comparison::new(&simulated, &[]);
    assert_eq!(comparison.first_difference.as_ref().unwrap().real, None);
}
