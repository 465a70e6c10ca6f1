//! Logging: readable text by default, JSON lines with `--log-format json`. Filter with
//! `RUST_LOG` (default `info`). Field names are stable: incident_id, alert_id, source,
//! call_sid.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into a log file or journald.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    }
    .map_err(|e| anyhow::anyhow!(e))
}

/// Query parameters whose values are never logged. Matched without case, and as a part of
/// a longer name (`api_key`, `access_token`, `X-Signature`).
const SECRET_PARAMS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "auth",
    "signature",
    "sig",
    "session",
    "credential",
];

/// `uri` (a path or a URL, with an optional query) fit for a log line: a URL's
/// `user:password@` and the value of every secret-looking query parameter become `***`.
pub fn redact_uri(uri: &str) -> std::borrow::Cow<'_, str> {
    let mut head = String::new();
    let mut rest = uri;
    if let Some((scheme, after)) = uri.split_once("://") {
        let authority = &after[..after.find(['/', '?']).unwrap_or(after.len())];
        if let Some(at) = authority.rfind('@') {
            head = format!("{scheme}://***");
            rest = &after[at..];
        }
    }
    let Some((path, query)) = rest.split_once('?') else {
        return if head.is_empty() {
            uri.into()
        } else {
            (head + rest).into()
        };
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let lower = name.to_ascii_lowercase();
            if SECRET_PARAMS.iter().any(|s| lower.contains(s)) {
                format!("{name}=***")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{head}{path}?{}", redacted.join("&")).into()
}

#[cfg(test)]
mod tests {
    use super::redact_uri;

    #[test]
    fn secret_query_values_are_replaced() {
        assert_eq!(
            redact_uri("/webhooks/mackerel?token=s3cret&x=1&API_KEY=k&access_token"),
            "/webhooks/mackerel?token=***&x=1&API_KEY=***&access_token=***"
        );
        assert_eq!(
            redact_uri("/twilio/gather?call=12-3"),
            "/twilio/gather?call=12-3"
        );
        assert_eq!(redact_uri("/healthz"), "/healthz");
        assert_eq!(
            redact_uri("https://u:pw@k.example/twilio/voice?call=1&sig=x"),
            "https://***@k.example/twilio/voice?call=1&sig=***"
        );
        assert_eq!(redact_uri("http://u:pw@h:80/x"), "http://***@h:80/x");
    }
}
