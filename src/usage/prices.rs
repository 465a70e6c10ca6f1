//! The price backfill. Twilio fills a call's `price` in some seconds to minutes after the
//! call ends, so the status callback never has it; until a price is known the call's cost
//! is estimated. This task asks for the call resource of each ended call without a price
//! at [`SCHEDULE`] after it ended, through whichever account knows the call, and keeps the
//! price once Twilio has it. Each check is stored (a count and a time), so a restart
//! neither forgets a call nor asks about it more than [`SCHEDULE`] allows.
//!
//! [`next_check`] and [`due`] decide on a time they are given; [`run`] does the I/O.

use crate::clock::SharedClock;
use crate::store::{AwaitingPrice, CallUsage, Store};
use crate::telephony::twilio::CallStatus;
use crate::telephony::voice::Telephony;
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// When a call's price is asked for, after the call ended. Twilio prices most calls within
/// a minute; 5 and 30 minutes catch a slow rating; 6 hours is a last look (carriers that
/// rate late). After that the estimate stands: at most four requests per call.
pub const SCHEDULE: [SignedDuration; 4] = [
    SignedDuration::from_secs(60),
    SignedDuration::from_secs(5 * 60),
    SignedDuration::from_secs(30 * 60),
    SignedDuration::from_secs(6 * 3600),
];

/// How often calls due for a check are looked for: one indexed query.
pub const EVERY: Duration = Duration::from_secs(30);

/// Calls asked about per look, one after the other: at most 10 requests a minute, so a
/// burst of calls (or the first start on a database of older calls) is spread out.
const BATCH: usize = 5;

/// When a call that ended at `ended` is checked next, after `checks` checks, the last at
/// `last`; `None`: given up. The next check is the first time of the schedule not used
/// yet and later than the last check: a call checked late (kaden was down) skips the
/// times it missed rather than being asked again at once.
pub fn next_check(ended: Timestamp, checks: u32, last: Option<Timestamp>) -> Option<Timestamp> {
    SCHEDULE
        .iter()
        .skip(checks as usize)
        .filter_map(|after| ended.checked_add(*after).ok())
        .find(|at| last.is_none_or(|last| *at > last))
}

/// The calls to check at `now`: due ones, longest due first, at most [`BATCH`].
pub fn due(awaiting: &[AwaitingPrice], now: Timestamp) -> Vec<&AwaitingPrice> {
    let mut due: Vec<(Timestamp, &AwaitingPrice)> = awaiting
        .iter()
        .filter_map(|c| {
            next_check(c.ended_at, c.checks, c.checked_at)
                .filter(|at| *at <= now)
                .map(|at| (at, c))
        })
        .collect();
    due.sort_by_key(|(at, _)| *at);
    due.into_iter().take(BATCH).map(|(_, c)| c).collect()
}

/// What the backfill needs of the daemon.
pub struct Backfill {
    pub store: Store,
    pub clock: SharedClock,
    pub telephony: Arc<Telephony>,
    /// [`EVERY`]; tests look more often.
    pub every: Duration,
}

/// Checks the calls due every `every`, until `stop`.
pub async fn run(state: Backfill, stop: CancellationToken) {
    loop {
        check_due(&state).await;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(state.every) => {}
        }
    }
}

