//! Usage and cost: what `GET /api/v1/usage` and `kaden usage` report matches the call log
//! (durations rounded up to billed minutes, priced at the configured rates), SMS are
//! counted, and a usage trigger fires once per period to its SMS and webhook.

use crate::helpers::{TOKEN, TestApp, alert, receiver, spawn_app_with, wait_until};
use serde_json::{Value, json};
use std::process::Command;

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
    assert_eq!(cost["reported"], 0.0, "the simulator reports no price");
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
