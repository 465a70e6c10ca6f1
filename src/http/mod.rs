//! The one HTTP listener: health, webhooks and the JSON API.

mod alerts;
mod error;
mod forward;
mod heartbeats;
mod incidents;
mod oncall;
mod server;
mod testcalls;
mod twilio;
mod ui;
mod usage;

pub use error::ApiError;
pub use server::serve;

use crate::service::AppState;
use crate::telephony::simulator::Simulator;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use secrecy::{ExposeSecret, SecretString};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Alerts are small; a body above this is a mistake or an attack.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Where a route accepts the API token.
#[derive(Clone, Copy)]
enum TokenIn {
    /// `Authorization: Bearer` only, so tokens stay out of URLs, proxies' logs and
    /// browser history.
    Header,
    /// Also `?token=`: webhook senders (Mackerel) and calendar apps cannot set headers.
    HeaderOrQuery,
}

/// Which tokens a route takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// `server.api_tokens` only.
    Api,
    /// Also `server.ingest_tokens`: posting alerts, nothing else.
    Ingest,
}

#[derive(Clone, Copy)]
struct Guard {
    token_in: TokenIn,
    scope: Scope,
}

pub fn router(
    state: AppState,
    simulator: Option<Simulator>,
    heartbeats: std::sync::Arc<crate::heartbeat::Heartbeats>,
) -> Router {
    let mut header_only = Router::new()
        .route("/api/v1/incidents", get(incidents::list))
        .route("/api/v1/incidents/{id}", get(incidents::show))
        .route("/api/v1/incidents/{id}/ack", post(incidents::ack))
        .route("/api/v1/incidents/{id}/alerts", get(incidents::alerts))
        .route("/api/v1/calls", get(incidents::calls))
        .route("/api/v1/telephony/errors", get(incidents::telephony_errors))
        .route("/api/v1/usage", get(usage::usage))
        .route("/api/v1/test-calls", post(testcalls::start))
        .route("/api/v1/test-calls/{id}", get(testcalls::show))
        .route("/api/v1/oncall", get(oncall::oncall))
        .route("/api/v1/oncall/gaps", get(oncall::gaps))
        .route("/api/v1/schedules/{id}/shifts", get(oncall::shifts))
        .route(
            "/api/v1/schedules/{id}/overrides",
            get(oncall::list_overrides).post(oncall::add_override),
        )
        .route(
            "/api/v1/schedules/{id}/overrides/{override_id}",
            delete(oncall::delete_override),
        );
    let feeds = Router::new()
        .route("/api/v1/schedules/{file}", get(oncall::schedule_feed))
        .route("/api/v1/users/{file}", get(oncall::user_feed));
    // Alerts in: an ingest token (server.ingest_tokens) is enough here.
    let ingest = Router::new()
        .route("/api/v1/alerts", post(alerts::post_generic))
        .route("/api/v1/heartbeats/{id}", post(heartbeats::check_in))
        .layer(axum::Extension(heartbeats));
    let webhooks = Router::new()
        .route("/webhooks/nagios", post(alerts::post_nagios))
        .route("/webhooks/zabbix", post(alerts::post_zabbix))
        .route("/webhooks/mackerel", post(alerts::post_mackerel));
    let mut open = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/twilio/voice", post(twilio::voice))
        .route("/twilio/gather", post(twilio::gather))
        .route("/twilio/status", post(twilio::status))
        .route("/twilio/amd", post(twilio::amd))
        .route("/twilio/test/{hook}", post(twilio::test_call));
    // The simulator exists only when it is the provider: Twilio's API (basic auth) and,
    // behind the API token, its scripting endpoints.
    if let Some(sim) = simulator {
        open = open.nest("/sim", sim.clone().twilio_router());
        header_only = header_only.nest("/sim", sim.script_router());
    }
    let guard = |token_in, scope| {
        middleware::from_fn_with_state((state.clone(), Guard { token_in, scope }), require_token)
    };
    let request_timeout = state.config.server.limits.request_timeout;
    Router::new()
        .merge(open)
        .merge(header_only.route_layer(guard(TokenIn::Header, Scope::Api)))
        .merge(feeds.route_layer(guard(TokenIn::HeaderOrQuery, Scope::Api)))
        .merge(ingest.route_layer(guard(TokenIn::Header, Scope::Ingest)))
        .merge(webhooks.route_layer(guard(TokenIn::HeaderOrQuery, Scope::Ingest)))
        .merge(ui::router(&state))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            forward::to_leader,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// tower-http's default span, with secrets in the query string replaced by `***`.
fn request_span(request: &Request) -> tracing::Span {
    let uri = request.uri().to_string();
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %crate::telemetry::redact_uri(&uri),
        version = ?request.version(),
    )
}

