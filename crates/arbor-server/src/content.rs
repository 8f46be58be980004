//! Structures' editable content in memory: arbor-core's `StructureContent` (forest, history, undo stacks),
//! rebuilt from the structure's change journal and kept in step with it.
//!
//! Two version counters meet here. The *structure version* (storage's) moves on every change of a structure
//! — renames, rules, generators, forest edits — and is what clients send back as `based_on`. The *forest
//! version* (arbor-core's) counts forest changes only and drives merging and undo. Each loaded structure keeps,
//! per forest version, the structure version it produced, to translate one into the other.
//!
//! Consistency: every use first compares the cached structure version with the one the request read (from
//! storage, or for reads from what was read in the last second, `recent.rs`); when the content is behind it —
//! another node or another path changed the structure — the journal entries since the last one read are
//! applied. Writes
//! happen under the structure's async mutex, so one node never interleaves two edits of one structure;
//! across nodes, storage's version check turns a race into a conflict, and the cached content is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arbor_core::history::StructureContent;
use arbor_core::ids::Version;
use arbor_store::journal::JournalOp;
use arbor_store::model::{StructureId, StructureMeta, TenantId};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A structure's content as loaded from its journal.
#[derive(Debug)]
pub struct Loaded {
    pub content: StructureContent,
    /// The structure version the content corresponds to.
    pub version: Version,
    /// `produced[i]` is the structure version that forest version `i + 1` produced.
    pub produced: Vec<Version>,
    /// The last journal sequence number read.
    last_seq: u64,
}

impl Loaded {
    /// The forest version a client saw when it had structure version `based_on`.
    pub fn forest_version(&self, based_on: Version) -> Version {
        crate::restore::forest_version(based_on, &self.produced)
    }

    /// The structure version that first had forest version `forest`'s rows (0 for the empty forest a
    /// structure starts with): how a forest version is shown to people.
    pub fn structure_version(&self, forest: Version) -> Version {
        forest
            .get()
            .checked_sub(1)
            .and_then(|i| self.produced.get(usize::try_from(i).ok()?))
            .copied()
            .unwrap_or(Version(0))
    }

    /// Records a forest change this node just saved as structure version `version`.
    pub fn saved(&mut self, version: Version) {
        self.produced.push(version);
        self.version = version;
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Loaded>>>;

/// Loaded structures, one async mutex each, with when each was last used.
#[derive(Debug, Default)]
pub struct Contents(Mutex<HashMap<(TenantId, StructureId), (Slot, Instant)>>);

impl Contents {
    fn slot(&self, tenant: TenantId, id: StructureId) -> Slot {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (slot, used) = map
            .entry((tenant, id))
            .or_insert_with(|| (Slot::default(), Instant::now()));
        *used = Instant::now();
        Arc::clone(slot)
    }

    /// Drops a structure's content (it was deleted); a request still holding it finishes with its copy.
    pub fn forget(&self, tenant: TenantId, id: StructureId) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(tenant, id));
    }

    /// Drops the content of structures nobody has used for `idle` and nobody holds now; it is read again
    /// from storage when next used.
    pub fn evict_idle(&self, idle: Duration) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, (slot, used)| used.elapsed() < idle || Arc::strong_count(slot) > 1);
    }

    /// How many structures' content is held.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Locks a structure's content, brought at least up to `meta`'s version (the structure as the request read it).
pub async fn lock(
    state: &AppState,
    tenant: TenantId,
    meta: &StructureMeta,
) -> ApiResult<tokio::sync::OwnedMutexGuard<Option<Loaded>>> {
    let slot = state.contents.slot(tenant, meta.id);
    let mut guard = slot.lock_owned().await;
    let loaded = guard.get_or_insert_with(|| Loaded {
        content: StructureContent::new(),
        version: Version(0),
        produced: Vec::new(),
        last_seq: 0,
    });
    if loaded.version < meta.version
        && let Err(error) = catch_up(state, tenant, meta.id, loaded).await
    {
        // Whatever was half applied is dropped; the next use reloads from the start.
        *guard = None;
        return Err(error);
    }
    Ok(guard)
}

