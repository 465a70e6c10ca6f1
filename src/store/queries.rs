//! Read models for the API and the CLI.

use super::{Store, StoreError};
use crate::domain::{AlertId, IncidentId};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IncidentSummary {
    pub id: IncidentId,
    /// `None`: no route matched; the alerts are kept and shown, nobody is called.
    pub call_setting: Option<String>,
    pub unrouted: bool,
    pub status: String,
    pub opened_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub open_problems: u32,
    pub problems: u32,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ProblemView {
    pub source: String,
    pub key: String,
    pub host: String,
    pub service: Option<String>,
    pub severity: String,
    pub state: String,
    pub output: String,
    pub status: String,
    pub last_alert_id: AlertId,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AlertView {
    pub id: AlertId,
    pub received_at: String,
    pub source: String,
    pub source_ref: serde_json::Value,
    pub key: String,
    pub kind: String,
    pub severity: String,
    pub host: String,
    pub service: Option<String>,
    pub state: String,
    pub output: String,
    pub occurred_at: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub summary: IncidentSummary,
    /// escalating, quiet or exhausted; none for unrouted incidents.
    pub escalation: Option<String>,
    pub problem_list: Vec<ProblemView>,
    pub alerts: Vec<AlertView>,
    pub calls: Vec<CallView>,
    pub notices: Vec<super::NoticeView>,
    pub writebacks: Vec<WriteBackView>,
}

/// One row of the call log (design.md rule 9).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallView {
    pub id: String,
    pub incident_id: IncidentId,
    pub user: String,
    pub phone: String,
    pub purpose: String,
    pub placed_at: String,
    pub call_sid: Option<String>,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    pub outcome: Option<String>,
    pub keys: Vec<String>,
    pub acknowledged: Vec<String>,
}

/// One write-back (acknowledgement or downtime of one alert in its source).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WriteBackView {
    pub alert_id: AlertId,
    pub action: String,
    pub source: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub done_at: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct CallFilter {
    pub incident: Option<IncidentId>,
    pub limit: u32,
}

#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    /// `open` or `recovered`; `None` lists both.
    pub status: Option<String>,
    pub limit: u32,
}

const SUMMARY_SELECT: &str = "SELECT i.id, i.call_setting, i.status, i.opened_at, i.updated_at,
        i.resolved_at,
        (SELECT COUNT(*) FROM problems p WHERE p.incident_id = i.id AND p.status = 'problem'),
        (SELECT COUNT(*) FROM problems p WHERE p.incident_id = i.id)
    FROM incidents i";

fn summary(r: &Row) -> rusqlite::Result<IncidentSummary> {
    let call_setting: Option<String> = r.get(1)?;
    Ok(IncidentSummary {
        id: IncidentId::new(r.get(0)?),
        unrouted: call_setting.is_none(),
        call_setting,
        status: r.get(2)?,
        opened_at: r.get(3)?,
        updated_at: r.get(4)?,
        resolved_at: r.get(5)?,
        open_problems: r.get(6)?,
        problems: r.get(7)?,
    })
}

