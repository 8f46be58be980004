//! What people may store: the content limits of `config::ContentLimits`, checked before any work is done and
//! refused with a problem that names the limit and its value, and the tenants' storage usage they are
//! checked against.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use arbor_core::edit::Edit;
use arbor_core::forest::Forest;
use arbor_store::model::TenantId;
use axum::http::StatusCode;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long a tenant's measured storage usage is believed before it is measured again: measuring sums the
/// tenant's stored content, too much work for every change.
const USAGE_FOR: Duration = Duration::from_secs(5);

/// The refusal of a change that would pass `limit` (the setting's name) of `value`.
pub fn exceeded(limit: &'static str, value: u64, detail: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "limit-exceeded", detail)
        .with("limit", json!(limit))
        .with("value", json!(value))
}

/// Checks that `count` more of something of which there are `existing` stays within `value`.
pub fn within(
    limit: &'static str,
    value: u64,
    existing: u64,
    count: u64,
    what: &str,
) -> ApiResult<()> {
    if existing.saturating_add(count) > value {
        return Err(exceeded(
            limit,
            value,
            format!("this would make more than {value} {what} (the limit `{limit}`)"),
        ));
    }
    Ok(())
}

/// The rows an edit creates in `forest`: an add's rows, or the rows of the subtrees a copy copies. Rows that
/// do not exist count nothing (the edit is refused for them anyway).
pub fn rows_created(edit: &Edit, forest: &Forest) -> u64 {
    match edit {
        Edit::Add { rows, .. } => rows.rows().len() as u64,
        Edit::Copy { rows, .. } => rows
            .iter()
            .filter_map(|row| forest.position_of(*row))
            .map(|pos| forest.subtree_range(pos).len() as u64)
            .sum(),
        Edit::Move { .. } | Edit::Remove { .. } => 0,
    }
}

/// Checks an edit's size against `limits.rows_per_edit` and `limits.rows_per_structure` before it is applied.
pub fn check_edit(state: &AppState, edit: &Edit, forest: &Forest) -> ApiResult<()> {
    let limits = &state.config.content;
    let created = rows_created(edit, forest);
    within(
        "limits.rows_per_edit",
        limits.rows_per_edit,
        0,
        created,
        "rows created by one edit",
    )?;
    check_rows(state, forest.len() as u64, created)
}

/// Checks that a structure of `stored` rows may grow by `added`.
pub fn check_rows(state: &AppState, stored: u64, added: u64) -> ApiResult<()> {
    within(
        "limits.rows_per_structure",
        state.config.content.rows_per_structure,
        stored,
        added,
        "stored rows in this structure",
    )
}

/// Each tenant's storage usage as last measured.
#[derive(Debug, Default)]
pub struct Usage(Mutex<HashMap<TenantId, (Instant, u64)>>);

impl Usage {
    fn recent(&self, tenant: TenantId) -> Option<u64> {
        let usage = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        usage
            .get(&tenant)
            .filter(|(at, _)| at.elapsed() < USAGE_FOR)
            .map(|(_, bytes)| *bytes)
    }

    fn measured(&self, tenant: TenantId, bytes: u64) {
        let mut usage = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        usage.insert(tenant, (Instant::now(), bytes));
    }
}

/// Refuses a change that stores more while the tenant's content is at its storage budget
/// (`limits.tenant_storage_bytes`). Usage is measured at most every [`USAGE_FOR`], so what is stored within
/// that time may pass the budget by as much; removing is never refused.
pub async fn check_storage(state: &AppState, tenant: TenantId) -> ApiResult<()> {
    let bytes = match state.usage.recent(tenant) {
        Some(bytes) => bytes,
        None => {
            let bytes = state.store.tenant_storage_bytes(tenant).await?;
            state.usage.measured(tenant, bytes);
            bytes
        }
    };
    let budget = state.config.content.tenant_storage_bytes;
    if bytes >= budget {
        return Err(exceeded(
            "limits.tenant_storage_bytes",
            budget,
            format!(
                "this site's arbor content has reached its storage budget of {budget} bytes (the limit \
                 `limits.tenant_storage_bytes`); remove structures, rows or views you no longer need, or ask \
                 the operator to raise it"
            ),
        ));
    }
    Ok(())
}
