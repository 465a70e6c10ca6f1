//! Alarms to the operator's own systems: a JSON POST to a webhook (chat, a mail gateway,
//! an incident tool), retried with backoff. Chat webhooks carry their key in the URL, so
//! logs and errors name only the scheme and host.

use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

const ATTEMPTS: u32 = 3;
/// Per attempt: a webhook that hangs must not hold up the next alarm for long.
const TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    /// The receiver answered 4xx (not 429): retrying cannot help.
    #[error("the webhook at {host} refused the alarm (HTTP {status})")]
    Refused { host: String, status: u16 },
    #[error("the webhook at {host} could not be reached after {ATTEMPTS} attempts: {reason}")]
    Unreachable { host: String, reason: String },
}

/// Posts alarms; cheap to clone.
#[derive(Clone)]
pub struct Webhook {
    http: reqwest::Client,
    first_backoff: Duration,
}

impl Default for Webhook {
    fn default() -> Self {
        Webhook::with_backoff(FIRST_BACKOFF)
    }
}

impl Webhook {
    /// Retries wait `first_backoff`, then twice that.
    pub fn with_backoff(first_backoff: Duration) -> Self {
        Webhook {
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .expect("a reqwest client with rustls always builds"),
            first_backoff,
        }
    }

    /// POSTs `body` as JSON to `url`; 2xx is delivered. 429, 5xx and network errors are
    /// retried, other refusals are not.
    pub async fn post(
        &self,
        url: &SecretString,
        body: &serde_json::Value,
    ) -> Result<(), AlarmError> {
        let url = url.expose_secret();
        let host = host_of(url);
        let mut backoff = self.first_backoff;
        let mut reason = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.http.post(url).json(body).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().as_u16() != 429 && !r.status().is_server_error() => {
                    return Err(AlarmError::Refused {
                        host,
                        status: r.status().as_u16(),
                    });
                }
                Ok(r) => reason = format!("HTTP {}", r.status().as_u16()),
                Err(e) => reason = e.without_url().to_string(),
            }
            if attempt < ATTEMPTS {
                tracing::warn!(%host, attempt, error = %reason, "Alarm webhook failed; retrying.");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(AlarmError::Unreachable { host, reason })
    }
}

/// `https://hooks.example.com` of a URL: the part that is safe to log.
fn host_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}", u.scheme(), u.host_str().unwrap_or(""))
        }
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn fast() -> Webhook {
        Webhook::with_backoff(Duration::from_millis(1))
    }

    #[tokio::test]
    async fn a_failing_webhook_is_retried_until_it_takes_the_alarm() {
        let server = MockServer::start().await;
        let body = serde_json::json!({ "trigger": "calls-per-hour", "value": 51 });
        Mock::given(method("POST"))
            .and(path("/hook/s3cr3t"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/hook/s3cr3t"))
            .and(body_json(&body))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
        let url = SecretString::from(format!("{}/hook/s3cr3t", server.uri()));
        fast().post(&url, &body).await.unwrap();
    }

    #[tokio::test]
    async fn errors_name_the_host_but_never_the_secret_path() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(404))
            .expect(1)
            .mount(&server)
            .await;
        let url = SecretString::from(format!("{}/hook/s3cr3t?token=k3y", server.uri()));
        let e = fast().post(&url, &serde_json::json!({})).await.unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, AlarmError::Refused { status: 404, .. }),
            "{text}"
        );
        assert!(text.contains(&server.uri()), "{text}");
        assert!(!text.contains("s3cr3t") && !text.contains("k3y"), "{text}");

        // Nothing listens on port 9 (discard) here: refused at once, three times.
        let gone = SecretString::from("http://127.0.0.1:9/hook/s3cr3t".to_owned());
        let e = fast()
            .post(&gone, &serde_json::json!({}))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, AlarmError::Unreachable { .. }), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
