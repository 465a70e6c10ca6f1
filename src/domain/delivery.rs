//! A delivered alert and what recognises the same delivery when a client retries it.

use super::Alert;
use serde::{Deserialize, Serialize};

/// One alert as a source delivered it.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub alert: Alert,
    /// The source's own identity of this notification (e.g. `4711/problem` for a Zabbix
    /// problem event): a retried notification carries the same one. `None` when the source
    /// gives nothing to tell two notifications apart (generic alerts).
    pub notification: Option<String>,
    /// The client's `Idempotency-Key`: the same key means the same delivery.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl Delivery {
    pub fn new(alert: Alert, notification: Option<String>) -> Delivery {
        Delivery {
            alert,
            notification,
            idempotency_key: None,
        }
    }

    pub fn with_key(self, idempotency_key: Option<IdempotencyKey>) -> Delivery {
        Delivery {
            idempotency_key,
            ..self
        }
    }
}

/// A client-chosen `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct IdempotencyKey(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "Idempotency-Key must be 1 to {} visible ASCII characters (e.g. a UUID)",
    IdempotencyKey::MAX_LEN
)]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    const MAX_LEN: usize = 255;

    pub fn parse(s: &str) -> Result<IdempotencyKey, InvalidIdempotencyKey> {
        let fits = (1..=Self::MAX_LEN).contains(&s.len());
        if fits && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(IdempotencyKey(s.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    /// A fresh random key (128 bits, hex), for a client that makes one per delivery.
    pub fn random() -> IdempotencyKey {
        IdempotencyKey(format!(
            "{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = InvalidIdempotencyKey;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        IdempotencyKey::parse(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("3f2a-01").is_ok());
        for bad in ["", "has space", "日本", &"x".repeat(256)] {
            assert_eq!(
                IdempotencyKey::parse(bad),
                Err(InvalidIdempotencyKey),
                "{bad:?}"
            );
        }
        let key = IdempotencyKey::random();
        assert_eq!(IdempotencyKey::parse(key.as_str()), Ok(key.clone()));
        assert_ne!(key, IdempotencyKey::random());
    }
}
