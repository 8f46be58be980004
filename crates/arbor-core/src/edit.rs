//! Editing a forest: what clients ask for ([`Edit`]), what that resolves to ([`Change`]), and how to undo it.
//!
//! An [`Edit`] speaks the client's language: add these rows, move or copy or remove these rows, placed
//! *under* a row (first, last, or at an index), *before* a row or *after* a row. Applying it resolves it
//! against the forest into a [`Change`]: a list of single-row [`Step`]s with explicit row ids and concrete
//! anchors ("first child of 12", "after 40"). Each step's inverse is computed from the forest as it was just
//! before the step, so the inverse of a change (its steps' inverses in reverse order) restores the forest
//! exactly, row ids included. Undo, redo and the history replay changes, never edits, so replays are exact
//! and do not depend on how an edit was resolved.
//!
//! Rules for several rows at once:
//! - Listed rows that lie inside another listed row's subtree go along with it; the others keep the order they
//!   have in the forest and end up next to each other at the target.
//! - A row listed twice, an empty list, a missing row, or a target inside a moved subtree (including a moved
//!   row itself) is an error, and a failed edit changes nothing.
//! - Under a parent, `Last` and `Index` count the children that are not themselves being moved.
//! - Copies take the content as it was before the edit, so copying a row into its own subtree is fine.
//! - New rows get ids from a [`RowIdAllocator`], in the order the rows appear in the edit; ids are never
//!   reused, which is what lets redo bring back a row under its old id.
//!
//! Cost: applying an edit or change converts the forest to linked nodes, applies the steps in O(1) each (plus
//! the size of copied or removed subtrees), and flattens it back: O(rows + steps), independent of how many rows
//! are selected. Replaying many changes at once ([`Forest::apply_changes`]) pays the O(rows) part only once.

mod draft;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::forest::{Forest, Item, MAX_DEPTH, MAX_ROWS, Row};
use crate::ids::RowId;

use draft::Draft;

/// Where among a parent's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    First,
    Last,
    /// Before the child at this index (0 = first); the number of children means last. Counts only children
    /// that are not being moved by the same edit. Index positions need the client's version to be current.
    Index(u32),
}

/// Where an edit puts rows, relative to rows that exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// Among the children of `parent`; `None` is the top level.
    Under {
        parent: Option<RowId>,
        at: Slot,
    },
    Before(RowId),
    After(RowId),
}

impl Position {
    pub fn first_under(parent: Option<RowId>) -> Self {
        Position::Under {
            parent,
            at: Slot::First,
        }
    }

    pub fn last_under(parent: Option<RowId>) -> Self {
        Position::Under {
            parent,
            at: Slot::Last,
        }
    }

    /// Whether this position depends on counting rows (and so cannot be merged with concurrent edits).
    pub fn is_index(self) -> bool {
        matches!(
            self,
            Position::Under {
                at: Slot::Index(_),
                ..
            }
        )
    }

    /// The row this position is relative to, if any.
    pub fn reference(self) -> Option<RowId> {
        match self {
            Position::Under { parent, .. } => parent,
            Position::Before(row) | Position::After(row) => Some(row),
        }
    }
}

/// Why a list of rows given to an edit is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowsError {
    #[error("no rows given")]
    Empty,
    #[error("the first row must be at depth 0, not {depth}")]
    FirstRowNotTopLevel { depth: u16 },
    #[error(
        "row {index} jumps from depth {previous} to {depth}; a row can be at most one level deeper than the row before it"
    )]
    DepthJump {
        index: usize,
        depth: u16,
        previous: u16,
    },
    #[error("a subtree has exactly one row at depth 0, but row {index} is another")]
    SecondRoot { index: usize },
    #[error("row id {0} appears more than once")]
    DuplicateRowId(RowId),
}

fn check_depths(depths: impl Iterator<Item = u16>) -> Result<(), RowsError> {
    let mut previous = None;
    for (index, depth) in depths.enumerate() {
        match previous {
            None if depth != 0 => return Err(RowsError::FirstRowNotTopLevel { depth }),
            Some(previous) if u32::from(depth) > u32::from(previous) + 1 => {
                return Err(RowsError::DepthJump {
                    index,
                    depth,
                    previous,
                });
            }
            _ => {}
        }
        previous = Some(depth);
    }
    if previous.is_none() {
        return Err(RowsError::Empty);
    }
    Ok(())
}

