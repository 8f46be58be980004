//! Forest edits with versions, undo and redo of your own changes of this sign-in session, the history, and
//! restoring an earlier version.
//!
//! Every change runs under the structure's lock (`content::lock`): it is applied to the in-memory content
//! (arbor-core decides merges and conflicts), then saved with the structure version it started from; storage
//! refuses it if another node changed the structure meanwhile, and the cached content is then dropped.

use std::collections::HashMap;

use arbor_core::edit::{Change, Edit, EditError, Position, Step};
use arbor_core::forest::{Item, ItemRef};
use arbor_core::generator::Generator;
use arbor_core::history::{Action, Applied, ApplyError, Author, ConflictCause, HistoryEntry};
use arbor_core::ids::{GeneratorId, RowId, Version};
use arbor_core::permission::{Grantee, Level};
use arbor_store::StoreError;
use arbor_store::journal::JournalOp;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::shown::{self, GeneratorInfo};
use super::structures::actor;
use super::{Access, Body, Param, Query, authorize, directory, hidden, told};
use crate::audit;
use crate::budget;
use crate::content::{self, Loaded};
use crate::error::{ApiError, ApiResult};
use crate::restore::{self, Timeline};
use crate::session::Caller;
use crate::state::{AppState, now};

/// An edit of the stored forest, made on the structure version you saw.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    /// `{"op": "add", "rows": [{"depth": 0, "item": {"folder": "Q3"}}], "at": {"under": {"parent": null, "at": "last"}}}`,
    /// `{"op": "move", "rows": [4, 9], "to": {"after": 2}}`, `{"op": "remove", "rows": [4]}`,
    /// `{"op": "copy", "rows": [4], "to": {"before": 7}}`.
    #[schema(value_type = Object)]
    pub edit: Edit,
    pub based_on: u64,
}

/// What a change did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeResult {
    /// The structure's version after the change.
    pub version: u64,
    /// The change was based on an older version and merged into the changes made since.
    pub merged: bool,
    /// Ids of the rows it created, in order.
    pub created: Vec<u64>,
    #[serde(flatten)]
    pub undo_redo: UndoRedo,
}

/// What your Undo and Redo would do: they take back, or make again, your own changes of this sign-in session
/// (older changes, and other people's, are reverted by restoring a version from the history).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UndoRedo {
    pub can_undo: bool,
    pub can_redo: bool,
    /// The change Undo would take back, as you made it: `remove 3 rows`, `add 1 generator`,
    /// `restore version 7` (a structure version); null when there is none. Counts only, never rows' names.
    pub undo_description: Option<String>,
    /// The change Redo would make again, in the same words; null when there is none.
    pub redo_description: Option<String>,
}

impl UndoRedo {
    pub fn of(loaded: &Loaded, by: &Author) -> Self {
        let content = &loaded.content;
        Self {
            can_undo: content.can_undo(by),
            can_redo: content.can_redo(by),
            undo_description: content.next_undo(by).map(|entry| describe(loaded, entry)),
            redo_description: content.next_redo(by).map(|entry| describe(loaded, entry)),
        }
    }
}

/// A change in a planner's words, as its author made it (counts of rows, structure versions).
fn describe(loaded: &Loaded, entry: &HistoryEntry) -> String {
    let version = |forest| loaded.structure_version(forest);
    match &entry.action {
        Action::Edit { edit, .. } => match edit {
            Edit::Add { .. } => format!("add {}", rows_and_generators(&entry.change)),
            Edit::Copy { .. } => format!("copy {}", rows_and_generators(&entry.change)),
            // What a removal took away, its inverse puts back: the rows below the named ones included.
            Edit::Remove { .. } => format!("remove {}", rows_and_generators(&entry.inverse)),
            Edit::Move { rows, .. } => format!("move {}", count(rows.len(), "row")),
        },
        // The version the person asked for; restores journaled before it was recorded name the first structure
        // version that had those rows.
        Action::Restore { to, shown_as } => format!(
            "restore version {}",
            shown_as.unwrap_or_else(|| version(*to).get())
        ),
        Action::Undo { of } => format!("undo the change of version {}", version(*of)),
        Action::Redo { of } => format!("redo what version {} undid", version(*of)),
    }
}

