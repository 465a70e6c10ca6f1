//! Several instances on one real PostgreSQL (Debian's server, a throw-away cluster),
//! behind a small load balancer that is their `public_url`. Telephony is a separate kaden
//! running the simulator, reached as Twilio: it outlives the instances, as Twilio does.
//! Needs root (PostgreSQL runs as `postgres`); `.ci/run` runs it:
//! `cargo test --test cluster -- --ignored`.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use e2e::{Killed, Site, TOKEN, fake_nagios, free_port, wait_for};
use pg_cluster::PgCluster;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const YAMADA: &str = "+819000000001";
const SUZUKI: &str = "+819000000002";
const SIM_TOKEN: &str = "simulator-token-0123456789abcdef";
const SIM_ACCOUNT: &str = "AC00000000000000000000000000000000";

/// The simulator, as its own kaden: Yamada never answers, Suzuki acknowledges.
fn simulator() -> Site {
    let port = free_port();
    Site::new(port, |dir| {
        format!(
            "\
server:
  listen: 127.0.0.1:{port}
  api_tokens: [{TOKEN}]
storage:
  sqlite: {dir}/sim.db
  spool: {dir}/spool
telephony:
  provider: simulator
  simulator:
    auth_token: {SIM_TOKEN}
    phones:
      \"{YAMADA}\": {{ behaviour: no_answer }}
      \"{SUZUKI}\": {{ behaviour: answer, keys: [\"9#\"], after_secs: 1 }}
",
            dir = dir.display()
        )
    })
}

/// Every instance's settings apart from its port.
struct Shared<'a> {
    pg: &'a PgCluster,
    sim: &'a Site,
    public_url: &'a str,
    /// Nagios's command file and status file are here.
    nagios: &'a Path,
    ring_timeout: &'a str,
}

