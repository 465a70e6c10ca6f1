//! What a call says, as data. The speech module turns lines into words in the call's
//! language; the engine only decides which lines, in which order.

use super::state::ItemStatus;
use crate::domain::UserId;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One alert as read aloud.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemView {
    pub host: String,
    pub service: Option<String>,
    pub status: ItemStatus,
    pub state_word: String,
    pub output: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Line {
    Greeting {
        user: UserId,
    },
    /// "障害が3件発生しています。ホスト1件、サービス2件です。" plus recoveries.
    Summary {
        host_problems: usize,
        service_problems: usize,
        recoveries: usize,
    },
    /// Listed when the summary is short; the rest is counted ("ほか12件").
    Detail(ItemView),
    More {
        count: usize,
    },
    Acknowledged {
        count: usize,
    },
    Downtime {
        minutes: u32,
    },
    PassedOn,
    /// Someone else acknowledged while this call was on.
    HandledBy {
        name: String,
    },
    NothingPending,
    Menu,
    Closing {
        user: UserId,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum After {
    /// Wait for keys (finishing with #); silence ends the call unacknowledged.
    Gather,
    Hangup,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub lines: Vec<Line>,
    pub after: After,
}

impl Prompt {
    /// A generous estimate of how long the voice takes to say this prompt: a detail reads
    /// a host, a service and its output; the menu lists five keys; other lines are one
    /// short sentence. It bounds how long kaden waits for a call's next webhook.
    pub fn speaking_time(&self) -> Duration {
        let secs: u64 = self
            .lines
            .iter()
            .map(|line| match line {
                Line::Detail(_) => 15,
                Line::Menu => 20,
                _ => 8,
            })
            .sum();
        Duration::from_secs(secs)
    }
}
