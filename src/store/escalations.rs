//! Escalation persistence: after every engine step the new state, the call log rows, the
//! notices and the write-back rows it produced are committed together, before any call is
//! placed, so a restart continues exactly where the engine was.
//!
//! The state is stored in two parts: the escalation without its items (calls, attempts,
//! position: small), rewritten per step, and one row per item, written only when the step
//! changed it. An alert joining an incident of 10,000 items writes one item row.

use super::db::{Db, DbResult, vals};
use super::{Store, StoreError, db_time};
use crate::domain::{Alert, AlertId, AlertKind, CallSettingId, IncidentId, Severity, SourceRef};
use crate::escalation::{AckBy, CallRecord, Escalation, Item, Record, WriteBackItem};
use jiff::Timestamp;

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

/// What one engine step leaves to store.
pub struct StepToSave {
    pub incident: IncidentId,
    /// [`Escalation::core_json`]; `None` when the step left it as it was.
    pub core: Option<String>,
    pub status: crate::escalation::Status,
    /// The items the step changed, with their positions.
    pub items: Vec<(usize, Item)>,
    pub records: Vec<Record>,
    /// Nothing more can happen for this incident.
    pub done: bool,
    pub at: Timestamp,
}

impl StepToSave {
    /// Takes what `escalation` changed since the last step saved; `last_core` is the
    /// state saved then, so an unchanged state is not written again.
    pub fn of(
        escalation: &mut Escalation,
        last_core: Option<&str>,
        records: Vec<Record>,
        finished: bool,
        at: Timestamp,
    ) -> StepToSave {
        let core = escalation.core_json();
        StepToSave {
            incident: escalation.incident_id(),
            core: (last_core != Some(core.as_str())).then_some(core),
            status: escalation.status(),
            items: escalation.take_changed_items(),
            records,
            done: finished,
            at,
        }
    }

    /// Whether storing it would change anything.
    pub fn is_empty(&self) -> bool {
        self.core.is_none() && self.items.is_empty() && self.records.is_empty() && !self.done
    }
}

impl Store {
    /// Commits one engine step. Queued at once: steps queued back to back share a commit.
    pub fn save_step(
        &self,
        step: StepToSave,
    ) -> impl Future<Output = Result<(), StoreError>> + use<> {
        // Patient: no call is placed nor anyone told before its step is stored.
        self.call_patient(move |conn| {
            let status = serde_json::to_value(step.status).expect("status serializes");
            let incident = step.incident.get();
            let at = db_time(step.at);
            match &step.core {
                Some(core) => conn.execute(
                    "INSERT INTO escalations (incident_id, state, status, done, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (incident_id) DO UPDATE SET
                        state = excluded.state, status = excluded.status, done = excluded.done,
                        updated_at = excluded.updated_at",
                    vals![incident, core, status.as_str(), step.done, at],
                )?,
                // The status is part of the core: unchanged. Only `done` may be news; an
                // alert joining a storm's incident leaves the row (and its page) alone.
                None if step.done => conn.execute(
                    "UPDATE escalations SET done = ?2, updated_at = ?3 WHERE incident_id = ?1",
                    vals![incident, step.done, at],
                )?,
                None => 0,
            };
            for (position, item) in &step.items {
                let item = serde_json::to_string(item).expect("an item serializes");
                conn.execute(
                    "INSERT INTO escalation_items (incident_id, position, item) VALUES (?1, ?2, ?3)
                     ON CONFLICT (incident_id, position) DO UPDATE SET item = excluded.item",
                    vals![incident, *position as i64, item],
                )?;
            }
            for record in &step.records {
                save_record(conn, step.incident, record, step.at)?;
            }
            Ok(())
        })
    }

