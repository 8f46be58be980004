//! Evaluation of a checked program: one row at a time ([`Evaluator::eval_row`]) or every row of a forest at
//! once ([`evaluate_all`]), which computes each aggregate bottom-up instead of re-walking every subtree.
//!
//! Costs, for a forest of `n` rows and a formula of size `f`:
//! - one row, no aggregates: O(f);
//! - one row with an aggregate: O(f × rows in scope) — the whole subtree for `#all`, `#descendants`, `#leaves`;
//!   so computing a top-level total on every row one by one is O(n × depth), O(n²) for a chain;
//! - `evaluate_all`: O(n × f) for `SUM`, `COUNT`, `AVG`, `MIN`, `MAX` (O(n log n) hash work for the default
//!   once-per-issue counting when some issue is placed twice), O(n × distinct values × depth) at worst for
//!   `DISTINCT`. Two cases fall back to the per-row walk for that one aggregate: a body that reads a `WITH`
//!   local bound outside it (its value depends on the row that aggregates), and a body that itself aggregates
//!   under once-per-issue counting in a forest with multi-placed issues (its value depends on the placement).
//!
//! Invariants: no panics on any input; every evaluation of one row is bounded by [`STEP_LIMIT`] node visits;
//! recursion is bounded by the parser's depth limit.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::ast::UnaryOp;
use super::check::{AggDef, Node, NodeKind, Program};
use super::context::RowContext;
use super::error::{ErrorKind, RawError, Span};
use super::functions::{AggFunc, CallEnv, Func, Scope, call};
use super::value::{
    Value, ValueKey, binary, compare, equal, ms_from_f64, ms_to_f64, to_number, value_key,
};

/// Node visits allowed for one row's evaluation (including the aggregates it computes on the way).
pub const STEP_LIMIT: u64 = 10_000_000;

type RowResult = Result<Value, RawError>;

fn runtime(span: Span, message: impl AsRef<str>) -> RawError {
    RawError::from_message(ErrorKind::Runtime, span, message.as_ref())
}

