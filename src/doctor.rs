//! `kaden doctor`: checks online what `check-config` cannot. One line per check, `ok` or
//! what to fix; the caller exits non-zero when any check failed.

use crate::clock::SystemClock;
use crate::config::{Config, Provider, TwilioConfig};
use std::sync::Arc;
use std::time::Duration;

/// What one check found.
pub struct Finding {
    pub what: String,
    pub result: Result<String, String>,
}

/// Runs every check that applies to `config`.
pub async fn run(config: &Config) -> Vec<Finding> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a reqwest client with rustls always builds");
    let mut found = Vec::new();
    let local = crate::config::local_url(config.server.listen);
    found.push(Finding {
        what: "daemon".into(),
        result: healthz(&http, &local)
            .await
            .map(|()| format!("{local} is up and its database commits")),
    });
    found.push(Finding {
        what: "telephony".into(),
        result: match &config.telephony.provider {
            Provider::Simulator(_) => Ok("the built-in simulator: nobody's phone rings (set telephony.provider: twilio to page people)".into()),
            Provider::Twilio(t) => check_account(t).await,
        },
    });
    if let Some(fallback) = &config.telephony.fallback {
        found.push(Finding {
            what: "telephony.fallback".into(),
            result: check_account(&fallback.twilio).await,
        });
    }
    let twilio = matches!(config.telephony.provider, Provider::Twilio(_));
    found.push(Finding {
        what: "public_url".into(),
        result: match &config.server.public_url {
            Some(url) => healthz(&http, url).await.map(|()| {
                format!("{url} reaches a kaden from this host (whether Twilio reaches it from the internet cannot be told from here)")
            }),
            None if twilio => Err("server.public_url is not set: Twilio cannot reach the call webhooks".into()),
            None => Ok("not set; the simulator calls back on the listen address".into()),
        },
    });
    let writers = crate::writeback::writers(
        config,
        &(Arc::new(SystemClock) as crate::clock::SharedClock),
    );
    let mut sources: Vec<_> = writers.into_iter().collect();
    sources.sort_by_key(|(source, _)| source.as_str());
    for (source, writer) in sources {
        found.push(Finding {
            what: format!("sources.{source}"),
            result: writer.check().await,
        });
    }
    found
}

async fn check_account(t: &TwilioConfig) -> Result<String, String> {
    crate::app::twilio_client(t).check_account().await
}

async fn healthz(http: &reqwest::Client, base: &str) -> Result<(), String> {
    let url = format!("{}/healthz", base.trim_end_matches('/'));
    match http.get(&url).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("{url} answered {}", r.status())),
        Err(e) => Err(format!("{url} does not answer: {}", e.without_url())),
    }
}