    /// Every escalation that may still act.
    pub async fn active_escalations(&self) -> Result<Vec<Escalation>, StoreError> {
        self.call(|conn| {
            let corrupt =
                |e: serde_json::Error| StoreError::Corrupt(format!("escalation state: {e}"));
            let cores: Vec<(i64, String)> = conn.query(
                "SELECT incident_id, state FROM escalations WHERE done = 0 ORDER BY incident_id",
                vals![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            cores
                .into_iter()
                .map(|(incident, core)| {
                    let rows = conn.query(
                        "SELECT item FROM escalation_items WHERE incident_id = ?1 ORDER BY position",
                        vals![incident],
                        |r| r.get::<String>(0),
                    )?;
                    let list = rows
                        .iter()
                        .map(|row| serde_json::from_str::<Item>(row).map_err(corrupt))
                        .collect::<Result<Vec<Item>, StoreError>>()?;
                    Escalation::restore(&core, list).map_err(corrupt)
                })
                .collect()
        })
        .await
    }

    /// Alerts of open, routed incidents, oldest first: replaying them is idempotent and
    /// closes the gap between an alert's commit and the engine's.
    pub async fn open_alerts(&self) -> Result<Vec<OpenAlert>, StoreError> {
        self.call(|conn| {
            let rows = conn.query(
                "SELECT a.incident_id, i.call_setting, a.id, a.source_ref, a.key, a.kind, a.severity,
                        a.host, a.service, a.state, a.output, a.occurred_at
                 FROM alerts a JOIN incidents i ON i.id = a.incident_id
                 WHERE i.status = 'open' AND i.call_setting IS NOT NULL
                 ORDER BY a.id",
                vals![],
                |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<i64>(2)?,
                    [r.get::<String>(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                    r.get::<Option<String>>(8)?,
                    [r.get::<String>(9)?, r.get(10)?, r.get(11)?],
                ))
            })?;
            rows.into_iter().map(|row| {
                let (incident, call_setting, alert_id, [source_ref, key, kind, severity, host], service, [state, output, occurred_at]) = row;
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
            let rows = conn.query(
                "SELECT placed_at FROM calls WHERE placed_at >= ?1 ORDER BY placed_at",
                vals![db_time(since)],
                |r| r.get::<String>(0),
            )?;
            rows.iter()
                .map(|r| {
                    r.parse()
                        .map_err(|e| StoreError::Corrupt(format!("calls.placed_at: {e}")))
                })
                .collect()
        })
        .await
    }
}

fn save_record(tx: &Db, incident: IncidentId, record: &Record, now: Timestamp) -> DbResult<()> {
    match record {
        Record::Call(call) => upsert_call(tx, call),
        Record::Notice(notice) => {
            tx.execute(
                "INSERT INTO notices (incident_id, at, level, message) VALUES (?1, ?2, ?3, ?4)",
                vals![
                    incident.get(),
                    db_time(now),
                    if notice.is_error() { "error" } else { "info" },
                    notice.to_string()
                ],
            )?;
            Ok(())
        }
        Record::Acknowledged { items, by } => {
            record_acknowledgement(tx, incident, items, by, now)?;
            if *by == AckBy::Source {
                return Ok(()); // The source has it already.
            }
            insert_writebacks(tx, incident, "acknowledge", items, by, None, now)
        }
        Record::AcknowledgementStale { keys } => {
            for key in keys {
                tx.execute(
                    "UPDATE problems SET acknowledged_at = NULL, acknowledged_by = NULL
                     WHERE incident_id = ?1 AND source = ?2 AND key = ?3",
                    vals![incident.get(), key.source.as_str(), key.key],
                )?;
            }
            Ok(())
        }
        Record::Downtime { items, minutes, by } => {
            insert_writebacks(tx, incident, "downtime", items, by, Some(*minutes), now)
        }
    }
}

/// Marks the problems acknowledged (the incident's lifecycle reads this).
fn record_acknowledgement(
    tx: &Db,
    incident: IncidentId,
    items: &[WriteBackItem],
    by: &AckBy,
    now: Timestamp,
) -> DbResult<()> {
    let by = by.view().to_string();
    for item in items {
        tx.execute(
            "UPDATE problems SET acknowledged_at = ?4, acknowledged_by = ?5
             WHERE incident_id = ?1 AND source = ?2 AND key = ?3",
            vals![
                incident.get(),
                item.key.source.as_str(),
                item.key.key,
                db_time(now),
                by
            ],
        )?;
    }
    Ok(())
}

fn upsert_call(tx: &Db, r: &CallRecord) -> DbResult<()> {
    let ts = |t: Option<Timestamp>| t.map(db_time);
    tx.execute(
        "INSERT INTO calls (id, incident_id, user_id, phone, purpose, placed_at, sid, answered_at,
                            ended_at, outcome, keys, acknowledged)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET
            sid = COALESCE(excluded.sid, calls.sid),
            answered_at = COALESCE(excluded.answered_at, calls.answered_at),
            ended_at = COALESCE(excluded.ended_at, calls.ended_at),
            outcome = COALESCE(excluded.outcome, calls.outcome),
            keys = excluded.keys, acknowledged = excluded.acknowledged",
        vals![
            r.call_id.as_str(),
            r.incident_id.get(),
            r.user.as_str(),
            r.phone.as_str(),
            serde_json::to_value(r.purpose)
                .expect("purpose serializes")
                .as_str(),
            db_time(r.placed_at),
            r.sid,
            ts(r.answered_at),
            ts(r.ended_at),
            r.outcome.map(|o| o.as_str()),
            serde_json::to_string(&r.keys).expect("keys serialize"),
            serde_json::to_string(&r.acknowledged).expect("keys serialize"),
        ],
    )?;
    Ok(())
}

/// One row per alert and action; a repeated acknowledgement of the same alert is ignored.
/// Generic alerts have no source to write to and get no row.
fn insert_writebacks(
    tx: &Db,
    incident: IncidentId,
    action: &str,
    items: &[WriteBackItem],
    by: &AckBy,
    minutes: Option<u32>,
    now: Timestamp,
) -> DbResult<()> {
    let by = serde_json::to_string(by).expect("AckBy serializes");
    for item in items.iter().filter(|i| i.source_ref != SourceRef::Generic) {
        tx.execute(
            "INSERT INTO writebacks (alert_id, incident_id, action, source, source_ref, host,
                 service, by_json, minutes, state, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?10)
             ON CONFLICT DO NOTHING",
            vals![
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Keypad, Source};
    use crate::escalation::{AlertInput, Ctx, Input, ItemKey, Person, Roster, SettingSnapshot};
    use std::time::Duration;

    /// Nobody to call: the escalation keeps its items and places no call.
    struct Nobody;

    impl Roster for Nobody {
        fn person(&self, _: &crate::domain::UserId) -> Option<Person> {
            None
        }
        fn on_call(
            &self,
            _: &crate::domain::ScheduleId,
            _: Timestamp,
        ) -> Option<crate::domain::UserId> {
            None
        }
    }

    fn escalation() -> Escalation {
        let setting = SettingSnapshot {
            id: CallSettingId::new("infra".to_owned()),
            broadcast: true,
            targets: Vec::new(),
            ring_timeout: Duration::from_secs(30),
            retry_after: Duration::from_secs(60),
            max_callbacks: 1,
            rounds: 1,
            notify_recovery: true,
            keypad_timeout: Duration::from_secs(10),
            sms_on_exhaustion: false,
            reescalate_after: None,
        };
        Escalation::new(IncidentId::new(1), setting)
    }

    fn alert(esc: &mut Escalation, id: i64, kind: AlertKind, key: &str, now: Timestamp) {
        let ctx = Ctx {
            roster: &Nobody,
            per_number_limit: 10,
            per_number_window: Duration::from_secs(3600),
            downtime_minutes: 60,
            keypad: Keypad::default(),
        };
        let input = Input::Alert(AlertInput {
            alert_id: AlertId::new(id),
            kind,
            key: ItemKey {
                source: Source::Generic,
                key: key.into(),
            },
            host: key.into(),
            service: None,
            severity: Severity::High,
            state_word: "DOWN".into(),
            output: String::new(),
            source_ref: SourceRef::Generic,
        });
        esc.handle(input, now, &ctx);
    }

    #[tokio::test]
    async fn a_step_writes_only_what_changed_and_restores_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kaden.db")).unwrap();
        store.insert_open_incident(1).await;
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut esc = escalation();
        for (id, key) in [(1, "db-01"), (2, "web-01"), (3, "web-02")] {
            alert(&mut esc, id, AlertKind::Problem, key, now);
        }
        let first = StepToSave::of(&mut esc, None, Vec::new(), false, now);
        assert_eq!(first.items.len(), 3);
        let core = first.core.clone();
        store.save_step(first).await.unwrap();

        alert(&mut esc, 4, AlertKind::Recovery, "web-01", now);
        let second = StepToSave::of(&mut esc, core.as_deref(), Vec::new(), false, now);
        assert_eq!(second.items.len(), 1, "one item changed, one row written");
        assert!(second.core.is_none(), "the rest of the state is unchanged");
        store.save_step(second).await.unwrap();

        let restored = store.active_escalations().await.unwrap();
        assert_eq!(restored, [esc.clone()]);
        assert!(StepToSave::of(&mut esc, core.as_deref(), Vec::new(), false, now).is_empty());
    }
}
