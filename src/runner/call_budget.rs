//! The daemon-wide hourly call cap (`telephony.max_calls_per_hour`): a cost guard over a
//! sliding hour of placed calls. Pure: the runner gives it the time.

use jiff::{SignedDuration, Timestamp};
use std::collections::VecDeque;

const HOUR: SignedDuration = SignedDuration::from_hours(1);

pub struct CallBudget {
    cap: u32,
    /// Calls placed in the last hour, oldest first.
    placed: VecDeque<Timestamp>,
    warned_at: Option<Timestamp>,
}

impl CallBudget {
    /// `placed`: when the calls of the last hour were placed (after a restart, from the
    /// call log), oldest first.
    pub fn new(cap: u32, placed: Vec<Timestamp>) -> CallBudget {
        CallBudget {
            cap,
            placed: placed.into(),
            warned_at: None,
        }
    }

    /// Where the call log is read from after a restart.
    pub fn window_start(now: Timestamp) -> Timestamp {
        now.checked_sub(HOUR).unwrap_or(Timestamp::MIN)
    }

    /// Spends one call at `now`; when the cap is reached, says when a call is free again.
    pub fn take(&mut self, now: Timestamp) -> Result<(), Timestamp> {
        while self
            .placed
            .front()
            .is_some_and(|t| now.duration_since(*t) >= HOUR)
        {
            self.placed.pop_front();
        }
        if (self.placed.len() as u32) < self.cap {
            self.placed.push_back(now);
            return Ok(());
        }
        let oldest = self.placed.front().copied().unwrap_or(now);
        Err(oldest.checked_add(HOUR).unwrap_or(Timestamp::MAX))
    }

    /// Whether someone should be told the cap was hit: at most once an hour.
    pub fn warn(&mut self, now: Timestamp) -> bool {
        if self.warned_at.is_some_and(|t| now.duration_since(t) < HOUR) {
            return false;
        }
        self.warned_at = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + minute * 60).unwrap()
    }

    #[test]
    fn the_cap_holds_over_a_sliding_hour() {
        let mut budget = CallBudget::new(2, vec![at(0)]);
        assert_eq!(budget.take(at(10)), Ok(()));
        // Full: the next call is free when the one placed at 0 leaves the hour.
        assert_eq!(budget.take(at(20)), Err(at(60)));
        assert_eq!(budget.take(at(59)), Err(at(60)));
        assert_eq!(budget.take(at(60)), Ok(()));
        assert_eq!(budget.take(at(61)), Err(at(70)));
    }

    #[test]
    fn the_cap_is_announced_once_an_hour() {
        let mut budget = CallBudget::new(0, Vec::new());
        assert!(budget.warn(at(0)));
        assert!(!budget.warn(at(59)));
        assert!(budget.warn(at(60)));
    }

    #[test]
    fn the_window_after_a_restart_is_the_last_hour() {
        assert_eq!(CallBudget::window_start(at(90)), at(30));
    }
}