/// The rows a change inserts, generator rows counted as generators: `3 rows`, `1 generator`,
/// `2 rows and 1 generator`.
fn rows_and_generators(change: &Change) -> String {
    let (mut rows, mut generators) = (0, 0);
    for step in change.steps() {
        if let Step::Insert { rows: inserted, .. } = step {
            for row in inserted.rows() {
                match row.item {
                    Item::Generator(_) => generators += 1,
                    Item::Issue(_) | Item::Folder(_) | Item::Memo(_) => rows += 1,
                }
            }
        }
    }
    match (rows, generators) {
        (rows, 0) => count(rows, "row"),
        (0, generators) => count(generators, "generator"),
        (rows, generators) => format!(
            "{} and {}",
            count(rows, "row"),
            count(generators, "generator")
        ),
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Where the generators sit: (row, parent row, generator), in forest order. A change that alters this adds,
/// removes or moves generators, whatever it was asked as (an edit, an undo, a redo, a restore).
fn generator_places(forest: &arbor_core::forest::Forest) -> Vec<(u64, Option<u64>, u64)> {
    forest
        .iter()
        .filter_map(|row| match row.item {
            ItemRef::Generator(g) => Some((
                row.id.get(),
                forest.parent_of(row.pos).map(|p| forest.row_id(p).get()),
                g.get(),
            )),
            _ => None,
        })
        .collect()
}

/// [`apply_problem`] for someone with `level`. Below Control, nothing in it may tell of rows Jira hides from
/// them: a row removed since the version an edit was based on is answered for as a row that does not exist
/// (who removed it, and when, would tell that a row they never saw was there), and a position past the end of
/// a row's children does not say how many it has (hidden rows count among them).
fn apply_problem_for(level: Level, error: ApplyError) -> ApiError {
    if level.allows(Level::Control) {
        return apply_problem(error);
    }
    let past_the_end = |error: &EditError| match error {
        EditError::IndexOutOfRange { index, .. } => Some(*index),
        _ => None,
    };
    let index = match &error {
        ApplyError::Edit(edit) => past_the_end(edit),
        ApplyError::Conflict(conflict) => match &conflict.cause {
            ConflictCause::Changed { error, .. } => past_the_end(error),
            ConflictCause::RowRemoved { row, .. } => {
                return apply_problem(ApplyError::Edit(EditError::RowNotFound(*row)));
            }
            ConflictCause::StaleIndex => None,
        },
        _ => None,
    };
    match index {
        Some(index) => ApiError::bad_request(format!(
            "index {index} is past the end of the row's children; place rows under, before or after a row instead"
        )),
        None => apply_problem(error),
    }
}

pub(super) fn apply_problem(error: ApplyError) -> ApiError {
    match error {
        ApplyError::Conflict(conflict) => ApiError::conflict(format!(
            "someone changed this structure: {conflict}; reload, or merge your change again"
        ))
        .with("current_version", json!(conflict.current.get())),
        ApplyError::UnknownVersion { .. } => ApiError::bad_request(error.to_string()),
        ApplyError::NothingToUndo(_) => ApiError::conflict(
            "you have nothing to undo in this structure: undo takes back your own changes of this sign-in \
             session; revert older changes by restoring a version from History",
        ),
        ApplyError::NothingToRedo(_) => ApiError::conflict(
            "you have nothing to redo in this structure: redo makes again what you undid in this sign-in \
             session",
        ),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// Runs one change of the content under the structure's lock and saves it. `named` are the rows the request
/// names (see `hidden`).
async fn change(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    action: &str,
    named: Vec<RowId>,
    run: impl FnOnce(&mut Loaded) -> Result<Applied, ApiError>,
) -> ApiResult<ChangeResult> {
    let mut changing = content::lock_for_change(state, caller.tenant, &access.meta).await?;
    let loaded = changing.loaded()?;
    hidden::check_named(state, caller, access, loaded.content.forest(), named).await?;
    let before = generator_places(loaded.content.forest());
    let rows_before = loaded.content.forest().len() as u64;
    let applied = run(loaded)?;
    // Edits are checked before they are applied; an undo, redo or restore that brings rows back may not pass
    // the limits either (they may have been lowered since), and is discarded unsaved if it would.
    let rows_after = loaded.content.forest().len() as u64;
    if rows_after > rows_before {
        budget::check_rows(state, rows_before, rows_after - rows_before)?;
        budget::check_storage(state, caller.tenant).await?;
    }
    let entry: HistoryEntry = loaded
        .content
        .entry(applied.version)
        .cloned()
        .ok_or_else(|| ApiError::internal(&"the applied change has no history entry"))?;
    let writes = generator_writes(state, caller, access, loaded, &entry).await?;
    if !access.level.allows(Level::Automate)
        && (generator_places(loaded.content.forest()) != before || !writes.is_empty())
    {
        // `changing` is dropped unsaved: the change is discarded.
        let refusal = ApiError::forbidden(
            "this change adds, removes, moves or changes generators, which needs the Automate level",
        );
        return Err(audit::denied(
            state,
            caller,
            action,
            &[&format!("structure:{}", access.meta.id)],
            refusal,
        )
        .await);
    }
    // Refused, `changing` is dropped unsaved and the change discarded.
    hidden::check_change(state, caller, access, &entry, loaded.content.forest()).await?;
    let version = state
        .store
        .save_forest(
            caller.tenant,
            access.meta.id,
            loaded.version,
            loaded.content.forest(),
            Some(&entry),
            &actor(caller),
        )
        .await
        .map_err(|error| match error {
            StoreError::Conflict { .. } => ApiError::conflict(
                "someone changed this structure at the same moment; reload and try again",
            ),
            other => other.into(),
        })?;
    loaded.saved(version);
    // The configurations that go with the rows (see `restore.rs`), journaled right after them. If one fails,
    // the rows are saved and the error is answered; a generator row left without its configuration gets it
    // back with the next change of rows.
    let mut version = version;
    for (generator, config) in &writes {
        version = state
            .store
            .set_generator(
                caller.tenant,
                access.meta.id,
                version,
                *generator,
                config,
                &actor(caller),
            )
            .await?;
        loaded.version = version;
    }
    let result = ChangeResult {
        version: version.get(),
        merged: applied.merged,
        created: applied.created.iter().map(|r| r.get()).collect(),
        undo_redo: UndoRedo::of(loaded, &caller.author()),
    };
    changing.commit();
    audit::ok(
        state,
        caller,
        action,
        &[&format!("structure:{}", access.meta.id)],
    )
    .await?;
    Ok(result)
}

/// The generator configurations to store along with forest change `entry` (see `restore.rs`). The journal is
/// read only when the change needs it: for a restore, its undo or redo, or a generator row that has no
/// configuration.
async fn generator_writes(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    loaded: &Loaded,
    entry: &HistoryEntry,
) -> ApiResult<Vec<(GeneratorId, serde_json::Value)>> {
    let in_forest = restore::generators_of(loaded.content.forest());
    let restores = matches!(
        restore::origin(&loaded.content, entry).0.action,
        Action::Restore { .. }
    );
    if in_forest.is_empty() && !restores {
        return Ok(Vec::new());
    }
    let stored = state
        .store
        .generators(caller.tenant, access.meta.id)
        .await?;
    if !restores && in_forest.iter().all(|g| stored.contains_key(g)) {
        return Ok(Vec::new());
    }
    let timeline = timeline(state, caller, access).await?;
    Ok(restore::writes(
        &loaded.content,
        &loaded.produced,
        entry,
        &stored,
        &timeline,
    ))
}

/// Every generator configuration change of the structure, from its journal.
pub(super) async fn timeline(
    state: &AppState,
    caller: &Caller,
    access: &Access,
) -> ApiResult<Timeline> {
    let mut timeline = Timeline::default();
    let mut after = 0;
    loop {
        let page = state
            .store
            .structure_journal(caller.tenant, access.meta.id, after, 1000)
            .await?;
        timeline.read(&page);
        match page.last() {
            Some(last) if page.len() == 1000 => after = last.seq,
            _ => return Ok(timeline),
        }
    }
}

/// The rows an edit names: those it moves, removes or copies, and the one its position is relative to.
fn named_rows(edit: &Edit) -> Vec<RowId> {
    let (rows, position) = match edit {
        Edit::Add { at, .. } => (&[][..], Some(*at)),
        Edit::Move { rows, to } | Edit::Copy { rows, to } => (&rows[..], Some(*to)),
        Edit::Remove { rows } => (&rows[..], None),
    };
    rows.iter()
        .copied()
        .chain(position.and_then(Position::reference))
        .collect()
}

/// `POST /api/v1/structures/{id}/edits`: add, move, remove or copy rows (Edit; Automate for generator rows).
#[utoipa::path(post, path = "/api/v1/structures/{id}/edits", tag = "editing", request_body = EditBody,
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = ChangeResult), (status = 409, description = "conflict with a newer change")))]
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Body(body): Body<EditBody>,
) -> ApiResult<Json<ChangeResult>> {
    let access = authorize(&state, &caller, id, Level::Edit, "forest.edit").await?;
    if matches!(body.edit, Edit::Add { .. } | Edit::Copy { .. }) {
        budget::check_storage(&state, caller.tenant).await?;
    }
    let author = caller.author();
    let named = named_rows(&body.edit);
    let level = access.level;
    let result = change(&state, &caller, &access, "forest.edit", named, |loaded| {
        let based_on = loaded.forest_version(Version(body.based_on));
        if body.based_on > loaded.version.get() {
            return Err(ApiError::bad_request(format!(
                "version {} does not exist; the structure is at version {}",
                body.based_on, loaded.version
            )));
        }
        budget::check_edit(&state, &body.edit, loaded.content.forest())?;
        loaded
            .content
            .apply(body.edit, based_on, &author, now())
            .map_err(|error| apply_problem_for(level, error))
    })
    .await?;
    Ok(Json(result))
}

