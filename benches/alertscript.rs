//! How long one `kaden zabbix-alert` run takes (Zabbix runs it once per alert): to a live
//! daemon stand-in, and spooling when no daemon answers, side by side with `/bin/true` and
//! `kaden --version` in the same run, in turn, so a drifting machine moves all alike.
//! Prints medians and ratios to `/bin/true`; asserts nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KADEN: &str = env!("CARGO_BIN_EXE_kaden");
const RUNS: usize = 200;
const WARMUP: usize = 10;
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

fn alert(config: &std::path::Path) -> Command {
    let mut command = Command::new(KADEN);
    command.args(["zabbix-alert", "-c"]).arg(config).args([
        "+819012345678",
        "Problem: HTTP is down",
        MESSAGE,
    ]);
    command
}

fn time(command: &mut Command) -> Duration {
    let start = Instant::now();
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(status.success(), "{command:?} failed");
    elapsed
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
    let live = config(live.path(), port);
    let down = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = config(down.path(), closed);

    let mut commands: Vec<(&str, Command)> = vec![
        ("/bin/true", Command::new("/bin/true")),
        ("kaden --version", {
            let mut c = Command::new(KADEN);
            c.arg("--version");
            c
        }),
        ("zabbix-alert, daemon answering", alert(&live)),
        ("zabbix-alert, daemon down (spool)", alert(&down)),
    ];
    let mut times = vec![Vec::with_capacity(RUNS); commands.len()];
    for round in 0..WARMUP + RUNS {
        for ((_, command), times) in commands.iter_mut().zip(&mut times) {
            let elapsed = time(command);
            if round >= WARMUP {
                times.push(elapsed);
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[RUNS / 2]
        })
        .collect();
    for (((label, _), times), median) in commands.iter().zip(&times).zip(&medians) {
        println!(
            "{label:<34} runs {RUNS}  p10 {:6.2} ms  median {:6.2} ms  p90 {:6.2} ms  median / /bin/true {:4.2}",
            ms(times[RUNS / 10]),
            ms(*median),
            ms(times[RUNS * 9 / 10]),
            median.as_secs_f64() / medians[0].as_secs_f64(),
        );
    }
}
