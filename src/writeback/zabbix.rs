//! Zabbix write-back through its JSON-RPC API: `event.acknowledge` (acknowledge + message)
//! for 9#/3#; for 4#, a maintenance period for the host on 6.0 (which has no suppress),
//! `event.acknowledge` with suppress from 6.2 on. The version decides the auth style:
//! the `auth` member before 6.4, the Bearer header from 6.4.

use super::{AppliedFuture, CheckFuture, WriteError, WriteFuture, Writer};
use crate::clock::SharedClock;
use crate::config::{ZabbixAuth, ZabbixConfig};
use crate::domain::SourceRef;
use crate::store::{PendingWriteBack, WriteBackAction};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::Mutex;

/// `acknowledges.message` is varchar(2048) in 6.0.
const MESSAGE_LIMIT: usize = 2048;
/// `event.acknowledge` action bits.
const ACKNOWLEDGE: u32 = 2;
const MESSAGE: u32 = 4;
const SUPPRESS: u32 = 32;

pub struct Zabbix {
    http: reqwest::Client,
    api_url: String,
    auth: ZabbixAuth,
    clock: SharedClock,
    session: Mutex<Session>,
}

/// What is learned from the API once and reused.
#[derive(Default)]
struct Session {
    /// (major, minor), from apiinfo.version.
    version: Option<(u32, u32)>,
    /// From user.login, when logging in with a password.
    id: Option<String>,
}

enum RpcError {
    /// Transport trouble: retry.
    Unreachable(String),
    /// Zabbix answered with an error object.
    Refused(String),
}

impl From<RpcError> for WriteError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::Unreachable(m) => WriteError::Retry(m),
            RpcError::Refused(m) => WriteError::Refused(m),
        }
    }
}

impl Zabbix {
    pub fn new(config: &ZabbixConfig, clock: SharedClock) -> Self {
        Zabbix {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("a reqwest client with rustls always builds"),
            api_url: config.api_url.clone(),
            auth: config.auth.clone(),
            clock,
            session: Mutex::new(Session::default()),
        }
    }

    async fn rpc(
        &self,
        method: &str,
        params: Value,
        credential: Option<(&str, bool)>,
    ) -> Result<Value, RpcError> {
        let mut body = json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": 1 });
        let mut request = self
            .http
            .post(&self.api_url)
            .header("Content-Type", "application/json-rpc");
        match credential {
            Some((token, true)) => request = request.bearer_auth(token),
            Some((token, false)) => body["auth"] = token.into(),
            None => {}
        }
        let response = request.json(&body).send().await.map_err(|e| {
            RpcError::Unreachable(format!("Zabbix API unreachable: {}", e.without_url()))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(RpcError::Unreachable(format!(
                "Zabbix API answered HTTP {status}"
            )));
        }
        let answer: Value = response
            .json()
            .await
            .map_err(|e| RpcError::Unreachable(format!("Zabbix API answer unreadable: {e}")))?;
        match answer.get("error") {
            Some(error) => Err(RpcError::Refused(format!(
                "Zabbix {method}: {} {}",
                error["message"].as_str().unwrap_or(""),
                error["data"].as_str().unwrap_or("")
            ))),
            None => Ok(answer["result"].clone()),
        }
    }

    /// The credential to send, and whether it goes in the Bearer header.
    async fn credential(&self) -> Result<(String, bool), RpcError> {
        let mut session = self.session.lock().await;
        let version = match session.version {
            Some(v) => v,
            None => {
                let text = self.rpc("apiinfo.version", json!({}), None).await?;
                let text = text.as_str().unwrap_or("0.0");
                let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                session.version = Some(v);
                v
            }
        };
        let bearer = version >= (6, 4);
        let token = match &self.auth {
            ZabbixAuth::Token(token) => token.expose_secret().to_owned(),
            ZabbixAuth::Password { username, password } => {
                match &session.id {
                    Some(id) => id.clone(),
                    None => {
                        let id = self
                        .rpc("user.login", json!({ "username": username, "password": password.expose_secret() }), None)
                        .await?;
                        let id = id.as_str().unwrap_or_default().to_owned();
                        session.id = Some(id.clone());
                        id
                    }
                }
            }
        };
        Ok((token, bearer))
    }

    /// Calls `method`; a session that expired is renewed once.
    async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let (token, bearer) = self.credential().await?;
        match self
            .rpc(method, params.clone(), Some((&token, bearer)))
            .await
        {
            Err(RpcError::Refused(m))
                if matches!(self.auth, ZabbixAuth::Password { .. })
                    && (m.contains("Session terminated") || m.contains("Not authorized")) =>
            {
                self.session.lock().await.id = None;
                let (token, bearer) = self.credential().await?;
                self.rpc(method, params, Some((&token, bearer))).await
            }
            other => other,
        }
    }

