//! Who is on call: rotations resolved at an instant. Pure functions of (schedule, time).

use crate::config::Schedule;
use crate::domain::UserId;
use jiff::Timestamp;

/// The member on call at `at`. Shifts are `every` long, counted from the handoff in the
/// schedule's zone; before the first handoff the first member is on call.
pub fn on_call_at(schedule: &Schedule, at: Timestamp) -> Option<UserId> {
    let members = &schedule.rotation.members;
    if members.is_empty() {
        return None;
    }
    let handoff = schedule
        .timezone
        .to_timestamp(schedule.rotation.handoff)
        .ok()?;
    let elapsed = at.duration_since(handoff).as_secs();
    let shift = schedule.rotation.every.as_secs().max(1) as i64;
    let index = if elapsed <= 0 {
        0
    } else {
        (elapsed / shift) as usize % members.len()
    };
    Some(members[index].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rotation;
    use std::time::Duration;

    fn weekly() -> Schedule {
        Schedule {
            id: crate::domain::ScheduleId::new("infra"),
            timezone: jiff::tz::TimeZone::get("Asia/Tokyo").unwrap(),
            rotation: Rotation {
                every: Duration::from_secs(7 * 86400),
                handoff: "2026-11-02T10:00".parse().unwrap(),
                members: vec![UserId::new("a"), UserId::new("b")],
            },
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn hands_off_at_the_local_handoff_time() {
        let s = weekly();
        // 10:00 in Tokyo is 01:00 UTC.
        assert_eq!(
            on_call_at(&s, at("2026-11-09T00:59:59Z")).unwrap().as_str(),
            "a"
        );
        assert_eq!(
            on_call_at(&s, at("2026-11-09T01:00:00Z")).unwrap().as_str(),
            "b"
        );
        assert_eq!(
            on_call_at(&s, at("2026-11-16T01:00:00Z")).unwrap().as_str(),
            "a"
        );
        assert_eq!(
            on_call_at(&s, at("2026-01-01T00:00:00Z")).unwrap().as_str(),
            "a",
            "before the first handoff"
        );
    }
}
