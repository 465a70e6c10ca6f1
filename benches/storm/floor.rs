//! The durable floor: the least a server must do to answer an alert only once it is on
//! disk, on kaden's HTTP stack (axum on tokio). It parses the body as JSON, appends it
//! to a file written in place (preallocated, so a sync flushes data, not the file's
//! size), syncs once for every request waiting at that moment, then answers. No
//! database, no grouping, no log. Its rate bounds what any durable ingest reaches on
//! this machine; the bench prints it next to Alertmanager's in-memory rate.
//!
//! It runs in a process of its own, like kaden and Alertmanager: the bench binary
//! started again with [`SERVE_ARG`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The first argument that makes the bench binary serve the floor instead of measuring.
pub const SERVE_ARG: &str = "durable-floor-server";

/// Written in place from the start again when full; more than a 5 s run appends.
const LOG_BYTES: u64 = 64 << 20;

type Append = (Bytes, oneshot::Sender<u64>);

/// `<binary> durable-floor-server PORT DIR`: serves until killed.
pub fn serve(args: &[String]) {
    let [port, dir] = args else {
        panic!("usage: {SERVE_ARG} PORT DIR");
    };
    let port: u16 = port.parse().expect("a port number");
    let log = preallocated(&Path::new(dir).join("floor.log"));
    let (appends, waiting) = mpsc::channel::<Append>();
    std::thread::spawn(move || append_and_sync(log, waiting));
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async move {
        let app = Router::new()
            .route("/api/v1/alerts", post(accept))
            .with_state(appends);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the floor's port is free");
        axum::serve(listener, app).await.expect("the floor serves");
    });
}

fn preallocated(path: &Path) -> File {
    let mut file = File::create(path).expect("the floor's log is created");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..LOG_BYTES / zeros.len() as u64 {
        file.write_all(&zeros)
            .expect("the floor's log is preallocated");
    }
    file.sync_all().expect("the floor's log is synced");
    file
}

async fn accept(State(appends): State<mpsc::Sender<Append>>, body: Bytes) -> (StatusCode, String) {
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return (StatusCode::BAD_REQUEST, "{\"error\":\"not JSON\"}".into());
    }
    let (reply, answer) = oneshot::channel();
    appends
        .send((body, reply))
        .expect("the floor's writer runs");
    let id = answer.await.expect("the floor's writer answers");
    (StatusCode::ACCEPTED, format!("{{\"id\":{id}}}"))
}

/// One write and one `fdatasync` for every request waiting, then every answer.
fn append_and_sync(log: File, waiting: mpsc::Receiver<Append>) {
    let (mut offset, mut count) = (0u64, 0u64);
    let mut buffer = Vec::new();
    while let Ok(first) = waiting.recv() {
        let mut group = vec![first];
        group.extend(waiting.try_iter());
        buffer.clear();
        for (body, _) in &group {
            buffer.extend_from_slice(body);
            buffer.push(b'\n');
        }
        if offset + buffer.len() as u64 > LOG_BYTES {
            offset = 0;
        }
        log.write_all_at(&buffer, offset)
            .expect("the floor's log is written");
        log.sync_data().expect("the floor's log is synced");
        offset += buffer.len() as u64;
        for (_, reply) in group {
            count += 1;
            let _ = reply.send(count);
        }
    }
}

/// The floor serving on a free loopback port; killed when dropped.
pub struct Floor {
    child: Child,
    pub addr: SocketAddr,
    _dir: TempDir,
}

impl Floor {
    pub async fn start() -> Floor {
        let dir = tempfile::tempdir().expect("a temp dir");
        let port = crate::daemon::free_port();
        let child = Command::new(std::env::current_exe().expect("the bench binary's path"))
            .args([SERVE_ARG, &port.to_string()])
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("the floor starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        crate::daemon::wait_until_listening(addr).await;
        Floor {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Floor {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
