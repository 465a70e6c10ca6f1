//! Read models for the API and the CLI.

use super::db::{Db, DbResult, Dialect, Row, Sql, vals};
use super::{Store, StoreError};
use crate::domain::{AlertId, IncidentId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IncidentSummary {
    pub id: IncidentId,
    /// What is broken: the worst open problem (`db01 HTTP: HTTP CRITICAL - 503`), with the
    /// number of the others.
    pub title: String,
    pub host: String,
    pub service: Option<String>,
    /// The worst severity among open problems (the worst ever once resolved).
    pub severity: String,
    /// `None`: no route matched; the alerts are kept and shown, nobody is called.
    pub call_setting: Option<String>,
    pub unrouted: bool,
    /// `open` (some open problem is unacknowledged), `acknowledged` (every open problem
    /// is) or `resolved`.
    pub status: String,
    pub acknowledged_at: Option<String>,
    /// `{user, via, key}` of the latest acknowledgement, while `acknowledged`.
    pub acknowledged_by: Option<serde_json::Value>,
    pub opened_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub open_problems: u32,
    pub problems: u32,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProblemView {
    pub source: String,
    pub key: String,
    pub host: String,
    pub service: Option<String>,
    pub severity: String,
    pub state: String,
    pub output: String,
    /// `problem`, `acknowledged` or `recovered`.
    pub status: String,
    pub acknowledged: bool,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<serde_json::Value>,
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
    /// The latest `ALERTS_SHOWN` alerts, oldest first; `alerts_total` counts them all.
    pub alerts: Vec<AlertView>,
    pub alerts_total: u32,
    /// Where the older alerts are, when there are more than `alerts` shows.
    pub alerts_next: Option<String>,
    pub calls: Vec<CallView>,
    pub notices: Vec<super::NoticeView>,
    pub writebacks: Vec<WriteBackView>,
}

/// One row of the call log (design.md rule 9).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    /// Seconds Twilio reported for the call (from answer to hang-up; 0 unanswered).
    #[serde(default)]
    pub duration_seconds: Option<u32>,
    /// What Twilio charged, once it reports it (minutes after the call).
    #[serde(default)]
    pub price: Option<f64>,
    #[serde(default)]
    pub price_unit: Option<String>,
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
    /// Lifecycle states to list (`open`, `acknowledged`, `resolved`); empty lists all.
    pub status: Vec<String>,
    /// Only incidents changed at or after this time.
    pub since: Option<jiff::Timestamp>,
    /// Only incidents with a smaller id (the next page).
    pub before: Option<IncidentId>,
    pub limit: u32,
}

/// How many alerts an incident's detail carries; the rest are paged.
pub const ALERTS_SHOWN: u32 = 100;

/// Severities worst last, for ordering in SQL.
const SEVERITY_RANK: &str = "WITH severity_rank(name, rank) AS (VALUES
    ('info', 1), ('warning', 2), ('average', 3), ('high', 4), ('disaster', 5))";

/// Incidents with their lifecycle, derived from their problems: `lifecycle`; `top`, the
/// problem that names the incident (open before recovered, then the worst severity,
/// hosts before services); `last_ack`, the latest acknowledged problem.
const SUMMARIES: &str = "SELECT s.*, t.host, t.service, t.output, t.severity AS worst_severity,
        a.acknowledged_at, a.acknowledged_by
    FROM (SELECT i.id, i.call_setting, i.opened_at, i.updated_at, i.resolved_at,
            (SELECT COUNT(*) FROM problems p WHERE p.incident_id = i.id AND p.status = 'problem') AS open_problems,
            (SELECT COUNT(*) FROM problems p WHERE p.incident_id = i.id) AS problems,
            CASE
                WHEN i.status <> 'open' THEN 'resolved'
                WHEN EXISTS (SELECT 1 FROM problems p WHERE p.incident_id = i.id
                             AND p.status = 'problem' AND p.acknowledged_at IS NULL) THEN 'open'
                WHEN EXISTS (SELECT 1 FROM problems p WHERE p.incident_id = i.id
                             AND p.status = 'problem') THEN 'acknowledged'
                ELSE 'open'
            END AS lifecycle,
            (SELECT p.rowid FROM problems p WHERE p.incident_id = i.id AND p.acknowledged_at IS NOT NULL
             ORDER BY p.acknowledged_at DESC LIMIT 1) AS last_ack,
            (SELECT p.rowid FROM problems p WHERE p.incident_id = i.id
             ORDER BY p.status = 'problem' DESC,
                      (SELECT rank FROM severity_rank WHERE name = p.severity) DESC,
                      p.service IS NOT NULL, p.host, p.service
             LIMIT 1) AS top
          FROM incidents i) s
    LEFT JOIN problems t ON t.rowid = s.top
    LEFT JOIN problems a ON a.rowid = s.last_ack";

