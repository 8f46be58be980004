//! A structure's editable content: the forest, its version, concurrent edits, undo/redo and the history.
//!
//! Versions: a new structure is at version 0 with an empty forest; every applied edit, undo, redo or restore
//! adds one [`HistoryEntry`] and bumps the version by one, so other clients see undo and redo like any other
//! change.
//!
//! Concurrent edits (merge rules). Every edit carries the version it was based on:
//! - based on the current version: applied, or refused with a plain [`EditError`];
//! - based on an older version: applied to the current forest as it is ("merged") when every row it names still
//!   exists and the target is still valid — position-based edits (under/before/after a row, first/last) keep
//!   their meaning as rows move around. Otherwise it fails with a [`Conflict`] that names what changed: the
//!   version and person that removed a row, or the versions made since. Edits that count positions
//!   ([`Slot::Index`](crate::edit::Slot::Index)) are only accepted on the current version, since an index
//!   means something else once siblings change. Concurrent moves of the same row are not a conflict: the
//!   later one wins, as in a shared document;
//! - based on a version that does not exist yet: refused.
//!
//! Undo and redo belong to an [`Author`]: a person *in one sign-in session*. "Undo" takes back *my* last
//! change made in this session, the way people expect it in a shared structure, even when others have edited
//! since; what I changed in an earlier session, what others changed, and what nobody changed in a session
//! (the server's own set-up of a structure, entries journaled before sessions were recorded) is reverted by
//! restoring an earlier version instead. Each author's undo stack keeps their last [`UNDO_DEPTH`] changes; a
//! new edit clears that author's redo stack. Undo applies the stored inverse of the change to the current
//! forest, so it merges or conflicts exactly like a concurrent edit based on that change's version. A failed
//! undo changes nothing; [`StructureContent::discard_undo`] lets a client skip a change that can no longer be
//! undone. [`StructureContent::next_undo`] and [`StructureContent::next_redo`] tell what an undo or redo would
//! take back or make again, so that a client can say so before it is asked.
//!
//! Restoring an earlier version ([`StructureContent::restore`]) makes the forest exactly what it was then, row
//! ids included, as one new version: a change that removes every top-level row and inserts the old forest's
//! top-level subtrees under their old ids (ids are never reused, so they are free once the current rows are
//! gone). It is undone and redone like an edit.
//!
//! History: entries are never rewritten. Each stores the client's action, the exact [`Change`] applied and its
//! inverse, so [`StructureContent::rebuild`] reconstructs any earlier version by replaying changes forwards
//! from version 0 or inverses backwards from the current version, whichever is shorter, flattening the
//! forest only once: O(rows + steps replayed). [`StructureContent::from_history`] rebuilds everything —
//! forest, row-id counter and every session's undo stacks — from the entries alone, which is what storage
//! journals.
//!
//! The engine is pure: callers pass the time of each change in.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::edit::{Anchor, Change, Edit, EditError, Position, RowIdAllocator, Step, Subtree};
use crate::forest::Forest;
use crate::ids::{ActorId, RowId, SessionTag, Timestamp, Version};

/// How many of their own changes a person can undo in one session.
pub const UNDO_DEPTH: usize = 100;

/// Who makes a change, and in which sign-in session: undo and redo take back only the author's own changes of
/// the same session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Author {
    pub actor: ActorId,
    /// `None` for changes made outside any session (a structure's set-up by the server): nobody can undo them.
    pub session: Option<SessionTag>,
}

impl Author {
    /// A person signed in, in the session `session`.
    pub fn in_session(actor: ActorId, session: SessionTag) -> Self {
        Self {
            actor,
            session: Some(session),
        }
    }

    /// A change made on a person's behalf outside any session, which nobody can undo.
    pub fn without_session(actor: ActorId) -> Self {
        Self {
            actor,
            session: None,
        }
    }

    /// The key of this author's undo stacks, if they have any.
    fn owner(&self) -> Option<(ActorId, SessionTag)> {
        Some((self.actor.clone(), self.session.clone()?))
    }
}

