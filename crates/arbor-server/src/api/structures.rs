//! Structures: the session, list, create, describe, rename, delete.

use std::collections::{BTreeSet, HashMap};

use arbor_core::ids::{ActorId, Timestamp};
use arbor_core::permission::{Grantee, Level};
use arbor_jira::cache::PeopleKind;
use arbor_store::model::{Actor, NewStructure, StructureMeta};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::edits::UndoRedo;
use super::{Body, Param, authorize, described, directory, level_of};
use crate::audit;
use crate::budget;
use crate::content;
use crate::error::{ApiError, ApiResult};
use crate::people;
use crate::session::Caller;
use crate::state::{AppState, jira_tenant, now};

/// The signed-in person and what the browser needs to make changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub account_id: String,
    /// The person's name as Jira shows it (empty when Jira cannot say just now).
    pub display_name: String,
    pub tenant: u64,
    /// The Jira site this session belongs to.
    pub site: String,
    /// Send this as `X-CSRF-Token` with every request that changes something.
    pub csrf_token: String,
    /// When the session ends unless used (Unix milliseconds).
    pub expires_at: i64,
}

/// `GET /api/v1/session`
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = SessionInfo), (status = 401, description = "not signed in")))]
pub async fn session(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<SessionInfo>> {
    let site = state
        .site(caller.tenant)
        .ok_or_else(ApiError::unauthorized)?;
    let who = people::credentials(&state, &caller).await?;
    let client = site.loader.client().clone();
    let person: std::sync::Arc<str> = std::sync::Arc::from(caller.account.as_str());
    let myself = state
        .caches
        .people(
            &jira_tenant(caller.tenant),
            &person,
            PeopleKind::Myself,
            async move { client.myself(&who.token).await },
        )
        .await;
    let display_name = match myself {
        Ok(me) => me.value["displayName"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        Err(error) => {
            tracing::warn!(%error, "the person's name is unavailable");
            String::new()
        }
    };
    let site = site.config.site_url.to_string();
    Ok(Json(SessionInfo {
        account_id: caller.account.as_str().to_owned(),
        display_name,
        tenant: caller.tenant.get(),
        site,
        csrf_token: caller.csrf.clone(),
        expires_at: caller.expires_at.as_unix_millis(),
    }))
}

/// A structure as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureSummary {
    pub id: u64,
    pub name: String,
    pub description: String,
    /// The owner's account id.
    pub owner: String,
    /// The owner's name as Jira tells it to you, in the list of structures shared with you; absent when Jira
    /// does not tell you (and elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    /// Changes with every change of the structure; send it back as `based_on`.
    pub version: u64,
    /// What you may do: `view`, `edit`, `automate` or `control`.
    #[schema(value_type = String)]
    pub level: Level,
    /// Someone else owns it and shared it with you.
    pub shared_with_me: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl StructureSummary {
    pub fn new(meta: &StructureMeta, level: Level, me: &ActorId) -> Self {
        Self {
            id: meta.id.get(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            owner: meta.owner.as_str().to_owned(),
            owner_name: None,
            version: meta.version.get(),
            level,
            shared_with_me: meta.owner != *me,
            created_at: meta.created_at.as_unix_millis(),
            updated_at: meta.updated_at.as_unix_millis(),
        }
    }
}

/// `GET /api/v1/structures`: the structures you may see.
#[utoipa::path(get, path = "/api/v1/structures", tag = "structures",
    responses((status = 200, body = Vec<StructureSummary>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<StructureSummary>>> {
    let all = state.store.structures(caller.tenant).await?;
    let who = people::credentials(&state, &caller).await?;
    let mut out = Vec::new();
    for meta in &all {
        let Some(described) = described(&state, caller.tenant, meta.id, false).await? else {
            // Deleted since the list was read.
            continue;
        };
        let level = level_of(&state, &caller, &who, meta, &described.rules).await?;
        if level.allows(Level::View) {
            out.push(StructureSummary::new(meta, level, &caller.account));
        }
    }
    // Those shared with you say whose they are, by name: one question to Jira for all their owners.
    let owners: Vec<Grantee> = out
        .iter()
        .filter(|s| s.shared_with_me)
        .map(|s| s.owner.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|account_id| Grantee::Person { account_id })
        .collect();
    if !owners.is_empty() {
        let names = directory::labels(&state, &caller, &who, &owners).await;
        let names: HashMap<&str, String> = owners
            .iter()
            .zip(names)
            .filter_map(|(owner, name)| match owner {
                Grantee::Person { account_id } => Some((account_id.as_str(), name?)),
                _ => None,
            })
            .collect();
        for summary in out.iter_mut().filter(|s| s.shared_with_me) {
            summary.owner_name = names.get(summary.owner.as_str()).cloned();
        }
    }
    audit::ok(&state, &caller, "structure.list", &[]).await?;
    Ok(Json(out))
}

/// The name and description of a structure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStructureBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 10_000;

/// Checks a name or description: not empty (names), bounded, no control characters but newlines and tabs in
/// descriptions, no bidirectional formatting characters (arbor-core's one check of typed characters).
fn checked(what: &'static str, text: &str, max: usize, multiline: bool) -> ApiResult<String> {
    let text = if multiline {
        text.trim_end()
    } else {
        text.trim()
    };
    if !multiline && text.is_empty() {
        return Err(ApiError::bad_request(format!(
            "the {what} must not be empty"
        )));
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(ApiError::bad_request(format!(
            "the {what} is {chars} characters long; the most is {max}"
        )));
    }
    let allowed: &[char] = if multiline { &['\n', '\t'] } else { &[] };
    arbor_core::ids::check_characters(what, text, allowed)
        .map_err(|e| ApiError::bad_request(format!("the {e}")))?;
    Ok(text.to_owned())
}

/// Refuses a configuration (a generator's, a view's columns) any of whose texts — queries, formulas, titles —
/// holds a bidirectional formatting character: it would make the text read differently than it runs.
pub fn checked_config_texts(what: &'static str, config: &serde_json::Value) -> ApiResult<()> {
    match config {
        serde_json::Value::String(text) => {
            match text.chars().find(|c| arbor_core::ids::is_bidi_control(*c)) {
                Some(c) => Err(ApiError::bad_request(format!(
                    "the {what} must not contain the bidirectional formatting character U+{:04X} (it makes text \
                 display in another order than it is written)",
                    u32::from(c)
                ))),
                None => Ok(()),
            }
        }
        serde_json::Value::Array(items) => {
            items.iter().try_for_each(|v| checked_config_texts(what, v))
        }
        serde_json::Value::Object(members) => members
            .values()
            .try_for_each(|v| checked_config_texts(what, v)),
        _ => Ok(()),
    }
}

pub fn checked_name(name: &str) -> ApiResult<String> {
    checked("name", name, NAME_MAX, false)
}

pub fn checked_description(description: &str) -> ApiResult<String> {
    checked("description", description, DESCRIPTION_MAX, true)
}

pub fn actor(caller: &Caller) -> Actor {
    Actor::new(caller.account.clone(), now())
}

/// `POST /api/v1/structures`
#[utoipa::path(post, path = "/api/v1/structures", tag = "structures", request_body = NewStructureBody,
    responses((status = 201, body = StructureSummary), (status = 400, description = "invalid name or description")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewStructureBody>,
) -> ApiResult<(StatusCode, Json<StructureSummary>)> {
    let new = NewStructure {
        name: checked_name(&body.name)?,
        description: checked_description(&body.description)?,
        owner: caller.account.clone(),
    };
    let owned = state
        .store
        .structures(caller.tenant)
        .await?
        .iter()
        .filter(|s| s.owner == caller.account)
        .count();
    budget::within(
        "limits.structures_per_person",
        state.config.content.structures_per_person,
        owned as u64,
        1,
        "structures owned by you",
    )?;
    budget::check_storage(&state, caller.tenant).await?;
    let meta = state
        .store
        .create_structure(caller.tenant, &new, &actor(&caller))
        .await?;
    audit::ok(
        &state,
        &caller,
        "structure.create",
        &[&format!("structure:{}", meta.id)],
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(StructureSummary::new(
            &meta,
            Level::Control,
            &caller.account,
        )),
    ))
}

/// `GET /api/v1/structures/{id}`
#[utoipa::path(get, path = "/api/v1/structures/{id}", tag = "structures",
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = StructureDetail), (status = 404, description = "no such structure, or not visible to you")))]
pub async fn describe(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
) -> ApiResult<Json<StructureDetail>> {
    let access = authorize(&state, &caller, id, Level::View, "structure.read").await?;
    let undo_redo = {
        let guard = content::lock(&state, caller.tenant, &access.meta).await?;
        guard.as_ref().map_or_else(UndoRedo::default, |loaded| {
            UndoRedo::of(loaded, &caller.author())
        })
    };
    audit::ok(
        &state,
        &caller,
        "structure.read",
        &[&format!("structure:{id}")],
    )
    .await?;
    Ok(Json(StructureDetail {
        summary: StructureSummary::new(&access.meta, access.level, &caller.account),
        undo_redo,
    }))
}