/// `POST /api/v1/structures/{id}/undo`: takes back your last change made in this sign-in session (Edit).
#[utoipa::path(post, path = "/api/v1/structures/{id}/undo", tag = "editing",
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = ChangeResult), (status = 409, description = "nothing to undo, or it no longer applies")))]
pub async fn undo(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
) -> ApiResult<Json<ChangeResult>> {
    let access = authorize(&state, &caller, id, Level::Edit, "forest.undo").await?;
    let author = caller.author();
    let level = access.level;
    let result = change(
        &state,
        &caller,
        &access,
        "forest.undo",
        Vec::new(),
        |loaded| {
            loaded
                .content
                .undo(&author, now())
                .map_err(|error| apply_problem_for(level, error))
        },
    )
    .await?;
    Ok(Json(result))
}

/// `POST /api/v1/structures/{id}/redo`: re-applies the change you last undid in this sign-in session (Edit).
#[utoipa::path(post, path = "/api/v1/structures/{id}/redo", tag = "editing",
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = ChangeResult), (status = 409, description = "nothing to redo, or it no longer applies")))]
pub async fn redo(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
) -> ApiResult<Json<ChangeResult>> {
    let access = authorize(&state, &caller, id, Level::Edit, "forest.redo").await?;
    let author = caller.author();
    let level = access.level;
    let result = change(
        &state,
        &caller,
        &access,
        "forest.redo",
        Vec::new(),
        |loaded| {
            loaded
                .content
                .redo(&author, now())
                .map_err(|error| apply_problem_for(level, error))
        },
    )
    .await?;
    Ok(Json(result))
}

