//! Escalation persistence: after every engine step the new state, the call log rows, the
//! notices and the write-back rows it produced are committed together, before any call is
//! placed, so a restart continues exactly where the engine was.

use super::{Store, StoreError, db_time};
use crate::domain::{Alert, AlertId, AlertKind, CallSettingId, IncidentId, Severity, SourceRef};
use crate::escalation::{AckBy, CallRecord, Effect, Escalation, WriteBackItem};
use jiff::Timestamp;
use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

/// An alert of an open incident, replayed into the engine at start-up.
pub struct OpenAlert {
    pub incident: IncidentId,
    pub call_setting: CallSettingId,
    pub alert_id: AlertId,
    pub alert: Alert,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoticeView {
    pub at: String,
    pub level: String,
    pub message: String,
}

impl Store {
    /// Commits one engine step. `done`: nothing more can happen for this incident.
    pub async fn save_step(
        &self,
        escalation: Escalation,
        effects: Vec<Effect>,
        now: Timestamp,
        done: bool,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let state = serde_json::to_string(&escalation).expect("escalation state serializes");
            let status = serde_json::to_value(escalation.status).expect("status serializes");
            tx.execute(
                "INSERT INTO escalations (incident_id, state, status, done, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (incident_id) DO UPDATE SET
                    state = excluded.state, status = excluded.status, done = excluded.done,
                    updated_at = excluded.updated_at",
                params![
                    escalation.incident_id.get(),
                    state,
                    status.as_str(),
                    done,
                    db_time(now)
                ],
            )?;
            for effect in &effects {
                record_effect(&tx, escalation.incident_id, effect, now)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Every escalation that may still act.
    pub async fn active_escalations(&self) -> Result<Vec<Escalation>, StoreError> {
        self.call(|conn| {
            let mut stmt =
                conn.prepare("SELECT state FROM escalations WHERE done = 0 ORDER BY incident_id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|row| {
                let text = row?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("escalation state: {e}")))
            })
            .collect()
        })
        .await
    }

    /// Alerts of open, routed incidents, oldest first: replaying them is idempotent and
    /// closes the gap between an alert's commit and the engine's.
    pub async fn open_alerts(&self) -> Result<Vec<OpenAlert>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT a.incident_id, i.call_setting, a.id, a.source_ref, a.key, a.kind, a.severity,
                        a.host, a.service, a.state, a.output, a.occurred_at
                 FROM alerts a JOIN incidents i ON i.id = a.incident_id
                 WHERE i.status = 'open' AND i.call_setting IS NOT NULL
                 ORDER BY a.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    [r.get::<_, String>(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                    r.get::<_, Option<String>>(8)?,
                    [r.get::<_, String>(9)?, r.get(10)?, r.get(11)?],
                ))
            })?;
            rows.map(|row| {
                let (incident, call_setting, alert_id, [source_ref, key, kind, severity, host], service, [state, output, occurred_at]) = row?;
                let corrupt = |what: &str| StoreError::Corrupt(format!("alert {alert_id}: {what}"));
                let alert = Alert {
                    source_ref: serde_json::from_str::<SourceRef>(&source_ref).map_err(|_| corrupt("source_ref"))?,
                    key,
                    kind: AlertKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                    severity: severity.parse::<Severity>().map_err(|_| corrupt("severity"))?,
                    host,
                    service,
                    state,
                    output,
                    occurred_at: occurred_at.parse().map_err(|_| corrupt("occurred_at"))?,
                    raw: String::new(),
                };
                Ok(OpenAlert {
                    incident: IncidentId::new(incident),
                    call_setting: CallSettingId::new(call_setting),
                    alert_id: AlertId::new(alert_id),
                    alert,
                })
            })
            .collect()
        })
        .await
    }

    /// Calls placed since `since`, for the daemon-wide hourly cap after a restart.
    pub async fn calls_placed_since(&self, since: Timestamp) -> Result<Vec<Timestamp>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare("SELECT placed_at FROM calls WHERE placed_at >= ?1 ORDER BY placed_at")?;
            let rows = stmt.query_map([db_time(since)], |r| r.get::<_, String>(0))?;
            rows.map(|r| {
                r?.parse()
                    .map_err(|e| StoreError::Corrupt(format!("calls.placed_at: {e}")))
            })
            .collect()
        })
        .await
    }
}

