//! The write-back worker: drains the outbox, telling each source system who acknowledged
//! (or asked for downtime). Network trouble and 429/5xx are retried with exponential
//! backoff and jitter until the source accepts; a refusal for good (no permission, alert
//! gone) is recorded on the row and not retried. Every row's state shows on its incident.
//!
//! Exactly once: the row is marked as sending (committed) before the source is written
//! to. A row found marked after a crash is first checked against the source's own state
//! (`Writer::applied`) and only sent again when the source does not show it.

mod icinga2;
mod mackerel;
mod nagios;
mod zabbix;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::{PhoneNumber, Source, UserId};
use crate::escalation::AckBy;
use crate::store::{Attempted, PendingWriteBack, Store, StoreError};
use jiff::SignedDuration;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(600);
/// Look for due rows at least this often, whatever else happens.
const POLL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Worth trying again later (network, 429, 5xx).
    #[error("{0}")]
    Retry(String),
    /// The source refused; trying again cannot help.
    #[error("{0}")]
    Refused(String),
}

pub type WriteFuture<'a> = Pin<Box<dyn Future<Output = Result<(), WriteError>> + Send + 'a>>;
pub type AppliedFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, WriteError>> + Send + 'a>>;

/// One source system's write-back.
pub trait Writer: Send + Sync {
    fn write<'a>(&'a self, item: &'a PendingWriteBack, message: &'a str) -> WriteFuture<'a>;

    /// Whether the source already shows this acknowledgement or downtime, asked before
    /// re-sending a row whose earlier attempt may have reached it. `false` sends again.
    fn applied<'a>(&'a self, item: &'a PendingWriteBack) -> AppliedFuture<'a>;

    /// `kaden doctor`: can kaden write back here now? What was found, or what to fix.
    fn check(&self) -> CheckFuture<'_>;
}

pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// One writer per configured source.
pub fn writers(config: &Config, clock: &SharedClock) -> HashMap<Source, Box<dyn Writer>> {
    let mut writers: HashMap<Source, Box<dyn Writer>> = HashMap::new();
    if let Some(z) = &config.sources.zabbix {
        writers.insert(
            Source::Zabbix,
            Box::new(zabbix::Zabbix::new(z, clock.clone())),
        );
    }
    if let Some(n) = &config.sources.nagios {
        writers.insert(
            Source::Nagios,
            Box::new(nagios::Nagios::new(n, clock.clone())),
        );
    }
    if let Some(i) = &config.sources.icinga2 {
        writers.insert(
            Source::Icinga2,
            Box::new(icinga2::Icinga2::new(i, clock.clone())),
        );
    }
    if let Some(m) = &config.sources.mackerel {
        writers.insert(Source::Mackerel, Box::new(mackerel::Mackerel::new(m)));
    }
    writers
}

pub struct Worker {
    store: Store,
    clock: SharedClock,
    wake: Arc<Notify>,
    writers: HashMap<Source, Box<dyn Writer>>,
    people: HashMap<UserId, (String, PhoneNumber)>,
}

impl Worker {
    pub fn new(config: &Config, store: Store, clock: SharedClock, wake: Arc<Notify>) -> Worker {
        let writers = writers(config, &clock);
        let people = config
            .users
            .iter()
            .map(|u| (u.id.clone(), (u.name.clone(), u.phone.clone())))
            .collect();
        Worker {
            store,
            clock,
            wake,
            writers,
            people,
        }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.drain().await {
                tracing::error!(error = %e, "Cannot read the write-back outbox.");
            }
            let wait = match self.store.next_writeback_at().await {
                Ok(Some(next)) => Duration::try_from(next.duration_since(self.clock.now()))
                    .unwrap_or_default()
                    .min(POLL),
                _ => POLL,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.cancelled() => break,
            }
        }
    }

    /// Attempts every due row once; returns how many were attempted.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let due = self.store.due_writebacks(self.clock.now(), 100).await?;
        for item in &due {
            let attempted = self.attempt(item).await;
            self.store
                .record_attempt(item.id, attempted, self.clock.now())
                .await?;
        }
        Ok(due.len())
    }

    async fn attempt(&self, item: &PendingWriteBack) -> Attempted {
        let source = item.source_ref.source();
        let Some(writer) = self.writers.get(&source) else {
            let error = format!(
                "sources.{source} is not configured, so kaden cannot write back to {source}"
            );
            tracing::error!(incident_id = item.incident_id.get(), alert_id = %item.alert_id, source = %source, "{error}");
            return Attempted::Failed { error };
        };
        if item.maybe_sent {
            match writer.applied(item).await {
                Ok(true) => {
                    tracing::info!(incident_id = item.incident_id.get(), alert_id = %item.alert_id, source = %source,
                        "The source already shows this write-back (sent before a restart); not sent again.");
                    return Attempted::Done;
                }
                Ok(false) => {}
                Err(e) => return self.retry(item, e.to_string()),
            }
        }
        if let Err(e) = self.store.mark_sending(item.id, self.clock.now()).await {
            return self.retry(item, format!("cannot record the attempt: {e}"));
        }
        let message = self.message(&item.by);
        let written = writer.write(item, &message).await;
        crate::fault::crash_point("writeback-sent");
        match written {
            Ok(()) => {
                tracing::info!(incident_id = item.incident_id.get(), alert_id = %item.alert_id, source = %source, "Written back.");
                Attempted::Done
            }
            Err(WriteError::Refused(error)) => {
                tracing::error!(incident_id = item.incident_id.get(), alert_id = %item.alert_id, source = %source, %error, "Write-back refused.");
                Attempted::Failed { error }
            }
            Err(WriteError::Retry(error)) => self.retry(item, error),
        }
    }

    fn retry(&self, item: &PendingWriteBack, error: String) -> Attempted {
        let delay = backoff(item.attempts);
        tracing::warn!(incident_id = item.incident_id.get(), alert_id = %item.alert_id,
            source = %item.source_ref.source(), %error, retry_in = ?delay, "Write-back failed; retrying.");
        let at = self
            .clock
            .now()
            .saturating_add(SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX))
            .expect("adding a bounded delay saturates");
        Attempted::RetryAt { at, error }
    }

    /// Who acknowledged and how, in Japanese and English, for the source's log.
    fn message(&self, by: &AckBy) -> String {
        match by {
            AckBy::Phone { user, .. } => match self.people.get(user) {
                Some((name, phone)) => {
                    format!("電話で{name} ({phone}) が対応開始 / acknowledged by phone via kaden")
                }
                None => format!("電話で{user} が対応開始 / acknowledged by phone via kaden"),
            },
            AckBy::Manual { by, .. } => {
                format!("{by} が kaden で対応開始 / acknowledged via kaden by {by}")
            }
            AckBy::Source => "acknowledged in the source".to_owned(),
        }
    }
}

/// 5 s, 10 s, 20 s ... up to 10 min, plus up to half again at random so many retries
/// do not arrive together.
fn backoff(attempts: u32) -> Duration {
    let base = FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(attempts.min(16)))
        .min(MAX_RETRY);
    base + Duration::from_millis(fastrand::u64(0..=base.as_millis() as u64 / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        for attempts in 0..30 {
            let base = FIRST_RETRY
                .saturating_mul(2u32.saturating_pow(attempts.min(16)))
                .min(MAX_RETRY);
            let d = backoff(attempts);
            assert!(d >= base && d <= base + base / 2, "{attempts}: {d:?}");
        }
        assert_eq!(backoff(0).as_secs() / 5, 1);
        assert!(backoff(20) >= MAX_RETRY);
    }
}
