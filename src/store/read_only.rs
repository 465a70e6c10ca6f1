//! The store as CLI commands read it beside (or without) a daemon: `kaden usage`,
//! `kaden oncall`, `kaden replay`, check-config. SQLite or PostgreSQL alike; never
//! written, no instance lock taken, nothing migrated.

use super::StoreError;
use super::db::{Db, connect_pg, vals};
use crate::config::StorageConfig;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;

/// Which database a read-only command reads: the one `storage` names.
#[derive(Clone, Copy)]
pub enum Database<'a> {
    Sqlite(&'a Path),
    Postgres(&'a SecretString),
}

impl<'a> From<&'a StorageConfig> for Database<'a> {
    fn from(storage: &'a StorageConfig) -> Database<'a> {
        match &storage.postgres {
            Some(url) => Database::Postgres(url),
            None => Database::Sqlite(&storage.sqlite),
        }
    }
}

impl Database<'_> {
    /// Runs `f` on a read-only connection: the one entry point of every `*_read_only`.
    pub(super) fn read<R: Send>(
        self,
        f: impl FnOnce(&Db) -> Result<R, StoreError> + Send,
    ) -> Result<R, StoreError> {
        match self {
            Database::Sqlite(path) => f(&open_sqlite(path)?),
            Database::Postgres(url) => off_runtime(|| match connect_read_only(url)? {
                (db, _, Some(_)) => f(&db),
                (_, target, None) => Err(StoreError::NoSchema { target }),
            }),
        }
    }
}

/// Whether PostgreSQL at `url` can be reached and read, and what it holds: check-config's
/// question.
pub fn check_postgres(url: &SecretString) -> Result<String, StoreError> {
    off_runtime(|| {
        let (_, target, version) = connect_read_only(url)?;
        Ok(match version {
            Some(v) => format!("PostgreSQL {target}, schema version {v}"),
            None => format!("PostgreSQL {target}, no schema yet (serve creates it)"),
        })
    })
}

/// Runs `f` on a thread of its own: the synchronous PostgreSQL client starts a runtime
/// of its own (and stops it when dropped), which panics inside a tokio runtime.
pub(super) fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The SQLite file as it is.
fn open_sqlite(path: &Path) -> Result<Db, StoreError> {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map(Db::Sqlite)
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })
}

/// A session that cannot write, and the schema version it found (none: no kaden schema
/// yet). A schema newer than this build knows is refused, as the daemon refuses it.
fn connect_read_only(url: &SecretString) -> Result<(Db, String, Option<i64>), StoreError> {
    let (db, target) = connect_pg(url.expose_secret())?;
    db.batch("SET default_transaction_read_only = on")?;
    let schema: bool = db.query_row(
        "SELECT to_regclass('kaden_schema') IS NOT NULL",
        vals![],
        |r| r.get(0),
    )?;
    let version: Option<i64> = match schema {
        true => db.query_row("SELECT MAX(version) FROM kaden_schema", vals![], |r| {
            r.get(0)
        })?,
        false => None,
    };
    let known = super::migrations::latest_version();
    if let Some(found) = version.filter(|v| *v > known) {
        return Err(StoreError::TooNew {
            database: target,
            found,
            known,
        });
    }
    Ok((db, target, version))
}
