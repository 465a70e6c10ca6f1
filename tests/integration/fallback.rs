//! `telephony.fallback`: with the primary Twilio account refused (401) or failing (503),
//! calls go out through the fallback account, once each, and its callbacks (signed with
//! its own token) drive the escalation; the switch is in the error feed, /metrics and
//! /healthz; a probe returns to the primary once it answers again.

use crate::helpers::{TestApp, alert, free_port, serve_router, spawn_app_with};
use kaden::telephony::simulator::{ACCOUNT_SID, Simulator};
use serde_json::{Value, json};
use std::time::Duration;

const A: &str = "+819000000001";
const B: &str = "+819000000002";
const C: &str = "+819000000003";
const D: &str = "+819000000004";
const FALLBACK_TOKEN: &str = "the-fallback-token";

/// A simulator standing in for one Twilio account, on its own port.
async fn fake_twilio(token: &str) -> (Simulator, String) {
    let acknowledge = json!({ "behaviour": "answer", "keys": ["9#"], "after_secs": 0 });
    let phones = [A, B, C, D]
        .map(|n| {
            (
                n.to_owned(),
                serde_json::from_value(acknowledge.clone()).unwrap(),
            )
        })
        .into();
    let sim = Simulator::new(token.to_owned(), phones);
    let url = serve_router(sim.clone().twilio_router()).await;
    (sim, url)
}

/// Round robin over a, b, c, d, once; the primary signs in with `primary_token`.
async fn app(primary: &str, primary_token: &str, fallback: &str) -> TestApp {
    spawn_app_with(&config(primary, primary_token, fallback)).await
}

