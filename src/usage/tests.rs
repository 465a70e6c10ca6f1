use super::*;
use crate::store::{CallUsage, UsageKind};

fn rates() -> Rates {
    Rates {
        currency: "USD".into(),
        calls: vec![
            Rate {
                prefix: "+81".into(),
                price: 0.10,
            },
            Rate {
                prefix: "+8190".into(),
                price: 0.17,
            },
        ],
        sms: vec![Rate {
            prefix: "+81".into(),
            price: 0.08,
        }],
    }
}

#[test]
fn the_longest_prefix_wins() {
    let rates = rates();
    assert_eq!(rate(&rates.calls, "+819012345678").unwrap().price, 0.17);
    assert_eq!(rate(&rates.calls, "+815012345678").unwrap().price, 0.10);
    assert!(rate(&rates.calls, "+14155550100").is_none());
}

#[test]
fn calls_are_billed_per_started_minute() {
    assert_eq!(billed_minutes(0, false), 0);
    assert_eq!(billed_minutes(0, true), 1, "picked up and hung up at once");
    assert_eq!(billed_minutes(1, true), 1);
    assert_eq!(billed_minutes(60, true), 1);
    assert_eq!(billed_minutes(61, true), 2);
    assert_eq!(billed_minutes(3600, true), 60);
}

#[test]
fn since_is_a_duration_back_or_a_time() {
    let now: Timestamp = "2026-11-30T00:00:00Z".parse().unwrap();
    assert_eq!(
        parse_since("30d", now).unwrap(),
        "2026-10-31T00:00:00Z".parse().unwrap()
    );
    assert_eq!(
        parse_since("2026-11-01T00:00:00+09:00", now).unwrap(),
        "2026-10-31T15:00:00Z".parse().unwrap()
    );
    let e = parse_since("last week", now).unwrap_err();
    assert!(e.starts_with("since: \"last week\""), "{e}");
    assert!(
        By::parse("month")
            .unwrap_err()
            .contains("day, user, incident or call_setting")
    );
}

fn group(key: &str, kind: UsageKind, phone: &str, units: u64) -> UsageGroup {
    UsageGroup {
        key: Some(key.into()),
        kind,
        phone: phone.into(),
        price_unit: None,
        count: 1,
        answered: u64::from(units > 0 && kind == UsageKind::Call),
        seconds: units * 50,
        units,
        price: 0.0,
    }
}

#[test]
fn reported_prices_win_and_estimates_fill_the_rest() {
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    let window = (
        "2026-11-01T00:00:00Z".parse().unwrap(),
        "2026-12-01T00:00:00Z".parse().unwrap(),
    );
    let mut priced = group("2026-11-23T14:59", UsageKind::Call, "+819011112222", 2);
    priced.price_unit = Some("USD".into());
    priced.price = 0.5;
    let mut yen = group("2026-11-23T15:00", UsageKind::Call, "+819011112222", 1);
    yen.price_unit = Some("JPY".into());
    yen.price = 30.0;
    let groups = [
        priced,
        // 3 minutes to a mobile at 0.17 and 1 to a landline at 0.10.
        group("2026-11-23T14:00", UsageKind::Call, "+819011112222", 3),
        group("2026-11-23T15:00", UsageKind::Call, "+815011112222", 1),
        // Unanswered: nothing billed.
        group("2026-11-23T15:01", UsageKind::Call, "+819011112222", 0),
        // Two segments at 0.08, and a number no rate covers.
        group("2026-11-23T15:02", UsageKind::Sms, "+819011112222", 2),
        group("2026-11-23T15:03", UsageKind::Call, "+14155550100", 4),
        yen,
    ];
    let report = report(&groups, Vec::new(), By::Day, &rates(), &tokyo, window);
    // 15:00 UTC is midnight in Tokyo: the day changes there.
    let days: Vec<&str> = report
        .rows
        .iter()
        .map(|r| r.key.as_deref().unwrap())
        .collect();
    assert_eq!(days, ["2026-11-23", "2026-11-24"]);
    let first = &report.rows[0];
    assert_eq!((first.calls, first.billed_minutes), (2, 5));
    assert_eq!(
        first.cost,
        [Cost {
            currency: "USD".into(),
            reported: 0.5,
            estimated: 0.51,
            total: 1.01
        }]
    );
    let total = &report.total;
    assert_eq!(total.key, None);
    assert_eq!(
        (total.calls, total.answered, total.billed_minutes),
        (6, 5, 11)
    );
    assert_eq!((total.sms, total.sms_segments), (1, 2));
    assert_eq!(
        total.cost,
        [
            Cost {
                currency: "USD".into(),
                reported: 0.5,
                estimated: 0.77,
                total: 1.27
            },
            Cost {
                currency: "JPY".into(),
                reported: 30.0,
                estimated: 0.0,
                total: 30.0
            }
        ]
    );
}

