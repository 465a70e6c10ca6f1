//! SQLite storage. One thread owns the connection; async callers send it closures and
//! await the answer, so no query ever blocks the tokio runtime.
//!
//! Group commit: the thread runs every job waiting at that moment in one transaction
//! (each in its own savepoint, so one failing job does not undo the others), commits
//! once, and only then answers them. Under load many alerts share one fsync; nothing is
//! answered before it is on disk.

mod escalations;
mod history;
mod ingest;
mod metrics;
mod migrations;
mod overrides;
mod queries;
mod telephony_errors;
mod usage;
mod writebacks;

pub use escalations::{NoticeView, OpenAlert, StepToSave};
pub use history::{StoredAlert, StoredCall, alerts_read_only, calls_read_only};
pub use ingest::{Ingested, Outcome};
pub use metrics::Sample;
pub use overrides::overrides_read_only;
pub use queries::{
    ALERTS_SHOWN, AlertView, CallFilter, CallView, IncidentDetail, IncidentFilter, IncidentSummary,
    ProblemView, WriteBackView,
};
pub use telephony_errors::{TelephonyError, TelephonyErrorView};
pub use usage::{
    AwaitingPrice, CallUsage, FiredTrigger, SmsRecord, UsageGroup, UsageKey, UsageKind,
    usage_read_only,
};
pub use writebacks::{Attempted, PendingWriteBack, WriteBackAction};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {}: {source}; check storage.sqlite and its permissions", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the database {} was written by a newer kaden (schema version {found}, this build knows {known}); upgrade kaden", path.display())]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database query failed: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the storage thread has stopped")]
    Stopped,
    #[error("cannot commit to the database: {0}; check free disk space and the file's permissions")]
    Commit(String),
    #[error("another kaden daemon{holder} is already serving the database {}; stop it first, or give this one its own storage.sqlite", path.display())]
    Locked { path: PathBuf, holder: String },
    #[error("cannot lock the database {} through {}: {source}", path.display(), lock.display())]
    Lock {
        path: PathBuf,
        lock: PathBuf,
        source: std::io::Error,
    },
}

/// Held by the one daemon that drives a database file; the OS releases it when the
/// process exits, however it exits (kill -9 included). CLI commands that only read take
/// no lock.
#[derive(Debug)]
pub struct DaemonLock {
    _file: std::fs::File,
}

impl DaemonLock {
    /// Takes the lock on `<database>.lock`, beside the database, or says who holds it.
    pub fn acquire(database: &Path) -> Result<DaemonLock, StoreError> {
        use std::io::{Read, Seek, Write};
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        let lock = PathBuf::from(name);
        let failed = |source| StoreError::Lock {
            path: database.to_owned(),
            lock: lock.clone(),
            source,
        };
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                let holder = if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                };
                return Err(StoreError::Locked {
                    path: database.to_owned(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
        }
        // The pid is only for the message a second daemon prints.
        file.set_len(0).map_err(failed)?;
        file.rewind().map_err(failed)?;
        write!(file, "{}", std::process::id()).map_err(failed)?;
        Ok(DaemonLock { _file: file })
    }
}

/// At most this many jobs share one transaction, so one commit stays short.
const MAX_BATCH: usize = 512;

/// A closure sent to the storage thread, and where its answer goes.
trait Job: Send {
    /// Runs inside the batch's transaction; false: it failed and its writes are undone.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers once the batch is committed (or could not be).
    fn answer(self: Box<Self>, committed: Result<(), &str>);
}

struct Call<R, F> {
    work: Option<F>,
    result: Option<Result<R, StoreError>>,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<R, F> Job for Call<R, F>
where
    R: Send,
    F: FnOnce(&Connection) -> Result<R, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let work = self.work.take().expect("a job runs once");
        let result = work(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), &str>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            // A failed job's own error says more than the commit's.
            (_, Some(Err(e))) => Err(e),
            (Err(e), _) => Err(StoreError::Commit(e.to_owned())),
            (Ok(()), None) => Err(StoreError::Stopped),
        };
        let _ = self.reply.send(answer);
    }
}

