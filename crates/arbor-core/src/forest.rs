//! The forest: a structure's content as an ordered list of rows `(row id, depth, item)`.
//!
//! This is Structure's own wire format and also the fastest shape to walk: a row's subtree is the contiguous run
//! of rows after it that are deeper than it, so totals, filters and rendering are linear scans over flat arrays.
//!
//! Representation (struct of arrays, about 18 bytes per row plus the row-id index, see [`Forest::heap_bytes`]):
//! - `ids: Vec<RowId>` and `depths: Vec<u16>`, one entry per row;
//! - `items: Vec<u64>`: an item packed into one word, its kind in the top 3 bits and its payload (issue id,
//!   generator id, or a slot in the text table) below — ids are bounded by [`MAX_ID`] for this;
//! - a text table for folder names and memo texts, with a free list so that edits do not leak slots;
//! - an index from row id to position: a plain array offset by the smallest id when ids are dense (they are
//!   when a structure hands them out from a counter: 4 bytes per row, no hashing), a hash map otherwise.
//!
//! Invariants (checked by [`Forest::check_invariants`], kept by every constructor and by editing):
//! - the first row has depth 0, and each row's depth is at most the previous row's depth + 1;
//! - row ids are unique, and the index maps each of them to its position;
//! - every folder or memo row owns exactly one live text slot of its kind;
//! - at most [`MAX_ROWS`] rows and depths of at most [`MAX_DEPTH`].
//!
//! Positions (`usize`) are only meaningful for one forest value: editing shifts them. Row ids are stable.
//! Accessors taking a position panic when it is out of range, like slice indexing; positions come from this
//! forest's own iterators and lookups, never from outside input.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::ids::{FolderName, GeneratorId, IssueId, MAX_ID, MemoText, RowId};

/// The deepest level a row can have; the top level is 0.
pub const MAX_DEPTH: u16 = u16::MAX;

/// The most rows a forest can hold: positions are kept as `u32`, with `u32::MAX` meaning "none".
pub const MAX_ROWS: usize = u32::MAX as usize;

const NONE: u32 = u32::MAX;

/// What a row shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Item {
    /// A Jira issue, by numeric id only.
    Issue(IssueId),
    Folder(FolderName),
    Memo(MemoText),
    /// A generator; its configuration is stored elsewhere under this id.
    Generator(GeneratorId),
}

impl Item {
    pub fn as_ref(&self) -> ItemRef<'_> {
        match self {
            Item::Issue(id) => ItemRef::Issue(*id),
            Item::Folder(name) => ItemRef::Folder(name),
            Item::Memo(text) => ItemRef::Memo(text),
            Item::Generator(id) => ItemRef::Generator(*id),
        }
    }
}

/// A borrowed view of a row's item, as the forest hands it out without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemRef<'f> {
    Issue(IssueId),
    Folder(&'f FolderName),
    Memo(&'f MemoText),
    Generator(GeneratorId),
}

impl ItemRef<'_> {
    pub fn to_item(self) -> Item {
        match self {
            ItemRef::Issue(id) => Item::Issue(id),
            ItemRef::Folder(name) => Item::Folder(name.clone()),
            ItemRef::Memo(text) => Item::Memo(text.clone()),
            ItemRef::Generator(id) => Item::Generator(id),
        }
    }
}

/// An owned row, as used to build forests and on the wire: `{"id": 7, "depth": 1, "item": {"issue": 10001}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Row {
    pub id: RowId,
    pub depth: u16,
    pub item: Item,
}

impl Row {
    pub fn new(id: RowId, depth: u16, item: Item) -> Self {
        Self { id, depth, item }
    }
}

/// A borrowed row together with its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RowRef<'f> {
    #[serde(skip)]
    pub pos: usize,
    pub id: RowId,
    pub depth: u16,
    pub item: ItemRef<'f>,
}

impl RowRef<'_> {
    pub fn to_row(self) -> Row {
        Row::new(self.id, self.depth, self.item.to_item())
    }
}

