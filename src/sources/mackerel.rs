//! Mackerel's webhook notification channel (event `alert`). Parsed leniently: Mackerel
//! says fields may be added at any time. Other events are accepted and ignored.
//!
//! `alert.status`: ok → recovery (info); warning → warning; unknown → average;
//! critical → high. The key is `alert.id`, which the recovery carries too.

use super::{Event, PayloadError, from_json};
use crate::domain::{Alert, AlertKind, Delivery, Severity, SourceRef};
use jiff::Timestamp;
use serde_json::Value;

pub fn parse(body: &[u8], received_at: Timestamp) -> Result<Event, PayloadError> {
    let v: Value = from_json(body)?;
    let event = v["event"]
        .as_str()
        .ok_or_else(|| PayloadError::Invalid("event: missing".into()))?;
    if event != "alert" {
        return Ok(Event::Ignored(event.to_owned()));
    }
    let alert = &v["alert"];
    let text = |value: &Value, what: &str| -> Result<String, PayloadError> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| PayloadError::Invalid(format!("{what}: missing or not a string")))
    };
    let id = text(&alert["id"], "alert.id")?;
    let status = text(&alert["status"], "alert.status")?;
    let severity = Severity::from_mackerel_status(&status).ok_or_else(|| {
        PayloadError::Invalid(format!(
            "alert.status: {status:?} is not ok, warning, critical or unknown"
        ))
    })?;
    let kind = if status == "ok" {
        AlertKind::Recovery
    } else {
        AlertKind::Problem
    };
    // Host alerts name the host; service and external monitors name the service.
    let host = v["host"]["name"]
        .as_str()
        .or_else(|| v["service"]["name"].as_str())
        .unwrap_or("mackerel")
        .to_owned();
    let occurred_at = alert["statusChangedAt"]
        .as_i64()
        .or_else(|| alert["openedAt"].as_i64())
        .and_then(|s| Timestamp::from_second(s).ok())
        .unwrap_or(received_at);
    // The alert id names the alert for its whole life; each status change is a new
    // notification of it.
    let notification = serde_json::json!([id, status, alert["statusChangedAt"]]).to_string();
    let alert = Alert {
        source_ref: SourceRef::Mackerel {
            alert_id: id.clone(),
        },
        key: id,
        kind,
        severity,
        host,
        service: alert["monitorName"].as_str().map(str::to_owned),
        state: status.to_uppercase(),
        output: v["message"].as_str().unwrap_or_default().to_owned(),
        occurred_at,
        raw: String::from_utf8_lossy(body).into_owned(),
    };
    Ok(Event::Alert(Box::new(Delivery::new(
        alert,
        Some(notification),
    ))))
}

#[cfg(test)]
pub const SAMPLE: &str = r#"{
  "orgName": "Macker...", "event": "alert", "imageUrl": null, "memo": "memo....", "type": "host",
  "message": "MetricName 2.26 > 1.96",
  "host": { "id": "22D4...", "name": "app01", "url": "https://mackerel.io/orgs/.../hosts/...",
            "type": "unknown", "status": "working", "memo": "", "isRetired": false, "roles": [] },
  "alert": { "openedAt": 1473129912, "closedAt": 1473130092, "createdAt": 1473129912693,
             "statusChangedAt": 1473130092, "criticalThreshold": 1.9588528112516932,
             "duration": 5, "isOpen": true, "metricLabel": "MetricName",
             "metricValue": 2.255356387321597, "monitorName": "MonitorName",
             "monitorOperator": ">", "status": "critical", "trigger": "monitor",
             "id": "2bj...", "url": "https://mackerel.io/orgs/.../alerts/2bj...",
             "warningThreshold": 1.4665636369580741, "aFieldAddedLater": 1 }
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn documented_alert_becomes_a_problem() {
        let Event::Alert(d) = parse(SAMPLE.as_bytes(), now()).unwrap() else {
            panic!("not an alert")
        };
        let a = &d.alert;
        assert_eq!(a.kind, AlertKind::Problem);
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.key, "2bj...");
        assert_eq!(a.host, "app01");
        assert_eq!(a.service.as_deref(), Some("MonitorName"));
        assert_eq!(
            a.source_ref,
            SourceRef::Mackerel {
                alert_id: "2bj...".into()
            }
        );
        assert_eq!(a.occurred_at, Timestamp::from_second(1473130092).unwrap());
    }

    #[test]
    fn ok_is_a_recovery_and_other_events_are_ignored() {
        let ok = SAMPLE.replace("\"status\": \"critical\"", "\"status\": \"ok\"");
        let Event::Alert(recovery) = parse(ok.as_bytes(), now()).unwrap() else {
            panic!()
        };
        assert_eq!(recovery.alert.kind, AlertKind::Recovery);
        let Event::Alert(problem) = parse(SAMPLE.as_bytes(), now()).unwrap() else {
            panic!()
        };
        assert_ne!(recovery.notification, problem.notification);
        assert!(
            matches!(parse(br#"{"event":"hostStatus","host":{}}"#, now()).unwrap(), Event::Ignored(e) if e == "hostStatus")
        );
        let bad = SAMPLE.replace("\"status\": \"critical\"", "\"status\": \"CRIT\"");
        assert!(parse(bad.as_bytes(), now()).is_err());
        assert!(matches!(
            parse(b"{", now()),
            Err(PayloadError::Malformed(_))
        ));
    }
}
