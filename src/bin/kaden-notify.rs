//! `kaden-notify`: the notification commands alone, for the monitoring system to exec
//! once per alert. `kaden-notify zabbix-alert ...` is `kaden zabbix-alert ...` (the same
//! arguments, checks, spool, exit codes and messages), without the daemon's start-up
//! cost: it links no async runtime, TLS, SQLite or the other subcommands.

use clap::Parser;
use kaden::cli::{Globals, Notification};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kaden-notify",
    version,
    about = "Hand one Zabbix or Nagios / X-MON / Icinga 2 alert to kaden's daemon, or spool it"
)]
struct NotifyCli {
    // `--log-format` is taken as `kaden` takes it, and unused: nothing is logged.
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    command: Notification,
}

fn main() -> ExitCode {
    let cli = NotifyCli::parse();
    cli.command.deliver(&cli.globals.config_path())
}
