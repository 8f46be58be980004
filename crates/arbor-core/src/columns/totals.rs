//! The fast path of totals columns: `SUM`, `MIN`, `MAX`, `AVG`, `COUNT` and `DISTINCT` of one field over
//! children, leaves or whole subtrees, in one forward pass over the rows.
//!
//! A totals column *is* the formula `FUNCTION#scope{field}` (see [`super::Column::formula_source`]); this module
//! computes the same values without interpreting the formula on every row, which matters at 100,000 rows.
//! It handles fields whose values are numbers or durations; for anything else it declines (`None`) and the
//! column is computed by the formula engine. A property test checks both paths agree.
//!
//! Cost: O(rows × depth) — each row's value is added to each open ancestor. An issue placed more than once
//! is counted once by remembering where it was last counted: since a subtree is a contiguous run of rows, the
//! ancestors that already hold the earlier placement are exactly the open rows at or before it.

use rustc_hash::{FxHashMap, FxHashSet};

use super::{ForestRows, TotalFunction, TotalScope};
use crate::data::FieldValue;
use crate::formula::{RowContext, Value};
use crate::ids::IssueId;

/// A numeric value of a row: numbers, or durations in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Number,
    Duration,
}

/// A running total. Small on purpose: one is opened for every row.
#[derive(Debug)]
struct Acc {
    sum: f64,
    count: u64,
    min: f64,
    max: f64,
    /// Distinct values by bit pattern, in first-seen order; only for `DISTINCT`.
    distinct: Option<Box<(Vec<f64>, FxHashSet<u64>)>>,
}

impl Default for Acc {
    fn default() -> Self {
        Self {
            sum: 0.0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            distinct: None,
        }
    }
}

impl Acc {
    fn add(&mut self, value: f64, distinct: bool) {
        self.sum += value;
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if distinct {
            let (values, seen) = &mut **self.distinct.get_or_insert_with(Box::default);
            if seen.insert(value.to_bits()) {
                values.push(value);
            }
        }
    }
}

/// The totals of `field` for every row, or `None` when the field holds values this path does not handle.
pub(super) fn compute(
    rows: &ForestRows<'_>,
    field: &str,
    function: TotalFunction,
    scope: TotalScope,
    with_duplicates: bool,
) -> Option<Vec<Value>> {
    let n = rows.row_count();
    let (field_id, is_duration) = rows.resolve(field)?;
    // Each row's value, once.
    // Durations are summed in milliseconds and shown as durations; a field is one or the other.
    let kind = if is_duration && function != TotalFunction::Count {
        Kind::Duration
    } else {
        Kind::Number
    };
    let mut values: Vec<Option<f64>> = Vec::with_capacity(n);
    for row in 0..n {
        let value = rows
            .issue_at(row)
            .and_then(|i| i.field(&field_id).flatten());
        let number = match value {
            None => None,
            // COUNT only asks whether there is a value.
            Some(_) if function == TotalFunction::Count => Some(1.0),
            Some(FieldValue::Number(x)) if x.is_finite() => Some(if kind == Kind::Duration {
                (x * 1000.0).round()
            } else {
                *x
            }),
            // Text, dates, lists...: the formula engine knows what to do with them.
            Some(_) => return None,
        };
        values.push(number);
    }

    let multi_placed = rows.multi_placed();
    let dedupe = |row: usize| -> Option<IssueId> {
        rows.forest
            .issue(row)
            .filter(|id| !with_duplicates && multi_placed.contains(id))
    };
    // Where each multi-placed issue was last counted (for all/leaves), and which (parent, issue) pairs were
    // counted (for children).
    let mut last_counted: FxHashMap<IssueId, usize> = FxHashMap::default();
    let mut counted_children: FxHashSet<(usize, IssueId)> = FxHashSet::default();

    let distinct = function == TotalFunction::Distinct;
    let depth = |row: usize| rows.depth(row);
    let mut out: Vec<Value> = vec![Value::Empty; n];
    // Open rows (ancestors of the current row, and the row itself) with their accumulators, by position.
    let mut open: Vec<(usize, Acc)> = Vec::new();
    for (row, &value) in values.iter().enumerate() {
        let d = depth(row);
        while open.last().is_some_and(|(r, _)| depth(*r) >= d) {
            if let Some((r, acc)) = open.pop() {
                out[r] = finish(&acc, function, kind);
            }
        }
        let is_leaf = row + 1 >= n || depth(row + 1) <= d;
        open.push((row, Acc::default()));
        let Some(value) = value else { continue };
        let repeated = dedupe(row);
        match scope {
            TotalScope::All | TotalScope::Leaves if scope == TotalScope::All || is_leaf => {
                // Open rows after the earlier placement do not hold it yet.
                let first_new = match repeated.and_then(|id| last_counted.insert(id, row)) {
                    Some(earlier) => open.partition_point(|(r, _)| *r <= earlier),
                    None => 0,
                };
                for (_, acc) in &mut open[first_new..] {
                    acc.add(value, distinct);
                }
            }
            TotalScope::All | TotalScope::Leaves => {}
            TotalScope::Children => {
                let last = open.len() - 1;
                if last > 0 {
                    let parent = open[last - 1].0;
                    if repeated.is_none_or(|id| counted_children.insert((parent, id))) {
                        open[last - 1].1.add(value, distinct);
                    }
                }
            }
        }
    }
    while let Some((r, acc)) = open.pop() {
        out[r] = finish(&acc, function, kind);
    }
    Some(out)
}

