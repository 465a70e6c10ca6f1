//! One integration-test binary: the HTTP API against a real, in-process daemon, and the
//! built `kaden` binary for what only a process can show (kill -9, signals, CLI).

mod api;
mod calls;
mod fallback;
mod hardening;
mod heartbeats;
mod helpers;
mod ingest;
mod lifecycle;
mod oncall;
/// The library's throw-away PostgreSQL cluster, shared with its own tests.
#[path = "../support/pg_cluster.rs"]
mod pg_cluster;
mod postgres;
mod process;
mod pronunciation;
mod replay;
mod usage;
mod writeback;
