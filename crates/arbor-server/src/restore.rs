//! Generator settings across versions: which stored configurations go with a change of rows, so that restoring
//! a version gives back the effective forest of that version and undoing the restore gives back the one before.
//!
//! A generator is two things: a row of the stored forest (`Item::Generator(id)`: where it runs) and a stored
//! configuration (what it does), journaled as `generator.set` / `generator.deleted` with the structure version
//! each made. Forest changes (arbor-core) bring rows back; [`writes`] says which configurations go with them:
//! - restoring structure version `v` sets every generator whose row is in the restored forest to its
//!   configuration at `v` (re-created if it was deleted since, reverted if it was changed since). A generator
//!   whose row the restore takes away keeps its configuration: it runs nowhere and is listed as not in the
//!   structure, and undoing the restore brings its row back working as before;
//! - undoing that restore sets the configurations it changed back to what they were just before it, and redoing
//!   it sets them again — each only if nobody changed that configuration in between;
//! - any change of rows that brings back a generator row whose configuration was deleted (undoing the removal
//!   of a generator) re-creates the configuration as it last was.
//!
//! The writes are journaled right after the forest change, as `generator.set` by the same person, so the
//! configurations "just before" a restore are those at the structure version its forest change made. Pure: the
//! callers read the journal and store the writes.

use std::collections::BTreeMap;

use arbor_core::edit::{Change, Step};
use arbor_core::forest::{Forest, Item, ItemRef, Row};
use arbor_core::history::{Action, HistoryEntry, StructureContent};
use arbor_core::ids::{GeneratorId, Version};
use arbor_store::journal::{JournalEntry, JournalOp};
use serde_json::Value;

/// Stored generator configurations by generator.
pub type Configs = BTreeMap<GeneratorId, Value>;

/// Every change of a structure's generator configurations, with the structure version it made, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    changes: Vec<(Version, GeneratorId, Option<Value>)>,
}

impl Timeline {
    /// The configuration changes of a structure's journal (entries in order).
    pub fn from_journal<'e>(entries: impl IntoIterator<Item = &'e JournalEntry>) -> Self {
        let mut timeline = Self::default();
        timeline.read(entries);
        timeline
    }

    /// Adds the configuration changes of the next journal entries (in order).
    pub fn read<'e>(&mut self, entries: impl IntoIterator<Item = &'e JournalEntry>) {
        for entry in entries {
            match &entry.op {
                JournalOp::GeneratorSet {
                    version,
                    generator,
                    config,
                    ..
                } => self.record(*version, *generator, Some(config.clone())),
                JournalOp::GeneratorDeleted {
                    version, generator, ..
                } => self.record(*version, *generator, None),
                _ => {}
            }
        }
    }

    /// Records that structure version `version` set (`Some`) or deleted (`None`) a configuration.
    pub fn record(&mut self, version: Version, generator: GeneratorId, config: Option<Value>) {
        self.changes.push((version, generator, config));
    }

    /// The configurations stored at structure version `version`.
    pub fn at(&self, version: Version) -> Configs {
        let mut configs = Configs::new();
        for (_, generator, config) in self.changes.iter().take_while(|(v, _, _)| *v <= version) {
            match config {
                Some(config) => configs.insert(*generator, config.clone()),
                None => configs.remove(generator),
            };
        }
        configs
    }

    /// The configuration `generator` had at structure version `version`, else the last it ever had (a deleted
    /// generator's, for describing it).
    pub fn config(&self, generator: GeneratorId, version: Version) -> Option<&Value> {
        self.changes
            .iter()
            .take_while(|(v, _, _)| *v <= version)
            .filter(|(_, g, _)| *g == generator)
            .last()
            .and_then(|(_, _, config)| config.as_ref())
            .or_else(|| self.last(generator))
    }

    /// The highest generator id ever given a configuration (deleted ones included).
    pub fn highest_id(&self) -> u64 {
        self.changes
            .iter()
            .map(|(_, g, _)| g.get())
            .max()
            .unwrap_or(0)
    }

    /// The last configuration `generator` had, deleted or not.
    pub fn last(&self, generator: GeneratorId) -> Option<&Value> {
        self.changes
            .iter()
            .rev()
            .find_map(|(_, g, config)| (*g == generator).then_some(config.as_ref()).flatten())
    }
}

