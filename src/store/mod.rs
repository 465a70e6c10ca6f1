//! SQLite storage. One thread owns the connection; async callers send it closures and
//! await the answer, so no query ever blocks the tokio runtime.
//!
//! Group commit: the thread runs every job waiting at that moment in one transaction
//! (each in its own savepoint, so one failing job does not undo the others), commits
//! once, and only then answers them. Under load many alerts share one fsync; nothing is
//! answered before it is on disk.

mod db;
mod escalations;
mod history;
mod ingest;
mod metrics;
mod migrate_store;
mod migrations;
mod overrides;
#[cfg(test)]
#[path = "../../tests/support/pg_cluster.rs"]
pub(crate) mod pg_cluster;
mod queries;
mod read_only;
mod telephony_errors;
mod usage;
mod writebacks;

pub use escalations::{NoticeView, OpenAlert, StepToSave};
pub use history::{StoredAlert, StoredCall, alerts_read_only, calls_read_only};
pub use ingest::{Ingested, Outcome};
pub use metrics::Sample;
pub use migrate_store::{Copied, migrate_store};
pub use overrides::overrides_read_only;
pub use queries::{
    ALERTS_SHOWN, AlertView, CallFilter, CallView, IncidentDetail, IncidentFilter, IncidentSummary,
    ProblemView, WriteBackView,
};
pub use read_only::{Database, check_postgres};
pub use telephony_errors::{TelephonyError, TelephonyErrorView};
pub use usage::{
    AwaitingPrice, CallUsage, FiredTrigger, SmsRecord, UsageGroup, UsageKey, UsageKind,
    usage_read_only,
};
pub use writebacks::{Attempted, PendingWriteBack, WriteBackAction};

use db::{Db, DbError, vals};
use rusqlite::Connection;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

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
    #[error(
        "the database {database} was written by a newer kaden (schema version {found}, this build knows {known}); upgrade kaden"
    )]
    TooNew {
        database: String,
        found: i64,
        known: i64,
    },
    #[error("cannot reach PostgreSQL {target}: {source}; check storage.postgres")]
    Connect { target: String, source: DbError },
    #[error("storage.postgres ({target}): {problem}")]
    PgConfig { target: String, problem: String },
    #[error("PostgreSQL {target} is unreachable; kaden connects again by itself")]
    Unavailable { target: String },
    #[error(
        "another kaden instance drove the escalations while PostgreSQL {target} was unreachable; this one stops so its supervisor restarts it as a standby"
    )]
    LeadershipLost { target: String },
    #[error("a kaden instance is serving the database {target}; stop every instance first")]
    PgLocked { target: String },
    #[error(
        "PostgreSQL {target} holds no kaden schema yet; kaden serve or kaden migrate-store creates it"
    )]
    NoSchema { target: String },
    #[error(
        "PostgreSQL {target} already holds kaden data ({tables}); migrate-store copies only into an empty database, so nothing was copied"
    )]
    TargetNotEmpty { target: String, tables: String },
    #[error("database query failed: {0}")]
    Query(#[from] DbError),
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

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Query(e.into())
    }
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
    fn run(&mut self, db: &Db) -> bool;
    /// Answers once the batch is committed (or could not be).
    fn answer(self: Box<Self>, committed: Result<(), &str>);
    /// Answers with `error` without running.
    fn refuse(self: Box<Self>, error: StoreError);
    /// Waits for the database to come back instead of failing while it is away.
    fn patient(&self) -> bool;
}

/// A job run once. With `F: Fn` it can run again after a lost connection: `patient`.
struct Call<R, F> {
    work: F,
    patient: bool,
    result: Option<Result<R, StoreError>>,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<R, F> Job for Call<R, F>
where
    R: Send,
    F: FnMut(&Db) -> Result<R, StoreError> + Send,
{
    fn run(&mut self, db: &Db) -> bool {
        let result = (self.work)(db);
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

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }

    fn patient(&self) -> bool {
        self.patient
    }
}

/// Connects to PostgreSQL and brings the schema up to date.
fn connect_postgres(url: &str) -> Result<Db, StoreError> {
    let (db, target) = db::connect_pg(url)?;
    migrations::migrate_pg(&db, &target)?;
    tracing::info!(database = %target, "Connected to PostgreSQL.");
    Ok(db)
}

/// The same error again, for every job a lost connection refuses.
fn again(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable { target } => StoreError::Unavailable {
            target: target.clone(),
        },
        StoreError::LeadershipLost { target } => StoreError::LeadershipLost {
            target: target.clone(),
        },
        other => StoreError::Commit(other.to_string()),
    }
}

