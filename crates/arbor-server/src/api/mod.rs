//! `/api/v1`: the REST API. Every handler that touches a structure goes through [`authorize`], which resolves
//! the caller's level from the structure's rules and audits refusals; every data-related success is audited
//! by the handler through [`crate::audit`].

pub mod assist;
pub mod config;
pub mod directory;
pub mod edits;
pub mod hidden;
pub mod rows;
pub mod shown;
pub mod structures;
pub mod told;

use std::collections::HashMap;
use std::sync::Arc;

use arbor_core::generator::Generator;
use arbor_core::ids::GeneratorId;
use arbor_core::permission::{Grantee, Level, Requester, Rule, resolve_level};
use arbor_jira::client::Credentials;
use arbor_store::model::{StructureId, StructureMeta, TenantId};
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::people;
use crate::session::Caller;
use crate::state::{AppState, Described};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", get(structures::session))
        .route("/check/jql", post(assist::check_jql))
        .route("/check/formula", post(assist::check_formula))
        .route("/jira/issue-ids", get(assist::issue_ids))
        .route("/jira/people", get(directory::people))
        .route("/jira/groups", get(directory::groups))
        .route("/jira/projects", get(directory::projects))
        .route("/jira/projects/{id}/roles", get(directory::project_roles))
        .route("/jira/{kind}", get(assist::jira_metadata))
        .route(
            "/structures",
            get(structures::list).post(structures::create),
        )
        .route(
            "/structures/{id}",
            get(structures::describe)
                .patch(structures::update)
                .delete(structures::delete),
        )
        .route("/structures/{id}/rows", post(rows::window))
        .route("/structures/{id}/refresh", post(rows::refresh))
        .route("/structures/{id}/export", get(rows::export))
        .route("/structures/{id}/edits", post(edits::edit))
        .route("/structures/{id}/undo", post(edits::undo))
        .route("/structures/{id}/redo", post(edits::redo))
        .route("/structures/{id}/history", get(edits::history))
        .route(
            "/structures/{id}/restore",
            get(edits::restore_preview).post(edits::restore),
        )
        .route(
            "/structures/{id}/generators",
            get(config::generators).post(config::add_generator),
        )
        .route(
            "/structures/{id}/generators/{generator}",
            axum::routing::put(config::change_generator).delete(config::remove_generator),
        )
        .route(
            "/structures/{id}/views",
            get(config::views).post(config::create_view),
        )
        .route(
            "/structures/{id}/views/{view}",
            axum::routing::put(config::update_view).delete(config::delete_view),
        )
        .route(
            "/structures/{id}/permissions",
            get(config::rules).put(config::set_rules),
        )
}

/// A JSON body; a malformed one is answered with a problem saying what is wrong and where.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(body_problem(&rejection)),
        }
    }
}

fn body_problem(rejection: &JsonRejection) -> ApiError {
    let detail = match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "the body must be JSON, sent with Content-Type: application/json".to_owned()
        }
        JsonRejection::BytesRejection(_) => {
            "the body could not be read (it may be larger than the server accepts)".to_owned()
        }
        other => other.body_text(),
    };
    ApiError::new(rejection.status(), "invalid-body", detail)
}

/// Path parameters, with problem answers for ones that do not parse.
#[derive(Debug)]
pub struct Param<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Param<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_problem(&rejection)),
        }
    }
}

fn path_problem(rejection: &PathRejection) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid-path",
        format!("the URL is not valid: {}", rejection.body_text()),
    )
}

/// Query parameters, with problem answers for ones that do not parse.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_problem(&rejection)),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> ApiError {
    ApiError::bad_request(format!(
        "the query string is not valid: {}",
        rejection.body_text()
    ))
}

