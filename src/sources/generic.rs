//! The generic alert of design.md (`POST /api/v1/alerts`), which every source is
//! normalized into. Scripts and bridges use it directly.

use super::{PayloadError, from_json};
use crate::domain::{Alert, AlertKind, Delivery, Severity, Source, SourceRef};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericAlert {
    #[serde(default = "generic")]
    source: Source,
    key: String,
    kind: AlertKind,
    severity: Severity,
    host: String,
    service: Option<String>,
    #[serde(alias = "output")]
    summary: String,
    /// The source's state word; defaults to the kind.
    state: Option<String>,
    time: Option<Timestamp>,
    /// For a non-generic source: its identity for write-back, e.g. `{"event_id": 123}`.
    #[serde(rename = "ref")]
    source_ref: Option<Value>,
}

fn generic() -> Source {
    Source::Generic
}

/// Parses one generic alert; `received_at` stands in for a missing `time`. A generic alert
/// names no notification of its own: clients that retry send an `Idempotency-Key`.
pub fn parse(body: &[u8], received_at: Timestamp) -> Result<Delivery, PayloadError> {
    let g: GenericAlert = from_json(body)?;
    if g.key.trim().is_empty() {
        return Err(PayloadError::Invalid("key: must not be empty".into()));
    }
    if g.host.trim().is_empty() {
        return Err(PayloadError::Invalid("host: must not be empty".into()));
    }
    let source_ref = source_ref(g.source, g.source_ref)?;
    let alert = Alert {
        source_ref,
        key: g.key,
        kind: g.kind,
        severity: g.severity,
        host: g.host,
        service: g.service.filter(|s| !s.is_empty()),
        state: g.state.unwrap_or_else(|| g.kind.as_str().to_owned()),
        output: g.summary,
        occurred_at: g.time.unwrap_or(received_at),
        raw: String::from_utf8_lossy(body).into_owned(),
    };
    Ok(Delivery::new(alert, None))
}

fn source_ref(source: Source, raw: Option<Value>) -> Result<SourceRef, PayloadError> {
    match (source, raw) {
        (Source::Generic, None) => Ok(SourceRef::Generic),
        (Source::Generic, Some(_)) => Err(PayloadError::Invalid(
            "ref: a generic alert has nothing to write back to; drop ref or name its source".into(),
        )),
        (source, Some(Value::Object(mut fields))) => {
            fields.insert("source".into(), Value::String(source.as_str().into()));
            serde_json::from_value(Value::Object(fields))
                .map_err(|e| PayloadError::Invalid(format!("ref: {e}")))
        }
        (source, _) => Err(PayloadError::Invalid(format!(
            "ref: a {source} alert needs ref, its identity in {source} for write-back ({})",
            match source {
                Source::Zabbix => r#"{"event_id": 123}"#,
                Source::Nagios => r#"{"host": "web-01", "service": "HTTP", "problem_id": 42}"#,
                Source::Icinga2 => r#"{"object": "web-01!HTTP"}"#,
                _ => r#"{"alert_id": "2bj..."}"#,
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{ "source": "generic", "key": "web-01/HTTP", "kind": "problem",
      "severity": "high", "host": "web-01", "service": "HTTP",
      "summary": "HTTP CRITICAL - 503 Service Unavailable",
      "time": "2026-11-23T10:00:00+09:00" }"#;

    fn now() -> Timestamp {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    #[test]
    fn parses_the_design_sample() {
        let a = parse(SAMPLE.as_bytes(), now()).unwrap().alert;
        assert_eq!(a.source(), Source::Generic);
        assert_eq!(a.key, "web-01/HTTP");
        assert_eq!(a.kind, AlertKind::Problem);
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.service.as_deref(), Some("HTTP"));
        assert_eq!(a.state, "problem");
        assert_eq!(a.occurred_at, "2026-11-23T01:00:00Z".parse().unwrap());
        assert_eq!(a.raw, SAMPLE, "raw payload is kept verbatim");
    }

    #[test]
    fn missing_time_means_received_time() {
        let body = r#"{"key":"k","kind":"recovery","severity":"info","host":"h","summary":"ok"}"#;
        let a = parse(body.as_bytes(), now()).unwrap().alert;
        assert_eq!(a.occurred_at, now());
        assert_eq!(a.service, None);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases = [
            ("{not json", "malformed JSON"),
            (r#"{"kind":"problem"}"#, "missing field `key`"),
            (
                r#"{"key":"k","kind":"problem","severity":"high","host":"h","summary":""}xyz"#,
                "malformed JSON: trailing characters",
            ),
            (
                r#"{"key":"k","kind":"problem","severity":"high","host":"h","summary":""}{"key":"k"}"#,
                "malformed JSON: trailing characters",
            ),
            (
                r#"{"key":"k","kind":"boom","severity":"high","host":"h","summary":""}"#,
                "kind: unknown variant `boom`",
            ),
            (
                r#"{"key":"k","kind":"problem","severity":"high","host":"h","summary":"","sevrity":1}"#,
                "unknown field `sevrity`",
            ),
            (
                r#"{"key":" ","kind":"problem","severity":"high","host":"h","summary":""}"#,
                "key: must not be empty",
            ),
            (
                r#"{"source":"zabbix","key":"k","kind":"problem","severity":"high","host":"h","summary":""}"#,
                "needs ref",
            ),
        ];
        for (body, expected) in cases {
            let err = parse(body.as_bytes(), now()).unwrap_err().to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
        assert!(matches!(
            parse(b"{not json", now()),
            Err(PayloadError::Malformed(_))
        ));
    }

    #[test]
    fn non_generic_source_carries_its_identity() {
        let body = r#"{"source":"zabbix","ref":{"event_id":4711},"key":"z/1","kind":"problem","severity":"disaster","host":"db","summary":"down"}"#;
        let a = parse(body.as_bytes(), now()).unwrap().alert;
        assert_eq!(a.source_ref, SourceRef::Zabbix { event_id: 4711 });
    }
}