/// How often jobs waiting for a lost PostgreSQL connection try it again.
const REVIVE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The storage thread: one transaction and one commit per batch of waiting jobs. On
/// PostgreSQL each job is its own transaction: a commit costs no fsync of ours there,
/// and one job's conflict must not undo another's work. While PostgreSQL is away, jobs
/// fail at once as `Unavailable`, except patient ones, which wait in order and run when
/// it is back.
fn serve(db: Db, inbox: mpsc::Receiver<Box<dyn Job>>, lost: CancellationToken) {
    let max_batch = match db.dialect() {
        db::Dialect::Sqlite => MAX_BATCH,
        db::Dialect::Postgres => 1,
    };
    let mut waiting: VecDeque<Box<dyn Job>> = VecDeque::new();
    loop {
        let next = if waiting.is_empty() {
            inbox
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            inbox.recv_timeout(REVIVE_EVERY)
        };
        let mut batch: Vec<Box<dyn Job>> = match next {
            Ok(job) => vec![job],
            Err(mpsc::RecvTimeoutError::Timeout) => Vec::new(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if let Err(e) = db.revive() {
            if matches!(e, StoreError::LeadershipLost { .. }) {
                lost.cancel();
                waiting.drain(..).for_each(|job| job.refuse(again(&e)));
            }
            batch.extend(inbox.try_iter());
            for job in batch {
                if job.patient() && !lost.is_cancelled() {
                    waiting.push_back(job);
                } else {
                    job.refuse(again(&e));
                }
            }
            continue;
        }
        if !waiting.is_empty() {
            batch.splice(0..0, waiting.drain(..));
        }
        let mut jobs = batch.into_iter();
        loop {
            let mut batch: Vec<_> = jobs.by_ref().take(max_batch).collect();
            if batch.len() < max_batch {
                batch.extend(inbox.try_iter().take(max_batch - batch.len()));
            }
            if batch.is_empty() {
                break;
            }
            let committed = run_batch(&db, &mut batch);
            if db.is_down() {
                // The connection died under the batch: nothing of it was committed
                // (a lost COMMIT answer aside, which patient jobs tolerate).
                for job in batch.into_iter().chain(jobs.by_ref()) {
                    if job.patient() {
                        waiting.push_back(job);
                    } else {
                        job.refuse(StoreError::Unavailable {
                            target: db.target(),
                        });
                    }
                }
                break;
            }
            let committed = committed.as_ref().map_err(|e| e.to_string());
            for job in batch {
                job.answer(committed.as_ref().map(|_| ()).map_err(String::as_str));
            }
        }
    }
}

fn run_batch(db: &Db, batch: &mut [Box<dyn Job>]) -> Result<(), DbError> {
    let begin = match db {
        // Immediate: a job's read-then-write (ingest's duplicate check) sees one state.
        Db::Sqlite(_) => "BEGIN IMMEDIATE",
        Db::Pg(_) => "BEGIN",
    };
    if let Err(e) = db.batch(begin) {
        let read_only = matches!(&e, DbError::Sqlite(e)
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly));
        if !read_only {
            return Err(e);
        }
        // A read-only database still answers reads; writes fail on their own.
        for job in batch.iter_mut() {
            job.run(db);
        }
        return Ok(());
    }
    if let [job] = batch {
        // Alone in its transaction: no savepoint needed to undo only this job.
        let end = if job.run(db) { "COMMIT" } else { "ROLLBACK" };
        return db.batch(end).inspect_err(|_| {
            let _ = db.batch("ROLLBACK");
        });
    }
    // Prepared once (`execute`), not parsed again per job as `batch` would.
    for job in batch.iter_mut() {
        let done = db.execute("SAVEPOINT job", &[]).and_then(|_| {
            if !job.run(db) {
                db.execute("ROLLBACK TO job", &[])?;
            }
            db.execute("RELEASE job", &[])
        });
        if let Err(e) = done {
            let _ = db.batch("ROLLBACK");
            return Err(e);
        }
    }
    db.batch("COMMIT").inspect_err(|_| {
        let _ = db.batch("ROLLBACK");
    })
}

/// Timestamps are stored in one fixed width (UTC, nanoseconds) so SQL compares them in
/// time order.
pub(crate) fn db_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%9fZ").to_string()
}

