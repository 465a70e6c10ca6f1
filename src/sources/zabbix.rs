//! Zabbix: what the webhook media type in plugins/zabbix/media_kaden.yaml posts to
//! `POST /webhooks/zabbix`, one field per macro.
//!
//! | notification | kaden |
//! | --- | --- |
//! | problem ({EVENT.VALUE}=1, {EVENT.UPDATE.STATUS}=0) | problem: call |
//! | recovery ({EVENT.VALUE}=0) | recovery |
//! | update with {EVENT.ACK.STATUS}=Yes | acknowledged in Zabbix: stop calling (kaden's own echo is ignored) |
//! | any other update (comment, severity change) | update: stored, nobody is called |
//!
//! The key is {EVENT.ID}: recoveries and updates carry the problem's event id, which is
//! also what `event.acknowledge` takes. Only trigger events ({EVENT.SOURCE} 0, or absent
//! in payloads from before it was sent) are alerts. What is read as the details is
//! {ALERT.MESSAGE} (the media type's message template), else {ITEM.LASTVALUE}. Tags,
//! operational data and the trigger description are kept with the alert as sent.

use super::{PayloadError, from_json};
use crate::domain::{Alert, AlertKind, Delivery, Severity, SourceRef};
use jiff::Timestamp;
use serde::Deserialize;

#[derive(Deserialize)]
struct Webhook {
    #[serde(default)]
    event_source: String,
    event_id: String,
    event_value: String,
    #[serde(default)]
    event_status: String,
    #[serde(default)]
    event_severity: String,
    #[serde(default)]
    event_name: String,
    #[serde(default)]
    event_update_status: String,
    #[serde(default)]
    event_update_action: String,
    #[serde(default)]
    event_update_message: String,
    #[serde(default)]
    event_ack_status: String,
    #[serde(default)]
    event_recovery_id: String,
    host_name: String,
    #[serde(default)]
    item_value: String,
    #[serde(default)]
    alert_message: String,
}

/// A macro Zabbix could not resolve arrives literally (`{EVENT.RECOVERY.ID}`).
fn given(value: &str) -> Option<&str> {
    let v = value.trim();
    let unresolved = v.starts_with('{') && v.ends_with('}');
    (!v.is_empty() && !unresolved).then_some(v)
}

/// The alertscript's arguments as the webhook's JSON: MESSAGE is `key: value` lines
/// (the shipped message template), SENDTO and SUBJECT ride along.
pub fn alertscript_body(sendto: &str, subject: &str, message: &str) -> serde_json::Value {
    let mut fields: serde_json::Map<String, serde_json::Value> = message
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().into()))
        .collect();
    fields.insert("sendto".into(), sendto.into());
    fields.insert("subject".into(), subject.into());
    serde_json::Value::Object(fields)
}