/// The generators whose rows are in `forest`, in forest order.
pub fn generators_of(forest: &Forest) -> Vec<GeneratorId> {
    forest
        .iter()
        .filter_map(|row| match row.item {
            ItemRef::Generator(g) => Some(g),
            _ => None,
        })
        .collect()
}

/// The structure version a restore entry brought back (what the history names): the one asked for, or for
/// entries journaled before it was recorded, the one that made the forest version it restored.
pub fn restored_version(to: Version, shown_as: Option<u64>, produced: &[Version]) -> Version {
    shown_as
        .map(Version)
        .unwrap_or_else(|| structure_version(to, produced))
}

/// The structure version that forest version `forest` was made in (0 for the empty forest at the start).
pub fn structure_version(forest: Version, produced: &[Version]) -> Version {
    usize::try_from(forest.get())
        .ok()
        .and_then(|v| v.checked_sub(1))
        .and_then(|i| produced.get(i).copied())
        .unwrap_or(Version(0))
}

/// The forest version a client saw when it had structure version `structure`.
pub fn forest_version(structure: Version, produced: &[Version]) -> Version {
    Version(produced.partition_point(|v| *v <= structure) as u64)
}

/// The edit or restore that `entry` makes (`true`) or takes back (`false`), following undos and redos.
pub fn origin<'c>(
    content: &'c StructureContent,
    entry: &'c HistoryEntry,
) -> (&'c HistoryEntry, bool) {
    let mut current = entry;
    let mut forward = true;
    while let Action::Undo { of } | Action::Redo { of } = current.action {
        match content.entry(of) {
            Some(earlier) => {
                current = earlier;
                forward = !forward;
            }
            None => break,
        }
    }
    (current, forward)
}

/// The configurations to store along with forest change `entry`, which was just applied to `content` (not
/// saved yet, so `produced` does not have its structure version); `stored`: the configurations stored now.
/// See the module docs.
pub fn writes(
    content: &StructureContent,
    produced: &[Version],
    entry: &HistoryEntry,
    stored: &Configs,
    timeline: &Timeline,
) -> Vec<(GeneratorId, Value)> {
    let mut writes: Vec<(GeneratorId, Value)> = Vec::new();
    let (restore, forward) = origin(content, entry);
    if let Action::Restore { to, shown_as } = restore.action {
        let then = timeline.at(restored_version(to, shown_as, produced));
        // Before the restore: for the one being made now, what is stored; for an earlier one, what was stored
        // at the structure version its forest change made (its own writes came after).
        let before = if restore.version == entry.version {
            stored.clone()
        } else {
            timeline.at(structure_version(restore.version, produced))
        };
        for generator in inserted_generators(restore) {
            let (from, to) = if forward {
                (before.get(&generator), then.get(&generator))
            } else {
                (then.get(&generator), before.get(&generator))
            };
            if let Some(to) = to
                && from != Some(to)
                && stored.get(&generator) == from
            {
                writes.push((generator, to.clone()));
            }
        }
    }
    for generator in generators_of(content.forest()) {
        if stored.contains_key(&generator) || writes.iter().any(|(g, _)| *g == generator) {
            continue;
        }
        if let Some(config) = timeline.last(generator) {
            writes.push((generator, config.clone()));
        }
    }
    writes
}

/// The generators whose rows a change inserts (for a restore: every generator of the restored forest).
fn inserted_generators(entry: &HistoryEntry) -> Vec<GeneratorId> {
    inserted(&entry.change)
        .filter_map(|row| match row.item {
            Item::Generator(g) => Some(g),
            _ => None,
        })
        .collect()
}

/// The rows a change inserts (with the rows of inserted subtrees), in order.
pub fn inserted(change: &Change) -> impl Iterator<Item = &Row> {
    change.steps().iter().flat_map(|step| match step {
        Step::Insert { rows, .. } => rows.rows(),
        Step::Move { .. } | Step::Remove { .. } => &[],
    })
}

#[cfg(test)]
mod tests;
