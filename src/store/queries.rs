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
    pub problem_list: Vec<ProblemView>,
    pub alerts: Vec<AlertView>,
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
            Ok(Some(IncidentDetail {
                summary,
                problem_list,
                alerts,
            }))
        })
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