/// Summaries where `condition` holds (on the columns of `SUMMARIES`), then `tail`.
/// PostgreSQL names a row by its `ctid` where SQLite has `rowid`.
fn summary_sql(db: &Db, condition: &str, tail: &str) -> String {
    let summaries = match db.dialect() {
        Dialect::Sqlite => SUMMARIES.to_owned(),
        Dialect::Postgres => SUMMARIES.replace("rowid", "ctid"),
    };
    format!("{SEVERITY_RANK} SELECT * FROM ({summaries}) s WHERE {condition} {tail}")
}

/// Incidents whose lifecycle is in the JSON array `?1`, or all when it is NULL.
const LIFECYCLE_IN: Sql = Sql {
    sqlite: "(?1 IS NULL OR lifecycle IN (SELECT value FROM json_each(?1)))",
    pg: "(CAST(?1 AS TEXT) IS NULL
          OR lifecycle IN (SELECT json_array_elements_text(CAST(?1 AS TEXT)::json)))",
};

fn summary(r: &Row) -> DbResult<IncidentSummary> {
    let call_setting: Option<String> = r.get("call_setting")?;
    let host: Option<String> = r.get("host")?;
    let service: Option<String> = r.get("service")?;
    let output: Option<String> = r.get("output")?;
    let problems: u32 = r.get("problems")?;
    let status: String = r.get("lifecycle")?;
    let acknowledged = status == "acknowledged";
    let by: Option<String> = r.get("acknowledged_by")?;
    let mut title = match (&host, &service) {
        (Some(h), Some(s)) => format!("{h} {s}"),
        (Some(h), None) => h.clone(),
        _ => String::new(),
    };
    if let Some(output) = output.filter(|o| !o.is_empty()) {
        title = format!("{title}: {output}");
    }
    if problems > 1 {
        title = format!("{title} (+{})", problems - 1);
    }
    Ok(IncidentSummary {
        id: IncidentId::new(r.get("id")?),
        title,
        host: host.unwrap_or_default(),
        service,
        severity: r
            .get::<Option<String>>("worst_severity")?
            .unwrap_or_default(),
        unrouted: call_setting.is_none(),
        call_setting,
        status,
        acknowledged_at: if acknowledged {
            r.get("acknowledged_at")?
        } else {
            None
        },
        acknowledged_by: by
            .filter(|_| acknowledged)
            .and_then(|b| serde_json::from_str(&b).ok()),
        opened_at: r.get("opened_at")?,
        updated_at: r.get("updated_at")?,
        resolved_at: r.get("resolved_at")?,
        open_problems: r.get("open_problems")?,
        problems,
    })
}

impl Store {
    /// Newest first.
    pub async fn incidents(
        &self,
        filter: IncidentFilter,
    ) -> Result<Vec<IncidentSummary>, StoreError> {
        self.call(move |conn| {
            let condition = format!(
                "{} AND (CAST(?2 AS TEXT) IS NULL OR updated_at >= ?2)
                 AND (CAST(?3 AS BIGINT) IS NULL OR id < ?3)",
                conn.pick(&LIFECYCLE_IN)
            );
            let sql = summary_sql(conn, &condition, "ORDER BY id DESC LIMIT ?4");
            let statuses = (!filter.status.is_empty())
                .then(|| serde_json::to_string(&filter.status).expect("strings serialize"));
            let rows = conn.query(
                &sql,
                vals![
                    statuses,
                    filter.since.map(super::db_time),
                    filter.before.map(IncidentId::get),
                    filter.limit
                ],
                summary,
            )?;
            Ok(rows)
        })
        .await
    }

