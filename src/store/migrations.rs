//! Versioned schema migrations, tracked in SQLite's `user_version`. Append only: a
//! released migration is never edited. PostgreSQL starts at the latest version in one go
//! (`PG_BASELINE`), tracked in `kaden_schema`.

use super::StoreError;
use super::db::{Db, vals};
use rusqlite::Connection;
use std::path::Path;

const MIGRATIONS: &[&str] = &[
    // 1: alerts, incidents and the latest state of each problem in an incident.
    "CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        call_setting TEXT,
        status TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        resolved_at TEXT
    );
    CREATE INDEX incidents_by_status ON incidents(status, call_setting);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        source TEXT NOT NULL,
        source_ref TEXT NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        host TEXT NOT NULL,
        service TEXT,
        state TEXT NOT NULL,
        output TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        raw TEXT NOT NULL,
        call_setting TEXT,
        incident_id INTEGER REFERENCES incidents(id)
    );
    CREATE INDEX alerts_by_incident ON alerts(incident_id);
    CREATE TABLE problems (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        host TEXT NOT NULL,
        service TEXT,
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        output TEXT NOT NULL,
        status TEXT NOT NULL,
        last_alert_id INTEGER NOT NULL REFERENCES alerts(id),
        PRIMARY KEY (incident_id, source, key)
    );
    CREATE INDEX problems_by_key ON problems(source, key);",
    // 2: escalation state, the call log, operator notices and the write-back outbox.
    "CREATE TABLE escalations (
        incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
        state TEXT NOT NULL,
        status TEXT NOT NULL,
        done INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE calls (
        id TEXT PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        user_id TEXT NOT NULL,
        phone TEXT NOT NULL,
        purpose TEXT NOT NULL,
        placed_at TEXT NOT NULL,
        sid TEXT,
        answered_at TEXT,
        ended_at TEXT,
        outcome TEXT,
        keys TEXT NOT NULL,
        acknowledged TEXT NOT NULL
    );
    CREATE INDEX calls_by_incident ON calls(incident_id);
    CREATE TABLE notices (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        at TEXT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE writebacks (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        action TEXT NOT NULL,
        source TEXT NOT NULL,
        source_ref TEXT NOT NULL,
        host TEXT NOT NULL,
        service TEXT,
        by_json TEXT NOT NULL,
        minutes INTEGER,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        done_at TEXT,
        UNIQUE (alert_id, action)
    );
    CREATE INDEX writebacks_due ON writebacks(state, next_attempt_at);",
    // 3: on-call schedule overrides.
    "CREATE TABLE overrides (
        id INTEGER PRIMARY KEY,
        schedule TEXT NOT NULL,
        user_id TEXT NOT NULL,
        replaces TEXT,
        start_at TEXT NOT NULL,
        end_at TEXT NOT NULL,
        created_at TEXT NOT NULL
    );",
    // 4: what recognises a retried delivery: the source's identity of the notification
    // and the client's Idempotency-Key. NULLs never collide in a unique index.
    "ALTER TABLE alerts ADD COLUMN notification TEXT;
    ALTER TABLE alerts ADD COLUMN idempotency_key TEXT;
    CREATE UNIQUE INDEX alerts_by_notification ON alerts(source, notification);
    CREATE UNIQUE INDEX alerts_by_idempotency_key ON alerts(idempotency_key);",
    // 5: when a write-back was last about to reach its source, so the attempt after a
    // crash asks the source before sending again.
    "ALTER TABLE writebacks ADD COLUMN sending_since TEXT;",
    // 6: who acknowledged each problem, when and how (`{user, via, key}` as JSON).
    "ALTER TABLE problems ADD COLUMN acknowledged_at TEXT;
    ALTER TABLE problems ADD COLUMN acknowledged_by TEXT;",
    // 7: the row /healthz writes to prove the store can commit.
    "CREATE TABLE IF NOT EXISTS health_probe (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        writes INTEGER NOT NULL
    );",
    // 8: shift notices sent, so a restart never texts the same shift twice.
    "CREATE TABLE shift_notices (
        schedule TEXT NOT NULL,
        user_id TEXT NOT NULL,
        start_at TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (schedule, user_id, start_at)
    );",
    // 9: the telephony error feed.
    "CREATE TABLE telephony_errors (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        code INTEGER NOT NULL,
        message TEXT NOT NULL,
        seen TEXT NOT NULL,
        incident_id INTEGER,
        call_id TEXT,
        call_sid TEXT
    );",
    // 10: an escalation's items one row each, so a step writes only what it changed;
    // ingest's lookups indexed: the newest incident of a key (a flapping key has
    // thousands), and an incident's open problems.
    "CREATE TABLE escalation_items (
        incident_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (incident_id, position)
    ) WITHOUT ROWID;
    INSERT INTO escalation_items (incident_id, position, item)
        SELECT e.incident_id, j.key, j.value FROM escalations e, json_each(e.state, '$.items') j;
    UPDATE escalations SET state = json_remove(state, '$.items');
    DROP INDEX problems_by_key;
    CREATE INDEX problems_by_key ON problems(source, key, incident_id);
    CREATE INDEX problems_open ON problems(incident_id) WHERE status = 'problem';",
    // 11: usage and cost: each call's duration and Twilio's price, each SMS sent, and the
    // usage triggers fired (one row per trigger and period, so a restart never re-fires).
    "ALTER TABLE calls ADD COLUMN duration_seconds INTEGER;
    ALTER TABLE calls ADD COLUMN price REAL;
    ALTER TABLE calls ADD COLUMN price_unit TEXT;
    CREATE INDEX calls_by_placed_at ON calls(placed_at);
    CREATE TABLE sms (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user_id TEXT,
        incident_id INTEGER,
        purpose TEXT NOT NULL,
        phone TEXT NOT NULL,
        segments INTEGER NOT NULL,
        status TEXT NOT NULL,
        sid TEXT,
        price REAL,
        price_unit TEXT
    );
    CREATE INDEX sms_by_at ON sms(at);
    CREATE INDEX telephony_errors_by_at ON telephony_errors(at);
    CREATE TABLE usage_triggers_fired (
        trigger_id TEXT NOT NULL,
        period_start TEXT NOT NULL,
        fired_at TEXT NOT NULL,
        metric TEXT NOT NULL,
        value REAL NOT NULL,
        threshold REAL NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (trigger_id, period_start)
    );",
    // 12: the price backfill: how often Twilio was asked for a call's price and when last,
    // so a restart neither forgets a call nor asks about it again without end. Calls still
    // without a price are found by a small index rather than a scan of every call.
    "ALTER TABLE calls ADD COLUMN price_checks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE calls ADD COLUMN price_checked_at TEXT;
    CREATE INDEX calls_awaiting_price ON calls(ended_at) WHERE price IS NULL AND sid IS NOT NULL;",
    // 13: fewer index pages per stored alert. Most alerts carry neither a notification
    // id nor an Idempotency-Key: their NULLs leave the two indexes. The newest open
    // incident of a key is found through the few open incidents and the problems'
    // primary key, so problems_by_key, which took a page of its own per alert, goes.
    PG_AND_SQLITE_13,
];

