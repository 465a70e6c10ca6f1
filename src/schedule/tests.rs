//! Rotation tables to the second, layers, windows, overrides, DST in New York and Berlin,
//! properties over random schedules, and the .ics feed read back by an independent parser.

use super::*;
use jiff::civil::{Time, Weekday};

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn users(ids: &[&str]) -> Vec<UserId> {
    ids.iter().map(|i| UserId::new(*i)).collect()
}

fn rotation(every_hours: i64, handoff: &str, members: &[&str]) -> Rotation {
    Rotation {
        every: SignedDuration::from_hours(every_hours),
        handoff: handoff.parse().unwrap(),
        members: users(members),
    }
}

fn schedule(zone: &str, layers: Vec<Layer>) -> Schedule {
    Schedule {
        notify_before: None,
        id: ScheduleId::new("s"),
        timezone: tz(zone),
        layers,
    }
}

fn base(rotation: Rotation) -> Layer {
    Layer {
        rotation,
        window: None,
    }
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn who(s: &Schedule, o: &[Override], t: &str) -> String {
    on_call_at(s, o, at(t)).map_or("nobody".into(), |u| u.to_string())
}

#[test]
fn weekly_rotation_hands_off_at_the_local_time() {
    let s = schedule(
        "Asia/Tokyo",
        vec![base(rotation(168, "2026-11-02T10:00", &["a", "b"]))],
    );
    // 10:00 in Tokyo is 01:00 UTC.
    assert_eq!(who(&s, &[], "2026-11-09T00:59:59Z"), "a");
    assert_eq!(who(&s, &[], "2026-11-09T01:00:00Z"), "b");
    assert_eq!(who(&s, &[], "2026-11-16T01:00:00Z"), "a");
    assert_eq!(
        who(&s, &[], "2026-10-30T00:00:00Z"),
        "b",
        "before the handoff the rotation runs backwards"
    );
}

#[test]
fn member_changes_follow_the_table() {
    let s = schedule(
        "Asia/Tokyo",
        vec![base(rotation(24, "2026-11-01T09:00", &["a", "b", "c"]))],
    );
    let table = [
        ("2026-11-01T00:00:00Z", "a"),
        ("2026-11-02T00:00:00Z", "b"),
        ("2026-11-03T00:00:00Z", "c"),
        ("2026-11-03T23:59:59Z", "c"),
        ("2026-11-04T00:00:00Z", "a"),
    ];
    for (t, expected) in table {
        assert_eq!(who(&s, &[], t), expected, "{t}");
    }
}

#[test]
fn daily_handoff_stays_at_nine_across_new_york_dst() {
    let s = schedule(
        "America/New_York",
        vec![base(rotation(24, "2026-03-01T09:00", &["a", "b"]))],
    );
    // 2026-03-08 clocks go forward: 09:00 is 14:00Z before, 13:00Z after.
    let handoffs = s.layers[0].rotation.handoffs(
        at("2026-03-06T00:00:00Z"),
        at("2026-03-11T00:00:00Z"),
        &s.timezone,
    );
    let expected = [
        "2026-03-06T14:00:00Z",
        "2026-03-07T14:00:00Z",
        "2026-03-08T13:00:00Z",
        "2026-03-09T13:00:00Z",
        "2026-03-10T13:00:00Z",
    ];
    assert_eq!(handoffs, expected.map(at));
    assert_eq!(who(&s, &[], "2026-03-08T12:59:59Z"), "a");
    assert_eq!(who(&s, &[], "2026-03-08T13:00:00Z"), "b");
}

#[test]
fn twelve_hour_shifts_stay_at_nine_and_nine_across_berlin_dst() {
    let s = schedule(
        "Europe/Berlin",
        vec![base(rotation(12, "2026-10-20T09:00", &["day", "night"]))],
    );
    // 2026-10-25 clocks go back at 03:00: the night shift lasts 13 hours.
    let handoffs = s.layers[0].rotation.handoffs(
        at("2026-10-24T12:00:00Z"),
        at("2026-10-25T22:00:00Z"),
        &s.timezone,
    );
    assert_eq!(
        handoffs,
        [
            "2026-10-24T19:00:00Z",
            "2026-10-25T08:00:00Z",
            "2026-10-25T20:00:00Z"
        ]
        .map(at)
    );
    assert_eq!(who(&s, &[], "2026-10-25T07:59:59Z"), "night");
    assert_eq!(who(&s, &[], "2026-10-25T08:00:00Z"), "day");
}

#[test]
fn a_handoff_inside_a_dst_gap_still_gives_one_answer() {
    // 02:30 does not exist in New York on 2026-03-08.
    let s = schedule(
        "America/New_York",
        vec![base(rotation(24, "2026-03-01T02:30", &["a", "b"]))],
    );
    let mut t = at("2026-03-08T05:00:00Z");
    while t < at("2026-03-08T09:00:00Z") {
        assert!(on_call_at(&s, &[], t).is_some());
        t = t.checked_add(SignedDuration::from_mins(1)).unwrap();
    }
}

fn weekend() -> Window {
    Window::Weekly {
        days: vec![Weekday::Saturday, Weekday::Sunday],
        from: Time::midnight(),
        to: Time::midnight(),
    }
}

fn nights() -> Window {
    let days = vec![
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ];
    Window::Weekly {
        days,
        from: "18:00".parse().unwrap(),
        to: "09:00".parse().unwrap(),
    }
}

#[test]
fn later_layers_win_inside_their_window() {
    let s = schedule(
        "Asia/Tokyo",
        vec![
            base(rotation(168, "2026-11-02T10:00", &["a"])),
            Layer {
                rotation: rotation(168, "2026-11-02T10:00", &["night"]),
                window: Some(nights()),
            },
            Layer {
                rotation: rotation(168, "2026-11-02T10:00", &["weekend"]),
                window: Some(weekend()),
            },
        ],
    );
    // 2026-11-23 is a Monday; Tokyo is UTC+9.
    assert_eq!(who(&s, &[], "2026-11-23T03:00:00Z"), "a", "Monday 12:00");
    assert_eq!(
        who(&s, &[], "2026-11-23T09:00:00Z"),
        "night",
        "Monday 18:00"
    );
    assert_eq!(
        who(&s, &[], "2026-11-23T23:59:00Z"),
        "night",
        "Tuesday 08:59, the Monday night"
    );
    assert_eq!(who(&s, &[], "2026-11-24T00:00:00Z"), "a", "Tuesday 09:00");
    assert_eq!(
        who(&s, &[], "2026-11-28T03:00:00Z"),
        "weekend",
        "Saturday noon"
    );
    assert_eq!(
        who(&s, &[], "2026-11-29T23:00:00Z"),
        "a",
        "Monday 08:00 belongs to Sunday night, outside the window"
    );
    // Saturday 08:00 is still Friday night... but the weekend layer is later and wins.
    assert_eq!(who(&s, &[], "2026-11-27T23:00:00Z"), "weekend");
}

#[test]
fn a_window_without_a_base_layer_leaves_gaps() {
    let s = schedule(
        "Asia/Tokyo",
        vec![Layer {
            rotation: rotation(168, "2026-11-02T10:00", &["w"]),
            window: Some(weekend()),
        }],
    );
    assert_eq!(who(&s, &[], "2026-11-23T03:00:00Z"), "nobody");
    assert_eq!(who(&s, &[], "2026-11-28T03:00:00Z"), "w");
}

#[test]
fn cron_windows_match_minute_by_minute() {
    let cron = window::parse_cron("* 0-8 * * Mon-Fri").unwrap();
    let s = schedule(
        "Europe/Berlin",
        vec![
            base(rotation(168, "2026-11-02T10:00", &["day"])),
            Layer {
                rotation: rotation(168, "2026-11-02T10:00", &["early"]),
                window: Some(Window::Cron(Box::new(cron))),
            },
        ],
    );
    // Berlin is UTC+1 in November.
    assert_eq!(
        who(&s, &[], "2026-11-23T07:59:00Z"),
        "early",
        "Monday 08:59"
    );
    assert_eq!(who(&s, &[], "2026-11-23T08:00:00Z"), "day", "Monday 09:00");
    assert_eq!(who(&s, &[], "2026-11-22T06:00:00Z"), "day", "Sunday");
    assert!(window::parse_cron("not cron").is_err());
}

#[test]
fn overrides_win_over_layers() {
    let s = schedule(
        "Asia/Tokyo",
        vec![base(rotation(168, "2026-11-02T10:00", &["a", "b"]))],
    );
    let covers_a = Override {
        id: 1,
        schedule: ScheduleId::new("s"),
        user: UserId::new("c"),
        replaces: Some(UserId::new("a")),
        start: at("2026-11-02T01:00:00Z"),
        end: at("2026-11-20T00:00:00Z"),
    };
    let o = [covers_a.clone()];
    assert_eq!(who(&s, &o, "2026-11-03T00:00:00Z"), "c", "c covers a");
    assert_eq!(
        who(&s, &o, "2026-11-10T00:00:00Z"),
        "b",
        "b's week is not a's"
    );
    assert_eq!(who(&s, &o, "2026-11-16T02:00:00Z"), "c");
    assert_eq!(
        who(&s, &o, "2026-11-20T00:00:00Z"),
        "a",
        "the end is exclusive"
    );
    let whole = Override {
        id: 2,
        replaces: None,
        user: UserId::new("d"),
        ..covers_a
    };
    assert_eq!(
        who(&s, &[o[0].clone(), whole], "2026-11-03T00:00:00Z"),
        "d",
        "the newest override wins"
    );
}

#[test]
fn shifts_merge_and_cover_the_range() {
    let s = schedule(
        "Asia/Tokyo",
        vec![base(rotation(24, "2026-11-01T09:00", &["a", "a", "b"]))],
    );
    let list = shifts(
        &s,
        &[],
        at("2026-11-01T00:00:00Z"),
        at("2026-11-05T00:00:00Z"),
    );
    let summary: Vec<(String, Timestamp)> = list
        .iter()
        .map(|sh| (sh.user.clone().unwrap().to_string(), sh.start))
        .collect();
    assert_eq!(
        summary,
        [
            ("a".into(), at("2026-11-01T00:00:00Z")),
            ("b".into(), at("2026-11-03T00:00:00Z")),
            ("a".into(), at("2026-11-04T00:00:00Z"))
        ],
        "two days of a in a row are one shift"
    );
    assert_eq!(list.last().unwrap().end, at("2026-11-05T00:00:00Z"));
    let next = next_handoffs(&s, &[], at("2026-11-01T12:00:00Z"), 2);
    assert_eq!(
        next.iter().map(|sh| sh.start).collect::<Vec<_>>(),
        [at("2026-11-03T00:00:00Z"), at("2026-11-04T00:00:00Z")]
    );
}

#[test]
fn walking_a_dst_day_minute_by_minute_agrees_with_the_shifts() {
    let s = schedule(
        "America/New_York",
        vec![
            base(rotation(8, "2026-11-01T00:00", &["a", "b", "c"])),
            Layer {
                rotation: rotation(24, "2026-11-01T00:00", &["n"]),
                window: Some(nights()),
            },
        ],
    );
    let (from, to) = (at("2026-11-01T00:00:00Z"), at("2026-11-03T00:00:00Z"));
    let list = shifts(&s, &[], from, to);
    let mut t = from;
    while t < to {
        let shift = list
            .iter()
            .find(|sh| sh.start <= t && t < sh.end)
            .expect("every minute is in a shift");
        assert_eq!(shift.user, on_call_at(&s, &[], t), "{t}");
        t = t.checked_add(SignedDuration::from_mins(1)).unwrap();
    }
}

#[test]
fn ics_feed_reads_back_with_an_independent_parser() {
    let s = schedule(
        "Asia/Tokyo",
        vec![base(rotation(24, "2026-11-01T09:00", &["a", "b"]))],
    );
    let list = shifts(
        &s,
        &[],
        at("2026-11-01T00:00:00Z"),
        at("2026-11-04T00:00:00Z"),
    );
    let events: Vec<ics::Event> = list
        .iter()
        .map(|shift| ics::Event {
            schedule: &s.id,
            shift,
            summary: format!(
                "On call: 山田, the long name; with \\ and, commas {}",
                "長".repeat(40)
            ),
        })
        .collect();
    let text = ics::calendar("kaden s", &events, at("2026-11-01T00:00:00Z"));
    assert!(
        text.lines().all(|l| l.len() <= 76),
        "lines are folded at 75 octets"
    );
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let calendar = parser.next().expect("one calendar").expect("it parses");
    assert_eq!(calendar.events.len(), 3);
    let prop = |e: &ical::parser::ical::component::IcalEvent, name: &str| {
        e.properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
            .unwrap()
    };
    assert_eq!(prop(&calendar.events[0], "DTSTART"), "20261101T000000Z");
    assert_eq!(prop(&calendar.events[1], "DTSTART"), "20261102T000000Z");
    assert_eq!(prop(&calendar.events[2], "DTEND"), "20261104T000000Z");
    assert!(
        prop(&calendar.events[0], "SUMMARY")
            .starts_with("On call: 山田\\, the long name\\; with \\\\ and\\, commas 長長")
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_schedule() -> impl Strategy<Value = Schedule> {
        let zone = prop_oneof![
            Just("Asia/Tokyo"),
            Just("America/New_York"),
            Just("Europe/Berlin")
        ];
        let every = prop_oneof![Just(1i64), Just(8), Just(12), Just(24), Just(168)];
        let layer = (every, 0i64..400, 0i64..24, 1usize..4, any::<bool>());
        (zone, prop::collection::vec(layer, 1..3)).prop_map(|(zone, layers)| {
            let layers = layers
                .into_iter()
                .enumerate()
                .map(|(i, (every, day, hour, members, windowed))| {
                    let handoff = jiff::civil::date(2025, 6, 1)
                        .at(hour as i8, 0, 0, 0)
                        .checked_add(SignedDuration::from_hours(24 * day))
                        .unwrap();
                    let names: Vec<String> = (0..members).map(|m| format!("u{i}{m}")).collect();
                    Layer {
                        rotation: Rotation {
                            every: SignedDuration::from_hours(every),
                            handoff,
                            members: names.iter().map(|n| UserId::new(n.as_str())).collect(),
                        },
                        window: (i > 0 && windowed).then(nights),
                    }
                })
                .collect();
            schedule(zone, layers)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn exactly_one_person_at_every_instant(s in arb_schedule(), offset in 0i64..(3 * 365 * 86400)) {
            let t = at("2025-01-01T00:00:00Z").checked_add(SignedDuration::from_secs(offset)).unwrap();
            // The first layer has no window, so someone is always on call.
            prop_assert!(on_call_at(&s, &[], t).is_some());
        }

        #[test]
        fn shifts_cover_the_range_without_gaps_or_overlaps(s in arb_schedule(), start in 0i64..(365 * 86400), hours in 1i64..(24 * 10)) {
            let from = at("2026-01-01T00:00:00Z").checked_add(SignedDuration::from_secs(start)).unwrap();
            let to = from.checked_add(SignedDuration::from_hours(hours)).unwrap();
            let list = shifts(&s, &[], from, to);
            let first = list.first().unwrap();
            prop_assert!(first.start <= from && from < first.end, "the shift in progress at from");
            let lookback = from.checked_sub(SignedDuration::from_hours(24 * 92)).unwrap();
            if first.start > lookback {
                let before = first.start.checked_sub(SignedDuration::from_secs(1)).unwrap();
                prop_assert_ne!(&on_call_at(&s, &[], before), &first.user, "it starts at a real change");
            }
            // Asked an hour later, the shift in progress is the same shift (stable UIDs),
            // unless it began before the lookback.
            let hour = SignedDuration::from_hours(1);
            let later_from = from.checked_add(hour).unwrap();
            if later_from < first.end && first.start > lookback {
                let later = shifts(&s, &[], later_from, to.checked_add(hour).unwrap());
                prop_assert_eq!(later[0].start, first.start);
            }
            prop_assert_eq!(list.last().unwrap().end, to);
            for pair in list.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start, "contiguous");
                prop_assert_ne!(&pair[0].user, &pair[1].user, "a change of person at every boundary");
            }
            for sh in &list {
                prop_assert!(sh.start < sh.end);
                prop_assert_eq!(&on_call_at(&s, &[], sh.start), &sh.user);
                let last = sh.end.checked_sub(SignedDuration::from_secs(1)).unwrap();
                prop_assert_eq!(&on_call_at(&s, &[], last), &sh.user);
            }
        }
    }
}
