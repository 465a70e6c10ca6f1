//! Alert ingest under load: throughput next to Alertmanager, the 10,000-alert storm,
//! one incident growing to 10,000 keys, and a key with 100,000 closed incidents behind it.

use crate::daemon::{Alertmanager, Kaden, Phones, RESPONDERS, alert, peak_rss_mb, problem};
use crate::floor::Floor;
use crate::load::{Req, closed_loop, open_loop};
use crate::{Row, ms};
use serde_json::json;
use std::time::Duration;

const CONNECTIONS: usize = 8;
const THROUGHPUT_FOR: Duration = Duration::from_secs(5);

/// Measure 1: single-alert POSTs/s on 8 keep-alive connections for 5 s: kaden routed
/// (every alert joins one incident and goes through the escalation engine), kaden
/// unrouted (stored only), Alertmanager (in memory) with one alert per POST, each with
/// its own labels, and the durable floor (`floor.rs`) with kaden's routed alerts.
pub async fn throughput() -> Vec<Row> {
    let mut kaden = Vec::new();
    for (label, severity) in [("routed", "high"), ("unrouted", "warning")] {
        let daemon = Kaden::start(&Phones::Simulator).await;
        let (rate, rss) = closed_loop_printed(
            &format!("kaden {label}"),
            daemon.addr,
            daemon.pid(),
            problem("load", severity),
        )
        .await;
        kaden.push((label, rate, rss));
    }
    let reference = match Alertmanager::start().await {
        Some(am) => Some(
            closed_loop_printed("alertmanager", am.addr, am.pid(), |i| {
                Req::json(
                    "/api/v2/alerts",
                    &json!([{
                        "labels": { "alertname": "HostDown", "instance": format!("load/host-{i:05}"), "severity": "critical" },
                        "annotations": { "summary": "PING CRITICAL - Packet loss = 100%" },
                    }]),
                )
            })
            .await,
        ),
        None => {
            println!(
                "Prometheus Alertmanager is not installed ({}); no reference, no ratio (bench/run.sh installs it).",
                crate::daemon::ALERTMANAGER
            );
            None
        }
    };
    let floor = Floor::start().await;
    let (floor_rate, _) = closed_loop_printed(
        "durable floor",
        floor.addr,
        floor.pid(),
        problem("load", "high"),
    )
    .await;
    drop(floor);
    let versus_alertmanager = |rate: f64| {
        (
            reference.map_or("Alertmanager not installed".into(), |(r, _)| {
                format!("Alertmanager {r:.0} /s")
            }),
            reference.map(|(r, _)| rate / r),
        )
    };
    let mut rows: Vec<Row> = kaden
        .iter()
        .map(|(label, rate, _)| {
            let (reference, ratio) = versus_alertmanager(*rate);
            Row {
                measure: format!("single-alert POSTs/s, {CONNECTIONS} conns, {label}"),
                kaden: format!("{rate:.0} /s"),
                reference,
                ratio,
            }
        })
        .collect();
    let (reference_text, ratio) = versus_alertmanager(floor_rate);
    rows.push(Row {
        measure: "  the durable floor's rate (append + fdatasync only)".into(),
        kaden: format!("{floor_rate:.0} /s"),
        reference: reference_text,
        ratio,
    });
    if let Some((_, routed, _)) = kaden.first() {
        rows.push(Row {
            measure: "  kaden routed vs the durable floor".into(),
            kaden: format!("{routed:.0} /s"),
            reference: format!("durable floor {floor_rate:.0} /s"),
            ratio: Some(routed / floor_rate),
        });
    }
    if let (Some((_, _, Some(kaden_mb))), Some((_, Some(am_mb)))) = (kaden.first(), reference) {
        rows.push(Row {
            measure: "peak RSS after the routed run above".into(),
            kaden: format!("{kaden_mb:.0} MB"),
            reference: format!("Alertmanager {am_mb:.0} MB"),
            ratio: Some(kaden_mb / am_mb),
        });
    }
    rows
}

