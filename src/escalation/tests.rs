//! design.md "Call behaviour", rule by rule, plus X-MON's Q&A (seeds 002, 27.10), as
//! scenarios on an injected clock; and property tests over random timelines.

use super::*;
use crate::domain::{
    AlertId, AlertKind, IncidentId, Keypad, PhoneNumber, ScheduleId, Severity, Source, SourceRef,
    UserId,
};
use jiff::Timestamp;
use std::collections::HashMap;
use std::time::Duration;

struct TestRoster {
    people: HashMap<UserId, Person>,
    on_call: HashMap<ScheduleId, UserId>,
}

impl Roster for TestRoster {
    fn person(&self, id: &UserId) -> Option<Person> {
        self.people.get(id).cloned()
    }
    fn on_call(&self, schedule: &ScheduleId, _: Timestamp) -> Option<UserId> {
        self.on_call.get(schedule).cloned()
    }
}

fn roster() -> TestRoster {
    let people = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let person = Person {
                id: UserId::new(*id),
                name: id.to_uppercase(),
                phone: PhoneNumber::parse(&format!("+8190000000{i}")).unwrap(),
            };
            (person.id.clone(), person)
        })
        .collect();
    let on_call = [(ScheduleId::new("primary"), UserId::new("b"))]
        .into_iter()
        .collect();
    TestRoster { people, on_call }
}

fn setting(broadcast: bool, targets: &[&str]) -> SettingSnapshot {
    SettingSnapshot {
        id: crate::domain::CallSettingId::new("infra"),
        broadcast,
        targets: targets
            .iter()
            .map(|t| match t.strip_prefix("schedule:") {
                Some(s) => SnapshotTarget::Schedule(ScheduleId::new(s)),
                None => SnapshotTarget::User(UserId::new(*t)),
            })
            .collect(),
        ring_timeout: Duration::from_secs(20),
        retry_after: Duration::from_secs(60),
        max_callbacks: 2,
        rounds: 2,
        notify_recovery: true,
        keypad_timeout: Duration::from_secs(30),
        sms_on_exhaustion: true,
        reescalate_after: None,
    }
}

/// One incident's escalation, driven like the runner drives it.
struct World {
    esc: Escalation,
    roster: TestRoster,
    now: Timestamp,
    next_alert: i64,
    /// Every effect so far, in order.
    records: Vec<Record>,
    actions: Vec<Action>,
    per_number_limit: u32,
    keypad: Keypad,
}

impl World {
    fn new(setting: SettingSnapshot) -> World {
        World {
            esc: Escalation::new(IncidentId::new(7), setting),
            roster: roster(),
            now: "2026-11-23T18:00:00Z".parse().unwrap(),
            next_alert: 1,
            records: Vec::new(),
            actions: Vec::new(),
            per_number_limit: 100,
            keypad: Keypad::default(),
        }
    }
    fn round_robin(targets: &[&str]) -> World {
        World::new(setting(false, targets))
    }
    fn broadcast(targets: &[&str]) -> World {
        World::new(setting(true, targets))
    }

    fn input(&mut self, input: Input) -> Step {
        let ctx = Ctx {
            roster: &self.roster,
            per_number_limit: self.per_number_limit,
            per_number_window: Duration::from_secs(3600),
            downtime_minutes: 60,
            keypad: self.keypad,
        };
        let fx = self.esc.handle(input, self.now, &ctx);
        self.records.extend(fx.records.iter().cloned());
        self.actions.extend(fx.actions.iter().cloned());
        fx
    }

    fn alert(&mut self, kind: AlertKind, key: &str) -> Step {
        let (host, service) = match key.split_once('/') {
            Some((h, s)) => (h.to_owned(), Some(s.to_owned())),
            None => (key.to_owned(), None),
        };
        let alert_id = AlertId::new(self.next_alert);
        self.next_alert += 1;
        self.input(Input::Alert(AlertInput {
            alert_id,
            kind,
            key: ItemKey {
                source: Source::Zabbix,
                key: key.into(),
            },
            host,
            service,
            severity: Severity::High,
            state_word: kind.as_str().to_uppercase(),
            output: format!("{key} output"),
            source_ref: SourceRef::Zabbix {
                event_id: alert_id.get() as u64,
            },
        }))
    }
    fn problem(&mut self, key: &str) -> Step {
        self.alert(AlertKind::Problem, key)
    }
    fn recovery(&mut self, key: &str) -> Step {
        self.alert(AlertKind::Recovery, key)
    }

    /// Moves the clock and ticks, as the runner's timer does.
    fn wait(&mut self, secs: i64) -> Step {
        self.now = self
            .now
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap();
        self.input(Input::Tick)
    }

    fn answer(&mut self, call: &CallId) -> Prompt {
        respond(self.input(Input::Answered { call: call.clone() }))
    }
    fn press(&mut self, call: &CallId, digits: &str) -> Prompt {
        respond(self.input(Input::Digits {
            call: call.clone(),
            digits: digits.into(),
        }))
    }
    fn end(&mut self, call: &CallId, outcome: CallOutcome) -> Step {
        self.input(Input::Ended {
            call: call.clone(),
            outcome,
        })
    }

