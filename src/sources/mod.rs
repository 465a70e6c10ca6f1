//! Source adapters: each turns its system's payload into a [`crate::domain::Alert`].

pub mod generic;
pub mod mackerel;
pub mod nagios;
pub mod zabbix;

/// Turns one webhook body into an alert; `received_at` stands in for a missing time.
pub type Parser = fn(&[u8], jiff::Timestamp) -> Result<crate::domain::Alert, PayloadError>;

/// Why a payload could not become an alert. The HTTP layer maps `Malformed` to 400 and
/// `Invalid` to 422.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
}

impl PayloadError {
    /// Classifies a serde_json error: broken syntax is malformed, a wrong shape is invalid.
    pub fn from_json(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
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
