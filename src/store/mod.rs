//! SQLite storage. One thread owns the connection; async callers send it closures and
//! await the answer, so no query ever blocks the tokio runtime.

mod escalations;
mod ingest;
mod metrics;
mod migrations;
mod overrides;
mod queries;
mod writebacks;

pub use escalations::{NoticeView, OpenAlert};
pub use ingest::{Ingested, Outcome};
pub use metrics::Sample;
pub use queries::{
    ALERTS_SHOWN, AlertView, CallFilter, CallView, IncidentDetail, IncidentFilter, IncidentSummary,
    ProblemView, WriteBackView,
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
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Timestamps are stored in one fixed width (UTC, nanoseconds) so SQL compares them in
/// time order.
pub(crate) fn db_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%9fZ").to_string()
}

/// A cheap handle to the storage thread; clone it freely.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
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
        // WAL lets readers run beside the writer; FULL makes a commit survive power loss,
        // not just a killed process, before ingest answers success.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrations::migrate(&mut conn, path)?;

        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kaden-store".into())
            .spawn(move || {
                for job in inbox {
                    job(&mut conn);
                }
            })
            .map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        Ok(Store { jobs })
    }

    /// Runs `f` on the storage thread.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = reply.send(f(conn));
            }))
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }
}