/// A version to go back to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    /// The structure version whose rows to bring back.
    pub version: u64,
}

/// `POST /api/v1/structures/{id}/restore`: makes the rows what they were at an earlier version, as a new
/// change that can be undone (Edit).
#[utoipa::path(post, path = "/api/v1/structures/{id}/restore", tag = "editing", request_body = RestoreBody,
    params(("id" = u64, Path, description = "structure id")),
    responses((status = 200, body = ChangeResult)))]
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Body(body): Body<RestoreBody>,
) -> ApiResult<Json<ChangeResult>> {
    let access = authorize(&state, &caller, id, Level::Edit, "forest.restore").await?;
    let author = caller.author();
    let level = access.level;
    let result = change(
        &state,
        &caller,
        &access,
        "forest.restore",
        Vec::new(),
        |loaded| {
            if body.version > loaded.version.get() {
                return Err(ApiError::bad_request(format!(
                    "version {} does not exist; the structure is at version {}",
                    body.version, loaded.version
                )));
            }
            let to = loaded.forest_version(Version(body.version));
            if to == loaded.content.version() {
                return Err(already(body.version));
            }
            loaded
                .content
                .restore(to, Some(body.version), &author, now())
                .map_err(|error| apply_problem_for(level, error))
        },
    )
    .await?;
    Ok(Json(result))
}

