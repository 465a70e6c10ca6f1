//! The HTTP API: ingest, grouping, routing and every kind of bad input.

use crate::helpers::{TOKEN, alert, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn accepted_alert_opens_an_incident_for_its_route() {
    let app = spawn_app().await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    assert!(answer["id"].as_i64().unwrap() > 0);
    assert_eq!(answer["outcome"], "opened");
    let incident = app.incident(&answer["incident_id"]).await;
    assert_eq!(incident["call_setting"], "infra");
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["problem_list"][0]["key"], "web-01/HTTP");
    assert_eq!(incident["problem_list"][0]["status"], "problem");
    assert_eq!(incident["alerts"][0]["id"], answer["id"]);
    assert_eq!(
        incident["alerts"][0]["occurred_at"],
        "2026-11-23T01:00:00.000000000Z"
    );
}

#[tokio::test]
async fn alerts_for_one_call_setting_group_into_one_incident() {
    let app = spawn_app().await;
    let first = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let second = app.post_alert(&alert("db-01", "problem", "average")).await;
    let other = app
        .post_alert(&alert("core-sw", "problem", "disaster"))
        .await;
    assert_eq!(second["incident_id"], first["incident_id"]);
    assert_eq!(second["outcome"], "joined");
    assert_ne!(other["incident_id"], first["incident_id"]);
    let incident = app.incident(&first["incident_id"]).await;
    assert_eq!(incident["open_problems"], 2);
    let hosts: Vec<_> = incident["problem_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["host"].clone())
        .collect();
    assert_eq!(
        hosts,
        ["db-01", "web-01"],
        "host problems are listed before service problems"
    );
}

#[tokio::test]
async fn recovery_with_the_same_key_resolves_the_problem() {
    let app = spawn_app().await;
    let a = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let b = app.post_alert(&alert("db-01", "problem", "high")).await;
    // A recovery usually carries a lower severity; it still finds its problem by key.
    let r = app
        .post_alert(&alert("web-01/HTTP", "recovery", "info"))
        .await;
    assert_eq!(r["incident_id"], a["incident_id"]);
    assert_eq!(r["outcome"], "recovered");
    let r = app.post_alert(&alert("db-01", "recovery", "info")).await;
    assert_eq!(r["outcome"], "resolved");
    let incident = app.incident(&b["incident_id"]).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["open_problems"], 0);
    assert!(incident["resolved_at"].is_string());
    assert_eq!(
        incident["problem_list"][0]["output"], "db-01 is problem",
        "what broke stays readable"
    );

    let again = app.post_alert(&alert("db-01", "problem", "high")).await;
    assert_eq!(
        again["outcome"], "opened",
        "a resolved incident is never reopened"
    );
    assert_ne!(again["incident_id"], a["incident_id"]);
}

#[tokio::test]
async fn unrouted_alert_is_kept_and_shown() {
    let app = spawn_app().await;
    let answer = app
        .post_alert(&alert("batch-01", "problem", "warning"))
        .await;
    let incident = app.incident(&answer["incident_id"]).await;
    assert_eq!(incident["unrouted"], true);
    assert_eq!(incident["call_setting"], Value::Null);
    let (_, list) = app.get("/api/v1/incidents?status=open").await;
    assert_eq!(list[0]["id"], answer["incident_id"]);
}

#[tokio::test]
async fn recovery_for_an_unknown_key_is_stored_unmatched() {
    let app = spawn_app().await;
    let answer = app
        .post_alert(&alert("never-seen", "recovery", "info"))
        .await;
    assert_eq!(answer["outcome"], "unmatched");
    assert_eq!(answer["incident_id"], Value::Null);
    let (_, list) = app.get("/api/v1/incidents").await;
    assert_eq!(list, serde_json::json!([]));
}

