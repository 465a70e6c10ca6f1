//! The CLI's side of the API: commands that ask the running daemon, which owns the
//! database.

use crate::cli::load_config;
use crate::store::IncidentSummary;
use anyhow::Context;
use secrecy::ExposeSecret;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;

/// The daemon's address as seen from this host: a wildcard listen address means loopback.
fn daemon_base(listen: SocketAddr) -> String {
    let ip = if listen.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        listen.ip()
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

pub fn print_incidents(config_path: &Path, status: Option<String>) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let base = daemon_base(config.server.listen);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let incidents: Vec<IncidentSummary> = runtime.block_on(async {
        let mut request = reqwest::Client::new().get(format!("{base}/api/v1/incidents"));
        if let Some(status) = &status {
            request = request.query(&[("status", status)]);
        }
        if let Some(token) = config.server.api_tokens.first() {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request.send().await.with_context(|| {
            format!("cannot reach the kaden daemon at {base}; is `kaden serve` running?")
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            anyhow::bail!("the daemon answered {status}: {body}");
        }
        response
            .json()
            .await
            .context("the daemon's answer is not an incident list")
    })?;
    println!(
        "{:>6}  {:<10}  {:<16}  {:>8}  OPENED",
        "ID", "STATUS", "CALL SETTING", "PROBLEMS"
    );
    for i in incidents {
        println!(
            "{:>6}  {:<10}  {:<16}  {:>3}/{:<4}  {}",
            i.id,
            i.status,
            i.call_setting.as_deref().unwrap_or("(unrouted)"),
            i.open_problems,
            i.problems,
            i.opened_at
        );
    }
    Ok(ExitCode::SUCCESS)
}
