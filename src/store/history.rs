//! Stored alerts and calls straight from the database file, read-only: what `kaden replay`
//! replays under a candidate config, and what actually happened beside it. Opened without
//! a daemon and never written, so a replay is safe next to a running `kaden serve`.

use super::db::vals;
use super::{Database, StoreError, db_time};
use crate::domain::{Alert, AlertKind, Severity, SourceRef, UserId};
use crate::escalation::CallPurpose;
use jiff::Timestamp;

/// An alert as kaden received it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAlert {
    /// When kaden stored it: when the real escalation saw it.
    pub received_at: Timestamp,
    pub alert: Alert,
}

/// One call kaden placed, and how the callee answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCall {
    pub user: UserId,
    pub purpose: CallPurpose,
    pub placed_at: Timestamp,
    pub answered: bool,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// completed, no-answer, busy, declined, acknowledged, deferred, ... (`CallRecord`).
    pub outcome: Option<String>,
    /// Keys pressed, in order, as recorded: `["1#", "9#"]`.
    pub keys: Vec<String>,
}

/// The alerts received in `[from, to)` (either end open), in the order kaden stored them.
pub fn alerts_read_only(
    database: Database,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<Vec<StoredAlert>, StoreError> {
    // Stored times are fixed-width UTC text (`db_time`), so text order is time order.
    let rows = database.read(|conn| {
        Ok(conn.query(
            "SELECT id, received_at, source_ref, key, kind, severity, host, service, state, output,
                occurred_at
         FROM alerts
         WHERE (CAST(?1 AS TEXT) IS NULL OR received_at >= ?1)
           AND (CAST(?2 AS TEXT) IS NULL OR received_at < ?2)
         ORDER BY id",
            vals![from.map(db_time), to.map(db_time)],
            |r| {
                Ok((
                    r.get::<i64>(0)?,
                    [
                        r.get::<String>(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ],
                    r.get::<Option<String>>(7)?,
                    [r.get::<String>(8)?, r.get(9)?, r.get(10)?],
                ))
            },
        )?)
    })?;
    rows.into_iter()
        .map(|row| {
            let (
                id,
                [received_at, source_ref, key, kind, severity, host],
                service,
                [state, output, occurred_at],
            ) = row;
            let corrupt = |what: &str| StoreError::Corrupt(format!("alert {id}: {what}"));
            Ok(StoredAlert {
                received_at: received_at.parse().map_err(|_| corrupt("received_at"))?,
                alert: Alert {
                    source_ref: serde_json::from_str::<SourceRef>(&source_ref)
                        .map_err(|_| corrupt("source_ref"))?,
                    key,
                    kind: AlertKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                    severity: severity
                        .parse::<Severity>()
                        .map_err(|_| corrupt("severity"))?,
                    host,
                    service,
                    state,
                    output,
                    occurred_at: occurred_at.parse().map_err(|_| corrupt("occurred_at"))?,
                    raw: String::new(),
                },
            })
        })
        .collect()
}

/// The calls placed in `[from, to)` (either end open), in the order they were placed.
pub fn calls_read_only(
    database: Database,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<Vec<StoredCall>, StoreError> {
    let rows = database.read(|conn| {
        Ok(conn.query(
        "SELECT id, user_id, purpose, placed_at, answered_at, ended_at, outcome, keys FROM calls
         WHERE (CAST(?1 AS TEXT) IS NULL OR placed_at >= ?1)
           AND (CAST(?2 AS TEXT) IS NULL OR placed_at < ?2)
         ORDER BY placed_at, id",
        vals![from.map(db_time), to.map(db_time)],
        |r| {
            Ok((
                [r.get::<String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?],
                [r.get::<Option<String>>(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
            ))
        },
    )?)
    })?;
    rows.into_iter()
        .map(|row| {
            let ([id, user, purpose, placed_at], [answered_at, ended_at, outcome, keys]) = row;
            let corrupt = |what: &str| StoreError::Corrupt(format!("call {id}: {what}"));
            let time = |t: Option<String>, what: &str| -> Result<Option<Timestamp>, StoreError> {
                t.map(|t| t.parse().map_err(|_| corrupt(what))).transpose()
            };
            let answered_at = time(answered_at, "answered_at")?;
            Ok(StoredCall {
                user: UserId::new(user),
                purpose: serde_json::from_value(serde_json::Value::String(purpose))
                    .map_err(|_| corrupt("purpose"))?,
                placed_at: placed_at.parse().map_err(|_| corrupt("placed_at"))?,
                answered: answered_at.is_some(),
                answered_at,
                ended_at: time(ended_at, "ended_at")?,
                outcome,
                keys: match keys {
                    Some(keys) => serde_json::from_str(&keys).map_err(|_| corrupt("keys"))?,
                    None => Vec::new(),
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallSettingId, Delivery};
    use crate::store::Store;

    fn alert(key: &str, kind: AlertKind, at: &str) -> Alert {
        Alert {
            source_ref: SourceRef::Zabbix { event_id: 42 },
            key: key.into(),
            kind,
            severity: Severity::High,
            host: key.into(),
            service: None,
            state: kind.as_str().into(),
            output: format!("{key} output"),
            occurred_at: at.parse().unwrap(),
            raw: "{}".into(),
        }
    }

    #[tokio::test]
    async fn reads_back_the_alerts_of_a_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kaden.db");
        let store = Store::open(&path).unwrap();
        let times = [
            "2026-11-01T00:00:00Z",
            "2026-11-02T00:00:00Z",
            "2026-11-03T00:00:00Z",
        ];
        for (i, t) in times.iter().enumerate() {
            let kind = if i == 1 {
                AlertKind::Recovery
            } else {
                AlertKind::Problem
            };
            let delivery = Delivery::new(alert("web1", kind, t), Some(format!("n{i}")));
            let routed = Some(CallSettingId::new("infra"));
            store
                .ingest(delivery, routed, t.parse().unwrap())
                .await
                .unwrap();
        }

        let from = Some("2026-11-02T00:00:00Z".parse().unwrap());
        let to = Some("2026-11-03T00:00:00Z".parse().unwrap());
        let read = alerts_read_only(Database::Sqlite(&path), from, to).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].received_at, times[1].parse().unwrap());
        assert_eq!(read[0].alert.kind, AlertKind::Recovery);
        assert_eq!(read[0].alert.source_ref, SourceRef::Zabbix { event_id: 42 });
        assert_eq!(
            alerts_read_only(Database::Sqlite(&path), None, None)
                .unwrap()
                .len(),
            3
        );
        assert!(
            calls_read_only(Database::Sqlite(&path), None, None)
                .unwrap()
                .is_empty()
        );

        let missing = alerts_read_only(Database::Sqlite(&dir.path().join("none.db")), None, None);
        assert!(matches!(missing, Err(StoreError::Open { .. })));
    }
}