#[test]
fn incidents_sort_by_number_and_sms_without_one_come_last() {
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    let window = (Timestamp::MIN, Timestamp::MAX);
    let mut none = group("x", UsageKind::Sms, "+819011112222", 1);
    none.key = None;
    let groups = [
        group("10", UsageKind::Call, "+819011112222", 1),
        none,
        group("9", UsageKind::Call, "+819011112222", 1),
    ];
    let report = report(&groups, Vec::new(), By::Incident, &rates(), &tokyo, window);
    let keys: Vec<&str> = report
        .rows
        .iter()
        .map(|r| r.key.as_deref().unwrap())
        .collect();
    assert_eq!(keys, ["9", "10", "-"]);
}

#[tokio::test]
async fn durations_prices_and_sms_recorded_come_back_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.db");
    let store = Store::open(&path).unwrap();
    store.insert_open_incident(1).await;
    store
        .call(|conn| {
            conn.batch(
                "INSERT INTO calls (id, incident_id, user_id, phone, purpose, placed_at, sid,
                                    answered_at, ended_at, keys, acknowledged)
                 VALUES ('1-1', 1, 'a', '+819011112222', 'problem', '2026-11-23T01:00:00.000000000Z',
                         'CA1', '2026-11-23T01:00:05.000000000Z', '2026-11-23T01:01:10.000000000Z', '[]', '[]'),
                        ('1-2', 1, 'a', '+819011112222', 'problem', '2026-11-23T01:05:00.000000000Z',
                         'CA2', '2026-11-23T01:05:05.000000000Z', '2026-11-23T01:07:10.000000000Z', '[]', '[]'),
                        ('1-3', 1, 'b', '+815011112222', 'problem', '2026-11-23T01:06:00.000000000Z',
                         NULL, NULL, NULL, '[]', '[]');",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    // Twilio's duration wins over kaden's own answered-to-ended (65 s); the second call
    // has none and counts 125 s; the third never reached Twilio.
    let usage = CallUsage {
        duration_seconds: Some(61),
        price: Some(-0.34),
        price_unit: Some("USD".into()),
        sid: None,
    };
    store.record_call_usage("1-1".into(), usage).await.unwrap();
    let at = "2026-11-23T01:10:00Z".parse().unwrap();
    for sid in [Some("SM1".to_owned()), None] {
        let sms = SmsRecord {
            user: Some(UserId::new("a")),
            incident: Some(IncidentId::new(1)),
            purpose: "escalation",
            phone: "+819011112222".into(),
            segments: 2,
            sid,
        };
        store.record_sms(sms, at).await.unwrap();
    }
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    let window = (
        "2026-11-23T00:00:00Z".parse().unwrap(),
        "2026-11-24T00:00:00Z".parse().unwrap(),
    );
    let live = from_store(&store, By::User, &rates(), &tokyo, window)
        .await
        .unwrap();
    let rows: Vec<(&str, u64, u64, u64, u64)> = live
        .rows
        .iter()
        .map(|r| {
            (
                r.key.as_deref().unwrap(),
                r.calls,
                r.call_seconds,
                r.billed_minutes,
                r.sms_segments,
            )
        })
        .collect();
    assert_eq!(rows, [("a", 2, 186, 5, 2)], "the refused SMS is not usage");
    let cost = &live.total.cost[0];
    // 0.34 reported for the first call; 3 minutes at 0.17 and 2 segments at 0.08 estimated.
    assert_eq!((cost.reported, cost.estimated), (0.34, 0.67));
    let read = read_only(
        crate::store::Database::Sqlite(&path),
        By::User,
        &rates(),
        &tokyo,
        window,
    )
    .unwrap();
    assert_eq!(read, live, "the CLI reads what the daemon serves");
}

#[test]
fn the_cli_says_which_part_of_a_cost_is_reported_and_which_estimated() {
    let cost = |reported: f64, estimated: f64| Cost {
        currency: "USD".into(),
        reported,
        estimated,
        total: reported + estimated,
    };
    assert_eq!(
        cost_text(&[cost(0.5, 0.51)]),
        "1.01 USD (0.50 reported + 0.51 estimated)"
    );
    assert_eq!(cost_text(&[cost(0.0, 0.013)]), "0.013 USD (estimated)");
    assert_eq!(cost_text(&[cost(2.0, 0.0)]), "2.00 USD (reported)");
    let yen = Cost {
        currency: "JPY".into(),
        reported: 30.0,
        estimated: 0.0,
        total: 30.0,
    };
    assert_eq!(
        cost_text(&[cost(0.0, 0.0), yen]),
        "0.00 USD; 30.00 JPY (reported)"
    );
}

#[tokio::test]
async fn a_trigger_period_is_claimed_once_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.db");
    let fired = FiredTrigger {
        trigger: "calls-per-hour".into(),
        metric: "calls".into(),
        period_start: "2026-11-23T01:00:00.000000000Z".into(),
        fired_at: "2026-11-23T01:20:00.000000000Z".into(),
        value: 50.0,
        threshold: 50.0,
        message: "50 calls".into(),
    };
    {
        let store = Store::open(&path).unwrap();
        assert!(store.claim_trigger(fired.clone()).await.unwrap());
        assert!(!store.claim_trigger(fired.clone()).await.unwrap());
    }
    let store = Store::open(&path).unwrap();
    assert!(
        !store.claim_trigger(fired.clone()).await.unwrap(),
        "after a restart"
    );
    let next_hour = FiredTrigger {
        period_start: "2026-11-23T02:00:00.000000000Z".into(),
        ..fired.clone()
    };
    assert!(store.claim_trigger(next_hour).await.unwrap());
    let listed = store.fired_triggers(None).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], fired);
}

