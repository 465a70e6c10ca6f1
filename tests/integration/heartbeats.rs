//! Heartbeats: silence past `every + grace` opens an incident on the heartbeat's own call
//! setting (whatever the routes say) and calls; the next check-in resolves it.

use crate::helpers::{TOKEN, spawn_app_with};
use serde_json::Value;

const CONFIG: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
  ingest_tokens: [ingest-token-0123456789]
storage:
  sqlite: kaden.db
telephony:
  provider: simulator
users:
  - { id: a, name: 山田, phone: \"+819000000001\" }
call_settings:
  - { id: infra, targets: [user:a] }
  - { id: pager, targets: [user:a], ring_timeout: 5s }
routes:
  - { call: infra }
heartbeats:
  - { id: zabbix-server, every: 1s, grace: 1s, call: pager }
";

#[tokio::test]
async fn a_missed_heartbeat_calls_its_call_setting_and_the_next_one_resolves_it() {
    let app = spawn_app_with(CONFIG).await;
    let mut incident = Value::Null;
    for _ in 0..600 {
        let (_, list) = app.get("/api/v1/incidents").await;
        if let Some(found) = list.as_array().unwrap().first() {
            incident = found.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(incident["call_setting"], "pager", "{incident:#}");
    assert_eq!(incident["host"], "zabbix-server");
    let id = incident["id"].clone();
    let called = app
        .wait_for_incident(&id, "a call to be placed", |i| {
            !i["calls"].as_array().unwrap().is_empty()
        })
        .await;
    assert_eq!(called["calls"][0]["user"], "a");
    let (_, alerts) = app.get(&format!("/api/v1/incidents/{id}/alerts")).await;
    let first = &alerts["alerts"].as_array().unwrap()[0];
    assert_eq!(first["key"], "heartbeat/zabbix-server", "{alerts:#}");
    assert!(
        alerts
            .to_string()
            .contains("zabbix-server からの死活監視が途絶えました"),
        "{alerts:#}"
    );

    // The ingest token is enough to check in.
    let response = app
        .client
        .post(app.url("/api/v1/heartbeats/zabbix-server"))
        .bearer_auth("ingest-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["recovery"]["outcome"], "resolved", "{answer:#}");
    let resolved = app
        .wait_for_incident(&id, "the incident to resolve", |i| {
            i["status"] == "resolved"
        })
        .await;
    assert!(!resolved["resolved_at"].is_null());
}

#[tokio::test]
async fn heartbeats_need_a_token_and_a_configured_id() {
    let app = spawn_app_with(CONFIG).await;
    let url = app.url("/api/v1/heartbeats/zabbix-server");
    let response = app.client.post(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 401);

    let (status, body) = app.post_json("/api/v1/heartbeats/nope", &Value::Null).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no heartbeat \"nope\"")
    );

    let response = app
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["heartbeat"], "zabbix-server");
}

/// `kaden-notify heartbeat` and `kaden heartbeat` check in with the ingest token alone:
/// the API token is a secret the monitoring system's user cannot read.
#[tokio::test]
async fn the_heartbeat_command_checks_in_with_only_an_ingest_token() {
    let port = crate::helpers::free_port();
    let config = CONFIG.replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let app = spawn_app_with(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.yaml");
    let unreadable = format!("${{file:{}}}", dir.path().join("missing").display());
    std::fs::write(
        &path,
        config.replace("[TOKEN]", &format!("[\"{unreadable}\"]")),
    )
    .unwrap();
    let heartbeat = |binary: &'static str, id: &'static str| {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(binary)
                .args(["heartbeat", id, "-c"])
                .arg(&path)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            (out.status.code(), said)
        })
    };
    for binary in [
        env!("CARGO_BIN_EXE_kaden-notify"),
        env!("CARGO_BIN_EXE_kaden"),
    ] {
        let (code, said) = heartbeat(binary, "zabbix-server").await.unwrap();
        assert_eq!(code, Some(0), "{binary}: {said}");
        assert!(said.contains("Heartbeat zabbix-server: seen"), "{said}");

        let (code, said) = heartbeat(binary, "nope").await.unwrap();
        assert_eq!(code, Some(2), "an unknown heartbeat is refused: {said}");
        assert!(said.contains("no heartbeat \"nope\""), "{said}");
    }
    drop(app);
}
