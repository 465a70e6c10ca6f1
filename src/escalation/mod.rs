//! The escalation engine: a pure, deterministic state machine per incident.
//!
//! `Escalation::handle(input, now, ctx)` changes the state and returns [`Effect`]s (place
//! a call, end a call, answer a webhook with a [`Prompt`], acknowledge, schedule downtime,
//! send an SMS, record the call log). It never reads a clock and does no I/O; the
//! [`runner`](crate::runner) executes the effects and wakes it at `next_deadline()`.

mod engine;
mod items;
mod prompt;
mod state;
#[cfg(test)]
mod tests;

pub use engine::{Ctx, Person, Roster};
pub use items::Items;
pub use prompt::{After, ItemView, Line, Prompt};
pub use state::{
    AckBy, AlertInput, Attempt, Call, CallId, CallOutcome, CallPurpose, CallRecord, Effect,
    Escalation, Input, Item, ItemKey, ItemStatus, ManualVia, SettingSnapshot, SmsMessage,
    SnapshotTarget, Status, WriteBackItem,
};