#[tokio::test]
async fn the_call_resource_gives_the_duration_and_the_price_once_twilio_has_it() {
    use crate::telephony::twilio::{CallStatus, TwilioClient};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let account = "AC00000000000000000000000000000000";
    for (sid, price) in [
        ("CA1", serde_json::json!("-0.01300")),
        ("CA2", serde_json::Value::Null),
    ] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/2010-04-01/Accounts/{account}/Calls/{sid}.json"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "sid": sid, "status": "completed", "duration": "61",
                "price": price, "price_unit": "USD",
            })))
            .mount(&server)
            .await;
    }
    let client = TwilioClient::new(
        &server.uri(),
        account,
        "token".to_owned().into(),
        "+815000000000",
        false,
        1,
    );
    let CallStatus::Ended(_, usage) = client.fetch_call("CA1").await.unwrap() else {
        panic!("the call ended");
    };
    assert_eq!(
        usage,
        CallUsage {
            duration_seconds: Some(61),
            price: Some(-0.013),
            price_unit: Some("USD".into()),
            sid: None,
        }
    );
    let CallStatus::Ended(_, usage) = client.fetch_call("CA2").await.unwrap() else {
        panic!("the call ended");
    };
    assert_eq!((usage.duration_seconds, usage.price), (Some(61), None));
}

