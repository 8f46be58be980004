//! A forest converted to linked nodes for editing, then flattened back.
//!
//! Node 0 is a virtual root whose children are the top-level rows; node `p + 1` is the base forest's row at
//! position `p`; later nodes are rows created while editing. Moving or removing a subtree is a few link updates,
//! so an edit costs O(rows) for the conversion and flattening, whatever it selects.
//!
//! Invariants between steps: a node is alive exactly when it is reachable from the root; every live row id maps
//! to its node (base rows through the forest's index unless overridden, new rows through `overrides`).

use std::collections::{HashMap, HashSet};

use crate::forest::{Forest, Item, MAX_ROWS, Packed, Row};
use crate::ids::RowId;

use super::{
    Anchor, Change, Edit, EditError, Position, Resolved, RowIdAllocator, Slot, Step, Subtree,
};

const NIL: u32 = u32::MAX;
const ROOT: u32 = 0;

pub(super) struct Draft<'f> {
    base: &'f Forest,
    parent: Vec<u32>,
    first: Vec<u32>,
    last: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    alive: Vec<bool>,
    /// Rows created while editing; node `base.len() + 1 + i` is `added[i]`.
    added: Vec<(RowId, Item)>,
    /// Row ids whose live node is a created one (new rows, and removed rows brought back).
    overrides: HashMap<RowId, u32>,
    rows: usize,
}

/// Collects the steps of an edit together with their inverses.
#[derive(Default)]
struct Recorder {
    steps: Vec<Step>,
    inverse: Vec<Step>,
    created: Vec<RowId>,
}

fn node_u32(index: usize) -> u32 {
    // Node counts are kept at or below MAX_ROWS + 1 by the row-count checks.
    u32::try_from(index).unwrap_or(NIL)
}

impl<'f> Draft<'f> {
    pub(super) fn new(base: &'f Forest) -> Self {
        let n = base.len() + 1;
        let mut draft = Draft {
            base,
            parent: vec![NIL; n],
            first: vec![NIL; n],
            last: vec![NIL; n],
            next: vec![NIL; n],
            prev: vec![NIL; n],
            alive: vec![true; n],
            added: Vec::new(),
            overrides: HashMap::new(),
            rows: base.len(),
        };
        // The path of open nodes from the root to the previous row; forest depths step by at most one.
        let mut open: Vec<u32> = vec![ROOT];
        for (pos, &depth) in base.depths().iter().enumerate() {
            open.truncate(usize::from(depth) + 1);
            let parent = open.last().copied().unwrap_or(ROOT);
            let node = node_u32(pos + 1);
            draft.link_last(parent, node);
            open.push(node);
        }
        draft
    }

    // ----- links ------------------------------------------------------------------------------------------

    fn link_last(&mut self, parent: u32, node: u32) {
        let (p, n) = (parent as usize, node as usize);
        let last = self.last[p];
        self.parent[n] = parent;
        self.prev[n] = last;
        self.next[n] = NIL;
        if last == NIL {
            self.first[p] = node;
        } else {
            self.next[last as usize] = node;
        }
        self.last[p] = node;
    }

    /// Puts `node` among the children of `parent`, right after `after` (or first when `after` is NIL).
    fn attach(&mut self, node: u32, parent: u32, after: u32) {
        let (p, n) = (parent as usize, node as usize);
        let following = if after == NIL {
            self.first[p]
        } else {
            self.next[after as usize]
        };
        self.parent[n] = parent;
        self.prev[n] = after;
        self.next[n] = following;
        if after == NIL {
            self.first[p] = node;
        } else {
            self.next[after as usize] = node;
        }
        if following == NIL {
            self.last[p] = node;
        } else {
            self.prev[following as usize] = node;
        }
    }

    fn detach(&mut self, node: u32) {
        let n = node as usize;
        let (parent, prev, next) = (self.parent[n], self.prev[n], self.next[n]);
        if parent == NIL {
            return;
        }
        let p = parent as usize;
        if prev == NIL {
            self.first[p] = next;
        } else {
            self.next[prev as usize] = next;
        }
        if next == NIL {
            self.last[p] = prev;
        } else {
            self.prev[next as usize] = prev;
        }
        self.parent[n] = NIL;
        self.prev[n] = NIL;
        self.next[n] = NIL;
    }

    fn new_node(&mut self, id: RowId, item: Item) -> u32 {
        let node = node_u32(self.parent.len());
        for links in [
            &mut self.parent,
            &mut self.first,
            &mut self.last,
            &mut self.next,
            &mut self.prev,
        ] {
            links.push(NIL);
        }
        self.alive.push(true);
        self.added.push((id, item));
        self.overrides.insert(id, node);
        self.rows += 1;
        node
    }

