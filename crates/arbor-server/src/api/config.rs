//! A structure's configuration: generators (Automate), views and their columns (a personal view: anyone who
//! may view; sharing one: Edit; a shared view changes only by its owner or with Control), permission rules
//! (Control).

use arbor_core::columns::Column;
use arbor_core::edit::{Edit, Fragment, Position};
use arbor_core::forest::{Item, ItemRef};
use arbor_core::generator::Generator;
use arbor_core::ids::{GeneratorId, Version};
use arbor_core::permission::{Grantee, Level, Rule};
use arbor_store::model::{SavedView, ViewConfig, ViewId};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::{self, LabelledRule};
use super::shown::{self, GeneratorInfo};
use super::structures::{actor, checked_config_texts, checked_name};
use super::{Access, Body, Param, assist, authorize, hidden, load_generators};
use crate::audit;
use crate::budget;
use crate::content;
use crate::error::{ApiError, ApiResult};
use crate::session::Caller;
use crate::state::{AppState, now};

/// `GET /api/v1/structures/{id}/generators` (View; the settings from Automate).
#[utoipa::path(get, path = "/api/v1/structures/{id}/generators", tag = "generators",
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = Vec<GeneratorInfo>)))]
pub async fn generators(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
) -> ApiResult<Json<Vec<GeneratorInfo>>> {
    let access = authorize(&state, &caller, id, Level::View, "generator.list").await?;
    let configs = load_generators(&state, &caller, access.meta.id).await?;
    let guard = content::lock(&state, caller.tenant, &access.meta).await?;
    let rows: Vec<(GeneratorId, u64)> = guard
        .as_ref()
        .map(|loaded| {
            loaded
                .content
                .forest()
                .iter()
                .filter_map(|row| match row.item {
                    ItemRef::Generator(g) => Some((g, row.id.get())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    drop(guard);
    let mut configs: Vec<_> = configs
        .into_iter()
        .map(|(gid, config)| {
            let row = rows.iter().find(|(g, _)| *g == gid).map(|(_, r)| *r);
            (gid.get(), row, config)
        })
        .collect();
    configs.sort_by_key(|(id, _, _)| *id);
    let out = shown::generators(&state, &caller, &access, configs).await;
    audit::ok(
        &state,
        &caller,
        "generator.list",
        &[&format!("structure:{id}")],
    )
    .await?;
    Ok(Json(out))
}

/// A new generator and where to put it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGeneratorBody {
    /// A generator: `{"kind": "insert_jql", "jql": "…"}`, `{"kind": "extend_children", "levels": …}`, ….
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Where its row goes: `{"under": {"parent": null, "at": "first"}}`, `{"after": 12}`.
    #[schema(value_type = Object)]
    pub at: Position,
    pub based_on: u64,
}

/// What adding a generator did.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewGeneratorResult {
    pub id: u64,
    pub row: u64,
    pub version: u64,
}

/// A generator configuration from a request, checked here (its shape, JQL syntax and formulas); a 400 that
/// says what is wrong (and where in a query or formula) otherwise.
fn generator_config(config: serde_json::Value) -> ApiResult<Generator> {
    let generator: Generator = serde_json::from_value(config)
        .map_err(|e| ApiError::bad_request(format!("the generator is not valid: {e}")))?;
    let config = serde_json::to_value(&generator).map_err(|e| ApiError::internal(&e))?;
    checked_config_texts("generator", &config)?;
    Ok(generator)
}

/// The stored form of a generator Jira agrees with, asked as the caller once they are authorised
/// (`assist::agreed_by_jira`: its query, its field by id).
async fn stored_config(
    state: &AppState,
    caller: &Caller,
    generator: Generator,
) -> ApiResult<serde_json::Value> {
    let generator = assist::agreed_by_jira(state, caller, generator).await?;
    serde_json::to_value(&generator).map_err(|e| ApiError::internal(&e))
}

/// `POST /api/v1/structures/{id}/generators` (Automate): stores the configuration, then adds its row.
#[utoipa::path(post, path = "/api/v1/structures/{id}/generators", tag = "generators", request_body = NewGeneratorBody,
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 201, body = NewGeneratorResult), (status = 400, description = "invalid configuration")))]
pub async fn add_generator(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Body(body): Body<NewGeneratorBody>,
) -> ApiResult<(StatusCode, Json<NewGeneratorResult>)> {
    let generator = generator_config(body.config)?;
    let access = authorize(&state, &caller, id, Level::Automate, "generator.add").await?;
    let config = stored_config(&state, &caller, generator).await?;
    let mut changing = content::lock_for_change(&state, caller.tenant, &access.meta).await?;
    let loaded = changing.loaded()?;
    if body.based_on > loaded.version.get() {
        return Err(ApiError::bad_request(format!(
            "version {} does not exist; the structure is at version {}",
            body.based_on, loaded.version
        )));
    }
    // The id is chosen under the structure's lock, so two additions cannot pick the same one.
    let existing = state
        .store
        .generators(caller.tenant, access.meta.id)
        .await?;
    budget::within(
        "limits.generators_per_structure",
        state.config.content.generators_per_structure,
        existing.len() as u64,
        1,
        "generators in this structure",
    )?;
    budget::check_rows(&state, loaded.content.forest().len() as u64, 1)?;
    hidden::check_named(
        &state,
        &caller,
        &access,
        loaded.content.forest(),
        body.at.reference(),
    )
    .await?;
    budget::check_storage(&state, caller.tenant).await?;
    // Never an id used before: a restore or an undo brings back a removed generator's row under its id, and the
    // history tells each generator's settings by id.
    let used = super::edits::timeline(&state, &caller, &access).await?;
    let next = existing
        .keys()
        .map(|g| g.get())
        .max()
        .unwrap_or(0)
        .max(used.highest_id())
        + 1;
    let gid = GeneratorId::new(next).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The row is placed in memory first: if it cannot be, nothing is stored.
    let based_on = loaded.forest_version(Version(body.based_on));
    let edit = Edit::Add {
        rows: Fragment::single(Item::Generator(gid)),
        at: body.at,
    };
    let applied = loaded
        .content
        .apply(edit, based_on, &caller.author(), now())
        .map_err(|error| {
            ApiError::conflict(format!("the generator's row cannot be placed: {error}"))
        })?;
    let entry = loaded
        .content
        .entry(applied.version)
        .cloned()
        .ok_or_else(|| ApiError::internal(&"no history entry"))?;
    let version = state
        .store
        .set_generator(
            caller.tenant,
            access.meta.id,
            loaded.version,
            gid,
            &config,
            &actor(&caller),
        )
        .await?;
    loaded.version = version;
    let version = match state
        .store
        .save_forest(
            caller.tenant,
            access.meta.id,
            version,
            loaded.content.forest(),
            Some(&entry),
            &actor(&caller),
        )
        .await
    {
        Ok(version) => version,
        Err(error) => {
            // A configuration without a row is never run; still, take it back rather than leave it.
            if let Err(undo) = state
                .store
                .delete_generator(caller.tenant, access.meta.id, version, gid, &actor(&caller))
                .await
            {
                tracing::warn!(structure = %access.meta.id, generator = %gid, error = %undo,
                    "a generator configuration without a row was left behind");
            }
            return Err(error.into());
        }
    };
    loaded.saved(version);
    let row = applied.created.first().map_or(0, |r| r.get());
    changing.commit();
    audit::ok(
        &state,
        &caller,
        "generator.add",
        &[&format!("structure:{id}"), &format!("generator:{gid}")],
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewGeneratorResult {
            id: gid.get(),
            row,
            version: version.get(),
        }),
    ))
}

