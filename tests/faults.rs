//! Fault injection against the built binary: kaden is killed (kill -9, or an abort at a
//! crash point inside a window too short to hit from outside) at each phase of a call,
//! restarted on the same database, and must then miss no page, place no double call,
//! and write back no acknowledgement twice. Telephony is the built-in simulator, which
//! forgets its calls with the process, as a call Twilio ended while kaden was down.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{KADEN, Site, TOKEN, fake_nagios, free_port, serve_crashing_at, wait_for};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const YAMADA: &str = "+819000000001";
const SUZUKI: &str = "+819000000002";

/// A daemon on the built-in simulator. `yamada` and `suzuki` script the simulated callees
/// (YAML flow mappings); `extra` is appended to the config.
fn site(yamada: &str, suzuki: &str, extra: &str) -> Site {
    let port = free_port();
    Site::new(port, |dir| {
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
      \"{YAMADA}\": {yamada}
      \"{SUZUKI}\": {suzuki}
users:
  - {{ id: yamada, name: 山田, phone: \"{YAMADA}\" }}
  - {{ id: suzuki, name: 鈴木, phone: \"{SUZUKI}\" }}
call_settings:
  - {{ id: infra, mode: round_robin, targets: [user:yamada, user:suzuki], retry_after: 5s }}
routes:
  - {{ when: {{ service: HTTP }}, call: infra }}
{extra}",
            dir = dir.display()
        )
    })
}

impl Site {
    /// web01/HTTP goes CRITICAL, through the generic API or as Nagios notifies it.
    async fn problem(&self, source: &str) -> Value {
        let (path, alert) = match source {
            "nagios" => (
                "/webhooks/nagios",
                json!({ "type": "PROBLEM", "host": "web01", "service": "HTTP",
                        "state": "CRITICAL", "output": "HTTP CRITICAL - 503", "problem_id": 7 }),
            ),
            _ => (
                "/api/v1/alerts",
                json!({ "source": "generic", "key": "web01/HTTP", "kind": "problem",
                        "severity": "high", "host": "web01", "service": "HTTP",
                        "summary": "HTTP CRITICAL - 503" }),
            ),
        };
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&alert)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        response.json().await.unwrap()
    }

    /// The call log of the incident, oldest first.
    async fn calls(&self, incident: &Value) -> Vec<Value> {
        let mut calls: Vec<Value> = self
            .get(&format!("/api/v1/calls?incident={incident}"))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default();
        calls.reverse();
        calls
    }

    /// Polls the call log until `check` holds; the limit only guards against a hang.
    async fn calls_until(
        &self,
        incident: &Value,
        what: &str,
        check: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        wait_for(what, async || {
            let calls = self.calls(incident).await;
            check(&calls).then_some(calls)
        })
        .await
    }
}

fn field<'a>(calls: &'a [Value], name: &str) -> Vec<&'a str> {
    calls
        .iter()
        .map(|c| c[name].as_str().unwrap_or(""))
        .collect()
}

#[tokio::test]
async fn killed_in_the_keypad_menu_the_next_call_goes_out_after_restart() {
    // Yamada answers and stays silent in the menu; Suzuki would acknowledge.
    let site = site(
        "{ behaviour: answer, keys: [], after_secs: 0 }",
        "{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }",
        "",
    );
    let daemon = site.serve().await;
    let incident = site.problem("generic").await["incident_id"].clone();
    site.calls_until(&incident, "Yamada in the menu", |c| {
        c.len() == 1 && c[0]["answered_at"].is_string()
    })
    .await;
    daemon.kill_9();

    let _daemon = site.serve().await;
    let restarted = std::time::Instant::now();
    let calls = site
        .calls_until(&incident, "a call-back to Yamada", |c| c.len() >= 2)
        .await;
    let waited = restarted.elapsed();
    assert_eq!(field(&calls, "outcome")[0], "lost", "{calls:#?}");
    assert_eq!(field(&calls, "user"), ["yamada", "yamada"]);
    assert!(
        waited.as_secs() < 60,
        "the call-back waits retry_after (5 s), not the old 15 minutes: {waited:?}"
    );
    // One call at a time for the call setting, before and after the restart.
    let live = calls.iter().filter(|c| c["ended_at"].is_null()).count();
    assert!(live <= 1, "{calls:#?}");
}

