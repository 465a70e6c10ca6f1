//! One rotation: members in order, a shift length, a handoff in local time.

use crate::domain::UserId;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone)]
pub struct Rotation {
    pub every: SignedDuration,
    pub handoff: DateTime,
    pub members: Vec<UserId>,
}

impl Rotation {
    /// The start of shift `k` (0 = the handoff), counted in wall time so daylight saving
    /// does not move the local handoff time.
    fn shift_start(&self, k: i64, tz: &TimeZone) -> Option<Timestamp> {
        let offset = self.every.checked_mul(i32::try_from(k).ok()?)?;
        let civil = self.handoff.checked_add(offset).ok()?;
        tz.to_timestamp(civil).ok()
    }

    /// The shift that contains `at`.
    fn shift_index(&self, at: Timestamp, tz: &TimeZone) -> Option<i64> {
        let first = self.shift_start(0, tz)?;
        let every = self.every.as_secs().max(1);
        // The estimate is off by at most one: wall time drifts from absolute time by no
        // more than a DST step.
        let mut k = at.duration_since(first).as_secs().div_euclid(every);
        while self.shift_start(k, tz)? > at {
            k -= 1;
        }
        while self.shift_start(k + 1, tz)? <= at {
            k += 1;
        }
        Some(k)
    }

    pub fn member_at(&self, at: Timestamp, tz: &TimeZone) -> Option<UserId> {
        if self.members.is_empty() {
            return None;
        }
        let k = self.shift_index(at, tz)?;
        let n = self.members.len() as i64;
        Some(self.members[k.rem_euclid(n) as usize].clone())
    }

    /// Handoff instants strictly inside `(from, to)`.
    pub fn handoffs(&self, from: Timestamp, to: Timestamp, tz: &TimeZone) -> Vec<Timestamp> {
        let Some(mut k) = self.shift_index(from, tz) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Some(start) = self.shift_start(k + 1, tz) {
            if start >= to {
                break;
            }
            if start > from {
                out.push(start);
            }
            k += 1;
        }
        out
    }
}