/// A generator's new configuration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorBody {
    /// A generator: `{"kind": "insert_jql", "jql": "…"}`, `{"kind": "extend_children", "levels": …}`, ….
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    pub based_on: u64,
}

/// The structure's version after a configuration change.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionResult {
    pub version: u64,
}

/// `PUT /api/v1/structures/{id}/generators/{generator}` (Automate).
#[utoipa::path(put, path = "/api/v1/structures/{id}/generators/{generator}", tag = "generators", request_body = GeneratorBody,
    params(("id" = u64, Path, description = "structure id"), ("generator" = u64, Path, description = "generator id")),
    responses((status = 200, body = VersionResult)))]
pub async fn change_generator(
    State(state): State<AppState>,
    caller: Caller,
    Param((id, generator)): Param<(u64, u64)>,
    Body(body): Body<GeneratorBody>,
) -> ApiResult<Json<VersionResult>> {
    let changed = generator_config(body.config)?;
    let access = authorize(&state, &caller, id, Level::Automate, "generator.change").await?;
    let config = stored_config(&state, &caller, changed).await?;
    budget::check_storage(&state, caller.tenant).await?;
    let gid = GeneratorId::new(generator).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let existing = state
        .store
        .generators(caller.tenant, access.meta.id)
        .await?;
    if !existing.contains_key(&gid) {
        return Err(ApiError::not_found("no such generator in this structure"));
    }
    let version = state
        .store
        .set_generator(
            caller.tenant,
            access.meta.id,
            Version(body.based_on),
            gid,
            &config,
            &actor(&caller),
        )
        .await?;
    audit::ok(
        &state,
        &caller,
        "generator.change",
        &[&format!("structure:{id}"), &format!("generator:{gid}")],
    )
    .await?;
    Ok(Json(VersionResult {
        version: version.get(),
    }))
}