pub(crate) struct Evaluator<'a> {
    prog: &'a Program,
    ctx: &'a dyn RowContext,
    tz: TimeZone,
    now: Timestamp,
    /// Precomputed results per aggregate (by index), when `evaluate_all` could build them.
    tables: Vec<Option<Vec<RowResult>>>,
    locals: Vec<Value>,
    steps: u64,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(prog: &'a Program, ctx: &'a dyn RowContext) -> Self {
        Self {
            prog,
            ctx,
            tz: ctx.time_zone(),
            now: ctx.now(),
            tables: Vec::new(),
            locals: Vec::new(),
            steps: 0,
        }
    }

    /// The formula's value on one row.
    pub(crate) fn eval_row(&mut self, row: usize) -> RowResult {
        if row >= self.ctx.row_count() {
            return Err(runtime(
                Span::default(),
                format!(
                    "row {row} does not exist (the forest has {} rows)",
                    self.ctx.row_count()
                ),
            ));
        }
        self.steps = 0;
        self.locals.clear();
        let root = &self.prog.root;
        self.eval(root, row)
    }

    fn eval(&mut self, node: &Node, row: usize) -> RowResult {
        self.steps += 1;
        if self.steps > STEP_LIMIT {
            return Err(RawError::new(
                ErrorKind::Limit,
                node.span,
                format!("Formula needs more than {STEP_LIMIT} steps for one row"),
            )
            .with_hint("aggregates nested in aggregates multiply the work; simplify the formula"));
        }
        match &node.kind {
            NodeKind::Const(v) => Ok(v.clone()),
            NodeKind::Var(i) => Ok(self.ctx.value(row, &self.prog.vars[*i]).normalized()),
            NodeKind::Local(slot) => Ok(self.locals.get(*slot).cloned().unwrap_or_default()),
            NodeKind::Unary(op, operand) => {
                let v = self.eval(operand, row)?;
                unary(*op, &v).map_err(|m| runtime(node.span, m))
            }
            NodeKind::Binary(op, l, r) => {
                let a = self.eval(l, row)?;
                let b = self.eval(r, row)?;
                binary(*op, &a, &b, &self.tz).map_err(|m| runtime(node.span, m))
            }
            NodeKind::And(items) => {
                for item in items {
                    if !self.eval(item, row)?.is_truthy() {
                        return Ok(Value::Bool(false));
                    }
                }
                Ok(Value::Bool(true))
            }
            NodeKind::Or(items) => {
                for item in items {
                    if self.eval(item, row)?.is_truthy() {
                        return Ok(Value::Bool(true));
                    }
                }
                Ok(Value::Bool(false))
            }
            NodeKind::If(pairs, otherwise) => {
                for (cond, then) in pairs {
                    if self.eval(cond, row)?.is_truthy() {
                        return self.eval(then, row);
                    }
                }
                match otherwise {
                    Some(e) => self.eval(e, row),
                    None => Ok(Value::Empty),
                }
            }
            NodeKind::Case(subject, pairs, otherwise) => {
                let v = self.eval(subject, row)?;
                for (pattern, result) in pairs {
                    let p = self.eval(pattern, row)?;
                    if equal(&v, &p, &self.tz) {
                        return self.eval(result, row);
                    }
                }
                match otherwise {
                    Some(e) => self.eval(e, row),
                    None => Ok(Value::Empty),
                }
            }
            NodeKind::Call(func, args) => self.call(*func, args, row, node.span),
            NodeKind::With(value, body) => {
                let v = self.eval(value, row)?;
                self.locals.push(v);
                let result = self.eval(body, row);
                self.locals.pop();
                result
            }
            NodeKind::Aggregate(id) => self.aggregate(*id, row),
        }
    }

    // Kept out of `eval` so that the frame on the recursive path stays small.
    fn call(&mut self, func: Func, args: &[Node], row: usize, span: Span) -> RowResult {
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a, row)?);
        }
        let (is_leaf, depth) = match func {
            Func::IsLeaf | Func::Depth => (is_leaf(self.ctx, row), self.ctx.depth(row)),
            _ => (false, 0),
        };
        let env = CallEnv {
            tz: &self.tz,
            now: self.now,
            is_leaf,
            depth,
        };
        call(func, &values, &env).map_err(|m| runtime(span, m))
    }

    fn aggregate(&mut self, id: usize, row: usize) -> RowResult {
        if let Some(Some(table)) = self.tables.get(id) {
            return table.get(row).cloned().unwrap_or(Ok(Value::Empty));
        }
        let prog = self.prog;
        let def = &prog.aggs[id];
        let rows = scope_rows(self.ctx, row, def.scope);
        let mut acc = Acc::new(def.func);
        let mut seen = HashSet::new();
        for r in rows {
            // Pre-order: the first placement of an issue in the scope is the one that counts.
            if def.dedup
                && let Some(issue) = self.ctx.issue_id(r)
                && !seen.insert(issue)
            {
                continue;
            }
            let v = self.eval(&def.body, r)?;
            acc.add(&v, &self.tz).map_err(|m| runtime(def.span, m))?;
        }
        Ok(acc.finish())
    }
}

fn unary(op: UnaryOp, v: &Value) -> Result<Value, String> {
    match (op, v) {
        (UnaryOp::Not, v) => Ok(Value::Bool(!v.is_truthy())),
        (_, Value::Empty) => Ok(Value::Empty),
        (UnaryOp::Neg, Value::Duration(ms)) => Ok(Value::Duration(-ms)),
        (UnaryOp::Plus, Value::Duration(_)) => Ok(v.clone()),
        (op, v) => match to_number(v) {
            Ok(n) => {
                let n = n.unwrap_or(0.0);
                Ok(Value::number(if op == UnaryOp::Neg { -n } else { n }))
            }
            Err(_) => {
                let sym = if op == UnaryOp::Neg { '-' } else { '+' };
                Err(format!("cannot apply unary '{sym}' to {}", v.type_name()))
            }
        },
    }
}

