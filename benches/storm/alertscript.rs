//! Measure 5: what a monitoring system pays per alert for kaden's notification commands,
//! exec to exit (for a live daemon: until the alert is committed), next to `/bin/true`
//! and `kaden --version` timed in the same run. Each command runs as a `kaden` subcommand
//! and through the lean `kaden-notify`, which the shipped plugins use.

use crate::daemon::{KADEN, KADEN_NOTIFY, Kaden, Phones, config, free_port};
use crate::load::percentile_of;
use crate::{Row, ms};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 100;

/// A command to time; `i` makes each run's alert distinct.
struct Variant {
    label: String,
    command: Box<dyn Fn(usize) -> Command + Send>,
}

impl Variant {
    fn new(label: impl Into<String>, command: impl Fn(usize) -> Command + Send + 'static) -> Self {
        Variant {
            label: label.into(),
            command: Box::new(command),
        }
    }
}

/// Medians of one variant: wall time, exec to exit, and the CPU time the child used.
struct Medians {
    label: String,
    wall: Duration,
    cpu: Duration,
}

fn zabbix_alert(binary: &str, config: &Path, i: usize) -> Command {
    let message = format!(
        "event_id: {}\nevent_value: 1\nevent_severity: 4\nhost_name: web-{i:02}\nevent_name: HTTP is down\n",
        4711 + i
    );
    let mut command = Command::new(binary);
    command.args(["zabbix-alert", "-c"]).arg(config).args([
        "+819000000001",
        "Problem: HTTP is down",
        &message,
    ]);
    command
}

fn nagios_notify(binary: &str, config: &Path, i: usize) -> Command {
    let mut command = Command::new(binary);
    command.args(["nagios-notify", "-c"]).arg(config).args([
        "--type",
        "PROBLEM",
        "--host",
        &format!("web-{i:02}"),
        "--service",
        "HTTP",
        "--state",
        "CRITICAL",
        "--output",
        "HTTP CRITICAL - 503 Service Unavailable",
        "--problem-id",
        &(100 + i).to_string(),
        "--number",
        "1",
    ]);
    command
}

pub async fn alertscript() -> Vec<Row> {
    let kaden = Kaden::start(&Phones::Simulator).await;
    // The same config, but nothing listens on its port: the commands spool.
    let down = tempfile::tempdir().expect("a temp dir");
    let down_config = down.path().join("kaden.yaml");
    std::fs::write(
        &down_config,
        config(down.path(), free_port(), &Phones::Simulator),
    )
    .expect("config written");
    let mut variants = vec![Variant::new("/bin/true", |_| Command::new("/bin/true"))];
    let binaries = notification_binaries();
    for (name, binary) in binaries.clone() {
        variants.push(Variant::new(format!("{name} --version"), move |_| {
            let mut command = Command::new(&binary);
            command.arg("--version");
            command
        }));
    }
    type Notification = fn(&str, &Path, usize) -> Command;
    let commands: [(&str, Notification); 2] = [
        ("zabbix-alert", zabbix_alert),
        ("nagios-notify", nagios_notify),
    ];
    for (subcommand, notification) in commands {
        for (name, binary) in binaries.clone() {
            let targets: [(&str, PathBuf); 2] = [
                ("daemon", kaden.config.clone()),
                ("spool", down_config.clone()),
            ];
            for (target, config) in targets {
                let binary = binary.clone();
                variants.push(Variant::new(
                    format!("{name} {subcommand} → {target}"),
                    move |i| notification(&binary, &config, i),
                ));
            }
        }
    }
    let medians = tokio::task::spawn_blocking(move || time_interleaved(&variants))
        .await
        .expect("timing ran");
    drop(kaden);
    let truth = &medians[0];
    let reference = format!(
        "/bin/true {:.2} ms (CPU {:.2} ms)",
        ms(truth.wall),
        ms(truth.cpu)
    );
    medians
        .iter()
        .skip(1)
        .map(|m| Row {
            measure: format!("{}, median of {RUNS}", m.label),
            kaden: format!(
                "{:.2} ms (CPU {:.2} ms, {:.1}×)",
                ms(m.wall),
                ms(m.cpu),
                m.cpu.as_secs_f64() / truth.cpu.as_secs_f64()
            ),
            reference: reference.clone(),
            ratio: Some(m.wall.as_secs_f64() / truth.wall.as_secs_f64()),
        })
        .collect()
}

/// The binaries that can deliver a notification, by label: the `kaden` and `kaden-notify`
/// this bench was built with, and the statically linked `kaden-notify` the packages ship
/// when bench/run.sh built one (`KADEN_NOTIFY_STATIC`).
fn notification_binaries() -> Vec<(String, String)> {
    let mut binaries = vec![
        ("kaden".to_owned(), KADEN.to_owned()),
        ("kaden-notify".to_owned(), KADEN_NOTIFY.to_owned()),
    ];
    if let Ok(path) = std::env::var("KADEN_NOTIFY_STATIC") {
        binaries.push(("kaden-notify static".to_owned(), path));
    }
    binaries
}

/// User and system CPU time of every child waited for so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Runs every variant once per round, so drift in the machine's load hits all alike;
/// prints each one's spread and returns its medians. Nothing else in the bench waits for
/// a child meanwhile, so the growth of `children_cpu` over one run is that run's CPU.
fn time_interleaved(variants: &[Variant]) -> Vec<Medians> {
    let mut walls = vec![Vec::with_capacity(RUNS); variants.len()];
    let mut cpus = vec![Vec::with_capacity(RUNS); variants.len()];
    let mut failed = vec![0; variants.len()];
    for i in 0..RUNS {
        for (v, variant) in variants.iter().enumerate() {
            let mut command = (variant.command)(i);
            command.stdout(Stdio::null()).stderr(Stdio::null());
            let cpu_before = children_cpu();
            let start = Instant::now();
            let ok = command.status().is_ok_and(|s| s.success());
            walls[v].push(start.elapsed());
            cpus[v].push(children_cpu() - cpu_before);
            failed[v] += usize::from(!ok);
        }
    }
    variants
        .iter()
        .zip(walls.iter_mut().zip(cpus.iter_mut()).zip(failed))
        .map(|(variant, ((walls, cpus), failed))| {
            walls.sort();
            cpus.sort();
            let failures = if failed > 0 {
                format!("  FAILED {failed}")
            } else {
                String::new()
            };
            println!(
                "{:<43} min {:6.2} ms  median {:6.2} ms  p95 {:6.2} ms  CPU median {:5.2} ms{failures}",
                variant.label,
                ms(walls[0]),
                ms(percentile_of(walls, 50.0)),
                ms(percentile_of(walls, 95.0)),
                ms(percentile_of(cpus, 50.0)),
            );
            Medians {
                label: variant.label.clone(),
                wall: percentile_of(walls, 50.0),
                cpu: percentile_of(cpus, 50.0),
            }
        })
        .collect()
}