    /// Visits the subtree of `root` in forest order with depths relative to it, without recursion.
    fn walk(&self, root: u32, mut visit: impl FnMut(u32, u32)) {
        let mut node = root;
        let mut depth = 0u32;
        loop {
            visit(node, depth);
            let child = self.first[node as usize];
            if child != NIL {
                node = child;
                depth += 1;
                continue;
            }
            loop {
                if node == root {
                    return;
                }
                let next = self.next[node as usize];
                if next != NIL {
                    node = next;
                    break;
                }
                node = self.parent[node as usize];
                depth -= 1;
            }
        }
    }

    // ----- lookups ----------------------------------------------------------------------------------------

    fn node_of(&self, id: RowId) -> Option<u32> {
        let node = match self.overrides.get(&id) {
            Some(&node) => node,
            None => node_u32(self.base.position_of(id)? + 1),
        };
        self.alive[node as usize].then_some(node)
    }

    fn find(&self, id: RowId) -> Result<u32, EditError> {
        self.node_of(id).ok_or(EditError::RowNotFound(id))
    }

    fn base_len(&self) -> usize {
        self.base.len()
    }

    /// The row id of a node other than the root.
    fn id_of(&self, node: u32) -> RowId {
        let n = node as usize;
        if n <= self.base_len() {
            self.base.row_id(n - 1)
        } else {
            self.added[n - self.base_len() - 1].0
        }
    }

    fn item_of(&self, node: u32) -> Item {
        let n = node as usize;
        if n <= self.base_len() {
            self.base.item(n - 1).to_item()
        } else {
            self.added[n - self.base_len() - 1].1.clone()
        }
    }

    fn parent_id(&self, node: u32) -> Option<RowId> {
        let parent = self.parent[node as usize];
        (parent != ROOT && parent != NIL).then(|| self.id_of(parent))
    }

    /// Where the node is now, as an anchor that puts it back there.
    fn anchor_of(&self, node: u32) -> Anchor {
        let prev = self.prev[node as usize];
        if prev == NIL {
            Anchor::First {
                parent: self.parent_id(node),
            }
        } else {
            Anchor::After(self.id_of(prev))
        }
    }

    /// `(parent, after)` for an anchor; `after` is NIL for "first child".
    fn resolve_anchor(&self, anchor: Anchor) -> Result<(u32, u32), EditError> {
        match anchor {
            Anchor::First { parent: None } => Ok((ROOT, NIL)),
            Anchor::First {
                parent: Some(parent),
            } => Ok((self.find(parent)?, NIL)),
            Anchor::After(sibling) => {
                let node = self.find(sibling)?;
                Ok((self.parent[node as usize], node))
            }
        }
    }

    /// The first node on the path from `node` up to the root (itself included) that is in `set`.
    fn inside(&self, node: u32, set: &HashSet<u32>) -> Option<u32> {
        let mut current = node;
        while current != ROOT && current != NIL {
            if set.contains(&current) {
                return Some(current);
            }
            current = self.parent[current as usize];
        }
        None
    }

    /// The subtree of a node as rows with relative depths.
    fn collect(&self, root: u32) -> Result<Subtree, EditError> {
        let mut rows = Vec::new();
        let mut too_deep = false;
        self.walk(root, |node, depth| match u16::try_from(depth) {
            Ok(depth) => rows.push(Row::new(self.id_of(node), depth, self.item_of(node))),
            Err(_) => too_deep = true,
        });
        if too_deep {
            return Err(EditError::TooDeep);
        }
        Ok(Subtree::from_forest_rows(rows))
    }

    // ----- steps ------------------------------------------------------------------------------------------