#[tokio::test]
async fn killed_while_ringing_the_next_person_is_called_after_restart() {
    let site = site(
        "{ behaviour: no_answer }",
        "{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }",
        "",
    );
    let daemon = site.serve().await;
    let incident = site.problem("generic").await["incident_id"].clone();
    site.calls_until(&incident, "Yamada's phone ringing", |c| {
        c.len() == 1 && c[0]["call_sid"].is_string()
    })
    .await;
    daemon.kill_9();

    let _daemon = site.serve().await;
    let calls = site
        .calls_until(&incident, "Suzuki acknowledging", |c| {
            c.iter().any(|c| c["keys"] == json!(["9#"]))
        })
        .await;
    assert_eq!(field(&calls, "user"), ["yamada", "suzuki"], "{calls:#?}");
    assert_eq!(field(&calls, "outcome")[0], "lost");
}

#[tokio::test]
async fn crash_after_writing_the_acknowledgement_does_not_send_it_twice() {
    let tmp_site = site(
        "{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }",
        "{ behaviour: no_answer }",
        "",
    );
    let dir = tmp_site.dir.clone();
    let config = std::fs::read_to_string(dir.join("kaden.yaml")).unwrap()
        + &format!(
            "sources:\n  nagios: {{ command_file: {d}/nagios.cmd, status_file: {d}/status.dat }}\n",
            d = dir.display()
        );
    std::fs::write(dir.join("kaden.yaml"), config).unwrap();
    let commands = fake_nagios(&dir);

    let daemon = tmp_site.serve_crashing_at("writeback-sent").await;
    let incident = tmp_site.problem("nagios").await["incident_id"].clone();
    daemon.crashed().await;
    let acks = |commands: &Mutex<Vec<String>>| {
        commands
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.contains("ACKNOWLEDGE_SVC_PROBLEM"))
            .count()
    };
    assert_eq!(acks(&commands), 1, "the crash came after the write");

    let _daemon = tmp_site.serve().await;
    let detail = wait_for("the write-back to be settled", async || {
        let detail = tmp_site.get(&format!("/api/v1/incidents/{incident}")).await;
        (detail["writebacks"][0]["state"] == "done").then_some(detail)
    })
    .await;
    assert_eq!(acks(&commands), 1, "{:?}", commands.lock().unwrap());
    assert_eq!(detail["calls"].as_array().unwrap().len(), 1, "{detail:#}");
}

