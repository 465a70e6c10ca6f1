//! Ingest that survives retries and refuses what it cannot read: a delivery seen before is
//! answered with the alert stored the first time and changes nothing.

use crate::helpers::{TOKEN, TestApp, alert, spawn_app, spawn_app_with};
use serde_json::{Value, json};

async fn post(app: &TestApp, path: &str, key: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_same_idempotency_key_stores_one_alert() {
    let app = spawn_app().await;
    let body = alert("web-01/HTTP", "problem", "high").to_string();
    let (status, first) = post(&app, "/api/v1/alerts", Some("retry-1"), &body).await;
    assert_eq!(status, 202, "{first}");
    // Re-serialized on the way (spacing): still the same alert.
    let respaced = body.replace(',', ", ");
    let (status, again) = post(&app, "/api/v1/alerts", Some("retry-1"), &respaced).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["incident_id"], first["incident_id"]);
    assert_eq!(again["outcome"], "duplicate");
    let incident = app.incident(&first["incident_id"]).await;
    assert_eq!(incident["alerts"].as_array().unwrap().len(), 1);

    // Without a key a generic alert names no notification: each POST is a new alert.
    let (status, _) = post(&app, "/api/v1/alerts", None, &body).await;
    assert_eq!(status, 202);
    let incident = app.incident(&first["incident_id"]).await;
    assert_eq!(incident["alerts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_key_reused_for_another_alert_is_a_conflict() {
    let app = spawn_app().await;
    let first = alert("web-01/HTTP", "problem", "high").to_string();
    let (status, stored) = post(&app, "/api/v1/alerts", Some("k-7"), &first).await;
    assert_eq!(status, 202);
    let other = alert("db-01", "problem", "high").to_string();
    let (status, error) = post(&app, "/api/v1/alerts", Some("k-7"), &other).await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["status"], 409);
    let message = error["error"].as_str().unwrap();
    assert!(message.contains("Idempotency-Key"), "{message}");
    assert!(message.contains(&stored["id"].to_string()), "{message}");
    let incident = app.incident(&stored["incident_id"]).await;
    assert_eq!(incident["alerts"].as_array().unwrap().len(), 1);

    let (status, error) = post(&app, "/api/v1/alerts", Some("not a key"), &other).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("Idempotency-Key"));
}

const ZABBIX: &str = r#"{"event_id":"4711","event_value":"1","event_status":"PROBLEM",
  "event_severity":"4","event_name":"HTTP is down","event_update_status":"0",
  "event_ack_status":"No","host_name":"web01","item_value":"503"}"#;
const NAGIOS: &str = r#"{"type":"PROBLEM","host":"web01","service":"HTTP","state":"CRITICAL",
  "output":"HTTP CRITICAL - 503","problem_id":42,"time":1700000000}"#;
const MACKEREL: &str = r#"{"event":"alert","host":{"name":"app01"},"message":"CPU 99",
  "alert":{"id":"2bj4x","status":"critical","monitorName":"CPU","statusChangedAt":1700000000}}"#;

#[tokio::test]
async fn each_source_recognises_its_own_notification_sent_twice() {
    let app = spawn_app().await;
    for (path, body) in [
        ("/webhooks/zabbix", ZABBIX),
        ("/webhooks/nagios", NAGIOS),
        ("/webhooks/mackerel", MACKEREL),
    ] {
        let (status, first) = post(&app, path, None, body).await;
        assert_eq!(status, 202, "{path}: {first}");
        let (status, again) = post(&app, path, None, body).await;
        assert_eq!(
            (status, &again["id"]),
            (200, &first["id"]),
            "{path}: {again}"
        );
    }
    // The next notification of the same problem is news.
    let renotified = NAGIOS.replace("1700000000", "1700003600");
    let (status, _) = post(&app, "/webhooks/nagios", None, &renotified).await;
    assert_eq!(status, 202);
    let recovery = ZABBIX
        .replace(r#""event_value":"1""#, r#""event_value":"0""#)
        .replace("PROBLEM", "RESOLVED");
    let (status, recovered) = post(&app, "/webhooks/zabbix", None, &recovery).await;
    assert_eq!(status, 202);
    assert_eq!(recovered["outcome"], "recovered");
}

const ANSWERS_9: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
telephony:
  provider: simulator
  simulator:
    phones:
      \"+819000000001\": { behaviour: answer, keys: [\"9#\"], after_secs: 0 }
users:
  - { id: a, phone: \"+819000000001\" }
call_settings:
  - { id: infra, targets: [user:a], ring_timeout: 5s }
routes:
  - { call: infra }
";

#[tokio::test]
async fn a_retried_problem_changes_nothing_and_pages_nobody() {
    let app = spawn_app_with(ANSWERS_9).await;
    let (status, first) = post(&app, "/webhooks/zabbix", None, ZABBIX).await;
    assert_eq!(status, 202);
    app.wait_for_incident(&first["incident_id"], "9# on the first call", |i| {
        i["escalation"] == "quiet" && i["calls"][0]["outcome"] == "acknowledged"
    })
    .await;
    let (status, again) = post(&app, "/webhooks/zabbix", None, ZABBIX).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]));
    // Long enough for a call the simulator answers at once to show up, were one placed.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let incident = app.incident(&first["incident_id"]).await;
    assert_eq!(incident["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(incident["problem_list"][0]["last_alert_id"], first["id"]);
    assert_eq!(incident["escalation"], "quiet");
    assert_eq!(
        incident["calls"].as_array().unwrap().len(),
        1,
        "{incident:#}"
    );
}

#[tokio::test]
async fn trailing_data_and_unknown_states_are_refused() {
    let app = spawn_app().await;
    let one = alert("web-01/HTTP", "problem", "high").to_string();
    for (path, body, status, fragment) in [
        (
            "/api/v1/alerts",
            format!("{one}xyz"),
            400,
            "trailing characters",
        ),
        (
            "/api/v1/alerts",
            format!("{one}{one}"),
            400,
            "trailing characters",
        ),
        (
            "/webhooks/zabbix",
            format!("{ZABBIX} {{}}"),
            400,
            "trailing characters",
        ),
        (
            "/webhooks/mackerel",
            format!("{MACKEREL}x"),
            400,
            "trailing characters",
        ),
        (
            "/webhooks/nagios",
            NAGIOS.replace("CRITICAL\"", "MELTED\""),
            422,
            "state: unknown state \"MELTED\"",
        ),
    ] {
        let (answered, error) = post(&app, path, None, &body).await;
        assert_eq!(answered, status, "{path} {body}: {error}");
        assert_eq!(error["status"], status);
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(fragment), "{path}: {message}");
    }
    let (_, list) = app.get("/api/v1/incidents").await;
    assert_eq!(list, json!([]), "nothing was stored");
}
