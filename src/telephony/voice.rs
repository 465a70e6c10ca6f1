//! What a live call hears: the engine's prompt, worded by the speech module, as TwiML,
//! with the webhooks Twilio calls next.

use super::failover::Accounts;
use super::twiml;
use crate::escalation::{After, CallId, Line, Prompt};
use crate::speech::Speech;
use std::time::Duration;

/// Where Twilio reaches kaden for one call.
#[derive(Clone)]
pub struct Webhooks {
    pub base: String,
}

impl Webhooks {
    pub fn url(&self, hook: &str, call: &CallId) -> String {
        format!("{}/twilio/{hook}?call={call}", self.base)
    }
}

/// The provider's client (one Twilio account, or two with a fallback) and the webhooks
/// its calls are given.
pub struct Telephony {
    pub client: Accounts,
    pub webhooks: Webhooks,
}

/// What a call says next, and how long its keypad waits.
pub struct Spoken {
    pub prompt: Prompt,
    pub keypad_timeout: Duration,
}

impl Spoken {
    /// The answer for a call kaden has nothing (more) for.
    pub fn nothing_pending() -> Spoken {
        Spoken {
            prompt: Prompt {
                lines: vec![Line::NothingPending],
                after: After::Hangup,
            },
            keypad_timeout: Duration::ZERO,
        }
    }
}

pub fn render_twiml(
    speech: &Speech,
    webhooks: &Webhooks,
    call: &CallId,
    prompt: &Prompt,
    keypad_timeout: Duration,
) -> String {
    let text = speech.render(prompt);
    let voice = twiml::Voice {
        voice: &speech.voice,
        language: speech.language_tag(),
    };
    match prompt.after {
        After::Gather => twiml::gather(
            &text,
            &voice,
            &twiml::Gather {
                action: &webhooks.url("gather", call),
                timeout_secs: keypad_timeout.as_secs(),
            },
        ),
        After::Hangup => twiml::hangup(&text, &voice),
    }
}
