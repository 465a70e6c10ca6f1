//! Twilio's webhooks. Each request's X-Twilio-Signature is checked over the public URL
//! Twilio requested and the form parameters before anything else happens; a missing or
//! wrong signature gets 403 and changes nothing.

use super::ApiError;
use crate::escalation::{CallId, CallOutcome, Input};
use crate::service::AppState;
use crate::store::TelephonyError;
use crate::telephony::errors::{self, Seen};
use crate::telephony::voice::{Spoken, render_twiml};
use crate::telephony::{signature, twiml};
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

struct Verified {
    call: CallId,
    params: Vec<(String, String)>,
}

impl Verified {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn machine(&self) -> bool {
        self.get("AnsweredBy")
            .is_some_and(|a| a.starts_with("machine") || a == "fax")
    }
}

fn verify(
    state: &AppState,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Verified, ApiError> {
    let params = signed(state, uri, headers, body)?;
    let call = query_value(uri, "call")
        .and_then(|v| CallId::parse(&v))
        .ok_or_else(|| {
            ApiError::BadRequest("the webhook URL lacks ?call=<kaden call id>".into())
        })?;
    Ok(Verified { call, params })
}

fn query_value(uri: &OriginalUri, name: &str) -> Option<String> {
    uri.0
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name))
        .map(|(_, v)| v.into_owned())
}

/// The form parameters of a request Twilio signed; 403 for anything else.
fn signed(
    state: &AppState,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<(String, String)>, ApiError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let path = uri.0.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path}", state.calls.webhooks.base);
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let valid = state
        .calls
        .auth_tokens
        .iter()
        .any(|token| signature::verify(token.expose_secret(), &url, &params, signature));
    if !valid {
        let url = crate::telemetry::redact_uri(&url);
        tracing::warn!(%url, "Refused a Twilio webhook with a missing or wrong signature.");
        let error = TelephonyError {
            code: errors::NO_CODE,
            message: format!("refused a webhook with a missing or wrong signature: {url}"),
            seen: Seen::Signature,
            incident: None,
            call_id: None,
            call_sid: None,
        };
        let (store, at) = (state.store.clone(), state.clock.now());
        tokio::spawn(async move { store.keep_telephony_error(error, at).await });
        return Err(ApiError::Forbidden(
            "missing or wrong X-Twilio-Signature".into(),
        ));
    }
    Ok(params)
}

fn xml(body: String) -> Response {
    ([(CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn speak(state: &AppState, call: &CallId, spoken: Option<Spoken>) -> Response {
    let Some(spoken) = spoken else {
        return xml(twiml::hangup(
            "",
            &twiml::Voice {
                voice: &state.calls.speech.voice,
                language: state.calls.speech.language_tag(),
            },
        ));
    };
    xml(render_twiml(
        &state.calls.speech,
        &state.calls.webhooks,
        call,
        &spoken.prompt,
        spoken.keypad_timeout,
    ))
}

/// The call was answered: greet, summarize, offer the menu.
pub async fn voice(
    State(state): State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let hook = verify(&state, &uri, &headers, &body)?;
    let spoken = state
        .runner
        .speak(Input::Answered {
            call: hook.call.clone(),
        })
        .await;
    if hook.machine() {
        state
            .runner
            .tell(Input::Machine {
                call: hook.call.clone(),
            })
            .await;
    }
    Ok(speak(&state, &hook.call, spoken))
}

/// Keys pressed (Twilio strips the finishing #).
pub async fn gather(
    State(state): State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let hook = verify(&state, &uri, &headers, &body)?;
    let digits = hook.get("Digits").unwrap_or_default().to_owned();
    let spoken = state
        .runner
        .speak(Input::Digits {
            call: hook.call.clone(),
            digits,
        })
        .await;
    Ok(speak(&state, &hook.call, spoken))
}

/// Call progress. Only final states matter; repeats and stragglers change nothing.
pub async fn status(
    State(state): State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let hook = verify(&state, &uri, &headers, &body)?;
    let status = hook.get("CallStatus").unwrap_or_default();
    tracing::debug!(call_id = %hook.call, call_sid = hook.get("CallSid"), status, "Call progress.");
    if let Some(code) = hook.get("ErrorCode").and_then(|c| c.parse::<u32>().ok()) {
        let error = TelephonyError {
            code,
            message: hook.get("ErrorMessage").unwrap_or_default().to_owned(),
            seen: Seen::Callback,
            incident: Some(hook.call.incident()),
            call_id: Some(hook.call.to_string()),
            call_sid: hook.get("CallSid").map(str::to_owned),
        };
        state
            .store
            .keep_telephony_error(error, state.clock.now())
            .await;
    }
    if let Some(outcome) = CallOutcome::parse(status) {
        // Final callbacks carry the billed duration; Twilio's price comes later, on the
        // call resource.
        let usage = crate::store::CallUsage {
            duration_seconds: hook.get("CallDuration").and_then(|d| d.parse().ok()),
            sid: hook.get("CallSid").map(str::to_owned),
            ..Default::default()
        };
        state.store.keep_call_usage(&hook.call, usage).await;
        state
            .runner
            .tell(Input::Ended {
                call: hook.call.clone(),
                outcome,
            })
            .await;
    }
    Ok(xml(twiml::empty()))
}

/// Answering-machine detection's verdict.
pub async fn amd(
    State(state): State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let hook = verify(&state, &uri, &headers, &body)?;
    if hook.machine() {
        tracing::info!(call_id = %hook.call, call_sid = hook.get("CallSid"), "A machine answered; hanging up.");
        state
            .runner
            .tell(Input::Machine {
                call: hook.call.clone(),
            })
            .await;
    }
    Ok(xml(twiml::empty()))
}

/// A test call's webhooks (`kaden test-call`): answered, keys, status.
pub async fn test_call(
    State(state): State<AppState>,
    axum::extract::Path(hook): axum::extract::Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = signed(&state, &uri, &headers, &body)?;
    let id: u64 = query_value(&uri, "test")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::BadRequest("the webhook URL lacks ?test=<id>".into()))?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let calls = &state.test_calls;
    Ok(xml(match hook.as_str() {
        "voice" => calls.answered(id),
        "gather" => calls.pressed(id, param("Digits")),
        "status" => {
            calls.status(id, param("CallStatus"));
            twiml::empty()
        }
        other => return Err(ApiError::NotFound(format!("no test-call hook {other:?}"))),
    }))
}