    /// Applies one step, pushing its inverse (computed before the step) when asked.
    pub(super) fn step(
        &mut self,
        step: &Step,
        inverse: Option<&mut Vec<Step>>,
    ) -> Result<(), EditError> {
        match step {
            Step::Remove { row } => {
                let node = self.find(*row)?;
                if let Some(inverse) = inverse {
                    inverse.push(Step::Insert {
                        rows: self.collect(node)?,
                        at: self.anchor_of(node),
                    });
                }
                self.detach(node);
                let mut removed = Vec::new();
                self.walk(node, |n, _| removed.push(n));
                self.rows -= removed.len();
                for n in removed {
                    self.alive[n as usize] = false;
                }
            }
            Step::Move { row, to } => {
                let node = self.find(*row)?;
                let (parent, after) = self.resolve_anchor(*to)?;
                let target = if after == NIL { parent } else { after };
                let moving = HashSet::from([node]);
                if let Some(moved) = self.inside(target, &moving) {
                    return Err(EditError::TargetInsideMoved {
                        target: self.id_of(target),
                        moved: self.id_of(moved),
                    });
                }
                if let Some(inverse) = inverse {
                    inverse.push(Step::Move {
                        row: *row,
                        to: self.anchor_of(node),
                    });
                }
                self.detach(node);
                self.attach(node, parent, after);
            }
            Step::Insert { rows, at } => {
                let (parent, after) = self.resolve_anchor(*at)?;
                if let Some(row) = rows.rows().iter().find(|r| self.node_of(r.id).is_some()) {
                    return Err(EditError::RowExists(row.id));
                }
                if self.rows + rows.rows().len() > MAX_ROWS {
                    return Err(EditError::TooManyRows);
                }
                let mut open: Vec<u32> = Vec::new();
                for row in rows.rows() {
                    let node = self.new_node(row.id, row.item.clone());
                    open.truncate(usize::from(row.depth));
                    match open.last() {
                        Some(&up) => self.link_last(up, node),
                        None => self.attach(node, parent, after),
                    }
                    open.push(node);
                }
                if let Some(inverse) = inverse {
                    inverse.push(Step::Remove { row: rows.root() });
                }
            }
        }
        Ok(())
    }

    // ----- edits ------------------------------------------------------------------------------------------

    /// Resolves a client's edit into steps and applies them. Only valid on a fresh draft, where node order is
    /// forest order.
    pub(super) fn run_edit(
        &mut self,
        edit: &Edit,
        ids: &mut RowIdAllocator,
    ) -> Result<Resolved, EditError> {
        let mut out = Recorder::default();
        match edit {
            Edit::Add { rows, at } => {
                let mut anchor = self.resolve_position(*at, &HashSet::new())?;
                for subtree in rows.subtrees() {
                    let mut new_rows = Vec::with_capacity(subtree.len());
                    for row in subtree {
                        let id = ids.allocate()?;
                        out.created.push(id);
                        new_rows.push(Row::new(id, row.depth, row.item.clone()));
                    }
                    let subtree = Subtree::from_forest_rows(new_rows);
                    let root = subtree.root();
                    self.record(
                        Step::Insert {
                            rows: subtree,
                            at: anchor,
                        },
                        &mut out,
                    )?;
                    anchor = Anchor::After(root);
                }
            }
            Edit::Remove { rows } => {
                for node in self.top_nodes(rows)? {
                    let row = self.id_of(node);
                    self.record(Step::Remove { row }, &mut out)?;
                }
            }
            Edit::Move { rows, to } => {
                let tops = self.top_nodes(rows)?;
                let moving: HashSet<u32> = tops.iter().copied().collect();
                let mut anchor = self.resolve_position(*to, &moving)?;
                for node in tops {
                    let row = self.id_of(node);
                    self.record(Step::Move { row, to: anchor }, &mut out)?;
                    anchor = Anchor::After(row);
                }
            }
            Edit::Copy { rows, to } => {
                let tops = self.top_nodes(rows)?;
                let mut anchor = self.resolve_position(*to, &HashSet::new())?;
                // Take every copy's content before inserting any, so copies never contain each other.
                let contents = tops
                    .iter()
                    .map(|&node| self.collect(node))
                    .collect::<Result<Vec<_>, _>>()?;
                for content in contents {
                    let mut new_rows = Vec::with_capacity(content.rows().len());
                    for row in content.rows() {
                        let id = ids.allocate()?;
                        out.created.push(id);
                        new_rows.push(Row::new(id, row.depth, row.item.clone()));
                    }
                    let subtree = Subtree::from_forest_rows(new_rows);
                    let root = subtree.root();
                    self.record(
                        Step::Insert {
                            rows: subtree,
                            at: anchor,
                        },
                        &mut out,
                    )?;
                    anchor = Anchor::After(root);
                }
            }
        }
        out.inverse.reverse();
        Ok(Resolved {
            change: Change(out.steps),
            inverse: Change(out.inverse),
            created: out.created,
        })
    }

    fn record(&mut self, step: Step, out: &mut Recorder) -> Result<(), EditError> {
        self.step(&step, Some(&mut out.inverse))?;
        out.steps.push(step);
        Ok(())
    }

    /// The listed rows that are not inside another listed row's subtree, in forest order.
    fn top_nodes(&self, rows: &[RowId]) -> Result<Vec<u32>, EditError> {
        if rows.is_empty() {
            return Err(EditError::NoRows);
        }
        let mut listed = HashSet::with_capacity(rows.len());
        let mut nodes = Vec::with_capacity(rows.len());
        for &row in rows {
            let node = self.find(row)?;
            if !listed.insert(node) {
                return Err(EditError::DuplicateRow(row));
            }
            nodes.push(node);
        }
        nodes.retain(|&node| {
            let parent = self.parent[node as usize];
            self.inside(parent, &listed).is_none()
        });
        nodes.sort_unstable();
        Ok(nodes)
    }

