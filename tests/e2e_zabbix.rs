//! End to end against a real Zabbix 6.0: the shipped media type is imported through the
//! API, a trapper value raises a problem, Zabbix delivers it to kaden, kaden phones
//! (simulator), 9# is pressed, and event.get shows the event acknowledged with kaden's
//! message; the recovery resolves the incident.
//!
//! Needs Debian's zabbix-server-pgsql, zabbix-frontend-php, php-pgsql, postgresql and
//! root; `.ci/run` installs them and runs `cargo test --test e2e_zabbix -- --ignored`.

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{KADEN, KADEN_NOTIFY, TOKEN, free_port, incident, serve, serve_crashing_at, wait_for};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/zabbix")
        .join(name)
}

struct Zabbix {
    dir: PathBuf,
    api: String,
    trapper: u16,
}

impl Drop for Zabbix {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script("down.sh"))
            .arg(&self.dir)
            .status();
    }
}

async fn rpc(api: &str, method: &str, params: Value, auth: Option<&str>) -> Value {
    let mut body = json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": 1 });
    if let Some(auth) = auth {
        body["auth"] = auth.into();
    }
    let answer: Value = reqwest::Client::new()
        .post(api)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

/// Sends one trapper value with the Zabbix sender protocol (ZBXD header + JSON).
fn send_value(port: u16, host: &str, key: &str, value: &str) {
    use std::io::{Read, Write};
    let data =
        json!({ "request": "sender data", "data": [{ "host": host, "key": key, "value": value }] })
            .to_string();
    let mut frame = b"ZBXD\x01".to_vec();
    frame.extend((data.len() as u64).to_le_bytes());
    frame.extend(data.as_bytes());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(&frame).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains("processed: 1"), "trapper answer: {text}");
}

async fn start_zabbix(dir: &Path) -> Zabbix {
    let (pg, trapper, web) = (free_port(), free_port(), free_port());
    let out = Command::new("bash")
        .arg(script("up.sh"))
        .arg(dir)
        .args([pg.to_string(), trapper.to_string(), web.to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tests/zabbix/up.sh failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let zabbix = Zabbix {
        dir: dir.to_owned(),
        api: format!("http://127.0.0.1:{web}/api_jsonrpc.php"),
        trapper,
    };
    let api = zabbix.api.clone();
    wait_for("the Zabbix API", async || {
        let body = json!({ "jsonrpc": "2.0", "method": "apiinfo.version", "params": {}, "id": 1 });
        let r = reqwest::Client::new()
            .post(&api)
            .json(&body)
            .send()
            .await
            .ok()?;
        r.json::<Value>().await.ok()?.get("result").cloned()
    })
    .await;
    zabbix
}

fn shipped(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("plugins/zabbix")
            .join(file),
    )
    .unwrap()
}

async fn login(api: &str) -> String {
    let auth = rpc(
        api,
        "user.login",
        json!({ "username": "Admin", "password": "zabbix" }),
        None,
    )
    .await;
    auth.as_str().unwrap().to_owned()
}

/// Imports both shipped media types and wires hosts, trapper items, triggers and an
/// action to them, all through the API. Returns the (webhook, alertscript) media type ids.
async fn configure(api: &str, kaden: &str, config: &Path) -> (String, String) {
    let auth = login(api).await;
    let auth = Some(auth.as_str());
    let rules = json!({ "mediaTypes": { "createMissing": true, "updateExisting": true } });
    for file in ["media_kaden.yaml", "media_kaden_script.yaml"] {
        rpc(
            api,
            "configuration.import",
            json!({ "format": "yaml", "rules": rules, "source": shipped(file) }),
            auth,
        )
        .await;
    }
    let media = rpc(
        api,
        "mediatype.get",
        json!({ "output": "extend", "filter": { "name": "kaden" } }),
        auth,
    )
    .await;
    let webhook = media[0]["mediatypeid"].as_str().unwrap().to_owned();
    let parameters: Vec<Value> = media[0]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| match p["name"].as_str().unwrap() {
            "url" => json!({ "name": "url", "value": format!("{kaden}/webhooks/zabbix") }),
            "token" => json!({ "name": "token", "value": TOKEN }),
            _ => json!({ "name": p["name"], "value": p["value"] }),
        })
        .collect();
    rpc(
        api,
        "mediatype.update",
        json!({ "mediatypeid": webhook, "parameters": parameters }),
        auth,
    )
    .await;
    let script = rpc(
        api,
        "mediatype.get",
        json!({ "output": "extend", "filter": { "name": "kaden (alertscript)" } }),
        auth,
    )
    .await;
    let alertscript = script[0]["mediatypeid"].as_str().unwrap().to_owned();
    let exec_params = script[0]["exec_params"]
        .as_str()
        .unwrap()
        .replace("/etc/kaden/kaden.yaml", &config.display().to_string());
    rpc(
        api,
        "mediatype.update",
        json!({ "mediatypeid": alertscript, "exec_params": exec_params }),
        auth,
    )
    .await;

    let group = rpc(
        api,
        "hostgroup.create",
        json!({ "name": "kaden e2e" }),
        auth,
    )
    .await;
    for name in ["web01", "db01", "ops01"] {
        let host = rpc(
            api,
            "host.create",
            json!({ "host": name, "groups": [{ "groupid": group["groupids"][0] }] }),
            auth,
        )
        .await;
        let item = json!({ "name": "HTTP status", "key_": "http.status", "hostid": host["hostids"][0], "type": 2, "value_type": 3 });
        rpc(api, "item.create", item, auth).await;
        let trigger = json!({ "description": "HTTP is down", "expression": format!("last(/{name}/http.status)<>200"), "priority": 4 });
        rpc(api, "trigger.create", trigger, auth).await;
    }
    // "0": every media of the user; the test switches Admin from webhook to alertscript.
    let message = json!({ "default_msg": 1, "mediatypeid": "0" });
    rpc(
        api,
        "action.create",
        json!({
            "name": "kaden", "eventsource": 0, "status": 0, "esc_period": "1h",
            "operations": [{ "operationtype": 0, "opmessage_usr": [{ "userid": "1" }], "opmessage": message }],
            "recovery_operations": [{ "operationtype": 11, "opmessage": { "default_msg": 1 } }],
            "update_operations": [{ "operationtype": 12, "opmessage": { "default_msg": 1 } }],
        }),
        auth,
    )
    .await;
    (webhook, alertscript)
}

