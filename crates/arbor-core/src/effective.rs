//! The effective forest: what a person sees once the generators of a structure have run over its stored rows.
//!
//! Generators run in phases — Insert → Extend → Filter → Group → Sort — each one over the subtree of its parent
//! row. An inserter's results take the inserter's place among its siblings; generator rows themselves are not
//! part of the effective forest (they are configuration, shown by the UI in its own way).
//!
//! The engine reads issue data from [`IssueData`] and never fetches: whatever is missing is recorded in
//! [`Needs`] and the run goes on without it. The caller fetches the needs in bulk and runs again, until nothing
//! is missing (each extension level typically takes one round).
//!
//! Invariants:
//! - Deterministic: the same stored forest, generators and data give the same effective forest, row keys
//!   included.
//! - Link and parent cycles terminate: an issue is never added below itself.
//! - An issue is never added twice under the same parent by a generator.
//! - A run never exceeds the safety cap on rows (an error says which generator hit it) and stops with a partial
//!   result, flagged as such, when the time budget is spent.
//! - Cost: O(rows × depth) for extension and filtering, O(rows log rows) for sorting.

use std::collections::HashMap;

// Internal maps are keyed by node indexes and ids, not by anything people type: a fast hash is safe.
use rustc_hash::{FxHashMap, FxHashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use jql::eval::{EvalContext, FieldCatalog, FieldKey, Matcher};

use crate::columns::{FieldBindings, OneIssue};
use crate::data::{FieldId, FieldValue, IssueData, Needs};
use crate::forest::{Forest, ItemRef};
use crate::formula::{Formula, Value};
use crate::generator::{Generator, Phase};
use crate::ids::{GeneratorId, IssueId, RowId};

/// Limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a run may take before it stops with a partial result (Structure's generators stop after 30 s).
    pub budget: Duration,
    /// The most rows an effective forest may have; above it the run fails with a clear error instead of
    /// quietly cutting rows.
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(30),
            max_rows: 5_000_000,
        }
    }
}

/// The engine reads no clock of its own; the caller says how much time has passed since the run started.
pub trait Clock {
    fn elapsed(&self) -> Duration;
}

/// Everything a run needs besides the stored forest and the data.
#[derive(Clone, Copy)]
pub struct RunContext<'a> {
    /// The generators the stored forest's generator rows refer to.
    pub generators: &'a HashMap<GeneratorId, Generator>,
    /// Resolves field names in JQL filters, and says which fields issue data can hold.
    pub catalog: &'a dyn FieldCatalog,
    /// Clock, time zone and current user for JQL functions.
    pub jql: EvalContext<'a>,
    /// The field holding Jira's rank on this site (a custom field whose id differs between sites).
    pub rank_field: &'a FieldId,
    /// Formula variable names, for filters and sorts by formula.
    pub bindings: &'a FieldBindings,
    pub limits: Limits,
    pub clock: &'a dyn Clock,
}

impl std::fmt::Debug for RunContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("generators", &self.generators.len())
            .field("rank_field", &self.rank_field)
            .field("limits", &self.limits)
            .field("elapsed", &self.clock.elapsed())
            .finish_non_exhaustive()
    }
}

/// What a row of the effective forest shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EffectiveItem {
    Issue(IssueId),
    /// A folder or memo of the stored forest, by its row.
    Stored(RowId),
    /// A group header made by a grouper; an index into [`EffectiveForest::group_label`].
    Group(u32),
}

/// Where a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A stored row, added by a person.
    Manual(RowId),
    /// Produced by a generator.
    Generated(GeneratorId),
}

/// A group header: the grouper's field and the value it stands for (`None`: issues without a value).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupHeader {
    pub field: FieldId,
    pub value: Option<FieldValue>,
    pub label: Arc<str>,
}

/// The rows a person sees, in order, as parallel arrays (about 22 bytes per row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EffectiveForest {
    depth: Vec<u16>,
    item: Vec<EffectiveItem>,
    source: Vec<Source>,
    /// A stable identity per row: the stored row id for manual rows, a hash of the parent's key, the item and
    /// the generator for generated rows. The UI remembers expanded rows by it across recomputations.
    key: Vec<u64>,
    groups: Vec<GroupHeader>,
}

impl EffectiveForest {
    pub fn len(&self) -> usize {
        self.depth.len()
    }

    pub fn is_empty(&self) -> bool {
        self.depth.is_empty()
    }

    pub fn depth(&self, row: usize) -> u16 {
        self.depth[row]
    }

    pub fn item(&self, row: usize) -> EffectiveItem {
        self.item[row]
    }

    pub fn source(&self, row: usize) -> Source {
        self.source[row]
    }

    pub fn key(&self, row: usize) -> u64 {
        self.key[row]
    }

    pub fn depths(&self) -> &[u16] {
        &self.depth
    }

    pub fn items(&self) -> &[EffectiveItem] {
        &self.item
    }

    pub fn group_label(&self, group: u32) -> Option<&GroupHeader> {
        self.groups.get(group as usize)
    }

    /// The issue of a row, if it shows one.
    pub fn issue(&self, row: usize) -> Option<IssueId> {
        match self.item[row] {
            EffectiveItem::Issue(id) => Some(id),
            EffectiveItem::Stored(_) | EffectiveItem::Group(_) => None,
        }
    }

    /// One past the last row of `row`'s subtree (a subtree is contiguous).
    pub fn subtree_end(&self, row: usize) -> usize {
        let depth = self.depth[row];
        (row + 1..self.len())
            .find(|&r| self.depth[r] <= depth)
            .unwrap_or(self.len())
    }

    /// Heap bytes held per row (for the benchmark's `bytes_per_row`).
    pub fn heap_bytes(&self) -> usize {
        self.depth.capacity() * size_of::<u16>()
            + self.item.capacity() * size_of::<EffectiveItem>()
            + self.source.capacity() * size_of::<Source>()
            + self.key.capacity() * size_of::<u64>()
            + self.groups.capacity() * size_of::<GroupHeader>()
    }

    /// Its first `n` rows: a forest of their own (rows are in pre-order), with the keys they have here.
    pub fn first_rows(&self, n: usize) -> EffectiveForest {
        let n = n.min(self.len());
        EffectiveForest {
            depth: self.depth[..n].to_vec(),
            item: self.item[..n].to_vec(),
            source: self.source[..n].to_vec(),
            key: self.key[..n].to_vec(),
            groups: self.groups.clone(),
        }
    }

    /// The forest without the rows for which `keep` is false. Rows below a removed row move up to the removed
    /// row's parent, and keys are derived anew, so that nothing about the removed row shows, not even where it
    /// was. Group headers left without any row below them go too.
    pub fn without_rows(&self, keep: impl Fn(usize) -> bool) -> EffectiveForest {
        let mut out = EffectiveForest {
            groups: self.groups.clone(),
            ..EffectiveForest::default()
        };
        // For each open level of the original forest: the depth its rows get in the result.
        let mut new_depth_at: Vec<u16> = Vec::new();
        for row in 0..self.len() {
            let depth = usize::from(self.depth[row]);
            new_depth_at.truncate(depth);
            let parent_child_depth = if depth == 0 {
                0
            } else {
                new_depth_at.get(depth - 1).copied().unwrap_or(0)
            };
            if keep(row) {
                out.push(parent_child_depth, self.item[row], self.source[row]);
                new_depth_at.push(parent_child_depth.saturating_add(1));
            } else {
                // The removed row's children take its depth.
                new_depth_at.push(parent_child_depth);
            }
        }
        out.drop_empty_headers();
        out.assign_keys();
        out
    }

    /// Removes group headers with nothing below them (their issues were all withheld).
    fn drop_empty_headers(&mut self) {
        let n = self.len();
        // Walking backwards, a header is empty when the next row is not deeper than it.
        let mut keep = vec![true; n];
        let mut next_kept_depth: Option<u16> = None;
        for row in (0..n).rev() {
            let empty_header = matches!(self.item[row], EffectiveItem::Group(_))
                && next_kept_depth.is_none_or(|d| d <= self.depth[row]);
            if empty_header {
                keep[row] = false;
            } else {
                next_kept_depth = Some(self.depth[row]);
            }
        }
        if keep.iter().all(|k| *k) {
            return;
        }
        let mut row = 0;
        self.depth.retain(|_| (keep[row], row += 1).0);
        row = 0;
        self.item.retain(|_| (keep[row], row += 1).0);
        row = 0;
        self.source.retain(|_| (keep[row], row += 1).0);
    }

    fn push(&mut self, depth: u16, item: EffectiveItem, source: Source) {
        self.depth.push(depth);
        self.item.push(item);
        self.source.push(source);
    }

    /// Gives every row its key: a manual row keeps its stored row id (its first placement); every other row
    /// gets a hash of its parent's key, its item and its origin. Keys therefore depend only on the rows above
    /// a row in *this* forest — after [`EffectiveForest::without_rows`] nothing in a key tells of a removed row.
    fn assign_keys(&mut self) {
        self.key.clear();
        self.key.reserve(self.len());
        let mut used: FxHashSet<u64> = FxHashSet::default();
        // Keys of the open rows, by depth.
        let mut parents: Vec<u64> = Vec::new();
        for row in 0..self.len() {
            let depth = usize::from(self.depth[row]);
            parents.truncate(depth);
            let parent_key = parents.last().copied().unwrap_or(0);
            let item = self.item[row];
            let label = match item {
                EffectiveItem::Group(g) => self.groups.get(g as usize).map(|h| h.label.clone()),
                _ => None,
            };
            let mut key = match self.source[row] {
                Source::Manual(id) if !used.contains(&id.get()) => id.get(),
                // A manual row shown twice (under two group headers) gets a derived key for its copy.
                Source::Manual(id) => row_key(parent_key, item, id.get(), label.as_deref()),
                Source::Generated(generator) => {
                    row_key(parent_key, item, generator.get(), label.as_deref())
                }
            };
            // Copies under the same parent get the next free key, in order, which keeps keys deterministic.
            while !used.insert(key) {
                key = key.wrapping_add(0x9E37_79B9_7F4A_7C15) | (1 << 63);
            }
            self.key.push(key);
            parents.push(key);
        }
    }
}

