//! The simulator's own admin API under `/_sim`, for scripts, tests and benchmarks (admin token required):
//!
//! - `POST /_sim/token` `{"accountId"| "name", "clientId"?}` → an access token for that person, as if they had
//!   signed in through 3LO (every scope arbor uses);
//! - `GET /_sim/stats`, `POST /_sim/stats/reset`;
//! - `GET|PUT /_sim/controls` (latency, jitter, faults, quotas, consistency window, webhook delivery);
//! - `POST /_sim/clock` `{"advanceMs": n}` moves the simulator's clock forward;
//! - `POST /_sim/issues` `{"project", "issueType", "summary", "parent"?}`, `PUT /_sim/issues/{idOrKey}`
//!   `{"summary"?, "parent"?}`, `DELETE /_sim/issues/{idOrKey}` (with its sub-tasks), `POST /_sim/links` `{"type", "inward", "outward"}`, `DELETE /_sim/links/{id}`:
//!   writes as the REST API makes them, with webhooks, but without permission checks or rate limits.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{ApiError, ApiResult, json_body, respond};
use super::issues::{WriteOp, write, write_error};
use super::{Controls, Shared, SimHandle, lock};
use crate::model::{IssueIdx, NewIssue, Site};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/token", post(token))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route("/controls", get(get_controls).put(set_controls))
        .route("/clock", post(clock))
        .route("/issues", post(create_issue))
        .route("/issues/{idOrKey}", put(edit_issue).delete(delete_issue))
        .route("/links", post(create_link))
        .route("/links/{id}", delete(delete_link))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    account_id: Option<String>,
    name: Option<String>,
    client_id: Option<String>,
}

async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(|| {
        let request: TokenRequest = json_body(&body)?;
        let who = request
            .account_id
            .or(request.name)
            .ok_or_else(|| ApiError::bad_request("Give 'accountId' or 'name'."))?;
        let client = request
            .client_id
            .unwrap_or_else(|| "jira-sim-app".to_owned());
        let handle = SimHandle {
            shared: Arc::clone(&shared),
        };
        let token = handle
            .mint_token(&who, &client)
            .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))?;
        let account = {
            let site = shared.site();
            site.person_by_account_id(&who)
                .or_else(|| site.person_by_name(&who))
                .map(|p| site.person(p).account_id.clone())
        };
        Ok(axum::Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": shared.token_lifetime.as_secs(),
            "scope": super::auth::ALL_SCOPES.join(" "),
            "accountId": account,
            "clientId": client,
        }))
        .into_response())
    })
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.stats).to_json()).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.stats).reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_controls(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.controls()).into_response()
}

async fn set_controls(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(|| {
        let controls: Controls = json_body(&body)?;
        SimHandle {
            shared: Arc::clone(&shared),
        }
        .set_controls(controls);
        Ok(axum::Json(shared.controls()).into_response())
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Clock {
    advance_ms: u64,
}

async fn clock(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(|| {
        let request: Clock = json_body(&body)?;
        SimHandle {
            shared: Arc::clone(&shared),
        }
        .advance_clock(Duration::from_millis(request.advance_ms));
        Ok(axum::Json(json!({ "now": shared.now_ms() })).into_response())
    })
}

fn issue(site: &Site, text: &str) -> ApiResult<IssueIdx> {
    site.issue_by_id_or_key(text)
        .ok_or_else(ApiError::issue_not_found)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateIssue {
    project: String,
    issue_type: String,
    summary: String,
    parent: Option<Value>,
    reporter: Option<String>,
}

async fn create_issue(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(|| {
        let request: CreateIssue = json_body(&body)?;
        let new = {
            let site = shared.site();
            let project = site
                .project_by_key(&request.project)
                .ok_or_else(|| ApiError::field("project", "No such project."))?;
            let issue_type = site
                .issue_types
                .iter()
                .position(|t| t.name == request.issue_type || t.id == request.issue_type)
                .and_then(|t| u16::try_from(t).ok())
                .ok_or_else(|| ApiError::field("issuetype", "No such issue type."))?;
            let parent = match &request.parent {
                None | Some(Value::Null) => None,
                Some(p) => Some(issue(&site, &text_of(p))?),
            };
            let reporter = request.reporter.as_deref().and_then(|r| {
                site.person_by_name(r)
                    .or_else(|| site.person_by_account_id(r))
            });
            NewIssue {
                project,
                issue_type,
                summary: request.summary.clone(),
                parent,
                reporter,
                assignee: None,
            }
        };
        let written = write(&shared, None, &WriteOp::Create(new)).map_err(|e| write_error(&e))?;
        let site = shared.site();
        let idx = written.issue.ok_or_else(ApiError::issue_not_found)?;
        let i = site.issue(idx);
        Ok((
            StatusCode::CREATED,
            axum::Json(json!({ "id": i.id.to_string(), "key": &*i.key })),
        )
            .into_response())
    })
}

async fn edit_issue(
    State(shared): State<Arc<Shared>>,
    Path(id_or_key): Path<String>,
    body: Bytes,
) -> Response {
    respond(|| {
        let request: Value = json_body(&body)?;
        let mut ops = Vec::new();
        {
            let site = shared.site();
            let idx = issue(&site, &id_or_key)?;
            if let Some(s) = request.get("summary").and_then(Value::as_str) {
                ops.push(WriteOp::Summary {
                    idx,
                    summary: s.to_owned(),
                });
            }
            if let Some(p) = request.get("parent") {
                let parent = match p {
                    Value::Null => None,
                    other => Some(issue(&site, &text_of(other))?),
                };
                ops.push(WriteOp::Parent { idx, parent });
            }
        }
        for op in &ops {
            write(&shared, None, op).map_err(|e| write_error(&e))?;
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

#[derive(Debug, Deserialize)]
struct CreateLink {
    #[serde(rename = "type")]
    link_type: String,
    inward: Value,
    outward: Value,
}

async fn create_link(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(|| {
        let request: CreateLink = json_body(&body)?;
        let op = {
            let site = shared.site();
            WriteOp::AddLink {
                link_type: site
                    .link_type_by_name_or_id(&request.link_type)
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::NOT_FOUND,
                            format!(
                                "No issue link type with name '{}' found.",
                                request.link_type
                            ),
                        )
                    })?,
                source: issue(&site, &text_of(&request.inward))?,
                destination: issue(&site, &text_of(&request.outward))?,
            }
        };
        let written = write(&shared, None, &op).map_err(|e| write_error(&e))?;
        Ok((
            StatusCode::CREATED,
            axum::Json(json!({ "id": written.link.map(|l| l.to_string()) })),
        )
            .into_response())
    })
}

async fn delete_link(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    respond(|| {
        let id: u64 = id
            .parse()
            .map_err(|_| ApiError::bad_request("The link id must be a number."))?;
        write(&shared, None, &WriteOp::RemoveLink { id }).map_err(|e| write_error(&e))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn delete_issue(
    State(shared): State<Arc<Shared>>,
    Path(id_or_key): Path<String>,
) -> Response {
    respond(|| {
        let idx = issue(&shared.site(), &id_or_key)?;
        write(
            &shared,
            None,
            &WriteOp::Delete {
                idx,
                with_subtasks: true,
            },
        )
        .map_err(|e| write_error(&e))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
