//! The CLI's side of the API: commands that ask the running daemon, which owns the
//! database and the calls.

use crate::cli::load_config;
use crate::store::{CallView, IncidentSummary};
use crate::telephony::simulator::{Behaviour, SimCall};
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::path::Path;

/// The daemon named by a config file: its address and first API token.
pub struct Daemon {
    base: String,
    token: Option<SecretString>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Daemon {
    pub fn from_config(path: &Path) -> anyhow::Result<Daemon> {
        let config = load_config(path)?;
        Ok(Daemon {
            base: crate::config::local_url(config.server.listen),
            token: config.server.api_tokens.into_iter().next(),
            http: reqwest::Client::new(),
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

    pub fn incidents(&self, status: Option<&str>) -> anyhow::Result<()> {
        let query = status.map(|s| format!("?status={s}")).unwrap_or_default();
        let incidents: Vec<IncidentSummary> = self.get(&format!("/api/v1/incidents{query}"))?;
        println!(
            "{:>6}  {:<10}  {:<16}  {:>8}  OPENED",
            "ID", "STATUS", "CALL SETTING", "PROBLEMS"
        );
        for i in incidents {
            println!(
                "{:>6}  {:<10}  {:<16}  {:>3}/{:<4}  {}",
                i.id,
                i.status,
                i.call_setting.as_deref().unwrap_or("(unrouted)"),
                i.open_problems,
                i.problems,
                i.opened_at
            );
        }
        Ok(())
    }

    pub fn calls(&self, incident: Option<i64>) -> anyhow::Result<()> {
        let query = incident
            .map(|i| format!("?incident={i}"))
            .unwrap_or_default();
        let calls: Vec<CallView> = self.get(&format!("/api/v1/calls{query}"))?;
        println!(
            "{:<8}  {:<30}  {:<12}  {:<14}  {:<14}  {:<10}  ACKNOWLEDGED",
            "CALL", "PLACED", "USER", "PHONE", "OUTCOME", "KEYS"
        );
        for c in calls {
            println!(
                "{:<8}  {:<30}  {:<12}  {:<14}  {:<14}  {:<10}  {}",
                c.id,
                c.placed_at,
                c.user,
                c.phone,
                c.outcome.as_deref().unwrap_or("(on the line)"),
                c.keys.join(" "),
                c.acknowledged.join(", ")
            );
        }
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

    pub fn oncall(
        &self,
        schedule: Option<&str>,
        at: Option<&str>,
        next: usize,
    ) -> anyhow::Result<()> {
        let mut query = vec![("next", next.to_string())];
        query.extend(schedule.map(|s| ("schedule", s.to_owned())));
        query.extend(at.map(|a| ("at", a.to_owned())));
        let url = format!("{}/api/v1/oncall", self.base);
        let answer: Vec<serde_json::Value> = self.send(self.http.get(url).query(&query))?;
        let person = |v: &serde_json::Value| match (v["name"].as_str(), v["user"].as_str()) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            (None, Some(id)) => id.to_owned(),
            _ => "nobody".to_owned(),
        };
        for s in answer {
            println!(
                "{}: {} until {}",
                s["schedule"].as_str().unwrap_or_default(),
                person(&s["now"]),
                s["now"]["end"].as_str().unwrap_or("?")
            );
            for next in s["next"].as_array().into_iter().flatten() {
                println!(
                    "    then {} from {}",
                    person(next),
                    next["start"].as_str().unwrap_or("?")
                );
            }
        }
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