impl Store {
    /// Newest first.
    pub async fn incidents(
        &self,
        filter: IncidentFilter,
    ) -> Result<Vec<IncidentSummary>, StoreError> {
        self.call(move |conn| {
            let sql = format!(
                "{SUMMARY_SELECT} WHERE ?1 IS NULL OR i.status = ?1 ORDER BY i.id DESC LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![filter.status, filter.limit], summary)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn incident(&self, id: IncidentId) -> Result<Option<IncidentDetail>, StoreError> {
        self.call(move |conn| {
            let sql = format!("{SUMMARY_SELECT} WHERE i.id = ?1");
            let Some(summary) = conn.query_row(&sql, [id.get()], summary).optional()? else {
                return Ok(None);
            };
            let mut stmt = conn.prepare_cached(
                "SELECT source, key, host, service, severity, state, output, status, last_alert_id
                 FROM problems WHERE incident_id = ?1
                 ORDER BY service IS NOT NULL, host, service",
            )?;
            let problem_list = stmt
                .query_map([id.get()], |r| {
                    Ok(ProblemView {
                        source: r.get(0)?,
                        key: r.get(1)?,
                        host: r.get(2)?,
                        service: r.get(3)?,
                        severity: r.get(4)?,
                        state: r.get(5)?,
                        output: r.get(6)?,
                        status: r.get(7)?,
                        last_alert_id: AlertId::new(r.get(8)?),
                    })
                })?
                .collect::<Result<_, _>>()?;
            let alerts = alerts_where(conn, "incident_id = ?1", id.get())?;
            let escalation = conn
                .query_row(
                    "SELECT status FROM escalations WHERE incident_id = ?1",
                    [id.get()],
                    |r| r.get(0),
                )
                .optional()?;
            let calls = calls_where(conn, Some(id), 1000)?;
            let mut stmt = conn.prepare_cached(
                "SELECT at, level, message FROM notices WHERE incident_id = ?1 ORDER BY id",
            )?;
            let notices = stmt
                .query_map([id.get()], |r| {
                    Ok(super::NoticeView {
                        at: r.get(0)?,
                        level: r.get(1)?,
                        message: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut stmt = conn.prepare_cached(
                "SELECT alert_id, action, source, state, attempts, last_error, created_at, done_at
                 FROM writebacks WHERE incident_id = ?1 ORDER BY id",
            )?;
            let writebacks = stmt
                .query_map([id.get()], |r| {
                    Ok(WriteBackView {
                        alert_id: AlertId::new(r.get(0)?),
                        action: r.get(1)?,
                        source: r.get(2)?,
                        state: r.get(3)?,
                        attempts: r.get(4)?,
                        last_error: r.get(5)?,
                        created_at: r.get(6)?,
                        done_at: r.get(7)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(Some(IncidentDetail {
                summary,
                escalation,
                problem_list,
                alerts,
                calls,
                notices,
                writebacks,
            }))
        })
        .await
    }

    /// The call log, newest first.
    pub async fn calls(&self, filter: CallFilter) -> Result<Vec<CallView>, StoreError> {
        self.call(move |conn| calls_where(conn, filter.incident, filter.limit))
            .await
    }

    pub async fn alert(&self, id: AlertId) -> Result<Option<AlertView>, StoreError> {
        self.call(move |conn| Ok(alerts_where(conn, "id = ?1", id.get())?.pop()))
            .await
    }
}

fn alerts_where(
    conn: &rusqlite::Connection,
    condition: &str,
    value: i64,
) -> Result<Vec<AlertView>, StoreError> {
    let sql = format!(
        "SELECT id, received_at, source, source_ref, key, kind, severity, host, service, state,
                output, occurred_at
         FROM alerts WHERE {condition} ORDER BY id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([value], |r| {
        let source_ref: String = r.get(3)?;
        Ok((
            source_ref,
            AlertView {
                id: AlertId::new(r.get(0)?),
                received_at: r.get(1)?,
                source: r.get(2)?,
                source_ref: serde_json::Value::Null,
                key: r.get(4)?,
                kind: r.get(5)?,
                severity: r.get(6)?,
                host: r.get(7)?,
                service: r.get(8)?,
                state: r.get(9)?,
                output: r.get(10)?,
                occurred_at: r.get(11)?,
            },
        ))
    })?;
    rows.map(|row| {
        let (source_ref, mut view) = row?;
        view.source_ref = serde_json::from_str(&source_ref)
            .map_err(|e| StoreError::Corrupt(format!("alert {}: source_ref: {e}", view.id)))?;
        Ok(view)
    })
    .collect()
}

fn calls_where(
    conn: &rusqlite::Connection,
    incident: Option<IncidentId>,
    limit: u32,
) -> Result<Vec<CallView>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, incident_id, user_id, phone, purpose, placed_at, sid, answered_at, ended_at, outcome,
                keys, acknowledged
         FROM calls WHERE ?1 IS NULL OR incident_id = ?1
         ORDER BY placed_at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![incident.map(IncidentId::get), limit], |r| {
        let list = |i: usize| -> rusqlite::Result<Vec<String>> {
            let text: String = r.get(i)?;
            Ok(serde_json::from_str(&text).unwrap_or_default())
        };
        Ok(CallView {
            id: r.get(0)?,
            incident_id: IncidentId::new(r.get(1)?),
            user: r.get(2)?,
            phone: r.get(3)?,
            purpose: r.get(4)?,
            placed_at: r.get(5)?,
            call_sid: r.get(6)?,
            answered_at: r.get(7)?,
            ended_at: r.get(8)?,
            outcome: r.get(9)?,
            keys: list(10)?,
            acknowledged: list(11)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