/// What a person did to produce a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// An edit as the client sent it, with the version it was based on.
    Edit { edit: Edit, based_on: Version },
    /// Took back the change made in version `of` (an edit, a restore or a redo).
    Undo { of: Version },
    /// Took back the undo made in version `of`.
    Redo { of: Version },
    /// Made the forest what it was at version `to`.
    Restore {
        to: Version,
        /// The version asked for as the caller numbers versions, when it has numbers of its own (arbor-server's
        /// structure versions also count configuration changes, so several of them share one forest version):
        /// what the history names, and which generator settings the restore brought back with the rows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shown_as: Option<u64>,
    },
}

/// One version of a structure: who, when, what, and exactly how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: Version,
    pub actor: ActorId,
    /// The session it was made in; entries without one (the server's own, or journaled before sessions were
    /// recorded) are undone by nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionTag>,
    pub time: Timestamp,
    pub action: Action,
    /// What was applied to the previous version's forest.
    pub change: Change,
    /// What takes this version's forest back to the previous one.
    pub inverse: Change,
}

/// The outcome of a successful edit, undo, redo or restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The new current version.
    pub version: Version,
    /// Whether the edit was based on an older version and merged into newer changes.
    pub merged: bool,
    /// Rows created, in the order of the edit's rows.
    pub created: Vec<RowId>,
}

/// An edit based on an older version that no longer applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub based_on: Version,
    pub current: Version,
    pub cause: ConflictCause,
}

/// What changed under a stale edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictCause {
    /// A row the edit names was removed in the meantime.
    RowRemoved {
        row: RowId,
        version: Version,
        actor: ActorId,
    },
    /// The edit places rows by index, and the structure has changed.
    StaleIndex,
    /// The edit fails on the current forest for this reason; these people changed it since.
    Changed {
        error: EditError,
        actors: Vec<ActorId>,
    },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            ConflictCause::RowRemoved {
                row,
                version,
                actor,
            } => write!(f, "row {row} was removed in version {version} by {actor}"),
            ConflictCause::StaleIndex => write!(
                f,
                "the structure changed from version {} to {}, so a position given by index is ambiguous; place rows under, before or after a row instead",
                self.based_on, self.current
            ),
            ConflictCause::Changed { error, actors } => {
                write!(
                    f,
                    "{error}: the structure changed from version {} to {} (by ",
                    self.based_on, self.current
                )?;
                for (i, actor) in actors.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{actor}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Why an edit, undo, redo, restore or rebuild was refused. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error("conflict: {0}")]
    Conflict(Box<Conflict>),
    #[error("version {requested} does not exist; the current version is {current}")]
    UnknownVersion {
        requested: Version,
        current: Version,
    },
    #[error("{0} has nothing to undo in this session")]
    NothingToUndo(ActorId),
    #[error("{0} has nothing to redo in this session")]
    NothingToRedo(ActorId),
    #[error("version {0} is already the current version")]
    AlreadyCurrent(Version),
    #[error("the version counter is exhausted")]
    VersionsExhausted,
}

/// Why a list of history entries cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error("history entry {index} has version {found}; versions must run 1, 2, 3, ...")]
    OutOfOrder { index: usize, found: Version },
    #[error(
        "version {version} undoes or redoes version {of}, which is not on top of {actor}'s stack in its session"
    )]
    Inconsistent {
        version: Version,
        of: Version,
        actor: ActorId,
    },
    #[error("the history does not replay: {0}")]
    Replay(EditError),
}

#[derive(Debug, Clone, Default)]
struct Stacks {
    /// Versions whose inverse an undo applies, most recent last.
    undo: VecDeque<Version>,
    /// Versions of undos whose inverse a redo applies, most recent last.
    redo: Vec<Version>,
}

/// A structure's content with its version, history and undo stacks. See the module docs for the rules.
#[derive(Debug, Clone, Default)]
pub struct StructureContent {
    forest: Forest,
    version: Version,
    ids: RowIdAllocator,
    /// The entry of version `v` is at index `v - 1`.
    history: Vec<HistoryEntry>,
    /// Per person and session; changes made outside a session have none.
    stacks: HashMap<(ActorId, SessionTag), Stacks>,
}

