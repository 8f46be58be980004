//! Edits and rows whose issues Jira hides from the person editing (SPEC §3: nothing about hidden rows is
//! revealed but their count). The rule, below Control:
//! - a row the person cannot see, named by an edit (to move, remove or copy it, or to place rows next to or
//!   under it), is answered for exactly as a row that does not exist;
//! - an edit, undo, redo or restore that would remove, copy, move or add a row whose issue Jira does not show
//!   the person is refused, with a message that says so and nothing about which row it is. Rows below a
//!   moved visible row move with it (they are not touched: their parent stays the same).
//!
//! Control may act on every row: somebody must be able to clear the rows of issues deleted in Jira, which
//! are hidden from everyone.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arbor_core::data::{FieldId, IssueData, Needs};
use arbor_core::edit::{EditError, Step};
use arbor_core::forest::{Forest, Item, ItemRef};
use arbor_core::history::{ApplyError, HistoryEntry};
use arbor_core::ids::{IssueId, RowId};
use arbor_core::permission::Level;

use super::Access;
use crate::error::{ApiError, ApiResult};
use crate::session::Caller;
use crate::state::AppState;

/// Which of `issues` Jira does not show the caller (as Jira answers them now, or from the caches while
/// fresh and seen by the caller).
async fn hidden_of(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    issues: BTreeSet<IssueId>,
) -> ApiResult<BTreeSet<IssueId>> {
    let data = shown(state, caller, access, &issues).await?;
    Ok(issues
        .into_iter()
        .filter(|id| data.issue(*id).is_none())
        .collect())
}

/// The keys of those of `issues` that Jira shows the caller; the others are hidden from them.
pub async fn keys_shown(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    issues: BTreeSet<IssueId>,
) -> ApiResult<HashMap<IssueId, Arc<str>>> {
    let data = shown(state, caller, access, &issues).await?;
    Ok(issues
        .into_iter()
        .filter_map(|id| Some((id, Arc::clone(&data.issue(id)?.key))))
        .collect())
}

/// Those of `issues` that Jira shows the caller, read as the caller (charged to their Jira-call budget).
async fn shown(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    issues: &BTreeSet<IssueId>,
) -> ApiResult<IssueData> {
    let mut data = IssueData::default();
    if issues.is_empty() {
        return Ok(data);
    }
    let site = state
        .site(caller.tenant)
        .ok_or_else(ApiError::unauthorized)?;
    let mut needs = Needs::default();
    // The field every window reads: what the person just looked at is answered from the caches.
    needs.fields.insert(FieldId::new("summary"));
    needs.issues = issues.clone();
    let account = caller.account.as_str();
    state.limits.jira(caller.tenant, account)?;
    let report = site.loader.load(&access.who, &needs, &mut data).await?;
    state
        .limits
        .spent_jira_calls(caller.tenant, account, report.requests);
    Ok(data)
}

/// Refuses, below Control, an edit that names a row whose issue the caller cannot see, with the answer given
/// for a row that does not exist.
pub async fn check_named(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    forest: &Forest,
    named: impl IntoIterator<Item = RowId>,
) -> ApiResult<()> {
    if access.level.allows(Level::Control) {
        return Ok(());
    }
    let named: Vec<(RowId, IssueId)> = named
        .into_iter()
        .filter_map(|row| {
            let pos = forest.position_of(row)?;
            match forest.item(pos) {
                ItemRef::Issue(issue) => Some((row, issue)),
                _ => None,
            }
        })
        .collect();
    let hidden = hidden_of(
        state,
        caller,
        access,
        named.iter().map(|(_, i)| *i).collect(),
    )
    .await?;
    match named.iter().find(|(_, issue)| hidden.contains(issue)) {
        Some((row, _)) => Err(super::edits::apply_problem(ApplyError::Edit(
            EditError::RowNotFound(*row),
        ))),
        None => Ok(()),
    }
}

/// Refuses, below Control, a change (as applied: `entry`, with `forest` the forest after it) that removes,
/// copies, moves or adds a row whose issue the caller cannot see.
pub async fn check_change(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    entry: &HistoryEntry,
    forest: &Forest,
) -> ApiResult<()> {
    if access.level.allows(Level::Control) {
        return Ok(());
    }
    let mut touched = BTreeSet::new();
    let inserted_issues = |step: &Step, touched: &mut BTreeSet<IssueId>| {
        if let Step::Insert { rows, .. } = step {
            touched.extend(rows.rows().iter().filter_map(|row| match row.item {
                Item::Issue(issue) => Some(issue),
                _ => None,
            }));
        }
    };
    for step in entry.change.steps() {
        inserted_issues(step, &mut touched);
        if let Step::Move { row, .. } = step
            && let Some(pos) = forest.position_of(*row)
            && let Some(issue) = forest.issue(pos)
        {
            touched.insert(issue);
        }
    }
    // What a change removes, its inverse inserts again.
    for step in entry.inverse.steps() {
        inserted_issues(step, &mut touched);
    }
    if hidden_of(state, caller, access, touched).await?.is_empty() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "it would remove, copy, move or add rows whose issues Jira does not show you; ask someone who \
             sees them, or who has Control of this structure, to make it",
        ))
    }
}
