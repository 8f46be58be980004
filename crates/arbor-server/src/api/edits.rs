//! Forest edits with versions, undo and redo of your own changes of this sign-in session, the history, and
//! restoring an earlier version.
//!
//! Every change runs under the structure's lock (`content::lock`): it is applied to the in-memory content
//! (arbor-core decides merges and conflicts), then saved with the structure version it started from; storage
//! refuses it if another node changed the structure meanwhile, and the cached content is then dropped.

use std::collections::HashMap;

use arbor_core::edit::{Change, Edit, EditError, Position, Step};
use arbor_core::forest::{Item, ItemRef};
use arbor_core::history::{Action, Applied, ApplyError, Author, ConflictCause, HistoryEntry};
use arbor_core::ids::{RowId, Version};
use arbor_core::permission::{Grantee, Level};
use arbor_store::StoreError;
use arbor_store::journal::JournalOp;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::structures::actor;
use super::{Access, Body, Param, Query, authorize, directory, hidden};
use crate::audit;
use crate::budget;
use crate::content::{self, Loaded};
use crate::error::{ApiError, ApiResult};
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
        Action::Restore { to } => format!("restore version {}", version(*to)),
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
    if !access.level.allows(Level::Automate) && generator_places(loaded.content.forest()) != before
    {
        // `changing` is dropped unsaved: the change is discarded.
        let refusal = ApiError::forbidden(
            "this change adds, removes or moves generators, which needs the Automate level",
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
    let entry: HistoryEntry = loaded
        .content
        .entry(applied.version)
        .cloned()
        .ok_or_else(|| ApiError::internal(&"the applied change has no history entry"))?;
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
            loaded
                .content
                .restore(to, &author, now())
                .map_err(|error| apply_problem_for(level, error))
        },
    )
    .await?;
    Ok(Json(result))
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
    /// for a restore: the version whose rows it brought back.
    pub of_version: Option<u64>,
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
    let mut items: Vec<HistoryItem> = entries
        .into_iter()
        .map(|entry| {
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
                        Action::Undo { of } => ("undo", Some(of)),
                        Action::Redo { of } => ("redo", Some(of)),
                        Action::Restore { to } => ("restore", Some(to)),
                    };
                    item.version = Some(version.get());
                    item.action = Some(action.to_owned());
                    item.steps = Some(entry.change.steps().len());
                    item.of_version = of.map(|v| v.get());
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