#[tokio::test]
async fn a_twilio_outage_is_retried_then_the_next_person_is_called() {
    let site = site(
        "{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }",
        "{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }",
        "",
    );
    let _daemon = site.serve().await;
    // Four 503s use up every attempt for Yamada's call; Suzuki's goes through on the
    // third attempt.
    let response = reqwest::Client::new()
        .put(format!("{}/sim/outage", site.base))
        .bearer_auth(TOKEN)
        .json(&json!({ "requests": 6, "status": 503 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let incident = site.problem("generic").await["incident_id"].clone();
    let calls = site
        .calls_until(&incident, "an acknowledgement", |c| {
            c.iter().any(|c| c["outcome"] == "acknowledged")
        })
        .await;
    assert_eq!(field(&calls, "user"), ["yamada", "suzuki"], "{calls:#?}");
    assert_eq!(field(&calls, "outcome"), ["failed", "acknowledged"]);
}

#[tokio::test]
async fn crash_between_storing_a_spooled_alert_and_removing_it_stores_it_once() {
    let site = site(
        "{ behaviour: answer, keys: [\"9#\"], after_secs: 0 }",
        "{ behaviour: no_answer }",
        "",
    );
    // The daemon is down: the notification command spools.
    let notified = std::process::Command::new(KADEN)
        .args(["nagios-notify", "-c"])
        .arg(site.dir.join("kaden.yaml"))
        .args(["--type", "PROBLEM", "--host", "web01", "--service", "HTTP"])
        .args(["--state", "CRITICAL", "--output", "HTTP CRITICAL - 503"])
        .args(["--time", "1796140000"])
        .output()
        .unwrap();
    assert!(notified.status.success(), "{notified:?}");
    let spooled = || {
        std::fs::read_dir(site.dir.join("spool"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    };
    assert_eq!(spooled(), 1);

    // The first daemon stores it and dies before removing the file.
    let crashing = serve_crashing_at(Path::new(KADEN), &site.dir, Some("spool-delivered"));
    crashing.crashed().await;
    assert_eq!(spooled(), 1, "the crash came before the file was removed");

    let _daemon = site.serve().await;
    wait_for("the spool to be drained", async || {
        (spooled() == 0).then_some(())
    })
    .await;
    let incidents = site.get("/api/v1/incidents").await;
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents:#}");
    let detail = site
        .get(&format!("/api/v1/incidents/{}", incidents[0]["id"]))
        .await;
    assert_eq!(detail["alerts_total"], 1, "stored once: {detail:#}");
}

/// A small file system of its own for the database, which the test can fill; unmounted
/// when the test ends. (It cannot be made read-only under the daemon: the kernel refuses
/// to remount a file system with files open for writing.)
struct Disk(PathBuf);

impl Disk {
    fn mount(dir: &Path, size: &str) -> Disk {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount a tmpfs (needs root)");
        Disk(dir.to_owned())
    }
}

impl Disk {
    fn grow(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "grow the tmpfs to {size}");
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

async fn health(site: &Site) -> u16 {
    reqwest::get(format!("{}/healthz", site.base))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// POSTs a problem with a big output; (status, JSON answer).
async fn post_big(site: &Site, n: usize) -> (u16, Value) {
    let alert = json!({
        "source": "generic", "key": format!("big-{n}"), "kind": "problem", "severity": "info",
        "host": format!("big-{n}"), "summary": "x".repeat(200_000),
    });
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/alerts", site.base))
        .bearer_auth(TOKEN)
        .json(&alert)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
#[ignore = "needs root to mount a small tmpfs for the database; run by .ci/run"]
async fn a_full_disk_is_reported_and_nothing_answered_is_lost() {
    let site = site("{ behaviour: no_answer }", "{ behaviour: no_answer }", "");
    let disk = Disk::mount(&site.dir.join("disk"), "8M");
    let filler = disk.0.join("filler");
    let config = std::fs::read_to_string(site.dir.join("kaden.yaml"))
        .unwrap()
        .replace(
            &format!("sqlite: {}/kaden.db", site.dir.display()),
            &format!("sqlite: {}/disk/kaden.db", site.dir.display()),
        );
    std::fs::write(site.dir.join("kaden.yaml"), config).unwrap();
    let _daemon = site.serve().await;
    assert_eq!(health(&site).await, 200);

    assert_eq!(post_big(&site, 1).await.0, 202);

    // Full: big alerts are taken until the disk is full, then refused with a 5xx that the
    // sender retries; nothing is answered 202 that is not on disk.
    let mut accepted = 1;
    let refused = loop {
        let (status, answer) = post_big(&site, accepted + 1).await;
        match status {
            202 => accepted += 1,
            _ => break (status, answer),
        }
        assert!(accepted < 200, "an 8 MB disk never filled");
    };
    assert!(refused.0 >= 500, "{refused:?}");
    assert!(refused.1["error"].is_string(), "{refused:?}");
    // Every alert answered 202 is there.
    let incidents = site.get("/api/v1/incidents?limit=1000").await;
    let stored: u64 = incidents
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["problems"].as_u64().unwrap())
        .sum();
    assert_eq!(stored, accepted as u64, "{incidents:#}");
    // Whatever space is left, a filler takes it: now no write can commit.
    let _ = std::fs::write(&filler, vec![0u8; 8 << 20]);
    assert_eq!(health(&site).await, 503, "health tells the truth");
    // Space again (the operator frees some, the disk grows): the daemon takes alerts
    // again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    disk.grow("32M");
    assert_eq!(health(&site).await, 200);
    assert_eq!(post_big(&site, 0).await.0, 202);
}