impl StructureContent {
    /// An empty structure at version 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a structure from its complete history (as journaled), replaying it in one pass.
    pub fn from_history(entries: Vec<HistoryEntry>) -> Result<Self, HistoryError> {
        let mut content = Self::new();
        for (index, entry) in entries.iter().enumerate() {
            if entry.version.get() != index as u64 + 1 {
                return Err(HistoryError::OutOfOrder {
                    index,
                    found: entry.version,
                });
            }
            content.track(entry)?;
            for row in entry.change.inserted_rows() {
                content.ids.skip_past(row);
            }
        }
        content
            .forest
            .apply_changes(entries.iter().map(|e| &e.change))
            .map_err(HistoryError::Replay)?;
        content.version = Version(entries.len() as u64);
        content.history = entries;
        Ok(content)
    }

    pub fn forest(&self) -> &Forest {
        &self.forest
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// All entries, oldest first; entry `i` is version `i + 1`.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    pub fn entry(&self, version: Version) -> Option<&HistoryEntry> {
        let index = usize::try_from(version.get().checked_sub(1)?).ok()?;
        self.history.get(index)
    }

    /// The id the next new row will get.
    pub fn next_row_id(&self) -> Option<RowId> {
        self.ids.peek()
    }

    fn stacks_of(&self, by: &Author) -> Option<&Stacks> {
        self.stacks.get(&by.owner()?)
    }

    pub fn can_undo(&self, by: &Author) -> bool {
        self.stacks_of(by).is_some_and(|s| !s.undo.is_empty())
    }

    pub fn can_redo(&self, by: &Author) -> bool {
        self.stacks_of(by).is_some_and(|s| !s.redo.is_empty())
    }

    /// The change `by`'s next undo would take back, as it was first made: an edit or a restore (an undone and
    /// redone change is still that change).
    pub fn next_undo(&self, by: &Author) -> Option<&HistoryEntry> {
        self.original(*self.stacks_of(by)?.undo.back()?)
    }

    /// The change `by`'s next redo would make again, as it was first made: an edit or a restore.
    pub fn next_redo(&self, by: &Author) -> Option<&HistoryEntry> {
        self.original(*self.stacks_of(by)?.redo.last()?)
    }

    /// The edit or restore that version `version` made, took back or made again.
    fn original(&self, mut version: Version) -> Option<&HistoryEntry> {
        loop {
            let entry = self.entry(version)?;
            match entry.action {
                Action::Edit { .. } | Action::Restore { .. } => return Some(entry),
                // Earlier versions only, so this ends.
                Action::Undo { of } | Action::Redo { of } if of < version => version = of,
                Action::Undo { .. } | Action::Redo { .. } => return None,
            }
        }
    }

    /// Applies an edit made by `by` on version `based_on`; see the module docs for the merge rules.
    pub fn apply(
        &mut self,
        edit: Edit,
        based_on: Version,
        by: &Author,
        time: Timestamp,
    ) -> Result<Applied, ApplyError> {
        if based_on > self.version {
            return Err(ApplyError::UnknownVersion {
                requested: based_on,
                current: self.version,
            });
        }
        let version = self.version.next().ok_or(ApplyError::VersionsExhausted)?;
        let stale = based_on < self.version;
        if stale && edit.position().is_some_and(Position::is_index) {
            return Err(self.conflict(based_on, ConflictCause::StaleIndex));
        }
        let resolved = match self.forest.apply_edit(&edit, &mut self.ids) {
            Ok(resolved) => resolved,
            Err(error) if stale => return Err(self.explain(based_on, error)),
            Err(error) => return Err(error.into()),
        };
        self.push(HistoryEntry {
            version,
            actor: by.actor.clone(),
            session: by.session.clone(),
            time,
            action: Action::Edit { edit, based_on },
            change: resolved.change,
            inverse: resolved.inverse,
        });
        Ok(Applied {
            version,
            merged: stale,
            created: resolved.created,
        })
    }

