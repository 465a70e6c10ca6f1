//! The status page: server-rendered HTML over the same read models and actions as the
//! JSON API, behind a login with an API token.

mod render;
mod session;

use super::{ApiError, constant_time_eq, incidents, oncall};
use crate::escalation::ManualVia;
use crate::service::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use jiff::Timestamp;
use render::Pages;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use session::{Session, Sessions};
use std::sync::Arc;

/// Who acknowledges when nobody gave a name (and in the open, token-less setup).
const DEFAULT_LABEL: &str = "web";
const MAX_LABEL_CHARS: usize = 64;

struct Ui {
    pages: Pages,
    sessions: Sessions,
}

/// The session of the request, put there by `require_session`.
#[derive(Clone)]
struct Current {
    id: String,
    session: Session,
}

pub fn router(state: &AppState) -> Router<AppState> {
    let ui = Arc::new(Ui {
        pages: Pages::new(
            state.config.locale.language,
            state.config.locale.timezone.clone(),
        ),
        sessions: Sessions::default(),
    });
    let pages = Router::new()
        .route("/", get(index))
        .route("/incidents/{id}", get(incident))
        .route("/incidents/{id}/ack", post(ack))
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_session,
        ));
    Router::new()
        .route("/login", get(login_form).post(login))
        .merge(pages)
        .layer(Extension(ui))
}

impl Ui {
    fn page(&self, status: StatusCode, template: &'static str, context: Value) -> Response {
        match self.pages.render(template, context) {
            Ok(html) => {
                let mut response = (status, Html(html)).into_response();
                let headers = response.headers_mut();
                // Pages carry incident data and a CSRF token: no caches, no framing, no
                // scripts.
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(
                    CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                         frame-ancestors 'none'",
                    ),
                );
                response
            }
            Err(e) => {
                tracing::error!(error = %e, "A status page failed to render.");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see kaden's log",
                )
                    .into_response()
            }
        }
    }

    /// An API error as a page: the same status and message the API would give.
    fn error(&self, error: ApiError, current: &Current) -> Response {
        let message = error.to_string();
        let status = error.into_response().status();
        self.page(
            status,
            "error.html",
            json!({ "status": status.as_u16(), "message": message, "label": current.session.label }),
        )
    }
}