    fn live_calls(&self) -> Vec<(CallId, String)> {
        self.esc
            .calls
            .iter()
            .map(|c| (c.id.clone(), c.user.to_string()))
            .collect()
    }
    /// The one live call, to `user`.
    fn call_to(&self, user: &str) -> CallId {
        let calls: Vec<_> = self
            .esc
            .calls
            .iter()
            .filter(|c| c.user.as_str() == user)
            .collect();
        assert_eq!(
            calls.len(),
            1,
            "expected one live call to {user}: {:?}",
            self.live_calls()
        );
        calls[0].id.clone()
    }
    fn acks(&self) -> Vec<(Vec<i64>, AckBy)> {
        self.records
            .iter()
            .filter_map(|e| match e {
                Record::Acknowledged { items, by } => {
                    Some((items.iter().map(|i| i.alert_id.get()).collect(), by.clone()))
                }
                _ => None,
            })
            .collect()
    }
}

fn placed(fx: &Step) -> Vec<String> {
    placed_in(&fx.actions)
}

fn placed_in(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|e| match e {
            Action::PlaceCall { user, .. } => Some(user.to_string()),
            _ => None,
        })
        .collect()
}

fn ended(fx: &Step) -> Vec<CallId> {
    fx.actions
        .iter()
        .filter_map(|e| match e {
            Action::EndCall { call, .. } => Some(call.clone()),
            _ => None,
        })
        .collect()
}

/// The outcomes the call log recorded for `call` in these effects.
fn recorded(fx: &Step, call: &CallId) -> Vec<OutcomeLabel> {
    fx.records
        .iter()
        .filter_map(|e| match e {
            Record::Call(r) if &r.call_id == call => r.outcome,
            _ => None,
        })
        .collect()
}

fn respond(fx: Step) -> Prompt {
    let prompts: Vec<Prompt> = fx
        .actions
        .into_iter()
        .filter_map(|e| match e {
            Action::Respond(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(prompts.len(), 1, "exactly one answer per webhook");
    prompts.into_iter().next().unwrap()
}

fn summary(p: &Prompt) -> (usize, usize, usize) {
    p.lines
        .iter()
        .find_map(|l| match l {
            Line::Summary {
                host_problems,
                service_problems,
                recoveries,
            } => Some((*host_problems, *service_problems, *recoveries)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no summary in {p:?}"))
}

// Rule 1: routing is tested in routing.rs; aggregation here.

#[test]
fn several_alerts_aggregate_into_one_call() {
    let mut w = World::round_robin(&["a", "b"]);
    assert_eq!(placed(&w.problem("web-01/HTTP")), ["a"]);
    assert_eq!(
        placed(&w.problem("db-01")),
        Vec::<String>::new(),
        "no second parallel call"
    );
    let call = w.call_to("a");
    assert_eq!(summary(&w.answer(&call)), (1, 1, 0));
}

#[test]
fn alerts_during_a_call_are_played_in_the_next_call() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    assert_eq!(summary(&w.answer(&call)), (0, 1, 0));
    w.problem("db-01"); // arrives after the summary was played
    assert_eq!(w.press(&call, "9").after, After::Hangup);
    assert_eq!(w.acks().len(), 1, "9# acknowledges only what was heard");
    assert_eq!(w.acks()[0].0, [1]);
    let fx = w.end(&call, CallOutcome::Completed);
    assert_eq!(
        placed(&fx),
        ["a"],
        "the unheard alert is called in at once (Q&A: 9# then additions)"
    );
    let next = w.call_to("a");
    assert_eq!(summary(&w.answer(&next)), (1, 0, 0), "only the new alert");
}

#[test]
fn replaying_the_summary_includes_alerts_that_arrived_during_the_call() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    w.problem("web-02/HTTP");
    assert_eq!(summary(&w.press(&call, "7")), (0, 2, 0));
    w.press(&call, "9");
    assert_eq!(w.acks()[0].0, [1, 2]);
}

// Rule 2.

#[test]
fn problem_then_recovery_before_answer_plays_one_recovery() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let ringing = w.call_to("a");
    let fx = w.recovery("web-01/HTTP");
    assert_eq!(
        ended(&fx),
        std::slice::from_ref(&ringing),
        "the ringing escalation call is canceled"
    );
    w.end(&ringing, CallOutcome::Canceled);
    let notice = w.call_to("a");
    assert_eq!(w.esc.calls[0].purpose, CallPurpose::Notice);
    assert_eq!(
        summary(&w.answer(&notice)),
        (0, 0, 1),
        "one recovery notice, no problem"
    );
    w.end(&notice, CallOutcome::Completed);
    assert!(w.esc.is_idle());
    assert_eq!(placed(&w.wait(3600)), Vec::<String>::new());
}

#[test]
fn recovery_then_problem_plays_one_problem() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.recovery("web-01/HTTP");
    w.problem("web-01/HTTP");
    // The first call was canceled by the recovery; the problem came back before it ended.
    w.end(&call, CallOutcome::Canceled);
    let call = w.call_to("a");
    assert_eq!(summary(&w.answer(&call)), (0, 1, 0));
}

#[test]
fn host_problems_are_played_before_service_problems() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    w.problem("db-01");
    w.problem("app-01/SSH");
    let call = w.call_to("a");
    w.answer(&call);
    let details = w.press(&call, "1");
    let order: Vec<_> = details
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Detail(v) => Some(format!(
                "{}/{}",
                v.host,
                v.service.clone().unwrap_or_default()
            )),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["db-01/", "app-01/SSH", "web-01/HTTP"]);
}

// Rule 3: the keypad menu.

#[test]
fn one_hash_plays_the_details_then_the_menu() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    let greeting = w.answer(&call);
    assert!(matches!(greeting.lines[0], Line::Greeting { .. }));
    assert_eq!(greeting.lines.last(), Some(&Line::Menu));
    assert_eq!(greeting.after, After::Gather);
    let details = w.press(&call, "1");
    assert!(matches!(&details.lines[0], Line::Detail(v) if v.output == "web-01/HTTP output"));
    assert_eq!(details.after, After::Gather);
}