/// The answer to restoring a version whose rows the structure has already.
fn already(version: u64) -> ApiError {
    ApiError::bad_request(format!(
        "the rows are already what they were at version {version}; a restore brings back rows (and the \
         settings of the generators among them), so there is nothing to restore"
    ))
}

#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    /// The structure version a restore would bring back.
    version: u64,
}

/// What restoring a version would do, told before it is done.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestorePreview {
    /// The version it would bring back.
    pub version: u64,
    /// The structure's version now.
    pub current_version: u64,
    /// Stored rows now (issues, folders and memos; generators are counted in `generators`).
    pub rows_now: usize,
    /// Stored rows after the restore: exactly those of `version`.
    pub rows_then: usize,
    /// The generators whose rows come back, go, or which run with other settings after the restore.
    pub generators: Vec<GeneratorChange>,
    /// The restore adds, removes, moves or changes generators: it needs the Automate level.
    pub needs_automate: bool,
    /// You may make this restore (Edit, and Automate when it changes generators).
    pub allowed: bool,
}

/// A generator a restore changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratorChange {
    /// `back`: its row comes back and it runs with the settings it had then; `gone`: its row goes (its
    /// settings are kept, so undoing the restore brings it back working); `changed`: it stays, with the settings
    /// it had then.
    pub change: &'static str,
    /// The generator as it will run (for `gone`: as it runs now); settings from the Automate level only.
    pub generator: GeneratorInfo,
}

/// `GET /api/v1/structures/{id}/restore?version=N`: what restoring version N would do, without doing it (Edit).
#[utoipa::path(get, path = "/api/v1/structures/{id}/restore", tag = "editing",
    params(("id" = u64, Path, description = "structure id"), ("version" = u64, Query, description = "the version to restore")),
    responses((status = 200, body = RestorePreview), (status = 400, description = "no such version, or nothing to restore")))]