/// What one generator cost in the last run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratorCost {
    pub elapsed: Duration,
    pub rows_added: usize,
    pub rows_removed: usize,
    /// How many issues or queries it was still waiting for.
    pub missing: usize,
}

/// The result of a run.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub forest: EffectiveForest,
    /// What was missing; empty when the forest is complete.
    pub needs: Needs,
    /// Cost per generator, for the UI and metrics.
    pub costs: HashMap<GeneratorId, GeneratorCost>,
    /// Set when the time budget ran out: the generator that was running. Later work was skipped.
    pub stopped_at: Option<GeneratorId>,
}

impl Evaluation {
    /// Complete: nothing missing and the budget was enough.
    pub fn is_complete(&self) -> bool {
        self.needs.is_empty() && self.stopped_at.is_none()
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(
        "generator {generator} would make the structure larger than the safety cap of {max_rows} rows; narrow its \
         query or levels, or raise the cap"
    )]
    TooManyRows {
        generator: GeneratorId,
        max_rows: usize,
    },
    #[error("generator row {row} refers to generator {generator}, which does not exist")]
    UnknownGenerator { row: RowId, generator: GeneratorId },
    #[error("the structure would be more than {max} levels deep")]
    TooDeep { max: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Root,
    Issue(IssueId),
    Stored(RowId),
    Group(u32),
    /// Where an inserter's results go.
    Slot(GeneratorId),
}

/// The working tree: an arena of nodes with child lists. Node 0 is the invisible root.
struct Tree {
    node: Vec<Node>,
    source: Vec<Source>,
    children: Vec<Vec<u32>>,
    removed: Vec<bool>,
    groups: Vec<GroupHeader>,
    /// Live rows (not removed, not slots, not the root).
    live: usize,
}

const ROOT: u32 = 0;

impl Tree {
    fn new() -> Self {
        Self {
            node: vec![Node::Root],
            source: vec![Source::Manual(RowId::FIRST)],
            children: vec![Vec::new()],
            removed: vec![false],
            groups: Vec::new(),
            live: 0,
        }
    }

    fn detached(&mut self, node: Node, source: Source) -> u32 {
        let index = u32::try_from(self.node.len()).unwrap_or(u32::MAX);
        self.node.push(node);
        self.source.push(source);
        self.children.push(Vec::new());
        self.removed.push(false);
        if !matches!(node, Node::Slot(_)) {
            self.live += 1;
        }
        index
    }

    fn add(&mut self, parent: u32, node: Node, source: Source) -> u32 {
        let index = self.detached(node, source);
        self.children[parent as usize].push(index);
        index
    }

    fn issue(&self, node: u32) -> Option<IssueId> {
        match self.node[node as usize] {
            Node::Issue(id) => Some(id),
            _ => None,
        }
    }

    /// Puts each inserter's results in the place of its slot, so that later phases see one plain tree.
    fn dissolve_slots(&mut self) {
        for parent in 0..self.children.len() {
            if !self.children[parent]
                .iter()
                .any(|&c| matches!(self.node[c as usize], Node::Slot(_)))
            {
                continue;
            }
            let children = std::mem::take(&mut self.children[parent]);
            let mut spliced = Vec::with_capacity(children.len());
            for child in children {
                if matches!(self.node[child as usize], Node::Slot(_)) {
                    self.removed[child as usize] = true;
                    spliced.extend(std::mem::take(&mut self.children[child as usize]));
                } else {
                    spliced.push(child);
                }
            }
            self.children[parent] = spliced;
        }
    }

    /// Removes a node and everything below it.
    fn remove(&mut self, node: u32) {
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if !self.removed[n as usize] {
                self.removed[n as usize] = true;
                if !matches!(self.node[n as usize], Node::Slot(_)) {
                    self.live -= 1;
                }
                stack.extend(self.children[n as usize].iter().copied());
            }
        }
    }

    fn live_children(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        self.children[node as usize]
            .iter()
            .copied()
            .filter(|&c| !self.removed[c as usize])
    }

    /// The live nodes below `root`, parents before children, with their level relative to `root` (its children
    /// are level 1).
    fn subtree(&self, root: u32) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut stack: Vec<(u32, u32)> = self.live_children(root).map(|c| (c, 1)).collect();
        stack.reverse();
        while let Some((node, level)) = stack.pop() {
            out.push((node, level));
            let start = stack.len();
            stack.extend(self.live_children(node).map(|c| (c, level + 1)));
            stack[start..].reverse();
        }
        out
    }
}

/// A generator row of the stored forest: its generator and its scope (the node of its parent row).
struct Placed {
    id: GeneratorId,
    generator: Generator,
    scope: u32,
    /// For inserters: the slot that stands for the generator row among its siblings.
    slot: Option<u32>,
}

/// A filter's decision for one issue.
type RowTest = Box<dyn Fn(&Run<'_, '_>, IssueId) -> bool>;

struct Run<'r, 'c> {
    context: &'r RunContext<'c>,
    data: &'r IssueData,
    tree: Tree,
    needs: Needs,
    costs: HashMap<GeneratorId, GeneratorCost>,
}

/// Computes the effective forest of `stored` with the data at hand.
pub fn evaluate(
    stored: &Forest,
    data: &IssueData,
    context: &RunContext<'_>,
) -> Result<Evaluation, EngineError> {
    let mut run = Run {
        context,
        data,
        tree: Tree::new(),
        needs: Needs::default(),
        costs: HashMap::new(),
    };
    let placed = run.build(stored)?;

    let mut stopped_at = None;
    'phases: for phase in [
        Phase::Insert,
        Phase::Extend,
        Phase::Filter,
        Phase::Group,
        Phase::Sort,
    ] {
        if phase == Phase::Extend {
            run.tree.dissolve_slots();
        }
        let in_phase: Vec<&Placed> = placed
            .iter()
            .filter(|p| p.generator.phase() == phase)
            .collect();
        if in_phase.is_empty() {
            continue;
        }
        if phase == Phase::Extend {
            // Extenders run together, so that one extender's additions are extended by the others.
            if context.clock.elapsed() > context.limits.budget {
                stopped_at = in_phase.first().map(|p| p.id);
                break 'phases;
            }
            if let Err(stopped) = run.extend(&in_phase)? {
                stopped_at = Some(stopped);
                break 'phases;
            }
            continue;
        }
        for placed in in_phase {
            if context.clock.elapsed() > context.limits.budget {
                stopped_at = Some(placed.id);
                break 'phases;
            }
            let started = context.clock.elapsed();
            let (live, missing) = (run.tree.live, run.missing());
            match &placed.generator {
                Generator::InsertJql { .. }
                | Generator::InsertKeys { .. }
                | Generator::InsertText { .. }
                | Generator::InsertStructure { .. } => run.insert(placed),
                Generator::FilterJql { .. }
                | Generator::FilterText { .. }
                | Generator::FilterFormula { .. }
                | Generator::RemoveDuplicates => run.filter(placed),
                Generator::GroupByField { field } => run.group(placed, field),
                Generator::SortByField { .. }
                | Generator::SortByRank { .. }
                | Generator::SortByFormula { .. } => {
                    run.sort(placed);
                }
                Generator::ExtendLinks { .. }
                | Generator::ExtendSubtasks { .. }
                | Generator::ExtendChildren { .. } => {}
            }
            run.check_cap(placed.id)?;
            run.record_cost(placed.id, started, live, missing);
        }
    }

    let forest = run.flatten()?;
    Ok(Evaluation {
        forest,
        needs: run.needs,
        costs: run.costs,
        stopped_at,
    })
}

impl Run<'_, '_> {
    fn missing(&self) -> usize {
        self.needs.jql.len()
            + self.needs.issues.len()
            + self.needs.children.len()
            + self.needs.structures.len()
    }

    fn check_cap(&self, generator: GeneratorId) -> Result<(), EngineError> {
        if self.tree.live > self.context.limits.max_rows {
            Err(EngineError::TooManyRows {
                generator,
                max_rows: self.context.limits.max_rows,
            })
        } else {
            Ok(())
        }
    }

    fn record_cost(
        &mut self,
        generator: GeneratorId,
        started: Duration,
        live_before: usize,
        missing_before: usize,
    ) {
        let now = self.context.clock.elapsed();
        let (live, missing) = (self.tree.live, self.missing());
        let cost = self.costs.entry(generator).or_default();
        cost.elapsed += now.saturating_sub(started);
        cost.rows_added += live.saturating_sub(live_before);
        cost.rows_removed += live_before.saturating_sub(live);
        cost.missing += missing.saturating_sub(missing_before);
    }