#[test]
fn two_hash_passes_to_the_next_person_now() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    assert_eq!(w.press(&call, "2").after, After::Hangup);
    assert_eq!(
        placed(&w.end(&call, CallOutcome::Completed)),
        ["b"],
        "no retry delay, no call-back"
    );
}

#[test]
fn three_hash_acks_only_alerts_heard() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    w.press(&call, "1"); // details of web-01/HTTP
    w.problem("db-01"); // heard in no detail
    let p = w.press(&call, "3");
    assert_eq!(p.lines[0], Line::Acknowledged { count: 1 });
    assert_eq!(w.acks()[0].0, [1]);
    assert_eq!(summary(&p), (1, 0, 0), "the rest is summarized again");
    assert_eq!(p.after, After::Gather);
}

#[test]
fn four_hash_schedules_downtime_and_acknowledges() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    let p = w.press(&call, "4");
    assert!(p.lines.contains(&Line::Downtime { minutes: 60 }));
    assert_eq!(p.after, After::Hangup);
    let downtime = w.records.iter().find_map(|e| match e {
        Record::Downtime { items, minutes, .. } => Some((items.len(), *minutes)),
        _ => None,
    });
    assert_eq!(downtime, Some((1, 60)));
    assert_eq!(w.acks().len(), 1);
}

#[test]
fn nine_hash_acks_everything_and_ends_the_call() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    w.problem("db-01");
    let call = w.call_to("a");
    w.answer(&call);
    let p = w.press(&call, "9");
    assert_eq!(p.lines[0], Line::Acknowledged { count: 2 });
    assert!(matches!(p.lines.last(), Some(Line::Closing { .. })));
    assert_eq!(p.after, After::Hangup);
    let (alerts, by) = &w.acks()[0];
    assert_eq!(alerts, &[1, 2]);
    assert_eq!(
        by,
        &AckBy::Phone {
            user: UserId::new("a"),
            call: call.clone(),
            key: Some("9#".into()),
        }
    );
    w.end(&call, CallOutcome::Completed);
    assert_eq!(w.esc.status, Status::Quiet);
    assert_eq!(
        placed(&w.wait(3600)),
        Vec::<String>::new(),
        "nobody is called again"
    );
}

#[test]
fn configured_keys_pick_the_entries() {
    let mut w = World::round_robin(&["a"]);
    w.keypad = Keypad {
        details: '9',
        acknowledge_all: '*',
        ..Keypad::default()
    };
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    let details = w.press(&call, "9");
    assert!(matches!(details.lines[0], Line::Detail(_)), "{details:?}");
    assert!(w.acks().is_empty(), "9 is no longer acknowledge-all");
    let p = w.press(&call, "*");
    assert_eq!(p.lines[0], Line::Acknowledged { count: 1 });
    assert_eq!(p.after, After::Hangup);
    assert!(matches!(
        &w.acks()[0].1,
        AckBy::Phone { key: Some(key), .. } if key == "*#"
    ));
}

#[test]
fn unknown_key_replays_the_summary_and_the_menu() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    let p = w.press(&call, "5");
    assert_eq!(summary(&p), (0, 1, 0));
    assert_eq!(p.lines.last(), Some(&Line::Menu));
}

#[test]
fn hash_alone_ends_the_call_and_calls_back_the_same_person() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    assert_eq!(w.press(&call, "").after, After::Hangup);
    assert_eq!(
        placed(&w.end(&call, CallOutcome::Completed)),
        Vec::<String>::new()
    );
    assert_eq!(
        placed(&w.wait(59)),
        Vec::<String>::new(),
        "not before retry_after"
    );
    assert_eq!(placed(&w.wait(1)), ["a"]);
}

#[test]
fn hangup_without_ack_calls_back_same_person() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    for _ in 0..2 {
        let call = w.call_to("a");
        w.answer(&call);
        w.end(&call, CallOutcome::Completed);
        assert_eq!(placed(&w.wait(60)), ["a"]);
    }
    // max_callbacks (2) used up: the next hang-up moves on.
    let call = w.call_to("a");
    w.answer(&call);
    assert_eq!(placed(&w.end(&call, CallOutcome::Completed)), ["b"]);
}

#[test]
fn keypad_silence_ends_unacknowledged_and_calls_back() {
    // Twilio's Gather times out after keypad_timeout and falls through to Hangup; kaden
    // then only sees the call complete, answered, with no acknowledgement.
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    w.wait(30);
    w.end(&call, CallOutcome::Completed);
    assert_eq!(placed(&w.wait(60)), ["a"]);
}

// Rule 4 and 5.

#[test]
fn machine_answer_moves_to_next_person() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    let fx = w.input(Input::Machine { call: call.clone() });
    assert_eq!(ended(&fx), std::slice::from_ref(&call), "hung up at once");
    assert_eq!(placed(&w.end(&call, CallOutcome::Completed)), ["b"]);
    assert!(w.acks().is_empty(), "voicemail never acknowledges");
}

#[test]
fn no_answer_busy_and_failure_move_to_next_person() {
    for outcome in [CallOutcome::NoAnswer, CallOutcome::Failed] {
        let mut w = World::round_robin(&["a", "b"]);
        w.problem("web-01/HTTP");
        let call = w.call_to("a");
        w.wait(25);
        assert_eq!(placed(&w.end(&call, outcome)), ["b"], "{outcome:?}");
    }
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.wait(18); // busy after ringing a while: a line that is busy, not a decline
    assert_eq!(placed(&w.end(&call, CallOutcome::Busy)), ["b"]);
}