/// Why a list of rows is not a forest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForestError {
    #[error("the first row ({row}) must be at depth 0, not {depth}")]
    FirstRowNotTopLevel { row: RowId, depth: u16 },
    #[error(
        "row {row} jumps from depth {previous} to {depth}; a row can be at most one level deeper than the row before it"
    )]
    DepthJump {
        row: RowId,
        depth: u16,
        previous: u16,
    },
    #[error("row id {0} appears more than once")]
    DuplicateRowId(RowId),
    #[error("a forest holds at most {MAX_ROWS} rows")]
    TooManyRows,
    #[error("internal inconsistency: {0}")]
    Corrupt(String),
}

// ---------------------------------------------------------------------------------------------------------
// Packed items and the text table.

const TAG_SHIFT: u32 = 61;
const PAYLOAD_MASK: u64 = MAX_ID;
const TAG_ISSUE: u64 = 0;
const TAG_FOLDER: u64 = 1;
const TAG_MEMO: u64 = 2;
const TAG_GENERATOR: u64 = 3;

/// An item in one word: kind in the top 3 bits, payload below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packed(u64);

impl Packed {
    fn new(tag: u64, payload: u64) -> Self {
        Self((tag << TAG_SHIFT) | (payload & PAYLOAD_MASK))
    }

    fn tag(self) -> u64 {
        self.0 >> TAG_SHIFT
    }

    fn payload(self) -> u64 {
        self.0 & PAYLOAD_MASK
    }

    /// The text slot this item owns, if it is a folder or memo.
    fn text_slot(self) -> Option<usize> {
        matches!(self.tag(), TAG_FOLDER | TAG_MEMO).then(|| slot_index(self.payload()))
    }
}

fn slot_index(payload: u64) -> usize {
    // Slots are created from `usize` indexes below `MAX_ROWS`, so this never saturates in practice.
    usize::try_from(payload).unwrap_or(usize::MAX)
}

#[derive(Debug, Clone)]
enum Text {
    Folder(FolderName),
    Memo(MemoText),
    Free,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TextTable {
    slots: Vec<Text>,
    free: Vec<usize>,
}

impl TextTable {
    fn insert(&mut self, text: Text) -> u64 {
        let slot = if let Some(slot) = self.free.pop() {
            self.slots[slot] = text;
            slot
        } else {
            self.slots.push(text);
            self.slots.len() - 1
        };
        slot as u64
    }

    fn release(&mut self, slot: usize) {
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = Text::Free;
            self.free.push(slot);
        }
    }

    fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn heap_bytes(&self) -> usize {
        let strings: usize = self
            .slots
            .iter()
            .map(|t| match t {
                Text::Folder(name) => name.as_str().len(),
                Text::Memo(text) => text.as_str().len(),
                Text::Free => 0,
            })
            .sum();
        self.slots.capacity() * size_of::<Text>()
            + self.free.capacity() * size_of::<usize>()
            + strings
    }
}

