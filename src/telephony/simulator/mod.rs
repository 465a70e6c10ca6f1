//! The simulator: a stand-in for Twilio's REST API that rings scripted phones and calls
//! kaden's webhooks back, signed, exactly as Twilio does. With
//! `telephony.provider: simulator` the daemon serves it under `/sim` and talks to it with
//! its real Twilio client, so a demo exercises the whole path with no account. Tests use
//! the same router as their fake Twilio.

mod phone;
mod verbs;

use crate::clock::{SharedClock, SystemClock};
/// Scripts are written in the config (`telephony.simulator.phones`) and over `/sim`.
pub use crate::config::Behaviour;
use crate::domain::Keypad;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One simulated call, as `GET /sim/calls` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub status: String,
    pub answered_by: Option<String>,
    /// Everything said to the callee, in order.
    pub transcript: Vec<String>,
    pub keys: Vec<String>,
    #[serde(skip)]
    end: Arc<Notify>,
    #[serde(skip)]
    end_requested: bool,
    /// When it was created, answered and ended, for the call resource's fields.
    #[serde(skip)]
    times: CallTimes,
}

#[derive(Clone, Debug, Default)]
struct CallTimes {
    created: Option<jiff::Timestamp>,
    started: Option<jiff::Timestamp>,
    ended: Option<jiff::Timestamp>,
}

/// What the simulator charges per started minute of an answered call (at least one), in
/// USD: Twilio's rate for a call to a US number, unlike any rate a config is likely to set,
/// so a reported price is told apart from an estimate.
pub const PRICE_PER_MINUTE: f64 = 0.013;

/// How long after a call ends its resource shows a price (`null` before), as Twilio fills
/// `price` in some time after the call: long enough that kaden's status callback arrives
/// without one, short enough for a demo.
pub const PRICE_DELAY: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);

/// Twilio's date format (RFC 2822, UTC).
fn twilio_date(t: Option<jiff::Timestamp>) -> serde_json::Value {
    t.map_or(serde_json::Value::Null, |t| {
        t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string().into()
    })
}

impl SimCall {
    /// The call resource as Twilio's REST API returns it at `now`.
    fn resource(&self, account: &str, now: jiff::Timestamp) -> serde_json::Value {
        let t = &self.times;
        // Talking time once the call ended: "0" for one never answered.
        let seconds = t.ended.map(|e| {
            t.started
                .map_or(0, |s| e.duration_since(s).as_secs().max(0).unsigned_abs())
        });
        json!({
            "sid": self.sid, "account_sid": account, "to": self.to, "from": self.from,
            "status": self.status, "answered_by": self.answered_by, "direction": "outbound-api",
            "api_version": "2010-04-01", "date_created": twilio_date(t.created),
            "date_updated": twilio_date(t.ended.or(t.started).or(t.created)),
            "start_time": twilio_date(t.started), "end_time": twilio_date(t.ended),
            "duration": seconds.map(|s| s.to_string()), "price": self.price(seconds, now),
            "price_unit": "USD",
            "uri": format!("/2010-04-01/Accounts/{account}/Calls/{}.json", self.sid),
        })
    }

    /// Twilio's `price` field for a call that lasted `seconds`: null until [`PRICE_DELAY`]
    /// after the call ended, then a charge as a negative decimal string (`-0.02600` for
    /// 61 s), `0.00000` for a call never answered.
    fn price(&self, seconds: Option<u64>, now: jiff::Timestamp) -> Option<String> {
        let t = &self.times;
        let ended = t.ended?;
        if ended.saturating_add(PRICE_DELAY).ok()? > now {
            return None;
        }
        Some(match (t.started, seconds) {
            (Some(_), Some(seconds)) => {
                let minutes = super::twilio::billed_minutes(seconds, true);
                format!("{:.5}", -(minutes as f64) * PRICE_PER_MINUTE)
            }
            _ => "0.00000".to_owned(),
        })
    }
}

