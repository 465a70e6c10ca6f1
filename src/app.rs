//! Wiring: config + store + runner + telephony → a bound listener that serves until
//! shutdown.

use crate::clock::SharedClock;
use crate::config::{Config, Provider};
use crate::domain::Delivery;
use crate::routing;
use crate::runner::{Runner, RunnerHandle, SharedOverrides};
use crate::speech::{RulesError, Speech};
use crate::store::{DaemonLock, Ingested, Store, StoreError};
use crate::telephony::simulator::{self, Simulator};
use crate::telephony::twilio::TwilioClient;
use crate::telephony::voice::{Telephony, Webhooks};
use crate::testcall::TestCalls;
use crate::writeback::Worker;
use jiff::Timestamp;
use secrecy::SecretString;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the Twilio webhooks need: the words, the URLs, the token signatures are made with.
pub struct CallWebhooks {
    pub speech: Arc<Speech>,
    pub webhooks: Webhooks,
    pub auth_token: SecretString,
}

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub runner: RunnerHandle,
    pub calls: Arc<CallWebhooks>,
    /// Schedule overrides; the API writes them to the store and here.
    pub overrides: SharedOverrides,
    pub test_calls: Arc<TestCalls>,
    /// For texts outside escalations (shift notices).
    pub telephony: Arc<Telephony>,
}

impl AppState {
    /// Routes and stores one alert, whatever its source, and hands it to the escalation
    /// runner. Returns once the alert is durable. A retried delivery is answered with the
    /// alert stored before and escalates nothing.
    pub async fn ingest(
        &self,
        delivery: Delivery,
        received_at: Timestamp,
    ) -> Result<Ingested, StoreError> {
        let alert = delivery.alert.clone();
        let call_setting = routing::route(&self.config.routes, &alert, received_at).cloned();
        let ingested = self
            .store
            .ingest(delivery, call_setting.clone(), received_at)
            .await?;
        if !ingested.outcome.is_new() {
            tracing::info!(alert_id = %ingested.alert_id, source = %alert.source(), key = %alert.key,
                outcome = ?ingested.outcome, "Delivery seen before; nothing stored.");
            return Ok(ingested);
        }
        tracing::info!(
            alert_id = %ingested.alert_id,
            incident_id = ingested.incident_id.map(|i| i.get()),
            source = %alert.source(),
            key = %alert.key,
            kind = alert.kind.as_str(),
            call_setting = ingested.call_setting.as_ref().map(|c| c.as_str()),
            outcome = ?ingested.outcome,
            "Alert stored."
        );
        if call_setting.is_none() && alert.kind == crate::domain::AlertKind::Problem {
            tracing::warn!(alert_id = %ingested.alert_id, source = %alert.source(), key = %alert.key,
                "No route matches this alert; it is kept as unrouted and nobody is called.");
        }
        if let Some(incident) = ingested.incident_id {
            self.runner
                .alert(
                    incident,
                    ingested.call_setting.clone(),
                    ingested.alert_id,
                    alert,
                )
                .await;
        }
        Ok(ingested)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("cannot listen on {addr}: {source}; is another kaden running, or is the port taken?")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A daemon whose listener is already bound: `local_addr()` is known before `run`.
pub struct App {
    listener: TcpListener,
    state: AppState,
    runner: Runner,
    writeback: Worker,
    simulator: Option<Simulator>,
    /// One daemon per database: two would restore the same escalations and drain the
    /// spool twice.
    lock: DaemonLock,
}

impl App {
    pub async fn build(config: Config, clock: SharedClock) -> Result<App, AppError> {
        let lock = DaemonLock::acquire(&config.storage.sqlite)?;
        let store = Store::open(&config.storage.sqlite)?;
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| AppError::Bind { addr, source })?;
        let speech = Arc::new(Speech::from_config(&config)?);
        let (telephony, auth_token, simulator) = telephony(&config, local);
        let config = Arc::new(config);
        let calls = Arc::new(CallWebhooks {
            speech: speech.clone(),
            webhooks: telephony.webhooks.clone(),
            auth_token,
        });
        let overrides: SharedOverrides = Arc::new(RwLock::new(store.overrides().await?));
        let wake_writeback = Arc::new(Notify::new());
        let writeback = Worker::new(
            &config,
            store.clone(),
            clock.clone(),
            wake_writeback.clone(),
        );
        let telephony = Arc::new(telephony);
        let test_calls = Arc::new(TestCalls::new(telephony.clone(), speech.clone()));
        let (runner, handle) = Runner::new(
            store.clone(),
            config.clone(),
            speech,
            telephony.clone(),
            clock.clone(),
            wake_writeback,
            overrides.clone(),
        );
        let state = AppState {
            config,
            store,
            clock,
            runner: handle,
            calls,
            overrides,
            test_calls,
            telephony,
        };
        Ok(App {
            listener,
            state,
            runner,
            writeback,
            simulator,
            lock,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let addr = self.local_addr();
        let stop = CancellationToken::new();
        let runner = tokio::spawn(self.runner.run(stop.clone()));
        let writeback = tokio::spawn(self.writeback.run(stop.clone()));
        let spool = tokio::spawn(drain_spool(self.state.clone(), stop.clone()));
        let notices = tokio::spawn(crate::shift_notice::run(self.state.clone(), stop.clone()));
        if self.simulator.is_some() {
            tracing::info!(
                "Telephony: the built-in simulator (no real calls). Script callees at /sim/phones."
            );
        }
        tracing::info!(%addr, "kaden is listening.");
        let limits = self.state.config.server.limits;
        crate::http::serve(
            self.listener,
            crate::http::router(self.state, self.simulator),
            limits,
            shutdown,
        )
        .await;
        stop.cancel();
        let _ = runner.await;
        let _ = writeback.await;
        let _ = spool.await;
        let _ = notices.await;
        tracing::info!("kaden stopped.");
        drop(self.lock);
        Ok(())
    }
}

/// Delivers what notification commands spooled while the daemon was away.
async fn drain_spool(state: AppState, stop: CancellationToken) {
    let dir = state.config.storage.spool.clone();
    loop {
        crate::spool::drain(&state, &dir).await;
        tokio::select! {
            _ = tokio::time::sleep(crate::spool::DRAIN_EVERY) => {}
            _ = stop.cancelled() => break,
        }
    }
}

/// The Twilio client, the token webhooks are signed with, and the simulator if it is used.
fn telephony(config: &Config, local: SocketAddr) -> (Telephony, SecretString, Option<Simulator>) {
    let local_url = crate::config::local_url(local);
    let webhook_base = config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| local_url.clone());
    match &config.telephony.provider {
        Provider::Twilio(t) => {
            let client = TwilioClient::new(
                &t.api_base,
                &t.account_sid,
                t.auth_token.clone(),
                t.from.as_str(),
                t.machine_detection,
                t.calls_per_second,
            );
            let telephony = Telephony {
                client,
                webhooks: Webhooks { base: webhook_base },
            };
            (telephony, t.auth_token.clone(), None)
        }
        Provider::Simulator(s) => {
            // A fresh token per run: nothing outside this process can sign webhooks.
            let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
            let sim = Simulator::new(token.clone(), s.phones.clone());
            let client = TwilioClient::new(
                &format!("{local_url}/sim/twilio"),
                simulator::ACCOUNT_SID,
                SecretString::from(token.clone()),
                s.from.as_str(),
                s.machine_detection,
                10,
            );
            let telephony = Telephony {
                client,
                webhooks: Webhooks { base: webhook_base },
            };
            (telephony, SecretString::from(token), Some(sim))
        }
    }
}