/// A structure id from the path.
pub fn structure_id(raw: u64) -> ApiResult<StructureId> {
    StructureId::new(raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// What [`authorize`] found: the structure, the caller's level on it, and their Jira credentials.
#[derive(Debug)]
pub struct Access {
    pub meta: StructureMeta,
    pub level: Level,
    pub who: Credentials,
    /// Set for changes: the structure's description is read again after them.
    _changing: Option<Changing>,
}

/// Forgets a structure's recently read description when the change that holds it is done.
#[derive(Debug)]
struct Changing {
    state: AppState,
    key: (TenantId, StructureId),
}

impl Drop for Changing {
    fn drop(&mut self) {
        self.state.structures.forget(&self.key);
    }
}

/// A structure with its rules: as read in the last second, or from storage (always, when `fresh`; what a fresh
/// read finds replaces what was kept).
pub async fn described(
    state: &AppState,
    tenant: TenantId,
    id: StructureId,
    fresh: bool,
) -> ApiResult<Option<Arc<Described>>> {
    let key = (tenant, id);
    if !fresh && let Ok(described) = state.structures.get(&key) {
        return Ok(Some(described));
    }
    let ticket = state.structures.ticket();
    let Some(meta) = state.store.structure(tenant, id).await? else {
        if fresh {
            state.structures.forget(&key);
        }
        return Ok(None);
    };
    let rules = state.store.rules(tenant, id).await?;
    let described = Arc::new(Described { meta, rules });
    state.structures.keep(key, Arc::clone(&described), ticket);
    Ok(Some(described))
}

/// The caller's level on a structure with these rules. Jira is asked about groups and project roles only
/// when a rule names them and nothing cheaper already decides.
pub async fn level_of(
    state: &AppState,
    caller: &Caller,
    who: &Credentials,
    meta: &StructureMeta,
    rules: &[Rule],
) -> ApiResult<Level> {
    let mut requester = Requester::new(caller.account.as_str());
    requester.is_admin = people::is_admin(state, caller);
    let level = resolve_level(rules, meta.owner.as_str(), &requester);
    let best_possible = rules.iter().map(|r| r.level).max().unwrap_or(Level::None);
    // Only the rules that could raise the level send questions to Jira.
    let could_raise: Vec<Rule> = rules
        .iter()
        .filter(|r| {
            r.level > level
                && matches!(
                    r.grantee,
                    Grantee::Group { .. } | Grantee::ProjectRole { .. }
                )
        })
        .cloned()
        .collect();
    if level == Level::Control || level >= best_possible || could_raise.is_empty() {
        return Ok(level);
    }
    let requester = people::requester(state, caller, who, &could_raise).await?;
    Ok(resolve_level(rules, meta.owner.as_str(), &requester))
}

/// Loads a structure and checks the caller has `required` on it. Someone without even View is told the
/// structure does not exist, so ids cannot be probed; refusals are audited as `action`.
pub async fn authorize(
    state: &AppState,
    caller: &Caller,
    raw_id: u64,
    required: Level,
    action: &str,
) -> ApiResult<Access> {
    let id = structure_id(raw_id)?;
    // Credentials first: a caller whose Jira sign-in lapsed learns that before, and regardless of, whether
    // the structure exists.
    let who = people::credentials(state, caller).await?;
    // Changes read storage; reads may use what was read in the last second.
    let changes = required > Level::View;
    let Some(described) = described(state, caller.tenant, id, changes).await? else {
        let object = format!("structure:{id}");
        return Err(audit::denied(state, caller, action, &[&object], missing()).await);
    };
    let level = level_of(state, caller, &who, &described.meta, &described.rules).await?;
    if !level.allows(required) {
        let refusal = if level == Level::None {
            missing()
        } else {
            ApiError::forbidden(format!(
                "this needs the {required} level on the structure; you have {level}"
            ))
        };
        let object = format!("structure:{id}");
        return Err(audit::denied(state, caller, action, &[&object], refusal).await);
    }
    Ok(Access {
        meta: described.meta.clone(),
        level,
        who,
        _changing: changes.then(|| Changing {
            state: state.clone(),
            key: (caller.tenant, id),
        }),
    })
}

fn missing() -> ApiError {
    ApiError::not_found("no such structure, or you may not see it")
}

/// The structure's generator configurations, typed.
pub async fn load_generators(
    state: &AppState,
    caller: &Caller,
    id: StructureId,
) -> ApiResult<HashMap<GeneratorId, Generator>> {
    let stored = state.store.generators(caller.tenant, id).await?;
    stored
        .into_iter()
        .map(|(gid, value)| {
            serde_json::from_value::<Generator>(value)
                .map(|g| (gid, g))
                .map_err(|e| {
                    ApiError::internal(&format!(
                        "generator {gid} does not load: {}",
                        arbor_store::json_error_without_values(&e)
                    ))
                })
        })
        .collect()
}