impl SimMessage {
    fn resource(&self, account: &str) -> serde_json::Value {
        json!({
            "sid": self.sid, "account_sid": account, "to": self.to, "from": self.from,
            "body": self.body, "status": "sent", "direction": "outbound-api",
            "num_segments": crate::telephony::sms::segments(&self.body).to_string(),
            "api_version": "2010-04-01", "price": null, "price_unit": "USD",
            "uri": format!("/2010-04-01/Accounts/{account}/Messages/{}.json", self.sid),
        })
    }
}

/// One page of a list resource, in Twilio's shape (everything fits on the first page).
fn page(kind: &str, account: &str, items: Vec<serde_json::Value>) -> Response {
    let uri = format!("/2010-04-01/Accounts/{account}/{}.json", capitalized(kind));
    let count = items.len();
    Json(json!({
        kind: items, "page": 0, "page_size": count, "start": 0,
        "end": count.saturating_sub(1), "uri": uri, "first_page_uri": uri,
        "next_page_uri": null, "previous_page_uri": null,
    }))
    .into_response()
}

fn capitalized(kind: &str) -> String {
    let mut chars = kind.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimMessage {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
}

#[derive(Default)]
struct SimState {
    phones: BTreeMap<String, Behaviour>,
    /// What a number not in `phones` does.
    unscripted: Behaviour,
    calls: Vec<SimCall>,
    messages: Vec<SimMessage>,
    seq: u64,
    /// Random per simulator, so SIDs never repeat those of an earlier run still in the
    /// database.
    run: u64,
    /// Answer the next N API requests with this HTTP status (429, 5xx), to exercise
    /// retries.
    refuse_next: u32,
    refuse_with: u16,
}

impl SimState {
    /// A Twilio-shaped SID (prefix and 32 hex digits), unique across runs.
    fn next_sid(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:016x}{:016x}", self.run, self.seq)
    }
}

#[derive(Clone)]
pub struct Simulator {
    state: Arc<Mutex<SimState>>,
    http: reqwest::Client,
    account_sid: String,
    auth_token: String,
    /// Twilio's clock: the daemon's, when the simulator is served by it.
    clock: SharedClock,
}

/// The account the simulator accepts; its token is made per run.
pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";

impl Simulator {
    pub fn new(auth_token: String, phones: BTreeMap<String, Behaviour>) -> Self {
        Simulator {
            state: Arc::new(Mutex::new(SimState {
                phones,
                run: fastrand::u64(..),
                ..SimState::default()
            })),
            http: reqwest::Client::new(),
            account_sid: ACCOUNT_SID.to_owned(),
            auth_token,
            clock: Arc::new(SystemClock),
        }
    }

    /// Times calls by `clock` (the system clock unless told), so a daemon's test clock
    /// moves the simulator's too.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// Numbers with no script answer and press `keypad`'s acknowledge-all key (9# unless
    /// the config moves it).
    pub fn with_keypad(self, keypad: &Keypad) -> Self {
        self.lock().unscripted = Behaviour::acknowledging(keypad);
        self
    }

    pub fn auth_token(&self) -> &str {
        &self.auth_token
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_phone(&self, number: &str, behaviour: Behaviour) {
        self.lock().phones.insert(number.to_owned(), behaviour);
    }

    pub fn calls(&self) -> Vec<SimCall> {
        self.lock().calls.clone()
    }

    pub fn messages(&self) -> Vec<SimMessage> {
        self.lock().messages.clone()
    }

    /// The next `requests` API requests fail with `status`, as Twilio answers when it
    /// rate-limits (429) or has an outage (500, 503).
    pub fn refuse_next(&self, requests: u32, status: StatusCode) {
        let mut state = self.lock();
        state.refuse_next = requests;
        state.refuse_with = status.as_u16();
    }

    /// Twilio's REST API under `/twilio/2010-04-01/...`, with Twilio's basic auth.
    pub fn twilio_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route(
                "/twilio/2010-04-01/Accounts/{account}/Calls.json",
                post(create_call).get(list_calls_resource),
            )
            .route(
                "/twilio/2010-04-01/Accounts/{account}/Calls/{sid}",
                get(fetch_call).post(update_call),
            )
            .route(
                "/twilio/2010-04-01/Accounts/{account}/Messages.json",
                post(send_message).get(list_messages_resource),
            )
            .route(
                "/twilio/2010-04-01/Accounts/{account}/Messages/{sid}",
                get(fetch_message),
            )
            .route("/twilio/2010-04-01/Accounts/{account}", get(fetch_account))
            .route(
                "/twilio/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json",
                get(list_numbers),
            )
            .with_state(self)
    }

