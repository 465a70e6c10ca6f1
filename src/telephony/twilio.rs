//! A thin client for the Twilio REST calls kaden needs: create a call, fetch a call's
//! status, update (hang up, cancel, redirect) a call, send an SMS. 429, 5xx and network errors are retried
//! with backoff and jitter; other refusals come back typed and are not retried. A call
//! creation whose answer was lost is looked up in Twilio's call list, not sent again blind.

use crate::escalation::CallOutcome;
use crate::store::CallUsage;
use jiff::fmt::rfc2822::DateTimeParser;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Twilio's `date_created` has whole seconds, and its clock and `Date` may differ a little.
const CLOCK_MARGIN: Duration = Duration::from_secs(5);

/// Twilio bills a call per started minute, and an answered call at least one.
pub fn billed_minutes(seconds: u64, answered: bool) -> u64 {
    let minutes = seconds.div_ceil(60);
    if answered { minutes.max(1) } else { minutes }
}

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// Twilio refused the request; retrying cannot help.
    #[error("Twilio refused the request (HTTP {status}, code {code}): {message}")]
    Rejected {
        status: u16,
        code: u32,
        message: String,
    },
    /// Still failing after retries (429, 5xx, network).
    #[error("Twilio could not be reached after {ATTEMPTS} attempts: {last}")]
    Unavailable {
        last: String,
        /// Some attempt got no complete answer (a timeout, a dropped connection, a gateway's
        /// 502/504, an unreadable success): the request may have been carried out.
        maybe_done: bool,
    },
}

impl TwilioError {
    /// Twilio's error code; `errors::NO_CODE` when Twilio could not be reached.
    pub fn code(&self) -> u32 {
        match self {
            TwilioError::Rejected { code, .. } => *code,
            TwilioError::Unavailable { .. } => super::errors::NO_CODE,
        }
    }

    /// The account itself is refused (401, 20003 authentication, 20005 suspended): every
    /// request through it fails alike.
    pub fn is_account_refusal(&self) -> bool {
        matches!(
            self,
            TwilioError::Rejected { status: 401, .. }
                | TwilioError::Rejected {
                    code: 20003 | 20005,
                    ..
                }
        )
    }

    /// Twilio answered every attempt with a refusal, so nothing was created.
    pub fn proves_not_done(&self) -> bool {
        !matches!(
            self,
            TwilioError::Unavailable {
                maybe_done: true,
                ..
            }
        )
    }

    /// The number itself is unusable (21211 invalid To, 21214 unreachable, 21217 invalid,
    /// 13224 unsupported): skip that person rather than retry.
    pub fn is_bad_number(&self) -> bool {
        matches!(
            self,
            TwilioError::Rejected {
                code: 21211 | 21214 | 21217 | 13224,
                ..
            }
        )
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
    detail: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

/// Whether a failed request is sent again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Reads, updates and SMS: repeating them is harmless or wanted.
    Always,
    /// Creating a call: only while every failure proves nothing was created.
    UnlessMaybeDone,
}

#[derive(Deserialize)]
struct CallList {
    calls: Vec<ListedCall>,
}

#[derive(Deserialize)]
struct ListedCall {
    sid: String,
    date_created: Option<String>,
}

#[derive(Deserialize)]
struct Fetched {
    status: String,
    /// Seconds, as a string; a price is a negative decimal string, filled in some time
    /// after the call ended.
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    price: Option<String>,
    #[serde(default)]
    price_unit: Option<String>,
}

/// Where a call stands, as the provider knows it.
#[derive(Clone, Debug, PartialEq)]
pub enum CallStatus {
    /// queued, ringing or in-progress.
    Live,
    /// With its duration and, once Twilio has it, its price.
    Ended(CallOutcome, CallUsage),
    /// The provider has no such call (the simulator forgets its calls with a restart).
    Unknown,
}

pub struct TwilioClient {
    http: reqwest::Client,
    base: String,
    account_sid: String,
    auth_token: SecretString,
    from: String,
    machine_detection: bool,
    /// Calls are spaced by this much (Twilio queues above the account's CPS anyway).
    spacing: Duration,
    next_slot: Mutex<Instant>,
}

/// Where Twilio calls back for one call.
pub struct CallRequest<'a> {
    pub to: &'a str,
    pub voice_url: &'a str,
    pub status_url: &'a str,
    pub amd_url: &'a str,
    pub ring_timeout: Duration,
}

pub enum CallUpdate {
    /// Hang up an answered call, or cancel a ringing one.
    End { answered: bool },
    /// Replace what the call is doing (say a farewell, then hang up).
    Twiml(String),
}