/// `DELETE /api/v1/structures/{id}/generators/{generator}` (Automate): removes its rows and its configuration.
#[utoipa::path(delete, path = "/api/v1/structures/{id}/generators/{generator}", tag = "generators",
    params(("id" = u64, Path, description = "structure id"), ("generator" = u64, Path, description = "generator id")),
    responses((status = 200, body = VersionResult)))]
pub async fn remove_generator(
    State(state): State<AppState>,
    caller: Caller,
    Param((id, generator)): Param<(u64, u64)>,
) -> ApiResult<Json<VersionResult>> {
    let access = authorize(&state, &caller, id, Level::Automate, "generator.remove").await?;
    let gid = GeneratorId::new(generator).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut changing = content::lock_for_change(&state, caller.tenant, &access.meta).await?;
    let loaded = changing.loaded()?;
    let rows: Vec<_> = loaded
        .content
        .forest()
        .iter()
        .filter(|row| row.item == ItemRef::Generator(gid))
        .map(|row| row.id)
        .collect();
    let mut version = loaded.version;
    if !rows.is_empty() {
        let current = loaded.content.version();
        let applied = loaded
            .content
            .apply(Edit::Remove { rows }, current, &caller.author(), now())
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        let entry = loaded
            .content
            .entry(applied.version)
            .cloned()
            .ok_or_else(|| ApiError::internal(&"no history entry"))?;
        version = state
            .store
            .save_forest(
                caller.tenant,
                access.meta.id,
                version,
                loaded.content.forest(),
                Some(&entry),
                &actor(&caller),
            )
            .await?;
        loaded.saved(version);
    }
    // If this fails, the rows are gone and the configuration stays: it runs nowhere, and removing again
    // finishes the job.
    version = state
        .store
        .delete_generator(caller.tenant, access.meta.id, version, gid, &actor(&caller))
        .await?;
    loaded.version = version;
    changing.commit();
    audit::ok(
        &state,
        &caller,
        "generator.remove",
        &[&format!("structure:{id}"), &format!("generator:{gid}")],
    )
    .await?;
    Ok(Json(VersionResult {
        version: version.get(),
    }))
}

/// A saved view: its name and columns, and whether everyone who may view the structure sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewBody {
    pub name: String,
    /// `{"kind": "field", "field": "status"}`, `{"kind": "totals", "function": "sum", "field": "story_points",
    /// "scope": "all", "with_duplicates": false}`, `{"kind": "progress", "basis": "story_points"}`,
    /// `{"kind": "formula", "formula": "..."}`.
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<Column>,
    /// `true`: shared with everyone who may view the structure (needs Edit; afterwards only you and people
    /// with Control change it). `false`: personal, seen and used only by you. Left out: a new view is
    /// personal, a changed one stays as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
}

