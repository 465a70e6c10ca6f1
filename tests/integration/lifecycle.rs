//! What the operator sees of an incident: open → acknowledged (who, how) → open again
//! when a new problem arrives → resolved; lists that say what is broken.

use crate::helpers::{alert, spawn_app_with};
use serde_json::json;

const CONFIG: &str = "\
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
  - { id: yamada, name: 山田, phone: \"+819000000001\" }
call_settings:
  - { id: infra, targets: [user:yamada], retry_after: 1s }
routes:
  - { call: infra }
";

#[tokio::test]
async fn nine_hash_acknowledges_the_incident_and_each_problem_says_who_and_how() {
    let app = spawn_app_with(CONFIG).await;
    let mut problem = alert("db01/HTTP", "problem", "high");
    problem["summary"] = "HTTP CRITICAL - 503".into();
    let opened = app.post_alert(&problem).await;
    let id = &opened["incident_id"];

    let (_, list) = app.get("/api/v1/incidents?status=open").await;
    assert_eq!(list[0]["title"], "db01 HTTP: HTTP CRITICAL - 503", "{list}");
    assert_eq!(list[0]["host"], "db01");
    assert_eq!(list[0]["service"], "HTTP");
    assert_eq!(list[0]["severity"], "high");

    let acked = app
        .wait_for_incident(id, "the 9#", |i| i["status"] == "acknowledged")
        .await;
    assert_eq!(
        acked["acknowledged_by"],
        json!({ "user": "yamada", "via": "phone", "key": "9#" })
    );
    assert!(acked["acknowledged_at"].is_string());
    let p = &acked["problem_list"][0];
    assert_eq!(p["status"], "acknowledged");
    assert_eq!(p["acknowledged"], true);
    assert_eq!(p["acknowledged_by"]["via"], "phone");
    let (_, list) = app.get("/api/v1/incidents?status=acknowledged").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (_, none) = app.get("/api/v1/incidents?status=open").await;
    assert_eq!(none, json!([]));

    // A new problem in the incident needs acknowledging again.
    app.post_alert(&alert("db01/DISK", "problem", "disaster"))
        .await;
    let reopened = app
        .wait_for_incident(id, "the new problem", |i| i["open_problems"] == 2)
        .await;
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["acknowledged_by"], json!(null));
    assert_eq!(reopened["severity"], "disaster", "the worst open problem");

    app.wait_for_incident(id, "the second 9#", |i| i["status"] == "acknowledged")
        .await;
    for key in ["db01/HTTP", "db01/DISK"] {
        app.post_alert(&alert(key, "recovery", "info")).await;
    }
    let resolved = app.incident(id).await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["problem_list"][0]["status"], "recovered");
    let (_, old_name) = app.get("/api/v1/incidents?status=recovered").await;
    assert_eq!(old_name[0]["id"], *id, "the older name still filters");
}

#[tokio::test]
async fn list_filters_and_pages_say_what_is_wrong() {
    let app = spawn_app_with(CONFIG).await;
    for n in 0..3 {
        let mut a = alert(&format!("web0{n}"), "problem", "high");
        a["summary"] = format!("down {n}").into();
        // Separate incidents: each resolves before the next opens.
        app.post_alert(&a).await;
        app.post_alert(&alert(&format!("web0{n}"), "recovery", "info"))
            .await;
    }
    let (_, page) = app.get("/api/v1/incidents?limit=2").await;
    let ids: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let (_, rest) = app
        .get(&format!("/api/v1/incidents?before={}", ids[1]))
        .await;
    assert_eq!(rest.as_array().unwrap().len(), 1, "{rest}");
    let (_, future) = app
        .get("/api/v1/incidents?since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(future, json!([]));

    for (query, param) in [
        ("status=melted", "status"),
        ("since=yesterday", "since"),
        ("before=x", "before"),
    ] {
        let (status, body) = app.get(&format!("/api/v1/incidents?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(param),
            "{query}: {body}"
        );
    }
}
