//! Shift notices (`schedules[].notify_before`): a text to each person shortly before
//! their shift starts, and when an override changes their shifts. Each shift is texted
//! once, whatever restarts happen: the store records what was sent.

use crate::config::Language;
use crate::schedule::{self, Override, Schedule, Shift};
use crate::service::AppState;
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often upcoming shifts are looked at.
const EVERY: Duration = Duration::from_secs(60);

/// Shifts of `schedule` with someone on call that start within `before` after `now`.
pub fn upcoming(
    schedule: &Schedule,
    overrides: &[Override],
    now: Timestamp,
    before: Duration,
) -> Vec<Shift> {
    let until = now
        .saturating_add(SignedDuration::try_from(before).unwrap_or(SignedDuration::MAX))
        .unwrap_or(now);
    let until = until
        .saturating_add(SignedDuration::from_secs(1))
        .unwrap_or(until);
    schedule::shifts(schedule, overrides, now, until)
        .into_iter()
        .filter(|s| s.user.is_some() && s.start > now)
        .collect()
}

/// What a shift notice tells.
pub enum Notice<'a> {
    /// The person's shift starts soon.
    Starts,
    /// An override puts the person on call.
    Covers,
    /// An override takes the person's shift: `by` covers it.
    Relieved { by: &'a str },
}

/// The text for `notice` about `shift` (its person's time on call, or time relieved).
pub fn words(language: Language, schedule: &Schedule, shift: &Shift, notice: &Notice) -> String {
    let zone = &schedule.timezone;
    let (start, end) = (
        crate::display::stamp(shift.start, zone),
        crate::display::stamp(shift.end, zone),
    );
    let id = &schedule.id;
    match (language, notice) {
        (Language::JaJp, Notice::Starts) => {
            format!("kaden: {id} の当番が {start} から始まります（{end} まで）。")
        }
        (Language::JaJp, Notice::Covers) => {
            format!("kaden: {id} の当番が変わりました。{start} から {end} まで担当です。")
        }
        (Language::JaJp, Notice::Relieved { by }) => {
            format!(
                "kaden: {id} の当番が変わりました。{start} から {end} までは {by} さんが代わります。"
            )
        }
        (Language::EnUs, Notice::Starts) => {
            format!("kaden: your {id} on-call shift starts {start} (until {end}).")
        }
        (Language::EnUs, Notice::Covers) => {
            format!("kaden: your {id} on-call shifts changed: on call {start} to {end}.")
        }
        (Language::EnUs, Notice::Relieved { by }) => {
            format!("kaden: your {id} on-call shifts changed: {by} covers {start} to {end}.")
        }
    }
}

/// Texts `shift`'s person (if they have a phone in the config), logging the result.
pub async fn send(state: &AppState, schedule: &Schedule, shift: &Shift, notice: &Notice<'_>) {
    let Some(user) = shift.user.as_ref() else {
        return;
    };
    let Some(person) = state.config.users.iter().find(|u| &u.id == user) else {
        return;
    };
    let body = words(state.config.locale.language, schedule, shift, notice);
    let sms = crate::usage::Sms {
        to: person.phone.as_str(),
        body: &body,
        user: Some(user),
        incident: None,
        purpose: "shift_notice",
    };
    match crate::usage::send_sms(&state.telephony, &state.store, &*state.clock, sms).await {
        Ok(sid) => {
            tracing::info!(schedule = %schedule.id, user = %user, message_sid = %sid, "Shift notice sent.")
        }
        Err(e) => {
            tracing::error!(schedule = %schedule.id, user = %user, error = %e, "Shift notice not sent.")
        }
    }
}

/// Every minute: texts the people whose shifts start within their schedule's
/// `notify_before`, once per shift.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let now = state.clock.now();
        let overrides = state
            .overrides
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for schedule in &state.config.schedules {
            let Some(before) = schedule.notify_before else {
                continue;
            };
            for shift in upcoming(schedule, &overrides, now, before) {
                let user = shift.user.clone().expect("upcoming shifts have someone");
                match state
                    .store
                    .claim_shift_notice(schedule.id.clone(), user, shift.start, now)
                    .await
                {
                    Ok(true) => send(&state, schedule, &shift, &Notice::Starts).await,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "Cannot record a shift notice."),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ScheduleId, UserId};
    use crate::schedule::{Layer, Rotation};

    fn weekly() -> Schedule {
        Schedule {
            id: ScheduleId::new("infra"),
            timezone: jiff::tz::TimeZone::get("Asia/Tokyo").unwrap(),
            layers: vec![Layer {
                rotation: Rotation {
                    every: SignedDuration::from_hours(24 * 7),
                    handoff: "2026-11-02T10:00".parse().unwrap(),
                    members: vec![UserId::new("a"), UserId::new("b")],
                },
                window: None,
            }],
            notify_before: Some(Duration::from_secs(3600)),
        }
    }

    #[test]
    fn only_shifts_starting_within_the_notice_are_upcoming() {
        let handoff: Timestamp = "2026-11-09T10:00:00+09:00".parse().unwrap();
        let hour = Duration::from_secs(3600);
        let early = handoff.checked_sub(SignedDuration::from_mins(61)).unwrap();
        assert!(upcoming(&weekly(), &[], early, hour).is_empty());
        let soon = handoff.checked_sub(SignedDuration::from_mins(59)).unwrap();
        let found = upcoming(&weekly(), &[], soon, hour);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].start, handoff);
        assert_eq!(found[0].user, Some(UserId::new("b")));
        assert!(
            upcoming(&weekly(), &[], handoff, hour).is_empty(),
            "already started"
        );
    }

    #[test]
    fn the_text_says_which_schedule_and_when_in_its_zone() {
        let shift = Shift {
            user: Some(UserId::new("b")),
            start: "2026-11-09T10:00:00+09:00".parse().unwrap(),
            end: "2026-11-16T10:00:00+09:00".parse().unwrap(),
        };
        assert_eq!(
            words(Language::JaJp, &weekly(), &shift, &Notice::Starts),
            "kaden: infra の当番が 2026-11-09 10:00:00 JST から始まります（2026-11-16 10:00:00 JST まで）。"
        );
    }
}
