//! kaden: an on-call phone-escalation bridge.
//!
//! The modules follow the flow of an alert:
//!
//! - [`sources`]: payloads from Zabbix, Nagios / X-MON, Icinga 2, Mackerel and the generic
//!   API become one [`domain::Alert`].
//! - [`store`]: every alert is written to SQLite before ingest answers.
//! - [`routing`]: routes pick the call setting; alerts are grouped into incidents.
//! - [`http`]: the one listener (webhooks, API, health).
//! - [`app`]: wires config, store and server together; [`cli`] is the command line.

pub mod app;
pub mod cli;
mod client;
pub mod clock;
pub mod config;
pub mod display;
pub mod doctor;
pub mod domain;
pub mod escalation;
mod fault;
pub mod http;
pub mod notify;
pub mod oncall;
pub mod pronunciation;
pub mod replay;
pub mod routing;
pub mod runner;
pub mod schedule;
pub mod service;
pub mod shift_notice;
pub mod sources;
pub mod speech;
pub mod spool;
pub mod store;
pub mod telemetry;
pub mod telephony;
pub mod testcall;
pub mod writeback;
