//! The keypad menu (design.md "Call behaviour", rule 3): which key picks which entry.
//! Every entry ends with `#`; the keys are set under `keys:` in kaden.yaml.

use serde::{Deserialize, Serialize};

/// One entry of the keypad menu, as the engine acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// Play the details of what the summary counted.
    Details,
    /// Pass the call on to the next person now.
    Pass,
    /// Acknowledge the alerts whose details were played in this call.
    AcknowledgeDetails,
    /// Put the alerts of this call in downtime (and acknowledge them), then end the call.
    Downtime,
    /// Acknowledge every alert of this call and end it.
    AcknowledgeAll,
    /// `#` alone: end the call unacknowledged.
    Nothing,
    /// Anything else: the summary and the menu again.
    Other,
}

impl Key {
    /// The menu entries that have a key, in the order the menu says them.
    pub const MENU: [Key; 5] = [
        Key::Details,
        Key::Pass,
        Key::AcknowledgeDetails,
        Key::Downtime,
        Key::AcknowledgeAll,
    ];

    /// The entry's name under `keys:` in the config and in the `menu` template.
    pub fn name(self) -> &'static str {
        match self {
            Key::Details => "details",
            Key::Pass => "pass",
            Key::AcknowledgeDetails => "acknowledge_details",
            Key::Downtime => "downtime",
            Key::AcknowledgeAll => "acknowledge_all",
            Key::Nothing => "nothing",
            Key::Other => "other",
        }
    }
}

/// The key of each menu entry: one of `0`-`9` and `*`, all different.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keypad {
    pub details: char,
    pub pass: char,
    pub acknowledge_details: char,
    pub downtime: char,
    pub acknowledge_all: char,
}

impl Default for Keypad {
    /// X-MON's keys, which operators know: 1 details, 2 pass, 3 acknowledge what was
    /// heard in detail, 4 downtime, 9 acknowledge everything.
    fn default() -> Self {
        Keypad {
            details: '1',
            pass: '2',
            acknowledge_details: '3',
            downtime: '4',
            acknowledge_all: '9',
        }
    }
}

impl Keypad {
    /// Whether `c` can be a menu key (`#` ends an entry, so it cannot be one).
    pub fn is_key(c: char) -> bool {
        c.is_ascii_digit() || c == '*'
    }

    /// The key of `entry` (`None` for `Nothing` and `Other`, which have none).
    pub fn key_of(&self, entry: Key) -> Option<char> {
        Some(match entry {
            Key::Details => self.details,
            Key::Pass => self.pass,
            Key::AcknowledgeDetails => self.acknowledge_details,
            Key::Downtime => self.downtime,
            Key::AcknowledgeAll => self.acknowledge_all,
            Key::Nothing | Key::Other => return None,
        })
    }

    /// The entry that `pressed` (the keys before `#`, without it) picks.
    pub fn entry(&self, pressed: &str) -> Key {
        let mut chars = pressed.chars();
        match (chars.next(), chars.next()) {
            (None, _) => Key::Nothing,
            (Some(c), None) => Key::MENU
                .into_iter()
                .find(|&entry| self.key_of(entry) == Some(c))
                .unwrap_or(Key::Other),
            (Some(_), Some(_)) => Key::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressed_keys_pick_entries_by_the_configured_keys() {
        let default = Keypad::default();
        let picked: Vec<Key> = ["1", "2", "3", "4", "9", "", "5", "19", "*"]
            .iter()
            .map(|p| default.entry(p))
            .collect();
        use Key::*;
        assert_eq!(
            picked,
            [
                Details,
                Pass,
                AcknowledgeDetails,
                Downtime,
                AcknowledgeAll,
                Nothing,
                Other,
                Other,
                Other
            ]
        );
        let moved = Keypad {
            acknowledge_all: '*',
            details: '9',
            ..Keypad::default()
        };
        assert_eq!(moved.entry("*"), AcknowledgeAll);
        assert_eq!(moved.entry("9"), Details);
        assert_eq!(moved.entry("1"), Other);
    }
}
