//! End to end against a real Icinga 2: a passive service goes CRITICAL, Icinga runs the
//! shipped plugins/icinga2/kaden.conf notification command, kaden phones (simulator), 9#
//! is pressed, and Icinga's API shows the service acknowledged; 4# puts another in
//! downtime; OK resolves. Before that, the README's old mistake — an IP address in
//! api_url, which Icinga's node certificate does not name — must be reported as such.
//!
//! Needs `icinga2` (Debian's icinga2-bin) and root (Icinga drops to user nagios).
//! `.ci/icinga2.sh` installs it and runs `cargo test --test e2e_icinga2 -- --ignored`.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{TOKEN, free_port, incident, serve, wait_for};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The node name, which Icinga's node certificate carries (CN and DNS name) and which
/// resolves on every machine.
const NODE: &str = "localhost";
const API_PASSWORD: &str = "e2e-icinga-password";
const ROOT_PASSWORD: &str = "e2e-root-password";

/// Icinga 2 in the foreground; SIGTERM lets its umbrella process stop the worker too.
struct Icinga(Child);

impl Drop for Icinga {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Runs `icinga2 ARGS` with every path inside `dir` (no system state is touched).
fn icinga2(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("icinga2");
    command.args(args);
    for (name, sub) in [
        ("DataDir", "data"),
        ("LogDir", "log"),
        ("CacheDir", "cache"),
        ("SpoolDir", "spool"),
        ("InitRunDir", "run"),
    ] {
        command.arg(format!("-D{name}={}", dir.join(sub).display()));
    }
    command.args(["-DRunAsUser=nagios", "-DRunAsGroup=nagios"]);
    command
}

fn run(mut command: Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chown_to_nagios(dir: &Path) {
    let mut chown = Command::new("chown");
    chown.args(["-R", "nagios:nagios"]).arg(dir);
    run(chown);
}

/// A CA and a node certificate made by Icinga's own `pki` commands, as `icinga2 node
/// setup` does.
fn make_certificates(dir: &Path) {
    let certs = dir.join("data/certs");
    std::fs::create_dir_all(&certs).unwrap();
    chown_to_nagios(dir);
    run(icinga2(dir, &["pki", "new-ca"]));
    let file = |ext: &str| certs.join(format!("{NODE}.{ext}")).display().to_string();
    run(icinga2(
        dir,
        &[
            "pki",
            "new-cert",
            "--cn",
            NODE,
            "--key",
            &file("key"),
            "--csr",
            &file("csr"),
        ],
    ));
    run(icinga2(
        dir,
        &[
            "pki",
            "sign-csr",
            "--csr",
            &file("csr"),
            "--cert",
            &file("crt"),
        ],
    ));
    std::fs::copy(dir.join("data/ca/ca.crt"), certs.join("ca.crt")).unwrap();
}

fn icinga_config(dir: &Path, port: u16) -> String {
    format!(
        "\
const NodeName = \"{NODE}\"
const ZoneName = NodeName
object Endpoint NodeName {{}}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
include <itl>
object CheckerComponent \"checker\" {{}}
object NotificationComponent \"notification\" {{}}
object ApiListener \"api\" {{ bind_host = \"127.0.0.1\"; bind_port = {port} }}
object ApiUser \"e2e\" {{ password = \"{ROOT_PASSWORD}\"; permissions = [ \"*\" ] }}
include \"{dir}/objects.conf\"
include \"{dir}/kaden.conf\"
",
        dir = dir.display()
    )
}

const OBJECTS: &str = "\
object Host \"web01\" {
  check_command = \"dummy\"
  enable_active_checks = false
  max_check_attempts = 1
}
template Service \"passive\" {
  host_name = \"web01\"
  check_command = \"dummy\"
  enable_active_checks = false
  max_check_attempts = 1
  vars.phone_on_call = true
}
object Service \"HTTP\" { import \"passive\" }
object Service \"DISK\" { import \"passive\" }
";

fn kaden_config(dir: &Path, port: u16, api_host: &str, api_port: u16) -> String {
    format!(
        "\
server:
  listen: 127.0.0.1:{port}
  api_tokens: [{TOKEN}]
storage:
  sqlite: {dir}/kaden.db
  spool: {dir}/spool-kaden
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
  - {{ when: {{ source: icinga2 }}, call: ack }}
sources:
  icinga2:
    api_url: https://{api_host}:{api_port}
    username: kaden
    password: {API_PASSWORD}
    ca_file: {dir}/data/certs/ca.crt
",
        dir = dir.display()
    )
}