fn config(primary: &str, primary_token: &str, fallback: &str) -> String {
    let port = free_port();
    format!(
        "\
server:
  listen: 127.0.0.1:{port}
  public_url: http://127.0.0.1:{port}
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
telephony:
  provider: twilio
  twilio:
    account_sid: {ACCOUNT_SID}
    auth_token: {primary_token}
    from: \"+815012345678\"
    api_base: {primary}/twilio
  fallback:
    probe_every: 1s
    twilio:
      account_sid: {ACCOUNT_SID}
      auth_token: {FALLBACK_TOKEN}
      from: \"+815087654321\"
      api_base: {fallback}/twilio
users:
  - {{ id: a, name: 山田, phone: \"{A}\" }}
  - {{ id: b, name: 鈴木, phone: \"{B}\" }}
  - {{ id: c, name: 佐藤, phone: \"{C}\" }}
  - {{ id: d, name: 田中, phone: \"{D}\" }}
call_settings:
  - {{ id: infra, mode: round_robin, targets: [user:a, user:b, user:c, user:d], ring_timeout: 5s, rounds: 1 }}
routes:
  - {{ call: infra }}
"
    )
}

fn quiet(incident: &Value) -> bool {
    incident["escalation"] == "quiet"
        && incident["calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["ended_at"].is_null())
}

/// The calls' (user, outcome), oldest first.
fn outcomes(incident: &Value) -> Vec<(String, String)> {
    let mut calls: Vec<(String, String)> = incident["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (text("user"), text("outcome"))
        })
        .collect();
    calls.reverse();
    calls
}

async fn text(app: &TestApp, path: &str) -> String {
    reqwest::get(app.url(path))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn fallback_entries(app: &TestApp) -> Vec<Value> {
    let (status, errors) = app.get("/api/v1/telephony/errors").await;
    assert_eq!(status, 200, "{errors}");
    errors
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["seen"] == "fallback")
        .cloned()
        .collect()
}

/// Polls `/healthz` until calls go through `account`. The limit only guards a hang.
async fn wait_for_account(app: &TestApp, account: &str) -> Value {
    for _ in 0..300 {
        let health: Value = serde_json::from_str(&text(app, "/healthz").await).unwrap();
        if health["telephony"]["account"] == account {
            return health;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("calls never went through the {account} account");
}

#[tokio::test]
async fn a_refused_primary_hands_the_call_to_the_fallback_once() {
    let (primary, primary_url) = fake_twilio("the-primary-token").await;
    let (fallback, fallback_url) = fake_twilio(FALLBACK_TOKEN).await;
    let app = app(&primary_url, "a-wrong-token", &fallback_url).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let incident = app
        .wait_for_incident(&answer["incident_id"], "a to acknowledge", quiet)
        .await;
    // The call the primary refused went out once, through the fallback; its callbacks
    // (signed with the fallback's token) acknowledged it.
    assert_eq!(outcomes(&incident), [("a".into(), "acknowledged".into())]);
    let placed = fallback.calls();
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(
        (placed[0].to.as_str(), placed[0].from.as_str()),
        (A, "+815087654321")
    );
    assert_eq!(placed[0].keys, ["9#"]);
    assert!(primary.calls().is_empty());

    let switches = fallback_entries(&app).await;
    assert_eq!(switches.len(), 1, "{switches:#?}");
    assert_eq!(switches[0]["code"], 20003);
    assert_eq!(switches[0]["meaning"], "authentication failed");
    let message = switches[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("fallback switch: calls and SMS now go through the fallback account")
            && message.contains("the primary account is refused"),
        "{message}"
    );
    assert!(!message.contains("a-wrong-token") && !message.contains(FALLBACK_TOKEN));
    let metrics = text(&app, "/metrics").await;
    assert!(
        metrics.contains("kaden_telephony_fallback_active{} 1")
            && metrics.contains("kaden_telephony_fallback_switches_total{to=\"fallback\"} 1")
            && metrics.contains("kaden_telephony_fallback_switches_total{to=\"primary\"} 0"),
        "{metrics}"
    );
    let health = wait_for_account(&app, "fallback").await;
    assert!(health["telephony"]["since"].is_string(), "{health}");

    // The next incident's call goes straight to the fallback: the primary, which still
    // refuses, is only probed.
    let answer = app
        .post_alert(&alert("db-01/MySQL", "problem", "high"))
        .await;
    app.wait_for_incident(&answer["incident_id"], "a to acknowledge again", quiet)
        .await;
    assert_eq!(fallback.calls().len(), 2);
    assert!(primary.calls().is_empty());
    assert_eq!(fallback_entries(&app).await.len(), 1);
}

/// When nobody can be reached, the exhaustion SMS goes through the account calls go
/// through: the fallback, not the refused primary.
#[tokio::test]
async fn the_exhaustion_sms_goes_through_the_fallback_too() {
    let (primary, primary_url) = fake_twilio("the-primary-token").await;
    let (fallback, fallback_url) = fake_twilio(FALLBACK_TOKEN).await;
    for number in [A, B, C, D] {
        fallback.set_phone(
            number,
            serde_json::from_value(json!({ "behaviour": "busy" })).unwrap(),
        );
    }
    // Busy callees are not called back: the one round ends after four calls.
    let config = config(&primary_url, "a-wrong-token", &fallback_url)
        .replace("rounds: 1", "rounds: 1, max_callbacks: 0");
    let app = spawn_app_with(&config).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    app.wait_for_incident(&answer["incident_id"], "the escalation to run out", |i| {
        i["escalation"] == "exhausted"
    })
    .await;
    let mut messages = Vec::new();
    for _ in 0..100 {
        messages = fallback.messages();
        if !messages.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        (messages[0].to.as_str(), messages[0].from.as_str()),
        (A, "+815087654321")
    );
    assert_eq!(fallback.calls().len(), 4);
    assert!(primary.messages().is_empty() && primary.calls().is_empty());
}

#[tokio::test]
async fn a_failing_primary_is_left_after_three_calls_and_returned_to_when_it_answers() {
    let (primary, primary_url) = fake_twilio("the-primary-token").await;
    let (fallback, fallback_url) = fake_twilio(FALLBACK_TOKEN).await;
    primary.refuse_next(u32::MAX, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    let app = app(&primary_url, "the-primary-token", &fallback_url).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let incident = app
        .wait_for_incident(&answer["incident_id"], "c to acknowledge", quiet)
        .await;
    // a and b failed through the primary (503 after retries); c's creation failed too,
    // which switched accounts, and Twilio's 503 proves no call was made, so c was called
    // through the fallback, once.
    assert_eq!(
        outcomes(&incident),
        [
            ("a".into(), "failed".into()),
            ("b".into(), "failed".into()),
            ("c".into(), "acknowledged".into())
        ]
    );
    let placed = fallback.calls();
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0].to, C);
    assert!(primary.calls().is_empty());
    let switches = fallback_entries(&app).await;
    assert_eq!(switches.len(), 1, "{switches:#?}");
    let message = switches[0]["message"].as_str().unwrap();
    assert!(
        message.contains("3 call creations in a row failed") && message.contains("503"),
        "{message}"
    );
    wait_for_account(&app, "fallback").await;

    // The primary recovers: the next probe (every 1 s here) brings calls back to it.
    primary.refuse_next(0, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    wait_for_account(&app, "primary").await;
    let entries = fallback_entries(&app).await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert!(
        entries[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("fallback switch: calls and SMS are back on the primary account"),
        "{entries:#?}"
    );
    let metrics = text(&app, "/metrics").await;
    assert!(
        metrics.contains("kaden_telephony_fallback_active{} 0")
            && metrics.contains("kaden_telephony_fallback_switches_total{to=\"fallback\"} 1")
            && metrics.contains("kaden_telephony_fallback_switches_total{to=\"primary\"} 1"),
        "{metrics}"
    );
    let answer = app
        .post_alert(&alert("db-01/MySQL", "problem", "high"))
        .await;
    app.wait_for_incident(&answer["incident_id"], "an acknowledgement", quiet)
        .await;
    let placed = primary.calls();
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0].keys, ["9#"]);
    assert_eq!(fallback.calls().len(), 1);
}

/// A Twilio that reads each request and drops the connection without answering: a call
/// may or may not have been created.
async fn dropping_twilio() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (url, requests)
}

#[tokio::test]
async fn a_call_that_may_exist_is_not_placed_again_through_the_fallback() {
    let (primary_url, requests) = dropping_twilio().await;
    let (fallback, fallback_url) = fake_twilio(FALLBACK_TOKEN).await;
    let app = app(&primary_url, "the-primary-token", &fallback_url).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let incident = app
        .wait_for_incident(&answer["incident_id"], "d to acknowledge", quiet)
        .await;
    // c's creation, the third to fail, switched accounts; its connection dropped, so
    // Twilio may have placed it: it fails as a call, and only the next one (d) goes
    // through the fallback.
    assert_eq!(
        outcomes(&incident),
        [
            ("a".into(), "failed".into()),
            ("b".into(), "failed".into()),
            ("c".into(), "failed".into()),
            ("d".into(), "acknowledged".into())
        ]
    );
    let placed = fallback.calls();
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0].to, D);
    assert!(requests.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    let switches = fallback_entries(&app).await;
    assert_eq!(switches.len(), 1, "{switches:#?}");
    assert!(
        switches[0]["message"]
            .as_str()
            .unwrap()
            .contains("3 call creations in a row failed"),
        "{switches:#?}"
    );
}

#[tokio::test]
async fn doctor_checks_the_fallback_account_too() {
    let (_primary, primary_url) = fake_twilio("the-primary-token").await;
    let (_fallback, fallback_url) = fake_twilio(FALLBACK_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.yaml");
    let text = config(&primary_url, "a-wrong-token", &fallback_url);
    std::fs::write(&path, text.replace("TOKEN", crate::helpers::TOKEN)).unwrap();
    let (config, _) = kaden::config::load(&path, &kaden::config::SystemSecrets).unwrap();
    let found = kaden::doctor::run(&config).await;
    let result = |what: &str| {
        found
            .iter()
            .find(|f| f.what == what)
            .unwrap_or_else(|| panic!("no {what} check"))
            .result
            .clone()
    };
    let primary = result("telephony").unwrap_err();
    assert!(primary.contains("20003"), "{primary}");
    assert_eq!(
        result("telephony.fallback"),
        Ok(format!(
            "account {ACCOUNT_SID} is active and +815087654321 is its number"
        ))
    );
}
