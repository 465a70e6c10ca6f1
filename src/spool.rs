//! The spool: where a notification command leaves an alert when the daemon cannot be
//! reached, so the alert is never lost. Each file is written whole (temporary file,
//! fsync, rename); the daemon drains the directory at start and every few seconds.
//! Every instance drains its own host's spool: one that leads stores the alerts, one
//! that waits hands them to the leader, as the notification command would have.

use crate::domain::IdempotencyKey;
use crate::service::AppState;
use crate::sources::{Event, Webhook};
use crate::store::Outcome;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the daemon looks into the spool.
const DRAIN_EVERY: Duration = Duration::from_secs(10);

#[derive(Serialize, Deserialize)]
pub struct Spooled {
    /// The webhook the alert was meant for, e.g. `nagios`.
    pub source: String,
    pub body: serde_json::Value,
    /// Sent with the first attempt too: however often the alert reaches the daemon (posted,
    /// then drained after a crash lost the answer), it is stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<IdempotencyKey>,
}

/// Writes one alert durably; returns the file.
pub fn write(dir: &Path, spooled: &Spooled) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    use crate::clock::Clock;
    // Names sort oldest first: the daemon delivers in order.
    let name = format!(
        "{}-{}-{:08x}.json",
        crate::clock::SystemClock.now().as_nanosecond(),
        std::process::id(),
        fastrand::u32(..)
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&serde_json::to_vec(spooled).expect("spooled alerts serialize"))?;
    file.sync_all()?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(path)
}

/// Ingests every spooled alert, oldest first. A file that cannot become an alert is
/// moved to `rejected/` and logged, never deleted.
async fn drain(state: &AppState, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in files {
        let parsed = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Spooled>(&bytes).ok())
            .and_then(|s| Webhook::named(&s.source).map(|w| (w, s)));
        let Some((webhook, spooled)) = parsed else {
            reject(dir, &path, "not a spooled alert");
            continue;
        };
        let now = state.clock.now();
        match webhook.parse(spooled.body.to_string().as_bytes(), now) {
            Ok(Event::Alert(_)) if !state.cluster.leading() => {
                match hand_to_leader(state, webhook, &spooled).await {
                    Ok(()) => {
                        let _ = std::fs::remove_file(&path);
                        tracing::info!(file = %path.display(), "Spooled alert handed to the leading instance.");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Cannot hand a spooled alert to the leading instance; it stays in the spool.");
                        return;
                    }
                }
            }
            Ok(Event::Alert(delivery)) => match state
                .ingest(delivery.with_key(spooled.idempotency_key), now)
                .await
            {
                Ok(ingested) if ingested.outcome == Outcome::KeyReused => {
                    reject(
                        dir,
                        &path,
                        "its idempotency key names a different stored alert",
                    );
                }
                Ok(_) => {
                    crate::fault::crash_point("spool-delivered");
                    let _ = std::fs::remove_file(&path);
                    tracing::info!(file = %path.display(), "Spooled alert delivered.");
                }
                Err(e) => {
                    tracing::error!(error = %e, "Cannot store a spooled alert; it stays in the spool.");
                    return;
                }
            },
            Ok(Event::Ignored(event)) => {
                // Answered 202 and dropped when posted: the same here.
                let _ = std::fs::remove_file(&path);
                tracing::info!(file = %path.display(), source = webhook.name(), event = %event,
                    "Spooled event other than alert; ignored.");
            }
            Err(e) => reject(dir, &path, &e.to_string()),
        }
    }
}

/// Posts a spooled alert to the instance that leads, with its idempotency key, so it is
/// stored once however often it is sent.
async fn hand_to_leader(
    state: &AppState,
    webhook: Webhook,
    spooled: &Spooled,
) -> Result<(), String> {
    let Some((_, url)) = state.store.leader().await.map_err(|e| e.to_string())? else {
        return Err("no instance leads".into());
    };
    let mut request = state
        .cluster
        .client
        .post(format!("{url}{}", webhook.path()))
        .json(&spooled.body);
    if let Some(key) = &spooled.idempotency_key {
        request = request.header("Idempotency-Key", key.as_str());
    }
    let server = &state.config.server;
    if let Some(token) = server.ingest_tokens.first().or(server.api_tokens.first()) {
        request = request.bearer_auth(token.expose_secret());
    }
    let answer = request.send().await.map_err(|e| e.to_string())?;
    match answer.status() {
        status if status.is_success() => Ok(()),
        status => Err(format!("the leading instance answered {status}")),
    }
}

/// Delivers what notification commands spooled while the daemon was away.
pub async fn run(state: AppState, stop: CancellationToken) {
    let dir = state.config.storage.spool.clone();
    loop {
        drain(&state, &dir).await;
        tokio::select! {
            _ = tokio::time::sleep(DRAIN_EVERY) => {}
            _ = stop.cancelled() => break,
        }
    }
}

fn reject(dir: &Path, path: &Path, why: &str) {
    let rejected = dir.join("rejected");
    let moved = std::fs::create_dir_all(&rejected)
        .and_then(|_| std::fs::rename(path, rejected.join(path.file_name().unwrap_or_default())));
    tracing::error!(file = %path.display(), why, moved = moved.is_ok(), "A spooled file is not a valid alert; moved to rejected/.");
}
