//! What a formula needs from the outside: the rows of a forest and their field values, the current time and
//! the viewer's time zone. The caller implements [`RowContext`] over its own forest; [`MemoryForest`] is a
//! small in-memory implementation for tests, examples and the reference page.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::value::Value;

/// Rows in pre-order (a parent before its children, siblings in order), each with a depth, like the forest's
/// wire format `(row_id, depth, item)`. Row `i`'s subtree is the run of rows after `i` that are deeper than it.
///
/// Contract:
/// - `depth(0) == 0` and `depth(i + 1) <= depth(i) + 1`. (A deeper jump is tolerated: such a row is a child
///   of the nearest earlier row that is less deep.)
/// - Rows with the same `issue_id` return the same field values: they are placements of one issue, and
///   aggregates count an issue once by default.
/// - Rows the viewer may not see are simply not in the context, so no total can reveal them.
/// - The engine never reads a clock: `now` is the only source of time, so evaluation is reproducible.
pub trait RowContext {
    fn row_count(&self) -> usize;
    fn depth(&self, row: usize) -> u32;
    /// The Jira issue placed on this row; `None` for folders, memos and other non-issue rows.
    fn issue_id(&self, row: usize) -> Option<u64>;
    /// The value of a field (lower-case name as written in the formula); `Value::Empty` if it has none.
    fn value(&self, row: usize, field: &str) -> Value;
    fn now(&self) -> Timestamp;
    /// The zone that decides which calendar day an instant falls on (`TODAY()`, `YEAR(created)`).
    fn time_zone(&self) -> TimeZone {
        TimeZone::UTC
    }
}

#[derive(Debug, Clone)]
enum Item {
    Issue(u64),
    Other(BTreeMap<String, Value>),
}

/// An in-memory forest: issues with their fields, placed on rows (possibly more than once), plus non-issue
/// rows with their own fields.
#[derive(Debug, Clone)]
pub struct MemoryForest {
    issues: HashMap<u64, BTreeMap<String, Value>>,
    rows: Vec<(u32, Item)>,
    now: Timestamp,
    tz: TimeZone,
}

impl MemoryForest {
    pub fn new(now: Timestamp) -> Self {
        Self {
            issues: HashMap::new(),
            rows: Vec::new(),
            now,
            tz: TimeZone::UTC,
        }
    }

    #[must_use]
    pub fn with_time_zone(mut self, tz: TimeZone) -> Self {
        self.tz = tz;
        self
    }

    /// Sets the fields of an issue (replacing earlier ones); field names are matched case-insensitively.
    pub fn set_issue<'a>(
        &mut self,
        id: u64,
        fields: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> &mut Self {
        self.issues.insert(id, Self::fields(fields));
        self
    }

    /// Places an issue on a new last row at `depth`; returns the row index.
    pub fn push_issue(&mut self, depth: u32, id: u64) -> usize {
        self.rows.push((depth, Item::Issue(id)));
        self.rows.len() - 1
    }

    /// Adds a non-issue row (folder, memo) with its own fields; returns the row index.
    pub fn push_row<'a>(
        &mut self,
        depth: u32,
        fields: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> usize {
        self.rows.push((depth, Item::Other(Self::fields(fields))));
        self.rows.len() - 1
    }

    fn fields<'a>(fields: impl IntoIterator<Item = (&'a str, Value)>) -> BTreeMap<String, Value> {
        fields
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect()
    }
}

impl RowContext for MemoryForest {
    fn row_count(&self) -> usize {
        self.rows.len()
    }

    fn depth(&self, row: usize) -> u32 {
        self.rows.get(row).map_or(0, |r| r.0)
    }

    fn issue_id(&self, row: usize) -> Option<u64> {
        match self.rows.get(row) {
            Some((_, Item::Issue(id))) => Some(*id),
            _ => None,
        }
    }

    fn value(&self, row: usize, field: &str) -> Value {
        let fields = match self.rows.get(row) {
            Some((_, Item::Issue(id))) => self.issues.get(id),
            Some((_, Item::Other(fields))) => Some(fields),
            None => None,
        };
        fields
            .and_then(|f| f.get(field))
            .cloned()
            .unwrap_or_default()
    }

    fn now(&self) -> Timestamp {
        self.now
    }

    fn time_zone(&self) -> TimeZone {
        self.tz.clone()
    }
}
