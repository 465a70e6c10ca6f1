//! Test calls (`kaden test-call USER`): one short message to one person through the
//! configured telephony, before the first real page. The callee presses 1 to confirm.
//! A test call is never an incident and never escalates; it is logged and kept in memory
//! for the CLI to follow.

use crate::config::Config;
use crate::speech::Speech;
use crate::telephony::twilio::CallRequest;
use crate::telephony::twiml;
use crate::telephony::voice::Telephony;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the callee has to press 1.
const CONFIRM_WITHIN: Duration = Duration::from_secs(15);
/// Test calls kept for the CLI to read; older ones are forgotten.
const KEPT: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Placing,
    Ringing,
    Answered,
    /// The callee pressed 1.
    Confirmed,
    /// Ended without a confirmation; `outcome` says how.
    Unconfirmed,
    /// The provider refused the call.
    Failed,
}

impl Stage {
    pub fn is_final(&self) -> bool {
        matches!(self, Stage::Confirmed | Stage::Unconfirmed | Stage::Failed)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestCall {
    pub id: u64,
    pub user: String,
    pub phone: String,
    pub stage: Stage,
    pub call_sid: Option<String>,
    /// Twilio's final status or the refusal.
    pub outcome: Option<String>,
}

enum Words {
    Prompt,
    Confirmed,
    NotConfirmed,
}

#[derive(thiserror::Error, Debug)]
#[error("no user {0:?} in the config")]
pub struct UnknownUser(String);

pub struct TestCalls {
    telephony: Arc<Telephony>,
    speech: Arc<Speech>,
    calls: Mutex<HashMap<u64, TestCall>>,
}

impl TestCalls {
    pub fn new(telephony: Arc<Telephony>, speech: Arc<Speech>) -> Self {
        TestCalls {
            telephony,
            speech,
            calls: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, TestCall>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: u64) -> Option<TestCall> {
        self.lock().get(&id).cloned()
    }

    fn update(&self, id: u64, change: impl FnOnce(&mut TestCall)) {
        if let Some(call) = self.lock().get_mut(&id) {
            change(call);
            if call.stage.is_final() {
                tracing::info!(test_call = id, user = %call.user, stage = ?call.stage,
                    outcome = call.outcome.as_deref(), "Test call ended.");
            }
        }
    }

    /// Places a test call to `user`; answers at once with its id.
    pub fn start(self: &Arc<Self>, config: &Config, user: &str) -> Result<TestCall, UnknownUser> {
        let person = config
            .users
            .iter()
            .find(|u| u.id.as_str() == user)
            .ok_or_else(|| UnknownUser(user.to_owned()))?;
        let call = {
            let mut calls = self.lock();
            let id = calls.keys().max().map_or(1, |m| m + 1);
            if calls.len() >= KEPT
                && let Some(oldest) = calls.keys().min().copied()
            {
                calls.remove(&oldest);
            }
            let call = TestCall {
                id,
                user: user.to_owned(),
                phone: person.phone.as_str().to_owned(),
                stage: Stage::Placing,
                call_sid: None,
                outcome: None,
            };
            calls.insert(id, call.clone());
            call
        };
        tracing::info!(test_call = call.id, user, "Placing a test call.");
        let this = self.clone();
        let (id, phone) = (call.id, call.phone.clone());
        tokio::spawn(async move {
            let url = |hook: &str| this.url(hook, id);
            let request = CallRequest {
                to: &phone,
                voice_url: &url("voice"),
                status_url: &url("status"),
                amd_url: &url("status"),
                ring_timeout: Duration::from_secs(30),
            };
            match this.telephony.client.create_call(&request).await {
                Ok(sid) => this.update(id, |c| {
                    c.call_sid = Some(sid);
                    c.stage = Stage::Ringing;
                }),
                Err(e) => this.update(id, |c| {
                    c.stage = Stage::Failed;
                    c.outcome = Some(e.to_string());
                }),
            }
        });
        Ok(call)
    }

    fn url(&self, hook: &str, id: u64) -> String {
        format!(
            "{}/twilio/test/{hook}?test={id}",
            self.telephony.webhooks.base
        )
    }

    /// A test call says the same few sentences whatever the templates say, in the
    /// configured language.
    fn words(&self, words: Words) -> String {
        let japanese = self.speech.language_tag() == "ja-JP";
        match (words, japanese) {
            (Words::Prompt, true) => "kaden のテスト通話です。障害が起きると、この番号に電話します。確認のため、1を押してください。",
            (Words::Prompt, false) => "This is a kaden test call. When something breaks, this number is called. Press 1 to confirm.",
            (Words::Confirmed, true) => "確認しました。テストを終わります。",
            (Words::Confirmed, false) => "Confirmed. The test is over.",
            (Words::NotConfirmed, true) => "確認できませんでした。テストを終わります。",
            (Words::NotConfirmed, false) => "Not confirmed. The test is over.",
        }
        .to_owned()
    }

    fn voice(&self) -> twiml::Voice<'_> {
        twiml::Voice {
            voice: &self.speech.voice,
            language: self.speech.language_tag(),
        }
    }

    /// The callee picked up: the message, then the keypad.
    pub fn answered(&self, id: u64) -> String {
        self.update(id, |c| c.stage = Stage::Answered);
        let text = self.words(Words::Prompt);
        twiml::gather(
            &text,
            &self.voice(),
            &twiml::Gather {
                action: &self.url("gather", id),
                timeout_secs: CONFIRM_WITHIN.as_secs(),
            },
        )
    }

    /// Keys pressed: 1 confirms.
    pub fn pressed(&self, id: u64, digits: &str) -> String {
        let confirmed = digits.trim_end_matches('#') == "1";
        if confirmed {
            self.update(id, |c| c.stage = Stage::Confirmed);
        }
        let words = if confirmed {
            Words::Confirmed
        } else {
            Words::NotConfirmed
        };
        twiml::hangup(&self.words(words), &self.voice())
    }

    /// Twilio's status callback: the end of a call that was not confirmed.
    pub fn status(&self, id: u64, status: &str) {
        if !matches!(
            status,
            "completed" | "busy" | "no-answer" | "failed" | "canceled"
        ) {
            return;
        }
        self.update(id, |c| {
            c.outcome = Some(status.to_owned());
            if c.stage != Stage::Confirmed {
                c.stage = Stage::Unconfirmed;
            }
        });
    }
}
