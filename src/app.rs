//! Wiring: config + store + runner + telephony → a bound listener that serves until
//! shutdown, with the runner, the write-back worker, the spool drain, shift notices,
//! heartbeats, usage triggers and the price backfill started beside it and stopped after
//! it. Serving itself is [`crate::service`]'s.

use crate::clock::SharedClock;
use crate::config::{Config, Provider, TwilioConfig};
use crate::pronunciation::RulesError;
use crate::runner::{Runner, SharedOverrides};
use crate::service::{AppState, CallWebhooks};
use crate::speech::Speech;
use crate::store::{DaemonLock, Store, StoreError};
use crate::telephony::failover::Accounts;
use crate::telephony::simulator::{self, Simulator};
use crate::telephony::twilio::TwilioClient;
use crate::telephony::voice::{Telephony, Webhooks};
use crate::testcall::TestCalls;
use crate::writeback::Worker;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

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
    /// Last check-ins of `heartbeats:`, shared by the endpoint and the monitor.
    heartbeats: Arc<crate::heartbeat::Heartbeats>,
    /// How often the price backfill looks for calls due for a check.
    price_checks_every: Duration,
    /// One daemon per database: two would restore the same escalations and drain the
    /// spool twice.
    /// On PostgreSQL the store holds the database's lock itself.
    lock: Option<DaemonLock>,
}

impl App {
    pub async fn build(config: Config, clock: SharedClock) -> Result<App, AppError> {
        let (lock, store) = match &config.storage.postgres {
            Some(url) => (None, Store::open_postgres(url.expose_secret())?),
            None => (
                Some(DaemonLock::acquire(&config.storage.sqlite)?),
                Store::open(&config.storage.sqlite)?,
            ),
        };
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| AppError::Bind { addr, source })?;
        let local_url = crate::config::local_url(local);
        let speech = Arc::new(Speech::from_config(&config)?);
        let (telephony, auth_tokens, simulator) = telephony(&config, local, &store, &clock);
        let config = Arc::new(config);
        let calls = Arc::new(CallWebhooks {
            speech: speech.clone(),
            webhooks: telephony.webhooks.clone(),
            auth_tokens,
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
        let heartbeats = Arc::new(crate::heartbeat::Heartbeats::new(
            &config.heartbeats,
            clock.now(),
        ));
        let cluster = Arc::new(crate::cluster::Cluster::new(
            config.server.instance_url.clone().unwrap_or(local_url),
            lock.is_some(),
        ));
        let state = AppState {
            config,
            store,
            clock,
            runner: handle,
            calls,
            overrides,
            test_calls,
            telephony,
            cluster,
        };
        Ok(App {
            listener,
            state,
            runner,
            writeback,
            simulator,
            heartbeats,
            price_checks_every: crate::usage::prices::EVERY,
            lock,
        })
    }

    /// Looks for calls due for a price check every `every` instead of
    /// [`crate::usage::prices::EVERY`]: tests that move the clock need not wait.
    pub fn price_checks_every(mut self, every: Duration) -> Self {
        self.price_checks_every = every;
        self
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
        let lost = self.state.store.leadership_lost();
        // Every instance drains its host's spool, leading or not.
        let spool = tokio::spawn(crate::spool::run(self.state.clone(), stop.clone()));
        let loops = tokio::spawn(drive_when_leading(
            Loops {
                state: self.state.clone(),
                runner: self.runner,
                writeback: self.writeback,
                heartbeats: self.heartbeats.clone(),
                price_checks_every: self.price_checks_every,
            },
            stop.clone(),
        ));
        if self.simulator.is_some() {
            tracing::info!(
                "Telephony: the built-in simulator (no real calls). Script callees at /sim/phones."
            );
        }
        tracing::info!(%addr, instance = %self.state.cluster.instance, "kaden is listening.");
        let limits = self.state.config.server.limits;
        let until = {
            let lost = lost.clone();
            async move {
                tokio::select! {
                    _ = shutdown => {}
                    _ = lost.cancelled() => {}
                }
            }
        };
        crate::http::serve(
            self.listener,
            crate::http::router(self.state, self.simulator, self.heartbeats),
            limits,
            until,
        )
        .await;
        stop.cancel();
        let _ = loops.await;
        let _ = spool.await;
        tracing::info!("kaden stopped.");
        drop(self.lock);
        if lost.is_cancelled() {
            return Err(AppError::Store(StoreError::LeadershipLost {
                target: "storage.postgres".into(),
            }));
        }
        Ok(())
    }
}

/// What runs beside the listener while this instance leads.
struct Loops {
    state: AppState,
    runner: Runner,
    writeback: Worker,
    heartbeats: Arc<crate::heartbeat::Heartbeats>,
    price_checks_every: Duration,
}

/// Waits to lead (at once on SQLite), then runs the runner, the write-back worker, shift
/// notices, heartbeats, usage triggers and the price backfill until
/// `stop`.
async fn drive_when_leading(loops: Loops, stop: CancellationToken) {
    let Loops {
        state,
        runner,
        writeback,
        heartbeats,
        price_checks_every,
    } = loops;
    // On SQLite nobody else writes: the overrides read at start are current.
    let alone = state.cluster.leading();
    if !state.cluster.lead(&state.store, &stop).await {
        return;
    }
    if !alone {
        // Overrides added through another instance while this one waited. Read before
        // this one serves requests itself, so the read cannot undo an override added here.
        match state.store.overrides().await {
            Ok(fresh) => *state.overrides.write().expect("overrides lock") = fresh,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read schedule overrides; using those read at start.")
            }
        }
        state.cluster.serve_as_leader();
    }
    heartbeats.restart(state.clock.now());
    let runner = tokio::spawn(runner.run(stop.clone()));
    let writeback = tokio::spawn(writeback.run(stop.clone()));
    let notices = tokio::spawn(crate::shift_notice::run(state.clone(), stop.clone()));
    let heartbeats = tokio::spawn(crate::heartbeat::run(
        state.clone(),
        heartbeats,
        stop.clone(),
    ));
    let failover = {
        let (telephony, stop) = (state.telephony.clone(), stop.clone());
        tokio::spawn(async move { telephony.client.probe_until(stop).await })
    };
    let triggers = tokio::spawn(crate::usage::triggers::run(
        crate::usage::triggers::Watch {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            telephony: state.telephony.clone(),
        },
        stop.clone(),
    ));
    let prices = tokio::spawn(crate::usage::prices::run(
        crate::usage::prices::Backfill {
            store: state.store.clone(),
            clock: state.clock.clone(),
            telephony: state.telephony.clone(),
            every: price_checks_every,
        },
        stop.clone(),
    ));
    let _ = runner.await;
    let _ = writeback.await;
    let _ = notices.await;
    let _ = heartbeats.await;
    let _ = failover.await;
    let _ = triggers.await;
    let _ = prices.await;
}