/// One structure as its board opens it: as listed, and what you have to undo or redo from this sign-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct StructureDetail {
    #[serde(flatten)]
    pub summary: StructureSummary,
    #[serde(flatten)]
    pub undo_redo: UndoRedo,
}

/// A rename or a new description, based on the version you saw.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStructureBody {
    pub name: Option<String>,
    pub description: Option<String>,
    pub based_on: u64,
}

/// `PATCH /api/v1/structures/{id}`: rename or describe (Control).
#[utoipa::path(patch, path = "/api/v1/structures/{id}", tag = "structures", request_body = UpdateStructureBody,
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = StructureSummary), (status = 409, description = "changed since based_on")))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Body(body): Body<UpdateStructureBody>,
) -> ApiResult<Json<StructureSummary>> {
    let access = authorize(&state, &caller, id, Level::Control, "structure.update").await?;
    budget::check_storage(&state, caller.tenant).await?;
    let name = match &body.name {
        Some(name) => checked_name(name)?,
        None => access.meta.name.clone(),
    };
    let description = match &body.description {
        Some(text) => checked_description(text)?,
        None => access.meta.description.clone(),
    };
    state
        .store
        .update_structure(
            caller.tenant,
            access.meta.id,
            arbor_core::ids::Version(body.based_on),
            &name,
            &description,
            &actor(&caller),
        )
        .await?;
    audit::ok(
        &state,
        &caller,
        "structure.update",
        &[&format!("structure:{id}")],
    )
    .await?;
    let meta = state
        .store
        .structure(caller.tenant, access.meta.id)
        .await?
        .ok_or_else(|| ApiError::not_found("the structure was deleted meanwhile"))?;
    Ok(Json(StructureSummary::new(
        &meta,
        access.level,
        &caller.account,
    )))
}

/// `DELETE /api/v1/structures/{id}` (Control).
#[utoipa::path(delete, path = "/api/v1/structures/{id}", tag = "structures",
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 204, description = "deleted")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
) -> ApiResult<StatusCode> {
    let access = authorize(&state, &caller, id, Level::Control, "structure.delete").await?;
    state
        .store
        .delete_structure(caller.tenant, access.meta.id, &actor(&caller))
        .await?;
    state.contents.forget(caller.tenant, access.meta.id);
    state
        .computed
        .forget_structure(caller.tenant, access.meta.id);
    audit::ok(
        &state,
        &caller,
        "structure.delete",
        &[&format!("structure:{id}")],
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Milliseconds since the Unix epoch of a stored time.
pub fn millis(at: Timestamp) -> i64 {
    at.as_unix_millis()
}
