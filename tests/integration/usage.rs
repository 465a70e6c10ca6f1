//! Usage and cost: what `GET /api/v1/usage` and `kaden usage` report matches the call log
//! (durations rounded up to billed minutes, priced at the configured rates), SMS are
//! counted, and a usage trigger fires once per period to its SMS and webhook.

use crate::helpers::{
    ShiftedClock, TOKEN, TestApp, alert, receiver, spawn_app_on, spawn_app_with, wait_until,
};
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const KADEN: &str = env!("CARGO_BIN_EXE_kaden");

/// Both answer at once; whoever presses 9# first acknowledges.
const CONFIG: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
telephony:
  provider: simulator
  rates:
    currency: USD
    calls: [{ prefix: \"+81\", per_minute: 0.10 }, { prefix: \"+8190\", per_minute: 0.17 }]
    sms: [{ prefix: \"+81\", per_segment: 0.08 }]
  triggers:
    - { id: calls-today, metric: calls, period: day, threshold: 2, notify: { sms: [b], webhook: \"HOOK\" } }
    - { id: calls-busy, metric: calls, period: day, threshold: 4, notify: { webhook: \"HOOK\" } }
users:
  - { id: a, name: 山田, phone: \"+819000000001\" }
  - { id: b, name: 鈴木, phone: \"+815000000002\" }
call_settings:
  - { id: everyone, mode: broadcast, targets: [user:a, user:b], ring_timeout: 10s, notify_recovery: false }
routes:
  - { call: everyone }
";

/// Every call of the incident ended with the duration Twilio reported.
async fn settled(app: &TestApp, id: &Value) -> Value {
    app.wait_for_incident(id, "every call to end with its duration", |i| {
        let calls = i["calls"].as_array().unwrap();
        i["status"] == "acknowledged"
            && !calls.is_empty()
            && calls.iter().all(|c| !c["duration_seconds"].is_null())
    })
    .await
}

fn rate_per_minute(phone: &str) -> f64 {
    if phone.starts_with("+8190") {
        0.17
    } else {
        0.10
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn usage_matches_the_call_log_and_a_trigger_fires_once() {
    let (hook, posted) = receiver().await;
    let app = spawn_app_with(&CONFIG.replace("HOOK", &hook)).await;
    for phone in ["+819000000001", "+815000000002"] {
        app.phone(
            phone,
            json!({ "behaviour": "answer", "keys": ["9#"], "after_secs": 1 }),
        )
        .await;
    }

    // Two calls: the first trigger (2 calls today) fires, texting b and posting.
    let first = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    settled(&app, &first["incident_id"]).await;
    let fired = wait_until("the first trigger's webhook", async || {
        let got = posted.lock().unwrap().clone();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(fired[0]["trigger"], "calls-today", "{fired:#?}");
    assert_eq!(fired[0]["metric"], "calls");
    assert_eq!(fired[0]["period"], "day");
    assert_eq!(fired[0]["threshold"], 2.0);
    assert!(fired[0]["value"].as_f64().unwrap() >= 2.0);
    assert!(fired[0]["at"].as_str().unwrap().ends_with('Z'));
    let message = fired[0]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("kaden: 利用量トリガー calls-today: 今日の発信が"),
        "{message}"
    );
    let sms = wait_until("the trigger's SMS to b", async || {
        let (_, sent) = app.get("/sim/messages").await;
        let sent = sent.as_array().unwrap().clone();
        (!sent.is_empty()).then_some(sent)
    })
    .await;
    assert_eq!(sms.len(), 1, "{sms:#?}");
    assert_eq!(sms[0]["to"], "+815000000002");
    assert_eq!(sms[0]["body"], message);

    // Resolved, then a new incident: two more calls. The second trigger (4 calls) fires
    // in a check that also saw the first above its threshold again: it stays quiet.
    app.post_alert(&alert("web-01/HTTP", "recovery", "high"))
        .await;
    app.wait_for_incident(&first["incident_id"], "the recovery", |i| {
        i["status"] == "resolved"
    })
    .await;
    let second = app
        .post_alert(&alert("db-01/MySQL", "problem", "high"))
        .await;
    assert_ne!(second["incident_id"], first["incident_id"]);
    settled(&app, &second["incident_id"]).await;
    let fired = wait_until("the second trigger's webhook", async || {
        let got = posted.lock().unwrap().clone();
        (got.len() >= 2).then_some(got)
    })
    .await;
    let triggers: Vec<&str> = fired
        .iter()
        .map(|f| f["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(triggers, ["calls-today", "calls-busy"]);
    let (_, sent) = app.get("/sim/messages").await;
    assert_eq!(sent.as_array().unwrap().len(), 1, "texted once: {sent:#}");

    // What the call log says, priced by hand.
    let (_, calls) = app.get("/api/v1/calls").await;
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 4, "{calls:#?}");
    let seconds: u64 = calls
        .iter()
        .map(|c| c["duration_seconds"].as_u64().unwrap())
        .sum();
    let billed = |c: &Value| {
        let seconds = c["duration_seconds"].as_u64().unwrap();
        kaden::usage::billed_minutes(seconds, !c["answered_at"].is_null())
    };
    let minutes: u64 = calls.iter().map(billed).sum();
    let answered = calls.iter().filter(|c| !c["answered_at"].is_null()).count();
    assert!(answered > 0 && minutes >= answered as u64, "{calls:#?}");
    let segments = u64::from(kaden::telephony::sms::segments(&message));
    let calls_cost: f64 = calls
        .iter()
        .map(|c| billed(c) as f64 * rate_per_minute(c["phone"].as_str().unwrap()))
        .sum();
    let estimated = calls_cost + segments as f64 * 0.08;

    let (status, usage) = app.get("/api/v1/usage?since=1h&by=incident").await;
    assert_eq!(status, 200, "{usage:#}");
    let total = &usage["total"];
    assert_eq!(total["calls"], 4, "{usage:#}");
    assert_eq!(total["answered"], answered);
    assert_eq!(total["call_seconds"], seconds);
    assert_eq!(total["billed_minutes"], minutes);
    assert_eq!(total["sms"], 1);
    assert_eq!(total["sms_segments"], segments);
    let cost = &total["cost"][0];
    assert_eq!(cost["currency"], "USD");
    assert_eq!(
        cost["reported"], 0.0,
        "no price yet: Twilio (and the simulator) price a call after it ended"
    );
    assert!(
        close(cost["estimated"].as_f64().unwrap(), estimated),
        "{cost} vs {estimated}"
    );
    // One row per incident, in order, and the trigger's SMS belongs to none.
    let keys: Vec<&str> = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    let (a, b) = (
        first["incident_id"].to_string(),
        second["incident_id"].to_string(),
    );
    assert_eq!(keys, [a.as_str(), b.as_str(), "-"]);
    assert_eq!(usage["rows"][0]["calls"], 2);
    assert_eq!(usage["rows"][2]["sms"], 1);
    let recorded: Vec<&str> = usage["triggers_fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, ["calls-today", "calls-busy"]);

    // The CLI reads the same from the database file.
    let out = Command::new(KADEN)
        .args(["usage", "--since", "1h", "--by", "incident", "--json", "-c"])
        .arg(app.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["rows", "total", "triggers_fired", "by", "currency"] {
        assert_eq!(cli[field], usage[field], "{field}");
    }
    let out = Command::new(KADEN)
        .args(["usage", "--by", "user", "-c"])
        .arg(app.config_path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Usage from "), "{text}");
    let words = |line: &str| line.split_whitespace().next().unwrap_or("").to_owned();
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "USER", "CALLS", "ANSWERED", "MINUTES", "SMS", "SEGMENTS", "COST"
        ],
        "{text}"
    );
    assert_eq!(
        [words(lines[2]), words(lines[3]), words(lines[4])],
        ["a", "b", "TOTAL"]
    );
    let cost: kaden::usage::Cost = serde_json::from_value(cost.clone()).unwrap();
    let printed = kaden::usage::cost_text(&[cost]);
    assert!(printed.ends_with("USD (estimated)"), "{printed}");
    assert!(lines[4].ends_with(&printed), "{text}");
    assert!(text.contains("calls-busy"), "{text}");

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "kaden_telephony_calls_total{} 4".to_owned(),
        format!("kaden_telephony_call_seconds_total{{}} {seconds}"),
        format!("kaden_telephony_call_billed_minutes_total{{}} {minutes}"),
        "kaden_telephony_sms_total{} 1".to_owned(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    assert!(
        metrics.contains("kaden_telephony_cost_estimated_total{currency=\"USD\"} "),
        "{metrics}"
    );
}

/// One callee, no triggers: the price backfill alone.
const PRICED: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
telephony:
  provider: simulator
  rates:
    currency: USD
    calls: [{ prefix: \"+81\", per_minute: 0.10 }, { prefix: \"+8190\", per_minute: 0.17 }]
users:
  - { id: a, name: 山田, phone: \"+819000000001\" }
call_settings:
  - { id: infra, targets: [user:a], ring_timeout: 10s }
routes:
  - { call: infra }
";

/// `kaden usage --since 1h` beside the daemon: its TOTAL line.
fn cli_total(app: &TestApp) -> String {
    let out = Command::new(KADEN)
        .args(["usage", "--since", "1h", "-c"])
        .arg(app.config_path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let total = text.lines().find(|l| l.starts_with("TOTAL"));
    total.unwrap_or_else(|| panic!("{text}")).to_owned()
}

/// The value of one sample on `/metrics`.
async fn metric(app: &TestApp, sample: &str) -> f64 {
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics.lines().find_map(|l| l.strip_prefix(sample));
    let value = line.unwrap_or_else(|| panic!("{sample} in {metrics}"));
    value.trim().parse().unwrap()
}

#[tokio::test]
async fn the_price_twilio_reports_after_a_call_replaces_its_estimate() {
    let clock = Arc::new(ShiftedClock::default());
    let app = spawn_app_on(PRICED, clock.clone(), |app| {
        app.price_checks_every(Duration::from_millis(50))
    })
    .await;
    app.phone(
        "+819000000001",
        json!({ "behaviour": "answer", "keys": ["9#"], "after_secs": 1 }),
    )
    .await;
    let opened = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let id = &opened["incident_id"];
    let ended = settled(&app, id).await;
    let call = &ended["calls"][0];
    assert_eq!(call["price"], Value::Null, "{call:#}");
    let minutes = kaden::usage::billed_minutes(call["duration_seconds"].as_u64().unwrap(), true);
    let (reported, estimated) = ("reported", "estimated");
    let cost_of = |usage: &Value, part: &str| usage["total"]["cost"][0][part].as_f64().unwrap();
    let usage_now = async || app.get("/api/v1/usage?since=1h").await.1;

    // Before the first check (a minute after the end by kaden's clock): an estimate.
    let usage = usage_now().await;
    assert_eq!(cost_of(&usage, reported), 0.0, "{usage:#}");
    assert!(
        close(cost_of(&usage, estimated), minutes as f64 * 0.17),
        "{usage:#}"
    );
    assert!(cli_total(&app).ends_with("USD (estimated)"));
    let estimate = "kaden_telephony_cost_estimated_total{currency=\"USD\"}";
    let price = "kaden_telephony_cost_reported_total{currency=\"USD\"}";
    assert!(close(metric(&app, estimate).await, minutes as f64 * 0.17));
    assert_eq!(metric(&app, price).await, 0.0);

    // A minute on, Twilio (the simulator, on the same clock) has priced the call and the
    // backfill asks for it.
    clock.advance(SignedDuration::from_secs(61));
    let priced = app
        .wait_for_incident(id, "the call's price", |i| {
            !i["calls"][0]["price"].is_null()
        })
        .await;
    let call = &priced["calls"][0];
    let minutes = kaden::usage::billed_minutes(call["duration_seconds"].as_u64().unwrap(), true);
    let charged = minutes as f64 * kaden::telephony::simulator::PRICE_PER_MINUTE;
    assert!(close(call["price"].as_f64().unwrap(), charged), "{call:#}");
    assert_eq!(call["price_unit"], "USD");
    let usage = usage_now().await;
    assert!(close(cost_of(&usage, reported), charged), "{usage:#}");
    assert_eq!(cost_of(&usage, estimated), 0.0, "{usage:#}");
    assert_eq!(usage["total"]["billed_minutes"], minutes);
    let cost: kaden::usage::Cost =
        serde_json::from_value(usage["total"]["cost"][0].clone()).unwrap();
    let printed = kaden::usage::cost_text(&[cost]);
    assert!(printed.ends_with("USD (reported)"), "{printed}");
    assert!(cli_total(&app).ends_with(&printed), "{}", cli_total(&app));
    assert!(close(metric(&app, price).await, charged));
    assert_eq!(metric(&app, estimate).await, 0.0, "the estimate steps down");
}

#[tokio::test]
async fn the_usage_api_names_a_bad_parameter() {
    let app = spawn_app_with(&CONFIG.replace("HOOK", "http://127.0.0.1:9/hook")).await;
    for (query, names) in [
        ("by=month", "by: \"month\""),
        ("since=yesterday", "since: \"yesterday\""),
        ("limit=3", "limit"),
    ] {
        let (status, body) = app.get(&format!("/api/v1/usage?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["status"], 400);
        assert!(
            body["error"].as_str().unwrap().contains(names),
            "{query}: {body}"
        );
    }
    let response = app
        .client
        .get(app.url("/api/v1/usage"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Nothing used yet: a zero total in the configured currency.
    let (status, usage) = app.get("/api/v1/usage").await;
    assert_eq!(status, 200);
    assert_eq!(usage["by"], "day");
    assert_eq!(usage["rows"], json!([]));
    assert_eq!(usage["total"]["calls"], 0);
    assert_eq!(
        usage["total"]["cost"],
        json!([{ "currency": "USD", "reported": 0.0, "estimated": 0.0, "total": 0.0 }])
    );
}

#[test]
fn check_config_names_the_file_line_and_key_of_bad_rates_and_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.yaml");
    let bad = CONFIG
        .replace("TOKEN", TOKEN)
        .replace("HOOK", "ftp://example.com/hook")
        .replace(
            "{ prefix: \"+81\", per_minute: 0.10 }",
            "{ prefix: \"81\", per_minute: 0.10 }",
        )
        .replace(
            "metric: calls, period: day, threshold: 4",
            "metric: dollars, period: day, threshold: 4",
        );
    std::fs::write(&path, bad).unwrap();
    let out = Command::new(KADEN)
        .args(["check-config", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stderr).unwrap() + &String::from_utf8(out.stdout).unwrap();
    let file = path.display();
    for line in [
        format!(
            "{file}:10: error: telephony.rates.calls[0].prefix: \"81\" is not a phone number prefix"
        ),
        format!(
            "{file}:13: error: telephony.triggers[0].notify.webhook: \"ftp://example.com/hook\" is not an http:// or https:// URL"
        ),
        format!("{file}:14: error: telephony.triggers[1].metric: unknown metric \"dollars\""),
    ] {
        assert!(text.contains(&line), "{line}\nin\n{text}");
    }
}