const PG_AND_SQLITE_13: &str = "DROP INDEX alerts_by_notification;
    DROP INDEX alerts_by_idempotency_key;
    CREATE UNIQUE INDEX alerts_by_notification ON alerts(source, notification)
        WHERE notification IS NOT NULL;
    CREATE UNIQUE INDEX alerts_by_idempotency_key ON alerts(idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    DROP INDEX problems_by_key;";

/// The schema of version `PG_BASELINE_VERSION`, for PostgreSQL: the SQLite schema with
/// identity columns, `BIGINT` and `DOUBLE PRECISION`.
const PG_BASELINE: &str = "CREATE TABLE incidents (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        call_setting TEXT,
        status TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        resolved_at TEXT
    );
CREATE INDEX incidents_by_status ON incidents(status, call_setting);
CREATE TABLE alerts (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        received_at TEXT NOT NULL,
        source TEXT NOT NULL,
        source_ref TEXT NOT NULL,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        host TEXT NOT NULL,
        service TEXT,
        state TEXT NOT NULL,
        output TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        raw TEXT NOT NULL,
        call_setting TEXT,
        incident_id BIGINT REFERENCES incidents(id),
         notification TEXT, idempotency_key TEXT);
CREATE INDEX alerts_by_incident ON alerts(incident_id);
CREATE TABLE problems (
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        host TEXT NOT NULL,
        service TEXT,
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        output TEXT NOT NULL,
        status TEXT NOT NULL,
        last_alert_id BIGINT NOT NULL REFERENCES alerts(id), acknowledged_at TEXT, acknowledged_by TEXT,
        PRIMARY KEY (incident_id, source, key)
    );