/// Closed loop on `CONNECTIONS` connections for `THROUGHPUT_FOR`; prints and returns
/// the rate and the server's peak RSS.
async fn closed_loop_printed(
    label: &str,
    addr: std::net::SocketAddr,
    pid: u32,
    make: impl Fn(u64) -> Req + Send + Sync + 'static,
) -> (f64, Option<f64>) {
    let report = closed_loop(addr, CONNECTIONS, u64::MAX, THROUGHPUT_FOR, make).await;
    let rss = peak_rss_mb(pid);
    println!(
        "{label:<16} {:7.0} alerts/s  p50 {:6.1} ms  p99 {:6.1} ms  refused {}  peak RSS {:.0} MB",
        report.rate(),
        ms(report.latency(50.0)),
        ms(report.latency(99.0)),
        report.refused(),
        rss.unwrap_or(f64::NAN),
    );
    (report.rate(), rss)
}

const STORM_ALERTS: u64 = 10_000;
const STORM_OVER: Duration = Duration::from_secs(10);
const STORM_GIVE_UP: Duration = Duration::from_secs(60);
/// Like that many alertscripts or webhook senders at once; below kaden's max_connections.
const STORM_CONNECTIONS: usize = 512;

/// Measure 2: 10,000 distinct alerts to one call setting, sent at an even rate over 10 s
/// whatever kaden answers; then who was called while they were accepted.
pub async fn storm() -> Vec<Row> {
    let kaden = Kaden::start(&Phones::Simulator).await;
    let started = kaden::clock::Clock::now(&kaden::clock::SystemClock);
    let report = open_loop(
        kaden.addr,
        STORM_ALERTS,
        STORM_OVER,
        STORM_CONNECTIONS,
        STORM_GIVE_UP,
        problem("storm", "high"),
    )
    .await;
    let all_in = report.accepted() as u64 == STORM_ALERTS;
    let window = match (all_in, report.last_accepted()) {
        (true, Some(last)) => last,
        _ => STORM_GIVE_UP,
    };
    let by_10 = report.accepted_by(STORM_OVER);
    let later = if all_in {
        format!("all by {:.1} s", window.as_secs_f64())
    } else {
        format!(
            "{} by {} s",
            report.accepted_by(STORM_GIVE_UP),
            STORM_GIVE_UP.as_secs()
        )
    };
    println!(
        "storm: {by_10} of {STORM_ALERTS} accepted by 10 s, {later}; refused {}, unanswered {}; POST p50 {:.0} ms, p99 {:.0} ms (answered ones, from when due)",
        report.refused(),
        report.unanswered,
        ms(report.latency(50.0)),
        ms(report.latency(99.0)),
    );
    let calls = Calls::during(&kaden.database(), started, window);
    println!(
        "storm: calls placed while accepting, per responder (most at once): {}; {}",
        calls.summary(),
        calls.first(),
    );
    vec![
        Row {
            measure: format!("storm: {STORM_ALERTS} alerts over 10 s, accepted"),
            kaden: format!("{by_10} by 10 s, {later}"),
            reference: format!("{STORM_ALERTS} sent"),
            ratio: Some(by_10 as f64 / STORM_ALERTS as f64),
        },
        Row {
            measure: "storm: POST latency from when due, answered".into(),
            kaden: format!(
                "p50 {:.0} ms, p99 {:.0} ms",
                ms(report.latency(50.0)),
                ms(report.latency(99.0))
            ),
            reference: String::new(),
            ratio: None,
        },
        Row {
            measure: "storm: calls per responder (most at once)".into(),
            kaden: calls.summary(),
            reference: calls.first(),
            ratio: None,
        },
    ]
}

/// The calls placed within `window` of `start`, per responder.
struct Calls {
    /// Per responder: calls placed, and the most ringing or talking at one time.
    per_responder: Vec<(usize, usize)>,
    /// The first call, after the first alert.
    first: Option<Duration>,
}