pub fn parse(body: &[u8], received_at: Timestamp) -> Result<Delivery, PayloadError> {
    let w: Webhook = from_json(body)?;
    if let Some(source) = given(&w.event_source)
        && source != "0"
    {
        return Err(PayloadError::Invalid(format!(
            "event_source: {source:?} is not a trigger event (0); kaden takes problems only, not discovery, autoregistration or internal events"
        )));
    }
    let event_id: u64 = given(&w.event_id)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            PayloadError::Invalid(format!(
                "event_id: {:?} is not a Zabbix event id",
                w.event_id
            ))
        })?;
    let update = given(&w.event_update_status) == Some("1");
    let kind = match (update, given(&w.event_value)) {
        (true, _) if given(&w.event_ack_status) == Some("Yes") => AlertKind::Acknowledgement,
        (true, _) => AlertKind::Update,
        (false, Some("1")) => AlertKind::Problem,
        (false, Some("0")) => AlertKind::Recovery,
        (false, other) => {
            return Err(PayloadError::Invalid(format!(
                "event_value: {other:?} is neither 1 (problem) nor 0 (recovery)"
            )));
        }
    };
    let severity = given(&w.event_severity)
        .and_then(|s| s.parse().ok())
        .and_then(Severity::from_zabbix)
        .unwrap_or(Severity::Average);
    let host = given(&w.host_name)
        .ok_or_else(|| PayloadError::Invalid("host_name: missing".into()))?
        .to_owned();
    // A problem or recovery happens once per event, so the event id and kind name the
    // notification (escalation steps repeating a problem are the same problem). An update
    // is told apart by what the notification says of it; the alertscript's template
    // carries only the ack status.
    let notification = serde_json::json!([
        event_id,
        kind.as_str(),
        given(&w.event_recovery_id),
        given(&w.event_ack_status),
        given(&w.event_update_action),
        given(&w.event_update_message),
    ])
    .to_string();
    let alert = Alert {
        source_ref: SourceRef::Zabbix { event_id },
        key: event_id.to_string(),
        kind,
        severity,
        host,
        service: given(&w.event_name).map(str::to_owned),
        state: given(&w.event_status)
            .unwrap_or(if kind == AlertKind::Recovery {
                "RESOLVED"
            } else {
                "PROBLEM"
            })
            .to_owned(),
        output: given(&w.alert_message)
            .or(given(&w.item_value))
            .map(str::to_owned)
            .unwrap_or_default(),
        occurred_at: received_at,
        raw: String::from_utf8_lossy(body).into_owned(),
    };
    Ok(Delivery::new(alert, Some(notification)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: &str, update: &str, ack: &str) -> String {
        format!(
            r#"{{"sendto":"+819012345678","event_id":"4711","event_value":"{value}","event_status":"PROBLEM",
            "event_severity":"4","event_name":"HTTP is down","event_update_status":"{update}",
            "event_update_action":"acknowledged","event_update_message":"","event_ack_status":"{ack}",
            "event_recovery_id":"{{EVENT.RECOVERY.ID}}","host_name":"web01","host_host":"web01",
            "trigger_id":"13","item_value":"503"}}"#
        )
    }

    fn now() -> Timestamp {
        "2026-11-23T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn problem_recovery_and_updates_map_deliberately() {
        let problem = parse(body("1", "0", "No").as_bytes(), now()).unwrap().alert;
        assert_eq!(problem.kind, AlertKind::Problem);
        assert_eq!(problem.severity, Severity::High);
        assert_eq!(problem.key, "4711");
        assert_eq!(problem.source_ref, SourceRef::Zabbix { event_id: 4711 });
        assert_eq!(problem.service.as_deref(), Some("HTTP is down"));
        assert_eq!(
            parse(body("0", "0", "No").as_bytes(), now())
                .unwrap()
                .alert
                .kind,
            AlertKind::Recovery
        );
        assert_eq!(
            parse(body("1", "1", "Yes").as_bytes(), now())
                .unwrap()
                .alert
                .kind,
            AlertKind::Acknowledgement
        );
        assert_eq!(
            parse(body("1", "1", "No").as_bytes(), now())
                .unwrap()
                .alert
                .kind,
            AlertKind::Update
        );
    }

    #[test]
    fn alertscript_message_lines_become_the_webhook_body() {
        let message = "event_id: 4711\nevent_value: 1\nevent_severity: 5\nhost_name: db01\nevent_name: Disk: 98% full\n";
        let body = alertscript_body("+819012345678", "Problem", message);
        let a = parse(body.to_string().as_bytes(), now()).unwrap().alert;
        assert_eq!(a.source_ref, SourceRef::Zabbix { event_id: 4711 });
        assert_eq!(a.severity, Severity::Disaster);
        assert_eq!(
            a.service.as_deref(),
            Some("Disk: 98% full"),
            "only the first colon separates"
        );
    }

    #[test]
    fn unresolved_macros_are_refused_clearly() {
        let bad = body("1", "0", "No").replace("\"4711\"", "\"{EVENT.ID}\"");
        let err = parse(bad.as_bytes(), now()).unwrap_err().to_string();
        assert!(err.contains("event_id"), "{err}");
    }

    #[test]
    fn notifications_are_told_apart_by_event_kind_and_update() {
        let identity = |b: &str| parse(b.as_bytes(), now()).unwrap().notification.unwrap();
        let problem = identity(&body("1", "0", "No"));
        assert_eq!(
            identity(&body("1", "0", "No")),
            problem,
            "a retry is recognised"
        );
        let ack = identity(&body("1", "1", "Yes"));
        let comment = body("1", "1", "No").replace("acknowledged", "commented");
        let distinct = [
            problem,
            identity(&body("0", "0", "No")),
            ack,
            identity(&comment),
        ];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let other_event = body("1", "0", "No").replace("4711", "4712");
        assert_ne!(identity(&other_event), distinct[0]);
    }

    #[test]
    fn the_message_template_is_what_is_read_else_the_item_value() {
        let templated = body("1", "0", "No").replace(
            r#""item_value":"503""#,
            r#""item_value":"503","alert_message":"HTTP status: 503 Service Unavailable""#,
        );
        let a = parse(templated.as_bytes(), now()).unwrap().alert;
        assert_eq!(a.output, "HTTP status: 503 Service Unavailable");
        // An empty template ({EVENT.OPDATA} of a trigger without operational data) and
        // payloads from before the field existed fall back to the item value.
        let empty = body("1", "0", "No").replace(
            r#""item_value":"503""#,
            r#""item_value":"503","alert_message":"""#,
        );
        assert_eq!(parse(empty.as_bytes(), now()).unwrap().alert.output, "503");
        assert_eq!(
            parse(body("1", "0", "No").as_bytes(), now())
                .unwrap()
                .alert
                .output,
            "503"
        );
    }

    #[test]
    fn only_trigger_events_are_alerts() {
        let with_source = |source: &str| {
            body("1", "0", "No").replace(
                r#""event_id""#,
                &format!(r#""event_source":"{source}","event_id""#),
            )
        };
        assert_eq!(
            parse(with_source("0").as_bytes(), now())
                .unwrap()
                .alert
                .kind,
            AlertKind::Problem
        );
        for other in ["1", "2", "3"] {
            let err = parse(with_source(other).as_bytes(), now())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("event_source") && err.contains("trigger"),
                "{err}"
            );
        }
    }

    #[test]
    fn trailing_data_is_refused() {
        let bad = format!("{}{{}}", body("1", "0", "No"));
        assert!(matches!(
            parse(bad.as_bytes(), now()),
            Err(PayloadError::Malformed(_))
        ));
    }
}
