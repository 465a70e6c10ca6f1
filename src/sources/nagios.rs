//! Nagios 4 / X-MON (and Icinga 2 through the same command, `--source icinga2`): the
//! notification macros, as `kaden nagios-notify` sends them to `POST /webhooks/nagios`.
//!
//! | $NOTIFICATIONTYPE$ | kaden |
//! | --- | --- |
//! | PROBLEM | problem: call |
//! | RECOVERY | recovery |
//! | ACKNOWLEDGEMENT | acknowledged in the source: stop calling (kaden's own echo is ignored) |
//! | DOWNTIMESTART | someone silenced it: treated as an acknowledgement |
//! | FLAPPINGSTART, FLAPPINGSTOP, FLAPPINGEND (Icinga), FLAPPINGDISABLED, DOWNTIMEEND, DOWNTIMECANCELLED, CUSTOM | update: stored, nobody is called |

use super::{PayloadError, from_json};
use crate::domain::{Alert, AlertKind, Delivery, Severity, SourceRef};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One notification, macro by macro.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// `icinga2` for Icinga 2 (written back through its REST API); Nagios otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// $NOTIFICATIONTYPE$
    #[serde(rename = "type")]
    pub kind: String,
    /// $HOSTNAME$
    pub host: String,
    /// $SERVICEDESC$ (absent for host notifications)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// $SERVICESTATE$ or $HOSTSTATE$
    pub state: String,
    /// $SERVICEOUTPUT$ or $HOSTOUTPUT$
    #[serde(default)]
    pub output: String,
    /// $SERVICEPROBLEMID$ or $HOSTPROBLEMID$
    #[serde(default)]
    pub problem_id: u64,
    /// $LASTSERVICEPROBLEMID$ or $LASTHOSTPROBLEMID$ (a host recovery carries only this)
    #[serde(default)]
    pub last_problem_id: u64,
    /// $NOTIFICATIONNUMBER$
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// $NOTIFICATIONAUTHOR$
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// $NOTIFICATIONCOMMENT$
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// $TIMET$
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
}

impl Notification {
    pub fn kind(&self) -> Result<AlertKind, PayloadError> {
        Ok(match self.kind.to_ascii_uppercase().as_str() {
            "PROBLEM" => AlertKind::Problem,
            "RECOVERY" => AlertKind::Recovery,
            "ACKNOWLEDGEMENT" | "DOWNTIMESTART" => AlertKind::Acknowledgement,
            "FLAPPINGSTART" | "FLAPPINGSTOP" | "FLAPPINGEND" | "FLAPPINGDISABLED"
            | "DOWNTIMEEND" | "DOWNTIMECANCELLED" | "CUSTOM" => AlertKind::Update,
            other => {
                return Err(PayloadError::Invalid(format!(
                    "type: unknown $NOTIFICATIONTYPE$ {other:?}; expected PROBLEM, RECOVERY, ACKNOWLEDGEMENT, FLAPPING*, DOWNTIME* or CUSTOM"
                )));
            }
        })
    }

    fn into_delivery(self, raw: String, received_at: Timestamp) -> Result<Delivery, PayloadError> {
        let kind = self.kind()?;
        if self.host.trim().is_empty() {
            return Err(PayloadError::Invalid("host: must not be empty".into()));
        }
        let severity = self.severity()?;
        let service = self.service.filter(|s| !s.is_empty());
        // Problem ids restart with Nagios, so the key is the object; the id goes along
        // for write-back. A host recovery has only the last problem id.
        let problem_id = if self.problem_id == 0 {
            self.last_problem_id
        } else {
            self.problem_id
        };
        let key = match &service {
            Some(s) => format!("{}/{s}", self.host),
            None => self.host.clone(),
        };
        let occurred_at = self
            .time
            .and_then(|t| Timestamp::from_second(t).ok())
            .unwrap_or(received_at);
        let source_ref = match self.source.as_deref() {
            None | Some("nagios") => SourceRef::Nagios {
                host: self.host.clone(),
                service: service.clone(),
                problem_id,
            },
            // Icinga 2 has no problem ids; its objects are named host!service.
            Some("icinga2") => SourceRef::Icinga2 {
                object: match &service {
                    Some(s) => format!("{}!{s}", self.host),
                    None => self.host.clone(),
                },
            },
            Some(other) => {
                return Err(PayloadError::Invalid(format!(
                    "source: {other:?} is not nagios or icinga2"
                )));
            }
        };
        // Only $TIMET$ tells two notifications apart for sure: without it the same service
        // failing again next week (Icinga 2 has no problem ids) would look like a retry and
        // nobody would be called. The notification command's Idempotency-Key still covers
        // its own retries.
        let notification = self.time.map(|time| {
            serde_json::json!([
                key,
                self.kind,
                self.state,
                problem_id,
                self.last_problem_id,
                self.number,
                time
            ])
            .to_string()
        });
        let alert = Alert {
            source_ref,
            key,
            kind,
            severity,
            host: self.host,
            service,
            state: self.state,
            output: self.output,
            occurred_at,
            raw,
        };
        Ok(Delivery::new(alert, notification))
    }

