//! Schedule overrides ("b covers a from T1 to T2").

use super::db::{Db, vals};
use super::{Database, Store, StoreError, db_time};
use crate::domain::{ScheduleId, UserId};
use crate::schedule::Override;
use jiff::Timestamp;

impl Store {
    /// Stores an override (its `id` is ignored) and returns it with its new id.
    pub async fn add_override(&self, o: Override, now: Timestamp) -> Result<Override, StoreError> {
        self.call(move |conn| {
            let id = conn.query_row(
                "INSERT INTO overrides (schedule, user_id, replaces, start_at, end_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                vals![
                    o.schedule.as_str(),
                    o.user.as_str(),
                    o.replaces.as_ref().map(UserId::as_str),
                    db_time(o.start),
                    db_time(o.end),
                    db_time(now)
                ],
                |r| r.get(0),
            )?;
            Ok(Override { id, ..o })
        })
        .await
    }

    pub async fn overrides(&self) -> Result<Vec<Override>, StoreError> {
        self.call(read_overrides).await
    }

    /// Records that the shift notice for `user`'s shift at `start` is being sent; false
    /// when it was sent before.
    pub async fn claim_shift_notice(
        &self,
        schedule: ScheduleId,
        user: UserId,
        start: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO shift_notices (schedule, user_id, start_at, sent_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                vals![
                    schedule.as_str(),
                    user.as_str(),
                    db_time(start),
                    db_time(now)
                ],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    /// True when the override existed.
    pub async fn delete_override(&self, schedule: ScheduleId, id: i64) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let deleted = conn.execute(
                "DELETE FROM overrides WHERE id = ?1 AND schedule = ?2",
                vals![id, schedule.as_str()],
            )?;
            Ok(deleted > 0)
        })
        .await
    }
}

/// Overrides straight from the database, read-only, without a daemon: for
/// `kaden oncall` while `kaden serve` is stopped. No database yet means no overrides.
pub fn overrides_read_only(database: Database) -> Result<Vec<Override>, StoreError> {
    if let Database::Sqlite(path) = database
        && !path.exists()
    {
        return Ok(Vec::new());
    }
    match database.read(read_overrides) {
        Err(StoreError::NoSchema { .. }) => Ok(Vec::new()),
        read => read,
    }
}

fn read_overrides(conn: &Db) -> Result<Vec<Override>, StoreError> {
    let rows = conn.query(
        "SELECT id, schedule, user_id, replaces, start_at, end_at FROM overrides ORDER BY id",
        vals![],
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<Option<String>>(3)?,
                r.get::<String>(4)?,
                r.get::<String>(5)?,
            ))
        },
    )?;
    rows.into_iter()
        .map(|row| {
            let (id, schedule, user, replaces, start, end) = row;
            let time = |t: &str| {
                t.parse()
                    .map_err(|e| StoreError::Corrupt(format!("override {id}: {e}")))
            };
            Ok(Override {
                id,
                schedule: ScheduleId::new(schedule),
                user: UserId::new(user),
                replaces: replaces.map(UserId::new),
                start: time(&start)?,
                end: time(&end)?,
            })
        })
        .collect()
}
