//! Measure 5: what a monitoring system pays per alert for kaden's notification commands,
//! exec to exit (for a live daemon: until the alert is committed), next to `/bin/true`
//! and `kaden --version` timed in the same run.

use crate::daemon::{KADEN, Kaden, Phones, config, free_port};
use crate::load::percentile_of;
use crate::{Row, ms};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 30;

/// A command to time; `i` makes each run's alert distinct.
struct Variant {
    label: &'static str,
    command: Box<dyn Fn(usize) -> Command + Send>,
}

fn zabbix_alert(config: &Path, i: usize) -> Command {
    let message = format!(
        "event_id: {}\nevent_value: 1\nevent_severity: 4\nhost_name: web-{i:02}\nevent_name: HTTP is down\n",
        4711 + i
    );
    let mut command = Command::new(KADEN);
    command.args(["zabbix-alert", "-c"]).arg(config).args([
        "+819000000001",
        "Problem: HTTP is down",
        &message,
    ]);
    command
}

fn nagios_notify(config: &Path, i: usize) -> Command {
    let mut command = Command::new(KADEN);
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
    let live = kaden.config.clone();
    let variants = vec![
        Variant {
            label: "/bin/true",
            command: Box::new(|_| Command::new("/bin/true")),
        },
        Variant {
            label: "kaden --version",
            command: Box::new(|_| {
                let mut command = Command::new(KADEN);
                command.arg("--version");
                command
            }),
        },
        Variant {
            label: "kaden zabbix-alert → daemon",
            command: Box::new({
                let live = live.clone();
                move |i| zabbix_alert(&live, i)
            }),
        },
        Variant {
            label: "kaden zabbix-alert → spool",
            command: Box::new({
                let down = down_config.clone();
                move |i| zabbix_alert(&down, i)
            }),
        },
        Variant {
            label: "kaden nagios-notify → daemon",
            command: Box::new(move |i| nagios_notify(&live, i)),
        },
        Variant {
            label: "kaden nagios-notify → spool",
            command: Box::new(move |i| nagios_notify(&down_config, i)),
        },
    ];
    let medians = tokio::task::spawn_blocking(move || time_interleaved(&variants))
        .await
        .expect("timing ran");
    drop(kaden);
    let (_, truth) = medians[0];
    medians
        .iter()
        .skip(1)
        .map(|(label, median)| Row {
            measure: format!("{label}, median of {RUNS}"),
            kaden: format!("{:.2} ms", ms(*median)),
            reference: format!("/bin/true {:.2} ms", ms(truth)),
            ratio: Some(median.as_secs_f64() / truth.as_secs_f64()),
        })
        .collect()
}

/// Runs every variant once per round, so drift in the machine's load hits all alike;
/// prints each one's spread and returns its median.
fn time_interleaved(variants: &[Variant]) -> Vec<(&'static str, Duration)> {
    let mut times = vec![Vec::with_capacity(RUNS); variants.len()];
    let mut failed = vec![0; variants.len()];
    for i in 0..RUNS {
        for (v, variant) in variants.iter().enumerate() {
            let mut command = (variant.command)(i);
            command.stdout(Stdio::null()).stderr(Stdio::null());
            let start = Instant::now();
            let ok = command.status().is_ok_and(|s| s.success());
            times[v].push(start.elapsed());
            failed[v] += usize::from(!ok);
        }
    }
    variants
        .iter()
        .zip(times.iter_mut().zip(failed))
        .map(|(variant, (times, failed))| {
            times.sort();
            let failures = if failed > 0 {
                format!("  FAILED {failed}")
            } else {
                String::new()
            };
            println!(
                "{:<30} min {:6.2} ms  median {:6.2} ms  p95 {:6.2} ms{failures}",
                variant.label,
                ms(times[0]),
                ms(percentile_of(times, 50.0)),
                ms(percentile_of(times, 95.0)),
            );
            (variant.label, percentile_of(times, 50.0))
        })
        .collect()
}