    async fn version(&self) -> (u32, u32) {
        self.session.lock().await.version.unwrap_or((0, 0))
    }
}

impl Writer for Zabbix {
    fn write<'a>(&'a self, item: &'a PendingWriteBack, message: &'a str) -> WriteFuture<'a> {
        Box::pin(async move {
            let SourceRef::Zabbix { event_id } = &item.source_ref else {
                return Err(WriteError::Refused("not a Zabbix alert".into()));
            };
            let message: String = message.chars().take(MESSAGE_LIMIT).collect();
            match item.action {
                WriteBackAction::Acknowledge => {
                    let action = ACKNOWLEDGE | MESSAGE;
                    self.call("event.acknowledge", json!({ "eventids": event_id.to_string(), "action": action, "message": message }))
                        .await?;
                }
                WriteBackAction::Downtime { minutes } => {
                    let now = self.clock.now().as_second();
                    let until = now + i64::from(minutes) * 60;
                    self.credential().await?;
                    if self.version().await >= (6, 2) {
                        let action = ACKNOWLEDGE | MESSAGE | SUPPRESS;
                        let params = json!({ "eventids": event_id.to_string(), "action": action, "message": message, "suppress_until": until });
                        self.call("event.acknowledge", params).await?;
                    } else {
                        let hosts = self
                            .call(
                                "host.get",
                                json!({ "output": ["hostid"], "filter": { "name": [item.host] } }),
                            )
                            .await?;
                        let hostid = hosts[0]["hostid"]
                            .as_str()
                            .ok_or_else(|| {
                                WriteError::Refused(format!(
                                    "Zabbix has no host named {:?}",
                                    item.host
                                ))
                            })?
                            .to_owned();
                        let params = json!({
                            "name": maintenance_name(*event_id, &now.to_string()),
                            "active_since": now, "active_till": until, "hostids": [hostid],
                            "description": message,
                            "timeperiods": [{ "timeperiod_type": 0, "start_date": now, "period": until - now }],
                        });
                        self.call("maintenance.create", params).await?;
                    }
                }
            }
            Ok(())
        })
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(self.checked())
    }

    /// `event.get`: the event is acknowledged; for a downtime, a suppressing
    /// acknowledgement (6.2+) or kaden's maintenance for the event (6.0).
    fn applied<'a>(&'a self, item: &'a PendingWriteBack) -> AppliedFuture<'a> {
        Box::pin(async move {
            let SourceRef::Zabbix { event_id } = &item.source_ref else {
                return Err(WriteError::Refused("not a Zabbix alert".into()));
            };
            self.credential().await?;
            if let WriteBackAction::Downtime { .. } = item.action
                && self.version().await < (6, 2)
            {
                let found = self
                    .call(
                        "maintenance.get",
                        json!({ "output": ["maintenanceid"], "search": { "name": maintenance_name(*event_id, "") }, "startSearch": true }),
                    )
                    .await?;
                return Ok(found.as_array().is_some_and(|m| !m.is_empty()));
            }
            let events = self
                .call(
                    "event.get",
                    json!({ "eventids": event_id.to_string(), "output": ["acknowledged"], "select_acknowledges": ["action"] }),
                )
                .await?;
            let event = &events[0];
            Ok(match item.action {
                WriteBackAction::Acknowledge => event["acknowledged"] == "1",
                WriteBackAction::Downtime { .. } => event["acknowledges"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a["action"].as_str()?.parse::<u32>().ok())
                    .any(|action| action & SUPPRESS != 0),
            })
        })
    }
}

impl Zabbix {
    async fn checked(&self) -> Result<String, String> {
        let why = |e: RpcError| match e {
            RpcError::Unreachable(m) | RpcError::Refused(m) => m,
        };
        self.credential().await.map_err(why)?;
        self.call("host.get", json!({ "output": ["hostid"], "limit": 1 }))
            .await
            .map_err(why)?;
        let (major, minor) = self.version().await;
        Ok(format!(
            "{} answers (Zabbix {major}.{minor}) and logs in",
            self.api_url
        ))
    }
}

/// kaden's maintenance for one event; `event.get` finds it by this prefix.
fn maintenance_name(event_id: u64, at: &str) -> String {
    format!("kaden: event {event_id} at {at}")
}
