//! One simulated call: ring, pick up (or not), listen, press keys, hang up — calling
//! kaden's webhooks with Twilio's parameters and valid signatures along the way.

use super::verbs::{self, Verb};
use super::{Behaviour, Simulator};
use crate::telephony::signature;
use reqwest::Url;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

pub struct Dialed {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub voice_url: String,
    pub status_url: Option<String>,
    pub amd_url: Option<String>,
    pub machine_detection: bool,
    pub ring_timeout: u64,
    pub behaviour: Behaviour,
}

struct Phone {
    sim: Simulator,
    d: Dialed,
    end: Arc<Notify>,
    sequence: u32,
    answered_at: Option<Instant>,
    machine: bool,
}

/// How a call ended, in Twilio's `CallStatus` words.
enum Ending {
    Completed,
    Other(&'static str),
}

pub async fn run(sim: Simulator, d: Dialed) {
    let end = sim
        .lock()
        .calls
        .iter()
        .find(|c| c.sid == d.sid)
        .map(|c| c.end.clone())
        .unwrap_or_default();
    let mut phone = Phone {
        sim,
        d,
        end,
        sequence: 0,
        answered_at: None,
        machine: false,
    };
    phone.status("initiated", &[]).await;
    phone.status("ringing", &[]).await;
    let ending = phone.ring_and_talk().await;
    let (status, duration) = match ending {
        Ending::Completed => (
            "completed",
            phone.answered_at.map_or(0, |t| t.elapsed().as_secs()),
        ),
        Ending::Other(status) => (status, 0),
    };
    phone
        .status(status, &[("CallDuration", duration.to_string())])
        .await;
}

impl Phone {
    fn update(&self, f: impl FnOnce(&mut super::SimCall)) {
        if let Some(call) = self
            .sim
            .lock()
            .calls
            .iter_mut()
            .find(|c| c.sid == self.d.sid)
        {
            f(call);
        }
    }

    fn end_requested(&self) -> bool {
        self.sim
            .lock()
            .calls
            .iter()
            .any(|c| c.sid == self.d.sid && c.end_requested)
    }