/// The REST client of one configured Twilio account (`kaden doctor` checks it too).
pub fn twilio_client(t: &TwilioConfig) -> TwilioClient {
    TwilioClient::new(
        &t.api_base,
        &t.account_sid,
        t.auth_token.clone(),
        t.from.as_str(),
        t.machine_detection,
        t.calls_per_second,
    )
}

/// The Twilio client(s), the tokens webhooks are signed with, and the simulator if it is
/// used.
fn telephony(
    config: &Config,
    local: SocketAddr,
    store: &Store,
    clock: &SharedClock,
) -> (Telephony, Vec<SecretString>, Option<Simulator>) {
    let local_url = crate::config::local_url(local);
    let webhook_base = config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| local_url.clone());
    match &config.telephony.provider {
        Provider::Twilio(t) => {
            let mut tokens = vec![t.auth_token.clone()];
            let client = match &config.telephony.fallback {
                Some(f) => {
                    tokens.push(f.twilio.auth_token.clone());
                    Accounts::with_fallback(
                        twilio_client(t),
                        twilio_client(&f.twilio),
                        f.probe_every,
                        store.clone(),
                        clock.clone(),
                    )
                }
                None => Accounts::single(twilio_client(t)),
            };
            let telephony = Telephony {
                client,
                webhooks: Webhooks { base: webhook_base },
            };
            (telephony, tokens, None)
        }
        Provider::Simulator(s) => {
            // Without a configured token, a fresh one per run: nothing outside this process
            // can then sign webhooks or use the simulator's REST API.
            let token = match &s.auth_token {
                Some(token) => token.expose_secret().to_owned(),
                None => format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            };
            let sim = Simulator::new(token.clone(), s.phones.clone())
                .with_keypad(&config.keys)
                .with_clock(clock.clone());
            let client = TwilioClient::new(
                &format!("{local_url}/sim/twilio"),
                simulator::ACCOUNT_SID,
                SecretString::from(token.clone()),
                s.from.as_str(),
                s.machine_detection,
                10,
            );
            let telephony = Telephony {
                client: Accounts::single(client),
                webhooks: Webhooks { base: webhook_base },
            };
            (telephony, vec![SecretString::from(token)], Some(sim))
        }
    }
}