/// A cheap handle to the storage thread; clone it freely.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Box<dyn Job>>,
    /// Cancelled when another instance took the lead from this one (PostgreSQL only).
    lost: CancellationToken,
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
        let lost = CancellationToken::new();
        std::thread::Builder::new()
            .name("kaden-store".into())
            .spawn({
                let lost = lost.clone();
                move || serve(Db::Sqlite(conn), inbox, lost)
            })
            .map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        Ok(Store { jobs, lost })
    }

    /// Connects to PostgreSQL and brings its schema up to date. The synchronous client
    /// runs a runtime of its own, so it lives on the storage thread, never inside tokio's.
    pub fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let (jobs, inbox) = mpsc::channel::<Box<dyn Job>>();
        let (ready, opened) = mpsc::channel();
        let url = url.to_owned();
        let lost = CancellationToken::new();
        let lost_here = lost.clone();
        std::thread::Builder::new()
            .name("kaden-store".into())
            .spawn(move || match connect_postgres(&url) {
                Ok(db) => {
                    let _ = ready.send(Ok(()));
                    serve(db, inbox, lost_here);
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(|_| StoreError::Stopped)?;
        opened.recv().map_err(|_| StoreError::Stopped)??;
        Ok(Store { jobs, lost })
    }

    /// Runs `f` on the storage thread, inside a transaction; the answer comes once it
    /// is committed. The job is queued at once, before the future is polled, so a
    /// caller can queue several and let them share one commit.
    pub fn call<R, F>(&self, f: F) -> impl Future<Output = Result<R, StoreError>> + use<R, F>
    where
        R: Send + 'static,
        F: FnOnce(&Db) -> Result<R, StoreError> + Send + 'static,
    {
        let mut once = Some(f);
        self.queue(
            move |db: &Db| (once.take().expect("an impatient job runs once"))(db),
            false,
        )
    }

    /// Like [`Store::call`], but while PostgreSQL is away the job waits and runs when it
    /// is back, instead of failing: for what must be written before anything else
    /// happens (an escalation's step). `f` may run more than once, so it must not
    /// consume what it captures.
    pub fn call_patient<R, F>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<R, StoreError>> + use<R, F>
    where
        R: Send + 'static,
        F: Fn(&Db) -> Result<R, StoreError> + Send + 'static,
    {
        self.queue(f, true)
    }

    fn queue<R, F>(
        &self,
        work: F,
        patient: bool,
    ) -> impl Future<Output = Result<R, StoreError>> + use<R, F>
    where
        R: Send + 'static,
        F: FnMut(&Db) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let queued = self.jobs.send(Box::new(Call {
            work,
            patient,
            result: None,
            reply,
        }));
        async move {
            queued.map_err(|_| StoreError::Stopped)?;
            answer.await.map_err(|_| StoreError::Stopped)?
        }
    }

    /// Takes the lead if no other instance has it (always, on SQLite).
    pub async fn try_lead(&self, instance: String, url: String) -> Result<bool, StoreError> {
        self.call(move |db| db.try_lead(&instance, &url)).await
    }

    /// The instance that took the lead last and its URL; `None` on SQLite.
    pub async fn leader(&self) -> Result<Option<(String, String)>, StoreError> {
        self.call(Db::leader).await
    }

    /// Cancelled once this instance must stop driving: another took the lead while
    /// PostgreSQL was unreachable.
    pub fn leadership_lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Commits a one-row write, as ingest would: fails when the disk is full or the file
    /// or its directory became read-only, where a read would still succeed.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.call(|conn| {
            conn.execute(
                "INSERT INTO health_probe (id, writes) VALUES (1, 1)
                 ON CONFLICT (id) DO UPDATE SET writes = health_probe.writes + 1",
                vals![],
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
                vals![id],
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
            .call(|conn| Ok(conn.sqlite().pragma_update(None, "query_only", true)?))
            .await
            .unwrap();
        store
            .call(|conn| Ok(conn.query_row("SELECT 1", vals![], |_| Ok(()))?))
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
                        vals![n.to_string()],
                    )?;
                    if n == 7 {
                        conn.execute("INSERT INTO no_such_table VALUES (1)", vals![])?;
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
                Ok(
                    conn.query("SELECT message FROM notices ORDER BY id", vals![], |r| {
                        r.get(0)
                    })?,
                )
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

    /// Needs Debian's `postgresql` package; `.ci/run` runs it with `--ignored`.
    #[tokio::test]
    #[ignore = "needs PostgreSQL server binaries"]
    async fn postgres_store_answers_what_the_sqlite_store_does() {
        use crate::domain::{Alert, AlertKind, CallSettingId, Delivery, Severity, SourceRef};
        let cluster = pg_cluster::PgCluster::start();
        let store = Store::open_postgres(&cluster.url).unwrap();
        store.check_writable().await.unwrap();
        store.check_writable().await.unwrap();

        // A second instance opens the same database, but only one leads.
        let second = Store::open_postgres(&cluster.url).unwrap();
        assert!(
            store
                .try_lead("a/1".into(), "http://a".into())
                .await
                .unwrap()
        );
        assert!(
            !second
                .try_lead("b/2".into(), "http://b".into())
                .await
                .unwrap()
        );
        assert!(
            store
                .try_lead("a/1".into(), "http://a".into())
                .await
                .unwrap()
        );
        let leader = Some(("a/1".to_owned(), "http://a".to_owned()));
        assert_eq!(second.leader().await.unwrap(), leader);
        drop(store);
        // The leader's connection ends with its store thread; the lock is free again.
        let taken_over = async {
            while !second
                .try_lead("b/2".into(), "http://b".into())
                .await
                .unwrap()
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), taken_over)
            .await
            .expect("the second instance leads once the first is gone");
        let store = second;

        let now: jiff::Timestamp = "2026-11-02T10:00:00Z".parse().unwrap();
        let alert = |kind: AlertKind| Alert {
            source_ref: SourceRef::Zabbix { event_id: 42 },
            key: "web1".into(),
            kind,
            severity: Severity::High,
            host: "web1".into(),
            service: None,
            state: kind.as_str().into(),
            output: "down".into(),
            occurred_at: now,
            raw: "{}".into(),
        };
        let routed = Some(CallSettingId::new("infra"));
        let first = store
            .ingest(
                Delivery::new(alert(AlertKind::Problem), Some("n1".into())),
                routed.clone(),
                now,
            )
            .await
            .unwrap();
        let again = store
            .ingest(
                Delivery::new(alert(AlertKind::Problem), Some("n1".into())),
                routed,
                now,
            )
            .await
            .unwrap();
        assert_eq!(
            first.alert_id, again.alert_id,
            "a retried notification is one alert"
        );
        assert_eq!(store.open_alerts().await.unwrap().len(), 1);

        let listed = store
            .incidents(IncidentFilter {
                status: vec!["open".into()],
                limit: 10,
                ..IncidentFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].title, "web1: down");
        let detail = store.incident(listed[0].id).await.unwrap().unwrap();
        assert_eq!(detail.alerts_total, 1);
        assert_eq!(detail.problem_list.len(), 1);
        assert!(!store.metrics().await.unwrap().is_empty());
        store.usage(None, None, UsageKey::User).await.unwrap();
        store
            .calls_awaiting_price(4, jiff::SignedDuration::from_hours(6))
            .await
            .unwrap();
        assert!(store.next_writeback_at().await.unwrap().is_none());

        // One job per transaction: a failing job undoes only itself.
        let answers: Vec<_> = (0..5)
            .map(|n| {
                store.call(move |conn| {
                    conn.execute(
                        "INSERT INTO notices (incident_id, at, level, message) VALUES (?1, 'now', 'info', ?2)",
                        vals![first.incident_id.unwrap().get(), n.to_string()],
                    )?;
                    if n == 2 {
                        conn.execute("INSERT INTO no_such_table VALUES (1)", vals![])?;
                    }
                    Ok(())
                })
            })
            .collect();
        let mut failed = 0;
        for answer in answers {
            failed += usize::from(answer.await.is_err());
        }
        assert_eq!(failed, 1);
        let kept: i64 = store
            .call(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM notices", vals![], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(kept, 4);
    }
}
