//! Source adapters: each turns its system's payload into a [`crate::domain::Delivery`].

pub mod generic;
pub mod mackerel;
pub mod nagios;
pub mod zabbix;

use crate::domain::Delivery;
use serde::de::DeserializeOwned;

/// Turns one webhook body into an alert; `received_at` stands in for a missing time.
pub type Parser = fn(&[u8], jiff::Timestamp) -> Result<Delivery, PayloadError>;

/// The parser of a webhook by its name (`/webhooks/{name}`, the spool's `source`): the
/// notification commands validate with it before they send or spool, and the spool
/// drain delivers with it.
pub fn parser(webhook: &str) -> Option<Parser> {
    match webhook {
        "nagios" => Some(nagios::parse),
        "zabbix" => Some(zabbix::parse),
        "generic" => Some(generic::parse),
        _ => None,
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
