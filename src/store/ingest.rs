//! Storing an alert and grouping it into an incident, in one transaction: when this
//! returns, the alert is on disk. A retried delivery is recognised in the same
//! transaction, so a client that lost the answer can safely send again.

use super::db::{Db, DbResult, vals};
use super::{Store, StoreError, db_time};
use crate::domain::{Alert, AlertId, AlertKind, CallSettingId, Delivery, IncidentId};
use jiff::Timestamp;

/// What storing an alert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A problem started a new incident.
    Opened,
    /// A problem joined an open incident (new key, or the latest state of a known one).
    Joined,
    /// A recovery marked its problem recovered; the incident is still open.
    Recovered,
    /// A recovery marked the last open problem recovered: the incident is resolved.
    Resolved,
    /// An acknowledgement or update attached to the incident of its problem.
    Attached,
    /// Not a problem, and no open incident knows its key: stored, linked to nothing.
    Unmatched,
    /// Nothing stored: the same delivery (same notification or Idempotency-Key) was
    /// stored before; the ids are the earlier alert's.
    Duplicate,
    /// Nothing stored: the Idempotency-Key was used before for a different alert, whose
    /// ids these are.
    KeyReused,
}

impl Outcome {
    /// Whether this delivery was stored now, and so is news to the escalation.
    pub fn is_new(self) -> bool {
        !matches!(self, Outcome::Duplicate | Outcome::KeyReused)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    pub alert_id: AlertId,
    pub incident_id: Option<IncidentId>,
    /// The incident's call setting (a recovery joins its problem's incident, whatever
    /// its own route would be).
    pub call_setting: Option<CallSettingId>,
    pub outcome: Outcome,
}

impl Store {
    /// Stores the delivered alert, routed to `call_setting` (`None`: unrouted), and groups
    /// it; or, when the same delivery was stored before, answers with that alert.
    pub async fn ingest(
        &self,
        delivery: Delivery,
        call_setting: Option<CallSettingId>,
        received_at: Timestamp,
    ) -> Result<Ingested, StoreError> {
        self.call(move |conn| {
            // The batch's transaction is immediate: the check for an earlier delivery and
            // the insert see one state.
            Ok(match earlier_delivery(conn, &delivery)? {
                Some(earlier) => earlier,
                None => ingest_in(conn, &delivery, call_setting.as_ref(), received_at)?,
            })
        })
        .await
    }
}

/// The alert stored before for this delivery: same source notification, or same
/// Idempotency-Key (preferred, so a reused key is caught).
fn earlier_delivery(conn: &Db, delivery: &Delivery) -> DbResult<Option<Ingested>> {
    let key = delivery.idempotency_key.as_ref().map(|k| k.as_str());
    if key.is_none() && delivery.notification.is_none() {
        // Nothing to recognise a retry by (a generic alert without a key): no lookup.
        return Ok(None);
    }
    let found = conn.query_opt(
        "SELECT a.id, a.incident_id, i.call_setting, a.raw, a.idempotency_key
             FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id
             WHERE (a.source = ?1 AND a.notification = ?2) OR a.idempotency_key = ?3
             ORDER BY COALESCE(a.idempotency_key = ?3, FALSE) DESC LIMIT 1",
        vals![delivery.alert.source().as_str(), delivery.notification, key],
        |r| {
            Ok((
                AlertId::new(r.get(0)?),
                r.get::<Option<i64>>(1)?.map(IncidentId::new),
                r.get::<Option<String>>(2)?.map(CallSettingId::new),
                r.get::<String>(3)?,
                r.get::<Option<String>>(4)?,
            ))
        },
    )?;
    Ok(
        found.map(|(alert_id, incident_id, call_setting, raw, stored_key)| {
            let key_reused = key.is_some()
                && stored_key.as_deref() == key
                && !same_payload(&raw, &delivery.alert.raw);
            Ingested {
                alert_id,
                incident_id,
                call_setting,
                outcome: if key_reused {
                    Outcome::KeyReused
                } else {
                    Outcome::Duplicate
                },
            }
        }),
    )
}

/// Equal as JSON: a retry may be re-serialized (spacing, field order) on the way.
fn same_payload(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn ingest_in(
    conn: &Db,
    delivery: &Delivery,
    call_setting: Option<&CallSettingId>,
    now: Timestamp,
) -> DbResult<Ingested> {
    let alert = &delivery.alert;
    let known = incident_with_key(conn, alert)?;
    let (incident, outcome) = match (alert.kind, known) {
        (AlertKind::Problem, Some(found)) => (Some(found), Outcome::Joined),
        (AlertKind::Problem, None) => match open_incident_for(conn, call_setting)? {
            Some(id) => (Some((id, call_setting.cloned())), Outcome::Joined),
            None => (
                Some((
                    open_incident(conn, call_setting, now)?,
                    call_setting.cloned(),
                )),
                Outcome::Opened,
            ),
        },
        (AlertKind::Recovery, Some(found)) => (Some(found), Outcome::Recovered),
        (AlertKind::Acknowledgement | AlertKind::Update, Some(found)) => {
            (Some(found), Outcome::Attached)
        }
        (_, None) => (None, Outcome::Unmatched),
    };
    let incident_id = incident.as_ref().map(|(id, _)| *id);
    let alert_id = insert_alert(conn, delivery, call_setting, incident_id, now)?;
    let Some((incident_id, incident_setting)) = incident else {
        return Ok(Ingested {
            alert_id,
            incident_id: None,
            call_setting: None,
            outcome,
        });
    };
    let mut outcome = outcome;
    if matches!(alert.kind, AlertKind::Problem | AlertKind::Recovery) {
        let status = if alert.kind == AlertKind::Problem {
            "problem"
        } else {
            "recovered"
        };
        upsert_problem(conn, incident_id, alert, alert_id, status)?;
    }
    if alert.kind == AlertKind::Recovery && !has_open_problem(conn, incident_id)? {
        conn.execute(
            "UPDATE incidents SET status = 'recovered', resolved_at = ?1, updated_at = ?1
             WHERE id = ?2",
            vals![db_time(now), incident_id.get()],
        )?;
        outcome = Outcome::Resolved;
    } else if outcome != Outcome::Opened {
        conn.execute(
            "UPDATE incidents SET updated_at = ?1 WHERE id = ?2",
            vals![db_time(now), incident_id.get()],
        )?;
    }
    Ok(Ingested {
        alert_id,
        incident_id: Some(incident_id),
        call_setting: incident_setting,
        outcome,
    })
}

fn insert_alert(
    conn: &Db,
    delivery: &Delivery,
    call_setting: Option<&CallSettingId>,
    incident: Option<IncidentId>,
    now: Timestamp,
) -> DbResult<AlertId> {
    let alert = &delivery.alert;
    let source_ref =
        serde_json::to_string(&alert.source_ref).expect("a SourceRef always serializes to JSON");
    conn.query_row(
        "INSERT INTO alerts (received_at, source, source_ref, key, kind, severity, host, service,
                             state, output, occurred_at, raw, call_setting, notification,
                             idempotency_key, incident_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         RETURNING id",
        vals![
            db_time(now),
            alert.source().as_str(),
            source_ref,
            alert.key,
            alert.kind.as_str(),
            alert.severity.as_str(),
            alert.host,
            alert.service,
            alert.state,
            alert.output,
            db_time(alert.occurred_at),
            alert.raw,
            call_setting.map(|c| c.as_str()),
            delivery.notification,
            delivery.idempotency_key.as_ref().map(|k| k.as_str()),
            incident.map(|i| i.get()),
        ],
        |r| r.get(0).map(AlertId::new),
    )
}

/// The open incident that already tracks this source's key, if any, with its call
/// setting. A recovery is matched here rather than by route: its severity often differs
/// from the problem's. Open incidents are few (about one per call setting), so each is
/// asked through the problems' primary key; a flapping key's closed incidents are never
/// read.
fn incident_with_key(
    conn: &Db,
    alert: &Alert,
) -> DbResult<Option<(IncidentId, Option<CallSettingId>)>> {
    conn.query_opt(
        "SELECT i.id, i.call_setting FROM incidents i
         WHERE i.status = 'open' AND EXISTS (SELECT 1 FROM problems p
             WHERE p.incident_id = i.id AND p.source = ?1 AND p.key = ?2)
         ORDER BY i.id DESC LIMIT 1",
        vals![alert.source().as_str(), alert.key],
        |r| {
            Ok((
                IncidentId::new(r.get(0)?),
                r.get::<Option<String>>(1)?.map(CallSettingId::new),
            ))
        },
    )
}

fn open_incident_for(
    conn: &Db,
    call_setting: Option<&CallSettingId>,
) -> DbResult<Option<IncidentId>> {
    conn.query_opt(
        "SELECT id FROM incidents WHERE status = 'open' AND call_setting IS NOT DISTINCT FROM ?1
         ORDER BY id DESC LIMIT 1",
        vals![call_setting.map(|c| c.as_str())],
        |r| r.get(0).map(IncidentId::new),
    )
}

fn open_incident(
    conn: &Db,
    call_setting: Option<&CallSettingId>,
    now: Timestamp,
) -> DbResult<IncidentId> {
    conn.query_row(
        "INSERT INTO incidents (call_setting, status, opened_at, updated_at)
         VALUES (?1, 'open', ?2, ?2) RETURNING id",
        vals![call_setting.map(|c| c.as_str()), db_time(now)],
        |r| r.get(0).map(IncidentId::new),
    )
}

fn upsert_problem(
    conn: &Db,
    incident_id: IncidentId,
    alert: &Alert,
    alert_id: AlertId,
    status: &str,
) -> DbResult<()> {
    // A recovery keeps the problem's severity and output: what broke stays readable. A
    // problem that comes back needs acknowledging again.
    conn.execute("INSERT INTO problems (incident_id, source, key, host, service, severity, state, output,
                               status, last_alert_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (incident_id, source, key) DO UPDATE SET
             state = excluded.state,
             status = excluded.status,
             last_alert_id = excluded.last_alert_id,
             acknowledged_at = CASE WHEN problems.status = 'recovered' AND excluded.status = 'problem'
                 THEN NULL ELSE problems.acknowledged_at END,
             acknowledged_by = CASE WHEN problems.status = 'recovered' AND excluded.status = 'problem'
                 THEN NULL ELSE problems.acknowledged_by END,
             severity = CASE WHEN excluded.status = 'problem' THEN excluded.severity
                 ELSE problems.severity END,
             output = CASE WHEN excluded.status = 'problem' THEN excluded.output
                 ELSE problems.output END",
        vals![
            incident_id.get(),
            alert.source().as_str(),
            alert.key,
            alert.host,
            alert.service,
            alert.severity.as_str(),
            alert.state,
            alert.output,
            status,
            alert_id.get(),
        ],
    )?;
    Ok(())
}

fn has_open_problem(conn: &Db, incident_id: IncidentId) -> DbResult<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM problems WHERE incident_id = ?1 AND status = 'problem')",
        vals![incident_id.get()],
        |r| r.get(0),
    )
}
