//! `telephony.fallback`: a second Twilio account that takes over calls and SMS when the
//! first fails account-wide, at once on an account-level refusal (401, 20003, 20005) and
//! after [`FAILURES_TO_SWITCH`] call creations in a row that the client's retries did not
//! cure (5xx, 429, timeouts). While on the fallback the primary's account resource is
//! checked every `probe_every`; kaden returns to the primary when it answers as active.
//!
//! A call is never placed twice because of a switch: a failed call creation is sent
//! again through the other account only when Twilio answered every attempt with a
//! refusal, which proves no call was created. After a timeout or a dropped connection
//! the call may exist, so that attempt is not repeated elsewhere: it fails as any
//! failed call does, and the engine's next call goes through the account then active.

use super::errors::{NO_CODE, Seen};
use super::twilio::{CallRequest, CallStatus, CallUpdate, TwilioClient, TwilioError};
use crate::clock::SharedClock;
use crate::store::{Sample, Store, TelephonyError};
use jiff::{SignedDuration, Timestamp};
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Call creations failing in a row (after retries) on the primary before switching.
pub const FAILURES_TO_SWITCH: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Account {
    Primary,
    Fallback,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Primary => "primary",
            Account::Fallback => "fallback",
        }
    }
}

/// What a request through an account showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Twilio answered a call creation normally: placed, or refused for that call only
    /// (a bad number).
    Served(Account),
    /// A call creation still failed after the client's retries (5xx, 429, timeout).
    Failed(Account),
    /// The account itself was refused (401, 20003, 20005), on any request.
    Refused(Account),
    /// Time passed (the probe task's tick).
    Tick,
    /// The primary's account resource answered as active.
    PrimaryHealthy,
}

/// What the caller must do after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Calls and SMS now go through the fallback.
    ToFallback,
    /// Check the primary account now.
    Probe,
    /// Calls and SMS are back on the primary.
    ToPrimary,
}

/// Which account is active and why; [`State::on`] is the whole decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub active: Account,
    /// Call creations on the primary that failed in a row.
    pub failures: u32,
    /// When the active account last changed (None: the primary since start).
    pub since: Option<Timestamp>,
    /// While on the fallback: when the primary is checked next.
    pub next_probe: Option<Timestamp>,
    probe_every: SignedDuration,
}

impl State {
    pub fn new(probe_every: Duration) -> State {
        State {
            active: Account::Primary,
            failures: 0,
            since: None,
            next_probe: None,
            probe_every: SignedDuration::try_from(probe_every).unwrap_or(SignedDuration::MAX),
        }
    }

    /// The state after `event` at `now`, and what changed. Events about the account not
    /// active (answers to requests sent before a switch) change nothing.
    pub fn on(&self, event: Event, now: Timestamp) -> (State, Option<Change>) {
        let mut next = self.clone();
        let later = |now: Timestamp| now.saturating_add(self.probe_every).ok();
        let change = match (self.active, event) {
            (Account::Primary, Event::Served(Account::Primary)) => {
                next.failures = 0;
                None
            }
            (Account::Primary, Event::Failed(Account::Primary))
                if self.failures + 1 < FAILURES_TO_SWITCH =>
            {
                next.failures += 1;
                None
            }
            (
                Account::Primary,
                Event::Failed(Account::Primary) | Event::Refused(Account::Primary),
            ) => {
                next.active = Account::Fallback;
                next.failures = 0;
                next.since = Some(now);
                next.next_probe = later(now);
                Some(Change::ToFallback)
            }
            (Account::Fallback, Event::Tick) if self.next_probe.is_none_or(|at| at <= now) => {
                // The next probe is planned now, so a slow probe is not started twice.
                next.next_probe = later(now);
                Some(Change::Probe)
            }
            (Account::Fallback, Event::PrimaryHealthy) => {
                next.active = Account::Primary;
                next.failures = 0;
                next.since = Some(now);
                next.next_probe = None;
                Some(Change::ToPrimary)
            }
            _ => None,
        };
        (next, change)
    }
}

/// Which account is active, as `/healthz` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    pub account: Account,
    /// Since when (absent: the primary since start, or no fallback configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

/// The provider's client: the primary Twilio account, and the fallback if configured.
pub struct Accounts {
    primary: TwilioClient,
    fallback: Option<Fallback>,
}

struct Fallback {
    client: TwilioClient,
    tracked: Mutex<Tracked>,
    store: Store,
    clock: SharedClock,
}

