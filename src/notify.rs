//! Notification commands (`kaden nagios-notify`, `kaden zabbix-alert`): check one alert
//! with the daemon's own parser, then hand it to the local daemon over HTTP, or spool it
//! durably when the daemon is unreachable or will not take this command's token. Exit 0
//! only once the alert is safe; otherwise one clear line on stderr and a non-zero exit,
//! which the monitoring system shows and retries: 1 cannot spool, 2 the alert is invalid,
//! 3 the config is. They read only what they need of the config (`NotifySettings`), so
//! the monitoring system's user needs no secret but, at most, an ingest token.

use crate::clock::{Clock, SystemClock};
use crate::config::{self, NotifySettings, SystemSecrets};
use crate::domain::IdempotencyKey;
use crate::spool::{self, Spooled};
use secrecy::ExposeSecret;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The monitoring system waits on us: give up on the daemon quickly and spool.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(5);

enum Delivery {
    Accepted,
    /// The daemon said no: spooling would not help.
    Refused(String),
    /// The daemon could not be reached or failed: spool.
    Unreachable(String),
}

async fn post(settings: &NotifySettings, spooled: &Spooled) -> Delivery {
    if let Some(problem) = &settings.token_problem {
        return Delivery::Unreachable(format!("no token to post with ({problem})"));
    }
    let url = format!("{}/webhooks/{}", settings.daemon_url, spooled.source);
    let client = match crate::client::loopback_client(Some(DAEMON_TIMEOUT)) {
        Ok(c) => c,
        Err(e) => return Delivery::Unreachable(e.to_string()),
    };
    let mut request = client.post(&url).json(&spooled.body);
    if let Some(key) = &spooled.idempotency_key {
        request = request.header("Idempotency-Key", key.as_str());
    }
    if let Some(token) = &settings.token {
        request = request.bearer_auth(token.expose_secret());
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => Delivery::Accepted,
        // The daemon drains the spool without a token: a wrong or missing one loses nothing.
        Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => Delivery::Unreachable(
            "the daemon does not take this command's token (server.ingest_tokens)".into(),
        ),
        Ok(r) if r.status().is_client_error() => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let error = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(text);
            Delivery::Refused(format!("{status}: {error}"))
        }
        Ok(r) => Delivery::Unreachable(format!("the daemon answered {}", r.status())),
        Err(e) => Delivery::Unreachable(e.without_url().to_string()),
    }
}

/// Checks `body` for the `source` webhook, then delivers or spools it. Whatever is
/// spooled parses, so the daemon can always deliver it.
pub fn deliver(config_path: &Path, source: &str, body: serde_json::Value) -> ExitCode {
    let webhook =
        crate::sources::Webhook::named(source).expect("notification commands name a webhook");
    if let Err(e) = webhook.parse(body.to_string().as_bytes(), SystemClock.now()) {
        eprintln!("kaden: invalid alert, not sent: {e}");
        return ExitCode::from(2);
    }
    let settings = match config::notify_settings(config_path, &SystemSecrets) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("kaden: {e}");
            return ExitCode::from(3);
        }
    };
    // One key for every attempt: posted now, or drained from the spool after a crash that
    // lost the daemon's answer, the alert is stored once.
    let spooled = Spooled {
        source: source.to_owned(),
        body,
        idempotency_key: Some(IdempotencyKey::random()),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kaden: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(post(&settings, &spooled)) {
        Delivery::Accepted => ExitCode::SUCCESS,
        Delivery::Refused(why) => {
            eprintln!("kaden: the daemon refused the alert ({why})");
            ExitCode::from(2)
        }
        Delivery::Unreachable(why) => match spool::write(&settings.spool, &spooled) {
            Ok(path) => {
                eprintln!(
                    "kaden: daemon unreachable ({why}); alert spooled at {}",
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!(
                    "kaden: daemon unreachable ({why}) and cannot spool to {}: {e}",
                    settings.spool.display()
                );
                ExitCode::from(1)
            }
        },
    }
}
