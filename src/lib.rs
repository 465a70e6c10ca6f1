//! kaden: an on-call phone-escalation bridge.
//!
//! Groundwork first, then the modules in the order an alert meets them, from the payload
//! a monitoring system sends to the phone that rings; the `mod` list keeps this order.
//!
//! Groundwork, used throughout:
//! - [`alarm`]: a JSON POST to the operator's own webhook, retried, its URL kept secret.
//! - [`clock`]: wall-clock time comes from here, so tests can pin it.
//! - [`display`]: aligned columns and local times for people reading the CLI.
//! - `fault`: crash points for the fault-injection suite.
//! - [`telemetry`]: logging as text or JSON lines, with secrets kept out.
//!
//! An alert comes in:
//! - [`domain`]: the normalized alert, delivery, ids and phone numbers; no I/O.
//! - [`sources`]: each system's payload becomes a [`domain::Delivery`]; one parser table.
//!
//! Settings:
//! - [`config`]: `kaden.yaml` validated into [`config::Config`], every problem at once.
//! - [`pronunciation`]: what text-to-speech is given for monitoring text (rules files).
//!
//! Who is called:
//! - [`routing`]: the first matching route picks the alert's call setting.
//! - [`schedule`]: layered rotations, windows and overrides, resolved at an instant.
//!
//! Escalating, durably:
//! - [`escalation`]: the pure, deterministic state machine of one incident.
//! - [`store`]: SQLite or PostgreSQL; an alert is stored before ingest answers.
//!
//! Phones ring:
//! - [`speech`]: prompts and SMS in the configured language.
//! - [`telephony`]: Twilio's REST API, TwiML and signatures, and the simulator.
//!
//! The daemon's loops:
//! - [`runner`]: owns every live escalation, commits each step, carries out its effects.
//! - [`writeback`]: tells each source system who acknowledged, from the outbox.
//! - [`usage`]: calls, minutes, SMS and their cost; usage triggers.
//!
//! Serving:
//! - [`oncall`]: who is on call, as the API, the status page and `kaden oncall` say it.
//! - [`cluster`]: instances sharing one PostgreSQL: one leads, the others hand it requests.
//! - [`service`]: the state requests reach, and the one ingest path (route, store, run).
//! - [`shift_notice`]: texts before a shift starts and when an override changes it.
//! - [`spool`]: alerts left by notification commands while the daemon was away; drained.
//! - [`testcall`]: one short call to one person before the first real page.
//! - [`http`]: the one listener: webhooks, the JSON API, Twilio's callbacks, the status page.
//! - [`app`]: wiring: builds all of the above, starts it and stops it.
//!
//! The command line:
//! - `client`: commands that ask the running daemon.
//! - [`doctor`]: online checks that `check-config` cannot make.
//! - [`notify`]: `kaden nagios-notify` and `zabbix-alert`: post to the daemon, or spool
//!   (also the lean `kaden-notify` binary, src/bin/kaden-notify.rs).
//! - [`replay`]: what-if replay of past alerts against a candidate config.
//! - [`cli`]: every subcommand.

// Groundwork.
pub mod alarm;
pub mod clock;
pub mod display;
mod fault;
pub mod telemetry;

// An alert comes in.
pub mod domain;
pub mod sources;

// Settings.
pub mod config;
pub mod pronunciation;

// Who is called.
pub mod routing;
pub mod schedule;

// Escalating, durably.
pub mod escalation;
pub mod store;

// Phones ring.
pub mod speech;
pub mod telephony;

// The daemon's loops.
pub mod runner;
pub mod usage;
pub mod writeback;

// Serving.
pub mod cluster;
pub mod heartbeat;
pub mod oncall;
pub mod service;
pub mod shift_notice;
pub mod spool;
pub mod testcall;
// The listener.
pub mod http;
// Wiring.
pub mod app;

// The command line.
mod client;
pub mod doctor;
pub mod notify;
pub mod replay;
// Every subcommand.
pub mod cli;