/// The storage thread: one transaction and one commit per batch of waiting jobs.
fn serve(conn: Connection, inbox: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        batch.extend(inbox.try_iter().take(MAX_BATCH - 1));
        let committed = run_batch(&conn, &mut batch);
        let committed = committed.as_ref().map_err(|e| e.to_string());
        for job in batch {
            job.answer(committed.as_ref().map(|_| ()).map_err(String::as_str));
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> rusqlite::Result<()> {
    // Immediate: a job's read-then-write (ingest's duplicate check) sees one state.
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        if e.sqlite_error_code() != Some(rusqlite::ErrorCode::ReadOnly) {
            return Err(e);
        }
        // A read-only database still answers reads; writes fail on their own.
        for job in batch.iter_mut() {
            job.run(conn);
        }
        return Ok(());
    }
    for job in batch.iter_mut() {
        let done = execute(conn, "SAVEPOINT job", []).and_then(|_| {
            if !job.run(conn) {
                execute(conn, "ROLLBACK TO job", [])?;
            }
            execute(conn, "RELEASE job", [])
        });
        if let Err(e) = done {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    execute(conn, "COMMIT", []).map(|_| ()).inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })
}

/// Timestamps are stored in one fixed width (UTC, nanoseconds) so SQL compares them in
/// time order.
pub(crate) fn db_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%9fZ").to_string()
}

/// Runs a statement through the connection's statement cache: ingest and the engine's
/// steps run the same few statements for every alert, and parsing them each time cost
/// more than running them.
pub(crate) fn execute(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// [`execute`]'s counterpart for a query answering one row.
pub(crate) fn query_row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, row)
}

/// A cheap handle to the storage thread; clone it freely.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(128);
        // One plan per statement: otherwise SQLite re-plans a cached statement whenever a
        // bound value might suit another plan, which cost ingest a quarter of its time.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(open_err)?;
        // WAL lets readers run beside the writer; FULL makes a commit survive power loss,
        // not just a killed process, before ingest answers success.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrations::migrate(&mut conn, path)?;

        let (jobs, inbox) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("kaden-store".into())
            .spawn(move || serve(conn, inbox))
            .map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        Ok(Store { jobs })
    }

    /// Runs `f` on the storage thread, inside a transaction; the answer comes once it
    /// is committed. The job is queued at once, before the future is polled, so a
    /// caller can queue several and let them share one commit.
    pub fn call<R, F>(&self, f: F) -> impl Future<Output = Result<R, StoreError>> + use<R, F>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let queued = self.jobs.send(Box::new(Call {
            work: Some(f),
            result: None,
            reply,
        }));
        async move {
            queued.map_err(|_| StoreError::Stopped)?;
            answer.await.map_err(|_| StoreError::Stopped)?
        }
    }

    /// Commits a one-row write, as ingest would: fails when the disk is full or the file
    /// or its directory became read-only, where a read would still succeed.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.call(|conn| {
            conn.execute(
                "INSERT INTO health_probe (id, writes) VALUES (1, 1)
                 ON CONFLICT (id) DO UPDATE SET writes = health_probe.writes + 1",
                [],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
impl Store {
    /// An open incident row for tests of what refers to one.
    pub(crate) async fn insert_open_incident(&self, id: i64) {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO incidents (id, status, opened_at, updated_at)
                 VALUES (?1, 'open', 'now', 'now')",
                [id],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn health_probe_fails_when_writes_cannot_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kaden.db")).unwrap();
        store.check_writable().await.unwrap();
        // What a read-only file or a full disk look like to SQLite: reads work, writes fail.
        store
            .call(|conn| Ok(conn.pragma_update(None, "query_only", true)?))
            .await
            .unwrap();
        store
            .call(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
            .unwrap();
        assert!(store.check_writable().await.is_err());
    }

    #[tokio::test]
    async fn jobs_waiting_together_commit_together_and_a_failing_one_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kaden.db")).unwrap();
        store.insert_open_incident(1).await;
        // Queued back to back, before any is awaited: one batch.
        let answers: Vec<_> = (0..20)
            .map(|n| {
                store.call(move |conn| {
                    conn.execute(
                        "INSERT INTO notices (incident_id, at, level, message) VALUES (1, 'now', 'info', ?1)",
                        [n.to_string()],
                    )?;
                    if n == 7 {
                        conn.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                    }
                    Ok(n)
                })
            })
            .collect();
        let mut failed = Vec::new();
        for answer in answers {
            if let Err(e) = answer.await {
                failed.push(e.to_string());
            }
        }
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].contains("no_such_table"), "{failed:?}");
        let kept: Vec<String> = store
            .call(|conn| {
                let mut stmt = conn.prepare("SELECT message FROM notices ORDER BY id")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        let expected: Vec<String> = (0..20).filter(|n| *n != 7).map(|n| n.to_string()).collect();
        assert_eq!(kept, expected);
    }

    #[test]
    fn a_second_daemon_lock_on_one_database_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kaden.db");
        let first = DaemonLock::acquire(&db).unwrap();
        let err = DaemonLock::acquire(&db).unwrap_err().to_string();
        assert!(err.contains("another kaden daemon"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        DaemonLock::acquire(&db).unwrap();
    }
}
