//! What a simulated callee does when called: a script per phone number under
//! `telephony.simulator.phones`, also set at run time over the simulator's `/sim` API.

use crate::domain::Keypad;
use serde::{Deserialize, Serialize};

/// What a simulated callee does when called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "behaviour", rename_all = "snake_case", deny_unknown_fields)]
pub enum Behaviour {
    /// Picks up after `after_secs` and presses `keys` one entry per menu (e.g. "1#", "9#").
    Answer {
        #[serde(default = "default_keys")]
        keys: Vec<String>,
        #[serde(default = "default_after")]
        after_secs: u64,
    },
    /// Rings until the ring timeout.
    #[serde(alias = "no-answer")]
    NoAnswer,
    /// The line is busy after ringing a while.
    Busy,
    /// The callee declines: busy within seconds.
    Decline,
    /// Voicemail picks up after `after_secs` (if that is before the ring timeout).
    Voicemail {
        #[serde(default = "voicemail_after")]
        after_secs: u64,
    },
    /// Picks up, listens, hangs up after `after_secs` without pressing anything.
    #[serde(alias = "hang-up")]
    HangUp {
        #[serde(default = "default_after")]
        after_secs: u64,
    },
    /// Twilio refuses the number (error 21211).
    #[serde(alias = "invalid-number")]
    InvalidNumber,
}

/// A script's keys when it names none: the default acknowledge-all key.
fn default_keys() -> Vec<String> {
    acknowledge_all(&Keypad::default())
}

fn acknowledge_all(keypad: &Keypad) -> Vec<String> {
    vec![format!("{}#", keypad.acknowledge_all)]
}
fn default_after() -> u64 {
    2
}
fn voicemail_after() -> u64 {
    15
}

impl Behaviour {
    /// Answers after 2 s and presses the acknowledge-all key of `keypad` (9#): what a
    /// number with no script does.
    pub fn acknowledging(keypad: &Keypad) -> Self {
        Behaviour::Answer {
            keys: acknowledge_all(keypad),
            after_secs: default_after(),
        }
    }
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour::acknowledging(&Keypad::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn callee_behaviours_take_underscores_or_dashes() {
        for (underscore, dash) in [
            ("no_answer", "no-answer"),
            ("hang_up", "hang-up"),
            ("invalid_number", "invalid-number"),
        ] {
            let a: Behaviour = serde_json::from_value(json!({ "behaviour": underscore })).unwrap();
            let b: Behaviour = serde_json::from_value(json!({ "behaviour": dash })).unwrap();
            assert_eq!(a, b);
        }
    }
}