/// A row to be created by [`Edit::Add`]; its id is handed out when the edit is applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NewRow {
    pub depth: u16,
    pub item: Item,
}

impl NewRow {
    pub fn new(depth: u16, item: Item) -> Self {
        Self { depth, item }
    }
}

/// One or more subtrees of new rows, depths relative to the insertion point: non-empty, first row at depth 0,
/// each row at most one level deeper than the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "Vec<NewRow>")]
pub struct Fragment(Vec<NewRow>);

impl Fragment {
    pub fn new(rows: Vec<NewRow>) -> Result<Self, RowsError> {
        check_depths(rows.iter().map(|r| r.depth))?;
        Ok(Self(rows))
    }

    /// A single new row without children.
    pub fn single(item: Item) -> Self {
        Self(vec![NewRow::new(0, item)])
    }

    pub fn rows(&self) -> &[NewRow] {
        &self.0
    }

    /// The subtrees, each starting at a depth-0 row.
    fn subtrees(&self) -> impl Iterator<Item = &[NewRow]> {
        self.0.chunk_by(|_, next| next.depth > 0)
    }
}

impl TryFrom<Vec<NewRow>> for Fragment {
    type Error = RowsError;

    fn try_from(rows: Vec<NewRow>) -> Result<Self, RowsError> {
        Self::new(rows)
    }
}

impl Serialize for Fragment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// What a client asks for. On the wire: `{"op": "move", "rows": [4, 9], "to": {"after": 2}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Edit {
    Add { rows: Fragment, at: Position },
    Move { rows: Vec<RowId>, to: Position },
    Remove { rows: Vec<RowId> },
    Copy { rows: Vec<RowId>, to: Position },
}

impl Edit {
    /// The target position, for edits that have one.
    pub fn position(&self) -> Option<Position> {
        match self {
            Edit::Add { at, .. } => Some(*at),
            Edit::Move { to, .. } | Edit::Copy { to, .. } => Some(*to),
            Edit::Remove { .. } => None,
        }
    }
}

/// A concrete place: first child of a parent (`None` = top level), or right after a sibling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anchor {
    First { parent: Option<RowId> },
    After(RowId),
}

/// Exactly one subtree of rows with ids: first row at depth 0, all others deeper, depths stepping by at most
/// one, ids distinct.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "Vec<Row>")]
pub struct Subtree(Vec<Row>);

impl Subtree {
    pub fn new(rows: Vec<Row>) -> Result<Self, RowsError> {
        check_depths(rows.iter().map(|r| r.depth))?;
        if let Some(index) = rows.iter().skip(1).position(|r| r.depth == 0) {
            return Err(RowsError::SecondRoot { index: index + 1 });
        }
        let mut seen = HashSet::with_capacity(rows.len());
        if let Some(row) = rows.iter().find(|r| !seen.insert(r.id)) {
            return Err(RowsError::DuplicateRowId(row.id));
        }
        Ok(Self(rows))
    }

    /// For rows collected from a forest, which satisfy the rules by construction.
    pub(crate) fn from_forest_rows(rows: Vec<Row>) -> Self {
        Self(rows)
    }

    pub fn rows(&self) -> &[Row] {
        &self.0
    }

    pub fn root(&self) -> RowId {
        // Never empty by construction; the first row is the root.
        self.0[0].id
    }
}

impl TryFrom<Vec<Row>> for Subtree {
    type Error = RowsError;

    fn try_from(rows: Vec<Row>) -> Result<Self, RowsError> {
        Self::new(rows)
    }
}