CREATE TABLE escalations (
        incident_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY REFERENCES incidents(id),
        state TEXT NOT NULL,
        status TEXT NOT NULL,
        done BIGINT NOT NULL,
        updated_at TEXT NOT NULL
    );
CREATE TABLE calls (
        id TEXT PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        user_id TEXT NOT NULL,
        phone TEXT NOT NULL,
        purpose TEXT NOT NULL,
        placed_at TEXT NOT NULL,
        sid TEXT,
        answered_at TEXT,
        ended_at TEXT,
        outcome TEXT,
        keys TEXT NOT NULL,
        acknowledged TEXT NOT NULL,
         duration_seconds BIGINT, price DOUBLE PRECISION, price_unit TEXT, price_checks BIGINT NOT NULL DEFAULT 0, price_checked_at TEXT);
CREATE INDEX calls_by_incident ON calls(incident_id);
CREATE TABLE notices (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        at TEXT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL
    );
CREATE TABLE writebacks (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        alert_id BIGINT NOT NULL REFERENCES alerts(id),
        incident_id BIGINT NOT NULL REFERENCES incidents(id),
        action TEXT NOT NULL,
        source TEXT NOT NULL,
        source_ref TEXT NOT NULL,
        host TEXT NOT NULL,
        service TEXT,
        by_json TEXT NOT NULL,
        minutes BIGINT,
        state TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        done_at TEXT, sending_since TEXT,
        UNIQUE (alert_id, action)
    );