/// Every error answer is JSON, also those made outside kaden's handlers: extractor
/// rejections, 404 and 405 from the router, 413 from the body limit, 408 from the timeout.
/// The status page's own HTML answers (the login form again) are for people and stay.
async fn json_errors(request: Request, next: Next) -> Response {
    let what = format!("{} {}", request.method(), request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    let already = response.headers().get(CONTENT_TYPE).is_some_and(|t| {
        let t = t.as_bytes();
        t.starts_with(b"application/json") || t.starts_with(b"text/html")
    });
    if !(status.is_client_error() || status.is_server_error()) || already {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(BODY_LIMIT).to_string(),
        StatusCode::REQUEST_TIMEOUT => {
            "the request was not complete in time (server.request_timeout); send it again".into()
        }
        StatusCode::NOT_FOUND if text.is_empty() => format!("no such endpoint: {what}"),
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{what} is not allowed; see the README's HTTP API")
        }
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_owned(),
        _ => text,
    };
    error::json_response(status, &message)
}

/// Healthy means an alert could be accepted now: the store commits a small write. The
/// Twilio account calls go through (primary or fallback) is shown beside it.
async fn healthz(State(state): State<AppState>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    state
        .store
        .check_writable()
        .await
        .map_err(ApiError::Unavailable)?;
    Ok(axum::Json(serde_json::json!({
        "status": "ok",
        "instance": state.cluster.instance,
        "leader": state.cluster.leading(),
        "telephony": state.telephony.client.status(),
    })))
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    use axum::response::IntoResponse;
    use std::fmt::Write;
    let mut out = String::new();
    let mut typed = std::collections::HashSet::new();
    let mut samples = state.store.metrics().await?;
    samples.extend(state.telephony.client.samples());
    samples.extend(
        oncall::next_gap_seconds(&state)
            .into_iter()
            .map(|(kind, id, s)| {
                (
                    "kaden_oncall_next_gap_seconds",
                    vec![("kind", kind), ("id", id)],
                    s as f64,
                )
            }),
    );
    samples.extend(crate::usage::metric_samples(&state.store, &state.config.usage.rates).await?);
    samples.push((
        "kaden_leader",
        vec![("instance", state.cluster.instance.clone())],
        if state.cluster.leading() { 1.0 } else { 0.0 },
    ));
    for (name, labels, value) in samples {
        if typed.insert(name) {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(out, "# TYPE {name} {kind}");
        }
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}=\"{}\"",
                    v.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n")
                )
            })
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response())
}

/// Token check for the webhooks and the API, when `server.api_tokens` is set. An empty
/// token never matches, whatever the config says.
async fn require_token(
    State((state, guard)): State<(AppState, Guard)>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token_in = guard.token_in;
    let from_query = request
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token"))
        .map(|(_, v)| v.into_owned());
    let from_query = match token_in {
        TokenIn::HeaderOrQuery => from_query,
        TokenIn::Header if from_query.is_some() => {
            return Err(ApiError::BadRequest(
                "?token= is accepted only by /webhooks/* and the .ics calendar feeds; send Authorization: Bearer <token>".into(),
            ));
        }
        TokenIn::Header => None,
    };
    let tokens = &state.config.server.api_tokens;
    if tokens.is_empty() {
        return Ok(next.run(request).await);
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or(from_query)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let ingest: &[SecretString] = match guard.scope {
        Scope::Ingest => &state.config.server.ingest_tokens,
        Scope::Api => &[],
    };
    if tokens.iter().chain(ingest).any(|t| {
        let t = t.expose_secret().as_bytes();
        !t.is_empty() && constant_time_eq(t, presented.as_bytes())
    }) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Compares without an early exit, so timing does not reveal how much of a token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