    /// Builds the working tree from the stored rows and places each generator row in it.
    fn build(&mut self, stored: &Forest) -> Result<Vec<Placed>, EngineError> {
        let mut placed = Vec::new();
        // The node of the last row seen at each depth: the parent of a row at depth d is `path[d - 1]`.
        let mut path: Vec<u32> = Vec::new();
        for row in stored.iter() {
            let depth = usize::from(row.depth);
            path.truncate(depth);
            let parent = path.last().copied().unwrap_or(ROOT);
            let node =
                match row.item {
                    ItemRef::Issue(id) => {
                        self.tree
                            .add(parent, Node::Issue(id), Source::Manual(row.id))
                    }
                    ItemRef::Folder(_) | ItemRef::Memo(_) => {
                        self.tree
                            .add(parent, Node::Stored(row.id), Source::Manual(row.id))
                    }
                    ItemRef::Generator(id) => {
                        let generator = self.context.generators.get(&id).ok_or(
                            EngineError::UnknownGenerator {
                                row: row.id,
                                generator: id,
                            },
                        )?;
                        let slot = (generator.phase() == Phase::Insert)
                            .then(|| self.tree.add(parent, Node::Slot(id), Source::Generated(id)));
                        placed.push(Placed {
                            id,
                            generator: generator.clone(),
                            scope: parent,
                            slot,
                        });
                        // A generator row is configuration, not a place: rows stored below it (which editing
                        // allows) count as its siblings, and generators among them share its scope.
                        parent
                    }
                };
            path.push(node);
        }
        Ok(placed)
    }

    // ---- Insert ------------------------------------------------------------------------------------------