impl Calls {
    /// Read from the database as `kaden replay` reads it: the API would answer only once
    /// kaden has worked through the storm's backlog.
    fn during(db: &std::path::Path, start: jiff::Timestamp, window: Duration) -> Calls {
        let end = start + jiff::SignedDuration::try_from(window).expect("a short window");
        let calls = kaden::store::calls_read_only(
            kaden::store::Database::Sqlite(db),
            Some(start),
            Some(end),
        )
        .unwrap_or_else(|e| panic!("cannot read the call log: {e}"));
        let since_start = |t: jiff::Timestamp| t.duration_since(start).unsigned_abs();
        let per_responder = RESPONDERS
            .iter()
            .map(|(id, _)| {
                let mine: Vec<(Duration, Duration)> = calls
                    .iter()
                    .filter(|c| c.user.as_str() == *id)
                    .map(|c| {
                        let ended = c.ended_at.map_or(Duration::MAX, since_start);
                        (since_start(c.placed_at), ended)
                    })
                    .collect();
                let most_at_once = mine
                    .iter()
                    .map(|(at, _)| mine.iter().filter(|(p, e)| p <= at && at < e).count())
                    .max()
                    .unwrap_or(0);
                (mine.len(), most_at_once)
            })
            .collect();
        let first = calls.iter().map(|c| since_start(c.placed_at)).min();
        Calls {
            per_responder,
            first,
        }
    }

    fn first(&self) -> String {
        self.first.map_or("no call placed".into(), |first| {
            format!("first call {:.0} ms after the first alert", ms(first))
        })
    }

