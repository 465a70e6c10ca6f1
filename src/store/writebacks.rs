//! The write-back outbox: one row per alert and action, drained by the writeback worker.

use super::db::vals;
use super::{Store, StoreError, db_time};
use crate::domain::{AlertId, IncidentId, SourceRef};
use crate::escalation::AckBy;
use jiff::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteBackAction {
    Acknowledge,
    Downtime { minutes: u32 },
}

/// Retries 5 s, 10 s, ... 160 s add up to about five minutes after this many attempts:
/// a write-back still pending then is reported on its incident and counted as stuck.
pub const STUCK_AFTER_ATTEMPTS: u32 = 6;

/// A write-back due now.
#[derive(Clone, Debug)]
pub struct PendingWriteBack {
    pub id: i64,
    pub alert_id: AlertId,
    pub incident_id: IncidentId,
    pub action: WriteBackAction,
    pub source_ref: SourceRef,
    pub host: String,
    pub service: Option<String>,
    pub by: AckBy,
    pub attempts: u32,
    /// An earlier attempt was about to send and its outcome was not recorded (a crash,
    /// or a failure after sending): the source may already have it.
    pub maybe_sent: bool,
}

/// What one attempt came to.
pub enum Attempted {
    Done,
    RetryAt {
        at: Timestamp,
        error: String,
    },
    /// The source refused for good (no permission, event gone): reported, not retried.
    Failed {
        error: String,
    },
}

impl Store {
    pub async fn due_writebacks(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<PendingWriteBack>, StoreError> {
        self.call(move |conn| {
            let rows = conn.query("SELECT id, alert_id, incident_id, action, minutes, source_ref, host, service, by_json, attempts,
                        sending_since IS NOT NULL
                 FROM writebacks WHERE state = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2", vals![db_time(now), limit], |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<i64>(1)?,
                    r.get::<i64>(2)?,
                    r.get::<String>(3)?,
                    r.get::<Option<u32>>(4)?,
                    r.get::<String>(5)?,
                    r.get::<String>(6)?,
                    r.get::<Option<String>>(7)?,
                    r.get::<String>(8)?,
                    r.get::<u32>(9)?,
                    r.get::<bool>(10)?,
                ))
            })?;
            rows.into_iter().map(|row| {
                let (id, alert_id, incident_id, action, minutes, source_ref, host, service, by, attempts, maybe_sent) = row;
                let corrupt = |what: &str| StoreError::Corrupt(format!("writeback {id}: {what}"));
                Ok(PendingWriteBack {
                    id,
                    alert_id: AlertId::new(alert_id),
                    incident_id: IncidentId::new(incident_id),
                    action: match (action.as_str(), minutes) {
                        ("downtime", Some(minutes)) => WriteBackAction::Downtime { minutes },
                        ("acknowledge", _) => WriteBackAction::Acknowledge,
                        _ => return Err(corrupt("action")),
                    },
                    source_ref: serde_json::from_str(&source_ref).map_err(|_| corrupt("source_ref"))?,
                    host,
                    service,
                    by: serde_json::from_str(&by).map_err(|_| corrupt("by"))?,
                    attempts,
                    maybe_sent,
                })
            })
            .collect()
        })
        .await
    }

    /// Records, before anything is sent, that the row is about to reach its source.
    pub async fn mark_sending(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE writebacks SET sending_since = ?2 WHERE id = ?1",
                vals![id, db_time(now)],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn record_attempt(
        &self,
        id: i64,
        attempted: Attempted,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let now = db_time(now);
            match attempted {
                Attempted::Done => conn.execute(
                    "UPDATE writebacks SET state = 'done', attempts = attempts + 1, done_at = ?2, last_error = NULL WHERE id = ?1",
                    vals![id, now],
                )?,
                Attempted::RetryAt { at, error } => {
                    conn.execute(
                        "UPDATE writebacks SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
                        vals![id, db_time(at), error],
                    )?;
                    // Once, when the retries have taken about five minutes: the operator
                    // must see that the source has not heard the acknowledgement.
                    conn.execute(
                        "INSERT INTO notices (incident_id, at, level, message)
                         SELECT incident_id, ?2, 'error',
                                'Write-back of alert ' || alert_id || ' to ' || source || ' still pending after '
                                || attempts || ' attempts: ' || last_error
                         FROM writebacks WHERE id = ?1 AND attempts = ?3",
                        vals![id, now, STUCK_AFTER_ATTEMPTS],
                    )?;
                    0
                }
                Attempted::Failed { error } => conn.execute(
                    "UPDATE writebacks SET state = 'failed', attempts = attempts + 1, done_at = ?2, last_error = ?3 WHERE id = ?1",
                    vals![id, now, error],
                )?,
            };
            Ok(())
        })
        .await
    }

    /// When the next pending write-back is due.
    pub async fn next_writeback_at(&self) -> Result<Option<Timestamp>, StoreError> {
        self.call(|conn| {
            let next: Option<String> = conn.query_row(
                "SELECT MIN(next_attempt_at) FROM writebacks WHERE state = 'pending'",
                vals![],
                |r| r.get(0),
            )?;
            next.map(|t| {
                t.parse()
                    .map_err(|e| StoreError::Corrupt(format!("writebacks.next_attempt_at: {e}")))
            })
            .transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_back_stuck_for_minutes_is_reported_once_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kaden.db")).unwrap();
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        store
            .call(move |conn| {
                conn.batch(
                    "INSERT INTO incidents (id, call_setting, status, opened_at, updated_at)
                         VALUES (1, 'infra', 'open', 't', 't');
                     INSERT INTO alerts (id, received_at, source, source_ref, key, kind, severity,
                         host, state, output, occurred_at, raw, incident_id)
                         VALUES (1, 't', 'nagios', '{}', 'web01/HTTP', 'problem', 'high', 'web01',
                         'CRITICAL', '', 't', '', 1);
                     INSERT INTO writebacks (id, alert_id, incident_id, action, source, source_ref,
                         host, by_json, state, next_attempt_at, created_at)
                         VALUES (1, 1, 1, 'acknowledge', 'nagios', '{}', 'web01', '\"Source\"',
                         'pending', 't', 't');",
                )?;
                Ok(())
            })
            .await
            .unwrap();
        for attempt in 1..=STUCK_AFTER_ATTEMPTS + 2 {
            let error = format!("Nagios is not reading the pipe ({attempt})");
            store
                .record_attempt(1, Attempted::RetryAt { at: now, error }, now)
                .await
                .unwrap();
        }
        let notices: Vec<String> = store
            .call(|conn| {
                let rows = conn.query(
                    "SELECT message FROM notices WHERE incident_id = 1",
                    vals![],
                    |r| r.get(0),
                )?;
                Ok(rows)
            })
            .await
            .unwrap();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0]
                .contains("still pending after 6 attempts: Nagios is not reading the pipe (6)"),
            "{notices:?}"
        );
        let stuck: Vec<_> = store
            .metrics()
            .await
            .unwrap()
            .into_iter()
            .filter(|(name, _, _)| *name == "kaden_writebacks_stuck")
            .collect();
        assert_eq!(
            stuck,
            [(
                "kaden_writebacks_stuck",
                vec![("source", "nagios".to_owned())],
                1.0
            )]
        );
    }
}
