//! What the real-server suites share: kaden as a process, free ports, polling, and
//! looking incidents up through the API.
#![allow(dead_code)] // each suite that includes this uses a part of it

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KADEN: &str = env!("CARGO_BIN_EXE_kaden");
/// The notification commands alone, which the shipped plugin definitions run.
pub const KADEN_NOTIFY: &str = env!("CARGO_BIN_EXE_kaden-notify");
pub const TOKEN: &str = "e2e-token-0123456789";

/// A child process killed when the test ends, however it ends.
pub struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `kaden serve -c DIR/kaden.yaml` from `binary`, logging to DIR/kaden.log.
pub fn serve(binary: &Path, dir: &Path) -> Killed {
    serve_crashing_at(binary, dir, None)
}

/// `serve`, aborting at a crash point (`KADEN_CRASH_AT`, see src/fault.rs) if one is
/// given. Logs are appended, so a restart keeps what the crashed run printed.
pub fn serve_crashing_at(binary: &Path, dir: &Path, point: Option<&str>) -> Killed {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("kaden.log"))
        .unwrap();
    let mut command = Command::new(binary);
    command
        .args(["serve", "-c"])
        .arg(dir.join("kaden.yaml"))
        .stderr(Stdio::from(log));
    if let Some(point) = point {
        command.env("KADEN_CRASH_AT", point);
    }
    Killed(command.spawn().unwrap())
}

impl Killed {
    /// kill -9: no shutdown code runs.
    pub fn kill_9(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for the process to end by itself (a crash point); the limit guards a hang.
    pub async fn crashed(mut self) {
        for _ in 0..900 {
            if self.0.try_wait().unwrap().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("kaden did not reach its crash point within 90 s");
    }
}

/// A free port below 32768 (Zabbix's ListenPort refuses higher ones).
pub fn free_port() -> u16 {
    loop {
        let port = fastrand::u16(20000..32000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `probe` until it answers; the limit only guards against a hang.
pub async fn wait_for<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..900 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited 90 s for {what}");
}

/// The first incident (in full) for which `check` holds, if any yet.
pub async fn incident(base: &str, check: impl Fn(&Value) -> bool) -> Option<Value> {
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
    };
    let list: Vec<Value> = get("/api/v1/incidents".into())
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    for summary in list {
        let detail: Value = get(format!("/api/v1/incidents/{}", summary["id"]))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        if check(&detail) {
            return Some(detail);
        }
    }
    None
}

/// Copies `kaden` and `kaden-notify` into `dir` (0755), where the monitoring system's own
/// user can run them, and returns the copy of `kaden`. The shipped definitions name
/// `/usr/bin/kaden-notify`: replace `/usr/bin/` with `dir`.
pub fn copy_binaries(dir: &Path) -> PathBuf {
    for binary in [KADEN, KADEN_NOTIFY] {
        let copy = dir.join(Path::new(binary).file_name().unwrap());
        std::fs::copy(binary, &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.join("kaden")
}

/// A stand-in for Nagios's side of the external command file: reads the pipe, keeps
/// every command, and shows acknowledgements in status.dat as Nagios does.
pub fn fake_nagios(dir: &Path) -> Arc<Mutex<Vec<String>>> {
    let pipe = dir.join("nagios.cmd");
    nix::unistd::mkfifo(&pipe, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let status = dir.join("status.dat");
    let write_status = move |acknowledged: bool| {
        let text = format!(
            "servicestatus {{\n\thost_name=web01\n\tservice_description=HTTP\n\tproblem_has_been_acknowledged={}\n\tscheduled_downtime_depth=0\n\t}}\n",
            u8::from(acknowledged)
        );
        std::fs::write(&status, text).unwrap();
    };
    write_status(false);
    let commands = Arc::new(Mutex::new(Vec::new()));
    let seen = commands.clone();
    std::thread::spawn(move || {
        loop {
            // Like Nagios: reopen the pipe whenever every writer has closed it.
            let Ok(reader) = std::fs::File::open(&pipe) else {
                return;
            };
            for line in BufReader::new(reader).lines().map_while(Result::ok) {
                if line.contains("ACKNOWLEDGE_SVC_PROBLEM;web01;HTTP;") {
                    write_status(true);
                }
                seen.lock().unwrap().push(line);
            }
        }
    });
    commands
}

/// A kaden process's directory (its `kaden.yaml`, logs, database) and address; restarts
/// reuse both.
pub struct Site {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub base: String,
}

impl Site {
    /// Writes `kaden.yaml` (given its directory) for a daemon listening on `port`.
    pub fn new(port: u16, config: impl FnOnce(&Path) -> String) -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        std::fs::write(dir.join("kaden.yaml"), config(&dir)).unwrap();
        Site {
            _tmp: tmp,
            dir,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Starts it and waits until `/healthz` answers.
    pub async fn serve(&self) -> Killed {
        self.up(serve(Path::new(KADEN), &self.dir)).await
    }

    /// Starts it to abort at a crash point (`KADEN_CRASH_AT`, src/fault.rs).
    pub async fn serve_crashing_at(&self, point: &str) -> Killed {
        self.up(serve_crashing_at(Path::new(KADEN), &self.dir, Some(point)))
            .await
    }

    async fn up(&self, daemon: Killed) -> Killed {
        wait_for("kaden to answer /healthz", async || self.health().await).await;
        daemon
    }

    pub async fn health(&self) -> Option<Value> {
        let answer = reqwest::get(format!("{}/healthz", self.base)).await.ok()?;
        answer.status().is_success().then_some(())?;
        answer.json().await.ok()
    }

    pub async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kaden.log")).unwrap_or_default()
    }
}