/// Icinga's REST API as the test's own all-powerful user, trusting Icinga's CA.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn new(dir: &Path, port: u16) -> Api {
        let ca = std::fs::read(dir.join("data/certs/ca.crt")).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        Api {
            client,
            base: format!("https://{NODE}:{port}/v1"),
        }
    }

    async fn service(&self, name: &str) -> Option<Value> {
        let answer: Value = self
            .client
            .get(format!("{}/objects/services/web01!{name}", self.base))
            .basic_auth("e2e", Some(ROOT_PASSWORD))
            .header("Accept", "application/json")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        Some(answer["results"][0]["attrs"].clone())
    }

    async fn check_result(&self, object: Value, exit_status: u8, output: &str) {
        let mut body = object;
        body["exit_status"] = exit_status.into();
        body["plugin_output"] = output.into();
        let answer: Value = self
            .client
            .post(format!("{}/actions/process-check-result", self.base))
            .basic_auth("e2e", Some(ROOT_PASSWORD))
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["results"][0]["code"], 200.0, "{answer}");
    }

    async fn service_result(&self, name: &str, exit_status: u8, output: &str) {
        self.check_result(
            json!({ "type": "Service", "service": format!("web01!{name}") }),
            exit_status,
            output,
        )
        .await;
    }
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

fn setup() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["data", "log", "cache", "spool", "run"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    // Icinga runs the command as user nagios: give it copies it can reach.
    let kaden = e2e::copy_binaries(&dir);
    (tmp, kaden)
}

#[tokio::test]
#[ignore = "needs a real Icinga 2 (icinga2-bin) and root; run by .ci/icinga2.sh"]
async fn icinga2_problem_is_phoned_acknowledged_put_in_downtime_and_recovered() {
    let (_tmp, kaden) = setup();
    let dir = kaden.parent().unwrap();
    make_certificates(dir);
    let (port, api_port) = (free_port(), free_port());
    // The shipped notification commands and ApiUser, with this run's paths and password.
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/icinga2/kaden.conf"),
    )
    .unwrap();
    let kaden_yaml = dir.join("kaden.yaml");
    write(
        &dir.join("kaden.conf"),
        &shipped
            .replace("/usr/bin/", &format!("{}/", dir.display()))
            .replace("/etc/kaden/kaden.yaml", &kaden_yaml.display().to_string())
            .replace("\"change-me\"", &format!("\"{API_PASSWORD}\"")),
    );
    write(&dir.join("objects.conf"), OBJECTS);
    write(&dir.join("icinga2.conf"), &icinga_config(dir, api_port));
    chown_to_nagios(dir);
    let conf = dir.join("icinga2.conf").display().to_string();
    run(icinga2(dir, &["daemon", "-C", "-c", &conf]));
    let log = std::fs::File::create(dir.join("icinga2.out")).unwrap();
    let _icinga = Icinga(
        icinga2(dir, &["daemon", "-c", &conf])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let api = Api::new(dir, api_port);
    wait_for("Icinga's API", async || api.service("HTTP").await).await;
    api.check_result(json!({ "type": "Host", "host": "web01" }), 0, "UP")
        .await;

    // The README's old example: the API by IP address. The node certificate names the
    // node, so the write-back must say exactly that, not "error sending request".
    write(&kaden_yaml, &kaden_config(dir, port, "127.0.0.1", api_port));
    let by_ip = serve(&kaden, dir);
    let base = format!("http://127.0.0.1:{port}");
    api.service_result("HTTP", 2, "HTTP CRITICAL - 503 Service Unavailable")
        .await;
    let failing = incident_for(&base, "web01/HTTP", |i| {
        i["writebacks"][0]["last_error"].is_string()
    })
    .await;
    let error = failing["writebacks"][0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("does not name the host") && error.contains("NodeName"),
        "{error}"
    );
    assert_eq!(
        failing["writebacks"][0]["state"], "pending",
        "kept to retry"
    );
    by_ip.kill_9();

    // By the node's name, as plugins/icinga2/README.md now says: the same pending
    // acknowledgement lands.
    write(&kaden_yaml, &kaden_config(dir, port, NODE, api_port));
    let _kaden = serve(&kaden, dir);
    let acked = incident_for(&base, "web01/HTTP", |i| {
        i["writebacks"][0]["state"] == "done"
    })
    .await;
    assert_eq!(acked["calls"][0]["keys"], json!(["9#"]));
    assert_eq!(acked["alerts"][0]["source_ref"]["source"], "icinga2");
    let http = api.service("HTTP").await.unwrap();
    assert_eq!(http["acknowledgement"], 2.0, "sticky: {http}");
    assert!(
        http["acknowledgement_last_change"].as_f64().unwrap() > 0.0,
        "{http}"
    );

    // CRITICAL on DISK → 4# → schedule-downtime.
    api.service_result("DISK", 2, "DISK CRITICAL - 98% used")
        .await;
    incident_for(&base, "web01/DISK", |i| {
        i["writebacks"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w["action"] == "downtime" && w["state"] == "done")
        })
    })
    .await;
    let disk = api.service("DISK").await.unwrap();
    assert!(
        disk["downtime_depth"].as_f64().unwrap() >= 1.0,
        "DISK is in downtime: {disk}"
    );

    // OK → RECOVERY notification → the incident is resolved.
    api.service_result("HTTP", 0, "HTTP OK").await;
    incident_for(&base, "web01/HTTP", |i| i["status"] == "resolved").await;
}
