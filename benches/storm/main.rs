//! kaden under an alert storm, measured side by side with a reference taken in the same
//! run and printed as ratios (the machine's speed cancels out). Asserts no timing.
//!
//!     cargo bench --bench storm                       # everything, about 3 minutes
//!     cargo bench --bench storm -- storm webhooks     # only the measures named
//!
//! Measures: ingest (POSTs/s vs Prometheus Alertmanager, and vs the durable floor: the
//! least a server must do to answer only after an fsync), storm (10,000 alerts in 10 s),
//! growth (one incident to 10,000 keys), flapping (a key with 100,000 closed incidents),
//! alertscript (exec → committed vs /bin/true), webhooks (signed Twilio webhook latency).
//! bench/run.sh installs Alertmanager first.

mod alertscript;
mod daemon;
mod floor;
mod ingest;
mod load;
mod webhooks;

use std::time::Duration;

const MEASURES: [&str; 6] = [
    "ingest",
    "storm",
    "growth",
    "flapping",
    "alertscript",
    "webhooks",
];

/// One line of the closing table.
pub struct Row {
    measure: String,
    kaden: String,
    reference: String,
    /// kaden ÷ reference.
    ratio: Option<f64>,
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(measure: &str) -> Vec<Row> {
    match measure {
        "ingest" => ingest::throughput().await,
        "storm" => ingest::storm().await,
        "growth" => ingest::growth().await,
        "flapping" => ingest::flapping().await,
        "alertscript" => alertscript::alertscript().await,
        "webhooks" => webhooks::webhooks().await,
        other => unreachable!("unknown measure {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(floor::SERVE_ARG) {
        return floor::serve(&args[1..]);
    }
    // `cargo bench` passes `--bench`; other words name measures.
    let wanted: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    if let Some(unknown) = wanted.iter().find(|w| !MEASURES.contains(&w.as_str())) {
        eprintln!(
            "unknown measure {unknown:?}; known: {}",
            MEASURES.join(", ")
        );
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut rows = Vec::new();
    for measure in MEASURES
        .into_iter()
        .filter(|m| wanted.is_empty() || wanted.iter().any(|w| w == m))
    {
        println!("\n== {measure}");
        let started = std::time::Instant::now();
        rows.extend(runtime.block_on(run(measure)));
        println!("({measure}: {:.0} s)", started.elapsed().as_secs_f64());
    }
    print_table(&rows);
}

fn print_table(rows: &[Row]) {
    let width = |f: fn(&Row) -> &str| rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0);
    let (m, k, r) = (
        width(|r| &r.measure),
        width(|r| &r.kaden),
        width(|r| &r.reference),
    );
    println!(
        "\n{:<m$}  {:<k$}  {:<r$}  ratio",
        "measure", "kaden", "reference in the same run"
    );
    for row in rows {
        let ratio = row.ratio.map_or(String::new(), |x| format!("{x:.3}×"));
        println!(
            "{:<m$}  {:<k$}  {:<r$}  {ratio}",
            row.measure, row.kaden, row.reference
        );
    }
}
