//! How long one `kaden zabbix-alert` run takes (Zabbix runs it once per alert): to a live
//! daemon stand-in, and spooling when no daemon answers. Prints figures; asserts nothing.

use std::process::Command;
use std::time::{Duration, Instant};

const KADEN: &str = env!("CARGO_BIN_EXE_kaden");
const RUNS: usize = 30;
const MESSAGE: &str = "event_id: 4711\nevent_value: 1\nevent_severity: 4\nhost_name: web01\nevent_name: HTTP is down\n";

fn config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("kaden.yaml");
    let text = format!(
        "server: {{ listen: 127.0.0.1:{port} }}\nstorage: {{ sqlite: {0}/kaden.db, spool: {0}/spool }}\n",
        dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn measure(label: &str, config: &std::path::Path) {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new(KADEN)
                .args(["zabbix-alert", "-c"])
                .arg(config)
                .args(["+819012345678", "Problem: HTTP is down", MESSAGE])
                .output()
                .unwrap()
                .status;
            assert!(status.success());
            start.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<34} runs {RUNS}  min {:6.2} ms  median {:6.2} ms  p95 {:6.2} ms",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS * 95 / 100])
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A stand-in daemon that accepts every alert at once, so only kaden's side is timed.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/webhooks/zabbix",
        axum::routing::post(|| async { (axum::http::StatusCode::ACCEPTED, "{\"id\":1}") }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });

    let live = tempfile::tempdir().unwrap();
    measure("zabbix-alert, daemon answering", &config(live.path(), port));
    let down = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    measure(
        "zabbix-alert, daemon down (spool)",
        &config(down.path(), closed),
    );
}
