//! What an attacker or a broken client meets: where tokens are taken, JSON for every
//! rejection, bounded connections, no token in debug logs, one daemon per database.

use crate::helpers::{CONFIG, TOKEN, spawn_app, spawn_app_with, write_config};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

const KADEN: &str = env!("CARGO_BIN_EXE_kaden");

async fn json_error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status} is not JSON: {text}"));
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    (status, body)
}

#[tokio::test]
async fn query_tokens_only_where_headers_cannot_be_sent_and_never_empty() {
    let app = spawn_app().await;
    let mackerel = |token: &str| {
        app.client
            .post(app.url(&format!("/webhooks/mackerel?token={token}")))
            .header("content-type", "application/json")
            .body(r#"{"event":"sample"}"#)
            .send()
    };
    assert_eq!(mackerel("").await.unwrap().status(), 401);
    assert_eq!(mackerel(TOKEN).await.unwrap().status(), 202);

    let in_query = app
        .client
        .get(app.url(&format!("/api/v1/incidents?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    let (status, body) = json_error(in_query).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{body}"
    );
    assert!(!body.to_string().contains(TOKEN));
    let (status, _) = app.get("/api/v1/incidents").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn every_rejection_is_json() {
    let app = spawn_app().await;
    let incident = app
        .post_alert(&crate::helpers::alert("h", "problem", "high"))
        .await;
    let big = vec![b'a'; kaden::http::BODY_LIMIT + 1];
    let cases = [
        (
            "POST",
            "/twilio/voice".to_owned(),
            big,
            "application/x-www-form-urlencoded",
        ),
        (
            "POST",
            format!("/api/v1/incidents/{}/ack", incident["incident_id"]),
            b"{not json".to_vec(),
            "application/json",
        ),
        (
            "POST",
            "/api/v1/schedules/x/overrides".to_owned(),
            b"[1]".to_vec(),
            "application/json",
        ),
        (
            "PUT",
            "/sim/phones/+819012345678".to_owned(),
            b"{}x".to_vec(),
            "application/json",
        ),
        ("GET", "/no/such/path".to_owned(), Vec::new(), "text/plain"),
        ("DELETE", "/healthz".to_owned(), Vec::new(), "text/plain"),
    ];
    for (method, path, body, content_type) in cases {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, body) = json_error(response).await;
        assert!(
            (400..500).contains(&status),
            "{method} {path}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn idle_connections_cannot_take_health_down() {
    let config = CONFIG.replace(
        "  api_tokens: [TOKEN]\n",
        "  api_tokens: [TOKEN]\n  max_connections: 8\n  header_read_timeout: 1s\n",
    );
    let app = spawn_app_with(&config).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Far more silent connections than the cap: none sends a byte.
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let health = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let answer = reqwest::Client::new()
                .get(app.url("/healthz"))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if let Ok(answer) = answer {
                return answer.status();
            }
        }
    })
    .await
    .expect("/healthz answers once idle connections are reaped");
    assert_eq!(health, 200);
    // The server closed the first silent connection itself.
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), idle[0].read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}

/// `kaden serve` with its stderr collected line by line.
fn serve(config: &Path, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(KADEN)
        .args(args)
        .arg("serve")
        .arg("-c")
        .arg(config)
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, logs) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    (child, logs)
}

/// Waits for the "listening" line and returns the daemon's address.
fn listening(logs: &mpsc::Receiver<String>) -> String {
    let addr = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    loop {
        // A guard against a daemon that never starts, not a speed assertion.
        let line = logs.recv_timeout(Duration::from_secs(60)).unwrap();
        if line.contains("kaden is listening.") {
            return format!("http://{}", addr.find(&line).unwrap().as_str());
        }
    }
}

#[tokio::test]
async fn debug_logs_never_show_a_token() {
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut daemon, logs) = serve(&write_config(dir.path()), &["--log-format", format]);
        let base = listening(&logs);
        let client = reqwest::Client::new();
        let answer = client
            .post(format!("{base}/webhooks/mackerel?token={TOKEN}&x=1"))
            .header("content-type", "application/json")
            .body(r#"{"event":"sample"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202);
        let feed = client
            .get(format!("{base}/api/v1/users/yamada.ics?token={TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(feed.status(), 200);
        daemon.kill().unwrap();
        daemon.wait().unwrap();
        let logs: Vec<String> = logs.iter().collect();
        assert!(
            logs.iter()
                .any(|l| l.contains("/webhooks/mackerel?token=***&x=1")),
            "{format}: the request span is logged, redacted: {logs:#?}"
        );
        assert!(
            logs.iter().all(|l| !l.contains(TOKEN)),
            "{format}: {logs:#?}"
        );
        assert!(
            logs.iter().all(|l| !l.contains('\x1b')),
            "{format}: no colour codes into a pipe: {logs:#?}"
        );
    }
}

#[tokio::test]
async fn a_second_daemon_on_one_database_refuses_to_start() {
    if crate::helpers::sqlite_only(
        "a lock on the SQLite file; on PostgreSQL a second instance waits to lead (tests/cluster.rs)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (mut first, first_logs) = serve(&config, &[]);
    listening(&first_logs);
    let second = Command::new(KADEN)
        .arg("serve")
        .arg("-c")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another kaden daemon"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.id())), "{stderr}");
    // kill -9 releases the lock: the next daemon starts.
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut next, next_logs) = serve(&config, &[]);
    let next_base = listening(&next_logs);
    assert!(
        reqwest::get(format!("{next_base}/healthz"))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    next.kill().unwrap();
    next.wait().unwrap();
}

#[test]
fn check_config_refuses_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.yaml");
    std::fs::write(&path, "").unwrap();
    let out = Command::new(KADEN)
        .args(["check-config", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("kaden.yaml: error: the config file is empty"),
        "{out:?}"
    );
}
