//! The command line: every subcommand of design.md's public contract that is built.

use crate::client::Daemon;
use crate::clock::SystemClock;
use crate::config::{self, ConfigError, Language, SystemSecrets};
use crate::speech::Speech;
use crate::telemetry::LogFormat;
use crate::telephony::simulator::Behaviour;
use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
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
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// The options every kaden binary takes, before or after the subcommand.
#[derive(clap::Args)]
pub struct Globals {
    /// Log output: text for people, json for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The config file [default: /etc/kaden/kaden.yaml]. Accepted before or after the
    /// subcommand.
    #[arg(short, long, global = true, env = "KADEN_CONFIG")]
    pub config: Option<PathBuf>,
}

impl Globals {
    /// The config file given, else the default.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon: webhooks, API and escalations.
    Serve,
    /// Validate a config file; exits 1 when it has errors.
    CheckConfig,
    /// List incidents from the running daemon.
    Incidents {
        /// Only incidents in these states: open, acknowledged, resolved (comma-separated).
        #[arg(long)]
        status: Option<String>,
        /// Print the API's JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// The call log: who was called, when, the outcome, keys, what was acknowledged.
    Calls {
        /// Only the calls of this incident.
        #[arg(long)]
        incident: Option<i64>,
        /// Print the API's JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Telephony errors, newest first, with Twilio's meaning and a fix (like Twilio's
    /// Debugger).
    Errors {
        /// Print the API's JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Calls, billed minutes, SMS and their cost (Twilio's price where reported, else
    /// estimated from telephony.rates), and the usage triggers fired. Reads the database,
    /// with or without a running daemon.
    Usage {
        /// How far back: a duration (30d, 12h) or a time (2026-11-01T00:00:00+09:00).
        #[arg(long, default_value = crate::usage::DEFAULT_SINCE)]
        since: String,
        /// One row per day (in locale.timezone), user, incident or call_setting.
        #[arg(long, default_value = "day", value_parser = crate::usage::By::parse)]
        by: crate::usage::By,
        /// Print the API's JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge every open problem of an incident (as 9# on the phone does).
    Ack {
        incident: i64,
        /// Who acknowledges, for the log and the write-back message.
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
    /// Print exactly what would be spoken for TEXT, after the pronunciation rules.
    Say {
        /// ja-JP or en-US (default: the config's locale.language, else ja-JP).
        #[arg(long)]
        lang: Option<String>,
        /// Also show each token, its reading and the rule or dictionary line that made it.
        #[arg(long)]
        explain: bool,
        text: String,
    },
    /// Who is on call now (or --at a time), and the next handoffs; manage overrides.
    /// Answers from the config and the database, with or without a running daemon.
    Oncall {
        /// One schedule (default: all).
        schedule: Option<String>,
        /// A time such as 2026-11-23T10:00:00+09:00 (default: now).
        #[arg(long)]
        at: Option<String>,
        /// How many upcoming handoffs to show.
        #[arg(long, default_value_t = 3)]
        next: usize,
        /// Instead: every stretch in which a schedule, or a call setting's targets, has
        /// nobody on call.
        #[arg(long)]
        gaps: bool,
        /// How far ahead --gaps looks.
        #[arg(long, default_value_t = 30, requires = "gaps")]
        days: u32,
        /// Print the API's JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<OncallAction>,
    },
    #[command(flatten)]
    Notification(Notification),
    /// Check online what check-config cannot: the daemon, Twilio credentials and number,
    /// public_url, and each source's write-back. Exits 1 when a check fails.
    Doctor,
    /// Phone USER with a short test message through the configured telephony; the callee
    /// presses 1 to confirm. Never an incident. Exits 1 unless confirmed.
    TestCall { user: String },
    /// What if: replay stored alerts (or --alerts) under the config given with -c, through
    /// the real escalation engine on a virtual clock with simulated callees, and report
    /// who would have been called, how often, how fast and at what cost. Never places a
    /// call; reads the database read-only.
    Replay(ReplayArgs),
    /// Copy a SQLite store into an empty PostgreSQL database (ids kept, one transaction)
    /// and print the rows copied per table. Stop kaden first. Refuses when the target
    /// already holds kaden data, so a second run copies nothing.
    MigrateStore {
        /// The SQLite store: sqlite:PATH (the old storage.sqlite).
        #[arg(long)]
        from: String,
        /// The PostgreSQL URL, or ${env:NAME} / ${file:PATH} holding it, which keeps the
        /// password out of the process list and the shell history.
        #[arg(long)]
        to: String,
    },
    /// Script the built-in simulator's phones and see its calls (provider: simulator).
    Sim {
        #[command(subcommand)]
        action: SimAction,
    },
}

impl Command {
    /// `nagios-notify` or `zabbix-alert`, which the monitoring system runs once per alert.
    pub fn is_notification(&self) -> bool {
        matches!(self, Command::Notification(_))
    }
}

/// The commands a monitoring system runs once per alert: subcommands of `kaden`, and all
/// that the lean `kaden-notify` binary does.
#[derive(Subcommand)]
pub enum Notification {
    /// Nagios / X-MON / Icinga 2 notification command: deliver one notification to the
    /// daemon, or spool it if the daemon is unreachable. Macros come as arguments, or
    /// from NAGIOS_* environment variables when Nagios exports them.
    NagiosNotify(NagiosArgs),
    /// Zabbix alertscript (AlertScriptsPath): deliver one alert to the daemon, or spool it.
    /// MESSAGE holds `key: value` lines (see plugins/zabbix/media_kaden_script.yaml).
    ZabbixAlert {
        /// {ALERT.SENDTO}
        sendto: String,
        /// {ALERT.SUBJECT}
        subject: String,
        /// {ALERT.MESSAGE}: event_id, event_value, host_name, ... one per line.
        message: String,
    },
    /// Check in heartbeat ID (`heartbeats:` in the config), e.g. from cron or the
    /// monitoring system; a heartbeat missed for its every + grace calls its call setting.
    /// Needs no secret but, at most, an ingest token.
    Heartbeat { id: String },
}

impl Notification {
    /// Delivers the alert or spools it; the exit code is the monitoring system's answer.
    pub fn deliver(self, config: &std::path::Path) -> ExitCode {
        match self {
            Notification::NagiosNotify(args) => {
                let body =
                    serde_json::to_value(args.notification()).expect("a notification serializes");
                crate::notify::deliver(config, "nagios", body)
            }
            Notification::ZabbixAlert {
                sendto,
                subject,
                message,
            } => crate::notify::deliver(
                config,
                "zabbix",
                crate::sources::zabbix::alertscript_body(&sendto, &subject, &message),
            ),
            Notification::Heartbeat { id } => crate::notify::heartbeat(config, &id),
        }
    }
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Replay alerts received from this time, e.g. 2026-11-01T00:00:00+09:00.
    #[arg(long)]
    from: Option<String>,
    /// ... until (not including) this time.
    #[arg(long)]
    to: Option<String>,
    /// Generic alerts as JSON lines instead of the database's alerts.
    #[arg(long)]
    alerts: Option<PathBuf>,
    /// How long a callee who answers takes to pick up.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    answer_after: std::time::Duration,
    /// Share of calls answered, 0 to 1.
    #[arg(long, default_value_t = 0.8)]
    answer_rate: f64,
    /// Seed of the callees' randomness: the same seed gives the same report.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Answer each call as the real callee answered the matching recorded call (the n-th
    /// call to a person ↔ the n-th call really placed to them in the window), and report
    /// whether the replay placed the same calls in the same order as the real run.
    /// Ignores --answer-after, --answer-rate and --seed; not with --alerts.
    #[arg(long, conflicts_with = "alerts")]
    recorded: bool,
    /// Print the report as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct NagiosArgs {
    /// Which system sends this: acknowledgements go back to it.
    #[arg(long, value_parser = ["nagios", "icinga2"], default_value = "nagios")]
    source: String,
    /// $NOTIFICATIONTYPE$
    #[arg(long = "type", env = "NAGIOS_NOTIFICATIONTYPE")]
    kind: String,
    /// $HOSTNAME$
    #[arg(long, env = "NAGIOS_HOSTNAME")]
    host: String,
    /// $SERVICEDESC$ (omit for host notifications)
    #[arg(long, env = "NAGIOS_SERVICEDESC")]
    service: Option<String>,
    /// $SERVICESTATE$ or $HOSTSTATE$
    #[arg(long)]
    state: Option<String>,
    /// $SERVICEOUTPUT$ or $HOSTOUTPUT$
    #[arg(long)]
    output: Option<String>,
    /// $SERVICEPROBLEMID$ or $HOSTPROBLEMID$
    #[arg(long)]
    problem_id: Option<u64>,
    /// $LASTSERVICEPROBLEMID$ or $LASTHOSTPROBLEMID$
    #[arg(long)]
    last_problem_id: Option<u64>,
    /// $NOTIFICATIONNUMBER$ (tells a re-notification from a retry)
    #[arg(long, env = "NAGIOS_NOTIFICATIONNUMBER")]
    number: Option<u64>,
    /// $NOTIFICATIONAUTHOR$
    #[arg(long, env = "NAGIOS_NOTIFICATIONAUTHOR")]
    author: Option<String>,
    /// $NOTIFICATIONCOMMENT$
    #[arg(long, env = "NAGIOS_NOTIFICATIONCOMMENT")]
    comment: Option<String>,
    /// $TIMET$
    #[arg(long, env = "NAGIOS_TIMET")]
    time: Option<i64>,
}

impl NagiosArgs {
    /// Arguments first; then the service or host variant of the NAGIOS_* variable.
    fn notification(self) -> crate::sources::nagios::Notification {
        let scope = if self.service.as_deref().is_some_and(|s| !s.is_empty()) {
            "SERVICE"
        } else {
            "HOST"
        };
        let env = |name: &str| std::env::var(format!("NAGIOS_{}", name.replace('*', scope))).ok();
        let id = |v: Option<u64>, name: &str| {
            v.or_else(|| env(name).and_then(|s| s.parse().ok()))
                .unwrap_or(0)
        };
        crate::sources::nagios::Notification {
            source: (self.source != "nagios").then_some(self.source),
            kind: self.kind,
            host: self.host,
            state: self.state.or_else(|| env("*STATE")).unwrap_or_default(),
            output: self.output.or_else(|| env("*OUTPUT")).unwrap_or_default(),
            problem_id: id(self.problem_id, "*PROBLEMID"),
            last_problem_id: id(self.last_problem_id, "LAST*PROBLEMID"),
            number: self.number,
            service: self.service.filter(|s| !s.is_empty()),
            author: self.author.filter(|s| !s.is_empty()),
            comment: self.comment.filter(|s| !s.is_empty()),
            time: self.time,
        }
    }
}

#[derive(Subcommand)]
pub enum OncallAction {
    /// Put USER on call in SCHEDULE from --from to --to (instead of --replaces, if given).
    Override {
        schedule: String,
        user: String,
        #[arg(long)]
        replaces: Option<String>,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// List a schedule's overrides.
    Overrides { schedule: String },
    /// Delete an override by its id.
    DeleteOverride { schedule: String, id: i64 },
}

#[derive(Subcommand)]
pub enum SimAction {
    /// What a number does when called.
    Phone {
        number: String,
        #[arg(value_enum)]
        behaviour: SimBehaviour,
        /// Keys pressed, one entry per menu (answer).
        #[arg(long, value_delimiter = ',', default_value = "9#")]
        keys: Vec<String>,
        /// Seconds before picking up (answer, voicemail) or hanging up (hang-up).
        #[arg(long)]
        after: Option<u64>,
    },
    /// Every simulated call with what was said and pressed.
    Calls,
    /// The simulator's REST API base, Account SID and token for any Twilio client, as
    /// shell assignments (`eval "$(kaden sim credentials --show-token)"`). The token is
    /// `telephony.simulator.auth_token`; without it each run draws a random one.
    Credentials {
        /// Print the token itself, not only where it comes from.
        #[arg(long)]
        show_token: bool,
    },
}

/// Spelled as in the config (`no_answer`) or with dashes (`no-answer`): both work.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SimBehaviour {
    Answer,
    #[value(alias = "no_answer")]
    NoAnswer,
    Busy,
    Decline,
    Voicemail,
    #[value(alias = "hang_up")]
    HangUp,
    #[value(alias = "invalid_number")]
    InvalidNumber,
}

impl SimBehaviour {
    fn script(self, keys: Vec<String>, after: Option<u64>) -> Behaviour {
        match self {
            SimBehaviour::Answer => Behaviour::Answer {
                keys,
                after_secs: after.unwrap_or(2),
            },
            SimBehaviour::NoAnswer => Behaviour::NoAnswer,
            SimBehaviour::Busy => Behaviour::Busy,
            SimBehaviour::Decline => Behaviour::Decline,
            SimBehaviour::Voicemail => Behaviour::Voicemail {
                after_secs: after.unwrap_or(15),
            },
            SimBehaviour::HangUp => Behaviour::HangUp {
                after_secs: after.unwrap_or(5),
            },
            SimBehaviour::InvalidNumber => Behaviour::InvalidNumber,
        }
    }
}

/// Where the config is when -c / KADEN_CONFIG do not say.
const DEFAULT_CONFIG: &str = "/etc/kaden/kaden.yaml";

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let path = cli.globals.config_path();
    let given = cli.globals.config;
    let daemon = || load_config(&path).and_then(Daemon::new);
    match cli.command {
        Command::Serve => serve(&path),
        Command::CheckConfig => Ok(check_config(&path)),
        Command::Incidents { status, json } => {
            daemon()?.incidents(status.as_deref(), json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Calls { incident, json } => {
            daemon()?.calls(incident, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Errors { json } => {
            daemon()?.errors(json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Usage { since, by, json } => {
            usage(&path, &since, by, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ack { incident, by } => {
            daemon()?.ack(incident, &by)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Notification(notification) => Ok(notification.deliver(&path)),
        Command::Say {
            lang,
            explain,
            text,
        } => say(given.as_deref(), lang.as_deref(), explain, &text),
        Command::Oncall {
            gaps: true,
            days,
            json,
            action: None,
            ..
        } => {
            oncall_gaps(&path, days, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Oncall {
            schedule,
            at,
            next,
            json,
            action: None,
            ..
        } => {
            oncall(&path, schedule.as_deref(), at.as_deref(), next, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Oncall {
            action: Some(action),
            ..
        } => {
            let daemon = daemon()?;
            match action {
                OncallAction::Override {
                    schedule,
                    user,
                    replaces,
                    from,
                    to,
                } => daemon.add_override(&schedule, &user, replaces.as_deref(), &from, &to)?,
                OncallAction::Overrides { schedule } => daemon.overrides(&schedule)?,
                OncallAction::DeleteOverride { schedule, id } => {
                    daemon.delete_override(&schedule, id)?
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(args) => replay(&path, args),
        Command::MigrateStore { from, to } => migrate_store(&from, &to),
        Command::Doctor => doctor(&path),
        Command::TestCall { user } => Ok(if daemon()?.test_call(&user)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Sim { action } => {
            match action {
                SimAction::Phone {
                    number,
                    behaviour,
                    keys,
                    after,
                } => daemon()?.sim_phone(&number, &behaviour.script(keys, after))?,
                SimAction::Calls => daemon()?.sim_calls()?,
                SimAction::Credentials { show_token } => {
                    print!("{}", sim_credentials(&load_config(&path)?, show_token)?)
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Gaps in on-call coverage for the next `days`, from the config and the overrides.
fn oncall_gaps(path: &std::path::Path, days: u32, json: bool) -> anyhow::Result<()> {
    let config = load_config(path)?;
    let overrides = crate::store::overrides_read_only((&config.storage).into())
        .context("cannot read the schedule overrides")?;
    let from = crate::clock::Clock::now(&SystemClock);
    let to = from
        .saturating_add(jiff::SignedDuration::from_hours(24 * i64::from(days)))
        .unwrap_or(from);
    let gaps = crate::oncall::gaps(&config, &overrides, from, to);
    if json {
        println!("{}", serde_json::to_string_pretty(&gaps)?);
        return Ok(());
    }
    if gaps.is_empty() {
        println!("Someone is on call everywhere for the next {days} days.");
        return Ok(());
    }
    let zone = &config.locale.timezone;
    let rows: Vec<Vec<String>> = gaps
        .iter()
        .map(|g| {
            vec![
                g.kind.replace('_', " "),
                g.id.clone(),
                crate::display::stamp(g.from, zone),
                crate::display::stamp(g.to, zone),
                humantime::format_duration(
                    std::time::Duration::try_from(g.to.duration_since(g.from)).unwrap_or_default(),
                )
                .to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::display::table(&["WHAT", "ID", "NOBODY FROM", "UNTIL", "FOR"], &rows)
    );
    Ok(())
}

fn doctor(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let findings = runtime.block_on(crate::doctor::run(&config));
    let mut failed = false;
    for f in &findings {
        match &f.result {
            Ok(what) => println!("ok    {}: {what}", f.what),
            Err(fix) => {
                failed = true;
                println!("FAIL  {}: {fix}", f.what);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Who is on call, from the config and the database's overrides (read-only): the same
/// answer as `GET /api/v1/oncall`, whether or not the daemon runs.
fn oncall(
    path: &std::path::Path,
    schedule: Option<&str>,
    at: Option<&str>,
    next: usize,
    json: bool,
) -> anyhow::Result<()> {
    let config = load_config(path)?;
    let at: jiff::Timestamp = match at {
        Some(t) => t.parse().with_context(|| {
            format!("--at {t:?} is not a time such as 2026-11-23T10:00:00+09:00")
        })?,
        None => crate::clock::Clock::now(&SystemClock),
    };
    let selected: Vec<&crate::schedule::Schedule> = match schedule {
        Some(id) => vec![
            config
                .schedules
                .iter()
                .find(|s| s.id.as_str() == id)
                .with_context(|| format!("no schedule {id:?} in {}", path.display()))?,
        ],
        None => config.schedules.iter().collect(),
    };
    let overrides = crate::store::overrides_read_only((&config.storage).into())
        .context("cannot read the schedule overrides")?;
    let answer = crate::oncall::on_call(&config, &selected, &overrides, at, next);
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let zone = &config.locale.timezone;
    let person = |s: &crate::oncall::ShiftView| match (&s.name, &s.user) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (None, Some(id)) => id.to_string(),
        _ => "nobody".to_owned(),
    };
    let mut rows = Vec::new();
    for s in &answer {
        rows.push(vec![
            s.schedule.to_string(),
            "now".into(),
            person(&s.now),
            crate::display::stamp(s.now.start, zone),
            crate::display::stamp(s.now.end, zone),
        ]);
        for shift in &s.next {
            rows.push(vec![
                String::new(),
                "next".into(),
                person(shift),
                crate::display::stamp(shift.start, zone),
                crate::display::stamp(shift.end, zone),
            ]);
        }
    }
    print!(
        "{}",
        crate::display::table(&["SCHEDULE", "WHEN", "ON CALL", "FROM", "UNTIL"], &rows)
    );
    Ok(())
}

/// Usage from the database (read-only): the same answer as `GET /api/v1/usage`, whether
/// or not the daemon runs.
fn usage(
    path: &std::path::Path,
    since: &str,
    by: crate::usage::By,
    json: bool,
) -> anyhow::Result<()> {
    use crate::display::{stamp, table};
    let config = load_config(path)?;
    let now = crate::clock::Clock::now(&SystemClock);
    let since = crate::usage::parse_since(since, now).map_err(anyhow::Error::msg)?;
    let zone = &config.locale.timezone;
    let report = crate::usage::read_only(
        (&config.storage).into(),
        by,
        &config.usage.rates,
        zone,
        (since, now),
    )
    .context("cannot read usage from the database")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "Usage from {} to {}, by {}.",
        stamp(report.since, zone),
        stamp(report.until, zone),
        by.as_str()
    );
    let row = |r: &crate::usage::UsageRow, key: String| {
        vec![
            key,
            r.calls.to_string(),
            r.answered.to_string(),
            r.billed_minutes.to_string(),
            r.sms.to_string(),
            r.sms_segments.to_string(),
            crate::usage::cost_text(&r.cost),
        ]
    };
    let mut rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| row(r, r.key.clone().unwrap_or_default()))
        .collect();
    rows.push(row(&report.total, "TOTAL".into()));
    let key = by.as_str().replace('_', " ").to_uppercase();
    print!(
        "{}",
        table(
            &[
                &key, "CALLS", "ANSWERED", "MINUTES", "SMS", "SEGMENTS", "COST"
            ],
            &rows
        )
    );
    println!(
        "Cost: Twilio's reported price where known, else estimated from telephony.rates; minutes are billed minutes (each call rounded up)."
    );
    let rates = &config.usage.rates;
    if rates.calls.is_empty() && rates.sms.is_empty() {
        println!(
            "No telephony.rates are configured: calls and SMS without Twilio's price count 0 in COST."
        );
    }
    if !report.triggers_fired.is_empty() {
        println!("\nUsage triggers fired:");
        let fired: Vec<Vec<String>> = report
            .triggers_fired
            .iter()
            .map(|f| {
                vec![
                    crate::display::local_time(&f.fired_at, zone),
                    f.trigger.clone(),
                    f.message.clone(),
                ]
            })
            .collect();
        print!("{}", table(&["AT", "TRIGGER", "MESSAGE"], &fired));
    }
    Ok(())
}

/// `kaden replay`: the candidate config names the database whose alerts (unless
/// --alerts) and real calls are read.
fn replay(path: &std::path::Path, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path)?;
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.answer_rate),
        "--answer-rate {} is not between 0 and 1",
        args.answer_rate
    );
    let time = |flag: &str, t: Option<String>| -> anyhow::Result<Option<jiff::Timestamp>> {
        t.map(|t| {
            t.parse().with_context(|| {
                format!("--{flag} {t:?} is not a time such as 2026-11-01T00:00:00+09:00")
            })
        })
        .transpose()
    };
    let (from, to) = (time("from", args.from)?, time("to", args.to)?);
    let db = crate::store::Database::from(&config.storage);
    let (alerts, calls) = match &args.alerts {
        Some(file) => (crate::replay::alerts_from_file(file, from, to)?, None),
        None => {
            let stored = crate::store::alerts_read_only(db, from, to)
                .context("cannot read the stored alerts")?;
            let calls = crate::store::calls_read_only(db, from, to)
                .context("cannot read the stored calls")?;
            let alerts = stored
                .into_iter()
                .map(|s| crate::replay::Timed {
                    at: s.received_at,
                    alert: s.alert,
                })
                .collect();
            (alerts, Some(calls))
        }
    };
    let overrides =
        crate::store::overrides_read_only(db).context("cannot read the schedule overrides")?;
    let recorded = calls.as_ref().filter(|_| args.recorded);
    let callee = crate::replay::Callee {
        answer_after: args.answer_after,
        answer_rate: args.answer_rate,
        seed: args.seed,
        recorded: recorded.cloned(),
    };
    let simulated = crate::replay::replay(&config, &overrides, &alerts, &callee);
    let comparison = recorded.map(|real| crate::replay::Comparison::new(&simulated, real));
    let actual = calls.as_deref().map(crate::replay::Actual::new);
    let report =
        crate::replay::Report::new(&simulated, &config.locale.timezone, actual, comparison);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `kaden migrate-store`: needs no config, only the two databases.
fn migrate_store(from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let sqlite = from
        .strip_prefix("sqlite:")
        .filter(|p| !p.is_empty())
        .context("--from takes sqlite:PATH, e.g. sqlite:/var/lib/kaden/kaden.db")?;
    let url = config::resolve_secret(to, std::path::Path::new("."), &SystemSecrets)
        .map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    let started = std::time::Instant::now();
    let (target, copied) =
        crate::store::migrate_store(std::path::Path::new(sqlite), url.expose_secret())
            .with_context(|| format!("cannot migrate {sqlite} to PostgreSQL"))?;
    let rows: Vec<Vec<String>> = copied
        .iter()
        .map(|c| vec![c.table.clone(), c.rows.to_string()])
        .collect();
    print!("{}", crate::display::table(&["TABLE", "ROWS"], &rows));
    println!(
        "Copied {} rows from {sqlite} to {target} in {:.1} s. Set storage.postgres (and drop storage.sqlite), then start kaden.",
        copied.iter().map(|c| c.rows).sum::<u64>(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn say(
    config: Option<&std::path::Path>,
    lang: Option<&str>,
    explain: bool,
    text: &str,
) -> anyhow::Result<ExitCode> {
    let language = match lang {
        None => None,
        Some("ja-JP") => Some(Language::JaJp),
        Some("en-US") => Some(Language::EnUs),
        Some(other) => anyhow::bail!("unsupported language {other:?}; use ja-JP or en-US"),
    };
    let speech = match config {
        Some(path) => {
            let mut config = load_config(path)?;
            if let Some(language) = language {
                config.locale.language = language;
            }
            Speech::from_config(&config)?
        }
        None => Speech::builtin(language.unwrap_or(Language::JaJp)),
    };
    println!("{}", speech.pronounce(text));
    if explain {
        // Pauses and plain white space explain nothing.
        for token in speech.explain(text) {
            if token.text.trim().is_empty() || token.rule == crate::pronunciation::Rule::Pause {
                continue;
            }
            let reading = if token.reading.is_empty() {
                "(silent)"
            } else {
                &token.reading
            };
            println!("  {}\t→ {reading}\t[{}]", token.text, token.rule);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match config::load(path, &SystemSecrets) {
        Ok((config, report)) => {
            print!("{report}");
            if !postgres_reachable(path, &config) {
                return ExitCode::FAILURE;
            }
            gap_warnings(path, &config);
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

/// check-config: a PostgreSQL store that serve could not reach fails the check too.
fn postgres_reachable(path: &std::path::Path, config: &config::Config) -> bool {
    let Some(url) = &config.storage.postgres else {
        return true;
    };
    match crate::store::check_postgres(url) {
        Ok(what) => {
            println!("{}: storage.postgres: reached {what}", path.display());
            true
        }
        Err(e) => {
            println!("{}: error: storage.postgres: {e}", path.display());
            false
        }
    }
}

/// check-config: nobody on call in the next 14 days is worth a warning.
fn gap_warnings(path: &std::path::Path, config: &config::Config) {
    let overrides = crate::store::overrides_read_only((&config.storage).into()).unwrap_or_default();
    let from = crate::clock::Clock::now(&SystemClock);
    let to = from
        .saturating_add(jiff::SignedDuration::from_hours(24 * 14))
        .unwrap_or(from);
    for gap in crate::oncall::gaps(config, &overrides, from, to) {
        let list = if gap.kind == "schedule" {
            "schedules"
        } else {
            "call_settings"
        };
        println!(
            "{}: warning: {list}.{}: nobody on call from {} to {} (kaden oncall --gaps)",
            path.display(),
            gap.id,
            crate::display::stamp(gap.from, &config.locale.timezone),
            crate::display::stamp(gap.to, &config.locale.timezone),
        );
    }
}

/// Loads the config, printing warnings; an invalid config is an error.
/// `kaden sim credentials`: what a Twilio client needs to use the simulator.
fn sim_credentials(config: &config::Config, show_token: bool) -> anyhow::Result<String> {
    let config::Provider::Simulator(simulator) = &config.telephony.provider else {
        anyhow::bail!("telephony.provider is twilio: there is no simulator to use");
    };
    let token = match (&simulator.auth_token, show_token) {
        (Some(token), true) => token.expose_secret().to_owned(),
        (Some(_), false) => "'(telephony.simulator.auth_token; --show-token prints it)'".to_owned(),
        (None, _) => anyhow::bail!(
            "telephony.simulator.auth_token is not set, so the simulator draws a random \
             token each run that no outside client can know; set it (e.g. ${{env:KADEN_SIM_TOKEN}})"
        ),
    };
    Ok(format!(
        "TWILIO_API_BASE={}/sim/twilio\nTWILIO_ACCOUNT_SID={}\nTWILIO_AUTH_TOKEN={token}\n",
        config::local_url(config.server.listen),
        crate::telephony::simulator::ACCOUNT_SID,
    ))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_phone_takes_the_config_spelling_and_the_dashed_one() {
        for spelling in ["no-answer", "no_answer", "hang_up", "invalid-number"] {
            let parsed = Cli::try_parse_from(["kaden", "sim", "phone", "+819000000001", spelling]);
            assert!(parsed.is_ok(), "{spelling}: {:?}", parsed.err());
        }
        assert!(Cli::try_parse_from(["kaden", "sim", "phone", "+819000000001", "melted"]).is_err());
    }
}