CREATE INDEX writebacks_due ON writebacks(state, next_attempt_at);
CREATE TABLE overrides (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        schedule TEXT NOT NULL,
        user_id TEXT NOT NULL,
        replaces TEXT,
        start_at TEXT NOT NULL,
        end_at TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
CREATE UNIQUE INDEX alerts_by_notification ON alerts(source, notification);
CREATE UNIQUE INDEX alerts_by_idempotency_key ON alerts(idempotency_key);
CREATE TABLE health_probe (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        writes BIGINT NOT NULL
    );
CREATE TABLE shift_notices (
        schedule TEXT NOT NULL,
        user_id TEXT NOT NULL,
        start_at TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (schedule, user_id, start_at)
    );
CREATE TABLE telephony_errors (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        code BIGINT NOT NULL,
        message TEXT NOT NULL,
        seen TEXT NOT NULL,
        incident_id BIGINT,
        call_id TEXT,
        call_sid TEXT
    );
CREATE TABLE escalation_items (
        incident_id BIGINT NOT NULL,
        position BIGINT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (incident_id, position)
    );
CREATE INDEX problems_by_key ON problems(source, key, incident_id);
CREATE INDEX problems_open ON problems(incident_id) WHERE status = 'problem';
CREATE INDEX calls_by_placed_at ON calls(placed_at);
CREATE TABLE sms (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        user_id TEXT,
        incident_id BIGINT,
        purpose TEXT NOT NULL,
        phone TEXT NOT NULL,
        segments BIGINT NOT NULL,
        status TEXT NOT NULL,
        sid TEXT,
        price DOUBLE PRECISION,
        price_unit TEXT
    );
CREATE INDEX sms_by_at ON sms(at);
CREATE INDEX telephony_errors_by_at ON telephony_errors(at);
CREATE TABLE usage_triggers_fired (
        trigger_id TEXT NOT NULL,
        period_start TEXT NOT NULL,
        fired_at TEXT NOT NULL,
        metric TEXT NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        threshold DOUBLE PRECISION NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (trigger_id, period_start)
    );
CREATE INDEX calls_awaiting_price ON calls(ended_at) WHERE price IS NULL AND sid IS NOT NULL;
CREATE TABLE kaden_leader (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        instance TEXT NOT NULL,
        url TEXT NOT NULL,
        epoch BIGINT NOT NULL
    );";
const PG_BASELINE_VERSION: usize = 12;
/// PostgreSQL's text of every migration after the baseline, in order.
const PG_MIGRATIONS: &[&str] = &[PG_AND_SQLITE_13];
// A migration after the baseline needs its PostgreSQL text too.
const _: () = assert!(MIGRATIONS.len() == PG_BASELINE_VERSION + PG_MIGRATIONS.len());

/// Creates the schema in an empty PostgreSQL database, or checks it is one this build
/// knows. Instances starting together wait for each other on an advisory lock.
pub fn migrate_pg(db: &Db, target: &str) -> Result<(), StoreError> {
    db.batch(
        "SELECT pg_advisory_lock(hashtext('kaden:migrate'));
         CREATE TABLE IF NOT EXISTS kaden_schema (version BIGINT NOT NULL)",
    )?;
    let migrated = (|| {
        let found: Option<i64> =
            db.query_row("SELECT MAX(version) FROM kaden_schema", vals![], |r| {
                r.get(0)
            })?;
        let known = latest_version();
        let found = match found {
            Some(found) if found > known => {
                return Err(StoreError::TooNew {
                    database: target.to_owned(),
                    found,
                    known,
                });
            }
            Some(found) => found,
            None => {
                let baseline = PG_BASELINE_VERSION as i64;
                db.batch(&format!(
                    "BEGIN; {PG_BASELINE} INSERT INTO kaden_schema (version) VALUES ({baseline}); COMMIT"
                ))?;
                tracing::info!(schema_version = baseline, "Created the database schema.");
                baseline
            }
        };
        for (version, sql) in (PG_BASELINE_VERSION + 1..)
            .zip(PG_MIGRATIONS)
            .skip_while(|(v, _)| *v as i64 <= found)
        {
            db.batch(&format!(
                "BEGIN; {sql}; INSERT INTO kaden_schema (version) VALUES ({version}); COMMIT"
            ))?;
            tracing::info!(schema_version = version, "Applied database migration.");
        }
        Ok(())
    })();
    db.batch("SELECT pg_advisory_unlock(hashtext('kaden:migrate'))")?;
    migrated
}

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = latest_version();
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            database: path.display().to_string(),
            found,
            known,
        });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
        tracing::info!(schema_version = version + 1, "Applied database migration.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_stored_inside_the_state_move_to_their_own_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..9] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 9).unwrap();
        conn.execute(
            "INSERT INTO incidents (id, status, opened_at, updated_at) VALUES (4, 'open', 'now', 'now')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO escalations (incident_id, state, status, done, updated_at)
             VALUES (4, '{\"incident_id\":4,\"items\":[{\"n\":1},{\"n\":2}],\"round\":0}', 'quiet', 0, 'now')",
            [],
        )
        .unwrap();
        migrate(&mut conn, &path).unwrap();
        let state: String = conn
            .query_row("SELECT state FROM escalations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(state, r#"{"incident_id":4,"round":0}"#);
        let mut stmt = conn
            .prepare("SELECT incident_id, position, item FROM escalation_items ORDER BY position")
            .unwrap();
        let rows: Vec<(i64, i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (4, 0, r#"{"n":1}"#.to_owned()),
                (4, 1, r#"{"n":2}"#.to_owned())
            ]
        );
    }

    /// A PostgreSQL schema created by a build that knew only the baseline gets every
    /// later migration, once. Needs Debian's `postgresql` package; `.ci/run` runs it
    /// with `--ignored`.
    #[test]
    #[ignore = "needs PostgreSQL server binaries"]
    fn postgres_schema_at_the_baseline_gets_the_later_migrations_once() {
        let cluster = crate::store::pg_cluster::PgCluster::start();
        let (db, target) = crate::store::db::connect_pg(&cluster.url).unwrap();
        db.batch(&format!(
            "CREATE TABLE kaden_schema (version BIGINT NOT NULL); {PG_BASELINE}
             INSERT INTO kaden_schema (version) VALUES ({PG_BASELINE_VERSION})"
        ))
        .unwrap();
        migrate_pg(&db, &target).unwrap();
        migrate_pg(&db, &target).unwrap();
        let versions: Vec<i64> = db
            .query(
                "SELECT version FROM kaden_schema ORDER BY version",
                vals![],
                |r| r.get(0),
            )
            .unwrap();
        let expected: Vec<i64> = (PG_BASELINE_VERSION as i64..=latest_version()).collect();
        assert_eq!(versions, expected);
        let indexes: Vec<String> = db
            .query(
                "SELECT indexname FROM pg_indexes WHERE tablename IN ('alerts', 'problems')
                 AND indexdef LIKE '%WHERE%' ORDER BY indexname",
                vals![],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            indexes,
            [
                "alerts_by_idempotency_key",
                "alerts_by_notification",
                "problems_open"
            ]
        );
        let gone: bool = db
            .query_row(
                "SELECT to_regclass('problems_by_key') IS NULL",
                vals![],
                |r| r.get(0),
            )
            .unwrap();
        assert!(gone);
    }

    #[test]
    fn migrates_once_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        migrate(&mut conn, &path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            migrate(&mut conn, &path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }
}