#[test]
fn round_robin_exhausted_sends_sms() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    for round in 0..2 {
        for user in ["a", "b"] {
            let call = w.call_to(user);
            w.wait(20);
            w.end(&call, CallOutcome::NoAnswer);
        }
        if round == 0 {
            assert_eq!(
                placed(&w.wait(60)),
                ["a"],
                "the next round starts after retry_after"
            );
        }
    }
    assert_eq!(w.esc.status, Status::Exhausted);
    let sms: Vec<_> = w
        .actions
        .iter()
        .filter_map(|e| match e {
            Action::SendSms { user, message, .. } => Some((user.to_string(), message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        sms,
        [(
            "a".to_owned(),
            SmsMessage::Exhausted {
                incident: IncidentId::new(7),
                rounds: 2,
                unacknowledged: 1
            }
        )]
    );
    assert!(
        w.records
            .iter()
            .any(|e| matches!(e, Record::Notice(Notice::Exhausted { rounds: 2, .. })))
    );
    assert_eq!(placed(&w.wait(3600)), Vec::<String>::new());
    assert_eq!(
        placed(&w.problem("db-01")),
        ["a"],
        "a new problem starts calling again"
    );
}

/// The alarm goes out on exhaustion even when no SMS does.
#[test]
fn exhaustion_raises_the_alarm_without_an_sms_too() {
    let mut w = World::round_robin(&["a"]);
    w.esc.setting.sms_on_exhaustion = false;
    w.esc.setting.rounds = 1;
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.wait(20);
    w.end(&call, CallOutcome::NoAnswer);
    assert_eq!(w.esc.status, Status::Exhausted);
    let alarms: Vec<_> = w
        .actions
        .iter()
        .filter_map(|e| match e {
            Action::Alarm(message) => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        alarms,
        [SmsMessage::Exhausted {
            incident: IncidentId::new(7),
            rounds: 1,
            unacknowledged: 1
        }]
    );
    assert!(
        !w.actions
            .iter()
            .any(|e| matches!(e, Action::SendSms { .. }))
    );
}

// Rule 6.

#[test]
fn broadcast_calls_everyone_at_once() {
    let mut w = World::broadcast(&["a", "b", "c"]);
    assert_eq!(placed(&w.problem("web-01/HTTP")), ["a", "b", "c"]);
}

#[test]
fn broadcast_first_ack_cancels_other_calls() {
    let mut w = World::broadcast(&["a", "b", "c"]);
    w.problem("web-01/HTTP");
    let (a, b, c) = (w.call_to("a"), w.call_to("b"), w.call_to("c"));
    w.answer(&b);
    w.answer(&a);
    let fx = w.input(Input::Digits {
        call: a.clone(),
        digits: "9".into(),
    });
    let endings: Vec<_> = fx
        .actions
        .iter()
        .filter_map(|e| match e {
            Action::EndCall { call, farewell, .. } => Some((call.clone(), farewell.is_some())),
            _ => None,
        })
        .collect();
    assert_eq!(
        endings,
        [(b.clone(), true), (c.clone(), false)],
        "b hears who took it; c stops ringing"
    );
    for call in [a, b, c] {
        w.end(&call, CallOutcome::Completed);
    }
    assert!(w.esc.is_idle());
}

#[test]
fn broadcast_unanswered_people_are_called_in_the_next_round() {
    let mut w = World::broadcast(&["a", "b"]);
    w.problem("web-01/HTTP");
    let (a, b) = (w.call_to("a"), w.call_to("b"));
    w.wait(20);
    w.end(&a, CallOutcome::NoAnswer);
    w.end(&b, CallOutcome::NoAnswer);
    assert_eq!(placed(&w.wait(60)), ["a", "b"]);
}

// Rule 7.

#[test]
fn all_recovered_before_ack_stops_escalation_with_one_recovery_call() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    w.problem("db-01");
    let call = w.call_to("a");
    w.wait(20);
    w.end(&call, CallOutcome::NoAnswer);
    let b = w.call_to("b");
    w.recovery("web-01/HTTP");
    assert!(ended(&w.recovery("db-01")).contains(&b));
    w.end(&b, CallOutcome::Canceled);
    let notice = w.call_to("b");
    assert_eq!(summary(&w.answer(&notice)), (0, 0, 2));
    w.end(&notice, CallOutcome::Completed);
    assert!(w.esc.is_idle());
    assert!(w.acks().is_empty());
}

#[test]
fn a_recovery_notice_offers_no_keys_and_logs_no_acknowledgement() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    w.press(&call, "9");
    w.end(&call, CallOutcome::Completed);
    w.recovery("web-01/HTTP");
    let notice = w.call_to("a");
    let heard = w.answer(&notice);
    assert_eq!(summary(&heard), (0, 0, 1));
    assert!(!heard.lines.contains(&Line::Menu), "{heard:?}");
    assert_eq!(heard.after, After::Hangup);
    // A key pressed anyway acknowledges nothing.
    w.press(&notice, "9");
    let fx = w.end(&notice, CallOutcome::Completed);
    assert_eq!(recorded(&fx, &notice), [OutcomeLabel::Notified]);
    assert_eq!(w.acks().len(), 1, "only the first call's 9#");
    let logged: Vec<_> = w
        .records
        .iter()
        .filter_map(|e| match e {
            Record::Call(r) if r.call_id == notice => Some(r.acknowledged.clone()),
            _ => None,
        })
        .collect();
    assert!(logged.iter().all(Vec::is_empty), "{logged:?}");
}

#[test]
fn notify_recovery_off_means_no_recovery_call() {
    let mut s = setting(false, &["a"]);
    s.notify_recovery = false;
    let mut w = World::new(s);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.recovery("web-01/HTTP");
    assert_eq!(
        placed(&w.end(&call, CallOutcome::Canceled)),
        Vec::<String>::new()
    );
    assert!(w.esc.is_idle());
}

#[test]
fn unanswered_recovery_notice_is_not_repeated() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.recovery("web-01/HTTP");
    w.end(&call, CallOutcome::Canceled);
    let notice = w.call_to("a");
    assert_eq!(
        placed(&w.end(&notice, CallOutcome::NoAnswer)),
        Vec::<String>::new()
    );
    assert!(w.esc.is_idle());
}