fn is_leaf(ctx: &dyn RowContext, row: usize) -> bool {
    row + 1 >= ctx.row_count() || ctx.depth(row + 1) <= ctx.depth(row)
}

/// The rows an aggregate on `row` reads, in pre-order.
fn scope_rows(ctx: &dyn RowContext, row: usize, scope: Scope) -> Vec<usize> {
    let n = ctx.row_count();
    let d = ctx.depth(row);
    let mut out = Vec::new();
    if scope == Scope::All {
        out.push(row);
    }
    let mut shallowest = u32::MAX;
    let mut j = row + 1;
    while j < n {
        let dj = ctx.depth(j);
        if dj <= d {
            break;
        }
        let take = match scope {
            Scope::All | Scope::Descendants => true,
            // A row is a direct child when nothing between it and `row` is shallower than it.
            Scope::Children => dj <= shallowest,
            Scope::Leaves => is_leaf(ctx, j),
        };
        if take {
            out.push(j);
        }
        shallowest = shallowest.min(dj);
        j += 1;
    }
    if scope == Scope::Leaves && j == row + 1 {
        out.push(row);
    }
    out
}

/// A running aggregate.
#[derive(Debug, Clone)]
enum Acc {
    Sum(Total),
    Avg(Total),
    Count(u64),
    Min(Option<Value>),
    Max(Option<Value>),
    Distinct(HashSet<ValueKey>, Vec<Value>),
}

/// Numbers and durations are summed apart; a sum that mixes them is an error.
#[derive(Debug, Clone, Default)]
struct Total {
    number: f64,
    duration: i64,
    numbers: u64,
    durations: u64,
}

impl Total {
    fn add(&mut self, v: &Value) -> Result<(), String> {
        match v {
            Value::Empty => {}
            Value::Duration(ms) => {
                self.duration = self
                    .duration
                    .checked_add(*ms)
                    .ok_or("duration out of range")?;
                self.durations += 1;
            }
            Value::Date(_) | Value::DateTime(_) | Value::List(_) => {
                return Err(format!("cannot sum or average {}", v.type_name()));
            }
            other => {
                self.number += to_number(other)?.unwrap_or(0.0);
                self.numbers += 1;
            }
        }
        self.consistent()
    }

    fn merge(&mut self, other: &Total) -> Result<(), String> {
        self.number += other.number;
        self.duration = self
            .duration
            .checked_add(other.duration)
            .ok_or("duration out of range")?;
        self.numbers += other.numbers;
        self.durations += other.durations;
        self.consistent()
    }

    fn consistent(&self) -> Result<(), String> {
        if self.numbers > 0 && self.durations > 0 {
            Err("cannot add numbers and durations together".to_owned())
        } else {
            Ok(())
        }
    }

    fn sum(&self) -> Value {
        if self.durations > 0 {
            Value::Duration(self.duration)
        } else if self.numbers > 0 {
            Value::number(self.number)
        } else {
            Value::Empty
        }
    }

    #[allow(clippy::cast_precision_loss)] // counts are far below 2^53
    fn avg(&self) -> Value {
        if self.durations > 0 {
            ms_from_f64(ms_to_f64(self.duration) / self.durations as f64)
                .map_or(Value::Empty, Value::Duration)
        } else if self.numbers > 0 {
            Value::number(self.number / self.numbers as f64)
        } else {
            Value::Empty
        }
    }
}

fn keep_extreme(
    slot: &mut Option<Value>,
    v: &Value,
    want: std::cmp::Ordering,
    tz: &TimeZone,
) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    let replace = match slot {
        None => true,
        Some(current) => compare(v, current, tz)? == want,
    };
    if replace {
        *slot = Some(v.clone());
    }
    Ok(())
}