/// A saved view as you see it: shared ones and your own.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewInfo {
    pub id: u64,
    pub name: String,
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<Column>,
    /// The owner's account id: who made it.
    pub owner: String,
    /// The owner's name as Jira tells it to you; absent when Jira does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    /// Seen by everyone who may view the structure; otherwise only by its owner (you).
    pub shared: bool,
    /// Whether you may change or delete it: your own, or a shared one when you have Control. Anyone may save
    /// a copy of their own.
    pub can_change: bool,
}

fn view_config(body: &ViewBody) -> ApiResult<ViewConfig> {
    for (index, column) in body.columns.iter().enumerate() {
        column
            .validate()
            .map_err(|e| ApiError::bad_request(format!("column {}: {e}", index + 1)))?;
    }
    if body.columns.len() > 100 {
        return Err(ApiError::bad_request("a view has at most 100 columns"));
    }
    let columns = serde_json::to_value(&body.columns).map_err(|e| ApiError::internal(&e))?;
    checked_config_texts("view's columns", &columns)?;
    Ok(ViewConfig {
        name: checked_name(&body.name)?,
        columns,
    })
}

/// A stored view's columns, typed.
pub fn view_columns(id: ViewId, config: &ViewConfig) -> ApiResult<Vec<Column>> {
    serde_json::from_value(config.columns.clone()).map_err(|e| {
        ApiError::internal(&format!(
            "view {id} does not load: {}",
            arbor_store::json_error_without_values(&e)
        ))
    })
}

/// Whether the caller sees a view: a shared one, or their own.
pub fn sees_view(caller: &Caller, view: &SavedView) -> bool {
    view.shared || view.owner == caller.account
}

/// Whether the caller may change or delete a view they see: their own, or a shared one with Control.
fn may_change(caller: &Caller, level: Level, view: &SavedView) -> bool {
    view.owner == caller.account || (view.shared && level.allows(Level::Control))
}

/// The views the caller sees, each with its owner's name as Jira tells it to the caller (one call for all).
async fn views_shown(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    views: Vec<(ViewId, SavedView)>,
) -> ApiResult<Vec<ViewInfo>> {
    let views: Vec<_> = views
        .into_iter()
        .filter(|(_, view)| sees_view(caller, view))
        .collect();
    let owners: Vec<Grantee> = views
        .iter()
        .map(|(_, view)| Grantee::Person {
            account_id: view.owner.as_str().to_owned(),
        })
        .collect();
    let names = if owners.is_empty() {
        Vec::new()
    } else {
        directory::labels(state, caller, &access.who, &owners).await
    };
    views
        .into_iter()
        .zip(names)
        .map(|((id, view), owner_name)| {
            Ok(ViewInfo {
                id: id.get(),
                columns: view_columns(id, &view.config)?,
                can_change: may_change(caller, access.level, &view),
                name: view.config.name,
                owner: view.owner.as_str().to_owned(),
                owner_name,
                shared: view.shared,
            })
        })
        .collect()
}

/// `GET /api/v1/structures/{id}/views` (View): the shared views and your own.
#[utoipa::path(get, path = "/api/v1/structures/{id}/views", tag = "views",
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = Vec<ViewInfo>)))]
pub async fn views(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
) -> ApiResult<Json<Vec<ViewInfo>>> {
    let access = authorize(&state, &caller, id, Level::View, "view.list").await?;
    let views = state.store.views(caller.tenant, access.meta.id).await?;
    let out = views_shown(&state, &caller, &access, views).await?;
    audit::ok(&state, &caller, "view.list", &[&format!("structure:{id}")]).await?;
    Ok(Json(out))
}

/// The view `view` of the structure, if the caller sees it (another person's personal view is answered as
/// missing, as one that does not exist).
pub async fn seen_view(
    state: &AppState,
    caller: &Caller,
    structure: arbor_store::model::StructureId,
    view: u64,
) -> ApiResult<(ViewId, SavedView)> {
    let vid = ViewId::new(view).map_err(|e| ApiError::bad_request(e.to_string()))?;
    state
        .store
        .views(caller.tenant, structure)
        .await?
        .into_iter()
        .find(|(v, saved)| *v == vid && sees_view(caller, saved))
        .ok_or_else(|| ApiError::not_found("no such view in this structure"))
}

