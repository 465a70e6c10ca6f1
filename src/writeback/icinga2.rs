//! Icinga 2 write-back through its REST API: `acknowledge-problem` and
//! `schedule-downtime`, always naming the one object (an action without a filter hits
//! every object). Each per-object result is checked, not just the HTTP status.

use super::{AppliedFuture, CheckFuture, WriteError, WriteFuture, Writer};
use crate::clock::SharedClock;
use crate::config::Icinga2Config;
use crate::domain::SourceRef;
use crate::store::{PendingWriteBack, WriteBackAction};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::time::Duration;

pub struct Icinga2 {
    http: Result<reqwest::Client, String>,
    api_url: String,
    username: String,
    password: SecretString,
    clock: SharedClock,
}

impl Icinga2 {
    pub fn new(config: &Icinga2Config, clock: SharedClock) -> Self {
        Icinga2 {
            http: client(config),
            api_url: config.api_url.clone(),
            username: config.username.clone(),
            password: config.password.clone(),
            clock,
        }
    }
}

/// TLS with the configured CA, or without verification only when `insecure` says so.
fn client(config: &Icinga2Config) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(15));
    if let Some(ca) = &config.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| format!("cannot read sources.icinga2.ca_file {}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            format!(
                "sources.icinga2.ca_file {} is not a PEM certificate: {e}",
                ca.display()
            )
        })?;
        builder = builder.add_root_certificate(cert);
    }
    if config.insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the Icinga 2 client: {e}"))
}

impl Writer for Icinga2 {
    fn write<'a>(&'a self, item: &'a PendingWriteBack, message: &'a str) -> WriteFuture<'a> {
        Box::pin(async move {
            let http = self
                .http
                .as_ref()
                .map_err(|e| WriteError::Refused(e.clone()))?;
            let SourceRef::Icinga2 { object } = &item.source_ref else {
                return Err(WriteError::Refused("not an Icinga 2 alert".into()));
            };
            let author = item.by.author();
            let mut body = if object.contains('!') {
                json!({ "type": "Service", "service": object })
            } else {
                json!({ "type": "Host", "host": object })
            };
            let (action, extra) = match item.action {
                WriteBackAction::Acknowledge => (
                    "acknowledge-problem",
                    json!({ "sticky": true, "notify": false }),
                ),
                WriteBackAction::Downtime { minutes } => {
                    let start = self.clock.now().as_second();
                    (
                        "schedule-downtime",
                        json!({ "start_time": start, "end_time": start + i64::from(minutes) * 60, "fixed": true }),
                    )
                }
            };
            body["author"] = author.into();
            body["comment"] = message.into();
            for (k, v) in extra.as_object().into_iter().flatten() {
                body[k] = v.clone();
            }
            let response = http
                .post(format!("{}/v1/actions/{action}", self.api_url))
                .basic_auth(&self.username, Some(self.password.expose_secret()))
                .header("Accept", "application/json")
                .json(&body)
                .send()
                .await
                .map_err(|e| WriteError::Retry(unreachable(&self.api_url, &e)))?;
            let status = response.status();
            let answer: Value = response.json().await.unwrap_or_default();
            judge(status.as_u16(), &answer)
        })
    }

    /// `GET /v1` with the API user's credentials.
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let http = self.http.as_ref().map_err(Clone::clone)?;
            let response = http
                .get(format!("{}/v1", self.api_url))
                .basic_auth(&self.username, Some(self.password.expose_secret()))
                .header("Accept", "application/json")
                .send()
                .await
                .map_err(|e| format!("Icinga 2 unreachable at {}: {e}", self.api_url))?;
            match response.status().as_u16() {
                200..=299 => Ok(format!("{} accepts user {}", self.api_url, self.username)),
                401 => Err(format!(
                    "Icinga 2 refused user {}: check sources.icinga2.username and password",
                    self.username
                )),
                status => Err(format!("Icinga 2 answered {status}")),
            }
        })
    }

    /// The object's `acknowledgement` (non-zero when acknowledged) or `downtime_depth`.
    fn applied<'a>(&'a self, item: &'a PendingWriteBack) -> AppliedFuture<'a> {
        Box::pin(async move {
            let http = self
                .http
                .as_ref()
                .map_err(|e| WriteError::Refused(e.clone()))?;
            let SourceRef::Icinga2 { object } = &item.source_ref else {
                return Err(WriteError::Refused("not an Icinga 2 alert".into()));
            };
            let kind = if object.contains('!') {
                "services"
            } else {
                "hosts"
            };
            let mut url = reqwest::Url::parse(&self.api_url)
                .map_err(|e| WriteError::Refused(format!("sources.icinga2.api_url: {e}")))?;
            url.path_segments_mut()
                .map_err(|_| {
                    WriteError::Refused("sources.icinga2.api_url cannot take a path".into())
                })?
                .pop_if_empty()
                .extend(["v1", "objects", kind, object]);
            let response = http
                .get(url)
                .query(&[("attrs", "acknowledgement"), ("attrs", "downtime_depth")])
                .basic_auth(&self.username, Some(self.password.expose_secret()))
                .header("Accept", "application/json")
                .send()
                .await
                .map_err(|e| WriteError::Retry(unreachable(&self.api_url, &e)))?;
            let answer: Value = response.json().await.unwrap_or_default();
            let attr = |name: &str| answer["results"][0]["attrs"][name].as_f64().unwrap_or(0.0);
            Ok(match item.action {
                WriteBackAction::Acknowledge => attr("acknowledgement") > 0.0,
                WriteBackAction::Downtime { .. } => attr("downtime_depth") > 0.0,
            })
        })
    }
}

