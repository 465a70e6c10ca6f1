//! The escalation engine: a pure, deterministic state machine per incident.
//!
//! `Escalation::handle(input, now, ctx)` changes the state and returns a [`Step`]: the
//! [`Record`]s to store (call log, notices, acknowledgements, downtimes) and the
//! [`Action`]s to carry out after (place or end a call, answer a webhook with a
//! [`Prompt`], send an SMS, wake the write-back). It never reads a clock and does no I/O; the
//! [`runner`](crate::runner) executes the effects and wakes it at `next_deadline()`.

mod engine;
mod items;
mod notice;
mod prompt;
mod state;
mod step;
#[cfg(test)]
mod tests;

pub use engine::{Ctx, Escalation, Person, Roster};
pub use notice::{Notice, Unreachable};
pub use prompt::{After, ItemView, Line, Prompt};
pub use state::{
    AckBy, CallId, CallPurpose, Item, ItemKey, ItemStatus, ManualVia, SettingSnapshot,
    SnapshotTarget, Status,
};
pub use step::{
    Action, AlertInput, CallOutcome, CallRecord, Input, OutcomeLabel, Record, SmsMessage, Step,
    WriteBackItem,
};