    /// A state word kaden does not know is refused: guessing a severity could route the
    /// alert to nobody, or wake the wrong people.
    fn severity(&self) -> Result<Severity, PayloadError> {
        if self.state.trim().is_empty() {
            return Err(PayloadError::Invalid(
                "state: missing; pass $SERVICESTATE$ or $HOSTSTATE$ (--state)".into(),
            ));
        }
        Severity::from_nagios_state(&self.state).ok_or_else(|| {
            PayloadError::Invalid(format!(
                "state: unknown state {:?}; expected OK, WARNING, CRITICAL, UNKNOWN (services) or UP, DOWN, UNREACHABLE (hosts)",
                self.state
            ))
        })
    }
}

/// `POST /webhooks/nagios` body.
pub fn parse(body: &[u8], received_at: Timestamp) -> Result<Delivery, PayloadError> {
    let n: Notification = from_json(body)?;
    n.into_delivery(String::from_utf8_lossy(body).into_owned(), received_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"type":"PROBLEM","host":"web01","service":"HTTP","state":"CRITICAL",
        "output":"HTTP CRITICAL - 503","problem_id":42,"last_problem_id":0,"time":1700000000}"#;

    fn now() -> Timestamp {
        "2026-11-23T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn service_problem_becomes_an_alert() {
        let a = parse(SAMPLE.as_bytes(), now()).unwrap().alert;
        assert_eq!(a.kind, AlertKind::Problem);
        assert_eq!(a.key, "web01/HTTP");
        assert_eq!(a.severity, Severity::High);
        assert_eq!(
            a.source_ref,
            SourceRef::Nagios {
                host: "web01".into(),
                service: Some("HTTP".into()),
                problem_id: 42
            }
        );
        assert_eq!(
            a.occurred_at,
            Timestamp::from_second(1_700_000_000).unwrap()
        );
    }

    #[test]
    fn host_recovery_uses_the_last_problem_id() {
        let body =
            r#"{"type":"RECOVERY","host":"db01","state":"UP","problem_id":0,"last_problem_id":7}"#;
        let a = parse(body.as_bytes(), now()).unwrap().alert;
        assert_eq!(a.kind, AlertKind::Recovery);
        assert_eq!(a.key, "db01");
        assert_eq!(
            a.source_ref,
            SourceRef::Nagios {
                host: "db01".into(),
                service: None,
                problem_id: 7
            }
        );
    }

    #[test]
    fn every_notification_type_is_handled_deliberately() {
        let cases = [
            ("ACKNOWLEDGEMENT", AlertKind::Acknowledgement),
            ("DOWNTIMESTART", AlertKind::Acknowledgement),
            ("DOWNTIMEEND", AlertKind::Update),
            ("DOWNTIMECANCELLED", AlertKind::Update),
            ("FLAPPINGSTART", AlertKind::Update),
            ("FLAPPINGSTOP", AlertKind::Update),
            ("FLAPPINGDISABLED", AlertKind::Update),
            ("CUSTOM", AlertKind::Update),
        ];
        for (kind, expected) in cases {
            let n = Notification {
                kind: kind.into(),
                host: "h".into(),
                state: "CRITICAL".into(),
                ..Default::default()
            };
            assert_eq!(n.kind().unwrap(), expected, "{kind}");
        }
        let icinga = parse(br#"{"source":"icinga2","type":"PROBLEM","host":"web01","service":"HTTP","state":"CRITICAL"}"#, now()).unwrap().alert;
        assert_eq!(
            icinga.source_ref,
            SourceRef::Icinga2 {
                object: "web01!HTTP".into()
            }
        );
        let err = parse(br#"{"type":"BOGUS","host":"h","state":"OK"}"#, now()).unwrap_err();
        assert!(
            err.to_string().contains("unknown $NOTIFICATIONTYPE$"),
            "{err}"
        );
    }

    #[test]
    fn unknown_or_missing_states_are_refused() {
        for (state, expected) in [
            ("MELTED", "state: unknown state \"MELTED\""),
            ("", "state: missing"),
        ] {
            let body = format!(r#"{{"type":"PROBLEM","host":"h","state":"{state}"}}"#);
            let err = parse(body.as_bytes(), now()).unwrap_err();
            assert!(matches!(err, PayloadError::Invalid(_)), "{err}");
            assert!(err.to_string().contains(expected), "{err}");
        }
        let icinga = br#"{"source":"icinga2","type":"PROBLEM","host":"h","state":"Down"}"#;
        assert_eq!(
            parse(icinga, now()).unwrap().alert.severity,
            Severity::Disaster
        );
    }

    #[test]
    fn each_notification_has_its_own_identity() {
        let identity = |body: &str| parse(body.as_bytes(), now()).unwrap().notification;
        let first = identity(SAMPLE);
        assert!(first.is_some());
        assert_eq!(identity(SAMPLE), first, "a retry is recognised");
        let renotified = SAMPLE.replace("1700000000", "1700003600");
        assert_ne!(identity(&renotified), first, "a later notification is new");
        let recovery = SAMPLE
            .replace("PROBLEM", "RECOVERY")
            .replace("CRITICAL\"", "OK\"");
        assert_ne!(identity(&recovery), first);
        let other_host = SAMPLE.replace("web01", "web02");
        assert_ne!(identity(&other_host), first);
        let untimed = SAMPLE.replace(r#","time":1700000000"#, "");
        assert_eq!(
            identity(&untimed),
            None,
            "a later failure could look the same"
        );
    }
}