/// A structure's content locked for a change. Dropped without [`Changing::commit`] — after a failure, or
/// because the request was cancelled mid-save — the in-memory content is discarded and the next use reloads
/// it from storage, so a change that was never saved can never be seen or built upon.
#[derive(Debug)]
pub struct Changing {
    guard: tokio::sync::OwnedMutexGuard<Option<Loaded>>,
    committed: bool,
}

impl Changing {
    pub fn loaded(&mut self) -> ApiResult<&mut Loaded> {
        self.guard
            .as_mut()
            .ok_or_else(|| ApiError::internal(&"structure content not loaded"))
    }

    /// The in-memory content and storage agree again (the change was saved).
    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Changing {
    fn drop(&mut self) {
        if !self.committed {
            *self.guard = None;
        }
    }
}

/// Locks a structure's content for a change; see [`Changing`].
pub async fn lock_for_change(
    state: &AppState,
    tenant: TenantId,
    meta: &StructureMeta,
) -> ApiResult<Changing> {
    Ok(Changing {
        guard: lock(state, tenant, meta).await?,
        committed: false,
    })
}

/// Applies the journal entries written since the content was last read. Nothing changes until every page is
/// read, so a cancelled catch-up leaves the content as it was.
async fn catch_up(
    state: &AppState,
    tenant: TenantId,
    id: StructureId,
    loaded: &mut Loaded,
) -> ApiResult<()> {
    let mut entries = Vec::new();
    let mut last_seq = loaded.last_seq;
    loop {
        let page = state
            .store
            .structure_journal(tenant, id, last_seq, 1000)
            .await?;
        let done = page.len() < 1000;
        if let Some(last) = page.last() {
            last_seq = last.seq;
        }
        entries.extend(page);
        if done {
            break;
        }
    }
    loaded.last_seq = last_seq;
    // Forest changes are replayed in one pass, not one by one.
    let mut history = std::mem::take(&mut loaded.content).history().to_vec();
    for entry in entries {
        match entry.op {
            // This node's own saves are already applied (the journal is read from the last entry *read*).
            JournalOp::ForestChanged { version, .. } if version <= loaded.version => {}
            JournalOp::ForestChanged { version, entry, .. } => {
                history.push(entry);
                loaded.produced.push(version);
                loaded.version = version;
            }
            JournalOp::ForestReplaced { .. } => {
                return Err(ApiError::internal(
                    &"a structure's forest was replaced wholesale; its history cannot be replayed",
                ));
            }
            JournalOp::StructureUpdated { version, .. }
            | JournalOp::RulesSet { version, .. }
            | JournalOp::GeneratorSet { version, .. }
            | JournalOp::GeneratorDeleted { version, .. } => {
                loaded.version = loaded.version.max(version);
            }
            _ => {}
        }
    }
    loaded.content = StructureContent::from_history(history).map_err(|e| ApiError::internal(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u64) -> (TenantId, StructureId) {
        (TenantId::new(1).unwrap(), StructureId::new(n).unwrap())
    }

    #[test]
    fn idle_content_is_dropped_unless_someone_holds_it() {
        let contents = Contents::default();
        let (tenant, a) = ids(1);
        let (_, b) = ids(2);
        drop(contents.slot(tenant, a));
        let held = contents.slot(tenant, b);
        contents.evict_idle(Duration::from_secs(60));
        assert_eq!(contents.len(), 2, "used a moment ago");
        contents.evict_idle(Duration::ZERO);
        assert_eq!(contents.len(), 1, "the held one stays");
        drop(held);
        contents.evict_idle(Duration::ZERO);
        assert!(contents.is_empty());
    }

    #[test]
    fn a_deleted_structures_content_is_dropped() {
        let contents = Contents::default();
        let (tenant, a) = ids(1);
        drop(contents.slot(tenant, a));
        contents.forget(tenant, a);
        assert!(contents.is_empty());
    }
}
