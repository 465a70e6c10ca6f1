//! The runner: one task that owns every live escalation, feeds the engine its inputs
//! (alerts, webhooks, timers, manual acks), commits each step, then carries out the
//! effects (calls, hang-ups, SMS). Inputs are processed one at a time, so there are no
//! races between a webhook and a timer. The inputs waiting at one moment are stepped
//! together and their steps share one commit: an alert storm costs one fsync per batch,
//! and no effect is carried out before its step is on disk.

mod call_budget;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::{Alert, AlertId, AlertKind, CallSettingId, IncidentId, UserId};
use crate::escalation::CallId;
use crate::escalation::{
    Action, AlertInput, Ctx, Escalation, Input, ItemKey, ManualVia, Prompt, Record,
    SettingSnapshot, SmsMessage,
};
use crate::schedule::Override;
use crate::speech::Speech;
use crate::store::{StepToSave, Store, StoreError, TelephonyError};
use crate::telephony::errors::Seen;
use crate::telephony::twilio::{CallRequest, CallStatus, CallUpdate};
use crate::telephony::voice::{Spoken, Telephony, render_twiml};
use call_budget::CallBudget;
use jiff::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often live calls are checked with the provider, for outcomes whose callbacks were
/// lost (kaden down, a network blip).
const RECONCILE_EVERY: Duration = Duration::from_secs(30);
/// On shutdown, inputs still arriving (a call Twilio just accepted) are committed until
/// none comes for this long ...
const SHUTDOWN_QUIET: Duration = Duration::from_millis(500);
/// ... or this long has passed.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(3);
/// At most this many waiting commands are stepped before their commit.
const MAX_BATCH: usize = 256;

/// Schedule overrides, kept in SQLite and mirrored here for resolving targets at call time.
pub type SharedOverrides = Arc<std::sync::RwLock<Vec<Override>>>;

pub enum Command {
    Alert {
        incident: IncidentId,
        call_setting: Option<CallSettingId>,
        alert_id: AlertId,
        alert: Box<Alert>,
    },
    Call {
        call: CallId,
        input: Input,
        reply: Option<oneshot::Sender<Spoken>>,
    },
    Ack {
        incident: IncidentId,
        by: String,
        via: ManualVia,
        reply: oneshot::Sender<bool>,
    },
}

/// Sends inputs to the runner; cheap to clone.
#[derive(Clone)]
pub struct RunnerHandle {
    commands: mpsc::Sender<Command>,
}

impl RunnerHandle {
    pub async fn alert(
        &self,
        incident: IncidentId,
        call_setting: Option<CallSettingId>,
        alert_id: AlertId,
        alert: Alert,
    ) {
        let command = Command::Alert {
            incident,
            call_setting,
            alert_id,
            alert: Box::new(alert),
        };
        if self.commands.send(command).await.is_err() {
            tracing::warn!(
                incident_id = incident.get(),
                "The runner has stopped; the alert is escalated after restart."
            );
        }
    }