    fn summary(&self) -> String {
        self.per_responder
            .iter()
            .map(|(calls, at_once)| format!("{calls} ({at_once})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const GROWTH_KEYS: u64 = 10_000;
const GROWTH_SEGMENT: usize = 1_000;
/// Slow builds stop here rather than run for many minutes; the segments reached print.
const GROWTH_CAP: Duration = Duration::from_secs(60);

/// Measure 3: routed problems with new keys, all joining one incident, on 8 connections
/// up to 10,000 keys: the rate in each 1,000-key segment.
pub async fn growth() -> Vec<Row> {
    let kaden = Kaden::start(&Phones::Simulator).await;
    let report = closed_loop(
        kaden.addr,
        CONNECTIONS,
        GROWTH_KEYS,
        GROWTH_CAP,
        problem("grow", "high"),
    )
    .await;
    let rates = report.segment_rates(GROWTH_SEGMENT);
    let shown: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "growth: {} keys in {:.1} s; alerts/s per {GROWTH_SEGMENT} keys: {}",
        report.accepted(),
        report.elapsed.as_secs_f64(),
        shown.join(" → ")
    );
    let (Some(first), Some(last)) = (rates.first(), rates.last()) else {
        return vec![Row {
            measure: "routed ingest as one incident grows".into(),
            kaden: format!(
                "{} keys in {:.0} s",
                report.accepted(),
                report.elapsed.as_secs_f64()
            ),
            reference: format!("fewer than {GROWTH_SEGMENT} keys: no segment"),
            ratio: None,
        }];
    };
    vec![Row {
        measure: format!(
            "routed ingest, one incident, keys {}k→{}k",
            rates.len() - 1,
            rates.len()
        ),
        kaden: format!("{last:.0} /s"),
        reference: format!("keys 0→1k {first:.0} /s"),
        ratio: Some(last / first),
    }]
}

const FLAP_KEY: &str = "flap/web-01";
const FRESH_KEY: &str = "flap/web-02";
const FLAP_HISTORY: u64 = 100_000;
const FLAP_FOR: Duration = Duration::from_secs(4);

/// Measure 4: a key with 100,000 closed incidents in its history, in an open incident:
/// its recovery/problem alternation on one connection, next to a key with no history in
/// the same incident.
pub async fn flapping() -> Vec<Row> {
    let mut kaden = Kaden::start(&Phones::Simulator).await;
    // One real closed incident for the key, then copies of its rows.
    kaden.post_alert(&alert(FLAP_KEY, "problem", "high")).await;
    kaden.post_alert(&alert(FLAP_KEY, "recovery", "high")).await;
    kaden.stop();
    let seeded = std::time::Instant::now();
    if let Err(e) = seed_history(&kaden.database(), FLAP_HISTORY) {
        println!("flapping: cannot seed the history ({e}); skipped");
        return Vec::new();
    }
    println!(
        "flapping: {FLAP_HISTORY} closed incidents of {FLAP_KEY} seeded in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    kaden.restart().await;
    // An open incident holding both keys; another problem keeps it open throughout.
    for key in ["flap/anchor", FLAP_KEY, FRESH_KEY] {
        kaden.post_alert(&alert(key, "problem", "high")).await;
    }
    let mut measured = Vec::new();
    for key in [FLAP_KEY, FRESH_KEY] {
        let report = closed_loop(kaden.addr, 1, u64::MAX, FLAP_FOR, move |i| {
            let kind = if i % 2 == 0 { "recovery" } else { "problem" };
            Req::json("/api/v1/alerts", &alert(key, kind, "high"))
        })
        .await;
        println!(
            "flapping: {key}: {:.0} alerts/s, p50 {:.1} ms, p99 {:.1} ms, refused {}",
            report.rate(),
            ms(report.latency(50.0)),
            ms(report.latency(99.0)),
            report.refused()
        );
        measured.push((report.rate(), report.latency(50.0)));
    }
    let [(flap, flap_p50), (fresh, fresh_p50)] = measured[..] else {
        unreachable!("two keys measured")
    };
    vec![Row {
        measure: "flapping key, 100k closed incidents behind it".into(),
        kaden: format!("{flap:.0} /s (p50 {:.1} ms)", ms(flap_p50)),
        reference: format!("fresh key {fresh:.0} /s (p50 {:.1} ms)", ms(fresh_p50)),
        ratio: Some(flap / fresh),
    }]
}

/// Copies the one closed incident of [`FLAP_KEY`] (its incident, recovery alert and
/// problem rows) `count` times, column for column, so it fits whatever the schema holds.
fn seed_history(db: &std::path::Path, count: u64) -> rusqlite::Result<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    let tx = conn.transaction()?;
    let (incident, recovery): (i64, i64) = tx.query_row(
        "SELECT incident_id, last_alert_id FROM problems WHERE key = ?1",
        [FLAP_KEY],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let max = |table: &str| -> rusqlite::Result<i64> {
        tx.query_row(&format!("SELECT max(id) FROM {table}"), [], |r| r.get(0))
    };
    let (incidents, alerts) = (max("incidents")?, max("alerts")?);
    let copy = |table: &str, overrides: &[(&str, String)], template: String| {
        let mut columns = tx.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let columns: Vec<String> = columns
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let values: Vec<String> = columns
            .iter()
            .map(|c| {
                overrides
                    .iter()
                    .find(|(name, _)| name == c)
                    .map_or_else(|| format!("\"{c}\""), |(_, value)| value.clone())
            })
            .collect();
        let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        tx.execute(
            &format!(
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {count})
                 INSERT INTO {table} ({}) SELECT {} FROM seq, {table} WHERE {template}",
                quoted.join(", "),
                values.join(", ")
            ),
            [],
        )
    };
    let incident_id = format!("{incidents} + n");
    let alert_id = format!("{alerts} + n");
    copy(
        "incidents",
        &[("id", incident_id.clone())],
        format!("id = {incident}"),
    )?;
    copy(
        "alerts",
        &[
            ("id", alert_id.clone()),
            ("incident_id", incident_id.clone()),
            // Both must stay unique.
            ("notification", "NULL".into()),
            ("idempotency_key", "NULL".into()),
        ],
        format!("id = {recovery}"),
    )?;
    copy(
        "problems",
        &[("incident_id", incident_id), ("last_alert_id", alert_id)],
        format!("incident_id = {incident} AND key = '{FLAP_KEY}'"),
    )?;
    tx.commit()
}