    /// Scripting: phones' behaviour, the calls and messages so far, injected refusals.
    pub fn script_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/phones", get(list_phones))
            .route("/phones/{number}", put(put_phone))
            .route("/calls", get(list_calls))
            .route("/messages", get(list_messages))
            .route("/rate-limit", put(put_rate_limit))
            .route("/outage", put(put_outage))
            .with_state(self)
    }

    /// Checks basic auth and the injected rate limit, as Twilio answers them.
    fn admit(&self, account: &str, headers: &HeaderMap) -> Result<(), Refusal> {
        let expected = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.account_sid, self.auth_token));
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "));
        if account != self.account_sid || given != Some(expected.as_str()) {
            return Err((StatusCode::UNAUTHORIZED, 20003, "Authenticate"));
        }
        let mut state = self.lock();
        if state.refuse_next > 0 {
            state.refuse_next -= 1;
            return Err(match state.refuse_with {
                429 => (StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests"),
                status => (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                    20500,
                    "An internal server error has occurred",
                ),
            });
        }
        Ok(())
    }
}

/// Twilio's answer to a request it will not serve: HTTP status, error code, message.
type Refusal = (StatusCode, u32, &'static str);

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn create_call(
    State(sim): State<Simulator>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Response {
    if let Err((status, code, message)) = sim.admit(&account, &headers) {
        return twilio_error(status, code, message);
    }
    let (Some(to), Some(from)) = (param(&params, "To"), param(&params, "From")) else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21213,
            "A 'From' and a 'To' phone number are required.",
        );
    };
    let Some(url) = param(&params, "Url") else {
        return twilio_error(StatusCode::BAD_REQUEST, 21205, "Url parameter is required.");
    };
    let behaviour = {
        let state = sim.lock();
        state.phones.get(to).unwrap_or(&state.unscripted).clone()
    };
    if crate::domain::PhoneNumber::parse(to).is_err() || behaviour == Behaviour::InvalidNumber {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    let sid = {
        let mut state = sim.lock();
        let sid = state.next_sid("CA");
        state.calls.push(SimCall {
            sid: sid.clone(),
            to: to.to_owned(),
            from: from.to_owned(),
            status: "queued".into(),
            answered_by: None,
            transcript: Vec::new(),
            keys: Vec::new(),
            end: Arc::new(Notify::new()),
            end_requested: false,
            times: CallTimes {
                created: Some(sim.now()),
                ..CallTimes::default()
            },
        });
        sid
    };
    let call = phone::Dialed {
        sid: sid.clone(),
        to: to.to_owned(),
        from: from.to_owned(),
        voice_url: url.to_owned(),
        status_url: param(&params, "StatusCallback").map(str::to_owned),
        amd_url: param(&params, "AsyncAmdStatusCallback").map(str::to_owned),
        machine_detection: param(&params, "MachineDetection").is_some(),
        ring_timeout: param(&params, "Timeout")
            .and_then(|t| t.parse().ok())
            .unwrap_or(60),
        behaviour,
    };
    tokio::spawn(phone::run(sim.clone(), call));
    let body = json!({
        "sid": sid, "account_sid": sim.account_sid, "to": to, "from": from,
        "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET Accounts/{Sid}.json`: the simulator's one account, always active.
async fn fetch_account(
    State(sim): State<Simulator>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    let account = account.trim_end_matches(".json");
    if let Err((status, code, message)) = sim.admit(account, &headers) {
        return twilio_error(status, code, message);
    }
    Json(json!({ "sid": account, "status": "active", "friendly_name": "kaden simulator" }))
        .into_response()
}

/// `GET IncomingPhoneNumbers.json?PhoneNumber=`: the simulator calls from any number,
/// so it owns each one asked for.
async fn list_numbers(
    State(sim): State<Simulator>,
    Path(account): Path<String>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    if let Err((status, code, message)) = sim.admit(&account, &headers) {
        return twilio_error(status, code, message);
    }
    let numbers: Vec<serde_json::Value> = param(&query, "PhoneNumber")
        .map(|n| json!({ "phone_number": n }))
        .into_iter()
        .collect();
    Json(json!({ "incoming_phone_numbers": numbers })).into_response()
}

/// Twilio's answer for a sid it does not know.
fn not_found() -> Response {
    twilio_error(
        StatusCode::NOT_FOUND,
        20404,
        "The requested resource was not found",
    )
}

/// `GET Calls/{Sid}.json`: the call resource, as Twilio answers it.
async fn fetch_call(
    State(sim): State<Simulator>,
    Path((account, sid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err((status, code, message)) = sim.admit(&account, &headers) {
        return twilio_error(status, code, message);
    }
    let sid = sid.trim_end_matches(".json");
    let state = sim.lock();
    let Some(call) = state.calls.iter().find(|c| c.sid == sid) else {
        return not_found();
    };
    Json(call.resource(&sim.account_sid, sim.now())).into_response()
}

/// `GET Calls.json[?To=&From=&Status=]`: the calls, newest first, as Twilio lists them.
async fn list_calls_resource(
    State(sim): State<Simulator>,
    Path(account): Path<String>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    if let Err((status, code, message)) = sim.admit(&account, &headers) {
        return twilio_error(status, code, message);
    }
    let wanted = |name: &str, value: &str| param(&query, name).is_none_or(|w| w == value);
    let now = sim.now();
    let calls = sim
        .lock()
        .calls
        .iter()
        .rev()
        .filter(|c| wanted("To", &c.to) && wanted("From", &c.from) && wanted("Status", &c.status))
        .map(|c| c.resource(&sim.account_sid, now))
        .collect();
    page("calls", &sim.account_sid, calls)
}

/// `GET Messages.json`: the messages, newest first.
async fn list_messages_resource(
    State(sim): State<Simulator>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err((status, code, message)) = sim.admit(&account, &headers) {
        return twilio_error(status, code, message);
    }
    let messages = sim
        .lock()
        .messages
        .iter()
        .rev()
        .map(|m| m.resource(&sim.account_sid))
        .collect();
    page("messages", &sim.account_sid, messages)
}

/// `GET Messages/{Sid}.json`.
async fn fetch_message(
    State(sim): State<Simulator>,
    Path((account, sid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err((status, code, message)) = sim.admit(&account, &headers) {
        return twilio_error(status, code, message);
    }
    let sid = sid.trim_end_matches(".json");
    let state = sim.lock();
    match state.messages.iter().find(|m| m.sid == sid) {
        Some(m) => Json(m.resource(&sim.account_sid)).into_response(),
        None => not_found(),
    }
}

async fn update_call(
    State(sim): State<Simulator>,
    Path((account, sid)): Path<(String, String)>,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Response {
    if let Err((status, code, message)) = sim.admit(&account, &headers) {
        return twilio_error(status, code, message);
    }
    let sid = sid.trim_end_matches(".json");
    let farewell = param(&params, "Twiml").map(verbs::parse);
    let mut state = sim.lock();
    let Some(call) = state.calls.iter_mut().find(|c| c.sid == sid) else {
        return not_found();
    };
    if let Some(Ok(verbs)) = farewell {
        call.transcript
            .extend(verbs.into_iter().filter_map(|v| match v {
                verbs::Verb::Say(text) => Some(text),
                _ => None,
            }));
    }
    call.end_requested = true;
    call.end.notify_one();
    Json(json!({ "sid": call.sid, "status": call.status })).into_response()
}

async fn send_message(
    State(sim): State<Simulator>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Response {
    if let Err((status, code, message)) = sim.admit(&account, &headers) {
        return twilio_error(status, code, message);
    }
    let (Some(to), Some(body)) = (param(&params, "To"), param(&params, "Body")) else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number and a 'Body' are required.",
        );
    };
    let mut state = sim.lock();
    let message = SimMessage {
        sid: state.next_sid("SM"),
        to: to.to_owned(),
        from: param(&params, "From").unwrap_or_default().to_owned(),
        body: body.to_owned(),
    };
    state.messages.push(message.clone());
    (
        StatusCode::CREATED,
        Json(json!({ "sid": message.sid, "status": "queued" })),
    )
        .into_response()
}

async fn list_phones(State(sim): State<Simulator>) -> Json<BTreeMap<String, Behaviour>> {
    Json(sim.lock().phones.clone())
}

async fn put_phone(
    State(sim): State<Simulator>,
    Path(number): Path<String>,
    Json(behaviour): Json<Behaviour>,
) -> StatusCode {
    sim.set_phone(&number, behaviour);
    StatusCode::NO_CONTENT
}

async fn list_calls(State(sim): State<Simulator>) -> Json<Vec<SimCall>> {
    Json(sim.calls())
}

async fn list_messages(State(sim): State<Simulator>) -> Json<Vec<SimMessage>> {
    Json(sim.messages())
}

#[derive(Deserialize)]
struct Refusals {
    requests: u32,
    /// A 5xx status; 503 when absent.
    status: Option<u16>,
}

/// `PUT /sim/rate-limit {"requests": N}`: the next N requests answer 429.
async fn put_rate_limit(State(sim): State<Simulator>, Json(r): Json<Refusals>) -> StatusCode {
    sim.refuse_next(r.requests, StatusCode::TOO_MANY_REQUESTS);
    StatusCode::NO_CONTENT
}

/// `PUT /sim/outage {"requests": N, "status": 503}`: the next N requests fail with a 5xx.
async fn put_outage(State(sim): State<Simulator>, Json(r): Json<Refusals>) -> Response {
    match r
        .status
        .map_or(Ok(StatusCode::SERVICE_UNAVAILABLE), StatusCode::from_u16)
    {
        Ok(status) if status.is_server_error() => {
            sim.refuse_next(r.requests, status);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "status: an outage answers 500-599", "status": 422 })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(started: Option<&str>, ended: Option<&str>) -> SimCall {
        SimCall {
            sid: "CA1".into(),
            to: "+819000000001".into(),
            from: "+815000000000".into(),
            status: if ended.is_some() {
                "completed"
            } else {
                "in-progress"
            }
            .into(),
            answered_by: None,
            transcript: Vec::new(),
            keys: Vec::new(),
            end: Arc::default(),
            end_requested: false,
            times: CallTimes {
                created: Some("2026-11-23T01:00:00Z".parse().unwrap()),
                started: started.map(|t| t.parse().unwrap()),
                ended: ended.map(|t| t.parse().unwrap()),
            },
        }
    }

    #[test]
    fn a_call_is_priced_like_twilio_does_only_some_time_after_it_ended() {
        let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
        let answered = call(Some("2026-11-23T01:00:10Z"), Some("2026-11-23T01:01:11Z"));
        let resource = |c: &SimCall, now| c.resource(ACCOUNT_SID, at(now));
        let talking = call(Some("2026-11-23T01:00:10Z"), None);
        assert_eq!(
            resource(&talking, "2026-11-23T01:00:30Z")["price"],
            json!(null)
        );
        let just_ended = resource(&answered, "2026-11-23T01:01:12.999Z");
        assert_eq!(just_ended["price"], json!(null), "not yet rated");
        assert_eq!(just_ended["price_unit"], "USD");
        assert_eq!(just_ended["duration"], "61");
        // 61 s are two started minutes at 0.013.
        let rated = resource(&answered, "2026-11-23T01:01:13Z");
        assert_eq!(rated["price"], "-0.02600");
        assert_eq!(rated["price_unit"], "USD");
        let unanswered = call(None, Some("2026-11-23T01:00:40Z"));
        assert_eq!(
            resource(&unanswered, "2026-11-23T01:05:00Z")["price"],
            "0.00000"
        );
        assert_eq!(
            resource(&unanswered, "2026-11-23T01:05:00Z")["duration"],
            "0"
        );
    }
}