    /// A webhook that must be answered with what to say.
    pub async fn speak(&self, input: Input) -> Option<Spoken> {
        let call = input.call()?.clone();
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Call {
                call,
                input,
                reply: Some(reply),
            })
            .await
            .ok()?;
        answer.await.ok()
    }

    /// A call outcome that needs no answer.
    pub async fn tell(&self, input: Input) {
        let Some(call) = input.call().cloned() else {
            return;
        };
        let _ = self
            .commands
            .send(Command::Call {
                call,
                input,
                reply: None,
            })
            .await;
    }

    /// Acknowledges everything open in an incident; false when it has nothing escalating.
    pub async fn ack(&self, incident: IncidentId, by: String, via: ManualVia) -> bool {
        let (reply, answer) = oneshot::channel();
        if self
            .commands
            .send(Command::Ack {
                incident,
                by,
                via,
                reply,
            })
            .await
            .is_err()
        {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

pub struct Runner {
    commands: mpsc::Receiver<Command>,
    handle: RunnerHandle,
    store: Store,
    config: Arc<Config>,
    speech: Arc<Speech>,
    telephony: Arc<Telephony>,
    clock: SharedClock,
    writeback: Arc<Notify>,
    overrides: SharedOverrides,
    escalations: HashMap<IncidentId, Escalation>,
    budget: CallBudget,
    /// Requests to the provider under way; shutdown waits for them.
    tasks: TaskTracker,
    /// Calls ended before Twilio told us their sid: end them when it does.
    pending_ends: HashMap<CallId, bool>,
    /// The state last saved per escalation, so an unchanged one is not written again.
    saved_cores: HashMap<IncidentId, String>,
    /// Inputs an effect produced (a deferred call), stepped after the current batch.
    follow_ups: VecDeque<(IncidentId, Input)>,
}

/// A step taken by the engine whose commit is on its way: its actions wait for it.
struct Stepped {
    incident: IncidentId,
    input_placed: Option<(CallId, String)>,
    actions: Vec<Action>,
    /// (error, message) of the step's notices, logged once it is committed.
    notices: Vec<(bool, String)>,
    keypad_timeout: Duration,
    now: Timestamp,
    reply: Option<oneshot::Sender<Spoken>>,
    saved: Option<Committing>,
}

/// How far before a recorded call's own time Twilio's creation time may lie (clocks of
/// two hosts).
const LOOKUP_MARGIN: Duration = Duration::from_secs(30);

/// A step's commit, queued with the store.
type Committing = std::pin::Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

impl Runner {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        speech: Arc<Speech>,
        telephony: Arc<Telephony>,
        clock: SharedClock,
        writeback: Arc<Notify>,
        overrides: SharedOverrides,
    ) -> (Runner, RunnerHandle) {
        let (tx, commands) = mpsc::channel(1024);
        let handle = RunnerHandle { commands: tx };
        let budget = CallBudget::new(config.telephony.max_calls_per_hour, Vec::new());
        let runner = Runner {
            commands,
            handle: handle.clone(),
            store,
            config,
            speech,
            telephony,
            clock,
            writeback,
            overrides,
            escalations: HashMap::new(),
            budget,
            tasks: TaskTracker::new(),
            pending_ends: HashMap::new(),
            saved_cores: HashMap::new(),
            follow_ups: VecDeque::new(),
        };
        (runner, handle)
    }

    pub async fn run(mut self, shutdown: CancellationToken) {
        if let Err(e) = self.restore().await {
            tracing::error!(error = %e, "Cannot restore escalations; they resume when the database is readable.");
        }
        let mut reconcile = tokio::time::interval(RECONCILE_EVERY);
        reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wait = self.until_next_deadline();
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => {
                        let mut batch = vec![command];
                        while batch.len() < MAX_BATCH
                            && let Ok(command) = self.commands.try_recv()
                        {
                            batch.push(command);
                        }
                        self.commands(batch).await
                    }
                    None => break,
                },
                _ = sleep_opt(wait) => self.tick_due().await,
                // The first tick is at once: calls that were live when kaden stopped are
                // settled right after the restore.
                _ = reconcile.tick() => self.reconcile(),
                _ = shutdown.cancelled() => {
                    self.commit_in_flight().await;
                    break;
                }
            }
        }
    }

    /// Commits what is already on its way (a call Twilio accepted, a status callback)
    /// so a restart knows it.
    /// Requests still with the provider (a call being placed, an SMS) are waited for,
    /// so the answers they bring are committed too.
    async fn commit_in_flight(&mut self) {
        let limit = tokio::time::Instant::now() + SHUTDOWN_LIMIT;
        self.tasks.close();
        loop {
            let quiet = limit.min(tokio::time::Instant::now() + SHUTDOWN_QUIET);
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.commands(vec![command]).await,
                    None => break,
                },
                _ = self.tasks.wait(), if !self.tasks.is_empty() => {}
                _ = tokio::time::sleep_until(quiet), if self.tasks.is_empty() => break,
                _ = tokio::time::sleep_until(limit) => break,
            }
        }
    }

    /// Asks the provider about every live call it knows: an ended call gets its outcome,
    /// a call the provider has forgotten ends as lost. Inputs come back as commands.
    fn reconcile(&self) {
        let calls: Vec<(CallId, String)> = self
            .escalations
            .values()
            .flat_map(Escalation::live_calls)
            .filter_map(|(call, sid)| Some((call.clone(), sid?.to_owned())))
            .collect();
        if calls.is_empty() {
            return;
        }
        let telephony = self.telephony.clone();
        let handle = self.handle.clone();
        let store = self.store.clone();
        self.tasks.spawn(async move {
            for (call, sid) in calls {
                let input = match telephony.client.fetch_call(&sid).await {
                    Ok(CallStatus::Live) => continue,
                    Ok(CallStatus::Ended(outcome, usage)) => {
                        store.keep_call_usage(&call, usage).await;
                        Input::Ended { call, outcome }
                    }
                    Ok(CallStatus::Unknown) => Input::Lost { call },
                    Err(e) => {
                        tracing::warn!(call_sid = %sid, error = %e, "Cannot check the call with the provider; its deadline still applies.");
                        continue;
                    }
                };
                handle.tell(input).await;
            }
        });
    }

    async fn restore(&mut self) -> Result<(), StoreError> {
        for escalation in self.store.active_escalations().await? {
            let incident = escalation.incident_id();
            self.saved_cores.insert(incident, escalation.core_json());
            self.escalations.insert(incident, escalation);
        }
        let replayed = self
            .store
            .open_alerts()
            .await?
            .into_iter()
            .map(|open| Command::Alert {
                incident: open.incident,
                call_setting: Some(open.call_setting),
                alert_id: open.alert_id,
                alert: Box::new(open.alert),
            })
            .collect();
        self.commands(replayed).await;
        let since = CallBudget::window_start(self.clock.now());
        let placed = self.store.calls_placed_since(since).await?;
        self.budget = CallBudget::new(self.config.telephony.max_calls_per_hour, placed);
        let live: usize = self
            .escalations
            .values()
            .map(|e| e.live_calls().count())
            .sum();
        tracing::info!(
            escalations = self.escalations.len(),
            live_calls = live,
            "Escalations restored."
        );
        self.find_unconfirmed_calls();
        // Steps taken during restore already ran; settle the rest (overdue timers).
        self.tick_due().await;
        Ok(())
    }

    /// Asks Twilio about each call that was recorded but whose creation was never
    /// confirmed: the process placing it died half-way (a crash, or another instance
    /// that led before this one). One found is kept (`Placed`) and settled like any
    /// other; one not found is never placed again and ends at its deadline.
    fn find_unconfirmed_calls(&self) {
        let now = self.clock.now();
        let lookups: Vec<(CallId, String, Duration, Vec<String>)> = self
            .escalations
            .values()
            .flat_map(|escalation| {
                let (unconfirmed, known) = escalation.unconfirmed_calls();
                unconfirmed.into_iter().map(move |(call, to, placed_at)| {
                    let since =
                        Duration::try_from(now.duration_since(placed_at)).unwrap_or(Duration::ZERO);
                    (
                        call.clone(),
                        to.to_owned(),
                        since + LOOKUP_MARGIN,
                        known.clone(),
                    )
                })
            })
            .collect();
        if lookups.is_empty() {
            return;
        }
        let telephony = self.telephony.clone();
        let handle = self.handle.clone();
        self.tasks.spawn(async move {
            for (call, to, window, known) in lookups {
                match telephony.client.find_call(&to, window, &known).await {
                    Ok(Some(sid)) => {
                        tracing::warn!(call_id = %call, call_sid = %sid, "A call placed before the restart or takeover was found at Twilio; keeping it.");
                        handle.tell(Input::Placed { call, sid }).await;
                    }
                    Ok(None) => tracing::warn!(call_id = %call, "A call recorded before the restart or takeover is not at Twilio; it is not placed again and ends at its deadline."),
                    Err(e) => tracing::warn!(call_id = %call, error = %e, "Cannot ask Twilio about a call recorded before the restart or takeover; it ends at its deadline."),
                }
            }
        });
    }

    fn until_next_deadline(&self) -> Option<Duration> {
        let next = self
            .escalations
            .values()
            .filter_map(Escalation::next_deadline)
            .min()?;
        let wait = next.duration_since(self.clock.now());
        Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
    }

    async fn tick_due(&mut self) {
        let now = self.clock.now();
        let due: Vec<IncidentId> = self
            .escalations
            .iter()
            .filter(|(_, e)| e.next_deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        let mut stepped = Vec::new();
        for incident in due {
            self.step(incident, Input::Tick, None, &mut stepped);
        }
        self.carry_out(stepped).await;
    }

    /// Steps every command, then, once their steps are committed, carries out their
    /// effects, and the inputs those effects produced, until none is left.
    async fn commands(&mut self, commands: Vec<Command>) {
        let mut stepped = Vec::new();
        for command in commands {
            self.command(command, &mut stepped);
        }
        self.carry_out(stepped).await;
    }

    async fn carry_out(&mut self, mut stepped: Vec<Stepped>) {
        while !stepped.is_empty() {
            for step in std::mem::take(&mut stepped) {
                self.finish(step).await;
            }
            while let Some((incident, input)) = self.follow_ups.pop_front() {
                self.step(incident, input, None, &mut stepped);
            }
        }
    }

    fn command(&mut self, command: Command, stepped: &mut Vec<Stepped>) {
        match command {
            Command::Alert {
                incident,
                call_setting,
                alert_id,
                alert,
            } => self.alert(incident, call_setting, alert_id, *alert, stepped),
            Command::Call { call, input, reply } => {
                self.step(call.incident(), input, reply, stepped)
            }
            Command::Ack {
                incident,
                by,
                via,
                reply,
            } => {
                let known = self.escalations.contains_key(&incident);
                if known {
                    self.step(incident, Input::ManualAck { by, via }, None, stepped);
                }
                let _ = reply.send(known);
            }
        }
    }

    fn alert(
        &mut self,
        incident: IncidentId,
        call_setting: Option<CallSettingId>,
        alert_id: AlertId,
        alert: Alert,
        stepped: &mut Vec<Stepped>,
    ) {
        if !self.escalations.contains_key(&incident) {
            // A new escalation snapshots its call setting; later config changes leave it alone.
            let setting = call_setting
                .as_ref()
                .and_then(|id| self.config.call_setting(id));
            match (alert.kind, setting) {
                (AlertKind::Problem, Some(setting)) => {
                    let escalation = Escalation::new(incident, SettingSnapshot::from(setting));
                    self.escalations.insert(incident, escalation);
                }
                _ => return,
            }
        }
        let input = Input::Alert(AlertInput {
            alert_id,
            kind: alert.kind,
            key: ItemKey {
                source: alert.source(),
                key: alert.key,
            },
            host: alert.host,
            service: alert.service,
            severity: alert.severity,
            state_word: alert.state,
            output: alert.output,
            source_ref: alert.source_ref,
        });
        self.step(incident, input, None, stepped);
    }

    /// Feeds one input to its escalation and queues the step's commit.
    fn step(
        &mut self,
        incident: IncidentId,
        input: Input,
        reply: Option<oneshot::Sender<Spoken>>,
        stepped: &mut Vec<Stepped>,
    ) {
        let now = self.clock.now();
        let Some(escalation) = self.escalations.get_mut(&incident) else {
            if let Some(reply) = reply {
                let _ = reply.send(Spoken::nothing_pending());
            }
            return;
        };
        let input_placed = match &input {
            Input::Placed { call, sid } => Some((call.clone(), sid.clone())),
            _ => None,
        };
        let step = {
            let overrides = self.overrides.read().unwrap_or_else(|p| p.into_inner());
            let ctx = Ctx {
                roster: &crate::oncall::ConfigRoster {
                    config: &self.config,
                    overrides: &overrides,
                },
                per_number_limit: self.config.telephony.per_number_limit,
                per_number_window: self.config.telephony.per_number_window,
                downtime_minutes: self.config.speech.downtime_minutes,
                keypad: self.config.keys,
            };
            escalation.handle(input, now, &ctx)
        };
        let keypad_timeout = escalation.keypad_timeout();
        let notices = step
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Notice(notice) => Some((notice.is_error(), notice.to_string())),
                _ => None,
            })
            .collect();
        let save = StepToSave::of(
            escalation,
            self.saved_cores.get(&incident).map(String::as_str),
            step.records,
            step.finished,
            now,
        );
        if save.done {
            self.escalations.remove(&incident);
            self.saved_cores.remove(&incident);
        } else if let Some(core) = &save.core {
            self.saved_cores.insert(incident, core.clone());
        }
        let saved = (!save.is_empty()).then(|| Box::pin(self.store.save_step(save)) as _);
        stepped.push(Stepped {
            incident,
            input_placed,
            actions: step.actions,
            notices,
            keypad_timeout,
            now,
            reply,
            saved,
        });
    }

    /// Waits for a step's commit, then carries out its actions.
    async fn finish(&mut self, step: Stepped) {
        let Stepped {
            incident,
            input_placed,
            actions,
            notices,
            keypad_timeout,
            now,
            mut reply,
            saved,
        } = step;
        if let Some(saved) = saved
            && let Err(e) = saved.await
        {
            tracing::error!(incident_id = incident.get(), error = %e, "Cannot save the escalation state.");
        }
        if let Some((call, sid)) = input_placed
            && let Some(answered) = self.pending_ends.remove(&call)
        {
            self.end_call(sid, CallUpdate::End { answered });
        }
        for (error, message) in notices {
            if error {
                tracing::error!(incident_id = incident.get(), "{message}");
            } else {
                tracing::info!(incident_id = incident.get(), "{message}");
            }
        }
        for action in actions {
            self.execute(incident, action, now, &mut reply, keypad_timeout);
        }
        if let Some(reply) = reply {
            let _ = reply.send(Spoken::nothing_pending());
        }
    }

    fn execute(
        &mut self,
        incident: IncidentId,
        action: Action,
        now: Timestamp,
        reply: &mut Option<oneshot::Sender<Spoken>>,
        keypad_timeout: Duration,
    ) {
        match action {
            Action::PlaceCall {
                call,
                user,
                phone,
                ring_timeout,
            } => {
                if let Err(until) = self.budget.take(now) {
                    self.call_cap_hit(incident, &user, &phone, now);
                    self.follow_ups
                        .push_back((incident, Input::Deferred { call, until }));
                    return;
                }
                tracing::info!(incident_id = incident.get(), call_id = %call, user = %user, "Placing call.");
                let telephony = self.telephony.clone();
                let handle = self.handle.clone();
                let store = self.store.clone();
                let clock = self.clock.clone();
                self.tasks.spawn(async move {
                    let hooks = &telephony.webhooks;
                    let request = CallRequest {
                        to: phone.as_str(),
                        voice_url: &hooks.url("voice", &call),
                        status_url: &hooks.url("status", &call),
                        amd_url: &hooks.url("amd", &call),
                        ring_timeout,
                    };
                    let input = match telephony.client.create_call(&request).await {
                        Ok(sid) => {
                            crate::fault::crash_point("call-created");
                            tracing::info!(call_id = %call, call_sid = %sid, "Twilio accepted the call.");
                            Input::Placed {
                                call: call.clone(),
                                sid,
                            }
                        }
                        Err(e) => {
                            tracing::error!(call_id = %call, error = %e, "Twilio did not place the call.");
                            let error = TelephonyError {
                                code: e.code(),
                                message: e.to_string(),
                                seen: Seen::Rest,
                                incident: Some(incident),
                                call_id: Some(call.to_string()),
                                call_sid: None,
                            };
                            store.keep_telephony_error(error, clock.now()).await;
                            Input::PlaceFailed {
                                call: call.clone(),
                                reason: e.to_string(),
                                skip_person: e.is_bad_number(),
                            }
                        }
                    };
                    handle.tell(input).await;
                });
            }
            Action::EndCall {
                call,
                sid,
                answered,
                farewell,
            } => {
                let update = match farewell {
                    Some(prompt) => CallUpdate::Twiml(self.twiml(&call, &prompt, keypad_timeout)),
                    None => CallUpdate::End { answered },
                };
                match sid {
                    Some(sid) => self.end_call(sid, update),
                    None => {
                        self.pending_ends.insert(call, answered);
                    }
                }
            }
            Action::Respond(prompt) => {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(Spoken {
                        prompt,
                        keypad_timeout,
                    });
                }
            }
            Action::SendSms {
                user,
                phone,
                message,
            } => self.send_sms(incident, user, phone.as_str().to_owned(), &message),
            Action::Alarm(message) => self.alarm(incident, &message),
            Action::WriteBack => self.writeback.notify_one(),
        }
    }

    fn call_cap_hit(
        &mut self,
        incident: IncidentId,
        user: &UserId,
        phone: &crate::domain::PhoneNumber,
        now: Timestamp,
    ) {
        let cap = self.config.telephony.max_calls_per_hour;
        tracing::error!(
            incident_id = incident.get(),
            cap,
            "telephony.max_calls_per_hour reached; calls are deferred."
        );
        // One SMS per hour, to the person the deferred call was for.
        if self.budget.warn(now) {
            let message = SmsMessage::CallCapReached { incident, cap };
            self.send_sms(incident, user.clone(), phone.as_str().to_owned(), &message);
            self.alarm(incident, &message);
        }
    }

    fn send_sms(&self, incident: IncidentId, user: UserId, to: String, message: &SmsMessage) {
        let body = self.speech.sms(message);
        let telephony = self.telephony.clone();
        let store = self.store.clone();
        let clock = self.clock.clone();
        self.tasks.spawn(async move {
            let sms = crate::usage::Sms {
                to: &to,
                body: &body,
                user: Some(&user),
                incident: Some(incident),
                purpose: "escalation",
            };
            match crate::usage::send_sms(&telephony, &store, &*clock, sms).await {
                Ok(sid) => {
                    tracing::info!(incident_id = incident.get(), user = %user, message_sid = %sid, "SMS sent.")
                }
                Err(e) => {
                    tracing::error!(incident_id = incident.get(), user = %user, error = %e, "SMS not sent.");
                    let error = TelephonyError {
                        code: e.code(),
                        message: format!("SMS to {user}: {e}"),
                        seen: Seen::Rest,
                        incident: Some(incident),
                        call_id: None,
                        call_sid: None,
                    };
                    store.keep_telephony_error(error, clock.now()).await;
                }
            }
        });
    }

    /// Calling has failed (exhausted, call cap): tell `telephony.alarm_webhook`, which
    /// reaches people the phone network may not, in the words of the SMS.
    fn alarm(&self, incident: IncidentId, message: &SmsMessage) {
        let Some(url) = self.config.telephony.alarm_webhook.clone() else {
            return;
        };
        let text = self.speech.sms(message);
        let event = match message {
            SmsMessage::Exhausted { .. } => "exhausted",
            SmsMessage::CallCapReached { .. } => "call_cap_reached",
        };
        let body = serde_json::json!({
            "event": event,
            "incident_id": incident.get(),
            "message": text,
            "at": self.clock.now(),
        });
        self.tasks.spawn(async move {
            match crate::alarm::Webhook::default().post(&url, &body).await {
                Ok(()) => tracing::info!(incident_id = incident.get(), event, "Alarm webhook told."),
                Err(e) => {
                    tracing::error!(incident_id = incident.get(), event, error = %e, "Alarm webhook not told.")
                }
            }
        });
    }

    fn end_call(&self, sid: String, update: CallUpdate) {
        let telephony = self.telephony.clone();
        self.tasks.spawn(async move {
            if let Err(e) = telephony.client.update_call(&sid, &update).await {
                tracing::warn!(call_sid = %sid, error = %e, "Could not end the call; it ends at its ring timeout or when the callee hangs up.");
            }
        });
    }

    fn twiml(&self, call: &CallId, prompt: &Prompt, keypad_timeout: Duration) -> String {
        render_twiml(
            &self.speech,
            &self.telephony.webhooks,
            call,
            prompt,
            keypad_timeout,
        )
    }
}

async fn sleep_opt(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}
