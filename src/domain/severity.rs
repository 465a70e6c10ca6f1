//! One severity scale for every source. Each source's mapping is written down here,
//! next to the conversion that applies it, and repeated in README.md.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Ordered from least to most severe, so routes can compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Average,
    High,
    Disaster,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown severity {0:?}: use one of info, warning, average, high, disaster")]
pub struct UnknownSeverity(pub String);

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Warning,
        Severity::Average,
        Severity::High,
        Severity::Disaster,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Average => "average",
            Severity::High => "high",
            Severity::Disaster => "disaster",
        }
    }

    /// Zabbix `{EVENT.NSEVERITY}` 0–5. "Not classified" (0) becomes warning rather than
    /// info: an unclassified trigger is still a problem someone may need to hear about.
    pub fn from_zabbix(nseverity: u8) -> Option<Severity> {
        Some(match nseverity {
            0 | 2 => Severity::Warning,
            1 => Severity::Info,
            3 => Severity::Average,
            4 => Severity::High,
            5 => Severity::Disaster,
            _ => return None,
        })
    }

    /// Nagios / X-MON / Icinga 2 state names (host and service). A host that is DOWN takes
    /// every service on it along, so it ranks above a single CRITICAL service.
    pub fn from_nagios_state(state: &str) -> Option<Severity> {
        Some(match state.to_ascii_uppercase().as_str() {
            "OK" | "UP" => Severity::Info,
            "WARNING" => Severity::Warning,
            "UNKNOWN" => Severity::Average,
            "CRITICAL" | "UNREACHABLE" => Severity::High,
            "DOWN" => Severity::Disaster,
            _ => return None,
        })
    }

    /// Mackerel `alert.status` (lowercase in the webhook).
    pub fn from_mackerel_status(status: &str) -> Option<Severity> {
        Some(match status {
            "ok" => Severity::Info,
            "warning" => Severity::Warning,
            "unknown" => Severity::Average,
            "critical" => Severity::High,
            _ => return None,
        })
    }
}

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str() == s)
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zabbix_mapping_covers_all_six_levels() {
        let mapped: Vec<_> = (0..=5).map(|n| Severity::from_zabbix(n).unwrap()).collect();
        assert_eq!(
            mapped,
            [
                Severity::Warning,
                Severity::Info,
                Severity::Warning,
                Severity::Average,
                Severity::High,
                Severity::Disaster
            ]
        );
        assert_eq!(Severity::from_zabbix(6), None);
    }

    #[test]
    fn nagios_mapping_is_case_insensitive_and_ranks_host_down_highest() {
        assert_eq!(
            Severity::from_nagios_state("critical"),
            Some(Severity::High)
        );
        assert_eq!(
            Severity::from_nagios_state("DOWN"),
            Some(Severity::Disaster)
        );
        assert_eq!(Severity::from_nagios_state("UP"), Some(Severity::Info));
        assert_eq!(Severity::from_nagios_state("PENDING"), None);
    }

    #[test]
    fn mackerel_mapping_follows_alert_status() {
        assert_eq!(
            Severity::from_mackerel_status("critical"),
            Some(Severity::High)
        );
        assert_eq!(
            Severity::from_mackerel_status("unknown"),
            Some(Severity::Average)
        );
        assert_eq!(Severity::from_mackerel_status("CRITICAL"), None);
    }

    #[test]
    fn severities_order_from_info_to_disaster() {
        assert!(Severity::Info < Severity::Warning && Severity::High < Severity::Disaster);
        assert_eq!("average".parse::<Severity>(), Ok(Severity::Average));
        assert!("major".parse::<Severity>().is_err());
    }
}
