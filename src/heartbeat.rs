//! Heartbeats (`heartbeats:`): something outside (a cron job, the monitoring server
//! itself) checks in every so often. One missed for `every + grace` becomes a generic
//! problem alert on the heartbeat's own call setting, through the one ingest path; the
//! next check-in is its recovery.
//!
//! Last-seen times live in memory and daemon start counts as a check-in: after a restart
//! a silent sender is noticed `every + grace` later, and nothing is raised for the time
//! the daemon itself was down.

use crate::config::{Heartbeat, Language};
use crate::domain::{Alert, AlertKind, Delivery, Severity, SourceRef};
use crate::service::AppState;
use crate::store::{Ingested, StoreError};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the monitor looks at last-seen times (cheap: memory only).
const CHECK_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
struct Beat {
    last_seen: Timestamp,
    /// The miss was raised; it is not raised again until the next check-in.
    raised: bool,
    /// The next check-in sends a recovery: after a raised miss, and once after start (a
    /// problem raised before a restart may still be open).
    recover_next: bool,
}

/// Last-seen times by heartbeat id.
pub struct Heartbeats(Mutex<HashMap<String, Beat>>);

impl Heartbeats {
    pub fn new(config: &[Heartbeat], started_at: Timestamp) -> Heartbeats {
        let beat = Beat {
            last_seen: started_at,
            raised: false,
            recover_next: true,
        };
        Heartbeats(Mutex::new(
            config.iter().map(|h| (h.id.clone(), beat)).collect(),
        ))
    }

    /// Counts every heartbeat as seen at `now`: an instance that starts to lead has
    /// handed the check-ins it got to the old leader, not kept them.
    pub fn restart(&self, now: Timestamp) {
        for beat in self.lock().values_mut() {
            beat.last_seen = beat.last_seen.max(now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Beat>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The key every alert of heartbeat `id` carries.
pub fn key(id: &str) -> String {
    format!("heartbeat/{id}")
}

fn alert(language: Language, id: &str, kind: AlertKind, at: Timestamp) -> Alert {
    let (state, output) = match (kind, language) {
        (AlertKind::Problem, Language::JaJp) => {
            ("PROBLEM", format!("{id} からの死活監視が途絶えました"))
        }
        (AlertKind::Problem, Language::EnUs) => ("PROBLEM", format!("No heartbeat from {id}")),
        (_, Language::JaJp) => ("OK", format!("{id} からの死活監視が再開しました")),
        (_, Language::EnUs) => ("OK", format!("Heartbeat from {id} is back")),
    };
    Alert {
        source_ref: SourceRef::Generic,
        key: key(id),
        kind,
        severity: Severity::High,
        host: id.to_owned(),
        service: None,
        state: state.into(),
        raw: serde_json::json!({ "heartbeat": id, "kind": kind.as_str(), "summary": output })
            .to_string(),
        output,
        occurred_at: at,
    }
}

/// Records a check-in of heartbeat `id` at `now`; `None` when no heartbeat has that id.
/// After a raised miss the recovery is ingested (an ordinary recovery: with no open
/// problem it is stored linked to nothing).
pub async fn check_in(
    state: &AppState,
    beats: &Heartbeats,
    id: &str,
    now: Timestamp,
) -> Option<Result<Option<Ingested>, StoreError>> {
    let heartbeat = state.config.heartbeats.iter().find(|h| h.id == id)?;
    let recover = {
        let mut beats = beats.lock();
        let beat = beats.get_mut(id)?;
        let recover = beat.recover_next;
        *beat = Beat {
            last_seen: now,
            raised: false,
            recover_next: false,
        };
        recover
    };
    if !recover {
        return Some(Ok(None));
    }
    let recovery = alert(state.config.locale.language, id, AlertKind::Recovery, now);
    let ingested = state
        .ingest_to(
            Delivery::new(recovery, None),
            Some(heartbeat.call.clone()),
            now,
        )
        .await;
    if ingested.is_err() {
        // Not stored: the next check-in tries again.
        if let Some(beat) = beats.lock().get_mut(id) {
            beat.recover_next = true;
        }
    }
    Some(ingested.map(Some))
}

/// The heartbeats overdue at `now` that have not been raised yet; marks them raised.
fn overdue<'a>(state: &'a AppState, beats: &Heartbeats, now: Timestamp) -> Vec<&'a Heartbeat> {
    let mut beats = beats.lock();
    state
        .config
        .heartbeats
        .iter()
        .filter(|h| {
            let Some(beat) = beats.get_mut(&h.id) else {
                return false;
            };
            let allowed =
                SignedDuration::try_from(h.every + h.grace).unwrap_or(SignedDuration::MAX);
            let late = now.duration_since(beat.last_seen) > allowed;
            if late && !beat.raised {
                beat.raised = true;
                beat.recover_next = true;
                true
            } else {
                false
            }
        })
        .collect()
}

/// Raises each missed heartbeat once, until `stop`.
pub async fn run(state: AppState, beats: Arc<Heartbeats>, stop: CancellationToken) {
    if state.config.heartbeats.is_empty() {
        return;
    }
    loop {
        let now = state.clock.now();
        for heartbeat in overdue(&state, &beats, now) {
            let id = &heartbeat.id;
            tracing::warn!(heartbeat = %id, "Heartbeat missed; raising a problem.");
            let problem = alert(state.config.locale.language, id, AlertKind::Problem, now);
            let delivery = Delivery::new(problem, None);
            if let Err(e) = state
                .ingest_to(delivery, Some(heartbeat.call.clone()), now)
                .await
            {
                tracing::error!(heartbeat = %id, error = %e, "Cannot store the missed heartbeat; trying again.");
                if let Some(beat) = beats.lock().get_mut(id) {
                    beat.raised = false;
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}