    /// Takes back `by`'s most recent change of this session that is not yet undone.
    pub fn undo(&mut self, by: &Author, time: Timestamp) -> Result<Applied, ApplyError> {
        let Some(&of) = self.stacks_of(by).and_then(|s| s.undo.back()) else {
            return Err(ApplyError::NothingToUndo(by.actor.clone()));
        };
        self.replay_inverse(of, by, time, Action::Undo { of })
    }

    /// Re-applies `by`'s most recently undone change of this session.
    pub fn redo(&mut self, by: &Author, time: Timestamp) -> Result<Applied, ApplyError> {
        let Some(&of) = self.stacks_of(by).and_then(|s| s.redo.last()) else {
            return Err(ApplyError::NothingToRedo(by.actor.clone()));
        };
        self.replay_inverse(of, by, time, Action::Redo { of })
    }

    /// Makes the forest exactly what it was at version `to` (row ids included), as a new version that `by`
    /// can undo like an edit. `created` lists every row the restore brings back, in forest order. `shown_as`:
    /// see [`Action::Restore`].
    pub fn restore(
        &mut self,
        to: Version,
        shown_as: Option<u64>,
        by: &Author,
        time: Timestamp,
    ) -> Result<Applied, ApplyError> {
        if to == self.version {
            return Err(ApplyError::AlreadyCurrent(to));
        }
        let target = self.rebuild(to)?;
        let version = self.version.next().ok_or(ApplyError::VersionsExhausted)?;
        let change = replacement(&self.forest, &target);
        let inverse = self.forest.apply_change(&change)?;
        let created = change.inserted_rows().collect();
        self.push(HistoryEntry {
            version,
            actor: by.actor.clone(),
            session: by.session.clone(),
            time,
            action: Action::Restore { to, shown_as },
            change,
            inverse,
        });
        Ok(Applied {
            version,
            merged: false,
            created,
        })
    }

    /// Drops the change `by` would undo next (for instance after its undo conflicted); returns its version.
    pub fn discard_undo(&mut self, by: &Author) -> Option<Version> {
        self.stacks.get_mut(&by.owner()?)?.undo.pop_back()
    }

    /// The forest as it was at `version`.
    pub fn rebuild(&self, version: Version) -> Result<Forest, ApplyError> {
        let unknown = ApplyError::UnknownVersion {
            requested: version,
            current: self.version,
        };
        let Ok(split) = usize::try_from(version.get()) else {
            return Err(unknown);
        };
        if version > self.version {
            return Err(unknown);
        }
        let (before, after) = self.history.split_at(split);
        if before.len() <= after.len() {
            let mut forest = Forest::new();
            forest.apply_changes(before.iter().map(|e| &e.change))?;
            Ok(forest)
        } else {
            let mut forest = self.forest.clone();
            forest.apply_changes(after.iter().rev().map(|e| &e.inverse))?;
            Ok(forest)
        }
    }

    fn replay_inverse(
        &mut self,
        of: Version,
        by: &Author,
        time: Timestamp,
        action: Action,
    ) -> Result<Applied, ApplyError> {
        let version = self.version.next().ok_or(ApplyError::VersionsExhausted)?;
        let Some(change) = self.entry(of).map(|e| e.inverse.clone()) else {
            return Err(ApplyError::UnknownVersion {
                requested: of,
                current: self.version,
            });
        };
        let inverse = match self.forest.apply_change(&change) {
            Ok(inverse) => inverse,
            Err(error) => return Err(self.explain(of, error)),
        };
        let created = change.inserted_rows().collect();
        let merged = of < self.version;
        self.push(HistoryEntry {
            version,
            actor: by.actor.clone(),
            session: by.session.clone(),
            time,
            action,
            change,
            inverse,
        });
        Ok(Applied {
            version,
            merged,
            created,
        })
    }

    fn push(&mut self, entry: HistoryEntry) {
        // Entries made here always match the stacks, so tracking cannot fail.
        let tracked = self.track(&entry);
        debug_assert!(tracked.is_ok(), "undo stacks out of step: {tracked:?}");
        self.version = entry.version;
        self.history.push(entry);
    }

