//! `spawn_app()`: a daemon on port 0 with its own temporary SQLite file, or with
//! `KADEN_TEST_POSTGRES=1` its own database on a throw-away PostgreSQL cluster shared by
//! the whole test binary (`.ci/run` runs the suite both ways).

use jiff::{SignedDuration, Timestamp};
use kaden::app::App;
use kaden::clock::{Clock, SharedClock, SystemClock};
use kaden::config::{self, SystemSecrets};
use kaden::store::Store;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

pub const TOKEN: &str = "test-token-0123456789";

/// Routes of the test config: disaster → everyone, high/average → infra, the rest unrouted.
pub const CONFIG: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
users:
  - { id: yamada, name: 山田, phone: \"+819012345678\" }
  - { id: suzuki, name: 鈴木, phone: \"+819023456789\" }
call_settings:
  - { id: infra, mode: round_robin, targets: [user:yamada, user:suzuki] }
  - { id: everyone, mode: broadcast, targets: [user:yamada, user:suzuki] }
routes:
  - { when: { severity: disaster }, call: everyone }
  - { when: { severity: [high, average] }, call: infra }
";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    dir: TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Writes `CONFIG` into a fresh directory and returns its path.
pub fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("kaden.yaml");
    std::fs::write(&path, test_config(CONFIG)).unwrap();
    path
}

/// `config` with the test token, and on PostgreSQL a fresh database in place of its
/// `sqlite: kaden.db`: the file names the store, so the daemon and the CLI beside it
/// share it. The spool stays where it was, beside the config (its default follows the
/// SQLite file).
pub fn test_config(config: &str) -> String {
    let config = config.replace("TOKEN", TOKEN);
    if !on_postgres() {
        return config;
    }
    let sqlite = "\n  sqlite: kaden.db\n";
    assert!(config.contains(sqlite), "a test config names {sqlite:?}");
    let postgres = format!("\n  postgres: \"{}\"\n  spool: spool\n", fresh_database());
    config.replace(sqlite, &postgres)
}

/// The store `config` names, as the daemon opens it.
pub fn open_store(config: &Path) -> Store {
    let (config, _) = config::load(config, &SystemSecrets).unwrap();
    match &config.storage.postgres {
        Some(url) => Store::open_postgres(url.expose_secret()).unwrap(),
        None => Store::open(&config.storage.sqlite).unwrap(),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(CONFIG).await
}

/// A daemon on `config` (TOKEN is replaced by the test token).
pub async fn spawn_app_with(config: &str) -> TestApp {
    spawn_app_on(config, Arc::new(SystemClock), |app| app).await
}

/// The system clock plus an offset a test moves forward.
#[derive(Default)]
pub struct ShiftedClock(Mutex<SignedDuration>);

impl ShiftedClock {
    pub fn advance(&self, by: SignedDuration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        SystemClock.now() + *self.0.lock().unwrap()
    }
}

/// True when the suite runs on PostgreSQL (`KADEN_TEST_POSTGRES=1`).
pub fn on_postgres() -> bool {
    std::env::var_os("KADEN_TEST_POSTGRES").is_some_and(|v| v == "1")
}

/// For a test of what only SQLite has: true (and says why) when it is skipped.
pub fn sqlite_only(why: &str) -> bool {
    let skip = on_postgres();
    if skip {
        eprintln!("skipped on PostgreSQL: {why}");
    }
    skip
}

/// The cluster of this test binary, started by the first app that needs it.
static CLUSTER: Mutex<Option<crate::pg_cluster::PgCluster>> = Mutex::new(None);

/// Stops the shared cluster when the test binary exits (statics are never dropped).
extern "C" fn stop_cluster() {
    if let Ok(mut cluster) = CLUSTER.lock() {
        cluster.take();
    }
}

/// The URL of a new, empty database on the shared cluster.
fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // The `postgres` client runs its own runtime: never inside a tokio worker.
    std::thread::spawn(|| {
        let mut cluster = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
        let cluster = cluster.get_or_insert_with(|| {
            // SAFETY: registers a plain function without arguments.
            unsafe { libc::atexit(stop_cluster) };
            crate::pg_cluster::PgCluster::start()
        });
        let name = format!("t_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut client = postgres::Client::connect(&cluster.url, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        format!("{}{name}", cluster.url.strip_suffix("postgres").unwrap())
    })
    .join()
    .unwrap()
}

/// A daemon on `config` and `clock`, adjusted by `tune` before it starts.
pub async fn spawn_app_on(
    config: &str,
    clock: SharedClock,
    tune: impl FnOnce(App) -> App,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.yaml");
    let config = tokio::task::spawn_blocking({
        let config = config.to_owned();
        move || test_config(&config)
    })
    .await
    .unwrap();
    std::fs::write(&path, config).unwrap();
    let (config, _) = config::load(&path, &SystemSecrets).unwrap();
    let app = tune(App::build(config, clock).await.unwrap());
    let base = format!("http://{}", app.local_addr());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let app = TestApp {
        base,
        client: reqwest::Client::new(),
        dir,
        _shutdown: shutdown,
    };
    // On PostgreSQL an instance drives escalations only once it holds the leader lock
    // (on SQLite it always leads).
    if on_postgres() {
        wait_until("the daemon to lead", async || {
            let response = app.client.get(app.url("/healthz")).send().await.ok()?;
            let health: Value = response.json().await.ok()?;
            (health["leader"] == true).then_some(())
        })
        .await;
    }
    app
}

pub fn alert(key: &str, kind: &str, severity: &str) -> Value {
    let (host, service) = key.split_once('/').unwrap_or((key, ""));
    json!({
        "source": "generic", "key": key, "kind": kind, "severity": severity,
        "host": host, "service": service, "summary": format!("{key} is {kind}"),
        "time": "2026-11-23T10:00:00+09:00"
    })
}

impl TestApp {
    /// The daemon's config file, for running the CLI beside it.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("kaden.yaml")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a raw body to the generic alert endpoint with the right token and type.
    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/alerts"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs an alert that must be accepted; returns the answer.
    pub async fn post_alert(&self, alert: &Value) -> Value {
        let response = self.post_raw(alert.to_string()).await;
        assert_eq!(response.status(), 202, "{:?}", response.text().await);
        response.json().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Scripts a simulated callee.
    pub async fn phone(&self, number: &str, script: Value) {
        let response = self
            .client
            .put(self.url(&format!("/sim/phones/{number}")))
            .bearer_auth(TOKEN)
            .json(&script)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    /// Polls `check` on the incident until it holds. The limit only guards against a hang.
    pub async fn wait_for_incident(
        &self,
        id: &Value,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        for _ in 0..600 {
            let incident = self.incident(id).await;
            if check(&incident) {
                return incident;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "waited 60 s for: {what}; incident is {:#}",
            self.incident(id).await
        );
    }

    pub async fn incident(&self, id: &Value) -> Value {
        let (status, body) = self.get(&format!("/api/v1/incidents/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// A webhook receiver that keeps every JSON body it is sent.
pub async fn receiver() -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| async move {
            keep.lock().unwrap().push(body);
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    (format!("{}/hook", serve_router(app).await), got)
}

/// Polls `check` until it holds; the limit only guards against a hang.
pub async fn wait_until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("waited 60 s for: {what}");
}

/// A port nothing listens on yet, for configs that must name theirs before the daemon starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `router` on a loopback port (a fake Twilio, a gateway); returns its base URL.
pub async fn serve_router(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}
