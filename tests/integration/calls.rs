//! The whole call path through the simulator, which stands in for Twilio's REST API and
//! calls kaden's webhooks back with valid signatures: alert in, call out, words spoken,
//! keys pressed, acknowledged.

use crate::helpers::{TestApp, alert, spawn_app_with};
use serde_json::{Value, json};

const A: &str = "+819000000001";
const B: &str = "+819000000002";

const CONFIG: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
telephony:
  provider: simulator
users:
  - { id: a, name: 山田, phone: \"+819000000001\" }
  - { id: b, name: 鈴木, phone: \"+819000000002\" }
call_settings:
  - { id: infra, mode: round_robin, targets: [user:a, user:b], ring_timeout: 5s, retry_after: 1s, max_callbacks: 1, rounds: 2 }
routes:
  - { call: infra }
";

fn answer(keys: &[&str]) -> Value {
    json!({ "behaviour": "answer", "keys": keys, "after_secs": 0 })
}

async fn sim_calls(app: &TestApp) -> Vec<Value> {
    let (_, calls) = app.get("/sim/calls").await;
    calls.as_array().unwrap().clone()
}

fn quiet(incident: &Value) -> bool {
    incident["escalation"] == "quiet"
        && incident["calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["ended_at"].is_null())
}

#[tokio::test]
async fn problem_is_called_in_read_naturally_and_acknowledged_with_9() {
    let app = spawn_app_with(CONFIG).await;
    app.phone(A, answer(&["1#", "9#"])).await;
    let mut problem = alert("db_server-01/HTTP", "problem", "high");
    problem["summary"] = "HTTP CRITICAL - 503".into();
    let answer = app.post_alert(&problem).await;
    let incident = app
        .wait_for_incident(
            &answer["incident_id"],
            "the call to end acknowledged",
            quiet,
        )
        .await;

    let calls = incident["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["user"], "a");
    assert_eq!(calls[0]["keys"], json!(["1#", "9#"]));
    assert_eq!(calls[0]["acknowledged"], json!(["db_server-01/HTTP"]));
    assert_eq!(calls[0]["outcome"], "acknowledged");
    assert!(calls[0]["call_sid"].as_str().unwrap().starts_with("CA"));

    let said = sim_calls(&app).await[0]["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert!(said[0].starts_with("山田さん、監視システムからの障害通知です。 障害が1件発生しています。ホスト0件、サービス1件です。"), "{said:#?}");
    assert!(
        said[1].contains("ホスト データベース サーバー ゼロイチ のサービス エイチティーティーピー が 障害 です。エイチティーティーピー クリティカル - 503"),
        "details after pronunciation rules: {said:#?}"
    );
    assert!(
        said[2].starts_with("1件を認知済みにしました。"),
        "{said:#?}"
    );
}

#[tokio::test]
async fn configured_keys_are_said_honoured_and_pressed_by_unscripted_phones() {
    let config = format!("{CONFIG}keys: {{ acknowledge_all: 7 }}\n");
    let app = spawn_app_with(&config).await;
    // No script for A: it answers and presses the configured acknowledge-all key.
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let incident = app
        .wait_for_incident(&answer["incident_id"], "7# to acknowledge", quiet)
        .await;
    let calls = incident["calls"].as_array().unwrap();
    assert_eq!(calls[0]["keys"], json!(["7#"]), "{calls:#?}");
    assert_eq!(calls[0]["outcome"], "acknowledged");
    let said = sim_calls(&app).await[0]["transcript"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        said.contains("すべて認知済みにして終了するには7を押し"),
        "{said}"
    );
}

#[tokio::test]
async fn voicemail_is_hung_up_and_the_next_person_called() {
    let app = spawn_app_with(CONFIG).await;
    app.phone(A, json!({ "behaviour": "voicemail", "after_secs": 1 }))
        .await;
    app.phone(B, answer(&["9#"])).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let incident = app
        .wait_for_incident(&answer["incident_id"], "b to acknowledge", quiet)
        .await;
    let outcomes: Vec<(&str, &str)> = incident["calls"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|c| (c["user"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("a", "machine"), ("b", "acknowledged")]);
    let machine = &sim_calls(&app).await[0];
    assert_eq!(machine["answered_by"], "machine_start");
    assert_eq!(machine["keys"], json!([]), "voicemail never acknowledges");
}

#[tokio::test]
async fn rate_limited_twilio_is_retried() {
    let app = spawn_app_with(CONFIG).await;
    app.phone(A, answer(&["9#"])).await;
    let response = app
        .client
        .put(app.url("/sim/rate-limit"))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&json!({ "requests": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let incident = app
        .wait_for_incident(&answer["incident_id"], "the call after two 429s", quiet)
        .await;
    assert_eq!(incident["calls"][0]["outcome"], "acknowledged");
}

#[tokio::test]
async fn invalid_number_is_skipped_and_reported() {
    let app = spawn_app_with(CONFIG).await;
    app.phone(A, json!({ "behaviour": "invalid_number" })).await;
    app.phone(B, answer(&["9#"])).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let incident = app
        .wait_for_incident(&answer["incident_id"], "b to acknowledge", quiet)
        .await;
    let calls = incident["calls"].as_array().unwrap();
    assert_eq!(calls.last().unwrap()["outcome"], "invalid-number");
    assert_eq!(calls[0]["user"], "b");
    let notices = incident["notices"].to_string();
    assert!(notices.contains("21211"), "{notices}");
}

#[tokio::test]
async fn manual_ack_stops_a_ringing_call() {
    let app = spawn_app_with(CONFIG).await;
    app.phone(A, json!({ "behaviour": "no_answer" })).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let id = &answer["incident_id"];
    app.wait_for_incident(id, "a's phone to ring", |i| {
        !i["calls"][0]["call_sid"].is_null()
    })
    .await;
    let (status, body) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/ack"),
            &json!({ "by": "ops" }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let incident = app
        .wait_for_incident(id, "the call to be canceled", quiet)
        .await;
    assert_eq!(
        incident["calls"].as_array().unwrap().len(),
        1,
        "nobody else is called"
    );
    assert_eq!(sim_calls(&app).await[0]["status"], "canceled");
    let (status, _) = app.post_json("/api/v1/incidents/999/ack", &json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn webhook_with_a_bad_or_missing_signature_is_refused() {
    let app = spawn_app_with(CONFIG).await;
    app.phone(A, json!({ "behaviour": "no_answer" })).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let id = &answer["incident_id"];
    app.wait_for_incident(id, "the call to be placed", |i| {
        !i["calls"][0]["call_sid"].is_null()
    })
    .await;
    let call = app.incident(id).await["calls"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [("CallSid", "CA1"), ("CallStatus", "completed")];
    for signature in [Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), None] {
        let mut request = app
            .client
            .post(app.url(&format!("/twilio/status?call={call}")))
            .form(&form);
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Signature", signature);
        }
        assert_eq!(request.send().await.unwrap().status(), 403);
    }
    let incident = app.incident(id).await;
    assert!(
        incident["calls"][0]["ended_at"].is_null(),
        "a refused webhook changes nothing"
    );
    // Each refusal is in the error feed.
    for _ in 0..100 {
        let (_, errors) = app.get("/api/v1/telephony/errors").await;
        let refused = errors
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["seen"] == "signature")
            .count();
        if refused > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no signature refusal in the error feed");
}

#[tokio::test]
async fn calls_endpoint_lists_the_call_log() {
    let app = spawn_app_with(CONFIG).await;
    app.phone(A, answer(&["9#"])).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    app.wait_for_incident(&answer["incident_id"], "the call to end", quiet)
        .await;
    let (status, calls) = app
        .get(&format!("/api/v1/calls?incident={}", answer["incident_id"]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(calls[0]["phone"], A);
    assert_eq!(calls[0]["keys"], json!(["9#"]));
}

#[tokio::test]
async fn hourly_call_cap_defers_calls_and_texts_the_target() {
    let app = spawn_app_with(&CONFIG.replace(
        "provider: simulator",
        "provider: simulator\n  max_calls_per_hour: 1",
    ))
    .await;
    app.phone(A, json!({ "behaviour": "invalid_number" })).await;
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let incident = app
        .wait_for_incident(&answer["incident_id"], "b's call to be deferred", |i| {
            i["calls"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["outcome"] == "deferred")
        })
        .await;
    assert_eq!(incident["calls"][0]["user"], "b");
    for _ in 0..100 {
        let (_, messages) = app.get("/sim/messages").await;
        if let Some(sms) = messages.as_array().unwrap().first() {
            assert_eq!(sms["to"], B);
            assert!(
                sms["body"].as_str().unwrap().contains("発信上限1件"),
                "{sms}"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no SMS about the call cap");
}

/// The production path: `provider: twilio`, with a fake Twilio on its own port that checks
/// basic auth and calls back with signatures made from the configured token.
/// When calling has failed, `telephony.alarm_webhook` hears it beside the SMS: here
/// nobody answers, the one round ends, and the escalation is exhausted.
#[tokio::test]
async fn an_exhausted_escalation_tells_the_alarm_webhook() {
    let (hook, got) = crate::helpers::receiver().await;
    let config = CONFIG.replace("rounds: 2", "rounds: 1").replace(
        "  provider: simulator\n",
        &format!("  provider: simulator\n  alarm_webhook: {hook}\n"),
    );
    let app = spawn_app_with(&config).await;
    for number in [A, B] {
        app.phone(number, json!({ "behaviour": "no_answer" })).await;
    }
    let answer = app
        .post_alert(&alert("web-01/HTTP", "problem", "high"))
        .await;
    let id = answer["incident_id"].clone();
    let alarm = crate::helpers::wait_until("the alarm webhook", async || {
        got.lock().unwrap().first().cloned()
    })
    .await;
    assert_eq!(alarm["event"], "exhausted", "{alarm:#}");
    assert_eq!(alarm["incident_id"], id);
    assert!(
        alarm["message"].as_str().unwrap().contains(&id.to_string()),
        "the SMS's text: {alarm:#}"
    );
    let (_, messages) = app.get("/sim/messages").await;
    assert_eq!(
        messages.as_array().unwrap().len(),
        1,
        "and the SMS: {messages:#}"
    );
    assert_eq!(got.lock().unwrap().len(), 1);
}

mod real_provider {
    use super::*;
    use crate::helpers::{free_port, serve_router};
    use kaden::telephony::simulator::{ACCOUNT_SID, Simulator};
    use std::collections::HashMap;

    async fn fake_twilio(token: &str) -> String {
        let sim = Simulator::new(
            token.to_owned(),
            [(
                A.to_owned(),
                serde_json::from_value(answer(&["9#"])).unwrap(),
            )]
            .into(),
        );
        serve_router(sim.clone().twilio_router().merge(sim.script_router())).await
    }

    fn config(twilio: &str, port: u16, token: &str) -> String {
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
    auth_token: {token}
    from: \"+815012345678\"
    api_base: {twilio}/twilio
users:
  - {{ id: a, name: 山田, phone: \"{A}\" }}
  - {{ id: b, name: 鈴木, phone: \"{B}\" }}
call_settings:
  - {{ id: infra, targets: [user:a, user:b], ring_timeout: 5s, rounds: 1 }}
routes:
  - {{ call: infra }}
"
        )
    }

    #[tokio::test]
    async fn calls_through_twilio_s_api_and_acknowledges() {
        let twilio = fake_twilio("twilio-token-123").await;
        let app = spawn_app_with(&config(&twilio, free_port(), "twilio-token-123")).await;
        let answer = app
            .post_alert(&alert("web-01/HTTP", "problem", "high"))
            .await;
        let incident = app
            .wait_for_incident(&answer["incident_id"], "a to acknowledge", quiet)
            .await;
        assert_eq!(incident["calls"][0]["outcome"], "acknowledged");
        let calls: Vec<Value> = reqwest::get(format!("{twilio}/calls"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(calls[0]["from"], "+815012345678");
    }

    /// A gateway in front of `upstream` that carries every request out, but answers the
    /// first call creation with 504, as a proxy that timed out after Twilio placed it.
    async fn gateway_losing_the_first_creation(upstream: String) -> String {
        use axum::extract::Request;
        use axum::response::IntoResponse;
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let client = reqwest::Client::new();
        let forward = move |request: Request| {
            let (lost, client, upstream) = (lost.clone(), client.clone(), upstream.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let mut forwarded = client
                    .request(parts.method.clone(), format!("{upstream}{}", parts.uri))
                    .body(body);
                for name in ["authorization", "content-type"] {
                    if let Some(value) = parts.headers.get(name) {
                        forwarded = forwarded.header(name, value);
                    }
                }
                let answer = forwarded.send().await.unwrap();
                let creation = parts.method == "POST" && parts.uri.path().ends_with("/Calls.json");
                if creation && !lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    return axum::http::StatusCode::GATEWAY_TIMEOUT.into_response();
                }
                let status = answer.status();
                let mut headers = axum::http::HeaderMap::new();
                for name in ["content-type", "date"] {
                    if let Some(value) = answer.headers().get(name) {
                        headers.insert(name, value.clone());
                    }
                }
                (status, headers, answer.bytes().await.unwrap()).into_response()
            }
        };
        serve_router(axum::Router::new().fallback(forward)).await
    }

    #[tokio::test]
    async fn a_call_whose_creation_answer_was_lost_is_found_not_placed_twice() {
        let twilio = fake_twilio("twilio-token-123").await;
        let gateway = gateway_losing_the_first_creation(twilio.clone()).await;
        let app = spawn_app_with(&config(&gateway, free_port(), "twilio-token-123")).await;
        let answer = app
            .post_alert(&alert("web-01/HTTP", "problem", "high"))
            .await;
        let incident = app
            .wait_for_incident(&answer["incident_id"], "a to acknowledge", quiet)
            .await;
        let calls: Vec<Value> = reqwest::get(format!("{twilio}/calls"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(calls.len(), 1, "one call for the step: {calls:#?}");
        assert_eq!(incident["calls"].as_array().unwrap().len(), 1);
        assert_eq!(incident["calls"][0]["outcome"], "acknowledged");
        // The call ended before the lookup found it; its status callback named it.
        let call = app
            .wait_for_incident(&answer["incident_id"], "the call's sid", |i| {
                !i["calls"][0]["call_sid"].is_null()
            })
            .await;
        assert_eq!(call["calls"][0]["call_sid"], calls[0]["sid"]);
    }

    #[tokio::test]
    async fn wrong_credentials_are_reported_not_retried_forever() {
        let twilio = fake_twilio("the-real-token").await;
        let app = spawn_app_with(&config(&twilio, free_port(), "a-wrong-token")).await;
        let answer = app
            .post_alert(&alert("web-01/HTTP", "problem", "high"))
            .await;
        let incident = app
            .wait_for_incident(&answer["incident_id"], "both calls to fail", |i| {
                i["escalation"] == "exhausted"
            })
            .await;
        let notices = incident["notices"].to_string();
        assert!(notices.contains("code 20003"), "{notices}");
        assert!(!notices.contains("a-wrong-token"), "the token never shows");

        // The error feed: the API, the metric and `kaden errors` explain the code. Two
        // calls and the exhaustion SMS failed (the SMS is stored a moment later).
        let mut errors = Value::Null;
        for _ in 0..100 {
            errors = app.get("/api/v1/telephony/errors").await.1;
            if errors.as_array().is_some_and(|e| e.len() == 3) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let errors = errors.as_array().unwrap();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(
            errors
                .iter()
                .all(|e| e["code"] == 20003 && e["seen"] == "rest")
        );
        assert!(
            errors
                .iter()
                .all(|e| e["meaning"] == "authentication failed")
        );
        let calls = errors.iter().filter(|e| e["call_id"].is_string()).count();
        assert_eq!(calls, 2, "{errors:#?}");
        assert!(
            errors
                .iter()
                .any(|e| e["message"].as_str().unwrap().starts_with("SMS to a"))
        );
        let metrics = reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("kaden_telephony_errors_total{code=\"20003\"} 3"),
            "{metrics}"
        );
        let port = app.base.rsplit(':').next().unwrap().to_owned();
        let mut cli_config = config(&twilio, port.parse().unwrap(), "a-wrong-token");
        cli_config = cli_config.replace("TOKEN", crate::helpers::TOKEN);
        let (code, out) = cli(&cli_config, &["errors"]).await;
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains("20003") && out.contains("check telephony.twilio.account_sid"),
            "{out}"
        );
        assert!(!out.contains("a-wrong-token"), "{out}");
    }

    /// Runs the built `kaden` with `args` and `-c` a copy of `config`; (exit code, stdout).
    async fn cli(config: &str, args: &[&str]) -> (Option<i32>, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kaden.yaml");
        std::fs::write(&path, config.replace("TOKEN", crate::helpers::TOKEN)).unwrap();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_kaden"))
                .args(&args)
                .arg("-c")
                .arg(&path)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    }

    #[tokio::test]
    async fn doctor_checks_the_account_the_number_and_public_url() {
        let twilio = fake_twilio("twilio-token-123").await;
        let good = config(&twilio, free_port(), "twilio-token-123");
        let _app = spawn_app_with(&good).await;
        let (code, out) = cli(&good, &["doctor"]).await;
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains(&format!(
                "ok    telephony: account {ACCOUNT_SID} is active and +815012345678 is its number"
            )),
            "{out}"
        );
        assert!(out.contains("ok    public_url: "), "{out}");
        assert!(out.contains("ok    daemon: "), "{out}");

        let wrong = config(&twilio, free_port(), "a-wrong-token");
        let (code, out) = cli(&wrong, &["doctor"]).await;
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("FAIL  telephony: ") && out.contains("20003"),
            "{out}"
        );
        assert!(
            out.contains("FAIL  daemon: "),
            "nothing listens there: {out}"
        );
        assert!(
            !out.contains("a-wrong-token"),
            "the token never shows: {out}"
        );
    }

    #[tokio::test]
    async fn a_test_call_is_confirmed_with_1_and_is_no_incident() {
        let twilio = fake_twilio("twilio-token-123").await;
        let config = config(&twilio, free_port(), "twilio-token-123");
        let app = spawn_app_with(&config).await;
        let response = reqwest::Client::new()
            .put(format!("{twilio}/phones/{A}"))
            .json(&answer(&["1#"]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        let (code, out) = cli(&config, &["test-call", "a"]).await;
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("Confirmed by a"), "{out}");
        let said: Vec<Value> = reqwest::get(format!("{twilio}/calls"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            said[0]["transcript"][0]
                .as_str()
                .unwrap()
                .contains("テスト通話"),
            "{said:#?}"
        );
        let (_, incidents) = app.get("/api/v1/incidents").await;
        assert_eq!(incidents, json!([]), "a test call is never an incident");

        let (code, _) = cli(&config, &["test-call", "nobody"]).await;
        assert_ne!(code, Some(0));
    }

    #[tokio::test]
    async fn any_twilio_client_can_list_and_fetch_the_simulator_s_calls() {
        let twilio = fake_twilio("twilio-token-123").await;
        let app = spawn_app_with(&config(&twilio, free_port(), "twilio-token-123")).await;
        let answer = app
            .post_alert(&alert("web-01/HTTP", "problem", "high"))
            .await;
        app.wait_for_incident(&answer["incident_id"], "a to acknowledge", quiet)
            .await;
        let api = format!("{twilio}/twilio/2010-04-01/Accounts/{ACCOUNT_SID}");
        let get = |path: String| {
            reqwest::Client::new()
                .get(path)
                .basic_auth(ACCOUNT_SID, Some("twilio-token-123"))
                .send()
        };
        let list: Value = get(format!("{api}/Calls.json?To=%2B819000000001"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let call = &list["calls"][0];
        assert_eq!(call["status"], "completed", "{list:#}");
        assert!(
            call["duration"].as_str().unwrap().parse::<u64>().is_ok(),
            "{call}"
        );
        for field in ["date_created", "start_time", "end_time"] {
            assert!(
                call[field].as_str().unwrap().ends_with("+0000"),
                "{field}: {call}"
            );
        }
        assert_eq!(list["next_page_uri"], Value::Null);
        let uri = call["uri"].as_str().unwrap();
        let fetched: Value = get(format!("{twilio}/twilio{uri}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(fetched["sid"], call["sid"]);
        let messages = get(format!("{api}/Messages.json")).await.unwrap();
        assert_eq!(messages.status(), 200);
        let refused = reqwest::get(format!("{api}/Calls.json")).await.unwrap();
        assert_eq!(refused.status(), 401, "basic auth, as Twilio");
    }

    /// A daemon on the simulator with `telephony.simulator.auth_token` set, listening on
    /// `port`, and `kaden sim credentials --show-token`'s assignments for it.
    async fn simulator_with_credentials(port: u16) -> (TestApp, HashMap<String, String>) {
        let config = format!(
            "{}telephony:\n  simulator:\n    auth_token: sim-token-0123456789\n",
            crate::helpers::CONFIG.replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        );
        let app = spawn_app_with(&config).await;
        let (code, hidden) = cli(&config, &["sim", "credentials"]).await;
        assert_eq!(code, Some(0), "{hidden}");
        assert!(!hidden.contains("sim-token-0123456789"), "{hidden}");
        let (code, out) = cli(&config, &["sim", "credentials", "--show-token"]).await;
        assert_eq!(code, Some(0), "{out}");
        let credentials = out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (app, credentials)
    }

    #[tokio::test]
    async fn sim_credentials_name_the_simulator_s_api_account_and_configured_token() {
        let port = free_port();
        let (_app, credentials) = simulator_with_credentials(port).await;
        assert_eq!(
            credentials["TWILIO_API_BASE"],
            format!("http://127.0.0.1:{port}/sim/twilio")
        );
        assert_eq!(credentials["TWILIO_ACCOUNT_SID"], ACCOUNT_SID);
        assert_eq!(credentials["TWILIO_AUTH_TOKEN"], "sim-token-0123456789");
        let calls = reqwest::Client::new()
            .get(format!(
                "{}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
                credentials["TWILIO_API_BASE"]
            ))
            .basic_auth(ACCOUNT_SID, Some(&credentials["TWILIO_AUTH_TOKEN"]))
            .send()
            .await
            .unwrap();
        assert_eq!(calls.status(), 200, "the token is the one the daemon uses");

        let (code, out) = cli(crate::helpers::CONFIG, &["sim", "credentials"]).await;
        assert_eq!(code, Some(1));
        assert!(
            out.is_empty(),
            "no token configured, nothing to print: {out}"
        );
    }

    #[tokio::test]
    #[ignore = "needs Twilio's Python library (pip install twilio); run by .ci/run"]
    async fn twilio_s_official_python_library_works_against_the_daemon_s_simulator() {
        let (_app, credentials) = simulator_with_credentials(free_port()).await;
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/twilio/official_client.py"
        );
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3")
                .arg(script)
                .args(
                    ["TWILIO_API_BASE", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
                        .map(|k| &credentials[k]),
                )
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