/// Checks a change of `view` (or a new view, `None`) that leaves it shared or not (`shared_after`), given
/// the caller's `access` at View. Someone else's shared view changes only with Control, and the refusal says
/// whose it is and what the caller can do instead; a view shared after the change needs Edit. A level
/// above View is then checked again with `authorize`, which reads storage (the first check may have used
/// what was read in the last second).
async fn authorize_view_change(
    state: &AppState,
    caller: &Caller,
    id: u64,
    access: Access,
    view: Option<(ViewId, &SavedView)>,
    shared_after: bool,
    action: &str,
) -> ApiResult<Access> {
    let object = format!("structure:{id}");
    if let Some((vid, saved)) = view
        && !may_change(caller, access.level, saved)
    {
        let owner = Grantee::Person {
            account_id: saved.owner.as_str().to_owned(),
        };
        let name = directory::labels(state, caller, &access.who, &[owner])
            .await
            .pop()
            .flatten()
            .unwrap_or_else(|| "its owner".to_owned());
        let refusal = ApiError::new(
            StatusCode::FORBIDDEN,
            "view-not-yours",
            format!(
                "the view “{}” is shared by {name}: only {name} or someone with Control on this structure may \
                 change or delete it. Save your own copy (“Save as my view”) and change that instead",
                saved.config.name
            ),
        )
        .with(
            "owner",
            serde_json::Value::String(saved.owner.as_str().to_owned()),
        );
        let view = format!("view:{vid}");
        return Err(audit::denied(state, caller, action, &[&object, &view], refusal).await);
    }
    if shared_after && !access.level.allows(Level::Edit) {
        let refusal = ApiError::forbidden(format!(
            "sharing a view with everyone who may see this structure needs the Edit level; you have {}. \
             Save it as your own view (not shared) instead",
            access.level
        ));
        return Err(audit::denied(state, caller, action, &[&object], refusal).await);
    }
    let needed = match view {
        Some((_, saved)) if saved.owner != caller.account => Level::Control,
        _ if shared_after => Level::Edit,
        _ => return Ok(access),
    };
    drop(access);
    authorize(state, caller, id, needed, action).await
}

/// `POST /api/v1/structures/{id}/views` (View for a personal view, Edit for a shared one): a new view owned
/// by you — also how anyone saves their own copy of a view they may not change.
#[utoipa::path(post, path = "/api/v1/structures/{id}/views", tag = "views", request_body = ViewBody,
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 201, body = ViewInfo),
        (status = 403, description = "a shared view needs Edit")))]
pub async fn create_view(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Body(body): Body<ViewBody>,
) -> ApiResult<(StatusCode, Json<ViewInfo>)> {
    let config = view_config(&body)?;
    let shared = body.shared.unwrap_or(false);
    let access = authorize(&state, &caller, id, Level::View, "view.create").await?;
    let access =
        authorize_view_change(&state, &caller, id, access, None, shared, "view.create").await?;
    let views = state.store.views(caller.tenant, access.meta.id).await?;
    budget::within(
        "limits.views_per_structure",
        state.config.content.views_per_structure,
        views.len() as u64,
        1,
        "views in this structure",
    )?;
    budget::check_storage(&state, caller.tenant).await?;
    let vid = state
        .store
        .create_view(
            caller.tenant,
            access.meta.id,
            &config,
            shared,
            &actor(&caller),
        )
        .await?;
    audit::ok(
        &state,
        &caller,
        "view.create",
        &[&format!("structure:{id}"), &format!("view:{vid}")],
    )
    .await?;
    let saved = SavedView {
        owner: caller.account.clone(),
        shared,
        config,
    };
    let shown = views_shown(&state, &caller, &access, vec![(vid, saved)]).await?;
    let info = shown
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal(&"a new view is not shown to its owner"))?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `PUT /api/v1/structures/{id}/views/{view}`: your own view (View; Edit to keep or make it shared), or a
/// shared one with Control.
#[utoipa::path(put, path = "/api/v1/structures/{id}/views/{view}", tag = "views", request_body = ViewBody,
    params(("id" = u64, Path, description = "structure id"), ("view" = u64, Path, description = "view id")),
    responses((status = 200, body = ViewInfo),
        (status = 403, description = "someone else's shared view, without Control; the problem says whose it is")))]
