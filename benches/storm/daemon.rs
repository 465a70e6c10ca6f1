//! The programs under test, as child processes: the real `kaden serve` (release build under
//! `cargo bench`) on SQLite in a temp dir, and Prometheus Alertmanager as the reference.

use crate::load::{Conn, Req};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

pub const KADEN: &str = env!("CARGO_BIN_EXE_kaden");
pub const KADEN_NOTIFY: &str = env!("CARGO_BIN_EXE_kaden-notify");
pub const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// The responders of the one call setting every routed alert goes to.
pub const RESPONDERS: [(&str, &str); 3] = [
    ("sato", "+819000000001"),
    ("suzuki", "+819000000002"),
    ("takahashi", "+819000000003"),
];

/// Routed alerts (severity high) go to this broadcast call setting; others match no route.
pub const CALL_SETTING: &str = "storm";

/// How kaden places calls.
pub enum Phones {
    /// The built-in simulator; the responders' phones ring without answer (20 s), so a
    /// storm shows how many calls each responder gets while they are being called.
    Simulator,
    /// Twilio's REST API at `api_base` (a simulator the bench runs), so the bench knows
    /// the token webhooks are signed with.
    Twilio { api_base: String, token: String },
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// kaden's config: loopback without tokens, SQLite and spool under `dir`, three
/// responders in one broadcast call setting.
pub fn config(dir: &Path, port: u16, phones: &Phones) -> String {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/pronunciation/ja.yaml");
    let telephony = match phones {
        Phones::Simulator => {
            let scripts: Vec<String> = RESPONDERS
                .iter()
                .map(|(_, phone)| format!("\"{phone}\": {{ behaviour: no_answer }}"))
                .collect();
            format!(
                "{{ provider: simulator, simulator: {{ phones: {{ {} }} }} }}",
                scripts.join(", ")
            )
        }
        Phones::Twilio { api_base, token } => format!(
            "{{ provider: twilio, twilio: {{ account_sid: {}, auth_token: \"{token}\", from: \"+815000000000\", api_base: \"{api_base}\" }} }}",
            kaden::telephony::simulator::ACCOUNT_SID
        ),
    };
    let users: Vec<String> = RESPONDERS
        .iter()
        .map(|(id, phone)| format!("  - {{ id: {id}, phone: \"{phone}\" }}"))
        .collect();
    let targets: Vec<String> = RESPONDERS
        .iter()
        .map(|(id, _)| format!("user:{id}"))
        .collect();
    format!(
        "server:
  listen: 127.0.0.1:{port}
  public_url: http://127.0.0.1:{port}
  # Queued requests are measured until answered, not cut off at the default 30 s.
  request_timeout: 120s
storage: {{ sqlite: {dir}/kaden.db, spool: {dir}/spool }}
locale: {{ timezone: Asia/Tokyo, language: ja-JP }}
pronunciation: [{rules}]
telephony: {telephony}
users:
{users}
call_settings:
  - {{ id: {CALL_SETTING}, mode: broadcast, targets: [{targets}] }}
routes:
  - {{ when: {{ severity: high }}, call: {CALL_SETTING} }}
",
        dir = dir.display(),
        users = users.join("\n"),
        targets = targets.join(", "),
    )
}

/// A running `kaden serve`; killed when dropped.
pub struct Kaden {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub config: PathBuf,
    dir: TempDir,
}

impl Kaden {
    pub async fn start(phones: &Phones) -> Kaden {
        let dir = tempfile::tempdir().expect("a temp dir");
        let port = free_port();
        let config = dir.path().join("kaden.yaml");
        std::fs::write(&config, self::config(dir.path(), port, phones)).expect("config written");
        let mut kaden = Kaden {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            config,
            dir,
        };
        kaden.restart().await;
        kaden
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("kaden.db")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Starts the daemon (again) and waits until `/healthz` answers.
    pub async fn restart(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("kaden.log")).expect("log file");
        let child = Command::new(KADEN)
            .args(["serve", "-c"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kaden starts");
        self.child = Some(child);
        wait_until_ready(self.addr, "/healthz").await;
    }

    /// SIGTERM and wait: a clean shutdown, as systemd does it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
    }

    /// GET `path` and parse the JSON answer.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let mut conn = Conn::open(self.addr).await.expect("kaden is listening");
        let (status, body) = conn.send(&Req::get(path)).await.expect("kaden answers");
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).expect("JSON")
    }

    /// POST one generic alert and wait for the answer.
    pub async fn post_alert(&self, alert: &serde_json::Value) {
        let mut conn = Conn::open(self.addr).await.expect("kaden is listening");
        let (status, body) = conn
            .send(&Req::json("/api/v1/alerts", alert))
            .await
            .expect("kaden answers");
        assert!(
            (200..300).contains(&status),
            "POST alert: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
}

impl Drop for Kaden {
    /// Killed, not stopped: a storm's leftover queue would only delay the next measure.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A generic alert; `high` routes to the call setting, `warning` matches no route.
pub fn alert(key: &str, kind: &str, severity: &str) -> serde_json::Value {
    serde_json::json!({
        "key": key, "kind": kind, "severity": severity, "host": key, "service": "ping",
        "summary": "PING CRITICAL - Packet loss = 100%",
    })
}

/// A problem with its own key, each `i` another host.
pub fn problem(prefix: &'static str, severity: &'static str) -> impl Fn(u64) -> Req {
    move |i| {
        Req::json(
            "/api/v1/alerts",
            &alert(&format!("{prefix}/host-{i:05}"), "problem", severity),
        )
    }
}

/// Waits until something accepts connections on `addr`.
pub async fn wait_until_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listened on {addr} within 10 s");
}

async fn wait_until_ready(addr: SocketAddr, path: &str) {
    for _ in 0..200 {
        if let Ok(mut conn) = Conn::open(addr).await
            && let Ok((200, _)) = conn.send(&Req::get(path)).await
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing answered {path} on {addr} within 10 s");
}

/// A running Prometheus Alertmanager with a do-nothing route; killed when dropped.
pub struct Alertmanager {
    child: Child,
    pub addr: SocketAddr,
    _dir: TempDir,
}

impl Alertmanager {
    /// None when the Debian package is not installed.
    pub async fn start() -> Option<Alertmanager> {
        if !Path::new(ALERTMANAGER).exists() {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route: { receiver: nobody }\nreceivers: [ { name: nobody } ]\n",
        )
        .expect("config written");
        let port = free_port();
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.path().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No cluster: it would listen on 9094 and gossip.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("alertmanager starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_until_ready(addr, "/-/ready").await;
        Some(Alertmanager {
            child,
            addr,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident memory of a process, in MB (Linux `VmHWM`).
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