// Rule 8.

#[test]
fn declined_call_is_retried() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.wait(4);
    assert_eq!(
        placed(&w.end(&call, CallOutcome::Busy)),
        Vec::<String>::new()
    );
    assert_eq!(
        placed(&w.wait(60)),
        ["a"],
        "the same person, after retry_after"
    );
}

// Rule 9.

#[test]
fn every_call_and_key_is_recorded() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.input(Input::Placed {
        call: call.clone(),
        sid: "CA123".into(),
    });
    w.answer(&call);
    w.press(&call, "1");
    w.press(&call, "9");
    w.end(&call, CallOutcome::Completed);
    let last = w
        .records
        .iter()
        .rev()
        .find_map(|e| match e {
            Record::Call(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last.sid.as_deref(), Some("CA123"));
    assert_eq!(last.keys, ["1#", "9#"]);
    assert_eq!(last.acknowledged, ["web-01/HTTP"]);
    assert_eq!(last.outcome, Some(OutcomeLabel::Acknowledged));
    assert!(last.answered_at.is_some() && last.ended_at.is_some());
}

/// A step stores the items it changed; a prompt heard again or a key pressed again
/// changes none, however many items a storm left.
#[test]
fn a_repeated_prompt_or_key_changes_no_item() {
    let mut w = World::round_robin(&["a"]);
    for host in ["db-01", "web-01", "web-02"] {
        w.problem(host);
    }
    let call = w.call_to("a");
    w.esc.take_changed_items();
    w.answer(&call);
    assert_eq!(w.esc.take_changed_items().len(), 3, "each item is heard");
    w.answer(&call);
    w.press(&call, "1");
    w.press(&call, "1");
    assert!(w.esc.take_changed_items().is_empty(), "heard again");
    w.press(&call, "9");
    assert_eq!(w.esc.take_changed_items().len(), 3, "each is acknowledged");
    w.press(&call, "9");
    assert!(w.esc.take_changed_items().is_empty(), "acknowledged again");
}

// Rule 10: one write-back per alert.

#[test]
fn each_alert_is_acknowledged_once() {
    let mut w = World::broadcast(&["a", "b"]);
    w.problem("web-01/HTTP");
    let (a, b) = (w.call_to("a"), w.call_to("b"));
    w.answer(&a);
    w.answer(&b);
    w.press(&a, "9");
    let p = w.press(&b, "9");
    assert_eq!(p.lines[0], Line::Acknowledged { count: 0 });
    assert_eq!(
        w.acks().len(),
        1,
        "the second 9# has nothing left to acknowledge"
    );
}

// Rule 11.

#[test]
fn acknowledgement_in_the_source_stops_calling() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    let fx = w.alert(AlertKind::Acknowledgement, "web-01/HTTP");
    assert_eq!(ended(&fx), std::slice::from_ref(&call));
    assert_eq!(
        placed(&w.end(&call, CallOutcome::Canceled)),
        Vec::<String>::new()
    );
    // Recorded as acknowledged by the source; the store writes nothing back for it.
    assert_eq!(w.acks(), [(vec![1], AckBy::Source)]);
}

#[test]
fn own_acknowledgement_echo_is_ignored() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    w.press(&call, "9");
    let fx = w.alert(AlertKind::Acknowledgement, "web-01/HTTP");
    assert!(
        fx.records
            .iter()
            .any(|e| matches!(e, Record::Notice(Notice::OwnWriteBack { .. })))
    );
    assert_eq!(
        w.esc.items[0].ack,
        Some(AckBy::Phone {
            user: UserId::new("a"),
            call,
            key: Some("9#".into()),
        })
    );
}

// Beyond the numbered rules.

#[test]
fn outcome_labels_keep_their_stored_spellings() {
    let spelled: Vec<&str> = OutcomeLabel::ALL.iter().map(|l| l.as_str()).collect();
    assert_eq!(
        spelled,
        [
            "completed",
            "busy",
            "no-answer",
            "failed",
            "canceled",
            "passed",
            "machine",
            "acknowledged",
            "notified",
            "hung-up",
            "declined",
            "deferred",
            "invalid-number",
            "lost",
            "no-outcome",
        ]
    );
    for label in OutcomeLabel::ALL {
        assert_eq!(serde_json::to_value(label).unwrap(), label.as_str());
        assert_eq!(OutcomeLabel::parse(label.as_str()), Some(label));
    }
    for twilio in ["completed", "busy", "no-answer", "failed", "canceled"] {
        let outcome = CallOutcome::parse(twilio).unwrap();
        assert_eq!(OutcomeLabel::from(outcome).as_str(), twilio);
    }
}