pub async fn update_view(
    State(state): State<AppState>,
    caller: Caller,
    Param((id, view)): Param<(u64, u64)>,
    Body(body): Body<ViewBody>,
) -> ApiResult<Json<ViewInfo>> {
    let config = view_config(&body)?;
    let access = authorize(&state, &caller, id, Level::View, "view.update").await?;
    let (vid, saved) = seen_view(&state, &caller, access.meta.id, view).await?;
    let shared = body.shared.unwrap_or(saved.shared);
    let access = authorize_view_change(
        &state,
        &caller,
        id,
        access,
        Some((vid, &saved)),
        shared,
        "view.update",
    )
    .await?;
    budget::check_storage(&state, caller.tenant).await?;
    state
        .store
        .update_view(caller.tenant, vid, &config, shared, &actor(&caller))
        .await?;
    audit::ok(
        &state,
        &caller,
        "view.update",
        &[&format!("structure:{id}"), &format!("view:{vid}")],
    )
    .await?;
    let owner_name = directory::labels(
        &state,
        &caller,
        &access.who,
        &[Grantee::Person {
            account_id: saved.owner.as_str().to_owned(),
        }],
    )
    .await
    .pop()
    .flatten();
    // Said as it is now, also when someone with Control made another's view personal (they no longer see
    // it, nor may change it).
    let changed = SavedView {
        owner: saved.owner,
        shared,
        config,
    };
    Ok(Json(ViewInfo {
        id: vid.get(),
        columns: view_columns(vid, &changed.config)?,
        can_change: sees_view(&caller, &changed) && may_change(&caller, access.level, &changed),
        name: changed.config.name,
        owner: changed.owner.as_str().to_owned(),
        owner_name,
        shared,
    }))
}

/// `DELETE /api/v1/structures/{id}/views/{view}`: your own view, or a shared one with Control.
#[utoipa::path(delete, path = "/api/v1/structures/{id}/views/{view}", tag = "views",
    params(("id" = u64, Path, description = "structure id"), ("view" = u64, Path, description = "view id")),
    responses((status = 204, description = "deleted"),
        (status = 403, description = "someone else's shared view, without Control; the problem says whose it is")))]
pub async fn delete_view(
    State(state): State<AppState>,
    caller: Caller,
    Param((id, view)): Param<(u64, u64)>,
) -> ApiResult<StatusCode> {
    let access = authorize(&state, &caller, id, Level::View, "view.delete").await?;
    let (vid, saved) = seen_view(&state, &caller, access.meta.id, view).await?;
    let _access = authorize_view_change(
        &state,
        &caller,
        id,
        access,
        Some((vid, &saved)),
        false,
        "view.delete",
    )
    .await?;
    state
        .store
        .delete_view(caller.tenant, vid, &actor(&caller))
        .await?;
    audit::ok(
        &state,
        &caller,
        "view.delete",
        &[&format!("structure:{id}"), &format!("view:{vid}")],
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A structure's permission rules: the highest level any matching rule grants wins; the owner and arbor admins
/// always have Control.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    /// `{"grantee": {"kind": "person", "account_id": "..."}, "level": "edit"}`; grantee kinds `person`,
    /// `group` (`group_id`), `project_role` (`project_id`, `role_id`), `everyone`.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Rule>,
    /// The structure version you saw (`based_on` of the rules you read).
    #[serde(default)]
    pub based_on: u64,
}

/// A structure's permission rules as shown to whoever may change them: each grantee with its name where Jira
/// tells you.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesView {
    /// `{"grantee": {"kind": "person", "account_id": "...", "label": "Devon Developer"}, "level": "edit"}`;
    /// `label` is the person's display name, the group's name or `Project KEY: Role name`, and is absent
    /// when Jira does not tell you (or not in time). It is never sent back: rules are set by ids.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<LabelledRule>,
    /// The structure version: send it as `based_on` to change the rules.
    pub based_on: u64,
    /// The owner's display name, where Jira tells you.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_label: Option<String>,
}

