//! End to end against a real Nagios 4: a passive service goes CRITICAL, Nagios runs the
//! shipped notify-service-by-kaden command, kaden phones (simulator), 9# is pressed, and
//! status.dat shows the acknowledgement; 4# shows a downtime; recovery resolves.
//!
//! Needs `nagios4` (Debian's nagios4-core) and root (Nagios drops to user nagios).
//! `.ci/run` installs it and runs `cargo test --test e2e_nagios -- --ignored`.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{TOKEN, free_port, incident, serve, serve_crashing_at, wait_for};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Nagios {
    lock: PathBuf,
}

impl Drop for Nagios {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.lock)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn kaden_config(dir: &Path, port: u16) -> String {
    format!(
        "\
server:
  listen: 127.0.0.1:{port}
  api_tokens: [{TOKEN}]
storage:
  sqlite: {dir}/kaden.db
  spool: {dir}/spool
telephony:
  provider: simulator
  simulator:
    phones:
      \"+819000000001\": {{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }}
      \"+819000000002\": {{ behaviour: answer, keys: [\"4#\"], after_secs: 0 }}
users:
  - {{ id: yamada, name: 山田, phone: \"+819000000001\" }}
  - {{ id: suzuki, name: 鈴木, phone: \"+819000000002\" }}
call_settings:
  - {{ id: ack, targets: [user:yamada] }}
  - {{ id: downtime, targets: [user:suzuki] }}
routes:
  - {{ when: {{ service: DISK }}, call: downtime }}
  - {{ when: {{ source: nagios }}, call: ack }}
sources:
  nagios: {{ command_file: {dir}/rw/nagios.cmd, status_file: {dir}/status.dat }}
",
        dir = dir.display()
    )
}

fn nagios_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "\
log_file={d}/nagios.log
cfg_file={d}/objects.cfg
cfg_file={d}/kaden.cfg
cfg_file={d}/kaden-heartbeat.cfg
object_cache_file={d}/objects.cache
precached_object_file={d}/objects.precache
status_file={d}/status.dat
status_update_interval=1
nagios_user=nagios
nagios_group=nagios
check_external_commands=1
command_file={d}/rw/nagios.cmd
lock_file={d}/nagios.lock
temp_file={d}/nagios.tmp
temp_path={d}
check_result_path={d}/checkresults
retain_state_information=0
state_retention_file={d}/retention.dat
enable_notifications=1
execute_service_checks=0
execute_host_checks=0
accept_passive_service_checks=1
enable_environment_macros=0
illegal_macro_output_chars=`~$&|'\"<>
interval_length=60
log_external_commands=1
log_notifications=1
log_passive_checks=1
"
    )
}

const OBJECTS: &str = "\
define timeperiod {
    timeperiod_name 24x7
    alias           always
    sunday          00:00-24:00
    monday          00:00-24:00
    tuesday         00:00-24:00
    wednesday       00:00-24:00
    thursday        00:00-24:00
    friday          00:00-24:00
    saturday        00:00-24:00
}
define command {
    command_name    check-passive
    command_line    /bin/true
}
define host {
    host_name               web01
    address                 127.0.0.1
    check_command           check-passive
    max_check_attempts      1
    active_checks_enabled   0
    passive_checks_enabled  1
    check_period            24x7
    notification_period     24x7
    notification_interval   0
    contacts                kaden
}
define service {
    name                    passive
    register                0
    host_name               web01
    check_command           check-passive
    max_check_attempts      1
    check_interval          1
    retry_interval          1
    active_checks_enabled   0
    passive_checks_enabled  1
    check_period            24x7
    notification_period     24x7
    notification_interval   0
    notification_options    w,u,c,r
    contacts                kaden
}
define service {
    use                     passive
    service_description     HTTP
}
define service {
    use                     passive
    service_description     DISK
}
";

fn external(dir: &Path, command: &str) {
    use std::io::Write;
    let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
    let mut pipe = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("rw/nagios.cmd"))
        .unwrap();
    pipe.write_all(format!("[{now}] {command}\n").as_bytes())
        .unwrap();
}

fn status_value(dir: &Path, service: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("status.dat")).ok()?;
    text.split("\n\t}")
        .filter_map(|c| c.split_once("servicestatus {").map(|(_, b)| b))
        .find(|b| {
            b.contains("\thost_name=web01\n")
                && b.contains(&format!("\tservice_description={service}\n"))
        })?
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}=")).map(str::to_owned))
}

async fn incident_for(base: &str, key: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_for(key, async || {
        incident(base, |i| {
            i["problem_list"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["key"] == key))
                && check(i)
        })
        .await
    })
    .await
}

#[tokio::test]
#[ignore = "needs a real Nagios 4 (nagios4-core) and root; run by .ci/run"]
async fn nagios_problem_is_phoned_acknowledged_put_in_downtime_and_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["rw", "checkresults"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    // Nagios runs the command as user nagios: give it copies it can reach.
    let kaden = e2e::copy_binaries(dir);
    let port = free_port();
    write(&dir.join("kaden.yaml"), &kaden_config(dir, port));
    // The shipped definitions, with this run's paths; `nagios4 -v` checks the heartbeat's.
    for name in ["kaden.cfg", "kaden-heartbeat.cfg"] {
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("plugins/nagios")
                .join(name),
        )
        .unwrap();
        write(
            &dir.join(name),
            &shipped
                .replace("/usr/bin/", &format!("{}/", dir.display()))
                .replace(
                    "/etc/kaden/kaden.yaml",
                    &dir.join("kaden.yaml").display().to_string(),
                )
                .replace(
                    "host_name               localhost",
                    "host_name               web01",
                ),
        );
    }
    write(&dir.join("objects.cfg"), OBJECTS);
    write(&dir.join("nagios.cfg"), &nagios_config(dir));
    // Nagios writes its status, log, pipe and temp files as user nagios.
    assert!(
        Command::new("chown")
            .args(["-R", "nagios:nagios"])
            .arg(dir)
            .status()
            .unwrap()
            .success()
    );

    // The first run dies right after its acknowledgement reaches the command pipe.
    let crashing = serve_crashing_at(&kaden, dir, Some("writeback-sent"));
    let base = format!("http://127.0.0.1:{port}");
    let verify = Command::new("nagios4")
        .arg("-v")
        .arg(dir.join("nagios.cfg"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "nagios4 -v: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let started = Command::new("nagios4")
        .arg("-d")
        .arg(dir.join("nagios.cfg"))
        .status()
        .unwrap();
    assert!(started.success());
    let _nagios = Nagios {
        lock: dir.join("nagios.lock"),
    };
    wait_for("Nagios to write status.dat", async || {
        status_value(dir, "HTTP", "current_state")
    })
    .await;

    // CRITICAL → notification → call → 9# → ACKNOWLEDGE_SVC_PROBLEM → crash → restart
    // → status.dat already shows it, so it is not sent again.
    external(
        dir,
        "PROCESS_SERVICE_CHECK_RESULT;web01;HTTP;2;HTTP CRITICAL - 503 Service Unavailable",
    );
    crashing.crashed().await;
    let _kaden = serve(&kaden, dir);
    let incident = incident_for(&base, "web01/HTTP", |i| {
        i["writebacks"][0]["state"] == "done"
    })
    .await;
    assert_eq!(incident["calls"][0]["keys"], serde_json::json!(["9#"]));
    assert_eq!(incident["alerts"][0]["source_ref"]["source"], "nagios");
    assert_eq!(
        status_value(dir, "HTTP", "problem_has_been_acknowledged").as_deref(),
        Some("1")
    );
    assert_eq!(
        status_value(dir, "HTTP", "acknowledgement_type").as_deref(),
        Some("2"),
        "sticky"
    );
    let log = std::fs::read_to_string(dir.join("nagios.log")).unwrap();
    assert_eq!(
        log.matches("ACKNOWLEDGE_SVC_PROBLEM;web01;HTTP;2;0;1;yamada;電話で山田")
            .count(),
        1,
        "exactly one acknowledgement across the crash: {log}"
    );

    // CRITICAL on DISK → 4# → SCHEDULE_SVC_DOWNTIME → status.dat.
    external(
        dir,
        "PROCESS_SERVICE_CHECK_RESULT;web01;DISK;2;DISK CRITICAL - 98% used",
    );
    incident_for(&base, "web01/DISK", |i| {
        i["writebacks"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w["action"] == "downtime" && w["state"] == "done")
        })
    })
    .await;
    let depth: u32 = status_value(dir, "DISK", "scheduled_downtime_depth")
        .unwrap()
        .parse()
        .unwrap();
    assert!(depth >= 1, "DISK is in downtime");

    // OK → RECOVERY notification → the incident is resolved.
    external(dir, "PROCESS_SERVICE_CHECK_RESULT;web01;HTTP;0;HTTP OK");
    let resolved = incident_for(&base, "web01/HTTP", |i| i["status"] == "resolved").await;
    let purposes: Vec<&str> = resolved["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(
        purposes,
        ["notice", "escalate"],
        "notify_recovery: one recovery notice, nothing more"
    );
}