#[test]
fn a_call_whose_outcome_never_arrives_counts_as_failed() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    assert_eq!(
        w.esc.next_deadline(),
        Some(
            w.now
                .checked_add(jiff::SignedDuration::from_secs(80))
                .unwrap()
        )
    );
    let fx = w.wait(80);
    assert_eq!(ended(&fx), [call]);
    assert_eq!(placed(&fx), ["b"]);
}

#[test]
fn an_answered_call_gone_silent_ends_within_about_a_minute_and_calls_back() {
    // The daemon died while the callee was in the menu: no keys, no end ever arrive.
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.wait(5);
    let menu = w.answer(&call);
    let silence = menu.speaking_time().as_secs() as i64 + 30 + 20;
    assert!(silence <= 90, "{silence} s before the call counts as gone");
    assert!(ended(&w.wait(silence - 1)).is_empty());
    let fx = w.wait(1);
    assert_eq!(ended(&fx), std::slice::from_ref(&call));
    assert!(recorded(&fx, &call).contains(&OutcomeLabel::NoOutcome));
    // The design's call-back rule: the same person after retry_after.
    assert_eq!(placed(&w.wait(60)), ["a"]);
}

#[test]
fn each_prompt_restarts_the_keypad_wait() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    w.wait(50);
    let details = w.press(&call, "1");
    let wait = details.speaking_time().as_secs() as i64 + 30 + 20;
    assert!(ended(&w.wait(wait - 1)).is_empty(), "the call is still on");
    assert_eq!(ended(&w.wait(1)), [call]);
}

#[test]
fn a_call_lost_with_a_restart_ends_unacknowledged() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    let fx = w.input(Input::Lost { call: call.clone() });
    assert!(recorded(&fx, &call).contains(&OutcomeLabel::Lost));
    assert!(w.esc.calls.is_empty());
    assert_eq!(placed(&w.wait(60)), ["a"], "called back after retry_after");
}

#[test]
fn answering_is_recorded_at_once() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.wait(3);
    let answered_at = w.now;
    let fx = w.input(Input::Answered { call: call.clone() });
    let answered: Vec<_> = fx
        .records
        .iter()
        .filter_map(|e| match e {
            Record::Call(r) if r.call_id == call => r.answered_at,
            _ => None,
        })
        .collect();
    assert_eq!(answered, [answered_at]);
}

#[test]
fn a_replayed_key_lists_each_alert_once() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    for _ in 0..3 {
        w.press(&call, "9");
    }
    assert_eq!(w.esc.calls[0].acknowledged.len(), 1);
    assert_eq!(w.acks().len(), 1);
}

#[test]
fn an_acknowledgement_still_open_after_reescalate_after_calls_again_acker_first() {
    let mut w = World::round_robin(&["a", "b"]);
    w.esc.setting.reescalate_after = Some(Duration::from_secs(2 * 3600));
    w.problem("web-01/HTTP");
    let a = w.call_to("a");
    w.wait(20);
    w.end(&a, CallOutcome::NoAnswer);
    let b = w.call_to("b");
    w.answer(&b);
    w.press(&b, "9");
    w.end(&b, CallOutcome::Completed);
    assert_eq!(w.esc.status, Status::Quiet);
    let acked_at = w.now;
    assert_eq!(
        w.esc.next_deadline(),
        Some(
            acked_at
                .checked_add(jiff::SignedDuration::from_hours(2))
                .unwrap()
        )
    );
    assert!(placed(&w.wait(2 * 3600 - 1)).is_empty());
    let fx = w.wait(1);
    assert_eq!(
        placed(&fx),
        ["b"],
        "the person who acknowledged is called first"
    );
    assert!(
        fx.records
            .iter()
            .any(|e| matches!(e, Record::AcknowledgementStale { keys } if keys.len() == 1))
    );
    assert!(
        fx.records
            .iter()
            .any(|e| matches!(e, Record::Notice(Notice::AcknowledgementStale { .. })))
    );
    assert_eq!(w.esc.status, Status::Escalating);
}

#[test]
fn without_reescalate_after_an_acknowledgement_never_goes_stale() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let a = w.call_to("a");
    w.answer(&a);
    w.press(&a, "9");
    w.end(&a, CallOutcome::Completed);
    assert_eq!(w.esc.next_deadline(), None);
}

#[test]
fn repeated_and_late_callbacks_change_nothing() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.wait(20);
    w.end(&call, CallOutcome::NoAnswer);
    let before = w.esc.clone();
    w.end(&call, CallOutcome::NoAnswer);
    w.input(Input::Placed {
        call: call.clone(),
        sid: "CAlate".into(),
    });
    assert_eq!(w.esc, before);
}

#[test]
fn manual_ack_stops_calling() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    assert_eq!(
        ended(&w.input(Input::ManualAck {
            by: "ops".into(),
            via: ManualVia::Api,
        })),
        [call]
    );
    assert_eq!(
        w.acks()[0].1,
        AckBy::Manual {
            by: "ops".into(),
            via: ManualVia::Api
        }
    );
}

#[test]
fn schedule_with_nobody_on_call_falls_through_to_the_next_target() {
    let mut w = World::round_robin(&["schedule:empty", "schedule:primary"]);
    let fx = w.problem("web-01/HTTP");
    assert!(fx.records.iter().any(|e| matches!(
        e,
        Record::Notice(Notice::TargetUnreachable { target: 1, why: Unreachable::NobodyOnCall(s), .. })
            if s.as_str() == "empty"
    )));
    assert_eq!(placed(&fx), ["b"], "schedule:primary resolves to b");
}