/// Why a request never got an answer, in terms of what to fix: the certificate's name,
/// the CA, the address. reqwest's own text is "error sending request"; the cause is at
/// the bottom of its source chain (rustls or the OS), which names no secret.
fn unreachable(api_url: &str, error: &reqwest::Error) -> String {
    let server = reqwest::Url::parse(api_url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| api_url.to_owned());
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let cause = cause.to_string();
    let why = if cause.contains("not valid for name") || cause.contains("NotValidForName") {
        "TLS: its certificate does not name the host in sources.icinga2.api_url; Icinga's \
         certificates name the node (NodeName), so use that name, not an IP address"
    } else if cause.contains("Expired") {
        "TLS: its certificate has expired or is not yet valid (check both clocks)"
    } else if cause.contains("certificate") {
        "TLS: its certificate is not trusted; set sources.icinga2.ca_file to Icinga's CA \
         (/var/lib/icinga2/certs/ca.crt on the Icinga node)"
    } else if error.is_timeout() {
        "no answer within 15 s"
    } else if cause.contains("onnection refused") {
        "connection refused: is Icinga 2 running there with the api feature enabled?"
    } else if cause.contains("lookup") || cause.contains("resolve") {
        "its name does not resolve"
    } else {
        "network error"
    };
    format!("Icinga 2 at {server} unreachable: {why} ({cause})")
}

/// Every per-object result must be 200, or 409 "already acknowledged" (done before).
fn judge(status: u16, answer: &Value) -> Result<(), WriteError> {
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    if results.is_empty() {
        let said = answer["status"].as_str().unwrap_or("no results");
        let why = match status {
            401 => format!(
                "Icinga 2 refused the login (401: {said}); check sources.icinga2.username and \
                 password against the ApiUser"
            ),
            403 => format!(
                "Icinga 2 denied permission (403: {said}); the ApiUser needs \
                 actions/acknowledge-problem and actions/schedule-downtime"
            ),
            _ => format!("Icinga 2 answered {status}: {said}"),
        };
        return Err(if status == 503 || status >= 500 {
            WriteError::Retry(why)
        } else {
            WriteError::Refused(why)
        });
    }
    for r in &results {
        let code = r["code"].as_f64().unwrap_or(0.0) as u16;
        let text = r["status"].as_str().unwrap_or_default();
        match code {
            200..=299 => {}
            409 if text.contains("already acknowledged") => {}
            503 => return Err(WriteError::Retry(format!("Icinga 2: {text}"))),
            _ => return Err(WriteError::Refused(format!("Icinga 2 ({code}): {text}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_object_results_decide() {
        let ok = json!({ "results": [{ "code": 200.0, "status": "Successfully acknowledged problem for object 'web01!HTTP'." }] });
        assert!(judge(200, &ok).is_ok());
        let again = json!({ "results": [{ "code": 409.0, "status": "Service 'web01!HTTP' is already acknowledged." }] });
        assert!(judge(409, &again).is_ok());
        let recovered =
            json!({ "results": [{ "code": 409.0, "status": "Service 'web01!HTTP' is OK." }] });
        assert!(
            matches!(judge(409, &recovered), Err(WriteError::Refused(m)) if m.contains("is OK"))
        );
        let reloading = json!({ "results": [{ "code": 503.0, "status": "Icinga is reloading." }] });
        assert!(matches!(judge(503, &reloading), Err(WriteError::Retry(_))));
        assert!(matches!(
            judge(404, &json!({ "error": 404, "status": "No objects found." })),
            Err(WriteError::Refused(_))
        ));
        assert!(matches!(judge(500, &json!({})), Err(WriteError::Retry(_))));
    }

    #[test]
    fn login_and_permission_failures_say_what_to_fix() {
        let denied =
            json!({ "error": 401, "status": "Unauthorized. Please check your user credentials." });
        assert!(
            matches!(judge(401, &denied), Err(WriteError::Refused(m)) if m.contains("login") && m.contains("username"))
        );
        let forbidden = json!({ "error": 403, "status": "No permission to access object." });
        assert!(
            matches!(judge(403, &forbidden), Err(WriteError::Refused(m)) if m.contains("permission") && m.contains("actions/acknowledge-problem"))
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_named_as_refused() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("https://127.0.0.1:{port}");
        let error = reqwest::Client::new().get(&url).send().await.unwrap_err();
        let text = unreachable(&url, &error);
        assert!(
            text.starts_with(&format!(
                "Icinga 2 at 127.0.0.1:{port} unreachable: connection refused"
            )),
            "{text}"
        );
    }
}
