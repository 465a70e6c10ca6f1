//! Several instances on one PostgreSQL. One leads: it drives every escalation (timers,
//! calls, keypad answers), the write-backs and the spool, exactly as a lone daemon does.
//! The others serve by handing each request to the leader (`http::forward`) and wait
//! to take over: PostgreSQL frees the leader's lock the moment its connection ends, and
//! a waiting instance takes it within [`TRY_EVERY`], restores the escalations from the
//! store and goes on. On SQLite there is one daemon per file, and it always leads.

use crate::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a waiting instance tries to take the lead.
pub const TRY_EVERY: Duration = Duration::from_millis(500);

pub struct Cluster {
    /// `host/pid`: which instance answered, in `/healthz` and the logs.
    pub instance: String,
    /// Where the other instances reach this one (`server.instance_url`).
    pub url: String,
    leading: AtomicBool,
    /// Hands requests to the leader (plain HTTP inside the deployment, no proxy).
    pub client: reqwest::Client,
}

impl Cluster {
    /// `alone`: the store is SQLite, whose daemon lock already proves this instance is
    /// the only one, so it leads from the start.
    pub fn new(url: String, alone: bool) -> Cluster {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        Cluster {
            instance: format!("{host}/{}", std::process::id()),
            url,
            leading: AtomicBool::new(alone),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .expect("an HTTP client without TLS settings builds"),
        }
    }

    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// From now on this instance answers requests itself: it holds the lead and has
    /// read what the others changed while it waited.
    pub fn serve_as_leader(&self) {
        self.leading.store(true, Ordering::Release);
    }

    /// Waits until this instance holds the lead; false if `stop` came first. It goes on
    /// handing requests on until [`Cluster::serve_as_leader`].
    pub async fn lead(&self, store: &Store, stop: &CancellationToken) -> bool {
        let mut said_waiting = false;
        loop {
            match store
                .try_lead(self.instance.clone(), self.url.clone())
                .await
            {
                Ok(true) => {
                    if said_waiting {
                        tracing::warn!(instance = %self.instance, "This instance leads now: it drives the escalations.");
                    }
                    return true;
                }
                Ok(false) if !said_waiting => {
                    said_waiting = true;
                    let leader = store.leader().await.ok().flatten();
                    tracing::info!(
                        instance = %self.instance,
                        leader = leader.as_ref().map(|(i, _)| i.as_str()).unwrap_or("?"),
                        "Another instance leads; this one hands requests to it and takes over when it goes."
                    );
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot ask the database who leads; trying again.")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TRY_EVERY) => {}
                _ = stop.cancelled() => return false,
            }
        }
    }
}