pub(crate) fn pack(texts: &mut TextTable, item: Item) -> Packed {
    match item {
        Item::Issue(id) => Packed::new(TAG_ISSUE, id.get()),
        Item::Generator(id) => Packed::new(TAG_GENERATOR, id.get()),
        Item::Folder(name) => Packed::new(TAG_FOLDER, texts.insert(Text::Folder(name))),
        Item::Memo(text) => Packed::new(TAG_MEMO, texts.insert(Text::Memo(text))),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The row-id index.

#[derive(Debug, Clone)]
enum RowIndex {
    /// `slots[id - base]` is the position of row `id`, or `NONE`.
    Dense {
        base: u64,
        slots: Vec<u32>,
    },
    Sparse(HashMap<RowId, u32>),
}

impl Default for RowIndex {
    fn default() -> Self {
        RowIndex::Dense {
            base: 0,
            slots: Vec::new(),
        }
    }
}

impl RowIndex {
    /// Builds the index and reports the first duplicate id, if any (the index then maps it to its last row).
    fn build(ids: &[RowId]) -> (RowIndex, Option<RowId>) {
        let (Some(min), Some(max)) = (
            ids.iter().map(|id| id.get()).min(),
            ids.iter().map(|id| id.get()).max(),
        ) else {
            return (RowIndex::default(), None);
        };
        let mut duplicate = None;
        let span = max - min + 1;
        // Dense costs 4 bytes per id in the span, a hash map roughly 25–40 bytes per row: dense wins while the
        // span is within a few times the row count.
        let dense_limit = (ids.len() as u64).saturating_mul(4).saturating_add(1024);
        if span <= dense_limit
            && let Ok(span) = usize::try_from(span)
        {
            let mut slots = vec![NONE; span];
            for (pos, id) in ids.iter().enumerate() {
                let slot = &mut slots[slot_index(id.get() - min)];
                if *slot != NONE && duplicate.is_none() {
                    duplicate = Some(*id);
                }
                *slot = position_u32(pos);
            }
            (RowIndex::Dense { base: min, slots }, duplicate)
        } else {
            let mut map = HashMap::with_capacity(ids.len());
            for (pos, id) in ids.iter().enumerate() {
                if map.insert(*id, position_u32(pos)).is_some() && duplicate.is_none() {
                    duplicate = Some(*id);
                }
            }
            (RowIndex::Sparse(map), duplicate)
        }
    }

    fn get(&self, id: RowId) -> Option<usize> {
        let pos = match self {
            RowIndex::Dense { base, slots } => {
                let offset = id.get().checked_sub(*base)?;
                *slots.get(usize::try_from(offset).ok()?)?
            }
            RowIndex::Sparse(map) => *map.get(&id)?,
        };
        (pos != NONE).then_some(pos as usize)
    }

    fn heap_bytes(&self) -> usize {
        match self {
            RowIndex::Dense { slots, .. } => slots.capacity() * size_of::<u32>(),
            // hashbrown: one bucket per capacity slot plus one control byte, at 7/8 load.
            RowIndex::Sparse(map) => map.capacity() * 8 / 7 * (size_of::<(RowId, u32)>() + 1),
        }
    }
}

/// Positions are below `MAX_ROWS` by construction, so they fit.
fn position_u32(pos: usize) -> u32 {
    u32::try_from(pos).unwrap_or(NONE)
}

// ---------------------------------------------------------------------------------------------------------
// The forest.

/// An ordered forest of rows; see the module docs for the representation and its invariants.
#[derive(Clone, Default)]
pub struct Forest {
    pub(crate) ids: Vec<RowId>,
    pub(crate) depths: Vec<u16>,
    pub(crate) items: Vec<Packed>,
    pub(crate) texts: TextTable,
    index: RowIndex,
}

impl Forest {
    /// The empty forest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a forest from rows in order, checking every invariant.
    pub fn from_rows(rows: impl IntoIterator<Item = Row>) -> Result<Self, ForestError> {
        let rows = rows.into_iter();
        let mut builder = ForestBuilder::with_capacity(rows.size_hint().0);
        for row in rows {
            builder.push(row.id, row.depth, row.item)?;
        }
        builder.finish()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// All row ids in order, for callers that scan columns directly.
    pub fn row_ids(&self) -> &[RowId] {
        &self.ids
    }

    /// All depths in order.
    pub fn depths(&self) -> &[u16] {
        &self.depths
    }

    pub fn row_id(&self, pos: usize) -> RowId {
        self.ids[pos]
    }

    pub fn depth(&self, pos: usize) -> u16 {
        self.depths[pos]
    }

    pub fn item(&self, pos: usize) -> ItemRef<'_> {
        self.unpack(self.items[pos])
    }

    /// The issue shown at `pos`, if the row is an issue; cheaper than [`Forest::item`] in hot loops.
    pub fn issue(&self, pos: usize) -> Option<IssueId> {
        let packed = self.items[pos];
        if packed.tag() == TAG_ISSUE {
            IssueId::new(packed.payload()).ok()
        } else {
            None
        }
    }

    pub fn row(&self, pos: usize) -> RowRef<'_> {
        RowRef {
            pos,
            id: self.ids[pos],
            depth: self.depths[pos],
            item: self.item(pos),
        }
    }

    pub fn get(&self, pos: usize) -> Option<RowRef<'_>> {
        (pos < self.len()).then(|| self.row(pos))
    }

    /// Rows in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = RowRef<'_>> + ExactSizeIterator {
        (0..self.len()).map(|pos| self.row(pos))
    }

    /// Owned copies of all rows, in order.
    pub fn to_rows(&self) -> Vec<Row> {
        self.iter().map(RowRef::to_row).collect()
    }

    /// Where a row is, in O(1).
    pub fn position_of(&self, id: RowId) -> Option<usize> {
        self.index.get(id)
    }

    pub fn contains(&self, id: RowId) -> bool {
        self.position_of(id).is_some()
    }

    /// One past the last row of the subtree rooted at `pos`. O(size of the subtree).
    pub fn subtree_end(&self, pos: usize) -> usize {
        let depth = self.depths[pos];
        self.depths[pos + 1..]
            .iter()
            .position(|&d| d <= depth)
            .map_or(self.len(), |offset| pos + 1 + offset)
    }

    /// The row at `pos` and all its descendants: always a contiguous range starting at `pos`.
    pub fn subtree_range(&self, pos: usize) -> Range<usize> {
        pos..self.subtree_end(pos)
    }

    /// The parent's position, or `None` for a top-level row. O(distance to the parent).
    pub fn parent_of(&self, pos: usize) -> Option<usize> {
        let depth = self.depths[pos];
        let parent_depth = depth.checked_sub(1)?;
        self.depths[..pos].iter().rposition(|&d| d == parent_depth)
    }

    /// Parents up to the top level, nearest first.
    pub fn ancestors_of(&self, pos: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(self.parent_of(pos), |&p| self.parent_of(p))
    }

    /// Positions of the direct children of `pos`, in order. O(size of the subtree).
    pub fn children_of(&self, pos: usize) -> Children<'_> {
        Children {
            depths: &self.depths,
            next: pos + 1,
            end: self.subtree_end(pos),
            depth: self.depths[pos] + 1,
        }
    }

    /// Positions of the top-level rows, in order. O(n).
    pub fn roots(&self) -> Children<'_> {
        Children {
            depths: &self.depths,
            next: 0,
            end: self.len(),
            depth: 0,
        }
    }

    pub fn is_leaf(&self, pos: usize) -> bool {
        self.depths
            .get(pos + 1)
            .is_none_or(|&next| next <= self.depths[pos])
    }

    /// Positions of the leaves in the subtree of `pos` (the row itself if it has no children).
    pub fn leaves_of(&self, pos: usize) -> impl Iterator<Item = usize> + '_ {
        self.subtree_range(pos).filter(|&p| self.is_leaf(p))
    }

    /// Parent and subtree-end arrays for the whole forest in one O(n) pass, for callers that walk the tree
    /// many times (totals, generators, rendering).
    pub fn topology(&self) -> Topology {
        Topology::new(&self.depths)
    }

    /// Approximate heap memory held by this forest, for `bytes_per_row` figures.
    pub fn heap_bytes(&self) -> usize {
        self.ids.capacity() * size_of::<RowId>()
            + self.depths.capacity() * size_of::<u16>()
            + self.items.capacity() * size_of::<Packed>()
            + self.texts.heap_bytes()
            + self.index.heap_bytes()
    }

    /// Checks every invariant from the module docs; used by tests and after loading untrusted data.
    pub fn check_invariants(&self) -> Result<(), ForestError> {
        let corrupt = |what: String| Err(ForestError::Corrupt(what));
        if self.ids.len() != self.depths.len() || self.ids.len() != self.items.len() {
            return corrupt("column lengths differ".into());
        }
        if self.len() > MAX_ROWS {
            return Err(ForestError::TooManyRows);
        }
        let mut previous: Option<u16> = None;
        for (pos, (&id, &depth)) in self.ids.iter().zip(&self.depths).enumerate() {
            check_depth(id, depth, previous)?;
            previous = Some(depth);
            if self.index.get(id) != Some(pos) {
                // Either a duplicate (the index points at the other copy) or a stale index.
                let (_, duplicate) = RowIndex::build(&self.ids);
                return match duplicate {
                    Some(dup) => Err(ForestError::DuplicateRowId(dup)),
                    None => corrupt(format!("index does not map row {id} to position {pos}")),
                };
            }
        }
        let mut text_rows = 0;
        for (pos, packed) in self.items.iter().enumerate() {
            let valid = match packed.tag() {
                TAG_ISSUE | TAG_GENERATOR => packed.payload() != 0,
                TAG_FOLDER => {
                    text_rows += 1;
                    matches!(
                        self.texts.slots.get(slot_index(packed.payload())),
                        Some(Text::Folder(_))
                    )
                }
                TAG_MEMO => {
                    text_rows += 1;
                    matches!(
                        self.texts.slots.get(slot_index(packed.payload())),
                        Some(Text::Memo(_))
                    )
                }
                _ => false,
            };
            if !valid {
                return corrupt(format!("row at position {pos} has an invalid item"));
            }
        }
        if text_rows != self.texts.live() {
            return corrupt(format!(
                "{text_rows} folder and memo rows but {} live texts",
                self.texts.live()
            ));
        }
        Ok(())
    }

    fn unpack(&self, packed: Packed) -> ItemRef<'_> {
        // Ids were valid when packed; the fallbacks are unreachable but keep this free of panics.
        let payload = packed.payload();
        match (packed.tag(), self.texts.slots.get(slot_index(payload))) {
            (TAG_GENERATOR, _) => {
                ItemRef::Generator(GeneratorId::new(payload).unwrap_or(GeneratorId::MIN))
            }
            (TAG_FOLDER, Some(Text::Folder(name))) => ItemRef::Folder(name),
            (TAG_MEMO, Some(Text::Memo(text))) => ItemRef::Memo(text),
            _ => ItemRef::Issue(IssueId::new(payload).unwrap_or(IssueId::MIN)),
        }
    }

    /// Replaces the content with rows produced by editing; ids are known to be unique and depths valid.
    pub(crate) fn replace(&mut self, ids: Vec<RowId>, depths: Vec<u16>, items: Vec<Packed>) {
        let (index, duplicate) = RowIndex::build(&ids);
        debug_assert!(duplicate.is_none(), "editing produced a duplicate row id");
        self.ids = ids;
        self.depths = depths;
        self.items = items;
        self.index = index;
    }

    pub(crate) fn packed(&self, pos: usize) -> Packed {
        self.items[pos]
    }

    /// Frees the text slot owned by a packed item that no longer has a row.
    pub(crate) fn release_text(&mut self, packed: Packed) {
        if let Some(slot) = packed.text_slot() {
            self.texts.release(slot);
        }
    }

    pub(crate) fn pack(&mut self, item: Item) -> Packed {
        pack(&mut self.texts, item)
    }
}