struct Tracked {
    state: State,
    to_fallback: u64,
    to_primary: u64,
}

/// A request that creates something: refused for sure, it is sent again through the
/// account a switch made active.
#[derive(Clone, Copy)]
enum Creation<'a> {
    Call(&'a CallRequest<'a>),
    Sms { to: &'a str, body: &'a str },
}

impl Creation<'_> {
    /// Sends it; returns the new resource's SID.
    async fn send(&self, client: &TwilioClient) -> Result<String, TwilioError> {
        match self {
            Creation::Call(call) => client.create_call(call).await,
            Creation::Sms { to, body } => client.send_sms(to, body).await,
        }
    }

    /// Only call creations count towards switching.
    fn kind(&self) -> Request {
        match self {
            Creation::Call(_) => Request::CallCreation,
            Creation::Sms { .. } => Request::Other,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Request {
    CallCreation,
    Other,
}

impl Accounts {
    /// Checks the primary while the fallback is active, until `stop`.
    pub async fn probe_until(&self, stop: CancellationToken) {
        let Some(tick) = self.probe_tick() else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => self.probe().await,
                _ = stop.cancelled() => break,
            }
        }
    }

    pub fn single(primary: TwilioClient) -> Accounts {
        Accounts {
            primary,
            fallback: None,
        }
    }

    pub fn with_fallback(
        primary: TwilioClient,
        fallback: TwilioClient,
        probe_every: Duration,
        store: Store,
        clock: SharedClock,
    ) -> Accounts {
        Accounts {
            primary,
            fallback: Some(Fallback {
                client: fallback,
                tracked: Mutex::new(Tracked {
                    state: State::new(probe_every),
                    to_fallback: 0,
                    to_primary: 0,
                }),
                store,
                clock,
            }),
        }
    }

    pub fn status(&self) -> Status {
        match &self.fallback {
            Some(f) => {
                let tracked = f.lock();
                Status {
                    account: tracked.state.active,
                    since: tracked.state.since,
                }
            }
            None => Status {
                account: Account::Primary,
                since: None,
            },
        }
    }

    /// `kaden_telephony_fallback_*` for `/metrics`; none without a fallback.
    pub fn samples(&self) -> Vec<Sample> {
        let Some(f) = &self.fallback else {
            return Vec::new();
        };
        let tracked = f.lock();
        let switches = "kaden_telephony_fallback_switches_total";
        vec![
            (
                "kaden_telephony_fallback_active",
                vec![],
                f64::from(u8::from(tracked.state.active == Account::Fallback)),
            ),
            (
                switches,
                vec![("to", "fallback".to_owned())],
                tracked.to_fallback as f64,
            ),
            (
                switches,
                vec![("to", "primary".to_owned())],
                tracked.to_primary as f64,
            ),
        ]
    }

    fn active(&self) -> Account {
        self.fallback
            .as_ref()
            .map_or(Account::Primary, |f| f.lock().state.active)
    }

    fn client(&self, account: Account) -> &TwilioClient {
        match (account, &self.fallback) {
            (Account::Fallback, Some(f)) => &f.client,
            _ => &self.primary,
        }
    }

    /// The account that is not `account`, when there are two.
    fn other(&self, account: Account) -> Option<Account> {
        self.fallback.as_ref().map(|_| match account {
            Account::Primary => Account::Fallback,
            Account::Fallback => Account::Primary,
        })
    }

    /// Places a call through the active account; returns Twilio's CallSid.
    pub async fn create_call(&self, call: &CallRequest<'_>) -> Result<String, TwilioError> {
        self.create(Creation::Call(call)).await
    }

    pub async fn send_sms(&self, to: &str, body: &str) -> Result<String, TwilioError> {
        self.create(Creation::Sms { to, body }).await
    }

    /// Sends through the active account; when that request switched accounts (or a
    /// concurrent one did) and Twilio's refusal proves nothing was created, sends it once
    /// more through the account now active.
    async fn create(&self, request: Creation<'_>) -> Result<String, TwilioError> {
        let first = self.active();
        let result = request.send(self.client(first)).await;
        self.observe(first, request.kind(), result.as_ref().err())
            .await;
        let again = self.active();
        match result {
            Err(e) if again != first && account_wide(&e) && e.proves_not_done() => {
                tracing::warn!(account = again.as_str(), error = %e, "Sending the request again through the account now active.");
                let result = request.send(self.client(again)).await;
                self.observe(again, request.kind(), result.as_ref().err())
                    .await;
                result
            }
            result => result,
        }
    }

    /// Where a call stands. A call placed before a switch belongs to the other account,
    /// so a call unknown to (or refused by) the active account is asked of the other; it
    /// is unknown only when neither account knows it.
    pub async fn fetch_call(&self, sid: &str) -> Result<CallStatus, TwilioError> {
        let first = self.active();
        let result = self.client(first).fetch_call(sid).await;
        self.observe(first, Request::Other, result.as_ref().err())
            .await;
        let Some(other) = self.other(first) else {
            return result;
        };
        if !matches!(result, Ok(CallStatus::Unknown) | Err(_)) {
            return result;
        }
        match self.client(other).fetch_call(sid).await {
            Ok(CallStatus::Unknown) => result,
            Ok(found) => Ok(found),
            Err(e) => result.and(Err(e)),
        }
    }

    /// A call placed to `to` within `window` and not among `known`, through either
    /// account: see [`TwilioClient::find_call`].
    pub async fn find_call(
        &self,
        to: &str,
        window: Duration,
        known: &[String],
    ) -> Result<Option<String>, TwilioError> {
        let first = self.active();
        let found = self.client(first).find_call(to, window, known).await?;
        match (found, self.other(first)) {
            (None, Some(other)) => self.client(other).find_call(to, window, known).await,
            (found, _) => Ok(found),
        }
    }

    /// Hangs up, cancels or redirects a call, through whichever account placed it.
    pub async fn update_call(&self, sid: &str, update: &CallUpdate) -> Result<(), TwilioError> {
        let first = self.active();
        let result = self.client(first).update_call(sid, update).await;
        self.observe(first, Request::Other, result.as_ref().err())
            .await;
        match (result, self.other(first)) {
            (Err(e), Some(other))
                if e.is_account_refusal()
                    || matches!(e, TwilioError::Rejected { status: 404, .. }) =>
            {
                self.client(other).update_call(sid, update).await
            }
            (result, _) => result,
        }
    }

    /// Feeds what a request through `account` showed to the state machine; logs, counts
    /// and records a switch.
    async fn observe(&self, account: Account, request: Request, error: Option<&TwilioError>) {
        let Some(f) = &self.fallback else { return };
        let event = match error {
            Some(e) if e.is_account_refusal() => Event::Refused(account),
            Some(TwilioError::Unavailable { .. }) if request == Request::CallCreation => {
                Event::Failed(account)
            }
            _ if request == Request::CallCreation => Event::Served(account),
            _ => return,
        };
        let now = f.clock.now();
        if f.step(event, now) != Some(Change::ToFallback) {
            return;
        }
        let error = error.expect("only a failure switches accounts");
        let why = match event {
            Event::Refused(_) => "the primary account is refused".to_owned(),
            _ => format!("{FAILURES_TO_SWITCH} call creations in a row failed through it"),
        };
        let message = format!(
            "fallback switch: calls and SMS now go through the fallback account {} instead of the primary {}: {why}; the last error: {error}",
            f.client.account_sid(),
            self.primary.account_sid(),
        );
        tracing::error!(code = error.code(), "{message}");
        f.record(error.code(), message, now).await;
    }

    /// While on the fallback: checks the primary when a check is due; returns to it when
    /// its account answers as active.
    pub async fn probe(&self) {
        let Some(f) = &self.fallback else { return };
        if f.step(Event::Tick, f.clock.now()) != Some(Change::Probe) {
            return;
        }
        match self.primary.check_account().await {
            Ok(found) => {
                let now = f.clock.now();
                if f.step(Event::PrimaryHealthy, now) == Some(Change::ToPrimary) {
                    let message = format!(
                        "fallback switch: calls and SMS are back on the primary account ({found})"
                    );
                    tracing::warn!("{message}");
                    f.record(NO_CODE, message, now).await;
                }
            }
            Err(e) => {
                tracing::info!(error = %e, "The primary Twilio account still fails; calls and SMS stay on the fallback.")
            }
        }
    }

    /// How often the probe task looks whether a check of the primary is due.
    fn probe_tick(&self) -> Option<Duration> {
        let f = self.fallback.as_ref()?;
        let every = f.lock().state.probe_every.unsigned_abs();
        Some(every.min(Duration::from_secs(10)))
    }
}