#[allow(clippy::cast_precision_loss)] // counts are far below 2^53
fn finish(acc: &Acc, function: TotalFunction, kind: Kind) -> Value {
    let typed = |x: f64| match kind {
        Kind::Number => Value::number(x),
        Kind::Duration => {
            let ms = x.round();
            if ms.is_finite() && ms.abs() < 9.0e18 {
                #[allow(clippy::cast_possible_truncation)] // bounded just above
                Value::Duration(ms as i64)
            } else {
                Value::Empty
            }
        }
    };
    match function {
        TotalFunction::Count => Value::Number(acc.count as f64),
        _ if acc.count == 0 => Value::Empty,
        TotalFunction::Sum => typed(acc.sum),
        TotalFunction::Avg => typed(acc.sum / acc.count as f64),
        TotalFunction::Min => typed(acc.min),
        TotalFunction::Max => typed(acc.max),
        TotalFunction::Distinct => Value::list(
            acc.distinct
                .as_ref()
                .map(|d| d.0.iter().map(|&x| typed(x)).collect())
                .unwrap_or_default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use jql::eval::{EvalContext, StandardCatalog, Timestamp};
    use proptest::prelude::*;

    use super::super::{Column, FieldBindings, compute_formula};
    use super::*;
    use crate::data::{FieldId, Issue, IssueData};
    use crate::effective::{Clock, EffectiveForest, Limits, RunContext, evaluate};
    use crate::forest::{Forest, Item, Row};
    use crate::ids::RowId;

    struct NoTime;
    impl Clock for NoTime {
        fn elapsed(&self) -> Duration {
            Duration::ZERO
        }
    }

    /// Rows as (depth step, issue 1..=8 or 0 for a folder); issue values as optional story points.
    fn case() -> impl Strategy<Value = (Vec<(u8, u64)>, Vec<Option<i32>>)> {
        (
            prop::collection::vec((0u8..3, 0u64..=8), 1..40),
            prop::collection::vec(prop::option::of(-5i32..20), 8),
        )
    }

    fn build(rows: &[(u8, u64)], points: &[Option<i32>]) -> (EffectiveForest, IssueData) {
        let mut depth = 0u16;
        let stored: Vec<Row> = rows
            .iter()
            .enumerate()
            .map(|(i, (step, issue))| {
                // A step of 0 goes one level deeper, 1 stays, 2 goes back to the top.
                depth = match (i, step) {
                    (0, _) | (_, 2) => 0,
                    (_, 0) => depth + 1,
                    _ => depth,
                };
                let item = match IssueId::new(*issue) {
                    Ok(id) => Item::Issue(id),
                    Err(_) => Item::Folder(crate::ids::FolderName::new("F").unwrap()),
                };
                Row::new(RowId::new(i as u64 + 1).unwrap(), depth, item)
            })
            .collect();
        let forest = Forest::from_rows(stored).unwrap();
        let mut data = IssueData::new();
        for (i, p) in points.iter().enumerate() {
            let mut issue = Issue::new(IssueId::new(i as u64 + 1).unwrap(), "A-1");
            issue.set(
                FieldId::new("customfield_10016"),
                p.map(|p| FieldValue::Number(f64::from(p))),
            );
            data.insert_issue(issue);
        }
        let generators = HashMap::new();
        let catalog = StandardCatalog::new();
        let bindings = FieldBindings::standard(&FieldId::new("customfield_10016"));
        let rank = FieldId::new("rank");
        let context = RunContext {
            generators: &generators,
            catalog: &catalog,
            jql: EvalContext::at(Timestamp(0)),
            rank_field: &rank,
            bindings: &bindings,
            limits: Limits::default(),
            clock: &NoTime,
        };
        (evaluate(&forest, &data, &context).unwrap().forest, data)
    }

    fn close(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => (x - y).abs() < 1e-9,
            _ => a == b,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The fast path computes exactly what the formula `FUNCTION#scope{field}` computes.
        #[test]
        fn totals_equal_their_formula((rows, points) in case()) {
            let (forest, data) = build(&rows, &points);
            let bindings = FieldBindings::standard(&FieldId::new("customfield_10016"));
            for function in [TotalFunction::Sum, TotalFunction::Min, TotalFunction::Max, TotalFunction::Avg, TotalFunction::Count, TotalFunction::Distinct] {
                for scope in [TotalScope::All, TotalScope::Children, TotalScope::Leaves] {
                    for with_duplicates in [false, true] {
                        let view = ForestRows::new(&forest, &data, &bindings, jiff::Timestamp::UNIX_EPOCH);
                        let fast = compute(&view, "story_points", function, scope, with_duplicates).unwrap();
                        let column = Column::Totals { function, field: "story_points".into(), scope, with_duplicates };
                        let super::super::ColumnValues::Computed(slow) = compute_formula(&column, &view) else { unreachable!() };
                        for (row, (f, s)) in fast.iter().zip(&slow).enumerate() {
                            let s = s.as_ref().unwrap();
                            prop_assert!(close(f, s), "{:?} {:?} dup={} row {}: fast {:?} formula {:?}", function, scope, with_duplicates, row, f, s);
                        }
                    }
                }
            }
        }
    }
}
