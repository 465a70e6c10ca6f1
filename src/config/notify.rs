//! What a notification command (`kaden nagios-notify`, `kaden zabbix-alert`) reads of the
//! config, and nothing more: where the daemon listens, one token to post alerts with, and
//! the spool. It runs as the monitoring system's user, which must not need the Twilio
//! token or any other secret: nothing else is resolved, and a token it cannot read only
//! means the alert goes through the spool.

use super::secret::{self, SecretSource};
use super::validate::{DEFAULT_LISTEN, storage_paths};
use super::yaml;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub struct NotifySettings {
    /// Where this host reaches the daemon.
    pub daemon: SocketAddr,
    /// The first of `server.ingest_tokens`, else of `server.api_tokens`, if readable here.
    pub token: Option<SecretString>,
    /// Why no token could be read, when one is configured.
    pub token_problem: Option<String>,
    pub spool: PathBuf,
}

/// Only the keys read here; every other key is ignored, whatever its value.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Lenient {
    server: LenientServer,
    storage: LenientStorage,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct LenientServer {
    listen: Option<String>,
    api_tokens: Vec<String>,
    ingest_tokens: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct LenientStorage {
    sqlite: Option<String>,
    spool: Option<String>,
}

/// Errors name the file and what is wrong in it; never a secret.
pub fn notify_settings(path: &Path, secrets: &dyn SecretSource) -> Result<NotifySettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let (value, _) = yaml::parse(&text).map_err(|(line, message)| match line {
        Some(line) => format!("{}:{line}: {message}", path.display()),
        None => format!("{}: {message}", path.display()),
    })?;
    let raw: Lenient = serde_json::from_value(value)
        .map_err(|e| format!("{}: server or storage: {e}", path.display()))?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let listen_raw = raw.server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen: SocketAddr = listen_raw.parse().map_err(|_| {
        format!(
            "{}: server.listen: {listen_raw:?} is not an address:port",
            path.display()
        )
    })?;
    let (_, spool) = storage_paths(
        base_dir,
        raw.storage.sqlite.as_deref(),
        raw.storage.spool.as_deref(),
    );
    let (key, reference) = match (
        raw.server.ingest_tokens.first(),
        raw.server.api_tokens.first(),
    ) {
        (Some(t), _) => ("server.ingest_tokens[0]", Some(t)),
        (None, Some(t)) => ("server.api_tokens[0]", Some(t)),
        (None, None) => ("", None),
    };
    let (token, token_problem) = match reference.map(|r| secret::resolve(r, base_dir, secrets)) {
        Some(Ok(token)) => (Some(token), None),
        Some(Err(why)) => (None, Some(format!("{key}: {why}"))),
        None => (None, None),
    };
    Ok(NotifySettings {
        daemon: super::local_addr(listen),
        token,
        token_problem,
        spool,
    })
}
