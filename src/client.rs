//! The CLI's side of the API: commands that ask the running daemon, which owns the
//! database and the calls.

use crate::display::{local_time, table};
use crate::store::{CallView, IncidentSummary};
use crate::telephony::simulator::{Behaviour, SimCall};
use crate::testcall::{Stage, TestCall};
use anyhow::Context;
use jiff::tz::TimeZone;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

/// The daemon named by a config file: its address and first API token.
pub struct Daemon {
    base: String,
    token: Option<SecretString>,
    /// `locale.timezone`, for the times people read.
    zone: TimeZone,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

/// An HTTP client for the daemon on this host: plain HTTP to loopback, so it loads no
/// TLS root certificates (reading the system's store is most of a notification
/// command's start-up).
pub fn loopback_client(timeout: Option<std::time::Duration>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().tls_certs_only([]);
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.build().context("cannot set up the HTTP client")
}

/// `yamada (phone 9#)`, `ops (api)`, `(source)`: who acknowledged and how.
fn acknowledger(by: &serde_json::Value) -> String {
    let via = by["via"].as_str().unwrap_or("?");
    let how = match by["key"].as_str() {
        Some(key) => format!("{via} {key}"),
        None => via.to_owned(),
    };
    match by["user"].as_str() {
        Some(user) => format!("{user} ({how})"),
        None => format!("({how})"),
    }
}

impl Daemon {
    /// The daemon `config` describes (the CLI loads the config).
    pub fn new(config: crate::config::Config) -> anyhow::Result<Daemon> {
        Ok(Daemon {
            base: crate::config::local_url(config.server.listen),
            token: config.server.api_tokens.into_iter().next(),
            zone: config.locale.timezone,
            http: loopback_client(None)?,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?,
        })
    }

    fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> anyhow::Result<T> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token.expose_secret()),
            None => request,
        };
        self.runtime.block_on(async {
            let response = request.send().await.with_context(|| {
                format!(
                    "cannot reach the kaden daemon at {}; is `kaden serve` running?",
                    self.base
                )
            })?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if !status.is_success() {
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned))
                    .unwrap_or(text);
                anyhow::bail!("the daemon answered {status}: {message}");
            }
            let text = if text.is_empty() {
                "null".to_owned()
            } else {
                text
            };
            serde_json::from_str(&text)
                .context("the daemon's answer is not what this kaden expects")
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// Prints the API's JSON as it is, for scripts.
    fn print_json(&self, path: &str) -> anyhow::Result<()> {
        let value: serde_json::Value = self.get(path)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        Ok(())
    }

    pub fn incidents(&self, status: Option<&str>, json: bool) -> anyhow::Result<()> {
        let query = status.map(|s| format!("?status={s}")).unwrap_or_default();
        let path = format!("/api/v1/incidents{query}");
        if json {
            return self.print_json(&path);
        }
        let incidents: Vec<IncidentSummary> = self.get(&path)?;
        let rows: Vec<Vec<String>> = incidents
            .into_iter()
            .map(|i| {
                let by = i
                    .acknowledged_by
                    .as_ref()
                    .map(acknowledger)
                    .unwrap_or_default();
                vec![
                    i.id.to_string(),
                    i.status,
                    i.severity,
                    format!("{}/{}", i.open_problems, i.problems),
                    local_time(&i.opened_at, &self.zone),
                    by,
                    i.call_setting.unwrap_or_else(|| "(unrouted)".into()),
                    i.title,
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &[
                    "ID",
                    "STATUS",
                    "SEVERITY",
                    "OPEN",
                    "OPENED",
                    "ACKNOWLEDGED BY",
                    "CALL SETTING",
                    "TITLE"
                ],
                &rows
            )
        );
        Ok(())
    }

    pub fn calls(&self, incident: Option<i64>, json: bool) -> anyhow::Result<()> {
        let query = incident
            .map(|i| format!("?incident={i}"))
            .unwrap_or_default();
        let path = format!("/api/v1/calls{query}");
        if json {
            return self.print_json(&path);
        }
        let calls: Vec<CallView> = self.get(&path)?;
        let rows: Vec<Vec<String>> = calls
            .into_iter()
            .map(|c| {
                vec![
                    c.id,
                    local_time(&c.placed_at, &self.zone),
                    c.user,
                    c.phone,
                    c.purpose,
                    c.outcome.unwrap_or_else(|| "(on the line)".into()),
                    c.keys.join(" "),
                    c.acknowledged.join(", "),
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &[
                    "CALL",
                    "PLACED",
                    "USER",
                    "PHONE",
                    "PURPOSE",
                    "OUTCOME",
                    "KEYS",
                    "ACKNOWLEDGED"
                ],
                &rows
            )
        );
        Ok(())
    }

    pub fn errors(&self, json: bool) -> anyhow::Result<()> {
        let path = "/api/v1/telephony/errors";
        if json {
            return self.print_json(path);
        }
        let errors: Vec<crate::store::TelephonyErrorView> = self.get(path)?;
        let rows: Vec<Vec<String>> = errors
            .into_iter()
            .map(|e| {
                vec![
                    local_time(&e.at, &self.zone),
                    e.code.to_string(),
                    e.seen,
                    e.call_id.unwrap_or_default(),
                    e.meaning.unwrap_or(e.message),
                    e.fix.unwrap_or_default(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(&["AT", "CODE", "SEEN", "CALL", "WHAT", "WHAT TO DO"], &rows)
        );
        Ok(())
    }

    pub fn ack(&self, incident: i64, by: &str) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/incidents/{incident}/ack", self.base);
        let _: serde_json::Value =
            self.send(self.http.post(url).json(&serde_json::json!({ "by": by })))?;
        println!(
            "Incident {incident}: acknowledged by {by}; calling stops and the write-back is queued."
        );
        Ok(())
    }

    pub fn add_override(
        &self,
        schedule: &str,
        user: &str,
        replaces: Option<&str>,
        from: &str,
        to: &str,
    ) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/schedules/{schedule}/overrides", self.base);
        let body =
            serde_json::json!({ "user": user, "replaces": replaces, "start": from, "end": to });
        let created: serde_json::Value = self.send(self.http.post(url).json(&body))?;
        println!("Override {} added to {schedule}.", created["id"]);
        Ok(())
    }

    pub fn overrides(&self, schedule: &str) -> anyhow::Result<()> {
        let list: Vec<crate::schedule::Override> =
            self.get(&format!("/api/v1/schedules/{schedule}/overrides"))?;
        for o in list {
            let instead = o
                .replaces
                .map(|r| format!(" instead of {r}"))
                .unwrap_or_default();
            println!("{:>4}  {}{instead}  {} → {}", o.id, o.user, o.start, o.end);
        }
        Ok(())
    }

    pub fn delete_override(&self, schedule: &str, id: i64) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/schedules/{schedule}/overrides/{id}", self.base);
        let _: serde_json::Value = self.send(self.http.delete(url))?;
        println!("Override {id} deleted.");
        Ok(())
    }

    /// Places a test call and follows it to its end; true when the callee pressed 1.
    pub fn test_call(&self, user: &str) -> anyhow::Result<bool> {
        let url = format!("{}/api/v1/test-calls", self.base);
        let started: TestCall = self.send(
            self.http
                .post(url)
                .json(&serde_json::json!({ "user": user })),
        )?;
        println!(
            "Test call {} to {} ({}).",
            started.id, started.user, started.phone
        );
        let mut last = started.stage;
        // A guard against a call that never reports its end, not a timing assertion.
        for _ in 0..180 {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let call: TestCall = self.get(&format!("/api/v1/test-calls/{}", started.id))?;
            if call.stage != last {
                println!("  {:?}", call.stage);
                last = call.stage.clone();
            }
            if call.stage.is_final() {
                let outcome = call.outcome.as_deref().unwrap_or("-");
                return Ok(match call.stage {
                    Stage::Confirmed => {
                        println!("Confirmed by {}: this number is reached.", call.user);
                        true
                    }
                    _ => {
                        println!("Not confirmed ({outcome}).");
                        false
                    }
                });
            }
        }
        anyhow::bail!("test call {} did not end within 3 minutes", started.id)
    }

    pub fn sim_phone(&self, number: &str, behaviour: &Behaviour) -> anyhow::Result<()> {
        let url = format!("{}/sim/phones/{number}", self.base);
        let _: serde_json::Value = self.send(self.http.put(url).json(behaviour))?;
        println!("{number}: {}", serde_json::to_string(behaviour)?);
        Ok(())
    }

    pub fn sim_calls(&self) -> anyhow::Result<()> {
        let calls: Vec<SimCall> = self.get("/sim/calls")?;
        for call in calls {
            let answered = call.answered_by.as_deref().unwrap_or("nobody");
            println!(
                "{} to {}: {} (answered by {answered}); keys {}",
                call.sid,
                call.to,
                call.status,
                call.keys.join(" ")
            );
            for said in &call.transcript {
                println!("    「{said}」");
            }
        }
        Ok(())
    }
}