impl Acc {
    fn new(func: AggFunc) -> Acc {
        match func {
            AggFunc::Sum => Acc::Sum(Total::default()),
            AggFunc::Avg => Acc::Avg(Total::default()),
            AggFunc::Count => Acc::Count(0),
            AggFunc::Min => Acc::Min(None),
            AggFunc::Max => Acc::Max(None),
            AggFunc::Distinct => Acc::Distinct(HashSet::new(), Vec::new()),
        }
    }

    fn add(&mut self, v: &Value, tz: &TimeZone) -> Result<(), String> {
        match self {
            Acc::Sum(t) | Acc::Avg(t) => t.add(v),
            Acc::Count(c) => {
                *c += u64::from(v.is_truthy());
                Ok(())
            }
            Acc::Min(slot) => keep_extreme(slot, v, std::cmp::Ordering::Less, tz),
            Acc::Max(slot) => keep_extreme(slot, v, std::cmp::Ordering::Greater, tz),
            Acc::Distinct(seen, items) => {
                // A list (labels, components) contributes its elements.
                let elements: &[Value] = match v {
                    Value::List(inner) => inner,
                    other => std::slice::from_ref(other),
                };
                for e in elements {
                    if !e.is_empty() && seen.insert(value_key(e)) {
                        items.push(e.clone());
                    }
                }
                Ok(())
            }
        }
    }

