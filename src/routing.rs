//! Routes decide which call setting handles an alert: the first matching route wins.

use crate::config::{Route, RouteMatch};
use crate::domain::{Alert, CallSettingId};
use jiff::Timestamp;

/// The call setting for `alert` received at `at` (a route's window is read at that time),
/// or `None` when no route matches (the alert is kept as unrouted, never dropped).
pub fn route<'r>(routes: &'r [Route], alert: &Alert, at: Timestamp) -> Option<&'r CallSettingId> {
    routes
        .iter()
        .find(|r| r.when.matches(alert, at))
        .map(|r| &r.call)
}

impl RouteMatch {
    pub fn matches(&self, alert: &Alert, at: Timestamp) -> bool {
        let any_of =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        let service = alert.service.as_deref();
        (self.sources.is_empty() || self.sources.contains(&alert.source()))
            && (self.severities.is_empty() || self.severities.contains(&alert.severity))
            && any_of(&self.hosts, &alert.host)
            && (self.services.is_empty() || service.is_some_and(|s| any_of(&self.services, s)))
            && self
                .host_regex
                .as_ref()
                .is_none_or(|re| re.is_match(&alert.host))
            && self
                .service_regex
                .as_ref()
                .is_none_or(|re| service.is_some_and(|s| re.is_match(s)))
            && self
                .window
                .as_ref()
                .is_none_or(|w| w.window.contains(at, &w.timezone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AlertKind, Severity, SourceRef};
    use regex::Regex;

    fn alert(
        source_ref: SourceRef,
        severity: Severity,
        host: &str,
        service: Option<&str>,
    ) -> Alert {
        Alert {
            source_ref,
            key: format!("{host}/{}", service.unwrap_or("")),
            kind: AlertKind::Problem,
            severity,
            host: host.into(),
            service: service.map(Into::into),
            state: "CRITICAL".into(),
            output: String::new(),
            occurred_at: jiff::Timestamp::UNIX_EPOCH,
            raw: String::new(),
        }
    }

    fn route_to(id: &str, when: RouteMatch) -> Route {
        Route {
            when,
            call: CallSettingId::new(id),
        }
    }

    fn routes() -> Vec<Route> {
        vec![
            route_to(
                "db",
                RouteMatch {
                    host_regex: Some(Regex::new("^db-\\d+$").unwrap()),
                    ..Default::default()
                },
            ),
            route_to(
                "infra",
                RouteMatch {
                    sources: vec![crate::domain::Source::Zabbix],
                    severities: vec![Severity::High, Severity::Disaster],
                    ..Default::default()
                },
            ),
            route_to(
                "web",
                RouteMatch {
                    services: vec!["HTTP".into(), "HTTPS".into()],
                    ..Default::default()
                },
            ),
        ]
    }

    #[test]
    fn first_matching_route_wins() {
        let zabbix = SourceRef::Zabbix { event_id: 1 };
        let a = alert(zabbix.clone(), Severity::Disaster, "db-01", None);
        assert_eq!(route(&routes(), &a, NOON).unwrap().as_str(), "db");
        let a = alert(zabbix, Severity::High, "app-01", Some("HTTP"));
        assert_eq!(route(&routes(), &a, NOON).unwrap().as_str(), "infra");
    }

    #[test]
    fn every_condition_must_hold() {
        let zabbix = SourceRef::Zabbix { event_id: 1 };
        let low = alert(zabbix, Severity::Warning, "app-01", None);
        assert_eq!(route(&routes(), &low, NOON), None);
        let generic_http = alert(
            SourceRef::Generic,
            Severity::Warning,
            "web-01",
            Some("HTTP"),
        );
        assert_eq!(
            route(&routes(), &generic_http, NOON).unwrap().as_str(),
            "web"
        );
        let host_only = alert(SourceRef::Generic, Severity::High, "web-01", None);
        assert_eq!(
            route(&routes(), &host_only, NOON),
            None,
            "a service condition never matches a host alert"
        );
    }

    /// 2026-11-24 (a Tuesday) 14:00 JST.
    const NOON: Timestamp = Timestamp::constant(1_795_496_400, 0);

    #[test]
    fn a_window_sends_nights_to_one_call_setting_and_days_to_another() {
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        let nights = RouteMatch {
            window: Some(crate::config::RouteWindow {
                window: crate::schedule::Window::Weekly {
                    days: vec![
                        jiff::civil::Weekday::Monday,
                        jiff::civil::Weekday::Tuesday,
                        jiff::civil::Weekday::Wednesday,
                        jiff::civil::Weekday::Thursday,
                        jiff::civil::Weekday::Friday,
                        jiff::civil::Weekday::Saturday,
                        jiff::civil::Weekday::Sunday,
                    ],
                    from: jiff::civil::time(18, 0, 0, 0),
                    to: jiff::civil::time(9, 0, 0, 0),
                },
                timezone: tokyo,
            }),
            ..Default::default()
        };
        let all = vec![
            route_to("night", nights),
            route_to("day", RouteMatch::default()),
        ];
        let a = alert(SourceRef::Generic, Severity::High, "db-01", None);
        let two_am: Timestamp = "2026-11-24T02:00:00+09:00".parse().unwrap();
        assert_eq!(route(&all, &a, two_am).unwrap().as_str(), "night");
        assert_eq!(NOON, "2026-11-24T14:00:00+09:00".parse().unwrap());
        assert_eq!(route(&all, &a, NOON).unwrap().as_str(), "day");
    }

    #[test]
    fn empty_match_is_a_default_route() {
        let mut all = routes();
        all.push(route_to("default", RouteMatch::default()));
        let a = alert(SourceRef::Generic, Severity::Info, "x", None);
        assert_eq!(route(&all, &a, NOON).unwrap().as_str(), "default");
    }
}
