//! Acknowledgements written back through the outbox, against a fake of Mackerel's API
//! (Mackerel cannot be reached from here): memo written, retried on 5xx, refusals shown.

use crate::helpers::{TestApp, alert, spawn_app_with};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(mackerel: &str) -> String {
    format!(
        "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
telephony:
  provider: simulator
  simulator:
    phones:
      \"+819000000001\": {{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }}
users:
  - {{ id: a, name: 山田, phone: \"+819000000001\" }}
call_settings:
  - {{ id: infra, targets: [user:a], ring_timeout: 5s }}
routes:
  - {{ call: infra }}
sources:
  mackerel: {{ api_key: mackerel-secret-key, api_base: \"{mackerel}\" }}
"
    )
}

fn mackerel_alert(id: &str) -> Value {
    let mut a = alert("app01", "problem", "high");
    a["source"] = "mackerel".into();
    a["ref"] = json!({ "alert_id": id });
    a
}

async fn writeback_state(app: &TestApp, incident: &Value, state: &str) -> Value {
    app.wait_for_incident(incident, &format!("the write-back to be {state}"), |i| {
        i["writebacks"][0]["state"] == state
    })
    .await["writebacks"][0]
        .clone()
}

#[tokio::test]
async fn nine_hash_writes_a_memo_on_the_mackerel_alert() {
    let mackerel = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/v0/alerts/2bj4x"))
        .and(header("X-Api-Key", "mackerel-secret-key"))
        .and(body_partial_json(json!({ "memo": "電話で山田 (+819000000001) が対応開始 / acknowledged by phone via kaden" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "2bj4x", "memo": "..." })))
        .expect(1)
        .mount(&mackerel)
        .await;
    let app = spawn_app_with(&config(&mackerel.uri())).await;
    let answer = app.post_alert(&mackerel_alert("2bj4x")).await;
    let row = writeback_state(&app, &answer["incident_id"], "done").await;
    assert_eq!(row["action"], "acknowledge");
    assert_eq!(row["attempts"], 1);
}

#[tokio::test]
async fn a_failing_source_is_retried_until_it_accepts() {
    let mackerel = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&mackerel)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&mackerel)
        .await;
    let app = spawn_app_with(&config(&mackerel.uri())).await;
    let answer = app.post_alert(&mackerel_alert("retry-me")).await;
    let row = writeback_state(&app, &answer["incident_id"], "done").await;
    assert_eq!(row["attempts"], 2, "one 503, then accepted: {row}");
}

#[tokio::test]
async fn a_refusal_is_shown_and_not_retried() {
    let mackerel = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({ "error": { "message": "Alert not found" } })),
        )
        .expect(1)
        .mount(&mackerel)
        .await;
    let app = spawn_app_with(&config(&mackerel.uri())).await;
    let answer = app.post_alert(&mackerel_alert("gone")).await;
    let row = writeback_state(&app, &answer["incident_id"], "failed").await;
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("Alert not found"),
        "{row}"
    );
    let text = app.incident(&answer["incident_id"]).await.to_string();
    assert!(
        !text.contains("mackerel-secret-key"),
        "the API key never shows"
    );
}

fn mackerel_webhook(status: &str) -> Value {
    json!({
        "orgName": "kaden-test", "event": "alert", "imageUrl": null, "type": "host",
        "message": "loadavg5 4.2 > 3", "host": { "id": "22D4", "name": "app01", "roles": [] },
        "alert": { "id": "3xyz", "status": status, "monitorName": "loadavg5", "isOpen": status != "ok",
                   "openedAt": 1_763_800_000, "statusChangedAt": 1_763_800_060, "trigger": "monitor",
                   "somethingNew": { "nested": true } }
    })
}

#[tokio::test]
async fn mackerel_webhook_with_the_token_in_the_query_is_phoned_and_memoed() {
    let mackerel = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/v0/alerts/3xyz"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&mackerel)
        .await;
    let app = spawn_app_with(&config(&mackerel.uri())).await;
    let post = |body: Value, token: &'static str| {
        app.client
            .post(app.url(&format!("/webhooks/mackerel?token={token}")))
            .json(&body)
            .send()
    };
    assert_eq!(
        post(mackerel_webhook("critical"), "wrong")
            .await
            .unwrap()
            .status(),
        401
    );
    let answer: Value = post(mackerel_webhook("critical"), crate::helpers::TOKEN)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    writeback_state(&app, &answer["incident_id"], "done").await;
    let ok: Value = post(mackerel_webhook("ok"), crate::helpers::TOKEN)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["outcome"], "resolved");
    let other = post(
        json!({ "event": "hostRetire", "host": {} }),
        crate::helpers::TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 202);
    assert_eq!(
        other.json::<Value>().await.unwrap()["ignored"],
        "hostRetire"
    );
}

#[tokio::test]
async fn icinga2_is_acknowledged_through_its_rest_api_naming_the_object() {
    let icinga = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/actions/acknowledge-problem"))
        .and(header("Accept", "application/json"))
        .and(header("Authorization", "Basic a2FkZW46aWNpbmdhLXNlY3JldA=="))
        .and(body_partial_json(json!({
            "type": "Service", "service": "web01!HTTP", "author": "a", "sticky": true, "notify": false
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{ "code": 200.0, "status": "Successfully acknowledged problem for object 'web01!HTTP'." }]
        })))
        .expect(1)
        .mount(&icinga)
        .await;
    let config = config("http://127.0.0.1:9").replace(
        "  mackerel: { api_key: mackerel-secret-key, api_base: \"http://127.0.0.1:9\" }",
        &format!(
            "  icinga2: {{ api_url: \"{}\", username: kaden, password: icinga-secret }}",
            icinga.uri()
        ),
    );
    let app = spawn_app_with(&config).await;
    let notification = json!({ "source": "icinga2", "type": "PROBLEM", "host": "web01", "service": "HTTP",
                                "state": "CRITICAL", "output": "HTTP CRITICAL" });
    let (status, answer) = app.post_json("/webhooks/nagios", &notification).await;
    assert_eq!(status, 202, "{answer}");
    writeback_state(&app, &answer["incident_id"], "done").await;
}