    fn insert(&mut self, placed: &Placed) {
        let Some(slot) = placed.slot else { return };
        let issues: Vec<(IssueId, u32)> = match &placed.generator {
            Generator::InsertJql { jql } => {
                self.jql_ids(jql).into_iter().map(|id| (id, 0)).collect()
            }
            Generator::InsertText { text } => self
                .jql_ids(&format!("text ~ {}", jql::quote(text)))
                .into_iter()
                .map(|id| (id, 0))
                .collect(),
            Generator::InsertKeys { keys } => {
                let query = format!("key in ({})", keys.join(", "));
                let ids = self.jql_ids(&query);
                // Jira answers in its own order; the person's order of keys is the one to keep.
                let position: HashMap<&str, usize> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (k.as_str(), i))
                    .collect();
                let mut ids: Vec<(usize, IssueId)> = ids
                    .into_iter()
                    .map(|id| {
                        let key = self.data.issue(id).map(|i| i.key.clone());
                        if key.is_none() && !self.data.is_hidden(id) {
                            // Its key is needed to put it where the person listed it.
                            self.needs.issues.insert(id);
                        }
                        (
                            key.and_then(|k| position.get(&*k).copied())
                                .unwrap_or(usize::MAX),
                            id,
                        )
                    })
                    .collect();
                ids.sort_by_key(|(p, _)| *p);
                ids.into_iter().map(|(_, id)| (id, 0)).collect()
            }
            Generator::InsertStructure { structure_id } => match self.data.structure(*structure_id)
            {
                Some(rows) => rows.to_vec(),
                None => {
                    self.needs.structures.insert(*structure_id);
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };
        let source = Source::Generated(placed.id);
        let siblings: FxHashSet<IssueId> = self
            .tree
            .live_children(placed.scope)
            .filter_map(|c| self.tree.issue(c))
            .collect();
        // Results become children of the slot for now; `flatten` puts them in the slot's place.
        let mut path: Vec<u32> = vec![slot];
        for (id, depth) in issues {
            let depth = depth as usize;
            if depth == 0 && siblings.contains(&id) {
                continue;
            }
            path.truncate(depth + 1);
            let Some(&parent) = path.last() else { continue };
            let node = self.tree.add(parent, Node::Issue(id), source);
            path.push(node);
        }
    }

    /// The ids a query returned, or a need for them.
    fn jql_ids(&mut self, query: &str) -> Vec<IssueId> {
        match self.data.jql(query) {
            Some(ids) => ids.to_vec(),
            None => {
                self.needs.jql.insert(query.to_owned());
                Vec::new()
            }
        }
    }

    // ---- Extend ------------------------------------------------------------------------------------------

    /// Runs all extenders in one walk: each issue row is extended by every extender whose scope holds it and
    /// whose levels include its level; added rows are walked too. `Ok(Err(generator))` when the budget ran out.
    fn extend(&mut self, extenders: &[&Placed]) -> Result<Result<(), GeneratorId>, EngineError> {
        let scopes: FxHashMap<u32, Vec<usize>> =
            extenders
                .iter()
                .enumerate()
                .fold(FxHashMap::default(), |mut map, (i, p)| {
                    map.entry(p.scope).or_insert_with(Vec::new).push(i);
                    map
                });
        let started = self.context.clock.elapsed();
        let live_before = self.tree.live;
        let missing_before = self.missing();
        let mut added: Vec<usize> = vec![0; extenders.len()];

        // Depth-first walk; each frame knows the extenders active there as (extender, depth of its scope).
        struct Frame {
            node: u32,
            depth: u32,
            active: Arc<Vec<(usize, u32)>>,
        }
        let root_active: Arc<Vec<(usize, u32)>> = Arc::new(
            scopes
                .get(&ROOT)
                .map(|list| list.iter().map(|&e| (e, 0)).collect())
                .unwrap_or_default(),
        );
        let mut stack: Vec<Frame> = self
            .tree
            .live_children(ROOT)
            .map(|node| Frame {
                node,
                depth: 1,
                active: Arc::clone(&root_active),
            })
            .collect();
        stack.reverse();
        let mut path: Vec<Option<IssueId>> = Vec::new();
        let mut steps = 0usize;
        let mut stopped: Option<GeneratorId> = None;
        while let Some(frame) = stack.pop() {
            steps += 1;
            if steps.is_multiple_of(4096)
                && self.context.clock.elapsed() > self.context.limits.budget
            {
                stopped = Some(extenders[0].id);
                break;
            }
            // `path` holds the issues above this node.
            path.truncate(frame.depth as usize - 1);
            let own = self.tree.issue(frame.node);
            path.push(own);

            if let Some(issue) = own {
                let mut existing: Option<FxHashSet<IssueId>> = None;
                for &(e, scope_depth) in frame.active.iter() {
                    let level = frame.depth - scope_depth;
                    let placed = extenders[e];
                    let (kind, levels) = match &placed.generator {
                        Generator::ExtendLinks { levels, .. }
                        | Generator::ExtendSubtasks { levels }
                        | Generator::ExtendChildren { levels } => (&placed.generator, *levels),
                        _ => continue,
                    };
                    if !levels.contains(level) {
                        continue;
                    }
                    let related = self.related(issue, kind);
                    if related.is_empty() {
                        continue;
                    }
                    let existing = existing.get_or_insert_with(|| {
                        self.tree
                            .live_children(frame.node)
                            .filter_map(|c| self.tree.issue(c))
                            .collect()
                    });
                    for other in related {
                        // Never below itself: this ends link and parent cycles.
                        if path.contains(&Some(other)) || !existing.insert(other) {
                            continue;
                        }
                        self.tree
                            .add(frame.node, Node::Issue(other), Source::Generated(placed.id));
                        added[e] += 1;
                    }
                }
            }

            let active = match scopes.get(&frame.node) {
                Some(list) => {
                    let mut active = (*frame.active).clone();
                    active.extend(list.iter().map(|&e| (e, frame.depth)));
                    Arc::new(active)
                }
                None => Arc::clone(&frame.active),
            };
            let start = stack.len();
            for child in self.tree.live_children(frame.node) {
                stack.push(Frame {
                    node: child,
                    depth: frame.depth + 1,
                    active: Arc::clone(&active),
                });
            }
            stack[start..].reverse();
        }
        // Costs, also when the budget stopped the walk: time and misses are shared by the walk; rows are each
        // extender's own.
        let elapsed = self.context.clock.elapsed().saturating_sub(started);
        let missing = self.missing().saturating_sub(missing_before);
        let total_added = self.tree.live.saturating_sub(live_before).max(1);
        for (i, placed) in extenders.iter().enumerate() {
            let cost = self.costs.entry(placed.id).or_default();
            cost.rows_added += added[i];
            let share = u32::try_from(added[i] * 1000 / total_added).unwrap_or(1000);
            cost.elapsed += elapsed * share / 1000;
            if i == 0 {
                cost.missing += missing;
            }
        }
        Ok(stopped.map_or(Ok(()), Err))
    }

    /// The issues an extender adds below `issue`, or needs for them.
    fn related(&mut self, issue: IssueId, extender: &Generator) -> Vec<IssueId> {
        if self.data.is_hidden(issue) {
            return Vec::new();
        }
        match extender {
            Generator::ExtendChildren { .. } => match self.data.children(issue) {
                Some(children) => children.to_vec(),
                None => {
                    self.needs.children.insert(issue);
                    Vec::new()
                }
            },
            Generator::ExtendSubtasks { .. } => {
                match self.data.issue(issue).and_then(|i| i.subtasks()) {
                    Some(subtasks) => subtasks.to_vec(),
                    None => {
                        self.needs.field(issue, &FieldId::new("subtasks"));
                        Vec::new()
                    }
                }
            }
            Generator::ExtendLinks {
                link_type_id,
                direction,
                ..
            } => match self.data.issue(issue).and_then(|i| i.links()) {
                Some(links) => links
                    .iter()
                    .filter(|l| *l.type_id == **link_type_id && l.direction == *direction)
                    .map(|l| l.other)
                    .collect(),
                None => {
                    self.needs.field(issue, &FieldId::new("issuelinks"));
                    Vec::new()
                }
            },
            _ => Vec::new(),
        }
    }

    // ---- Filter ------------------------------------------------------------------------------------------

    fn filter(&mut self, placed: &Placed) {
        let rows = self.tree.subtree(placed.scope);
        if matches!(placed.generator, Generator::RemoveDuplicates) {
            let mut seen = FxHashSet::default();
            for (node, _) in rows {
                if self.tree.removed[node as usize] {
                    continue;
                }
                if let Some(issue) = self.tree.issue(node)
                    && !seen.insert(issue)
                {
                    self.tree.remove(node);
                }
            }
            return;
        }
        let Some(test) = self.row_test(placed, &rows) else {
            return;
        };
        // A row stays when it matches or something below it stays: the hierarchy above a match is kept.
        // Indexed by node; nodes outside the scope stay `true` and are never looked at.
        let mut keep: Vec<bool> = vec![true; self.tree.node.len()];
        for &(node, _) in rows.iter().rev() {
            let below = self.tree.live_children(node).any(|c| keep[c as usize]);
            let own = match self.tree.issue(node) {
                Some(issue) => test(self, issue),
                // Folders, memos and group headers are the person's own layout: they stay.
                None => true,
            };
            keep[node as usize] = own || below;
        }
        for (node, _) in rows {
            if !keep[node as usize] && !self.tree.removed[node as usize] {
                self.tree.remove(node);
            }
        }
    }

    /// The test a filter applies to each issue, after recording what it needs. `None` when the filter cannot
    /// decide yet (its query results are missing): it then removes nothing.
    fn row_test(&mut self, placed: &Placed, rows: &[(u32, u32)]) -> Option<RowTest> {
        let issues: Vec<IssueId> = rows
            .iter()
            .filter_map(|&(n, _)| self.tree.issue(n))
            .collect();
        match &placed.generator {
            Generator::FilterJql { jql } => self.jql_test(jql, &issues),
            Generator::FilterText { text } => {
                self.jql_test(&format!("text ~ {}", jql::quote(text)), &issues)
            }
            Generator::FilterFormula { formula } => {
                let compiled = Formula::compile(formula).ok()?;
                let fields: Vec<FieldId> = compiled
                    .variables()
                    .iter()
                    .filter_map(|v| self.context.bindings.field_for(v))
                    .collect();
                if !self.ensure_fields(&issues, &fields) {
                    return None;
                }
                Some(Box::new(move |run: &Run<'_, '_>, issue| {
                    run.formula_value(&compiled, issue)
                        .is_some_and(|v| v.is_truthy())
                }))
            }
            _ => None,
        }
    }

    /// A JQL filter: evaluated locally when the query allows it and the data is there, else by asking Jira
    /// which of these issues match.
    fn jql_test(&mut self, query: &str, issues: &[IssueId]) -> Option<RowTest> {
        let parsed = jql::parse(query).ok()?;
        if let Ok(matcher) = Matcher::compile(&parsed, self.context.catalog, &self.context.jql) {
            let fields: Vec<FieldId> = referenced_fields(&parsed, self.context.catalog)
                .into_iter()
                .filter_map(FieldId::for_jql)
                .collect();
            if !self.ensure_fields(issues, &fields) {
                return None;
            }
            return Some(Box::new(move |run: &Run<'_, '_>, issue| {
                run.data.issue(issue).is_some_and(|i| matcher.matches(i))
            }));
        }
        if issues.is_empty() {
            return Some(Box::new(|_, _| false));
        }
        let mut ids: Vec<u64> = issues.iter().map(|i| i.get()).collect();
        ids.sort_unstable();
        ids.dedup();
        let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let remote = format!("issue in ({list}) AND ({query})");
        let Some(ids) = self.data.jql(&remote) else {
            self.needs.jql.insert(remote);
            return None;
        };
        let matching: FxHashSet<IssueId> = ids.iter().copied().collect();
        Some(Box::new(move |_, issue| matching.contains(&issue)))
    }

    /// Records needs for fields not yet fetched; true when everything is there.
    fn ensure_fields(&mut self, issues: &[IssueId], fields: &[FieldId]) -> bool {
        let mut complete = true;
        for &issue in issues {
            if self.data.is_hidden(issue) {
                continue;
            }
            for field in fields {
                if !self.data.issue(issue).is_some_and(|i| i.has_field(field)) {
                    self.needs.field(issue, field);
                    complete = false;
                }
            }
        }
        complete
    }

    // ---- Group -------------------------------------------------------------------------------------------

    fn group(&mut self, placed: &Placed, field: &FieldId) {
        // Groupers under the same parent nest: a later one groups inside the headers of an earlier one.
        let containers: Vec<u32> = self.group_containers(placed.scope, placed.id);
        for container in containers {
            let children: Vec<u32> = self.tree.live_children(container).collect();
            let issues: Vec<IssueId> = children
                .iter()
                .filter_map(|&c| self.tree.issue(c))
                .collect();
            if !self.ensure_fields(&issues, std::slice::from_ref(field)) {
                continue;
            }
            let mut groups: Vec<(GroupKey, Option<FieldValue>, Vec<u32>)> = Vec::new();
            let mut index: FxHashMap<GroupKey, usize> = FxHashMap::default();
            let mut others = Vec::new();
            for child in children {
                // Withheld issues join no group: an empty header would show where they are.
                let Some(issue) = self
                    .tree
                    .issue(child)
                    .filter(|id| !self.data.is_hidden(*id))
                else {
                    others.push(child);
                    continue;
                };
                let value = self
                    .data
                    .issue(issue)
                    .and_then(|i| i.field(field))
                    .flatten();
                // A multi-valued field puts the issue under each of its values, as Structure does.
                let values: Vec<Option<&FieldValue>> = match value {
                    Some(FieldValue::List(list)) => list.iter().map(Some).collect(),
                    Some(v) => vec![Some(v)],
                    None => vec![None],
                };
                for (n, value) in values.into_iter().enumerate() {
                    let key = GroupKey::of(value);
                    let slot = *index.entry(key.clone()).or_insert_with(|| {
                        groups.push((key, value.cloned(), Vec::new()));
                        groups.len() - 1
                    });
                    let node = if n == 0 {
                        child
                    } else {
                        self.copy_subtree(child)
                    };
                    groups[slot].2.push(node);
                }
            }
            groups.sort_by(|a, b| a.0.cmp(&b.0));
            let mut new_children = others;
            for (_, value, members) in groups {
                let label: Arc<str> = match &value {
                    Some(v) => Arc::from(v.display()),
                    None => Arc::from(format!("No {}", field.as_str())),
                };
                let header = self.tree.groups.len();
                self.tree.groups.push(GroupHeader {
                    field: field.clone(),
                    value,
                    label,
                });
                let node = self.tree.detached(
                    Node::Group(u32::try_from(header).unwrap_or(u32::MAX)),
                    Source::Generated(placed.id),
                );
                self.tree.children[node as usize] = members;
                new_children.push(node);
            }
            self.tree.children[container as usize] = new_children;
        }
    }

    /// Where a grouper groups: its parent, or the headers that earlier groupers of the same parent made.
    fn group_containers(&self, scope: u32, generator: GeneratorId) -> Vec<u32> {
        let mut containers = vec![scope];
        loop {
            let next: Vec<u32> = containers
                .iter()
                .flat_map(|&c| self.tree.live_children(c))
                .filter(|&c| {
                    matches!(self.tree.node[c as usize], Node::Group(_))
                        && self.tree.source[c as usize] != Source::Generated(generator)
                })
                .collect();
            if next.is_empty() {
                return containers;
            }
            containers = next;
        }
    }

    /// Copies a subtree, without recursion (a stored subtree can be thousands of levels deep).
    fn copy_subtree(&mut self, node: u32) -> u32 {
        let copy_of =
            |tree: &mut Tree, n: u32| tree.detached(tree.node[n as usize], tree.source[n as usize]);
        let root = copy_of(&mut self.tree, node);
        let mut pending = vec![(node, root)];
        while let Some((original, copy)) = pending.pop() {
            let children: Vec<u32> = self.tree.live_children(original).collect();
            for child in children {
                let child_copy = copy_of(&mut self.tree, child);
                self.tree.children[copy as usize].push(child_copy);
                pending.push((child, child_copy));
            }
        }
        root
    }

    // ---- Sort --------------------------------------------------------------------------------------------

    fn sort(&mut self, placed: &Placed) {
        let (field, descending, formula) = match &placed.generator {
            Generator::SortByField { field, descending } => {
                (Some(field.clone()), *descending, None)
            }
            Generator::SortByRank { descending } => {
                (Some(self.context.rank_field.clone()), *descending, None)
            }
            Generator::SortByFormula {
                formula,
                descending,
            } => (None, *descending, Some(formula.as_str())),
            _ => return,
        };
        let exact = matches!(placed.generator, Generator::SortByRank { .. });
        let compiled = match formula {
            Some(text) => match Formula::compile(text) {
                Ok(compiled) => Some(compiled),
                Err(_) => return,
            },
            None => None,
        };
        let fields: Vec<FieldId> = match (&field, &compiled) {
            (Some(field), _) => vec![field.clone()],
            (None, Some(compiled)) => compiled
                .variables()
                .iter()
                .filter_map(|v| self.context.bindings.field_for(v))
                .collect(),
            (None, None) => Vec::new(),
        };
        let mut parents: Vec<u32> = vec![placed.scope];
        parents.extend(self.tree.subtree(placed.scope).into_iter().map(|(n, _)| n));
        // One pass: each sibling's key is read once; a missing field becomes a need, and then nothing moves.
        let mut complete = true;
        let mut reorders: Vec<(u32, Vec<u32>)> = Vec::new();
        let mut keyed: Vec<(SortKey, u32)> = Vec::new();
        for parent in parents {
            if self.tree.children[parent as usize].len() < 2 {
                continue;
            }
            let children: Vec<u32> = self.tree.live_children(parent).collect();
            keyed.clear();
            // Only issue rows move; folders, memos and headers keep their places.
            for &node in &children {
                let Some(id) = self.tree.issue(node) else {
                    continue;
                };
                let key = match self.data.issue(id) {
                    Some(issue) if fields.iter().all(|f| issue.has_field(f)) => {
                        match (&field, &compiled) {
                            (Some(field), _) => SortKey::of(issue.field(field).flatten(), exact),
                            (None, Some(compiled)) => self
                                .formula_value(compiled, id)
                                .map_or(SortKey::Empty, SortKey::of_formula),
                            (None, None) => SortKey::Empty,
                        }
                    }
                    _ if self.data.is_hidden(id) => SortKey::Empty,
                    _ => {
                        for f in &fields {
                            self.needs.field(id, f);
                        }
                        complete = false;
                        SortKey::Empty
                    }
                };
                keyed.push((key, node));
            }
            if !complete || keyed.len() < 2 {
                continue;
            }
            keyed.sort_by(|a, b| SortKey::compare(&a.0, &b.0, descending));
            let mut sorted = keyed.iter().map(|(_, node)| *node);
            let reordered: Vec<u32> = children
                .iter()
                .map(|&c| {
                    if self.tree.issue(c).is_some() {
                        sorted.next().unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect();
            reorders.push((parent, reordered));
        }
        if complete {
            for (parent, children) in reorders {
                self.tree.children[parent as usize] = children;
            }
        }
    }

    /// A formula's value for one issue, as a one-row forest.
    fn formula_value(&self, formula: &Formula, issue: IssueId) -> Option<Value> {
        let issue = self.data.issue(issue)?;
        let now = jiff::Timestamp::from_millisecond(self.context.jql.now.0).ok()?;
        formula
            .evaluate(
                &OneIssue {
                    issue,
                    bindings: self.context.bindings,
                    now,
                },
                0,
            )
            .ok()
    }

    // ---- Output ------------------------------------------------------------------------------------------

    /// The rows in order, slots replaced by what they hold.
    fn flatten(&self) -> Result<EffectiveForest, EngineError> {
        let mut forest = EffectiveForest {
            groups: self.tree.groups.clone(),
            ..EffectiveForest::default()
        };
        forest.depth.reserve(self.tree.live);
        forest.item.reserve(self.tree.live);
        forest.source.reserve(self.tree.live);
        // (node, depth)
        let mut stack: Vec<(u32, u32)> = self.tree.live_children(ROOT).map(|c| (c, 0)).collect();
        stack.reverse();
        while let Some((node, depth)) = stack.pop() {
            let item = match self.tree.node[node as usize] {
                Node::Slot(_) => {
                    // The slot's children take its place.
                    let start = stack.len();
                    stack.extend(self.tree.live_children(node).map(|c| (c, depth)));
                    stack[start..].reverse();
                    continue;
                }
                Node::Root => continue,
                Node::Issue(id) => EffectiveItem::Issue(id),
                Node::Stored(row) => EffectiveItem::Stored(row),
                Node::Group(g) => EffectiveItem::Group(g),
            };
            let Ok(row_depth) = u16::try_from(depth) else {
                return Err(EngineError::TooDeep { max: u16::MAX });
            };
            forest.depth.push(row_depth);
            forest.item.push(item);
            forest.source.push(self.tree.source[node as usize]);
            let start = stack.len();
            stack.extend(self.tree.live_children(node).map(|c| (c, depth + 1)));
            stack[start..].reverse();
        }
        forest.assign_keys();
        Ok(forest)
    }
}

/// A derived row's key: stable across runs for the same parent, item and origin (generator or copied row).
/// Derived keys have the top bit set so that they never collide with stored row ids.
fn row_key(parent: u64, item: EffectiveItem, origin: u64, label: Option<&str>) -> u64 {
    let mut hasher = StableHasher::default();
    parent.hash(&mut hasher);
    origin.hash(&mut hasher);
    match item {
        EffectiveItem::Issue(id) => (0u8, id.get()).hash(&mut hasher),
        EffectiveItem::Stored(row) => (1u8, row.get()).hash(&mut hasher),
        EffectiveItem::Group(_) => (2u8, label.unwrap_or("")).hash(&mut hasher),
    }
    hasher.finish() | (1 << 63)
}

/// FNV-1a: stable across processes and Rust versions, unlike `DefaultHasher`, so row keys survive restarts.
struct StableHasher(u64);

impl Default for StableHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The JQL fields a query reads.
fn referenced_fields(query: &jql::Query, catalog: &dyn FieldCatalog) -> Vec<FieldKey> {
    let mut keys = Vec::new();
    let mut stack: Vec<&jql::ast::Clause> = query.clause.iter().collect();
    while let Some(clause) = stack.pop() {
        match clause {
            jql::ast::Clause::Or(c) | jql::ast::Clause::And(c) => stack.extend(c.clauses.iter()),
            jql::ast::Clause::Not(c) => stack.push(&c.clause),
            jql::ast::Clause::Terminal(t) => {
                if let Some(info) = catalog.resolve(&t.field.name) {
                    keys.extend(info.keys);
                }
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// How group headers are told apart and ordered: by value, with "no value" last.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum GroupKey {
    Number(OrderedNumber),
    /// Ordered by what people read, told apart by identity: two people called "John Smith" get two headers.
    Text {
        shown: String,
        identity: String,
    },
    None,
}

impl GroupKey {
    fn of(value: Option<&FieldValue>) -> Self {
        match value {
            None => Self::None,
            Some(FieldValue::Number(n)) => Self::Number(OrderedNumber(*n)),
            Some(FieldValue::Date(day)) => Self::Number(OrderedNumber(day.0 as f64)),
            Some(FieldValue::DateTime(ts)) => Self::Number(OrderedNumber(ts.0 as f64)),
            Some(other) => {
                let identity = match other {
                    FieldValue::User { account_id, .. } => account_id.to_string(),
                    FieldValue::Named { id, .. } => id.to_string(),
                    FieldValue::Issue { id, .. } => id.to_string(),
                    _ => String::new(),
                };
                Self::Text {
                    shown: other.display(),
                    identity,
                }
            }
        }
    }
}

/// An `f64` with a total order (for keys and sorting).
#[derive(Debug, Clone, Copy)]
struct OrderedNumber(f64);

impl PartialEq for OrderedNumber {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for OrderedNumber {}
impl PartialOrd for OrderedNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderedNumber {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl Hash for OrderedNumber {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// What siblings are sorted by. Empty values go last in both directions, as in Jira.
#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Number(f64),
    Text(String),
    Empty,
}

impl SortKey {
    fn of(value: Option<&FieldValue>, exact: bool) -> Self {
        match value {
            None => Self::Empty,
            Some(FieldValue::Number(n)) => Self::Number(*n),
            Some(FieldValue::Date(day)) => Self::Number(day.0 as f64),
            Some(FieldValue::DateTime(ts)) => Self::Number(ts.0 as f64),
            // Jira's rank is compared byte by byte; other text ignores case, as people expect.
            Some(FieldValue::Text(text)) if exact => Self::Text(text.to_string()),
            Some(FieldValue::Text(text)) => Self::Text(text.to_lowercase()),
            Some(other) => Self::Text(other.display().to_lowercase()),
        }
    }

    fn of_formula(value: Value) -> Self {
        match value {
            Value::Empty => Self::Empty,
            Value::Number(n) => Self::Number(n),
            Value::Bool(b) => Self::Number(f64::from(u8::from(b))),
            Value::Duration(ms) => Self::Number(ms as f64),
            Value::Date(date) => Self::Number(f64::from(
                date.since(jiff::civil::Date::ZERO)
                    .map_or(0, |s| s.get_days()),
            )),
            Value::DateTime(ts) => Self::Number(ts.as_millisecond() as f64),
            Value::Text(text) => Self::Text(text.to_lowercase()),
            other @ Value::List(_) => Self::Text(other.repr().to_lowercase()),
        }
    }

    fn compare(a: &Self, b: &Self, descending: bool) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let ordered = match (a, b) {
            (Self::Empty, Self::Empty) => return Ordering::Equal,
            (Self::Empty, _) => return Ordering::Greater,
            (_, Self::Empty) => return Ordering::Less,
            (Self::Number(x), Self::Number(y)) => x.total_cmp(y),
            (Self::Text(x), Self::Text(y)) => x.cmp(y),
            (Self::Number(_), Self::Text(_)) => Ordering::Less,
            (Self::Text(_), Self::Number(_)) => Ordering::Greater,
        };
        if descending {
            ordered.reverse()
        } else {
            ordered
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use jql::eval::{StandardCatalog, Timestamp};

    use super::*;
    use crate::data::{Issue, Link, LinkDirection};
    use crate::forest::{Item, Row};
    use crate::generator::Levels;
    use crate::ids::FolderName;

    fn issue_id(n: u64) -> IssueId {
        IssueId::new(n).unwrap()
    }

    fn generator_id(n: u64) -> GeneratorId {
        GeneratorId::new(n).unwrap()
    }

    /// A clock that advances by `step` every time it is read.
    struct SteppingClock {
        now: Cell<Duration>,
        step: Duration,
    }

    impl Clock for SteppingClock {
        fn elapsed(&self) -> Duration {
            let now = self.now.get();
            self.now.set(now + self.step);
            now
        }
    }

    /// A stored forest, its generators and data, and the context to run them in.
    struct Setup {
        rows: Vec<Row>,
        generators: HashMap<GeneratorId, Generator>,
        data: IssueData,
        catalog: StandardCatalog,
        bindings: FieldBindings,
        rank: FieldId,
        limits: Limits,
        step: Duration,
    }

    impl Setup {
        fn new() -> Self {
            Self {
                rows: Vec::new(),
                generators: HashMap::new(),
                data: IssueData::new(),
                catalog: StandardCatalog::new(),
                bindings: FieldBindings::standard(&FieldId::new("customfield_10016")),
                rank: FieldId::new("customfield_10019"),
                limits: Limits::default(),
                step: Duration::ZERO,
            }
        }

        fn row(&mut self, depth: u16, item: Item) -> RowId {
            let id = RowId::new(self.rows.len() as u64 + 1).unwrap();
            self.rows.push(Row::new(id, depth, item));
            id
        }

        fn generator(&mut self, depth: u16, id: u64, generator: Generator) {
            generator.validate().unwrap();
            self.generators.insert(generator_id(id), generator);
            self.row(depth, Item::Generator(generator_id(id)));
        }

        /// An issue with the given fields, no links and no sub-tasks.
        fn issue(&mut self, id: u64, fields: &[(&str, FieldValue)]) {
            let mut issue = Issue::new(issue_id(id), &format!("A-{id}"));
            for (field, value) in fields {
                issue.set(FieldId::new(field), Some(value.clone()));
            }
            issue.set_links(Vec::new());
            issue.set_subtasks(Vec::new());
            self.data.insert_issue(issue);
        }

        fn link(&mut self, from: u64, to: u64) {
            let mut issue = self.data.issue(issue_id(from)).unwrap().clone();
            let mut links = issue.links().unwrap().to_vec();
            links.push(Link {
                type_id: "10000".into(),
                type_name: "Blocks".into(),
                direction: LinkDirection::Outward,
                description: "blocks".into(),
                other: issue_id(to),
                other_key: format!("A-{to}").into(),
            });
            issue.set_links(links);
            self.data.insert_issue(issue);
        }

        fn children(&mut self, parent: u64, children: &[u64]) {
            self.data.insert_children(
                issue_id(parent),
                children.iter().map(|&c| issue_id(c)).collect(),
            );
        }

        fn jql(&mut self, query: &str, ids: &[u64]) {
            self.data
                .insert_jql(query, ids.iter().map(|&i| issue_id(i)).collect());
        }

        fn run(&self) -> Result<Evaluation, EngineError> {
            let forest = Forest::from_rows(self.rows.clone()).unwrap();
            let clock = SteppingClock {
                now: Cell::new(Duration::ZERO),
                step: self.step,
            };
            let context = RunContext {
                generators: &self.generators,
                catalog: &self.catalog,
                jql: EvalContext::at(Timestamp(1_700_000_000_000)),
                rank_field: &self.rank,
                bindings: &self.bindings,
                limits: self.limits,
                clock: &clock,
            };
            evaluate(&forest, &self.data, &context)
        }
    }

    /// `(depth, label)` per row: issue ids, `row N` for folders, `[label]` for group headers.
    fn shape(evaluation: &Evaluation) -> Vec<(u16, String)> {
        let forest = &evaluation.forest;
        (0..forest.len())
            .map(|row| {
                let label = match forest.item(row) {
                    EffectiveItem::Issue(id) => id.get().to_string(),
                    EffectiveItem::Stored(row) => format!("row {row}"),
                    EffectiveItem::Group(g) => {
                        format!("[{}]", forest.group_label(g).unwrap().label)
                    }
                };
                (forest.depth(row), label)
            })
            .collect()
    }

    fn rows(list: &[(u16, &str)]) -> Vec<(u16, String)> {
        list.iter().map(|(d, l)| (*d, (*l).to_owned())).collect()
    }

    fn status(name: &str, category: &str) -> FieldValue {
        FieldValue::Named {
            id: name.into(),
            name: name.into(),
            key: Some(category.into()),
        }
    }

    #[test]
    fn manual_rows_pass_through_unchanged() {
        let mut setup = Setup::new();
        setup.row(0, Item::Folder(FolderName::new("Plan").unwrap()));
        setup.row(1, Item::Issue(issue_id(5)));
        setup.row(0, Item::Issue(issue_id(6)));
        let evaluation = setup.run().unwrap();
        assert_eq!(
            shape(&evaluation),
            rows(&[(0, "row 1"), (1, "5"), (0, "6")])
        );
        assert!(evaluation.is_complete());
        assert_eq!(
            evaluation.forest.key(1),
            2,
            "manual rows keep their row id as key"
        );
    }

    #[test]
    fn the_needs_protocol_asks_for_what_is_missing_round_by_round() {
        let mut setup = Setup::new();
        setup.row(0, Item::Issue(issue_id(1)));
        setup.generator(
            0,
            1,
            Generator::InsertJql {
                jql: "project = A".into(),
            },
        );
        setup.generator(
            0,
            2,
            Generator::ExtendChildren {
                levels: Levels::default(),
            },
        );

        let first = setup.run().unwrap();
        assert_eq!(first.needs.jql.iter().collect::<Vec<_>>(), ["project = A"]);
        assert!(
            first.needs.children.contains(&issue_id(1)),
            "the manual issue is extended too"
        );

        setup.jql("project = A", &[10, 11]);
        setup.children(1, &[]);
        let second = setup.run().unwrap();
        assert!(second.needs.jql.is_empty());
        assert_eq!(
            second.needs.children,
            [issue_id(10), issue_id(11)].into_iter().collect()
        );

        setup.children(10, &[20, 21]);
        setup.children(11, &[]);
        let third = setup.run().unwrap();
        assert_eq!(
            third.needs.children,
            [issue_id(20), issue_id(21)].into_iter().collect()
        );
        setup.children(20, &[]);
        setup.children(21, &[]);
        let done = setup.run().unwrap();
        assert!(done.is_complete(), "{:?}", done.needs);
        assert_eq!(
            shape(&done),
            rows(&[(0, "1"), (0, "10"), (1, "20"), (1, "21"), (0, "11")])
        );
        assert_eq!(done.costs[&generator_id(1)].rows_added, 2);
        assert_eq!(done.costs[&generator_id(2)].rows_added, 2);
    }

    #[test]
    fn link_cycles_terminate_and_levels_hold() {
        let mut setup = Setup::new();
        for id in 1..=5 {
            setup.issue(id, &[]);
        }
        // 1 → 2 → 3 → 1 (a cycle), 3 → 4 → 5.
        setup.link(1, 2);
        setup.link(2, 3);
        setup.link(3, 1);
        setup.link(3, 4);
        setup.link(4, 5);
        setup.row(0, Item::Issue(issue_id(1)));
        let extend = |to| Generator::ExtendLinks {
            link_type_id: "10000".into(),
            direction: LinkDirection::Outward,
            levels: Levels { from: 1, to },
        };
        setup.generator(0, 1, extend(10));
        let all = setup.run().unwrap();
        assert!(all.is_complete());
        assert_eq!(
            shape(&all),
            rows(&[(0, "1"), (1, "2"), (2, "3"), (3, "4"), (4, "5")])
        );

        setup.generators.insert(generator_id(1), extend(2));
        let two = setup.run().unwrap();
        assert_eq!(shape(&two), rows(&[(0, "1"), (1, "2"), (2, "3")]));
    }

    #[test]
    fn extenders_work_on_each_others_results_within_their_scope() {
        let mut setup = Setup::new();
        for id in [1, 2, 3, 4, 9] {
            setup.issue(id, &[]);
        }
        setup.children(1, &[2]);
        setup.children(2, &[]);
        setup.children(3, &[]);
        setup.children(4, &[]);
        setup.link(2, 3);
        setup.link(9, 4);
        setup.row(0, Item::Folder(FolderName::new("Scoped").unwrap()));
        setup.row(1, Item::Issue(issue_id(1)));
        setup.generator(
            1,
            1,
            Generator::ExtendChildren {
                levels: Levels::default(),
            },
        );
        setup.generator(
            1,
            2,
            Generator::ExtendLinks {
                link_type_id: "10000".into(),
                direction: LinkDirection::Outward,
                levels: Levels::default(),
            },
        );
        // Outside the folder: not extended.
        setup.row(0, Item::Issue(issue_id(9)));
        let evaluation = setup.run().unwrap();
        assert!(evaluation.is_complete(), "{:?}", evaluation.needs);
        assert_eq!(
            shape(&evaluation),
            rows(&[(0, "row 1"), (1, "1"), (2, "2"), (3, "3"), (0, "9")])
        );
    }

    #[test]
    fn hidden_issues_are_not_extended_and_unknown_ones_are_needed() {
        let mut setup = Setup::new();
        setup.row(0, Item::Issue(issue_id(1)));
        setup.row(0, Item::Issue(issue_id(2)));
        setup.generator(
            0,
            1,
            Generator::ExtendSubtasks {
                levels: Levels::default(),
            },
        );
        setup.data.insert_hidden(issue_id(1));
        let evaluation = setup.run().unwrap();
        assert_eq!(evaluation.needs.issues, [issue_id(2)].into_iter().collect());
        assert!(evaluation.needs.fields.contains(&FieldId::new("subtasks")));
    }

    #[test]
    fn jql_filters_keep_matches_and_the_rows_above_them() {
        let mut setup = Setup::new();
        setup.issue(1, &[("status", status("Open", "new"))]);
        setup.issue(2, &[("status", status("Done", "done"))]);
        setup.issue(3, &[("status", status("Open", "new"))]);
        setup.issue(4, &[("status", status("Done", "done"))]);
        setup.row(0, Item::Issue(issue_id(2)));
        setup.row(1, Item::Issue(issue_id(3)));
        setup.row(0, Item::Issue(issue_id(4)));
        setup.row(0, Item::Folder(FolderName::new("Notes").unwrap()));
        setup.row(0, Item::Issue(issue_id(1)));
        setup.generator(
            0,
            1,
            Generator::FilterJql {
                jql: "statusCategory != done".into(),
            },
        );
        let evaluation = setup.run().unwrap();
        assert!(evaluation.is_complete(), "{:?}", evaluation.needs);
        assert_eq!(
            shape(&evaluation),
            rows(&[(0, "2"), (1, "3"), (0, "row 4"), (0, "1")])
        );
        assert_eq!(evaluation.costs[&generator_id(1)].rows_removed, 1);
    }

    #[test]
    fn filters_that_jira_must_answer_ask_for_the_matching_ids() {
        let mut setup = Setup::new();
        setup.issue(1, &[]);
        setup.issue(2, &[]);
        setup.row(0, Item::Issue(issue_id(2)));
        setup.row(0, Item::Issue(issue_id(1)));
        setup.generator(
            0,
            1,
            Generator::FilterJql {
                jql: "status WAS Open".into(),
            },
        );
        let first = setup.run().unwrap();
        let query = "issue in (1,2) AND (status WAS Open)";
        assert!(first.needs.jql.contains(query), "{:?}", first.needs.jql);
        assert_eq!(
            first.forest.len(),
            2,
            "nothing is removed before the answer"
        );
        setup.jql(query, &[1]);
        assert_eq!(shape(&setup.run().unwrap()), rows(&[(0, "1")]));
    }

    #[test]
    fn remove_duplicates_keeps_the_first_placement() {
        let mut setup = Setup::new();
        setup.row(0, Item::Issue(issue_id(1)));
        setup.row(1, Item::Issue(issue_id(2)));
        setup.row(0, Item::Issue(issue_id(2)));
        setup.generator(0, 1, Generator::RemoveDuplicates);
        assert_eq!(shape(&setup.run().unwrap()), rows(&[(0, "1"), (1, "2")]));
    }

    #[test]
    fn groups_by_value_with_multi_values_and_no_value_last() {
        let component = |name: &str| FieldValue::named(name, name);
        let mut setup = Setup::new();
        setup.issue(
            1,
            &[(
                "components",
                FieldValue::List(vec![component("UI"), component("API")]),
            )],
        );
        setup.issue(
            2,
            &[("components", FieldValue::List(vec![component("API")]))],
        );
        setup.issue(3, &[("components", FieldValue::List(vec![]))]);
        for id in [1, 2, 3] {
            setup.row(0, Item::Issue(issue_id(id)));
        }
        setup.generator(
            0,
            1,
            Generator::GroupByField {
                field: FieldId::new("components"),
            },
        );
        let evaluation = setup.run().unwrap();
        assert!(evaluation.is_complete(), "{:?}", evaluation.needs);
        assert_eq!(
            shape(&evaluation),
            rows(&[
                (0, "[API]"),
                (1, "1"),
                (1, "2"),
                (0, "[UI]"),
                (1, "1"),
                (0, "[No components]"),
                (1, "3")
            ])
        );
        // The same issue under two headers has two different, stable keys.
        assert_ne!(evaluation.forest.key(1), evaluation.forest.key(4));
        assert_eq!(
            setup.run().unwrap().forest,
            evaluation.forest,
            "deterministic"
        );
    }

    #[test]
    fn sorting_moves_issues_only_and_puts_empty_values_last() {
        let mut setup = Setup::new();
        setup.issue(1, &[("customfield_10016", FieldValue::Number(3.0))]);
        setup.issue(2, &[("customfield_10016", FieldValue::Number(8.0))]);
        setup.issue(3, &[("customfield_10016", FieldValue::List(vec![]))]);
        setup.issue(4, &[("customfield_10016", FieldValue::Number(1.0))]);
        setup.row(0, Item::Issue(issue_id(1)));
        setup.row(0, Item::Folder(FolderName::new("Pinned").unwrap()));
        setup.row(0, Item::Issue(issue_id(3)));
        setup.row(0, Item::Issue(issue_id(2)));
        setup.row(0, Item::Issue(issue_id(4)));
        setup.generator(
            0,
            1,
            Generator::SortByField {
                field: FieldId::new("customfield_10016"),
                descending: true,
            },
        );
        assert_eq!(
            shape(&setup.run().unwrap()),
            rows(&[(0, "2"), (0, "row 2"), (0, "1"), (0, "4"), (0, "3")])
        );

        setup.generators.insert(
            generator_id(1),
            Generator::SortByFormula {
                formula: "story_points * -1".into(),
                descending: false,
            },
        );
        assert_eq!(
            shape(&setup.run().unwrap()),
            rows(&[(0, "2"), (0, "row 2"), (0, "1"), (0, "4"), (0, "3")])
        );
    }

    #[test]
    fn formula_filters_read_bound_fields() {
        let mut setup = Setup::new();
        setup.issue(1, &[("customfield_10016", FieldValue::Number(3.0))]);
        setup.issue(2, &[("customfield_10016", FieldValue::Number(8.0))]);
        setup.row(0, Item::Issue(issue_id(1)));
        setup.row(0, Item::Issue(issue_id(2)));
        setup.generator(
            0,
            1,
            Generator::FilterFormula {
                formula: "story_points > 5".into(),
            },
        );
        assert_eq!(shape(&setup.run().unwrap()), rows(&[(0, "2")]));
    }

    #[test]
    fn inserted_keys_keep_the_given_order_and_skip_siblings_already_there() {
        let mut setup = Setup::new();
        for id in [1, 2, 3] {
            setup.issue(id, &[]);
        }
        setup.row(0, Item::Issue(issue_id(2)));
        setup.generator(
            0,
            1,
            Generator::InsertKeys {
                keys: vec!["A-3".into(), "A-2".into(), "A-1".into()],
            },
        );
        setup.jql("key in (A-3, A-2, A-1)", &[1, 2, 3]);
        assert_eq!(
            shape(&setup.run().unwrap()),
            rows(&[(0, "2"), (0, "3"), (0, "1")])
        );
    }

    #[test]
    fn the_time_budget_stops_with_a_partial_result() {
        let mut setup = Setup::new();
        setup.generator(
            0,
            1,
            Generator::InsertJql {
                jql: "project = A".into(),
            },
        );
        setup.generator(0, 2, Generator::SortByRank { descending: false });
        setup.jql("project = A", &[1]);
        setup.step = Duration::from_secs(20);
        let evaluation = setup.run().unwrap();
        assert_eq!(evaluation.stopped_at, Some(generator_id(2)));
        assert!(!evaluation.is_complete());
        assert_eq!(
            shape(&evaluation),
            rows(&[(0, "1")]),
            "what was done before the budget ran out is kept"
        );
        assert_eq!(
            evaluation.costs[&generator_id(1)].elapsed,
            Duration::from_secs(20)
        );
    }

    #[test]
    fn the_safety_cap_is_a_clear_error() {
        let mut setup = Setup::new();
        setup.generator(
            0,
            1,
            Generator::InsertJql {
                jql: "project = A".into(),
            },
        );
        setup.jql("project = A", &[1, 2, 3]);
        setup.limits.max_rows = 2;
        let error = setup.run().unwrap_err();
        assert_eq!(
            error,
            EngineError::TooManyRows {
                generator: generator_id(1),
                max_rows: 2
            }
        );
        assert!(error.to_string().contains("safety cap of 2 rows"));
    }

    #[test]
    fn a_generator_row_without_configuration_is_an_error() {
        let mut setup = Setup::new();
        setup.row(0, Item::Generator(generator_id(9)));
        assert!(matches!(
            setup.run(),
            Err(EngineError::UnknownGenerator { .. })
        ));
    }

    #[test]
    fn generators_stored_below_an_inserter_share_its_scope() {
        let mut setup = Setup::new();
        setup.issue(1, &[]);
        setup.issue(2, &[]);
        setup.children(1, &[2]);
        setup.children(2, &[]);
        setup.generator(
            0,
            1,
            Generator::InsertJql {
                jql: "project = A".into(),
            },
        );
        setup.generator(
            1,
            2,
            Generator::ExtendChildren {
                levels: Levels::default(),
            },
        );
        setup.jql("project = A", &[1]);
        let evaluation = setup.run().unwrap();
        assert!(evaluation.is_complete(), "{:?}", evaluation.needs);
        assert_eq!(shape(&evaluation), rows(&[(0, "1"), (1, "2")]));
    }

    #[test]
    fn people_with_the_same_name_get_their_own_groups() {
        let person = |id: &str| FieldValue::User {
            account_id: id.into(),
            display_name: "John Smith".into(),
        };
        let mut setup = Setup::new();
        setup.issue(1, &[("assignee", person("a1"))]);
        setup.issue(2, &[("assignee", person("a2"))]);
        setup.row(0, Item::Issue(issue_id(1)));
        setup.row(0, Item::Issue(issue_id(2)));
        setup.generator(
            0,
            1,
            Generator::GroupByField {
                field: FieldId::new("assignee"),
            },
        );
        let evaluation = setup.run().unwrap();
        assert_eq!(
            shape(&evaluation),
            rows(&[(0, "[John Smith]"), (1, "1"), (0, "[John Smith]"), (1, "2")])
        );
    }

    #[test]
    fn withheld_issues_leave_no_trace_in_groups_or_keys() {
        let mut setup = Setup::new();
        setup.issue(
            1,
            &[("labels", FieldValue::List(vec![FieldValue::text("x")]))],
        );
        setup.issue(3, &[]);
        setup.row(0, Item::Issue(issue_id(1)));
        setup.row(0, Item::Issue(issue_id(2)));
        setup.row(1, Item::Issue(issue_id(3)));
        setup.generator(
            0,
            1,
            Generator::GroupByField {
                field: FieldId::new("labels"),
            },
        );
        setup.data.insert_hidden(issue_id(2));
        let evaluation = setup.run().unwrap();
        assert!(evaluation.is_complete(), "{:?}", evaluation.needs);
        // Issue 2 is withheld: it joins no group, and once removed its child moves up.
        let visible = crate::permission::visible_to(&evaluation.forest, &setup.data);
        assert_eq!(visible.hidden, 1);
        let shown = Evaluation {
            forest: visible.forest.clone(),
            ..Evaluation::default()
        };
        assert_eq!(shape(&shown), rows(&[(0, "3"), (0, "[x]"), (1, "1")]));
        // The lifted row's key is what it would be had the withheld row never been there.
        assert_eq!(visible.forest.key(0), 3, "a manual row keeps its row id");
    }

    #[test]
    fn the_first_rows_show_what_the_whole_forest_shows_first() {
        let mut setup = Setup::new();
        for id in [1, 3, 4, 5] {
            setup.issue(id, &[]);
        }
        setup.data.insert_hidden(issue_id(2));
        for (depth, id) in [(0, 1), (1, 2), (2, 3), (0, 4), (1, 5)] {
            setup.row(depth, Item::Issue(issue_id(id)));
        }
        let forest = setup.run().unwrap().forest;
        let whole = crate::permission::visible_to(&forest, &setup.data).forest;
        for n in 0..=forest.len() {
            let first = forest.first_rows(n);
            assert_eq!(first.len(), n);
            assert!((0..n).all(|row| first.key(row) == forest.key(row)));
            // With every issue of the first rows known, withholding gives the whole forest's first rows:
            // the same items, depths (a withheld row's child moved up) and keys.
            let shown = crate::permission::visible_to(&first, &setup.data).forest;
            for row in 0..shown.len() {
                assert_eq!(
                    (shown.item(row), shown.depth(row), shown.key(row)),
                    (whole.item(row), whole.depth(row), whole.key(row)),
                    "first {n} rows, row {row}"
                );
            }
            assert_eq!(shown.len(), n - usize::from(n >= 2));
        }
    }

    #[test]
    fn empty_group_headers_are_dropped_with_the_rows_below_them() {
        let mut setup = Setup::new();
        setup.issue(
            1,
            &[("labels", FieldValue::List(vec![FieldValue::text("a")]))],
        );
        setup.issue(
            2,
            &[("labels", FieldValue::List(vec![FieldValue::text("b")]))],
        );
        setup.row(0, Item::Issue(issue_id(1)));
        setup.row(0, Item::Issue(issue_id(2)));
        setup.generator(
            0,
            1,
            Generator::GroupByField {
                field: FieldId::new("labels"),
            },
        );
        let forest = setup.run().unwrap().forest;
        let without_2 = forest.without_rows(|row| forest.issue(row) != Some(issue_id(2)));
        assert_eq!(
            shape(&Evaluation {
                forest: without_2,
                ..Evaluation::default()
            }),
            rows(&[(0, "[a]"), (1, "1")])
        );
    }

    #[test]
    fn a_budget_stop_while_extending_still_reports_costs() {
        let mut setup = Setup::new();
        for id in 1..=5000 {
            setup.issue(id, &[]);
            setup.children(id, &[]);
            setup.row(0, Item::Issue(issue_id(id)));
        }
        setup.generator(
            0,
            1,
            Generator::ExtendChildren {
                levels: Levels::default(),
            },
        );
        // Every read of the clock takes 20 s: the check made every 4096 rows is over the 30 s budget.
        setup.step = Duration::from_secs(20);
        let evaluation = setup.run().unwrap();
        assert_eq!(evaluation.stopped_at, Some(generator_id(1)));
        assert!(evaluation.costs.contains_key(&generator_id(1)));
    }

    #[test]
    fn removing_rows_lifts_their_children() {
        let mut setup = Setup::new();
        setup.row(0, Item::Issue(issue_id(1)));
        setup.row(1, Item::Issue(issue_id(2)));
        setup.row(2, Item::Issue(issue_id(3)));
        setup.row(1, Item::Issue(issue_id(4)));
        let forest = setup.run().unwrap().forest;
        let without_2 = forest.without_rows(|row| forest.issue(row) != Some(issue_id(2)));
        let evaluation = Evaluation {
            forest: without_2,
            ..Evaluation::default()
        };
        assert_eq!(shape(&evaluation), rows(&[(0, "1"), (1, "3"), (1, "4")]));
        let without_root = forest.without_rows(|row| row != 0);
        let evaluation = Evaluation {
            forest: without_root,
            ..Evaluation::default()
        };
        assert_eq!(shape(&evaluation), rows(&[(0, "2"), (1, "3"), (0, "4")]));
    }
}

#[cfg(test)]
mod determinism {
    use std::cell::Cell;

    use jql::eval::{StandardCatalog, Timestamp};
    use proptest::prelude::*;

    use super::*;
    use crate::data::{Issue, Link, LinkDirection};
    use crate::forest::{Item, Row};
    use crate::generator::Levels;

    struct Still(Cell<u32>);
    impl Clock for Still {
        fn elapsed(&self) -> Duration {
            self.0.set(self.0.get() + 1);
            Duration::ZERO
        }
    }

    /// Random issues 1..=n: a status, story points, children and outward links to other issues (cycles
    /// included).
    fn data_strategy() -> impl Strategy<Value = Vec<(u8, u8, Vec<u64>, Vec<u64>)>> {
        prop::collection::vec(
            (
                0u8..3,
                0u8..9,
                prop::collection::vec(1u64..=30, 0..4),
                prop::collection::vec(1u64..=30, 0..3),
            ),
            30,
        )
    }

    fn generators_strategy() -> impl Strategy<Value = Vec<Generator>> {
        let one = prop_oneof![
            Just(Generator::InsertJql {
                jql: "project = A".into()
            }),
            (1u8..4).prop_map(|to| Generator::ExtendChildren {
                levels: Levels { from: 1, to }
            }),
            (1u8..4).prop_map(|to| Generator::ExtendLinks {
                link_type_id: "1".into(),
                direction: LinkDirection::Outward,
                levels: Levels { from: 1, to },
            }),
            Just(Generator::FilterJql {
                jql: "statusCategory != done".into()
            }),
            Just(Generator::RemoveDuplicates),
            Just(Generator::GroupByField {
                field: FieldId::new("status")
            }),
            any::<bool>().prop_map(|descending| Generator::SortByField {
                field: FieldId::new("customfield_10016"),
                descending
            }),
        ];
        prop::collection::vec(one, 1..6)
    }

    fn build(raw: &[(u8, u8, Vec<u64>, Vec<u64>)], reversed: bool) -> IssueData {
        let id = |n: u64| IssueId::new(n).unwrap();
        let mut data = IssueData::new();
        let mut order: Vec<usize> = (0..raw.len()).collect();
        if reversed {
            order.reverse();
        }
        for i in order {
            let (status, points, children, links) = &raw[i];
            let n = i as u64 + 1;
            let (name, category) = [
                ("Open", "new"),
                ("Doing", "indeterminate"),
                ("Done", "done"),
            ][*status as usize];
            let mut issue = Issue::new(id(n), &format!("A-{n}"))
                .with(
                    "status",
                    FieldValue::Named {
                        id: name.into(),
                        name: name.into(),
                        key: Some(category.into()),
                    },
                )
                .with("customfield_10016", FieldValue::Number(f64::from(*points)));
            issue.set_links(
                links
                    .iter()
                    .map(|&other| Link {
                        type_id: "1".into(),
                        type_name: "Blocks".into(),
                        direction: LinkDirection::Outward,
                        description: "blocks".into(),
                        other: id(other),
                        other_key: format!("A-{other}").into(),
                    })
                    .collect(),
            );
            data.insert_issue(issue);
            data.insert_children(id(n), children.iter().map(|&c| id(c)).collect());
        }
        data.insert_jql("project = A", (1..=10).map(id).collect());
        data
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The same structure and data give the same effective forest, row keys included, whatever order the
        /// data arrived in; and every run terminates within the safety cap.
        #[test]
        fn generators_are_deterministic(raw in data_strategy(), generators in generators_strategy()) {
            let mut rows = vec![Row::new(RowId::new(1).unwrap(), 0, Item::Issue(IssueId::new(7).unwrap()))];
            let mut map = HashMap::new();
            for (n, generator) in (2u64..).zip(generators) {
                let id = GeneratorId::new(n).unwrap();
                rows.push(Row::new(RowId::new(n).unwrap(), 0, Item::Generator(id)));
                map.insert(id, generator);
            }
            let forest = Forest::from_rows(rows).unwrap();
            let catalog = StandardCatalog::new();
            let bindings = FieldBindings::standard(&FieldId::new("customfield_10016"));
            let rank = FieldId::new("rank");
            let clock = Still(Cell::new(0));
            let context = RunContext {
                generators: &map,
                catalog: &catalog,
                jql: EvalContext::at(Timestamp(0)),
                rank_field: &rank,
                bindings: &bindings,
                limits: Limits { budget: Duration::from_secs(30), max_rows: 100_000 },
                clock: &clock,
            };
            let first = evaluate(&forest, &build(&raw, false), &context).unwrap();
            let second = evaluate(&forest, &build(&raw, true), &context).unwrap();
            prop_assert!(first.is_complete(), "{:?}", first.needs);
            prop_assert_eq!(&first.forest, &second.forest);
            // No issue sits below itself.
            let f = &first.forest;
            let mut path: Vec<Option<IssueId>> = Vec::new();
            for row in 0..f.len() {
                path.truncate(usize::from(f.depth(row)));
                if let Some(issue) = f.issue(row) {
                    prop_assert!(!path.contains(&Some(issue)), "issue {} below itself", issue);
                }
                path.push(f.issue(row));
            }
        }
    }
}