impl Serialize for Subtree {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// One exact, single-row change to a forest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "lowercase")]
pub enum Step {
    /// Creates the subtree, with these ids, at the anchor.
    Insert { rows: Subtree, at: Anchor },
    /// Moves the row with its subtree to the anchor.
    Move { row: RowId, to: Anchor },
    /// Removes the row with its subtree.
    Remove { row: RowId },
}

/// What an edit, an undo or a redo did, step by step; applying it to the forest it was made on reproduces the
/// result exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Change(Vec<Step>);

impl Change {
    pub fn new(steps: Vec<Step>) -> Self {
        Self(steps)
    }

    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every row that applying this change creates (including the rows of inserted subtrees).
    pub fn inserted_rows(&self) -> impl Iterator<Item = RowId> + '_ {
        self.0
            .iter()
            .flat_map(|step| match step {
                Step::Insert { rows, .. } => rows.rows(),
                Step::Move { .. } | Step::Remove { .. } => &[],
            })
            .map(|row| row.id)
    }
}

/// Hands out row ids from a counter, never the same one twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIdAllocator {
    /// `None` once every id up to [`crate::ids::MAX_ID`] has been handed out.
    next: Option<RowId>,
}

impl Default for RowIdAllocator {
    fn default() -> Self {
        Self::starting_at(RowId::FIRST)
    }
}

impl RowIdAllocator {
    pub fn starting_at(first: RowId) -> Self {
        Self { next: Some(first) }
    }

    /// An allocator whose ids are all larger than any row id in `forest`.
    pub fn after(forest: &Forest) -> Self {
        match forest.row_ids().iter().max() {
            Some(max) => Self { next: max.next() },
            None => Self::default(),
        }
    }

    /// The id the next allocation returns.
    pub fn peek(&self) -> Option<RowId> {
        self.next
    }

    /// Makes sure later ids are larger than `id` (used when rebuilding from a history).
    pub fn skip_past(&mut self, id: RowId) {
        if self.next.is_some_and(|next| next <= id) {
            self.next = id.next();
        }
    }

    pub fn allocate(&mut self) -> Result<RowId, EditError> {
        let id = self.next.ok_or(EditError::RowIdsExhausted)?;
        self.next = id.next();
        Ok(id)
    }
}

/// What applying an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The exact steps applied.
    pub change: Change,
    /// The steps that take the forest back to where it was.
    pub inverse: Change,
    /// Ids of the rows created, in the order of the edit's rows (for copies, in forest order of the copies).
    pub created: Vec<RowId>,
}

/// Why an edit or change cannot be applied. A failed edit leaves the forest unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("row {0} does not exist")]
    RowNotFound(RowId),
    #[error("row {0} is listed more than once")]
    DuplicateRow(RowId),
    #[error("row {0} already exists")]
    RowExists(RowId),
    #[error("the edit lists no rows")]
    NoRows,
    #[error(
        "row {target} is inside the subtree of row {moved}, which is being moved; a row cannot be moved into its own subtree"
    )]
    TargetInsideMoved { target: RowId, moved: RowId },
    #[error("index {index} is past the end of the {children} children")]
    IndexOutOfRange { index: u32, children: usize },
    #[error("the edit would nest rows deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the edit would make the forest larger than {MAX_ROWS} rows")]
    TooManyRows,
    #[error("no more row ids are available")]
    RowIdsExhausted,
}

impl Forest {
    /// Applies a client's edit, handing out ids for new rows from `ids`.
    pub fn apply_edit(
        &mut self,
        edit: &Edit,
        ids: &mut RowIdAllocator,
    ) -> Result<Resolved, EditError> {
        let mut local_ids = ids.clone();
        let mut draft = Draft::new(self);
        let resolved = draft.run_edit(edit, &mut local_ids)?;
        draft.finish()?.commit(self);
        *ids = local_ids;
        Ok(resolved)
    }

    /// Applies an exact change and returns its inverse.
    pub fn apply_change(&mut self, change: &Change) -> Result<Change, EditError> {
        let mut draft = Draft::new(self);
        let mut inverse = Vec::new();
        for step in change.steps() {
            draft.step(step, Some(&mut inverse))?;
        }
        draft.finish()?.commit(self);
        inverse.reverse();
        Ok(Change(inverse))
    }

    /// Applies several changes in order, all or none, flattening the forest only once.
    pub fn apply_changes<'c>(
        &mut self,
        changes: impl IntoIterator<Item = &'c Change>,
    ) -> Result<(), EditError> {
        let mut draft = Draft::new(self);
        for change in changes {
            for step in change.steps() {
                draft.step(step, None)?;
            }
        }
        draft.finish()?.commit(self);
        Ok(())
    }
}
