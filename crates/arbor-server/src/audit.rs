//! The one path to the audit chain (arbor-store): every data-related operation — reads of structures, edits,
//! configuration and permission changes, exports, sign-ins and their failures — is recorded here with who,
//! what, which ids, the outcome, when and from where. Entries hold ids and action names, never values.
//!
//! An operation whose audit entry cannot be written fails: an unrecorded read or change would break the
//! promise the log makes.
//!
//! Reads of a structure's rows are recorded once per person, structure and [`READ_EVERY`] on each node:
//! scrolling asks for a window per screenful, and the log says who read which structure when, not how far
//! they scrolled. Every other operation, exports included, is recorded each time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use arbor_core::ids::ActorId;
use arbor_store::audit::{NewAuditEntry, Outcome};
use arbor_store::model::{StructureId, TenantId};

use crate::error::{ApiError, ApiResult};
use crate::session::Caller;
use crate::state::{AppState, now};

/// Who and where, for an audit entry.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub tenant: Option<TenantId>,
    pub actor: Option<&'a ActorId>,
    pub client: Option<IpAddr>,
    pub request_id: Option<&'a str>,
}

impl<'a> From<&'a Caller> for Who<'a> {
    fn from(caller: &'a Caller) -> Self {
        Self {
            tenant: Some(caller.tenant),
            actor: Some(&caller.account),
            client: caller.client,
            request_id: caller.request_id.as_deref(),
        }
    }
}

/// Appends one entry. `objects` are ids such as `structure:12` or `view:3`.
pub async fn record(
    state: &AppState,
    who: Who<'_>,
    action: &str,
    objects: &[&str],
    outcome: Outcome,
) -> ApiResult<()> {
    let entry = NewAuditEntry::new(
        who.tenant,
        who.actor.cloned(),
        action,
        objects,
        outcome,
        now(),
        who.client,
        who.request_id,
    )
    .map_err(|e| ApiError::internal(&e))?;
    if let Err(error) = state.store.append_audit(&entry).await {
        state.metrics.audit_failed();
        return Err(ApiError::internal(&format!(
            "audit entry for {action} not written: {error}"
        )));
    }
    Ok(())
}

/// Records a successful operation of a signed-in person.
pub async fn ok(
    state: &AppState,
    caller: &Caller,
    action: &str,
    objects: &[&str],
) -> ApiResult<()> {
    record(state, caller.into(), action, objects, Outcome::Ok).await
}

/// Records a refused operation, then returns the refusal.
pub async fn denied(
    state: &AppState,
    caller: &Caller,
    action: &str,
    objects: &[&str],
    refusal: ApiError,
) -> ApiError {
    match record(state, caller.into(), action, objects, Outcome::Denied).await {
        Ok(()) => refusal,
        Err(error) => error,
    }
}

/// How often repeated reads of one structure by one person are recorded.
pub const READ_EVERY: Duration = Duration::from_secs(300);

/// When each person's reads of each structure were last recorded (per node).
#[derive(Debug, Default)]
pub struct Reads(Mutex<HashMap<(TenantId, ActorId, StructureId), Instant>>);

/// Records a read of a structure's rows, unless the same read was recorded within [`READ_EVERY`].
pub async fn read(state: &AppState, caller: &Caller, structure: StructureId) -> ApiResult<()> {
    let key = (caller.tenant, caller.account.clone(), structure);
    let now = Instant::now();
    {
        let mut reads = state.reads.0.lock().unwrap_or_else(PoisonError::into_inner);
        if reads
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < READ_EVERY)
        {
            return Ok(());
        }
        if reads.len() > 100_000 {
            reads.retain(|_, at| now.duration_since(*at) < READ_EVERY);
        }
        reads.insert(key.clone(), now);
    }
    let recorded = ok(
        state,
        caller,
        "structure.read",
        &[&format!("structure:{structure}")],
    )
    .await;
    if recorded.is_err() {
        // Not recorded: the next read tries again.
        state
            .reads
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
    }
    recorded
}
