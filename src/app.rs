//! Wiring: config + store + clock → a bound listener that serves until shutdown.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::Alert;
use crate::routing;
use crate::store::{Ingested, Store, StoreError};
use jiff::Timestamp;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
}

impl AppState {
    /// Routes and stores one alert, whatever its source. Returns once it is durable.
    pub async fn ingest(
        &self,
        alert: Alert,
        received_at: Timestamp,
    ) -> Result<Ingested, StoreError> {
        let call_setting = routing::route(&self.config.routes, &alert).cloned();
        let source = alert.source();
        let (key, kind) = (alert.key.clone(), alert.kind);
        let ingested = self
            .store
            .ingest(alert, call_setting.clone(), received_at)
            .await?;
        tracing::info!(
            alert_id = %ingested.alert_id,
            incident_id = ingested.incident_id.map(|i| i.get()),
            source = %source,
            key = %key,
            kind = kind.as_str(),
            call_setting = call_setting.as_ref().map(|c| c.as_str()),
            outcome = ?ingested.outcome,
            "Alert stored."
        );
        if call_setting.is_none() && kind == crate::domain::AlertKind::Problem {
            tracing::warn!(alert_id = %ingested.alert_id, source = %source, key = %key,
                "No route matches this alert; it is kept as unrouted and nobody is called.");
        }
        Ok(ingested)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}; is another kaden running, or is the port taken?")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// A daemon whose listener is already bound: `port()` is known before `run`.
pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    pub async fn build(config: Config, clock: SharedClock) -> Result<App, AppError> {
        let store = Store::open(&config.storage.sqlite)?;
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind { addr, source })?;
        let state = AppState {
            config: Arc::new(config),
            store,
            clock,
        };
        Ok(App { listener, state })
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
        tracing::info!(%addr, "kaden is listening.");
        axum::serve(self.listener, crate::http::router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(AppError::Serve)?;
        tracing::info!("kaden stopped.");
        Ok(())
    }
}