async fn check_due(state: &Backfill) {
    let last = SCHEDULE[SCHEDULE.len() - 1];
    let awaiting = match state
        .store
        .calls_awaiting_price(SCHEDULE.len() as u32, last)
        .await
    {
        Ok(awaiting) => awaiting,
        Err(e) => {
            tracing::error!(error = %e, "Cannot read the calls awaiting a price.");
            return;
        }
    };
    for call in due(&awaiting, state.clock.now()) {
        // A failed request uses up this check too (the schedule bounds the requests);
        // the rest wait for the next look rather than meet the same failure.
        let (usage, failed) = match state.telephony.client.fetch_call(&call.sid).await {
            Ok(CallStatus::Ended(_, usage)) => (usage, false),
            Ok(CallStatus::Live | CallStatus::Unknown) => (CallUsage::default(), false),
            Err(e) => {
                tracing::warn!(call_sid = %call.sid, error = %e, "Cannot ask Twilio for a call's price.");
                (CallUsage::default(), true)
            }
        };
        let now = state.clock.now();
        let price = usage.price;
        let unit = usage.price_unit.clone();
        if let Err(e) = state
            .store
            .record_price_check(call.call_id.clone(), usage, now)
            .await
        {
            tracing::error!(call_id = %call.call_id, error = %e, "Cannot record a call's price.");
            return;
        }
        match price {
            Some(price) => tracing::info!(
                call_id = %call.call_id,
                price = price.abs(),
                unit = unit.as_deref().unwrap_or(""),
                "Twilio reported the price of a call."
            ),
            None if next_check(call.ended_at, call.checks + 1, Some(now)).is_none() => {
                tracing::info!(call_id = %call.call_id, checks = call.checks + 1, "Twilio reported no price for a call; its cost stays estimated.");
            }
            None => {}
        }
        if failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn awaiting(id: &str, ended: &str, checks: u32, last: Option<&str>) -> AwaitingPrice {
        AwaitingPrice {
            call_id: id.into(),
            sid: format!("CA{id}"),
            ended_at: t(ended),
            checks,
            checked_at: last.map(t),
        }
    }

    #[test]
    fn a_call_is_checked_1_5_30_minutes_and_6_hours_after_it_ended_then_given_up() {
        let ended = t("2026-11-23T01:00:00Z");
        let mut checks = 0;
        let mut last = None;
        let mut asked = Vec::new();
        // The backfill looks every 30 s for a day; Twilio never prices this call.
        let mut now = ended;
        while now < t("2026-11-24T01:00:00Z") {
            if next_check(ended, checks, last).is_some_and(|at| at <= now) {
                asked.push(now);
                checks += 1;
                last = Some(now);
            }
            now += SignedDuration::from_secs(30);
        }
        assert_eq!(
            asked,
            [
                t("2026-11-23T01:01:00Z"),
                t("2026-11-23T01:05:00Z"),
                t("2026-11-23T01:30:00Z"),
                t("2026-11-23T07:00:00Z"),
            ]
        );
        assert_eq!(next_check(ended, checks, last), None, "given up");
    }

    #[test]
    fn a_call_checked_late_skips_the_times_it_missed() {
        let ended = t("2026-11-23T01:00:00Z");
        // kaden was down for an hour: first asked at 02:00, next at the 6-hour mark.
        assert_eq!(
            next_check(ended, 0, None),
            Some(t("2026-11-23T01:01:00Z")),
            "overdue, so due at once"
        );
        assert_eq!(
            next_check(ended, 1, Some(t("2026-11-23T02:00:00Z"))),
            Some(t("2026-11-23T07:00:00Z"))
        );
        // A call from before the backfill existed, days old: asked once, then given up.
        let old = t("2026-11-01T01:00:00Z");
        assert_eq!(next_check(old, 0, None), Some(t("2026-11-01T01:01:00Z")));
        assert_eq!(next_check(old, 1, Some(t("2026-11-23T02:00:00Z"))), None);
    }

    #[test]
    fn the_count_bounds_the_checks_even_when_the_clock_went_back() {
        let ended = t("2026-11-23T01:00:00Z");
        // Four checks stored, the last one stamped before the end by a clock set back.
        assert_eq!(next_check(ended, 4, Some(t("2026-11-23T00:00:00Z"))), None);
        assert_eq!(
            next_check(ended, 2, Some(t("2026-11-23T00:00:00Z"))),
            Some(t("2026-11-23T01:30:00Z")),
            "a used time is not used again"
        );
    }

    #[test]
    fn a_look_takes_the_longest_due_calls_first_a_few_at_a_time() {
        let now = t("2026-11-23T02:00:00Z");
        let mut calls = vec![
            awaiting("recent", "2026-11-23T01:59:30Z", 0, None),
            awaiting(
                "waiting",
                "2026-11-23T01:50:00Z",
                1,
                Some("2026-11-23T01:51:00Z"),
            ),
        ];
        for i in 0..7 {
            calls.push(awaiting(
                &format!("old{i}"),
                &format!("2026-11-23T01:0{i}:00Z"),
                0,
                None,
            ));
        }
        let ids: Vec<&str> = due(&calls, now)
            .iter()
            .map(|c| c.call_id.as_str())
            .collect();
        assert_eq!(ids, ["old0", "old1", "old2", "old3", "old4"]);
        let later = t("2026-11-23T02:10:00Z");
        let calls = &calls[..2];
        let ids: Vec<&str> = due(calls, later)
            .iter()
            .map(|c| c.call_id.as_str())
            .collect();
        assert_eq!(ids, ["waiting", "recent"], "01:55 before 02:00:30");
    }
}