fn check_depth(id: RowId, depth: u16, previous: Option<u16>) -> Result<(), ForestError> {
    match previous {
        None if depth != 0 => Err(ForestError::FirstRowNotTopLevel { row: id, depth }),
        Some(previous) if u32::from(depth) > u32::from(previous) + 1 => {
            Err(ForestError::DepthJump {
                row: id,
                depth,
                previous,
            })
        }
        _ => Ok(()),
    }
}

impl PartialEq for Forest {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
            && self.depths == other.depths
            && self.iter().zip(other.iter()).all(|(a, b)| a.item == b.item)
    }
}

impl Eq for Forest {}

impl fmt::Debug for Forest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|r| (r.id.get(), r.depth, r.item)))
            .finish()
    }
}

impl Serialize for Forest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Forest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let rows = Vec::<Row>::deserialize(deserializer)?;
        Forest::from_rows(rows).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<Vec<Row>> for Forest {
    type Error = ForestError;

    fn try_from(rows: Vec<Row>) -> Result<Self, ForestError> {
        Forest::from_rows(rows)
    }
}

/// Direct children of a row (or the top-level rows), found by scanning its subtree.
#[derive(Debug, Clone)]
pub struct Children<'f> {
    depths: &'f [u16],
    next: usize,
    end: usize,
    depth: u16,
}