    fn merge(&mut self, other: &Acc, tz: &TimeZone) -> Result<(), String> {
        match (self, other) {
            (Acc::Sum(a), Acc::Sum(b)) | (Acc::Avg(a), Acc::Avg(b)) => a.merge(b),
            (Acc::Count(a), Acc::Count(b)) => {
                *a += b;
                Ok(())
            }
            (Acc::Min(a), Acc::Min(Some(b))) => keep_extreme(a, b, std::cmp::Ordering::Less, tz),
            (Acc::Max(a), Acc::Max(Some(b))) => keep_extreme(a, b, std::cmp::Ordering::Greater, tz),
            (me @ Acc::Distinct(..), Acc::Distinct(_, items)) => {
                for item in items {
                    me.add(item, tz)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn finish(&self) -> Value {
        match self {
            Acc::Sum(t) => t.sum(),
            Acc::Avg(t) => t.avg(),
            #[allow(clippy::cast_precision_loss)] // counts are far below 2^53
            Acc::Count(c) => Value::Number(*c as f64),
            Acc::Min(v) | Acc::Max(v) => v.clone().unwrap_or_default(),
            Acc::Distinct(_, items) => Value::list(items.clone()),
        }
    }
}

/// The forest's shape, read once from the context.
struct Shape {
    depth: Vec<u32>,
    issue: Vec<Option<u64>>,
    /// Children of each row, in order (CSR layout: `children[child_start[r]..child_start[r + 1]]`).
    child_start: Vec<usize>,
    children: Vec<usize>,
    /// The first row of each issue; present only for issues.
    first_row: HashMap<u64, usize>,
    has_duplicates: bool,
}

impl Shape {
    fn read(ctx: &dyn RowContext) -> Shape {
        let n = ctx.row_count();
        let depth: Vec<u32> = (0..n).map(|r| ctx.depth(r)).collect();
        let issue: Vec<Option<u64>> = (0..n).map(|r| ctx.issue_id(r)).collect();
        let mut parent = vec![None; n];
        let mut stack: Vec<usize> = Vec::new();
        for r in 0..n {
            while stack.last().is_some_and(|&top| depth[top] >= depth[r]) {
                stack.pop();
            }
            parent[r] = stack.last().copied();
            stack.push(r);
        }
        let mut counts = vec![0usize; n + 1];
        for p in parent.iter().flatten() {
            counts[*p + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let child_start = counts.clone();
        let mut fill = counts;
        let mut children = vec![0; child_start[n]];
        for (r, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                children[fill[*p]] = r;
                fill[*p] += 1;
            }
        }
        let mut first_row = HashMap::new();
        let mut has_duplicates = false;
        for (r, id) in issue.iter().enumerate() {
            if let Some(id) = id {
                has_duplicates |= first_row.insert(*id, r).is_some();
            }
        }
        // `insert` overwrote with later rows; keep the first placement.
        if has_duplicates {
            first_row.clear();
            for (r, id) in issue.iter().enumerate().rev() {
                if let Some(id) = id {
                    first_row.insert(*id, r);
                }
            }
        }
        Shape {
            depth,
            issue,
            child_start,
            children,
            first_row,
            has_duplicates,
        }
    }

    fn children(&self, r: usize) -> &[usize] {
        &self.children[self.child_start[r]..self.child_start[r + 1]]
    }

    fn is_leaf(&self, r: usize) -> bool {
        self.child_start[r] == self.child_start[r + 1]
    }
}

/// The aggregate state of one subtree during the bottom-up pass.
struct State {
    /// Every row when issues need no de-duplication; otherwise only the rows without an issue.
    acc: Acc,
    /// With de-duplication: the issues in the subtree and, in `issue_acc`, what they contribute (once each).
    issues: Option<HashSet<u64>>,
    issue_acc: Acc,
    /// The first failing row in pre-order, if any.
    error: Option<(usize, RawError)>,
}

impl State {
    fn issue_count(&self) -> usize {
        self.issues.as_ref().map_or(0, HashSet::len)
    }
}

struct Tabulator<'t> {
    def: &'t AggDef,
    shape: &'t Shape,
    values: &'t [RowResult],
    tz: &'t TimeZone,
    /// Count each issue once with issue sets (needed only when some issue is placed twice and the function
    /// is not idempotent: `MIN`, `MAX` and `DISTINCT` do not change when a value is seen twice).
    keyed: bool,
}

impl Tabulator<'_> {
    fn fresh(&self) -> State {
        State {
            acc: Acc::new(self.def.func),
            issues: self.keyed.then(HashSet::new),
            issue_acc: Acc::new(self.def.func),
            error: None,
        }
    }

    fn note_error(state: &mut State, row: usize, err: RawError) {
        if state.error.as_ref().is_none_or(|(r, _)| row < *r) {
            state.error = Some((row, err));
        }
    }

    fn add_to(&self, acc: &mut Acc, error: &mut Option<(usize, RawError)>, row: usize) {
        let outcome = match &self.values[row] {
            Ok(v) => acc.add(v, self.tz).map_err(|m| runtime(self.def.span, m)),
            Err(e) => Err(e.clone()),
        };
        if let Err(e) = outcome
            && error.as_ref().is_none_or(|(r, _)| row < *r)
        {
            *error = Some((row, e));
        }
    }

    fn add_row(&self, state: &mut State, row: usize) {
        match (state.issues.as_mut(), self.shape.issue[row]) {
            (Some(seen), Some(id)) => {
                if seen.insert(id) {
                    let first = self.shape.first_row.get(&id).copied().unwrap_or(row);
                    self.add_to(&mut state.issue_acc, &mut state.error, first);
                }
            }
            _ => self.add_to(&mut state.acc, &mut state.error, row),
        }
    }

    /// Merges `small` into `big`. Rows without an issue belong to exactly one subtree, so their accumulators
    /// simply add up; issues are re-added one by one, skipping those `big` already counted.
    fn merge(&self, big: &mut State, small: State) {
        if let Some((row, err)) = small.error {
            Self::note_error(big, row, err);
        }
        if let Err(m) = big.acc.merge(&small.acc, self.tz) {
            Self::note_error(big, usize::MAX, runtime(self.def.span, m));
        }
        if let (Some(seen), Some(small_seen)) = (big.issues.as_mut(), small.issues) {
            for id in small_seen {
                if seen.insert(id) {
                    let first = self.shape.first_row.get(&id).copied().unwrap_or(0);
                    self.add_to(&mut big.issue_acc, &mut big.error, first);
                }
            }
        }
    }

    fn result(&self, state: &State) -> RowResult {
        if let Some((_, e)) = &state.error {
            return Err(e.clone());
        }
        if state.issues.is_none() {
            return Ok(state.acc.finish());
        }
        let mut total = state.acc.clone();
        total
            .merge(&state.issue_acc, self.tz)
            .map_err(|m| runtime(self.def.span, m))?;
        Ok(total.finish())
    }

    /// Results for every row with scope `#all`, `#descendants` or `#leaves`, children before parents.
    fn subtree_pass(&self) -> Vec<RowResult> {
        let n = self.shape.depth.len();
        let mut pending: Vec<Option<State>> = (0..n).map(|_| None).collect();
        let mut results: Vec<RowResult> = vec![Ok(Value::Empty); n];
        for row in (0..n).rev() {
            let kids = self.shape.children(row);
            // Small to large: keep the child with the most issues and pour the others into it, so each issue
            // moves O(log n) times. Without issue sets, order is kept instead (DISTINCT lists are in pre-order).
            let keep = if self.keyed {
                kids.iter()
                    .copied()
                    .max_by_key(|&k| pending[k].as_ref().map_or(0, State::issue_count))
            } else {
                None
            };
            let mut below = keep
                .and_then(|k| pending[k].take())
                .unwrap_or_else(|| self.fresh());
            for &k in kids {
                if let Some(child) = pending[k].take() {
                    self.merge(&mut below, child);
                }
            }
            let passed_up = match self.def.scope {
                Scope::Descendants => {
                    results[row] = self.result(&below);
                    self.with_own(below, row)
                }
                Scope::Leaves if !self.shape.is_leaf(row) => {
                    results[row] = self.result(&below);
                    below
                }
                _ => {
                    let state = self.with_own(below, row);
                    results[row] = self.result(&state);
                    state
                }
            };
            pending[row] = Some(passed_up);
        }
        results
    }

    /// The subtree state of `row`: the row itself first (pre-order), then what is below it.
    fn with_own(&self, mut below: State, row: usize) -> State {
        if self.keyed {
            self.add_row(&mut below, row);
            below
        } else {
            let mut own = self.fresh();
            self.add_row(&mut own, row);
            self.merge(&mut own, below);
            own
        }
    }

    /// Results for every row with scope `#children`.
    fn children_pass(&self) -> Vec<RowResult> {
        let n = self.shape.depth.len();
        (0..n)
            .map(|row| {
                let mut state = self.fresh();
                for &k in self.shape.children(row) {
                    self.add_row(&mut state, k);
                }
                self.result(&state)
            })
            .collect()
    }
}

/// Evaluates the program on every row, building a table for each aggregate that allows it (see the module
/// docs) before evaluating the formula itself row by row.
pub(crate) fn evaluate_all(prog: &Program, ctx: &dyn RowContext) -> Vec<RowResult> {
    let n = ctx.row_count();
    let mut ev = Evaluator::new(prog, ctx);
    if !prog.aggs.is_empty() {
        let shape = Shape::read(ctx);
        ev.tables = Vec::with_capacity(prog.aggs.len());
        // Post-order indices: nested aggregates get their tables first and the outer bodies use them.
        for def in &prog.aggs {
            let placement_dependent = def.dedup && def.nested && shape.has_duplicates;
            if def.reads_outer_locals || placement_dependent {
                ev.tables.push(None);
                continue;
            }
            let values: Vec<RowResult> = (0..n)
                .map(|row| {
                    ev.steps = 0;
                    ev.locals.clear();
                    ev.eval(&def.body, row)
                })
                .collect();
            let idempotent = matches!(def.func, AggFunc::Min | AggFunc::Max | AggFunc::Distinct);
            let tab = Tabulator {
                def,
                shape: &shape,
                values: &values,
                tz: &ev.tz,
                keyed: def.dedup && shape.has_duplicates && !idempotent,
            };
            let table = if def.scope == Scope::Children {
                tab.children_pass()
            } else {
                tab.subtree_pass()
            };
            ev.tables.push(Some(table));
        }
    }
    (0..n).map(|row| ev.eval_row(row)).collect()
}