/// One instance on the shared database, calling through the simulator.
fn instance(shared: &Shared, port: u16) -> Site {
    let Shared {
        pg,
        sim,
        public_url,
        nagios,
        ring_timeout,
    } = shared;
    Site::new(port, |dir| {
        format!(
            "\
server:
  listen: 127.0.0.1:{port}
  public_url: {public_url}
  api_tokens: [{TOKEN}]
storage:
  postgres: {pg}
  spool: {dir}/spool
telephony:
  provider: twilio
  twilio:
    account_sid: {SIM_ACCOUNT}
    auth_token: {SIM_TOKEN}
    from: \"+815012345678\"
    api_base: {sim}/sim/twilio
users:
  - {{ id: yamada, name: 山田, phone: \"{YAMADA}\" }}
  - {{ id: suzuki, name: 鈴木, phone: \"{SUZUKI}\" }}
call_settings:
  - {{ id: infra, mode: round_robin, targets: [user:yamada, user:suzuki], ring_timeout: {ring_timeout}, retry_after: 5s }}
routes:
  - {{ when: {{ service: HTTP }}, call: infra }}
sources:
  nagios: {{ command_file: {nagios}/nagios.cmd, status_file: {nagios}/status.dat }}
",
            pg = pg.url,
            sim = sim.base,
            nagios = nagios.display(),
            dir = dir.display(),
        )
    })
}

/// PostgreSQL, the simulator, Nagios's files and the balancer, with `count` instances
/// behind it (not started yet), Yamada's phone ringing for `ring_timeout`.
struct Deployment {
    sim: Site,
    instances: Vec<Site>,
    /// What reached Nagios's command file.
    commands: Arc<std::sync::Mutex<Vec<String>>>,
    pg: PgCluster,
    _sim: Killed,
    _nagios: tempfile::TempDir,
}

async fn deployment(count: usize, ring_timeout: &str) -> Deployment {
    let pg = PgCluster::start();
    let sim = simulator();
    let sim_daemon = sim.serve().await;
    let nagios = tempfile::tempdir().unwrap();
    let commands = fake_nagios(nagios.path());
    let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
    let proxy = balancer(
        ports
            .iter()
            .map(|port| format!("http://127.0.0.1:{port}"))
            .collect(),
    )
    .await;
    let shared = Shared {
        pg: &pg,
        sim: &sim,
        public_url: &proxy,
        nagios: nagios.path(),
        ring_timeout,
    };
    let instances = ports.iter().map(|port| instance(&shared, *port)).collect();
    Deployment {
        sim,
        instances,
        commands,
        pg,
        _sim: sim_daemon,
        _nagios: nagios,
    }
}

/// The load balancer in front of the instances: requests go round the backends, and one
/// that refuses the connection is skipped (nginx's `proxy_next_upstream error`, which
/// does not resend a POST that reached a backend).
async fn balancer(backends: Vec<String>) -> String {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let forward = move |request: axum::extract::Request| {
        let (client, backends, next) = (client.clone(), backends.clone(), next.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let path = parts.uri.path_and_query().unwrap().as_str().to_owned();
            let first = next.fetch_add(1, Ordering::Relaxed);
            for i in 0..backends.len() {
                let backend = &backends[(first + i) % backends.len()];
                let mut forwarded = client
                    .request(parts.method.clone(), format!("{backend}{path}"))
                    .body(body.clone());
                for (name, value) in &parts.headers {
                    if name != "host" && name != "content-length" {
                        forwarded = forwarded.header(name, value);
                    }
                }
                match forwarded.send().await {
                    Ok(answer) => {
                        let status = answer.status();
                        let headers = answer.headers().clone();
                        let mut response = axum::response::Response::new(axum::body::Body::from(
                            answer.bytes().await.unwrap(),
                        ));
                        *response.status_mut() = status;
                        for (name, value) in &headers {
                            if name != "content-length" && name != "transfer-encoding" {
                                response.headers_mut().insert(name, value.clone());
                            }
                        }
                        return response;
                    }
                    Err(e) if e.is_connect() => continue,
                    // The backend died with the request: like nginx, no second try of a
                    // request that may have been acted on.
                    Err(_) => break,
                }
            }
            let mut response = axum::response::Response::new(axum::body::Body::from("no backend"));
            *response.status_mut() = axum::http::StatusCode::BAD_GATEWAY;
            response
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(forward))
            .await
            .unwrap()
    });
    url
}

/// HOST/HTTP goes CRITICAL, as Nagios notifies it.
async fn nagios_problem(base: &str, host: &str) -> reqwest::StatusCode {
    static CLIENT: std::sync::LazyLock<reqwest::Client> =
        std::sync::LazyLock::new(reqwest::Client::new);
    CLIENT
        .post(format!("{base}/webhooks/nagios"))
        .bearer_auth(TOKEN)
        .json(&json!({ "type": "PROBLEM", "host": host, "service": "HTTP",
                       "state": "CRITICAL", "output": "HTTP CRITICAL - 503" }))
        .send()
        .await
        .unwrap()
        .status()
}

/// The call log, oldest first; empty while the database is away (a 503).
async fn calls(site: &Site) -> Vec<Value> {
    let answer = site.get("/api/v1/calls").await;
    let mut calls = answer.as_array().cloned().unwrap_or_default();
    calls.reverse();
    calls
}

/// How many calls the simulator was asked to place to `number`.
async fn placed_to(sim: &Site, number: &str) -> usize {
    let calls = sim.get("/sim/calls").await;
    calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["to"] == number)
        .count()
}

fn acknowledgements(commands: &std::sync::Mutex<Vec<String>>) -> usize {
    let commands = commands.lock().unwrap();
    commands
        .iter()
        .filter(|c| c.contains("ACKNOWLEDGE_SVC_PROBLEM;web01;HTTP;"))
        .count()
}

#[tokio::test]
#[ignore = "needs root and Debian's postgresql; run by .ci/run"]
async fn the_leader_killed_while_a_phone_rings_the_other_instance_calls_the_next_person() {
    let Deployment {
        sim,
        instances,
        commands,
        ..
    } = &deployment(2, "8s").await;
    let [a, b] = &instances[..] else {
        unreachable!()
    };
    let leader = a.serve().await;
    assert_eq!(a.health().await.unwrap()["leader"], true);
    let _b = b.serve().await;
    let health = b.health().await.unwrap();
    assert_eq!(health["leader"], false, "{health}");
    assert_ne!(health["instance"], a.health().await.unwrap()["instance"]);

    // The alert reaches the standby, which hands it to the leader.
    assert_eq!(nagios_problem(&b.base, "web01").await, 202);
    let ringing = wait_for("Yamada's phone ringing", async || {
        let calls = calls(b).await;
        (calls.len() == 1 && calls[0]["user"] == "yamada").then_some(calls)
    })
    .await;
    wait_for("the simulator ringing Yamada", async || {
        (placed_to(sim, YAMADA).await == 1).then_some(())
    })
    .await;
    leader.kill_9();
    let killed = Instant::now();
    wait_for("B to take over", async || {
        (b.health().await?["leader"] == true).then_some(())
    })
    .await;
    let takeover = killed.elapsed();

    // Yamada's no-answer reaches B through the balancer; B calls Suzuki. Both instants
    // as the simulator (Twilio) shows them, polled every 50 ms.
    let mut no_answer = None;
    let failover = loop {
        let calls = sim.get("/sim/calls").await;
        let status_of = |number: &str| {
            calls
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["to"] == number)
                .map(|c| c["status"].clone())
        };
        if no_answer.is_none() && status_of(YAMADA) == Some(json!("no-answer")) {
            no_answer = Some(Instant::now());
        }
        if let Some(at) = no_answer
            && status_of(SUZUKI).is_some()
        {
            break at.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(90),
            "no call to Suzuki: {calls:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "failover: the leader killed while Yamada's phone rang; the other instance led {:.2} s later and called Suzuki {:.2} s after Yamada's no-answer",
        takeover.as_secs_f64(),
        failover.as_secs_f64()
    );
    let calls = wait_for("Suzuki's acknowledgement", async || {
        let calls = calls(b).await;
        calls
            .iter()
            .any(|c| c["keys"] == json!(["9#"]))
            .then_some(calls)
    })
    .await;
    let users: Vec<&str> = calls.iter().map(|c| c["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["yamada", "suzuki"], "{calls:#?}");
    assert_eq!(calls[0]["placed_at"], ringing[0]["placed_at"]);
    assert_eq!(calls[0]["outcome"], "no-answer", "{calls:#?}");

    // Exactly one call per person, one acknowledgement, one write-back.
    let incident = &e2e::incident(&b.base, |_| true).await.unwrap();
    assert_eq!(incident["status"], "acknowledged", "{incident:#}");
    wait_for("the acknowledgement written back to Nagios", async || {
        (acknowledgements(commands) == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        acknowledgements(commands),
        1,
        "{:?}",
        commands.lock().unwrap()
    );
    assert_eq!(placed_to(sim, YAMADA).await, 1);
    assert_eq!(placed_to(sim, SUZUKI).await, 1);
    assert!(b.log().contains("This instance leads now"), "{}", b.log());
}

#[tokio::test]
#[ignore = "needs root and Debian's postgresql; run by .ci/run"]
async fn a_thousand_alerts_to_both_instances_make_one_incident_and_one_call() {
    // Yamada's phone rings through the whole storm.
    let Deployment { sim, instances, .. } = &deployment(2, "120s").await;
    let [a, b] = &instances[..] else {
        unreachable!()
    };
    let _a = a.serve().await;
    let _b = b.serve().await;
    let started = Instant::now();
    // 16 senders at once, each alternating between the instances.
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..16 {
        let bases = [a.base.clone(), b.base.clone()];
        senders.spawn(async move {
            let mut refused = Vec::new();
            for i in (sender..1000).step_by(16) {
                let status = nagios_problem(&bases[i % 2], &format!("web{i:04}")).await;
                if status != 202 {
                    refused.push((i, status));
                }
            }
            refused
        });
    }
    let refused: Vec<_> = senders.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    assert!(refused.is_empty(), "{refused:?}");
    println!(
        "1,000 alerts, half through each instance: all accepted in {:.2} s",
        elapsed.as_secs_f64()
    );
    for site in [&a, &b] {
        let incidents = site.get("/api/v1/incidents").await;
        let incidents = incidents.as_array().unwrap();
        assert_eq!(
            incidents.len(),
            1,
            "one incident for the call setting: {incidents:#?}"
        );
        let detail = site
            .get(&format!("/api/v1/incidents/{}", incidents[0]["id"]))
            .await;
        assert_eq!(detail["alerts_total"], 1000, "none lost");
    }
    wait_for("Yamada called", async || {
        (placed_to(sim, YAMADA).await == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(placed_to(sim, YAMADA).await, 1, "one call per responder");
    assert_eq!(
        placed_to(sim, SUZUKI).await,
        0,
        "Yamada's phone still rings"
    );
}

#[tokio::test]
#[ignore = "needs root and Debian's postgresql; run by .ci/run"]
async fn postgresql_restarted_during_an_escalation_kaden_reconnects_and_goes_on() {
    let Deployment {
        sim,
        instances,
        commands,
        pg,
        ..
    } = &deployment(1, "8s").await;
    let a = &instances[0];
    let _a = a.serve().await;
    assert_eq!(nagios_problem(&a.base, "web01").await, 202);
    wait_for("Yamada's phone ringing", async || {
        (placed_to(sim, YAMADA).await == 1).then_some(())
    })
    .await;
    pg.restart();

    // Yamada's no-answer comes while the connection is new or still lost; either way
    // Suzuki is called, acknowledges, and Nagios hears of it once.
    let calls = wait_for("Suzuki's acknowledgement", async || {
        let calls = calls(a).await;
        calls
            .iter()
            .any(|c| c["keys"] == json!(["9#"]))
            .then_some(calls)
    })
    .await;
    let users: Vec<&str> = calls.iter().map(|c| c["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["yamada", "suzuki"], "{calls:#?}");
    wait_for("the acknowledgement written back to Nagios", async || {
        (acknowledgements(commands) == 1).then_some(())
    })
    .await;
    // A new alert after the restart is stored as before.
    assert_eq!(nagios_problem(&a.base, "db01").await, 202);
    let mut stored = 0;
    for summary in a.get("/api/v1/incidents").await.as_array().unwrap() {
        let detail = a.get(&format!("/api/v1/incidents/{}", summary["id"])).await;
        stored += detail["alerts_total"].as_u64().unwrap();
    }
    assert_eq!(
        stored, 2,
        "the alert after the restart is stored beside the first"
    );
    assert!(a.log().contains("Reconnected to PostgreSQL"), "{}", a.log());
    assert_eq!(acknowledgements(commands), 1);
}

#[tokio::test]
#[ignore = "needs root and Debian's postgresql; run by .ci/run"]
async fn a_call_placed_by_a_leader_that_died_before_storing_its_sid_is_found_not_placed_again() {
    let Deployment { sim, instances, .. } = &deployment(2, "8s").await;
    let [a, b] = &instances[..] else {
        unreachable!()
    };
    // A aborts right after Twilio created Yamada's call, before it stored the sid.
    let leader = a.serve_crashing_at("call-created").await;
    let _b = b.serve().await;
    assert_eq!(nagios_problem(&b.base, "web01").await, 202);
    leader.crashed().await;
    wait_for("B to take over", async || {
        (b.health().await?["leader"] == true).then_some(())
    })
    .await;

    // B finds Yamada's ringing call at Twilio and keeps it; nobody is called twice.
    let calls = wait_for("Suzuki's acknowledgement", async || {
        let calls = calls(b).await;
        calls
            .iter()
            .any(|c| c["keys"] == json!(["9#"]))
            .then_some(calls)
    })
    .await;
    let users: Vec<&str> = calls.iter().map(|c| c["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["yamada", "suzuki"], "{calls:#?}");
    assert_eq!(calls[0]["outcome"], "no-answer", "{calls:#?}");
    assert_eq!(placed_to(sim, YAMADA).await, 1);
    assert_eq!(placed_to(sim, SUZUKI).await, 1);
    assert!(
        b.log().contains("was found at Twilio; keeping it"),
        "{}",
        b.log()
    );
}
