//! Mackerel has no acknowledge, only memo and close: kaden writes a memo on the alert
//! saying who acknowledged and when, and closes it only when `close_on_ack` is set.

use super::{AppliedFuture, CheckFuture, WriteError, WriteFuture, Writer};
use crate::config::MackerelConfig;
use crate::domain::SourceRef;
use crate::store::{PendingWriteBack, WriteBackAction};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::time::Duration;

pub struct Mackerel {
    http: reqwest::Client,
    api_base: String,
    api_key: SecretString,
    close_on_ack: bool,
}

impl Mackerel {
    pub fn new(config: &MackerelConfig) -> Self {
        Mackerel {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("a reqwest client with rustls always builds"),
            api_base: config.api_base.clone(),
            api_key: config.api_key.clone(),
            close_on_ack: config.close_on_ack,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(), WriteError> {
        let response = request
            .header("X-Api-Key", self.api_key.expose_secret())
            .send()
            .await
            .map_err(|e| WriteError::Retry(format!("Mackerel unreachable: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let detail = body["error"]["message"].as_str().unwrap_or("").to_owned();
        let error = format!("Mackerel answered {status}: {detail}");
        if status.as_u16() == 429 || status.is_server_error() {
            Err(WriteError::Retry(error))
        } else {
            Err(WriteError::Refused(error))
        }
    }
}

impl Writer for Mackerel {
    fn write<'a>(&'a self, item: &'a PendingWriteBack, message: &'a str) -> WriteFuture<'a> {
        Box::pin(async move {
            let SourceRef::Mackerel { alert_id } = &item.source_ref else {
                return Err(WriteError::Refused("not a Mackerel alert".into()));
            };
            if let WriteBackAction::Downtime { .. } = item.action {
                return Err(WriteError::Refused(
                    "Mackerel downtime is not written by kaden; set a downtime in Mackerel".into(),
                ));
            }
            let url = format!("{}/api/v0/alerts/{alert_id}", self.api_base);
            self.send(self.http.put(&url).json(&json!({ "memo": message })))
                .await?;
            if self.close_on_ack {
                self.send(
                    self.http
                        .post(format!("{url}/close"))
                        .json(&json!({ "reason": message })),
                )
                .await?;
            }
            Ok(())
        })
    }

    /// `GET /api/v0/org` with the key.
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            self.send(self.http.get(format!("{}/api/v0/org", self.api_base)))
                .await
                .map(|()| format!("{} accepts the API key", self.api_base))
                .map_err(|e| e.to_string())
        })
    }

    /// Mackerel's API does not return the memo; writing it again sets the same text, so
    /// sending again leaves the alert as one write would.
    fn applied<'a>(&'a self, _item: &'a PendingWriteBack) -> AppliedFuture<'a> {
        Box::pin(async { Ok(false) })
    }
}