/// (body, content type, token, expected status, fragment of the error message)
const BAD_REQUESTS: &[(&str, &str, &str, u16, &str)] = &[
    (
        "{\"key\": ",
        "application/json",
        TOKEN,
        400,
        "malformed JSON",
    ),
    (
        "{\"kind\":\"problem\"}",
        "application/json",
        TOKEN,
        422,
        "missing field `key`",
    ),
    (
        "{\"key\":\"k\",\"kind\":\"exploded\",\"severity\":\"high\",\"host\":\"h\",\"summary\":\"s\"}",
        "application/json",
        TOKEN,
        422,
        "unknown variant `exploded`",
    ),
    (
        "{\"key\":\"k\",\"kind\":\"problem\",\"severity\":\"high\",\"host\":\"h\",\"summary\":\"s\"}",
        "text/plain",
        TOKEN,
        415,
        "application/json",
    ),
    (
        "{\"key\":\"k\",\"kind\":\"problem\",\"severity\":\"high\",\"host\":\"h\",\"summary\":\"s\"}",
        "application/json",
        "wrong-token",
        401,
        "bearer token",
    ),
];

#[tokio::test]
async fn bad_input_gets_a_json_error_that_says_what_is_wrong() {
    let app = spawn_app().await;
    for (body, content_type, token, status, fragment) in BAD_REQUESTS {
        let response = app
            .client
            .post(app.url("/api/v1/alerts"))
            .bearer_auth(token)
            .header("content-type", *content_type)
            .body(*body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), *status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["status"], *status);
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(fragment), "{body}: {message}");
        assert!(
            !message.contains(TOKEN),
            "the token never appears in an error"
        );
    }
}

#[tokio::test]
async fn missing_token_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn two_megabyte_body_is_refused_with_413() {
    let app = spawn_app().await;
    let mut big = alert("web-01/HTTP", "problem", "high");
    big["summary"] = Value::String("x".repeat(2 * 1024 * 1024));
    let response = app.post_raw(big.to_string()).await;
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains("limit"));
}

#[tokio::test]
async fn valid_alerts_in_a_mixed_stream_all_arrive() {
    let app = spawn_app().await;
    let mut accepted = Vec::new();
    for i in 0..30 {
        if i % 3 == 1 {
            let response = app.post_raw(format!("{{\"key\": \"broken-{i}\"")).await;
            assert_eq!(response.status(), 400);
        } else if i % 3 == 2 {
            let mut bad = alert(&format!("host-{i}"), "problem", "high");
            bad["severity"] = "catastrophic".into();
            assert_eq!(app.post_raw(bad.to_string()).await.status(), 422);
        } else {
            let answer = app
                .post_alert(&alert(&format!("host-{i}"), "problem", "high"))
                .await;
            accepted.push(answer);
        }
    }
    let incident = app.incident(&accepted[0]["incident_id"]).await;
    let stored: Vec<_> = incident["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    let answered: Vec<_> = accepted.iter().map(|a| a["id"].clone()).collect();
    assert_eq!(stored, answered);
    assert_eq!(incident["open_problems"], 10);
}

#[tokio::test]
async fn incident_lookups_say_what_is_wrong() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/v1/incidents/999").await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (404, "no incident 999")
    );
    let (status, _) = app.get("/api/v1/incidents/abc").await;
    assert_eq!(status, 400);
    let (status, body) = app.get("/api/v1/incidents?status=closed").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn source_identity_is_kept_for_write_back() {
    let app = spawn_app().await;
    let mut zabbix = alert("db-01", "problem", "disaster");
    zabbix["source"] = "zabbix".into();
    zabbix["ref"] = serde_json::json!({ "event_id": 4711 });
    let answer = app.post_alert(&zabbix).await;
    let incident = app.incident(&answer["incident_id"]).await;
    assert_eq!(
        incident["alerts"][0]["source_ref"],
        serde_json::json!({"source": "zabbix", "event_id": 4711})
    );
    let generic = app.post_alert(&alert("db-01", "recovery", "info")).await;
    assert_eq!(
        generic["outcome"], "unmatched",
        "keys are matched within one source"
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = spawn_app().await;
    app.post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    app.post_alert(&alert("web-01/HTTP", "recovery", "info"))
        .await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# TYPE kaden_alerts_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("kaden_alerts_total{source=\"generic\",kind=\"problem\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("kaden_alerts_total{source=\"generic\",kind=\"recovery\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("kaden_incidents{status=\"recovered\"} 1\n"),
        "{text}"
    );
}