impl Fallback {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.tracked.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn step(&self, event: Event, now: Timestamp) -> Option<Change> {
        let mut tracked = self.lock();
        let (state, change) = tracked.state.on(event, now);
        tracked.state = state;
        match change {
            Some(Change::ToFallback) => tracked.to_fallback += 1,
            Some(Change::ToPrimary) => tracked.to_primary += 1,
            _ => {}
        }
        change
    }

    async fn record(&self, code: u32, message: String, at: Timestamp) {
        let error = TelephonyError {
            code,
            message,
            seen: Seen::Fallback,
            incident: None,
            call_id: None,
            call_sid: None,
        };
        self.store.keep_telephony_error(error, at).await;
    }
}

/// A failure that another account may not share: the account refused, or Twilio
/// unreachable through it.
fn account_wide(e: &TwilioError) -> bool {
    e.is_account_refusal() || matches!(e, TwilioError::Unavailable { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: Duration = Duration::from_secs(300);

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    /// Feeds `events` from a fresh state, one second apart; the changes, in order.
    fn run(events: &[Event]) -> (State, Vec<Option<Change>>) {
        let mut state = State::new(EVERY);
        let mut changes = Vec::new();
        for (i, event) in events.iter().enumerate() {
            let (next, change) = state.on(*event, at(i as i64));
            state = next;
            changes.push(change);
        }
        (state, changes)
    }

    use Account::{Fallback as F, Primary as P};

    #[test]
    fn an_account_refusal_switches_at_once() {
        let (state, changes) = run(&[Event::Refused(P)]);
        assert_eq!(changes, [Some(Change::ToFallback)]);
        assert_eq!(state.active, F);
        assert_eq!(state.since, Some(at(0)));
        assert_eq!(state.next_probe, Some(at(300)));
    }

    #[test]
    fn three_failed_call_creations_in_a_row_switch() {
        let (state, changes) = run(&[Event::Failed(P), Event::Failed(P)]);
        assert_eq!(changes, [None, None]);
        assert_eq!((state.active, state.failures), (P, 2));
        let (state, change) = state.on(Event::Failed(P), at(9));
        assert_eq!(change, Some(Change::ToFallback));
        assert_eq!((state.active, state.failures), (F, 0));
    }

    #[test]
    fn an_answer_between_failures_starts_the_count_again() {
        let (state, changes) = run(&[
            Event::Failed(P),
            Event::Failed(P),
            Event::Served(P),
            Event::Failed(P),
            Event::Failed(P),
        ]);
        assert!(changes.iter().all(Option::is_none), "{changes:?}");
        assert_eq!((state.active, state.failures), (P, 2));
    }

    #[test]
    fn answers_about_the_other_account_change_nothing() {
        // Requests sent through the primary before the switch fail after it.
        let (state, changes) = run(&[
            Event::Refused(P),
            Event::Refused(P),
            Event::Failed(P),
            Event::Served(P),
            Event::Refused(F),
            Event::Failed(F),
        ]);
        assert_eq!(changes[0], Some(Change::ToFallback));
        assert!(changes[1..].iter().all(Option::is_none), "{changes:?}");
        assert_eq!(state.active, F);
        // On the primary, the fallback's answers (none expected) are ignored too.
        let fresh = State::new(EVERY);
        assert_eq!(fresh.on(Event::Refused(F), at(0)), (fresh.clone(), None));
        assert_eq!(
            fresh.on(Event::PrimaryHealthy, at(0)),
            (fresh.clone(), None)
        );
        assert_eq!(fresh.on(Event::Tick, at(0)), (fresh, None));
    }

    #[test]
    fn the_primary_is_probed_every_interval_and_returned_to_when_healthy() {
        let (state, _) = run(&[Event::Refused(P)]);
        assert_eq!(state.on(Event::Tick, at(299)).1, None);
        let (state, change) = state.on(Event::Tick, at(300));
        assert_eq!(change, Some(Change::Probe));
        // The probe under way is not started again; a failed one waits a full interval.
        assert_eq!(state.on(Event::Tick, at(301)).1, None);
        let (state, change) = state.on(Event::Tick, at(600));
        assert_eq!(change, Some(Change::Probe));
        let (state, change) = state.on(Event::PrimaryHealthy, at(601));
        assert_eq!(change, Some(Change::ToPrimary));
        assert_eq!(state.active, P);
        assert_eq!(state.since, Some(at(601)));
        assert_eq!(state.next_probe, None);
        assert_eq!(state.failures, 0);
        // Back on the primary, failing again switches again.
        let (state, change) = state.on(Event::Refused(P), at(700));
        assert_eq!(change, Some(Change::ToFallback));
        assert_eq!(state.next_probe, Some(at(1000)));
    }
}