/// `GET /api/v1/structures/{id}/permissions` (Control).
#[utoipa::path(get, path = "/api/v1/structures/{id}/permissions", tag = "permissions",
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = RulesView)))]
pub async fn rules(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
) -> ApiResult<Json<RulesView>> {
    let access = authorize(&state, &caller, id, Level::Control, "permissions.read").await?;
    let rules = state.store.rules(caller.tenant, access.meta.id).await?;
    audit::ok(
        &state,
        &caller,
        "permissions.read",
        &[&format!("structure:{id}")],
    )
    .await?;
    // The owner is named with the grantees, in the same calls.
    let mut grantees: Vec<Grantee> = rules.iter().map(|r| r.grantee.clone()).collect();
    grantees.push(Grantee::Person {
        account_id: access.meta.owner.as_str().to_owned(),
    });
    let mut labels = directory::labels(&state, &caller, &access.who, &grantees).await;
    let owner_label = labels.pop().flatten();
    Ok(Json(RulesView {
        rules: directory::labelled(rules, labels),
        based_on: access.meta.version.get(),
        owner_label,
    }))
}

/// The longest account or group id a rule may name (Jira's account ids are at most 128 characters).
const MAX_GRANTEE_ID: usize = 128;

/// Why a rule's grantee cannot be stored, if it cannot.
fn grantee_problem(grantee: &Grantee) -> Option<String> {
    let id_problem = |what: &str, id: &str| {
        let chars = id.chars().count();
        (chars == 0 || chars > MAX_GRANTEE_ID || id.trim() != id || id.chars().any(char::is_control))
            .then(|| {
                format!(
                    "a rule names a {what} by an id of 1 to {MAX_GRANTEE_ID} characters without surrounding \
                     spaces; choose the {what} from the list"
                )
            })
    };
    match grantee {
        Grantee::Person { account_id } => id_problem("person", account_id),
        Grantee::Group { group_id } => id_problem("group", group_id),
        Grantee::ProjectRole {
            project_id,
            role_id,
        } => (*project_id == 0 || *role_id == 0).then(|| {
            "a project role rule names a project and a role by their ids (numbers above 0)"
                .to_owned()
        }),
        Grantee::Everyone => None,
    }
}

/// The most project roles one structure's rules may name.
const MAX_PROJECT_ROLES: usize = 20;

/// `PUT /api/v1/structures/{id}/permissions` (Control).
#[utoipa::path(put, path = "/api/v1/structures/{id}/permissions", tag = "permissions", request_body = RulesBody,
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = VersionResult)))]
pub async fn set_rules(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Body(body): Body<RulesBody>,
) -> ApiResult<Json<VersionResult>> {
    if body.rules.len() > 1000 {
        return Err(ApiError::bad_request(
            "a structure has at most 1000 permission rules",
        ));
    }
    let roles: std::collections::BTreeSet<_> = body
        .rules
        .iter()
        .filter_map(|r| match r.grantee {
            Grantee::ProjectRole {
                project_id,
                role_id,
            } => Some((project_id, role_id)),
            _ => None,
        })
        .collect();
    if roles.len() > MAX_PROJECT_ROLES {
        // Each is a question to Jira, as every person who opens the structure list.
        return Err(ApiError::bad_request(format!(
            "a structure's rules name at most {MAX_PROJECT_ROLES} project roles; grant the level to groups instead"
        )));
    }
    if let Some(problem) = body.rules.iter().find_map(|r| grantee_problem(&r.grantee)) {
        return Err(ApiError::bad_request(problem));
    }
    if body.rules.iter().any(|r| r.level == Level::None) {
        return Err(ApiError::bad_request(
            "a rule must grant view, edit, automate or control (the highest matching rule wins, so a `none` rule would have no effect)",
        ));
    }
    let access = authorize(&state, &caller, id, Level::Control, "permissions.set").await?;
    let version = state
        .store
        .set_rules(
            caller.tenant,
            access.meta.id,
            Version(body.based_on),
            &body.rules,
            &actor(&caller),
        )
        .await?;
    audit::ok(
        &state,
        &caller,
        "permissions.set",
        &[&format!("structure:{id}")],
    )
    .await?;
    Ok(Json(VersionResult {
        version: version.get(),
    }))
}