    /// Updates the undo and redo stacks of the entry's author in its session (none without a session).
    fn track(&mut self, entry: &HistoryEntry) -> Result<(), HistoryError> {
        let Some(session) = &entry.session else {
            return Ok(());
        };
        let stacks = self
            .stacks
            .entry((entry.actor.clone(), session.clone()))
            .or_default();
        let inconsistent = |of| HistoryError::Inconsistent {
            version: entry.version,
            of,
            actor: entry.actor.clone(),
        };
        match entry.action {
            Action::Edit { .. } | Action::Restore { .. } => {
                stacks.undo.push_back(entry.version);
                stacks.redo.clear();
            }
            Action::Undo { of } => {
                if stacks.undo.back() != Some(&of) {
                    return Err(inconsistent(of));
                }
                stacks.undo.pop_back();
                stacks.redo.push(entry.version);
            }
            Action::Redo { of } => {
                if stacks.redo.last() != Some(&of) {
                    return Err(inconsistent(of));
                }
                stacks.redo.pop();
                stacks.undo.push_back(entry.version);
            }
        }
        if stacks.undo.len() > UNDO_DEPTH {
            stacks.undo.pop_front();
        }
        Ok(())
    }

    fn conflict(&self, based_on: Version, cause: ConflictCause) -> ApplyError {
        ApplyError::Conflict(Box::new(Conflict {
            based_on,
            current: self.version,
            cause,
        }))
    }

    /// Turns the failure of something based on an older version into a conflict naming what changed, when
    /// the failure can come from the changes made since.
    fn explain(&self, based_on: Version, error: EditError) -> ApplyError {
        let since = self.entries_after(based_on);
        match error {
            EditError::RowNotFound(row) => match since.iter().rev().find(|e| removes(e, row)) {
                Some(entry) => self.conflict(
                    based_on,
                    ConflictCause::RowRemoved {
                        row,
                        version: entry.version,
                        actor: entry.actor.clone(),
                    },
                ),
                None => error.into(),
            },
            EditError::DuplicateRow(_) | EditError::NoRows | EditError::RowIdsExhausted => {
                error.into()
            }
            EditError::RowExists(_)
            | EditError::TargetInsideMoved { .. }
            | EditError::IndexOutOfRange { .. }
            | EditError::TooDeep
            | EditError::TooManyRows => {
                let mut actors: Vec<ActorId> = Vec::new();
                for entry in since {
                    if !actors.contains(&entry.actor) {
                        actors.push(entry.actor.clone());
                    }
                }
                self.conflict(based_on, ConflictCause::Changed { error, actors })
            }
        }
    }

    fn entries_after(&self, version: Version) -> &[HistoryEntry] {
        let start = usize::try_from(version.get()).unwrap_or(usize::MAX);
        self.history.get(start..).unwrap_or_default()
    }
}

/// The change that turns `current` into `target` wholesale: remove every top-level row, then insert the
/// target's top-level subtrees, with their ids, in order.
fn replacement(current: &Forest, target: &Forest) -> Change {
    let mut steps: Vec<Step> = current
        .roots()
        .map(|pos| Step::Remove {
            row: current.row_id(pos),
        })
        .collect();
    let mut previous = None;
    for pos in target.roots() {
        let rows = target
            .subtree_range(pos)
            .map(|p| target.row(p).to_row())
            .collect();
        let at = match previous {
            None => Anchor::First { parent: None },
            Some(root) => Anchor::After(root),
        };
        steps.push(Step::Insert {
            rows: Subtree::from_forest_rows(rows),
            at,
        });
        previous = Some(target.row_id(pos));
    }
    Change::new(steps)
}

/// Whether an entry removed `row` (its inverse brings the row back).
fn removes(entry: &HistoryEntry, row: RowId) -> bool {
    entry.inverse.steps().iter().any(|step| match step {
        Step::Insert { rows, .. } => rows.rows().iter().any(|r| r.id == row),
        Step::Move { .. } | Step::Remove { .. } => false,
    })
}