pub async fn restore_preview(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Query(query): Query<PreviewQuery>,
) -> ApiResult<Json<RestorePreview>> {
    let access = authorize(&state, &caller, id, Level::Edit, "forest.restore.preview").await?;
    let guard = content::lock(&state, caller.tenant, &access.meta).await?;
    let loaded = guard
        .as_ref()
        .ok_or_else(|| ApiError::internal(&"structure content not loaded"))?;
    if query.version > loaded.version.get() {
        return Err(ApiError::bad_request(format!(
            "version {} does not exist; the structure is at version {}",
            query.version, loaded.version
        )));
    }
    let to = loaded.forest_version(Version(query.version));
    if to == loaded.content.version() {
        return Err(already(query.version));
    }
    // The restore is made on a copy, exactly as it would be made.
    let mut trial = loaded.content.clone();
    let applied = trial
        .restore(to, Some(query.version), &caller.author(), now())
        .map_err(|error| apply_problem_for(access.level, error))?;
    let entry = trial
        .entry(applied.version)
        .cloned()
        .ok_or_else(|| ApiError::internal(&"the applied change has no history entry"))?;
    let produced = loaded.produced.clone();
    let current_version = loaded.version.get();
    let now_forest = loaded.content.forest().clone();
    drop(guard);
    let stored = state
        .store
        .generators(caller.tenant, access.meta.id)
        .await?;
    let timeline = timeline(&state, &caller, &access).await?;
    let writes = restore::writes(&trial, &produced, &entry, &stored, &timeline);
    let rows = |forest: &arbor_core::forest::Forest| {
        forest
            .iter()
            .filter(|row| !matches!(row.item, ItemRef::Generator(_)))
            .count()
    };
    let row_of = |forest: &arbor_core::forest::Forest, g: GeneratorId| {
        forest
            .iter()
            .find(|row| row.item == ItemRef::Generator(g))
            .map(|row| row.id.get())
    };
    let now_gens = restore::generators_of(&now_forest);
    let then_gens = restore::generators_of(trial.forest());
    let mut changes: Vec<(&'static str, GeneratorId, Option<u64>, &serde_json::Value)> = Vec::new();
    for &g in &then_gens {
        let written = writes.iter().find(|(w, _)| *w == g).map(|(_, c)| c);
        let Some(config) = written.or_else(|| stored.get(&g)) else {
            continue;
        };
        let change = if !now_gens.contains(&g) {
            "back"
        } else if written.is_some() {
            "changed"
        } else {
            continue;
        };
        changes.push((change, g, row_of(trial.forest(), g), config));
    }
    for &g in &now_gens {
        if let (false, Some(config)) = (then_gens.contains(&g), stored.get(&g)) {
            changes.push(("gone", g, row_of(&now_forest, g), config));
        }
    }
    let needs_automate =
        generator_places(&now_forest) != generator_places(trial.forest()) || !writes.is_empty();
    let mut configs = Vec::with_capacity(changes.len());
    for (_, g, row, config) in &changes {
        let generator: Generator = serde_json::from_value((*config).clone()).map_err(|e| {
            ApiError::internal(&format!(
                "generator {g} does not load: {}",
                arbor_store::json_error_without_values(&e)
            ))
        })?;
        configs.push((g.get(), *row, generator));
    }
    let shown = shown::generators(&state, &caller, &access, configs).await;
    let generators = changes
        .iter()
        .zip(shown)
        .map(|((change, ..), generator)| GeneratorChange { change, generator })
        .collect();
    audit::ok(
        &state,
        &caller,
        "forest.restore.preview",
        &[&format!("structure:{id}")],
    )
    .await?;
    Ok(Json(RestorePreview {
        version: query.version,
        current_version,
        rows_now: rows(&now_forest),
        rows_then: rows(trial.forest()),
        generators,
        needs_automate,
        allowed: !needs_automate || access.level.allows(Level::Automate),
    }))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// Only entries after this journal position (for paging).
    #[serde(default)]
    after: u64,
}

/// One change in a structure's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    /// The journal position (for paging with `after`).
    pub seq: u64,
    /// The structure version this change produced, where it has one.
    pub version: Option<u64>,
    pub at: i64,
    pub actor: String,
    /// The actor's display name, where Jira tells it to the reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// `forest.changed`, `rules.set`, `generator.set`, `structure.updated`, ...
    pub op: String,
    /// For forest changes: `edit`, `undo`, `redo` or `restore`.
    pub action: Option<String>,
    /// For forest changes: how many single-row steps it took.
    pub steps: Option<usize>,
    /// For edits: `add`, `move`, `remove` or `copy`.
    pub edit: Option<String>,
    /// For edits: how many rows it named (added rows count with their children; moved, removed and copied
    /// rows count once, with their subtrees).
    pub rows: Option<usize>,
    /// For an undo: the version whose change it took back; for a redo: the version of the undo it took back;
    /// for a restore: the version it brought back (structure versions, as `version`).
    pub of_version: Option<u64>,
    /// What happened, in words: "Removed 3 rows (AC-1, folder “Q3” and 1 hidden row)", "Undid version 4
    /// (removed AC-7)", "Added generator: Inserts the issues a JQL query finds". Issues Jira hides from you are
    /// counted, never named; generators' queries are told from the Automate level.
    pub description: String,
}

