//! Serving requests: the state every HTTP handler and the spool drain reach, and the one
//! ingest path an alert takes from any source to the store and the runner.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::{CallSettingId, Delivery};
use crate::routing;
use crate::runner::{RunnerHandle, SharedOverrides};
use crate::speech::Speech;
use crate::store::{Ingested, Store, StoreError};
use crate::telephony::voice::{Telephony, Webhooks};
use crate::testcall::TestCalls;
use jiff::Timestamp;
use secrecy::SecretString;
use std::sync::Arc;

/// What the Twilio webhooks need: the words, the URLs, the tokens signatures are made
/// with (the primary account's, and the fallback's: its calls' callbacks are signed with
/// its own token).
pub struct CallWebhooks {
    pub speech: Arc<Speech>,
    pub webhooks: Webhooks,
    pub auth_tokens: Vec<SecretString>,
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
    /// Whether this instance leads, and how to reach the one that does.
    pub cluster: Arc<crate::cluster::Cluster>,
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
        let call_setting =
            routing::route(&self.config.routes, &delivery.alert, received_at).cloned();
        self.ingest_to(delivery, call_setting, received_at).await
    }

    /// [`AppState::ingest`] with the call setting already chosen (`None`: unrouted):
    /// heartbeats name theirs and bypass the routes.
    pub async fn ingest_to(
        &self,
        delivery: Delivery,
        call_setting: Option<CallSettingId>,
        received_at: Timestamp,
    ) -> Result<Ingested, StoreError> {
        let alert = delivery.alert.clone();
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
