//! The telephony error feed: every error Twilio (or the way to it) reported, by code.

use super::db::vals;
use super::{Store, StoreError, db_time};
use crate::domain::IncidentId;
use crate::telephony::errors::{self, Seen};
use jiff::Timestamp;
use serde::Serialize;

/// One error as stored.
pub struct TelephonyError {
    pub code: u32,
    pub message: String,
    pub seen: Seen,
    pub incident: Option<IncidentId>,
    pub call_id: Option<String>,
    pub call_sid: Option<String>,
}

/// One error as the API and `kaden errors` show it, with Twilio's meaning and a fix.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct TelephonyErrorView {
    pub at: String,
    pub code: u32,
    pub message: String,
    pub seen: String,
    pub meaning: Option<String>,
    pub fix: Option<String>,
    pub incident_id: Option<i64>,
    pub call_id: Option<String>,
    pub call_sid: Option<String>,
}

impl Store {
    /// Stores a telephony error for the feed; a store that cannot take it only logs, as
    /// the error is already in the log and whatever failed goes on.
    pub async fn keep_telephony_error(&self, error: TelephonyError, at: Timestamp) {
        if let Err(e) = self.record_telephony_error(error, at).await {
            tracing::error!(error = %e, "Cannot store a telephony error.");
        }
    }

    pub async fn record_telephony_error(
        &self,
        error: TelephonyError,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO telephony_errors (at, code, message, seen, incident_id, call_id, call_sid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                vals![
                    db_time(at),
                    error.code,
                    error.message,
                    error.seen.as_str(),
                    error.incident.map(IncidentId::get),
                    error.call_id,
                    error.call_sid
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The latest errors, newest first.
    pub async fn telephony_errors(
        &self,
        limit: u32,
    ) -> Result<Vec<TelephonyErrorView>, StoreError> {
        self.call(move |conn| {
            let rows = conn.query(
                "SELECT at, code, message, seen, incident_id, call_id, call_sid
                 FROM telephony_errors ORDER BY id DESC LIMIT ?1",
                vals![limit],
                |r| {
                    let code: u32 = r.get(1)?;
                    let explained = errors::explain(code);
                    Ok(TelephonyErrorView {
                        at: r.get(0)?,
                        code,
                        message: r.get(2)?,
                        seen: r.get(3)?,
                        meaning: explained.map(|(m, _)| m.to_owned()),
                        fix: explained.map(|(_, f)| f.to_owned()),
                        incident_id: r.get(4)?,
                        call_id: r.get(5)?,
                        call_sid: r.get(6)?,
                    })
                },
            )?;
            Ok(rows)
        })
        .await
    }
}
