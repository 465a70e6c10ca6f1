//! Notification commands (`kaden nagios-notify`, `kaden zabbix-alert`, and `kaden
//! heartbeat`, which checks in and spools nothing): check one alert
//! with the daemon's own parser, then hand it to the local daemon over HTTP, or spool it
//! durably when the daemon is unreachable or will not take this command's token. Exit 0
//! only once the alert is safe; otherwise one clear line on stderr and a non-zero exit,
//! which the monitoring system shows and retries: 1 cannot spool, 2 the alert is invalid,
//! 3 the config is. They read only what they need of the config (`NotifySettings`), so
//! the monitoring system's user needs no secret but, at most, an ingest token.

use crate::client::Loopback;
use crate::clock::{Clock, SystemClock};
use crate::config::{self, NotifySettings, SystemSecrets};
use crate::domain::IdempotencyKey;
use crate::spool::{self, Spooled};
use http::StatusCode;
use std::io::ErrorKind;
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

fn post(daemon: &Loopback, spooled: &Spooled) -> Delivery {
    let path = format!("/webhooks/{}", spooled.source);
    let key = spooled
        .idempotency_key
        .as_ref()
        .map(|key| ("Idempotency-Key", key.as_str()));
    match daemon.send("POST", &path, key.as_slice(), Some(&spooled.body)) {
        Ok(a) if a.status.is_success() => Delivery::Accepted,
        // The daemon drains the spool without a token: a wrong or missing one loses nothing.
        Ok(a) if a.status == StatusCode::UNAUTHORIZED => Delivery::Unreachable(
            "the daemon does not take this command's token (server.ingest_tokens)".into(),
        ),
        Ok(a) if a.status.is_client_error() => {
            Delivery::Refused(format!("{}: {}", a.status, a.error()))
        }
        Ok(a) => Delivery::Unreachable(format!("the daemon answered {}", a.status)),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Delivery::Unreachable(format!("no answer within {DAEMON_TIMEOUT:?}"))
        }
        Err(e) => Delivery::Unreachable(e.to_string()),
    }
}

fn settings(config_path: &Path) -> Result<NotifySettings, ExitCode> {
    config::notify_settings(config_path, &SystemSecrets).map_err(|e| {
        eprintln!("kaden: {e}");
        ExitCode::from(3)
    })
}

/// Checks in heartbeat `id`. Nothing is spooled: a check-in only says "alive now", and a
/// late one would hide that the daemon was away.
pub fn heartbeat(config_path: &Path, id: &str) -> ExitCode {
    let settings = match settings(config_path) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    if let Some(problem) = settings.token_problem {
        eprintln!("kaden: no token to check in with ({problem})");
        return ExitCode::from(3);
    }
    let daemon = Loopback::new(settings.daemon, settings.token, Some(DAEMON_TIMEOUT));
    let path = format!("/api/v1/heartbeats/{}", crate::client::segment(id));
    match daemon.send("POST", &path, &[], None) {
        Ok(a) if a.status.is_success() => {
            let answer: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
            match answer["recovery"]["outcome"].as_str() {
                Some(outcome) => println!("Heartbeat {id}: seen; recovery stored ({outcome})."),
                None => println!("Heartbeat {id}: seen."),
            }
            ExitCode::SUCCESS
        }
        Ok(a) => {
            eprintln!(
                "kaden: heartbeat {id} refused ({}: {})",
                a.status,
                a.error()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("kaden: heartbeat {id} not delivered: the daemon is unreachable ({e})");
            ExitCode::from(1)
        }
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
    let NotifySettings {
        daemon,
        token,
        token_problem,
        spool,
    } = match settings(config_path) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // One key for every attempt: posted now, or drained from the spool after a crash that
    // lost the daemon's answer, the alert is stored once.
    let spooled = Spooled {
        source: source.to_owned(),
        body,
        idempotency_key: Some(IdempotencyKey::random()),
    };
    let delivery = match token_problem {
        Some(problem) => Delivery::Unreachable(format!("no token to post with ({problem})")),
        None => post(
            &Loopback::new(daemon, token, Some(DAEMON_TIMEOUT)),
            &spooled,
        ),
    };
    match delivery {
        Delivery::Accepted => ExitCode::SUCCESS,
        Delivery::Refused(why) => {
            eprintln!("kaden: the daemon refused the alert ({why})");
            ExitCode::from(2)
        }
        Delivery::Unreachable(why) => match spool::write(&spool, &spooled) {
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
                    spool.display()
                );
                ExitCode::from(1)
            }
        },
    }
}
