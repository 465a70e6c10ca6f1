//! kaden on PostgreSQL through the built binary: a SQLite store filled by a real daemon
//! and moved with `kaden migrate-store`, the read-only commands answering alike from both
//! stores, and a wrong URL refused with its cause but never its password. The tests that
//! need Debian's `postgresql` are `#[ignore]`d; `.ci/run` runs them with `--ignored`.

use crate::helpers::{TOKEN, alert, wait_until};
use crate::pg_cluster::PgCluster;
use kaden::clock::SystemClock;
use kaden::config::{self, SystemSecrets};
use kaden::store::{CallFilter, IncidentFilter, Store, UsageKey};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KADEN: &str = env!("CARGO_BIN_EXE_kaden");

/// `storage` is the YAML of the storage section's one key.
fn config(storage: &str, mackerel: &str) -> String {
    format!(
        "\
server:
  listen: 127.0.0.1:0
  api_tokens: [{TOKEN}]
storage:
  {storage}
telephony:
  provider: simulator
  simulator:
    phones:
      \"+819000000001\": {{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }}
users:
  - {{ id: a, name: 山田, phone: \"+819000000001\" }}
  - {{ id: b, name: 鈴木, phone: \"+819000000002\" }}
schedules:
  - id: infra
    timezone: Asia/Tokyo
    rotation: {{ every: 1w, handoff: \"2026-11-02T10:00\", members: [a, b] }}
call_settings:
  - {{ id: infra, targets: [schedule:infra], ring_timeout: 5s }}
routes:
  - {{ call: infra }}
sources:
  mackerel: {{ api_key: mackerel-secret-key, api_base: \"{mackerel}\" }}
"
    )
}

/// Runs the binary to its end (a guard of a minute against a hang, not a speed check).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(KADEN)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..1200 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("kaden {args:?} did not finish within a minute");
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `kaden serve` and `kaden check-config` on `url`: both fail, naming `target` and
/// `cause`, and neither prints `password`.
fn refused_by_serve_and_check_config(url: &str, password: &str, target: &str, cause: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.yaml");
    std::fs::write(
        &path,
        config("postgres: ${env:KADEN_PG_URL}", "http://127.0.0.1:9"),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    for args in [["serve", "-c", path], ["check-config", "-c", path]] {
        let out = run(&args, &[("KADEN_PG_URL", url)]);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains(target), "{args:?} names {target}: {said}");
        assert!(said.contains(cause), "{args:?} says {cause:?}: {said}");
        assert!(
            !said.contains(password),
            "{args:?} printed the password: {said}"
        );
    }
}

#[test]
fn a_postgres_url_nobody_answers_stops_serve_and_fails_check_config() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Nothing listens on the port once the listener above is dropped.
    refused_by_serve_and_check_config(
        &format!("postgres://kaden:Sekr3t-pw@127.0.0.1:{port}/kaden"),
        "Sekr3t-pw",
        &format!("kaden@127.0.0.1:{port}/kaden"),
        "Connection refused",
    );
}

#[test]
#[ignore = "needs PostgreSQL server binaries"]
fn postgres_refuses_a_wrong_password_or_database_and_kaden_says_so() {
    let cluster = PgCluster::start();
    let port = cluster
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let wrong = cluster.url.replace(&cluster.password, "not-the-password");
    refused_by_serve_and_check_config(
        &wrong,
        "not-the-password",
        &format!("kaden@127.0.0.1:{port}/postgres"),
        "password authentication failed",
    );
    let missing = cluster.url.replace("/postgres", "/no_such_db");
    refused_by_serve_and_check_config(
        &missing,
        &cluster.password,
        &format!("kaden@127.0.0.1:{port}/no_such_db"),
        "database \"no_such_db\" does not exist",
    );
}

/// A real daemon on SQLite: a Mackerel alert acknowledged by phone, written back and
/// recovered, a problem that recovers, an override.
async fn fill_sqlite(dir: &Path, mackerel: &str) {
    let path = dir.join("sqlite.yaml");
    std::fs::write(&path, config("sqlite: kaden.db", mackerel)).unwrap();
    let (loaded, _) = config::load(&path, &SystemSecrets).unwrap();
    let app = kaden::app::App::build(loaded, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let mut acked = alert("app01", "problem", "high");
    acked["source"] = "mackerel".into();
    acked["ref"] = json!({ "alert_id": "2bj4x" });
    let answer: Value = post("/api/v1/alerts", acked.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let incident = answer["incident_id"].clone();
    let get = async |path: String| -> Value {
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send();
        response.await.unwrap().json().await.unwrap()
    };
    wait_until("the acknowledgement to be written back", async || {
        let detail = get(format!("/api/v1/incidents/{incident}")).await;
        (detail["writebacks"][0]["state"] == "done").then_some(())
    })
    .await;
    // The first incident resolves; web1 opens and resolves the second.
    let mut recovered = acked;
    recovered["kind"] = "recovery".into();
    for body in [
        recovered,
        alert("web1", "problem", "average"),
        alert("web1", "recovery", "average"),
    ] {
        let status = post("/api/v1/alerts", body).await.unwrap().status();
        assert_eq!(status, 202);
    }
    let status = post(
        "/api/v1/schedules/infra/overrides",
        json!({ "user": "b", "replaces": "a", "start": "2026-11-02T10:00:00+09:00", "end": "2026-11-04T00:00:00Z" }),
    )
    .await
    .unwrap()
    .status();
    assert_eq!(status, 201);
    // Stopped once every call has ended: a call the stop cut off would record its
    // failure later, in the SQLite file only, and race the copy.
    wait_until("every call to end before the daemon stops", async || {
        let calls = get("/api/v1/calls".into()).await;
        let calls = calls.as_array().unwrap();
        calls.iter().all(|c| !c["ended_at"].is_null()).then_some(())
    })
    .await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

/// What a store answers the status page and the API, as JSON to compare.
async fn answers(store: &Store) -> Value {
    let incidents = store
        .incidents(IncidentFilter {
            limit: 100,
            ..IncidentFilter::default()
        })
        .await
        .unwrap();
    let mut details = Vec::new();
    for i in &incidents {
        let detail = store.incident(i.id).await.unwrap().unwrap();
        details.push(serde_json::to_value(detail).unwrap());
    }
    let calls = store
        .calls(CallFilter {
            incident: None,
            limit: 100,
        })
        .await
        .unwrap();
    // The same samples; their order is the engine's.
    let mut metrics: Vec<String> = store
        .metrics()
        .await
        .unwrap()
        .iter()
        .map(|s| format!("{s:?}"))
        .collect();
    metrics.sort();
    json!({
        "incidents": serde_json::to_value(&incidents).unwrap(),
        "details": details,
        "calls": serde_json::to_value(&calls).unwrap(),
        "usage": format!("{:?}", store.usage(None, None, UsageKey::User).await.unwrap()),
        "overrides": format!("{:?}", store.overrides().await.unwrap()),
        "metrics": metrics,
    })
}

/// `kaden ARGS --json -c CONFIG` as JSON.
fn cli_json(args: &[&str], config: &Path, env: &[(&str, &str)]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--json", "-c", config.to_str().unwrap()]);
    let out = run(&all, env);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
#[ignore = "needs PostgreSQL server binaries"]
async fn postgres_store_migrated_from_sqlite_answers_as_sqlite_did() {
    let mackerel = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&mackerel)
        .await;
    let dir = tempfile::tempdir().unwrap();
    fill_sqlite(dir.path(), &mackerel.uri()).await;
    let db = dir.path().join("kaden.db");
    let cluster = PgCluster::start();
    let env = [("KADEN_PG_URL", cluster.url.as_str())];
    let from = format!("sqlite:{}", db.display());
    let migrate = [
        "migrate-store",
        "--from",
        &from,
        "--to",
        "${env:KADEN_PG_URL}",
    ];

    let out = run(&migrate, &env);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains(&cluster.password), "{said}");
    let rows = |table: &str| -> u64 {
        let line = said
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("a row count of {table}: {said}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(rows("incidents"), 2, "{said}");
    assert_eq!(rows("alerts"), 4, "{said}");
    assert_eq!(rows("writebacks"), 1, "{said}");
    assert_eq!(rows("overrides"), 1, "{said}");
    assert!(rows("calls") >= 2, "{said}");

    let again = run(&migrate, &env);
    let said = text(&again);
    assert_eq!(again.status.code(), Some(1), "{said}");
    assert!(said.contains("already holds kaden data"), "{said}");
    assert!(said.contains("nothing was copied"), "{said}");
    assert!(!said.contains(&cluster.password), "{said}");

    let sqlite = Store::open(&db).unwrap();
    let pg = Store::open_postgres(&cluster.url).unwrap();
    let expected = answers(&sqlite).await;
    assert_eq!(answers(&pg).await, expected);

    // The CLI's read-only commands, beside the daemon-like store that holds the instance
    // lock: the same answers from either store.
    let sqlite_config = dir.path().join("sqlite.yaml");
    let pg_config = dir.path().join("pg.yaml");
    std::fs::write(
        &pg_config,
        config("postgres: ${env:KADEN_PG_URL}", &mackerel.uri()),
    )
    .unwrap();
    let at = ["oncall", "--at", "2026-11-03T00:00:00Z"];
    let oncall = cli_json(&at, &pg_config, &env);
    assert_eq!(oncall[0]["now"]["user"], "b", "the migrated override");
    assert_eq!(oncall, cli_json(&at, &sqlite_config, &[]));
    let usage = ["usage", "--since", "2026-01-01T00:00:00Z", "--by", "user"];
    let (from_pg, from_sqlite) = (
        cli_json(&usage, &pg_config, &env),
        cli_json(&usage, &sqlite_config, &[]),
    );
    assert_eq!(from_pg["rows"], from_sqlite["rows"]);
    assert!(
        from_pg["total"]["calls"].as_u64().unwrap() >= 2,
        "{from_pg}"
    );
    let replay = ["replay", "--recorded"];
    assert_eq!(
        cli_json(&replay, &pg_config, &env),
        cli_json(&replay, &sqlite_config, &[])
    );
    let checked = run(&["check-config", "-c", pg_config.to_str().unwrap()], &env);
    let said = text(&checked);
    assert!(checked.status.success(), "{said}");
    assert!(
        said.contains("reached PostgreSQL kaden@127.0.0.1:"),
        "{said}"
    );
    assert!(said.contains("schema version 13"), "{said}");
    assert!(!said.contains(&cluster.password), "{said}");

    // Identities go on after the copied ids.
    use kaden::domain::{Alert, AlertKind, Delivery, Severity, SourceRef};
    let now: jiff::Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
    let new = Alert {
        source_ref: SourceRef::Generic,
        key: "db9".into(),
        kind: AlertKind::Problem,
        severity: Severity::High,
        host: "db9".into(),
        service: None,
        state: "problem".into(),
        output: "down".into(),
        occurred_at: now,
        raw: "{}".into(),
    };
    let answer = pg
        .ingest(Delivery::new(new, None), None, now)
        .await
        .unwrap();
    assert_eq!(answer.alert_id.get(), 5);
    assert_eq!(answer.incident_id.unwrap().get(), 3);
}