fn record_effect(
    tx: &Transaction,
    incident: IncidentId,
    effect: &Effect,
    now: Timestamp,
) -> rusqlite::Result<()> {
    match effect {
        Effect::RecordCall(record) => upsert_call(tx, record),
        Effect::Notice { error, message } => {
            tx.execute(
                "INSERT INTO notices (incident_id, at, level, message) VALUES (?1, ?2, ?3, ?4)",
                params![
                    incident.get(),
                    db_time(now),
                    if *error { "error" } else { "info" },
                    message
                ],
            )?;
            Ok(())
        }
        Effect::Acknowledge { items, by } => {
            record_acknowledgement(tx, incident, items, by, now)?;
            if *by == AckBy::Source {
                return Ok(()); // The source has it already.
            }
            insert_writebacks(tx, incident, "acknowledge", items, by, None, now)
        }
        Effect::AcknowledgementStale { keys } => {
            let mut stmt = tx.prepare_cached(
                "UPDATE problems SET acknowledged_at = NULL, acknowledged_by = NULL
                 WHERE incident_id = ?1 AND source = ?2 AND key = ?3",
            )?;
            for key in keys {
                stmt.execute(params![incident.get(), key.source.as_str(), key.key])?;
            }
            Ok(())
        }
        Effect::Downtime { items, minutes, by } => {
            insert_writebacks(tx, incident, "downtime", items, by, Some(*minutes), now)
        }
        _ => Ok(()),
    }
}

/// Marks the problems acknowledged (the incident's lifecycle reads this).
fn record_acknowledgement(
    tx: &Transaction,
    incident: IncidentId,
    items: &[WriteBackItem],
    by: &AckBy,
    now: Timestamp,
) -> rusqlite::Result<()> {
    let by = by.view().to_string();
    let mut stmt = tx.prepare_cached(
        "UPDATE problems SET acknowledged_at = ?4, acknowledged_by = ?5
         WHERE incident_id = ?1 AND source = ?2 AND key = ?3",
    )?;
    for item in items {
        stmt.execute(params![
            incident.get(),
            item.key.source.as_str(),
            item.key.key,
            db_time(now),
            by
        ])?;
    }
    Ok(())
}

fn upsert_call(tx: &Transaction, r: &CallRecord) -> rusqlite::Result<()> {
    let ts = |t: Option<Timestamp>| t.map(db_time);
    tx.execute(
        "INSERT INTO calls (id, incident_id, user_id, phone, purpose, placed_at, sid, answered_at,
                            ended_at, outcome, keys, acknowledged)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET
            sid = COALESCE(excluded.sid, sid), answered_at = COALESCE(excluded.answered_at, answered_at),
            ended_at = COALESCE(excluded.ended_at, ended_at), outcome = COALESCE(excluded.outcome, outcome),
            keys = excluded.keys, acknowledged = excluded.acknowledged",
        params![
            r.call_id.as_str(),
            r.incident_id.get(),
            r.user.as_str(),
            r.phone.as_str(),
            serde_json::to_value(r.purpose).expect("purpose serializes").as_str(),
            db_time(r.placed_at),
            r.sid,
            ts(r.answered_at),
            ts(r.ended_at),
            r.outcome,
            serde_json::to_string(&r.keys).expect("keys serialize"),
            serde_json::to_string(&r.acknowledged).expect("keys serialize"),
        ],
    )?;
    Ok(())
}

/// One row per alert and action; a repeated acknowledgement of the same alert is ignored.
/// Generic alerts have no source to write to and get no row.
fn insert_writebacks(
    tx: &Transaction,
    incident: IncidentId,
    action: &str,
    items: &[WriteBackItem],
    by: &AckBy,
    minutes: Option<u32>,
    now: Timestamp,
) -> rusqlite::Result<()> {
    let by = serde_json::to_string(by).expect("AckBy serializes");
    for item in items.iter().filter(|i| i.source_ref != SourceRef::Generic) {
        tx.execute(
            "INSERT OR IGNORE INTO writebacks (alert_id, incident_id, action, source, source_ref, host,
                 service, by_json, minutes, state, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?10)",
            params![
                item.alert_id.get(),
                incident.get(),
                action,
                item.source_ref.source().as_str(),
                serde_json::to_string(&item.source_ref).expect("SourceRef serializes"),
                item.host,
                item.service,
                by,
                minutes,
                db_time(now),
            ],
        )?;
    }
    Ok(())
}
