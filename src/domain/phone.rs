//! E.164 phone numbers: the only form Twilio accepts for `To` and `From`.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneNumberError {
    #[error(
        "phone number {0:?} must start with + and the country code (E.164), e.g. +819012345678"
    )]
    MissingPlus(String),
    #[error("phone number {0:?} may contain only digits after the + (E.164), no spaces or dashes")]
    NotDigits(String),
    #[error("phone number {0:?} must have 8 to 15 digits after the + (E.164)")]
    Length(String),
    #[error("phone number {0:?}: a country code never starts with 0 (E.164)")]
    LeadingZero(String),
}

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, PhoneNumberError> {
        let digits = s
            .strip_prefix('+')
            .ok_or_else(|| PhoneNumberError::MissingPlus(s.to_owned()))?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneNumberError::NotDigits(s.to_owned()));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(PhoneNumberError::Length(s.to_owned()));
        }
        if digits.starts_with('0') {
            return Err(PhoneNumberError::LeadingZero(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_japanese_mobile_in_e164() {
        assert_eq!(
            PhoneNumber::parse("+819012345678").unwrap().as_str(),
            "+819012345678"
        );
    }

    #[test]
    fn rejects_domestic_and_formatted_numbers() {
        assert_eq!(
            PhoneNumber::parse("09012345678"),
            Err(PhoneNumberError::MissingPlus("09012345678".into()))
        );
        assert_eq!(
            PhoneNumber::parse("+81 90-1234-5678"),
            Err(PhoneNumberError::NotDigits("+81 90-1234-5678".into()))
        );
        assert_eq!(
            PhoneNumber::parse("+8190"),
            Err(PhoneNumberError::Length("+8190".into()))
        );
        assert_eq!(
            PhoneNumber::parse("+0819012345678"),
            Err(PhoneNumberError::LeadingZero("+0819012345678".into()))
        );
    }
}
