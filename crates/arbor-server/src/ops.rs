//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document, and the landing page.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::OpenApi;

use secrecy::ExposeSecret;

use crate::api;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: storage answers and the server is not shutting down.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_shutting_down() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting down" })),
        )
            .into_response();
    }
    match state.store.schema_version().await {
        Ok(version) => {
            Json(json!({ "status": "ready", "schema_version": version })).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check: storage does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "storage unavailable" })),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format, for the configured bearer token only. (Not "anyone on this
/// machine": behind a reverse proxy on the same host, every visitor arrives from loopback.)
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.config.metrics_token else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "metrics are off: set server.metrics_token and scrape with it as a bearer token",
        )
        .into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| {
            crate::session::equal_in_constant_time(
                given.as_bytes(),
                token.expose_secret().as_bytes(),
            )
        });
    if !presented {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "metrics need the configured bearer token",
        )
        .into_response();
    }
    let mut response = state.metrics.render(&state.jira.metrics).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The OpenAPI 3.1 document of `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "arbor",
        description = "Structures of Jira issues: build them by hand and by rules, see them with totals, \
                       progress and formulas, share them with exact permissions. Every error is \
                       application/problem+json. Requests that change something need the X-CSRF-Token \
                       header from GET /api/v1/session.",
        license(name = "Apache-2.0")
    ),
    paths(
        api::structures::session,
        api::structures::list,
        api::structures::create,
        api::structures::describe,
        api::structures::update,
        api::structures::delete,
        api::rows::window,
        api::rows::refresh,
        api::rows::export,
        api::edits::edit,
        api::edits::undo,
        api::edits::redo,
        api::edits::history,
        api::edits::restore,
        api::edits::restore_preview,
        api::config::generators,
        api::config::add_generator,
        api::config::change_generator,
        api::config::remove_generator,
        api::config::views,
        api::config::create_view,
        api::config::update_view,
        api::config::delete_view,
        api::config::rules,
        api::config::set_rules,
        api::assist::check_jql,
        api::assist::check_formula,
        api::assist::jira_metadata,
        api::assist::issue_ids,
        api::directory::people,
        api::directory::groups,
        api::directory::projects,
        api::directory::project_roles,
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The document as served and committed (`crates/arbor-server/openapi.json`).
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> Response {
    let mut response = openapi_json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