/// `GET /api/v1/structures/{id}/history`: who changed what and when, oldest first, 500 at a time (View).
#[utoipa::path(get, path = "/api/v1/structures/{id}/history", tag = "editing",
    params(("id" = u64, Path, description = "structure id"), ("after" = Option<u64>, Query, description = "journal position to continue after")),
    responses((status = 200, body = Vec<HistoryItem>)))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Param(id): Param<u64>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<HistoryItem>>> {
    let access = authorize(&state, &caller, id, Level::View, "structure.history").await?;
    let entries = state
        .store
        .structure_journal(caller.tenant, access.meta.id, query.after, 500)
        .await?;
    let context = {
        let guard = content::lock(&state, caller.tenant, &access.meta).await?;
        let loaded = guard
            .as_ref()
            .ok_or_else(|| ApiError::internal(&"structure content not loaded"))?;
        told::Context::of(&loaded.content, &loaded.produced, &entries)
    };
    let timeline = timeline(&state, &caller, &access).await?;
    let descriptions =
        told::describe(&state, &caller, &access, &entries, &context, &timeline).await?;
    let structure_version = |forest: Version| restore::structure_version(forest, &context.produced);
    let mut items: Vec<HistoryItem> = entries
        .into_iter()
        .zip(descriptions)
        .map(|(entry, description)| {
            let mut item = HistoryItem {
                seq: entry.seq,
                version: None,
                at: entry.at.as_unix_millis(),
                actor: entry.actor.as_str().to_owned(),
                actor_name: None,
                op: entry.op.name().to_owned(),
                action: None,
                steps: None,
                edit: None,
                rows: None,
                of_version: None,
                description,
            };
            match &entry.op {
                JournalOp::ForestChanged { version, entry, .. } => {
                    let (action, of) = match &entry.action {
                        Action::Edit { edit, .. } => {
                            let (kind, rows) = match edit {
                                Edit::Add { rows, .. } => ("add", rows.rows().len()),
                                Edit::Move { rows, .. } => ("move", rows.len()),
                                Edit::Remove { rows } => ("remove", rows.len()),
                                Edit::Copy { rows, .. } => ("copy", rows.len()),
                            };
                            item.edit = Some(kind.to_owned());
                            item.rows = Some(rows);
                            ("edit", None)
                        }
                        Action::Undo { of } => ("undo", Some(structure_version(*of))),
                        Action::Redo { of } => ("redo", Some(structure_version(*of))),
                        Action::Restore { to, shown_as } => (
                            "restore",
                            Some(restore::restored_version(*to, *shown_as, &context.produced)),
                        ),
                    };
                    item.version = Some(version.get());
                    item.action = Some(action.to_owned());
                    item.steps = Some(entry.change.steps().len());
                    item.of_version = of.map(Version::get);
                }
                JournalOp::StructureUpdated { version, .. }
                | JournalOp::RulesSet { version, .. }
                | JournalOp::GeneratorSet { version, .. }
                | JournalOp::GeneratorDeleted { version, .. }
                | JournalOp::ForestReplaced { version, .. } => item.version = Some(version.get()),
                _ => {}
            }
            item
        })
        .collect();
    // Each actor named once, as Jira names them to the reader.
    let mut actors: Vec<&str> = items.iter().map(|item| item.actor.as_str()).collect();
    actors.sort_unstable();
    actors.dedup();
    let grantees: Vec<Grantee> = actors
        .iter()
        .map(|&account_id| Grantee::Person {
            account_id: account_id.to_owned(),
        })
        .collect();
    let names: HashMap<String, String> = actors
        .iter()
        .map(|&a| a.to_owned())
        .zip(directory::labels(&state, &caller, &access.who, &grantees).await)
        .filter_map(|(actor, name)| Some((actor, name?)))
        .collect();
    for item in &mut items {
        item.actor_name = names.get(&item.actor).cloned();
    }
    audit::ok(
        &state,
        &caller,
        "structure.history",
        &[&format!("structure:{id}")],
    )
    .await?;
    Ok(Json(items))
}