    /// Resolves a client position to an anchor, skipping the rows being moved (which will have left).
    fn resolve_position(
        &self,
        position: Position,
        moving: &HashSet<u32>,
    ) -> Result<Anchor, EditError> {
        let check = |node: u32| match self.inside(node, moving) {
            Some(moved) => Err(EditError::TargetInsideMoved {
                target: self.id_of(node),
                moved: self.id_of(moved),
            }),
            None => Ok(node),
        };
        let skip_moving = |mut node: u32, step: &[u32]| {
            while node != NIL && moving.contains(&node) {
                node = step[node as usize];
            }
            node
        };
        match position {
            Position::Before(row) => {
                let node = check(self.find(row)?)?;
                let prev = skip_moving(self.prev[node as usize], &self.prev);
                Ok(if prev == NIL {
                    Anchor::First {
                        parent: self.parent_id(node),
                    }
                } else {
                    Anchor::After(self.id_of(prev))
                })
            }
            Position::After(row) => {
                check(self.find(row)?)?;
                Ok(Anchor::After(row))
            }
            Position::Under { parent, at } => {
                let node = match parent {
                    Some(row) => check(self.find(row)?)?,
                    None => ROOT,
                };
                let first = Anchor::First { parent };
                match at {
                    Slot::First | Slot::Index(0) => Ok(first),
                    Slot::Last => {
                        let last = skip_moving(self.last[node as usize], &self.prev);
                        Ok(if last == NIL {
                            first
                        } else {
                            Anchor::After(self.id_of(last))
                        })
                    }
                    Slot::Index(index) => {
                        let mut seen = 0usize;
                        let mut child = self.first[node as usize];
                        while child != NIL {
                            if !moving.contains(&child) {
                                seen += 1;
                                if seen == index as usize {
                                    return Ok(Anchor::After(self.id_of(child)));
                                }
                            }
                            child = self.next[child as usize];
                        }
                        Err(EditError::IndexOutOfRange {
                            index,
                            children: seen,
                        })
                    }
                }
            }
        }
    }

    // ----- flattening -------------------------------------------------------------------------------------

    /// Lays the nodes out in forest order, checking the limits; the base forest is not touched yet.
    pub(super) fn finish(self) -> Result<Plan, EditError> {
        let mut order = Vec::with_capacity(self.rows);
        let mut too_deep = false;
        let mut child = self.first[ROOT as usize];
        while child != NIL {
            self.walk(child, |node, depth| match u16::try_from(depth) {
                Ok(depth) => order.push((node, depth)),
                Err(_) => too_deep = true,
            });
            child = self.next[child as usize];
        }
        if too_deep {
            return Err(EditError::TooDeep);
        }
        if order.len() > MAX_ROWS {
            return Err(EditError::TooManyRows);
        }
        Ok(Plan {
            base_len: self.base.len(),
            order,
            alive: self.alive,
            added: self.added,
        })
    }
}

/// A finished draft, detached from the forest it was made from, ready to replace its content.
pub(super) struct Plan {
    base_len: usize,
    order: Vec<(u32, u16)>,
    alive: Vec<bool>,
    added: Vec<(RowId, Item)>,
}

impl Plan {
    pub(super) fn commit(self, forest: &mut Forest) {
        for pos in 0..self.base_len {
            if !self.alive[pos + 1] {
                forest.release_text(forest.packed(pos));
            }
        }
        let first_added = self.base_len + 1;
        let added: Vec<(RowId, Option<Packed>)> = self
            .added
            .into_iter()
            .enumerate()
            .map(|(i, (id, item))| {
                let packed = self.alive[first_added + i].then(|| forest.pack(item));
                (id, packed)
            })
            .collect();
        let mut ids = Vec::with_capacity(self.order.len());
        let mut depths = Vec::with_capacity(self.order.len());
        let mut items = Vec::with_capacity(self.order.len());
        for (node, depth) in self.order {
            let n = node as usize;
            let (id, packed) = if n < first_added {
                (forest.row_id(n - 1), Some(forest.packed(n - 1)))
            } else {
                added[n - first_added]
            };
            // Live nodes always have an item; the filter only keeps this free of panics.
            if let Some(packed) = packed {
                ids.push(id);
                depths.push(depth);
                items.push(packed);
            }
        }
        forest.replace(ids, depths, items);
    }
}