#[tokio::test]
async fn calls_awaiting_a_price_are_found_and_their_checks_survive_a_restart() {
    use jiff::SignedDuration;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaden.db");
    let six_hours = SignedDuration::from_hours(6);
    let ended: Timestamp = "2026-11-23T01:01:00Z".parse().unwrap();
    {
        let store = Store::open(&path).unwrap();
        store.insert_open_incident(1).await;
        store
            .call(|conn| {
                conn.batch(
                    "INSERT INTO calls (id, incident_id, user_id, phone, purpose, placed_at, sid,
                                        answered_at, ended_at, keys, acknowledged)
                     VALUES ('1-1', 1, 'a', '+8190', 'problem', '2026-11-23T01:00:00.000000000Z',
                             'CA1', NULL, '2026-11-23T01:01:00.000000000Z', '[]', '[]'),
                            ('1-2', 1, 'a', '+8190', 'problem', '2026-11-23T01:00:00.000000000Z',
                             'CA2', NULL, NULL, '[]', '[]'),
                            ('1-3', 1, 'a', '+8190', 'problem', '2026-11-23T01:00:00.000000000Z',
                             NULL, NULL, '2026-11-23T01:00:01.000000000Z', '[]', '[]'),
                            ('1-4', 1, 'a', '+8190', 'problem', '2026-11-23T01:00:00.000000000Z',
                             'CA4', NULL, '2026-11-23T01:01:00.000000000Z', '[]', '[]'),
                            ('1-5', 1, 'a', '+8190', 'problem', '2026-11-23T01:00:00.000000000Z',
                             'CA5', NULL, '2026-11-23T01:01:00.000000000Z', '[]', '[]');",
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let ids = |awaiting: Vec<crate::store::AwaitingPrice>| -> Vec<String> {
            awaiting.into_iter().map(|c| c.call_id).collect()
        };
        // Live (1-2) and never placed (1-3) calls have no price to wait for.
        let awaiting = store.calls_awaiting_price(4, six_hours).await.unwrap();
        assert_eq!(ids(awaiting.clone()), ["1-1", "1-4", "1-5"]);
        assert_eq!(
            awaiting[0],
            crate::store::AwaitingPrice {
                call_id: "1-1".into(),
                sid: "CA1".into(),
                ended_at: ended,
                checks: 0,
                checked_at: None,
            }
        );
        // 1-1 is checked without a price; 1-4 gets its price; 1-5 is checked after its
        // last time (given up).
        let first_check = ended + SignedDuration::from_mins(1);
        store
            .record_price_check("1-1".into(), CallUsage::default(), first_check)
            .await
            .unwrap();
        let priced = CallUsage {
            duration_seconds: Some(0),
            price: Some(-0.0),
            price_unit: Some("USD".into()),
            sid: None,
        };
        store
            .record_price_check("1-4".into(), priced, first_check)
            .await
            .unwrap();
        store
            .record_price_check(
                "1-5".into(),
                CallUsage::default(),
                ended + six_hours + SignedDuration::from_secs(1),
            )
            .await
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let awaiting = store.calls_awaiting_price(4, six_hours).await.unwrap();
    assert_eq!(awaiting.len(), 1, "{awaiting:?}");
    assert_eq!(
        (awaiting[0].checks, awaiting[0].checked_at),
        (1, Some(ended + SignedDuration::from_mins(1)))
    );
    assert!(
        store
            .calls_awaiting_price(1, six_hours)
            .await
            .unwrap()
            .is_empty(),
        "checked as often as allowed"
    );
    let filter = crate::store::CallFilter {
        incident: None,
        limit: 10,
    };
    let calls = store.calls(filter).await.unwrap();
    let priced = calls.iter().find(|c| c.id == "1-4").unwrap();
    assert_eq!(
        (priced.price, priced.price_unit.as_deref()),
        (Some(0.0), Some("USD"))
    );
}