/// Pages need a session; without one they redirect to the login form, or, when no API
/// token is configured (the API is open too), start one.
async fn require_session(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some((id, session)) = ui.sessions.lookup(request.headers()) {
        request.extensions_mut().insert(Current { id, session });
        return next.run(request).await;
    }
    if !state.config.server.api_tokens.is_empty() {
        return Redirect::to("/login").into_response();
    }
    let (id, session) = ui.sessions.create(DEFAULT_LABEL.to_owned());
    let cookie = session::set_cookie(Some(&id));
    request.extensions_mut().insert(Current { id, session });
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

async fn login_form(State(state): State<AppState>, Extension(ui): Extension<Arc<Ui>>) -> Response {
    if state.config.server.api_tokens.is_empty() {
        return Redirect::to("/").into_response();
    }
    ui.page(StatusCode::OK, "login.html", json!({}))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    name: String,
}

async fn login(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let tokens = &state.config.server.api_tokens;
    let name = form.name.trim();
    if !tokens.is_empty()
        && !tokens
            .iter()
            .any(|t| constant_time_eq(t.expose_secret().as_bytes(), form.token.as_bytes()))
    {
        tracing::warn!("A status page login was refused: wrong token.");
        return ui.page(
            StatusCode::UNAUTHORIZED,
            "login.html",
            json!({ "failed": true, "name": name }),
        );
    }
    let label = if name.is_empty() {
        DEFAULT_LABEL.to_owned()
    } else {
        name.chars().take(MAX_LABEL_CHARS).collect()
    };
    tracing::info!(label = %label, "Logged in to the status page.");
    let (id, _) = ui.sessions.create(label);
    (
        [(SET_COOKIE, session::set_cookie(Some(&id)))],
        Redirect::to("/"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

impl Current {
    /// POSTs must carry the session's CSRF token: a SameSite cookie alone does not cover
    /// older browsers or same-site subdomains.
    fn check(&self, form: &CsrfForm) -> Result<(), StatusCode> {
        if constant_time_eq(self.session.csrf.as_bytes(), form.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(StatusCode::FORBIDDEN)
        }
    }
}

async fn logout(
    Extension(ui): Extension<Arc<Ui>>,
    Extension(current): Extension<Current>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, StatusCode> {
    current.check(&form)?;
    ui.sessions.remove(&current.id);
    Ok((
        [(SET_COOKIE, session::set_cookie(None))],
        Redirect::to("/login"),
    )
        .into_response())
}

/// What every page shows about the session.
fn base(current: &Current) -> Value {
    json!({ "label": current.session.label, "csrf": current.session.csrf })
}

fn to_json(value: impl serde::Serialize) -> Value {
    // The read models are plain data; serializing them cannot fail.
    serde_json::to_value(value).unwrap_or_default()
}

/// User ids to names, for the call log.
fn user_names(state: &AppState) -> Value {
    state
        .config
        .users
        .iter()
        .map(|u| (u.id.to_string(), Value::from(u.name.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn index(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Extension(current): Extension<Current>,
) -> Response {
    let load = async {
        // The API's own handlers with their own queries, so the page shows what the API
        // says, field for field.
        let Json(list) = incidents::list(
            State(state.clone()),
            Query::try_from_uri(&Uri::from_static("/?limit=50")),
        )
        .await?;
        let Json(oncall) = oncall::oncall(
            State(state.clone()),
            Query::try_from_uri(&Uri::from_static("/?next=3")),
        )
        .await?;
        let Json(calls) = incidents::calls(
            State(state.clone()),
            Query::try_from_uri(&Uri::from_static("/?limit=20")),
        )
        .await?;
        let Json(errors) = incidents::telephony_errors(
            State(state.clone()),
            Query::try_from_uri(&Uri::from_static("/?limit=20")),
        )
        .await?;
        Ok::<_, ApiError>(json!({
            "incidents": to_json(list),
            "oncall": to_json(oncall),
            "calls": to_json(calls),
            "errors": to_json(errors),
            "telephony": to_json(state.telephony.client.status()),
            "users": user_names(&state),
        }))
    };
    match load.await {
        Ok(mut context) => {
            merge(&mut context, base(&current));
            ui.page(StatusCode::OK, "index.html", context)
        }
        Err(e) => ui.error(e, &current),
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

/// The incident's alerts, calls, write-backs and notices as one list, oldest first.
fn timeline(incident: &Value) -> Vec<Value> {
    const PARTS: [(&str, &str, &str); 4] = [
        ("alerts", "received_at", "alert"),
        ("calls", "placed_at", "call"),
        ("writebacks", "created_at", "writeback"),
        ("notices", "at", "notice"),
    ];
    let mut entries: Vec<(Option<Timestamp>, Value)> = PARTS
        .iter()
        .flat_map(|(list, at, kind)| {
            incident[list]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |item| {
                    let time = item[at].as_str().and_then(|t| t.parse().ok());
                    (time, json!({ "kind": kind, "at": item[at], "item": item }))
                })
        })
        .collect();
    entries.sort_by_key(|(time, _)| *time);
    entries.into_iter().map(|(_, entry)| entry).collect()
}

#[derive(Deserialize)]
struct IncidentQuery {
    #[serde(default)]
    acked: bool,
}

async fn incident(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Extension(current): Extension<Current>,
    Path(id): Path<String>,
    query: Result<Query<IncidentQuery>, QueryRejection>,
) -> Response {
    // A malformed notice flag only loses the notice.
    let acked = query.is_ok_and(|Query(q)| q.acked);
    incident_page(
        &state,
        &ui,
        &current,
        id,
        StatusCode::OK,
        json!({ "acked": acked }),
    )
    .await
}

async fn incident_page(
    state: &AppState,
    ui: &Ui,
    current: &Current,
    id: String,
    status: StatusCode,
    extra: Value,
) -> Response {
    match incidents::show(State(state.clone()), Path(id)).await {
        Ok(Json(detail)) => {
            let detail = to_json(detail);
            let mut context = json!({
                "timeline": timeline(&detail),
                "incident": detail,
                "users": user_names(state),
            });
            merge(&mut context, base(current));
            merge(&mut context, extra);
            ui.page(status, "incident.html", context)
        }
        Err(e) => ui.error(e, current),
    }
}

/// The acknowledge button: what `POST /api/v1/incidents/{id}/ack` does, by the session's
/// label, via the web.
async fn ack(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    Extension(current): Extension<Current>,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, StatusCode> {
    current.check(&form)?;
    let by = current.session.label.clone();
    Ok(
        match incidents::acknowledge(&state, &id, by, ManualVia::Web).await {
            Ok(_) => Redirect::to(&format!("/incidents/{id}?acked=true")).into_response(),
            Err(ApiError::Conflict(_)) => {
                incident_page(
                    &state,
                    &ui,
                    &current,
                    id,
                    StatusCode::CONFLICT,
                    json!({ "ack_conflict": true }),
                )
                .await
            }
            Err(e) => ui.error(e, &current),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_is_in_time_order_across_kinds() {
        let incident = json!({
            "alerts": [{ "id": 1, "received_at": "2026-11-23T01:00:00Z" }],
            "calls": [
                { "id": "c2", "placed_at": "2026-11-23T01:05:00Z" },
                { "id": "c1", "placed_at": "2026-11-23T01:00:01.5Z" },
            ],
            "writebacks": [{ "alert_id": 1, "created_at": "2026-11-23T01:06:00Z" }],
        });
        let kinds: Vec<String> = timeline(&incident)
            .iter()
            .map(|e| format!("{}:{}", e["kind"].as_str().unwrap(), e["item"]["id"]))
            .collect();
        assert_eq!(
            kinds,
            ["alert:1", "call:\"c1\"", "call:\"c2\"", "writeback:null"]
        );
    }
}
