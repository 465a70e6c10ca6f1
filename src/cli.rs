//! The command line: every subcommand of design.md's public contract that is built.

use crate::clock::SystemClock;
use crate::config::{self, ConfigError, SystemSecrets};
use crate::telemetry::LogFormat;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "kaden",
    version,
    about = "On-call phone escalation for Zabbix, Nagios / X-MON, Icinga 2 and Mackerel"
)]
pub struct Cli {
    /// Log output: text for people, json for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon: webhooks, API and escalations.
    Serve(ConfigArg),
    /// Validate a config file; exits 1 when it has errors.
    CheckConfig(ConfigArg),
    /// List incidents from the running daemon.
    Incidents {
        #[command(flatten)]
        config: ConfigArg,
        /// Only incidents in this state: open or recovered.
        #[arg(long)]
        status: Option<String>,
    },
}

#[derive(clap::Args)]
pub struct ConfigArg {
    /// The config file.
    #[arg(
        short,
        long,
        env = "KADEN_CONFIG",
        default_value = "/etc/kaden/kaden.yaml"
    )]
    pub config: PathBuf,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(arg) => serve(&arg.config),
        Command::CheckConfig(arg) => Ok(check_config(&arg.config)),
        Command::Incidents { config, status } => {
            crate::client::print_incidents(&config.config, status)
        }
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match config::load(path, &SystemSecrets) {
        Ok((_, report)) => {
            print!("{report}");
            println!("{}: OK", path.display());
            ExitCode::SUCCESS
        }
        Err(ConfigError::Invalid(report)) => {
            print!("{report}");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the config, printing warnings; an invalid config is an error.
pub fn load_config(path: &std::path::Path) -> anyhow::Result<config::Config> {
    let (config, warnings) = config::load(path, &SystemSecrets)?;
    for line in warnings.to_string().lines() {
        tracing::warn!("{line}");
    }
    Ok(config)
}

fn serve(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let app = crate::app::App::build(config, Arc::new(SystemClock)).await?;
        app.run(shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler succeeds on Unix");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("Shutting down: finishing requests in flight.");
}
