//! On-call queries, overrides through the API, and the iCalendar feeds.

use crate::helpers::{TOKEN, spawn_app_with};
use serde_json::json;

const CONFIG: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
users:
  - { id: a, name: 山田, phone: \"+819000000001\" }
  - { id: b, name: 鈴木, phone: \"+819000000002\" }
  - { id: c, name: 田中, phone: \"+819000000003\" }
schedules:
  - id: infra
    timezone: Asia/Tokyo
    rotation: { every: 1w, handoff: \"2026-11-02T10:00\", members: [a, b] }
";

#[tokio::test]
async fn oncall_answers_who_and_until_when() {
    let app = spawn_app_with(CONFIG).await;
    let (status, answer) = app
        .get("/api/v1/oncall?schedule=infra&at=2026-11-03T00:00:00Z&next=2")
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer[0]["now"]["user"], "a");
    assert_eq!(answer[0]["now"]["name"], "山田");
    assert_eq!(answer[0]["now"]["start"], "2026-11-02T01:00:00Z");
    assert_eq!(answer[0]["now"]["end"], "2026-11-09T01:00:00Z");
    assert_eq!(answer[0]["next"][0]["user"], "b");
    assert_eq!(answer[0]["next"][1]["start"], "2026-11-16T01:00:00Z");
    let (status, _) = app.get("/api/v1/oncall?schedule=nope").await;
    assert_eq!(status, 404);
    let (status, body) = app.get("/api/v1/oncall?at=yesterday").await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn an_override_wins_and_can_be_deleted() {
    let app = spawn_app_with(CONFIG).await;
    let (status, created) = app
        .post_json(
            "/api/v1/schedules/infra/overrides",
            &json!({ "user": "c", "replaces": "a", "start": "2026-11-02T10:00:00+09:00", "end": "2026-11-04T00:00:00Z" }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (_, answer) = app
        .get("/api/v1/oncall?schedule=infra&at=2026-11-03T00:00:00Z")
        .await;
    assert_eq!(answer[0]["now"]["user"], "c");
    let (_, list) = app.get("/api/v1/schedules/infra/overrides").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let id = created["id"].as_i64().unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/schedules/infra/overrides/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, answer) = app
        .get("/api/v1/oncall?schedule=infra&at=2026-11-03T00:00:00Z")
        .await;
    assert_eq!(answer[0]["now"]["user"], "a");

    let (status, body) = app
        .post_json("/api/v1/schedules/infra/overrides", &json!({ "user": "zz", "start": "2026-11-02T00:00:00Z", "end": "2026-11-03T00:00:00Z" }))
        .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (422, "unknown user \"zz\"")
    );
    let (status, _) = app
        .post_json(
            "/api/v1/schedules/infra/overrides",
            &json!({ "user": "c", "start": "2026-11-03T00:00:00Z", "end": "2026-11-02T00:00:00Z" }),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn calendar_feeds_parse_and_take_the_token_in_the_query() {
    let app = spawn_app_with(CONFIG).await;
    let unauthorized = app
        .client
        .get(app.url("/api/v1/schedules/infra.ics"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    for path in ["/api/v1/schedules/infra.ics", "/api/v1/users/b.ics"] {
        let response = app
            .client
            .get(app.url(&format!("{path}?token={TOKEN}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/calendar")
        );
        let text = response.text().await.unwrap();
        let mut parser = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
        let calendar = parser.next().unwrap().unwrap();
        assert!(!calendar.events.is_empty(), "{path}");
        let summaries: Vec<String> = calendar
            .events
            .iter()
            .map(|e| {
                e.properties
                    .iter()
                    .find(|p| p.name == "SUMMARY")
                    .unwrap()
                    .value
                    .clone()
                    .unwrap()
            })
            .collect();
        if path.contains("users") {
            assert!(
                summaries.iter().all(|s| s == "On call: 鈴木 (infra)"),
                "{summaries:?}"
            );
        }
    }
    let (status, _) = app.get("/api/v1/users/nobody.ics").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn shifts_cover_a_range() {
    let app = spawn_app_with(CONFIG).await;
    let (status, shifts) = app
        .get("/api/v1/schedules/infra/shifts?from=2026-11-02T00:00:00Z&to=2026-11-20T00:00:00Z")
        .await;
    assert_eq!(status, 200, "{shifts}");
    let users: Vec<&str> = shifts
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["b", "a", "b", "a"]);
}

#[tokio::test]
async fn shift_notices_text_the_next_person_once_and_overrides_tell_both() {
    // A handoff half an hour from now, in the schedule's zone.
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let handoff = kaden::clock::Clock::now(&kaden::clock::SystemClock)
        .checked_add(jiff::SignedDuration::from_mins(30))
        .unwrap()
        .to_zoned_datetime(tokyo)
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let config = CONFIG.replace(
        "rotation: { every: 1w, handoff: \"2026-11-02T10:00\", members: [a, b] }",
        &format!("rotation: {{ every: 1w, handoff: \"{handoff}\", members: [a, b] }}\n    notify_before: 1h"),
    ) + "telephony:\n  provider: simulator\n";
    let app = spawn_app_with(&config).await;
    let messages = || async {
        let (_, list) = app.get("/sim/messages").await;
        list.as_array().cloned().unwrap_or_default()
    };
    let mut sent = Vec::new();
    for _ in 0..100 {
        sent = messages().await;
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(
        sent[0]["to"], "+819000000001",
        "a's shift starts at the handoff"
    );
    assert!(
        sent[0]["body"].as_str().unwrap().contains("infra の当番が"),
        "{sent:#?}"
    );

    let (status, _) = app
        .post_json(
            "/api/v1/schedules/infra/overrides",
            &json!({ "user": "c", "replaces": "a", "start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z" }),
        )
        .await;
    assert_eq!(status, 201);
    let sent = messages().await;
    let to: Vec<&str> = sent.iter().map(|m| m["to"].as_str().unwrap()).collect();
    assert_eq!(
        to,
        ["+819000000001", "+819000000003", "+819000000001"],
        "{sent:#?}"
    );
    assert!(
        sent[2]["body"]
            .as_str()
            .unwrap()
            .contains("c さんが代わります"),
        "{sent:#?}"
    );
}