impl TwilioClient {
    pub fn new(
        api_base: &str,
        account_sid: &str,
        auth_token: SecretString,
        from: &str,
        machine_detection: bool,
        calls_per_second: u32,
    ) -> Self {
        TwilioClient {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("a reqwest client with rustls always builds"),
            base: format!(
                "{}/2010-04-01/Accounts/{account_sid}",
                api_base.trim_end_matches('/')
            ),
            account_sid: account_sid.to_owned(),
            auth_token,
            from: from.to_owned(),
            machine_detection,
            spacing: Duration::from_secs(1) / calls_per_second.max(1),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// Places a call; returns Twilio's CallSid.
    pub async fn create_call(&self, call: &CallRequest<'_>) -> Result<String, TwilioError> {
        self.pace().await;
        let timeout = call.ring_timeout.as_secs().max(5).to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("To", call.to),
            ("From", &self.from),
            ("Url", call.voice_url),
            ("StatusCallback", call.status_url),
            ("Timeout", &timeout),
        ];
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event));
        }
        if self.machine_detection {
            // Async AMD: the greeting is not delayed; the verdict arrives at amd_url.
            form.extend([
                ("MachineDetection", "Enable"),
                ("AsyncAmd", "true"),
                ("AsyncAmdStatusCallback", call.amd_url),
            ]);
        }
        // Creating a call is not idempotent: after an attempt whose answer was lost, the
        // call may ring already. Find it before placing another, never two for one step.
        let sent = Instant::now();
        match self
            .send_once_unless_lost::<Created>("Calls.json", &form)
            .await
        {
            Err(TwilioError::Unavailable {
                last,
                maybe_done: true,
            }) => {
                tokio::time::sleep(FIRST_BACKOFF).await;
                match self
                    .find_call(call.to, sent.elapsed() + CLOCK_MARGIN, &[])
                    .await
                {
                    Ok(Some(sid)) => {
                        tracing::warn!(call_sid = %sid, error = %last, "The answer to a call creation was lost, but Twilio had placed the call; keeping it.");
                        Ok(sid)
                    }
                    Ok(None) => {
                        tracing::warn!(error = %last, "The answer to a call creation was lost and Twilio has no such call; placing it again.");
                        let created: Created =
                            self.send_once_unless_lost("Calls.json", &form).await?;
                        Ok(created.sid)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Cannot tell whether a call whose answer was lost exists; not placing it again.");
                        Err(TwilioError::Unavailable {
                            last,
                            maybe_done: true,
                        })
                    }
                }
            }
            created => Ok(created?.sid),
        }
    }

    /// A call to `to` from our number, in any state, that Twilio created within `window`
    /// before its own clock's now (the answer's `Date`), so this host's clock does not
    /// matter; `known` sids do not count. An ended call counts too: it was placed.
    pub async fn find_call(
        &self,
        to: &str,
        window: Duration,
        known: &[String],
    ) -> Result<Option<String>, TwilioError> {
        let unavailable = |last: String| TwilioError::Unavailable {
            last,
            maybe_done: true,
        };
        let response = self
            .http
            .get(format!("{}/Calls.json", self.base))
            .query(&[("To", to), ("From", self.from.as_str())])
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "listing calls answered HTTP {}",
                response.status()
            )));
        }
        static RFC2822: DateTimeParser = DateTimeParser::new();
        let twilio_now = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| RFC2822.parse_timestamp(d.as_bytes()).ok())
            .ok_or_else(|| unavailable("the call list came without a Date".into()))?;
        let since = twilio_now - jiff::SignedDuration::try_from(window).unwrap_or_default();
        let listed: CallList = response
            .json()
            .await
            .map_err(|e| unavailable(format!("unreadable call list: {e}")))?;
        Ok(listed
            .calls
            .into_iter()
            .find(|c| {
                !known.contains(&c.sid)
                    && c.date_created
                        .as_deref()
                        .and_then(|d| RFC2822.parse_timestamp(d).ok())
                        .is_some_and(|created| created >= since)
            })
            .map(|c| c.sid))
    }

    /// Asks where a call stands: how kaden learns the outcome of calls whose status
    /// callbacks it missed while it was down.
    pub async fn fetch_call(&self, sid: &str) -> Result<CallStatus, TwilioError> {
        match self
            .send::<Fetched>(&format!("Calls/{sid}.json"), None)
            .await
        {
            Ok(fetched) => Ok(match CallOutcome::parse(&fetched.status) {
                Some(outcome) => CallStatus::Ended(
                    outcome,
                    CallUsage {
                        duration_seconds: fetched.duration.and_then(|d| d.parse().ok()),
                        price: fetched.price.and_then(|p| p.parse().ok()),
                        price_unit: fetched.price_unit,
                        sid: None,
                    },
                ),
                None => CallStatus::Live,
            }),
            Err(TwilioError::Rejected { status: 404, .. }) => Ok(CallStatus::Unknown),
            Err(e) => Err(e),
        }
    }

    pub async fn update_call(&self, sid: &str, update: &CallUpdate) -> Result<(), TwilioError> {
        let form: Vec<(&str, &str)> = match update {
            CallUpdate::End { answered: true } => vec![("Status", "completed")],
            CallUpdate::End { answered: false } => vec![("Status", "canceled")],
            CallUpdate::Twiml(twiml) => vec![("Twiml", twiml.as_str())],
        };
        let _: serde_json::Value = self.post(&format!("Calls/{sid}.json"), &form).await?;
        Ok(())
    }

    pub async fn send_sms(&self, to: &str, body: &str) -> Result<String, TwilioError> {
        let form = [("To", to), ("From", self.from.as_str()), ("Body", body)];
        let created: Created = self.post("Messages.json", &form).await?;
        Ok(created.sid)
    }

    async fn pace(&self) {
        let mut next = self.next_slot.lock().await;
        let now = Instant::now();
        let slot = (*next).max(now);
        *next = slot + self.spacing;
        drop(next);
        tokio::time::sleep_until(slot).await;
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<T, TwilioError> {
        self.send(path, Some(form)).await
    }

    /// `kaden doctor`: the account's status, and whether `from` is one of its numbers
    /// (or a verified caller id).
    pub async fn check_account(&self) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Account {
            status: String,
        }
        let account: Account = self
            .send_to(format!("{}.json", self.base), None, Resend::Always)
            .await
            .map_err(|e| format!("account {}: {e}", self.account_sid))?;
        if account.status != "active" {
            return Err(format!(
                "account {} is {}; calls cannot be placed",
                self.account_sid, account.status
            ));
        }
        let from = form_urlencoded::byte_serialize(self.from.as_bytes()).collect::<String>();
        for (list, key) in [
            ("IncomingPhoneNumbers.json", "incoming_phone_numbers"),
            ("OutgoingCallerIds.json", "outgoing_caller_ids"),
        ] {
            let found: serde_json::Value = self
                .send(&format!("{list}?PhoneNumber={from}"), None)
                .await
                .map_err(|e| e.to_string())?;
            if found[key].as_array().is_some_and(|l| !l.is_empty()) {
                return Ok(format!(
                    "account {} is active and {} is its number",
                    self.account_sid, self.from
                ));
            }
        }
        Err(format!(
            "{} is neither a number of account {} nor a verified caller id; set telephony.twilio.from",
            self.from, self.account_sid
        ))
    }

    /// POSTs `form`, or GETs when there is none.
    async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<T, TwilioError> {
        self.send_to(format!("{}/{path}", self.base), form, Resend::Always)
            .await
    }

    /// POSTs `form` like `send`, but stops at the first attempt that may have been carried
    /// out: sending a creation again could create a second one.
    async fn send_once_unless_lost<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<T, TwilioError> {
        self.send_to(
            format!("{}/{path}", self.base),
            Some(form),
            Resend::UnlessMaybeDone,
        )
        .await
    }

    async fn send_to<T: for<'de> Deserialize<'de>>(
        &self,
        url: String,
        form: Option<&[(&str, &str)]>,
        resend: Resend,
    ) -> Result<T, TwilioError> {
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        let mut maybe_done = false;
        for attempt in 1..=ATTEMPTS {
            let request = match form {
                Some(form) => self.http.post(&url).form(form),
                None => self.http.get(&url),
            };
            let sent = request
                .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    return response.json().await.map_err(|e| TwilioError::Unavailable {
                        last: format!("unreadable answer: {e}"),
                        maybe_done: true,
                    });
                }
                Ok(response) => {
                    let status = response.status();
                    // A gateway's 502/504 may come after Twilio carried the request out; a
                    // body cut off means the answer never fully arrived.
                    let body = response.bytes().await;
                    maybe_done |= body.is_err()
                        || matches!(
                            status,
                            reqwest::StatusCode::BAD_GATEWAY | reqwest::StatusCode::GATEWAY_TIMEOUT
                        );
                    let body: Option<ErrorBody> =
                        body.ok().and_then(|b| serde_json::from_slice(&b).ok());
                    let code = body.as_ref().and_then(|b| b.code).unwrap_or(0);
                    let message = body
                        .and_then(|b| b.message.or(b.detail))
                        .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(TwilioError::Rejected {
                            status: status.as_u16(),
                            code,
                            message,
                        });
                    }
                    last = format!("HTTP {status} (code {code}): {message}");
                }
                Err(e) => {
                    // Without a connection the request was never sent; after one it may
                    // have reached Twilio.
                    maybe_done |= !e.is_connect();
                    last = e.without_url().to_string();
                }
            }
            if maybe_done && resend == Resend::UnlessMaybeDone {
                break;
            }
            if attempt < ATTEMPTS {
                tracing::warn!(attempt, error = %last, "Twilio request failed; retrying.");
                let jitter =
                    Duration::from_millis(fastrand::u64(0..=backoff.as_millis() as u64 / 2));
                tokio::time::sleep(backoff + jitter).await;
                backoff *= 2;
            }
        }
        Err(TwilioError::Unavailable { last, maybe_done })
    }
}