/// Gives Admin one media: the phone number on `mediatypeid`.
async fn use_media(api: &str, mediatypeid: &str) {
    let auth = login(api).await;
    let media = json!([{ "mediatypeid": mediatypeid, "sendto": "+819000000001", "active": 0, "severity": 63, "period": "1-7,00:00-24:00" }]);
    rpc(
        api,
        "user.update",
        json!({ "userid": "1", "medias": media }),
        Some(auth.as_str()),
    )
    .await;
}

/// Raises a problem on `host`, waits for kaden's acknowledgement to be written back, checks
/// Zabbix shows it, then recovers the host and waits for the incident to resolve.
/// After `host`'s problem was sent: it is phoned, acknowledged once, and recovers.
async fn problem_acknowledged_and_recovered(zabbix: &Zabbix, base: &str, host: &str) {
    let acked = wait_for(
        &format!("{host}'s acknowledgement to be written back"),
        async || {
            incident(base, |i| {
                i["problem_list"][0]["host"] == host && i["writebacks"][0]["state"] == "done"
            })
            .await
        },
    )
    .await;
    assert_eq!(acked["calls"][0]["keys"], json!(["9#"]));
    let event_id = acked["alerts"][0]["source_ref"]["event_id"]
        .as_u64()
        .unwrap();
    let auth = login(&zabbix.api).await;
    let params = json!({ "eventids": event_id.to_string(), "output": ["acknowledged"], "select_acknowledges": "extend" });
    let events = rpc(&zabbix.api, "event.get", params, Some(auth.as_str())).await;
    assert_eq!(events[0]["acknowledged"], "1", "{events}");
    assert_eq!(
        events[0]["acknowledges"].as_array().map(Vec::len),
        Some(1),
        "exactly one acknowledgement: {events}"
    );
    let message = events[0]["acknowledges"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("電話で山田 (+819000000001) が対応開始"),
        "{message}"
    );

    send_value(zabbix.trapper, host, "http.status", "200");
    wait_for(&format!("{host}'s recovery"), async || {
        incident(base, |i| {
            i["problem_list"][0]["host"] == host && i["status"] == "resolved"
        })
        .await
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a real Zabbix 6.0 and root; run by .ci/run"]
async fn zabbix_problems_are_phoned_and_acknowledged_in_both_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let zabbix = start_zabbix(dir).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = format!(
        "\
server:
  listen: 127.0.0.1:{port}
  api_tokens: [{TOKEN}]
storage:
  sqlite: {dir}/kaden.db
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
  - {{ id: infra, targets: [user:yamada] }}
  - {{ id: downtime, targets: [user:suzuki] }}
routes:
  - {{ when: {{ host: ops01 }}, call: downtime }}
  - {{ when: {{ source: zabbix }}, call: infra }}
sources:
  zabbix: {{ api_url: \"{api}\", username: Admin, password: zabbix }}
",
        dir = dir.display(),
        api = zabbix.api
    );
    std::fs::write(dir.join("kaden.yaml"), config).unwrap();
    // The first run dies right after event.acknowledge reached Zabbix.
    let crashing = serve_crashing_at(Path::new(KADEN), dir, Some("writeback-sent"));
    // Zabbix runs alertscripts from AlertScriptsPath, as the shipped media type names it.
    std::fs::copy(KADEN_NOTIFY, dir.join("alertscripts/kaden-notify")).unwrap();
    let (webhook, alertscript) = configure(&zabbix.api, &base, &dir.join("kaden.yaml")).await;

    use_media(&zabbix.api, &webhook).await;
    // The server picks up configuration within CacheUpdateFrequency (1 s here).
    tokio::time::sleep(Duration::from_secs(3)).await;
    send_value(zabbix.trapper, "web01", "http.status", "503");
    crashing.crashed().await;
    let _kaden = serve(Path::new(KADEN), dir);
    problem_acknowledged_and_recovered(&zabbix, &base, "web01").await;

    // 4# on Zabbix 6.0: a maintenance period for the host.
    send_value(zabbix.trapper, "ops01", "http.status", "503");
    wait_for("the downtime to be written back", async || {
        incident(&base, |i| {
            i["problem_list"][0]["host"] == "ops01"
                && i["writebacks"].as_array().is_some_and(|w| {
                    w.iter()
                        .any(|w| w["action"] == "downtime" && w["state"] == "done")
                })
        })
        .await
    })
    .await;
    let auth = login(&zabbix.api).await;
    let maintenances = rpc(
        &zabbix.api,
        "maintenance.get",
        json!({ "output": "extend", "selectHosts": ["host"] }),
        Some(auth.as_str()),
    )
    .await;
    assert_eq!(
        maintenances[0]["hosts"][0]["host"], "ops01",
        "{maintenances}"
    );
    assert!(
        maintenances[0]["name"]
            .as_str()
            .unwrap()
            .starts_with("kaden: event "),
        "{maintenances}"
    );

    use_media(&zabbix.api, &alertscript).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    send_value(zabbix.trapper, "db01", "http.status", "503");
    problem_acknowledged_and_recovered(&zabbix, &base, "db01").await;
}
