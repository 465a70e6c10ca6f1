//! Totals for `GET /metrics`. Rows are never deleted, so counts of stored alerts, calls
//! and write-backs are proper monotonic counters.

use super::db::{DbResult, vals};
use super::{Store, StoreError};

/// One sample: metric name, labels, value.
pub type Sample = (&'static str, Vec<(&'static str, String)>, f64);

const QUERIES: &[(&str, &str, &[&str])] = &[
    (
        "kaden_alerts_total",
        "SELECT source, kind, COUNT(*) FROM alerts GROUP BY 1, 2",
        &["source", "kind"],
    ),
    (
        "kaden_incidents",
        "SELECT status, COUNT(*) FROM incidents GROUP BY 1",
        &["status"],
    ),
    (
        "kaden_calls_total",
        "SELECT COALESCE(outcome, 'in-progress'), COUNT(*) FROM calls GROUP BY 1",
        &["outcome"],
    ),
    (
        "kaden_writebacks_total",
        "SELECT source, state, COUNT(*) FROM writebacks GROUP BY 1, 2",
        &["source", "state"],
    ),
    (
        "kaden_writebacks_stuck",
        "SELECT source, COUNT(*) FROM writebacks WHERE state = 'pending' AND attempts >= 6 GROUP BY 1 -- STUCK_AFTER_ATTEMPTS",
        &["source"],
    ),
    (
        "kaden_telephony_errors_total",
        "SELECT CAST(code AS TEXT), COUNT(*) FROM telephony_errors GROUP BY code",
        &["code"],
    ),
    (
        "kaden_escalations",
        "SELECT status, COUNT(*) FROM escalations WHERE done = 0 GROUP BY 1",
        &["status"],
    ),
];

impl Store {
    pub async fn metrics(&self) -> Result<Vec<Sample>, StoreError> {
        self.call(|conn| {
            let mut out = Vec::new();
            for (name, sql, labels) in QUERIES {
                let rows = conn.query(sql, vals![], |r| {
                    let values = labels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| r.get::<String>(i).map(|v| (*l, v)))
                        .collect::<DbResult<Vec<_>>>()?;
                    Ok((*name, values, r.get::<f64>(labels.len())?))
                })?;
                for row in rows {
                    out.push(row);
                }
            }
            Ok(out)
        })
        .await
    }
}
