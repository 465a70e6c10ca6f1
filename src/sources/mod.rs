//! Source adapters: each turns its system's payload into a [`crate::domain::Delivery`].

pub mod generic;
pub mod mackerel;
pub mod nagios;
pub mod zabbix;

use crate::domain::Delivery;
use serde::de::DeserializeOwned;

/// What a webhook body amounts to.
pub enum Event {
    Alert(Box<Delivery>),
    /// An event kaden does not act on (Mackerel's `alertGroup`, `hostStatus`, ...).
    Ignored(String),
}

/// The webhooks alerts come in by, each with its parser: the HTTP endpoints, the
/// notification commands (which validate before they send or spool) and the spool drain
/// all parse through this one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Webhook {
    Generic,
    Nagios,
    Zabbix,
    Mackerel,
}

impl Webhook {
    const ALL: [Webhook; 4] = [
        Webhook::Generic,
        Webhook::Nagios,
        Webhook::Zabbix,
        Webhook::Mackerel,
    ];

    /// The name in `/webhooks/{name}` and in the spool's `source`.
    pub fn name(self) -> &'static str {
        match self {
            Webhook::Generic => "generic",
            Webhook::Nagios => "nagios",
            Webhook::Zabbix => "zabbix",
            Webhook::Mackerel => "mackerel",
        }
    }

    /// Where the daemon takes this source's alerts.
    pub fn path(self) -> &'static str {
        match self {
            Webhook::Generic => "/api/v1/alerts",
            Webhook::Nagios => "/webhooks/nagios",
            Webhook::Zabbix => "/webhooks/zabbix",
            Webhook::Mackerel => "/webhooks/mackerel",
        }
    }

    pub fn named(name: &str) -> Option<Webhook> {
        Webhook::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Turns one body into an event; `received_at` stands in for a missing time.
    pub fn parse(self, body: &[u8], received_at: jiff::Timestamp) -> Result<Event, PayloadError> {
        let alert = |delivery| Event::Alert(Box::new(delivery));
        match self {
            Webhook::Generic => generic::parse(body, received_at).map(alert),
            Webhook::Nagios => nagios::parse(body, received_at).map(alert),
            Webhook::Zabbix => zabbix::parse(body, received_at).map(alert),
            Webhook::Mackerel => mackerel::parse(body, received_at),
        }
    }
}

/// Why a payload could not become an alert. The HTTP layer maps `Malformed` to 400 and
/// `Invalid` to 422.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
}

/// Reads exactly one JSON value: anything after it (`{...}xyz`, a second object) makes the
/// whole body malformed rather than silently ignored.
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, PayloadError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(PayloadError::classify)?;
    de.end()
        .map_err(|e| PayloadError::Malformed(format!("{e}; send one JSON object per request")))?;
    Ok(value)
}

impl PayloadError {
    /// Classifies a serde_json error: broken syntax is malformed, a wrong shape is invalid.
    fn classify(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                if path == "." {
                    PayloadError::Invalid(inner.to_string())
                } else {
                    PayloadError::Invalid(format!("{path}: {inner}"))
                }
            }
            _ => PayloadError::Malformed(inner.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_webhook_is_found_by_its_name_and_nothing_else() {
        for webhook in Webhook::ALL {
            assert_eq!(Webhook::named(webhook.name()), Some(webhook));
        }
        assert_eq!(Webhook::named("icinga2"), None, "Icinga 2 posts to nagios");
        assert_eq!(Webhook::named("Nagios"), None);
    }

    #[test]
    fn exactly_one_json_value_is_read() {
        let one: serde_json::Value = from_json(br#" {"a":1} "#).unwrap();
        assert_eq!(one["a"], 1);
        for body in [&br#"{"a":1}xyz"#[..], br#"{"a":1}{"a":2}"#, br#"{"a":1} 7"#] {
            let err = from_json::<serde_json::Value>(body).unwrap_err();
            assert!(
                matches!(&err, PayloadError::Malformed(m) if m.contains("trailing characters")),
                "{}: {err}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