#[test]
fn one_number_is_not_called_more_than_the_limit() {
    let mut w = World::round_robin(&["a"]);
    w.per_number_limit = 2;
    w.esc.setting.max_callbacks = 10;
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    w.answer(&call);
    w.end(&call, CallOutcome::Completed);
    w.wait(60);
    let call = w.call_to("a");
    w.answer(&call);
    w.end(&call, CallOutcome::Completed);
    let fx = w.wait(60);
    assert_eq!(placed(&fx), Vec::<String>::new());
    assert!(
        fx.records
            .iter()
            .any(|e| matches!(e, Record::Notice(Notice::NumberLimit { limit: 2, .. })))
    );
    assert_eq!(placed(&w.wait(3600)), ["a"], "after the window");
}

#[test]
fn deferred_call_is_placed_again_later_without_using_a_callback() {
    let mut w = World::round_robin(&["a"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    let until = w
        .now
        .checked_add(jiff::SignedDuration::from_secs(600))
        .unwrap();
    w.input(Input::Deferred { call, until });
    assert!(w.esc.calls.is_empty());
    assert_eq!(placed(&w.wait(599)), Vec::<String>::new());
    assert_eq!(placed(&w.wait(1)), ["a"]);
    assert_eq!(w.esc.callbacks, [0]);
}

#[test]
fn invalid_number_skips_the_person() {
    let mut w = World::round_robin(&["a", "b"]);
    w.problem("web-01/HTTP");
    let call = w.call_to("a");
    let fx = w.input(Input::PlaceFailed {
        call,
        reason: "21211 invalid To".into(),
        skip_person: true,
    });
    assert_eq!(placed(&fx), ["b"]);
}

#[test]
fn state_survives_being_stored_and_restored() {
    let mut w = World::broadcast(&["a", "b"]);
    w.problem("web-01/HTTP");
    w.problem("db-01");
    let a = w.call_to("a");
    w.answer(&a);
    let items: Vec<Item> = w.esc.items.iter().cloned().collect();
    let back = Escalation::restore(&w.esc.core_json(), items).unwrap();
    assert_eq!(back, w.esc);
    assert_eq!(back.live_calls().count(), 2);
}

/// A timeline written as data: what happens, and which calls must be placed.
mod scenarios {
    use super::*;

    #[derive(Clone, Copy, Debug)]
    enum Step {
        Problem(&'static str),
        Recovery(&'static str),
        /// The user's live call is answered by a person.
        Answer(&'static str),
        Machine(&'static str),
        Press(&'static str, &'static str),
        End(&'static str, CallOutcome),
        Wait(i64),
        /// The calls placed since the previous check, in order.
        Placed(&'static [&'static str]),
        Acknowledged(usize),
    }
    use self::Step::*;

    fn play(mut w: World, steps: &[Step]) {
        let mut seen = 0;
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Problem(k) => drop(w.problem(k)),
                Recovery(k) => drop(w.recovery(k)),
                Answer(u) => drop(w.answer(&w.call_to(u))),
                Machine(u) => drop(w.input(Input::Machine { call: w.call_to(u) })),
                Press(u, keys) => drop(w.press(&w.call_to(u), keys)),
                End(u, outcome) => drop(w.end(&w.call_to(u), outcome)),
                Wait(secs) => drop(w.wait(secs)),
                Placed(expected) => {
                    let all = placed_in(&w.actions);
                    assert_eq!(&all[seen..], expected, "step {n}: {step:?}");
                    seen = all.len();
                }
                Acknowledged(count) => {
                    let acked: usize = w.acks().iter().map(|(ids, _)| ids.len()).sum();
                    assert_eq!(acked, count, "step {n}");
                }
            }
        }
    }

    /// Q&A: "#だけ … 電話は切れますがそのまま直ぐ折り返し" — # alone ends the call and the
    /// same person is called again.
    #[test]
    fn qa_hash_alone_calls_the_same_person_again() {
        play(
            World::round_robin(&["a", "b"]),
            &[
                Problem("web-01/HTTP"),
                Placed(&["a"]),
                Answer("a"),
                Press("a", ""),
                End("a", CallOutcome::Completed),
                Placed(&[]),
                Wait(60),
                Placed(&["a"]),
                Acknowledged(0),
            ],
        );
    }

    /// Q&A: 30 s without a key ends the call; the same person is called again.
    #[test]
    fn qa_thirty_seconds_of_silence_calls_back() {
        play(
            World::round_robin(&["a", "b"]),
            &[
                Problem("web-01/HTTP"),
                Placed(&["a"]),
                Answer("a"),
                Wait(30),
                End("a", CallOutcome::Completed),
                Wait(60),
                Placed(&["a"]),
            ],
        );
    }

    /// Q&A: a call rejected by mistake (着信拒否) rings again.
    #[test]
    fn qa_rejected_call_rings_again() {
        play(
            World::round_robin(&["a", "b"]),
            &[
                Problem("web-01/HTTP"),
                Placed(&["a"]),
                Wait(3),
                End("a", CallOutcome::Busy),
                Placed(&[]),
                Wait(60),
                Placed(&["a"]),
            ],
        );
    }

    /// Q&A: 9# ends the call; alerts that came in meanwhile are called in again.
    #[test]
    fn qa_additions_after_nine_hash_are_called_again() {
        play(
            World::broadcast(&["a", "b"]),
            &[
                Problem("web-01/HTTP"),
                Placed(&["a", "b"]),
                Answer("a"),
                Problem("db-01"),
                Press("a", "9"),
                Acknowledged(1),
                End("a", CallOutcome::Completed),
                Placed(&["a"]),
                End("b", CallOutcome::NoAnswer),
                Answer("a"),
                Press("a", "9"),
                Acknowledged(2),
            ],
        );
    }

    /// Q&A: voicemail cannot press 9#; a machine answer is hung up and the next person called.
    #[test]
    fn qa_voicemail_does_not_stall_the_escalation() {
        play(
            World::round_robin(&["a", "b"]),
            &[
                Problem("web-01/HTTP"),
                Placed(&["a"]),
                Answer("a"),
                Machine("a"),
                End("a", CallOutcome::Completed),
                Placed(&["b"]),
                Acknowledged(0),
            ],
        );
    }

    /// Q&A: one call setting on many hosts still rings each person once.
    #[test]
    fn qa_one_call_setting_rings_each_person_once() {
        play(
            World::broadcast(&["a", "b"]),
            &[
                Problem("web-01/HTTP"),
                Problem("web-02/HTTP"),
                Problem("db-01"),
                Placed(&["a", "b"]),
            ],
        );
    }

    /// Q&A: problem, then recovery before anyone heard it: one recovery notice.
    #[test]
    fn qa_unplayed_problem_then_recovery_is_one_recovery_notice() {
        play(
            World::round_robin(&["a"]),
            &[
                Problem("web-01/HTTP"),
                Placed(&["a"]),
                Recovery("web-01/HTTP"),
                End("a", CallOutcome::Canceled),
                Placed(&["a"]),
                Answer("a"),
                End("a", CallOutcome::Completed),
                Wait(3600),
                Placed(&[]),
            ],
        );
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        Problem(u8),
        Recovery(u8),
        SourceAck(u8),
        Answer(u8),
        Press(u8, &'static str),
        End(u8, CallOutcome),
        Machine(u8),
        Wait(i64),
        ManualAck,
    }

    fn step() -> impl Strategy<Value = Step> {
        let outcome = prop_oneof![
            Just(CallOutcome::Completed),
            Just(CallOutcome::Busy),
            Just(CallOutcome::NoAnswer),
            Just(CallOutcome::Failed),
            Just(CallOutcome::Canceled)
        ];
        let keys = prop_oneof![
            Just(""),
            Just("1"),
            Just("2"),
            Just("3"),
            Just("4"),
            Just("9"),
            Just("7")
        ];
        prop_oneof![
            (0u8..4).prop_map(Step::Problem),
            (0u8..4).prop_map(Step::Recovery),
            (0u8..4).prop_map(Step::SourceAck),
            (0u8..3).prop_map(Step::Answer),
            ((0u8..3), keys).prop_map(|(c, k)| Step::Press(c, k)),
            ((0u8..3), outcome).prop_map(|(c, o)| Step::End(c, o)),
            (0u8..3).prop_map(Step::Machine),
            (1i64..200).prop_map(Step::Wait),
            Just(Step::ManualAck),
        ]
    }

    fn key(i: u8) -> String {
        ["web-01/HTTP", "db-01", "app-01/SSH", "db-02"][i as usize].to_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn invariants_hold_over_random_timelines(broadcast in any::<bool>(), steps in prop::collection::vec(step(), 1..60)) {
            let mut w = World::new(setting(broadcast, &["a", "b", "c"]));
            for step in steps {
                let call = |w: &World, i: u8| w.esc.calls.get(i as usize).map(|c| c.id.clone());
                let fx = match step {
                    Step::Problem(k) => w.problem(&key(k)),
                    Step::Recovery(k) => w.recovery(&key(k)),
                    Step::SourceAck(k) => w.alert(AlertKind::Acknowledgement, &key(k)),
                    Step::Answer(c) => match call(&w, c) { Some(id) => w.input(Input::Answered { call: id }), None => Default::default() },
                    Step::Press(c, k) => match call(&w, c) { Some(id) => w.input(Input::Digits { call: id, digits: k.into() }), None => Default::default() },
                    Step::End(c, o) => match call(&w, c) { Some(id) => w.end(&id, o), None => Default::default() },
                    Step::Machine(c) => match call(&w, c) { Some(id) => w.input(Input::Machine { call: id }), None => Default::default() },
                    Step::Wait(s) => w.wait(s),
                    Step::ManualAck => w.input(Input::ManualAck {
            by: "ops".into(),
            via: ManualVia::Api,
        }),
                };

                // Never two simultaneous calls to one person for one call setting.
                let mut users: Vec<_> = w.esc.calls.iter().map(|c| c.user.clone()).collect();
                users.sort();
                let before = users.len();
                users.dedup();
                prop_assert_eq!(before, users.len(), "two live calls to one person");

                // An acknowledged alert is never played again.
                for e in &fx.actions {
                    if let Action::Respond(p) = e {
                        for line in &p.lines {
                            if let Line::Detail(v) = line {
                                let item = w.esc.items.iter().find(|i| i.host == v.host && i.service == v.service).unwrap();
                                prop_assert!(item.ack.is_none() || item.status == ItemStatus::Recovered, "played an acknowledged alert: {:?}", v);
                            }
                        }
                    }
                }

                // Every problem is acknowledged, recovered, exhausted or still escalating.
                if w.esc.items.iter().any(Item::needs_ack) {
                    prop_assert!(
                        w.esc.status == Status::Exhausted || !w.esc.is_idle(),
                        "a problem is forgotten: {:?}", w.esc
                    );
                }
                // Each alert is acknowledged at most once.
                let mut acked: Vec<i64> = w.acks().into_iter().flat_map(|(ids, _)| ids).collect();
                let n = acked.len();
                acked.sort();
                acked.dedup();
                prop_assert_eq!(n, acked.len(), "an alert was acknowledged twice");
            }
        }
    }
}
