//! The one HTTP listener: health, webhooks and the JSON API.

mod alerts;
mod error;
mod incidents;
mod oncall;
mod twilio;
mod ui;

pub use error::ApiError;

use crate::app::AppState;
use crate::telephony::simulator::Simulator;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use secrecy::ExposeSecret;
use tower_http::trace::TraceLayer;

/// Alerts are small; a body above this is a mistake or an attack.
pub const BODY_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState, simulator: Option<Simulator>) -> Router {
    let mut protected = Router::new()
        .route("/api/v1/alerts", post(alerts::post_generic))
        .route("/webhooks/nagios", post(alerts::post_nagios))
        .route("/webhooks/zabbix", post(alerts::post_zabbix))
        .route("/webhooks/mackerel", post(alerts::post_mackerel))
        .route("/api/v1/incidents", get(incidents::list))
        .route("/api/v1/incidents/{id}", get(incidents::show))
        .route("/api/v1/incidents/{id}/ack", post(incidents::ack))
        .route("/api/v1/incidents/{id}/alerts", get(incidents::alerts))
        .route("/api/v1/calls", get(incidents::calls))
        .route("/api/v1/oncall", get(oncall::oncall))
        .route("/api/v1/schedules/{file}", get(oncall::schedule_feed))
        .route("/api/v1/schedules/{id}/shifts", get(oncall::shifts))
        .route(
            "/api/v1/schedules/{id}/overrides",
            get(oncall::list_overrides).post(oncall::add_override),
        )
        .route(
            "/api/v1/schedules/{id}/overrides/{override_id}",
            delete(oncall::delete_override),
        )
        .route("/api/v1/users/{file}", get(oncall::user_feed));
    let mut open = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/twilio/voice", post(twilio::voice))
        .route("/twilio/gather", post(twilio::gather))
        .route("/twilio/status", post(twilio::status))
        .route("/twilio/amd", post(twilio::amd));
    // The simulator exists only when it is the provider: Twilio's API (basic auth) and,
    // behind the API token, its scripting endpoints.
    if let Some(sim) = simulator {
        open = open.nest("/sim", sim.clone().twilio_router());
        protected = protected.nest("/sim", sim.script_router());
    }
    let protected =
        protected.route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .merge(open)
        .merge(protected)
        .merge(ui::router(&state))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    state
        .store
        .call(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
        .await?;
    Ok(axum::Json(serde_json::json!({ "status": "ok" })))
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    use axum::response::IntoResponse;
    use std::fmt::Write;
    let mut out = String::new();
    let mut typed = std::collections::HashSet::new();
    for (name, labels, value) in state.store.metrics().await? {
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

/// Bearer-token check for the webhooks and the API, when `server.api_tokens` is set.
async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let tokens = &state.config.server.api_tokens;
    if tokens.is_empty() {
        return Ok(next.run(request).await);
    }
    // Calendar apps and Mackerel cannot send headers: `?token=` works too.
    let from_query = request
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token"))
        .map(|(_, v)| v.into_owned());
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or(from_query)
        .ok_or(ApiError::Unauthorized)?;
    if tokens
        .iter()
        .any(|t| constant_time_eq(t.expose_secret().as_bytes(), presented.as_bytes()))
    {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Compares without an early exit, so timing does not reveal how much of a token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