    pub async fn incident(&self, id: IncidentId) -> Result<Option<IncidentDetail>, StoreError> {
        self.call(move |conn| {
            let sql = summary_sql(conn, "id = ?1", "");
            let Some(summary) = conn.query_opt(&sql, vals![id.get()], summary)? else {
                return Ok(None);
            };
            let problem_list = conn.query(
                "SELECT source, key, host, service, severity, state, output, status, last_alert_id,
                        acknowledged_at, acknowledged_by
                 FROM problems WHERE incident_id = ?1
                 ORDER BY service IS NOT NULL, host, service",
                vals![id.get()],
                |r| {
                    let status: String = r.get(7)?;
                    let acknowledged_at: Option<String> = r.get(9)?;
                    let by: Option<String> = r.get(10)?;
                    let acknowledged = acknowledged_at.is_some();
                    Ok(ProblemView {
                        source: r.get(0)?,
                        key: r.get(1)?,
                        host: r.get(2)?,
                        service: r.get(3)?,
                        severity: r.get(4)?,
                        state: r.get(5)?,
                        output: r.get(6)?,
                        status: if status == "problem" && acknowledged {
                            "acknowledged".into()
                        } else {
                            status
                        },
                        acknowledged,
                        acknowledged_at,
                        acknowledged_by: by.and_then(|b| serde_json::from_str(&b).ok()),
                        last_alert_id: AlertId::new(r.get(8)?),
                    })
                },
            )?;
            let alerts_total: u32 = conn.query_row(
                "SELECT COUNT(*) FROM alerts WHERE incident_id = ?1",
                vals![id.get()],
                |r| r.get(0),
            )?;
            let alerts = alerts_page(conn, id, None, ALERTS_SHOWN)?;
            let escalation = conn.query_opt(
                "SELECT status FROM escalations WHERE incident_id = ?1",
                vals![id.get()],
                |r| r.get(0),
            )?;
            let calls = calls_where(conn, Some(id), 1000)?;
            let notices = conn.query(
                "SELECT at, level, message FROM notices WHERE incident_id = ?1 ORDER BY id",
                vals![id.get()],
                |r| {
                    Ok(super::NoticeView {
                        at: r.get(0)?,
                        level: r.get(1)?,
                        message: r.get(2)?,
                    })
                },
            )?;
            let writebacks = conn.query(
                "SELECT alert_id, action, source, state, attempts, last_error, created_at, done_at
                 FROM writebacks WHERE incident_id = ?1 ORDER BY id",
                vals![id.get()],
                |r| {
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
                },
            )?;
            Ok(Some(IncidentDetail {
                summary,
                escalation,
                problem_list,
                alerts_next: (alerts_total > alerts.len() as u32)
                    .then(|| alerts.first())
                    .flatten()
                    .map(|a| format!("/api/v1/incidents/{id}/alerts?before={}", a.id)),
                alerts,
                alerts_total,
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
        self.call(move |conn| Ok(alerts_where(conn, "id = ?1", vals![id.get()])?.pop()))
            .await
    }

    /// An incident's alerts before `before` (all when `None`): the latest `limit` of
    /// them, oldest first.
    pub async fn incident_alerts(
        &self,
        incident: IncidentId,
        before: Option<AlertId>,
        limit: u32,
    ) -> Result<Vec<AlertView>, StoreError> {
        self.call(move |conn| alerts_page(conn, incident, before, limit))
            .await
    }
}

fn alerts_page(
    conn: &Db,
    incident: IncidentId,
    before: Option<AlertId>,
    limit: u32,
) -> Result<Vec<AlertView>, StoreError> {
    alerts_where(
        conn,
        "id IN (SELECT id FROM alerts WHERE incident_id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR id < ?2)
                ORDER BY id DESC LIMIT ?3)",
        vals![incident.get(), before.map(AlertId::get), limit],
    )
}

fn alerts_where(
    conn: &Db,
    condition: &str,
    values: &[super::db::Value],
) -> Result<Vec<AlertView>, StoreError> {
    let sql = format!(
        "SELECT id, received_at, source, source_ref, key, kind, severity, host, service, state,
                output, occurred_at
         FROM alerts WHERE {condition} ORDER BY id"
    );
    let rows = conn.query(&sql, values, |r| {
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
    rows.into_iter()
        .map(|row| {
            let (source_ref, mut view) = row;
            view.source_ref = serde_json::from_str(&source_ref)
                .map_err(|e| StoreError::Corrupt(format!("alert {}: source_ref: {e}", view.id)))?;
            Ok(view)
        })
        .collect()
}

fn calls_where(
    conn: &Db,
    incident: Option<IncidentId>,
    limit: u32,
) -> Result<Vec<CallView>, StoreError> {
    let rows = conn.query("SELECT id, incident_id, user_id, phone, purpose, placed_at, sid, answered_at, ended_at, outcome,
                keys, acknowledged, duration_seconds, price, price_unit
         FROM calls WHERE CAST(?1 AS BIGINT) IS NULL OR incident_id = ?1
         ORDER BY placed_at DESC, id DESC LIMIT ?2", vals![incident.map(IncidentId::get), limit], |r| {
        let list = |i: usize| -> DbResult<Vec<String>> {
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
            duration_seconds: r.get(12)?,
            price: r.get(13)?,
            price_unit: r.get(14)?,
        })
    })?;
    Ok(rows)
}