    /// Waits `secs`; true when kaden ended the call meanwhile.
    async fn wait(&self, secs: u64) -> bool {
        if self.end_requested() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(secs)) => self.end_requested(),
            _ = self.end.notified() => true,
        }
    }

    fn params(&self, status: &str) -> Vec<(String, String)> {
        let mut p = vec![
            ("CallSid".to_owned(), self.d.sid.clone()),
            ("AccountSid".to_owned(), super::ACCOUNT_SID.to_owned()),
            ("From".to_owned(), self.d.from.clone()),
            ("To".to_owned(), self.d.to.clone()),
            ("CallStatus".to_owned(), status.to_owned()),
            ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
            ("Direction".to_owned(), "outbound-api".to_owned()),
        ];
        if self.machine {
            p.push(("AnsweredBy".to_owned(), "machine_start".to_owned()));
        }
        p
    }

    /// POSTs a signed webhook; returns the body of a 2xx answer.
    async fn post(&self, url: &str, params: Vec<(String, String)>) -> Option<String> {
        let signature = signature::sign(self.sim.auth_token(), url, &params);
        let response = self
            .sim
            .http
            .post(url)
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
            .ok()?;
        if response.status().is_success() {
            response.text().await.ok()
        } else {
            tracing::warn!(url, status = %response.status(), "The simulator's webhook was refused.");
            None
        }
    }

    async fn status(&mut self, status: &str, extra: &[(&str, String)]) {
        self.update(|c| {
            c.status = status.to_owned();
            if matches!(
                status,
                "completed" | "busy" | "no-answer" | "failed" | "canceled"
            ) {
                c.times.ended = Some(self.sim.now());
            }
        });
        let Some(url) = self.d.status_url.clone() else {
            return;
        };
        let mut params = self.params(status);
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        params.push(("SequenceNumber".into(), self.sequence.to_string()));
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.sequence += 1;
        self.post(&url, params).await;
    }

    async fn ring_and_talk(&mut self) -> Ending {
        let ring = self.d.ring_timeout;
        let (pick_up_after, keys, hang_up_after) = match self.d.behaviour.clone() {
            Behaviour::NoAnswer | Behaviour::InvalidNumber => return self.ring_out(ring).await,
            Behaviour::Busy => return self.busy_after(18.min(ring)).await,
            Behaviour::Decline => return self.busy_after(3).await,
            Behaviour::Voicemail { after_secs } if after_secs >= ring => {
                return self.ring_out(ring).await;
            }
            Behaviour::Voicemail { after_secs } => {
                self.machine = true;
                (after_secs, VecDeque::new(), None)
            }
            Behaviour::Answer { after_secs, .. } if after_secs >= ring => {
                return self.ring_out(ring).await;
            }
            Behaviour::Answer { keys, after_secs } => (after_secs, keys.into(), None),
            Behaviour::HangUp { after_secs } => (1, VecDeque::new(), Some(after_secs)),
        };
        if self.wait(pick_up_after).await {
            return Ending::Other("canceled");
        }
        self.answered_at = Some(Instant::now());
        self.update(|c| {
            c.status = "in-progress".into();
            c.times.started = Some(self.sim.now());
            c.answered_by = Some(
                if self.machine {
                    "machine_start"
                } else {
                    "human"
                }
                .into(),
            );
        });
        self.status("in-progress", &[]).await;
        if self.d.machine_detection
            && let Some(amd_url) = self.d.amd_url.clone()
        {
            self.send_amd_verdict(amd_url);
        }
        self.talk(keys, hang_up_after).await;
        Ending::Completed
    }

    async fn ring_out(&self, ring: u64) -> Ending {
        if self.wait(ring).await {
            Ending::Other("canceled")
        } else {
            Ending::Other("no-answer")
        }
    }

    async fn busy_after(&self, secs: u64) -> Ending {
        if self.wait(secs).await {
            Ending::Other("canceled")
        } else {
            Ending::Other("busy")
        }
    }

    /// Async AMD: the verdict arrives a moment after the call is answered.
    fn send_amd_verdict(&self, url: String) {
        let mut params = self.params("in-progress");
        let verdict = if self.machine {
            "machine_start"
        } else {
            "human"
        };
        params.retain(|(k, _)| k != "AnsweredBy");
        params.push(("AnsweredBy".into(), verdict.into()));
        let phone = Phone {
            sim: self.sim.clone(),
            d: Dialed {
                behaviour: Behaviour::NoAnswer,
                ..self.d.clone_for_callbacks()
            },
            end: self.end.clone(),
            sequence: 0,
            answered_at: None,
            machine: self.machine,
        };
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            phone.post(&url, params).await;
        });
    }

    /// Executes TwiML like Twilio: Say, Pause, Gather (keys or silence), Redirect, Hangup.
    async fn talk(&mut self, mut keys: VecDeque<String>, hang_up_after: Option<u64>) {
        let mut url = self.d.voice_url.clone();
        let mut document = self.post(&url, self.params("in-progress")).await;
        'documents: while let Some(xml) = document.take() {
            let Ok(verbs) = verbs::parse(&xml) else {
                return;
            };
            for verb in verbs {
                if self.end_requested() {
                    return;
                }
                match verb {
                    Verb::Say(text) => self.update(|c| c.transcript.push(text)),
                    Verb::Pause(secs) => {
                        if self.wait(secs).await {
                            return;
                        }
                    }
                    Verb::Gather {
                        action,
                        timeout,
                        finish_on_key,
                        num_digits,
                        says,
                    } => {
                        self.update(|c| c.transcript.extend(says));
                        if let Some(secs) = hang_up_after {
                            self.wait(secs).await;
                            return;
                        }
                        let pressed = if self.machine { None } else { keys.pop_front() };
                        let Some(pressed) = pressed else {
                            // Silence: Twilio falls through to the next verb.
                            if self.wait(timeout).await {
                                return;
                            }
                            continue;
                        };
                        self.update(|c| c.keys.push(pressed.clone()));
                        url = resolve(&url, action.as_deref().unwrap_or(&url));
                        let mut params = self.params("in-progress");
                        // Like Twilio: input stops at the finish key or after numDigits keys.
                        let typed: String = pressed
                            .chars()
                            .take_while(|c| !finish_on_key.contains(*c))
                            .take(num_digits.unwrap_or(usize::MAX))
                            .collect();
                        params.push(("Digits".into(), typed));
                        params.push(("FinishedOnKey".into(), "#".into()));
                        document = self.post(&url, params).await;
                        continue 'documents;
                    }
                    Verb::Redirect(target) => {
                        url = resolve(&url, &target);
                        document = self.post(&url, self.params("in-progress")).await;
                        continue 'documents;
                    }
                    Verb::Hangup => return,
                }
            }
        }
    }
}

impl Dialed {
    fn clone_for_callbacks(&self) -> Dialed {
        Dialed {
            sid: self.sid.clone(),
            to: self.to.clone(),
            from: self.from.clone(),
            voice_url: self.voice_url.clone(),
            status_url: self.status_url.clone(),
            amd_url: self.amd_url.clone(),
            machine_detection: self.machine_detection,
            ring_timeout: self.ring_timeout,
            behaviour: self.behaviour.clone(),
        }
    }
}

/// Relative action and Redirect URLs resolve against the current document, as in Twilio.
fn resolve(base: &str, target: &str) -> String {
    Url::parse(base)
        .and_then(|b| b.join(target))
        .map_or_else(|_| target.to_owned(), |u| u.to_string())
}