impl Iterator for Children<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.next < self.end {
            let pos = self.next;
            self.next += 1;
            if self.depths[pos] == self.depth {
                return Some(pos);
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------------------
// Building.

/// Builds a forest row by row, checking depths as it goes and ids at the end; the way generators should
/// produce effective forests. Reserve with [`ForestBuilder::with_capacity`] when the size is known.
#[derive(Debug, Default)]
pub struct ForestBuilder {
    ids: Vec<RowId>,
    depths: Vec<u16>,
    items: Vec<Packed>,
    texts: TextTable,
}

impl ForestBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(rows: usize) -> Self {
        Self {
            ids: Vec::with_capacity(rows),
            depths: Vec::with_capacity(rows),
            items: Vec::with_capacity(rows),
            texts: TextTable::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The depth of the last row pushed, if any: the next row may be at most one deeper.
    pub fn last_depth(&self) -> Option<u16> {
        self.depths.last().copied()
    }

    pub fn push(&mut self, id: RowId, depth: u16, item: Item) -> Result<(), ForestError> {
        self.check(id, depth)?;
        let packed = pack(&mut self.texts, item);
        self.push_packed(id, depth, packed);
        Ok(())
    }

    /// [`ForestBuilder::push`] for the common case, without building an [`Item`].
    pub fn push_issue(&mut self, id: RowId, depth: u16, issue: IssueId) -> Result<(), ForestError> {
        self.check(id, depth)?;
        self.push_packed(id, depth, Packed::new(TAG_ISSUE, issue.get()));
        Ok(())
    }

    /// Checks that row ids are unique and builds the index. O(n).
    pub fn finish(self) -> Result<Forest, ForestError> {
        let (index, duplicate) = RowIndex::build(&self.ids);
        if let Some(id) = duplicate {
            return Err(ForestError::DuplicateRowId(id));
        }
        Ok(Forest {
            ids: self.ids,
            depths: self.depths,
            items: self.items,
            texts: self.texts,
            index,
        })
    }

    fn check(&self, id: RowId, depth: u16) -> Result<(), ForestError> {
        if self.ids.len() >= MAX_ROWS {
            return Err(ForestError::TooManyRows);
        }
        check_depth(id, depth, self.last_depth())
    }

    fn push_packed(&mut self, id: RowId, depth: u16, packed: Packed) {
        self.ids.push(id);
        self.depths.push(depth);
        self.items.push(packed);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Topology.

/// Precomputed parent and subtree-end of every row of one forest value: O(1) `parent`, `subtree_end` and
/// `is_leaf`, and children in O(number of children). 8 bytes per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    parent: Vec<u32>,
    end: Vec<u32>,
}

impl Topology {
    fn new(depths: &[u16]) -> Self {
        let n = depths.len();
        let mut parent = vec![NONE; n];
        let mut end = vec![position_u32(n); n];
        // Open rows on the path from the top level to the current row.
        let mut open: Vec<u32> = Vec::new();
        for (pos, &depth) in depths.iter().enumerate() {
            while open.len() > usize::from(depth) {
                if let Some(closed) = open.pop() {
                    end[closed as usize] = position_u32(pos);
                }
            }
            parent[pos] = open.last().copied().unwrap_or(NONE);
            open.push(position_u32(pos));
        }
        Self { parent, end }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    pub fn parent(&self, pos: usize) -> Option<usize> {
        let parent = self.parent[pos];
        (parent != NONE).then_some(parent as usize)
    }

    pub fn subtree_end(&self, pos: usize) -> usize {
        self.end[pos] as usize
    }

    pub fn subtree_range(&self, pos: usize) -> Range<usize> {
        pos..self.subtree_end(pos)
    }

    pub fn is_leaf(&self, pos: usize) -> bool {
        self.subtree_end(pos) == pos + 1
    }

    /// Direct children of `pos`, jumping over each child's subtree.
    pub fn children(&self, pos: usize) -> TopologyChildren<'_> {
        TopologyChildren {
            topology: self,
            next: pos + 1,
            end: self.subtree_end(pos),
        }
    }

    /// Top-level rows.
    pub fn roots(&self) -> TopologyChildren<'_> {
        TopologyChildren {
            topology: self,
            next: 0,
            end: self.len(),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        (self.parent.capacity() + self.end.capacity()) * size_of::<u32>()
    }
}

/// Children found through a [`Topology`].
#[derive(Debug, Clone)]
pub struct TopologyChildren<'t> {
    topology: &'t Topology,
    next: usize,
    end: usize,
}

impl Iterator for TopologyChildren<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        (self.next < self.end).then(|| {
            let pos = self.next;
            self.next = self.topology.subtree_end(pos);
            pos
        })
    }
}
