//! Columns and views: what is shown for each row of an effective forest.
//!
//! A view is an ordered list of columns. Field columns show a Jira field; totals columns aggregate a field over
//! the subtree; progress columns roll up progress; formula columns compute an expression. Totals are formulas
//! (`SUM#children{story_points}`), so there is one aggregation engine: [`crate::formula`].
//!
//! Formula variables name fields through [`FieldBindings`] (`story_points` → the site's story point field);
//! a variable with no binding is read as the Jira field of the same id (`customfield_10016`, `duedate`).
//!
//! Invariants:
//! - Columns are computed over the rows the person may see; rows that were removed for them contribute
//!   nothing, so no total reveals a hidden issue.
//! - A configuration that exists is valid: formulas compile, names are within limits.

use std::cell::RefCell;

use rustc_hash::FxHashMap as HashMap;

use serde::{Deserialize, Serialize};

use crate::data::{FieldId, FieldValue, IssueData};
use crate::effective::EffectiveForest;
use crate::formula::{Formula, RowContext, Value};
use crate::progress::{self, ProgressBasis, ProgressFacts};

mod totals;

/// An aggregate function of a totals column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotalFunction {
    Sum,
    Min,
    Max,
    Avg,
    /// Rows that have a value.
    Count,
    /// The different values.
    Distinct,
}

/// Which rows a total reads, relative to the row it is shown on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotalScope {
    /// The rows directly below.
    Children,
    /// The rows without children below (the row itself when it has none).
    Leaves,
    /// The row and everything below it.
    All,
}

/// One column of a view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawColumn")]
pub enum Column {
    Field {
        field: FieldId,
    },
    Totals {
        function: TotalFunction,
        /// A formula variable: a binding name such as `story_points`, or a field id.
        field: String,
        scope: TotalScope,
        /// Count an issue placed in several rows once per row (by default it counts once).
        with_duplicates: bool,
    },
    Progress {
        basis: ProgressBasis,
    },
    Formula {
        formula: String,
        /// The column's heading, when its author named it (else the formula heads it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

/// The longest name of a formula column, in characters.
pub const COLUMN_NAME_MAX: usize = 200;

/// Why a column configuration is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnError {
    #[error("{0}")]
    Formula(String),
    #[error("`{0}` is not a field name (letters, digits and `_`, starting with a letter)")]
    FieldName(String),
    #[error("{0}")]
    Name(String),
}

impl Column {
    /// The formula a totals or formula column computes.
    pub fn formula_source(&self) -> Option<String> {
        match self {
            Self::Totals {
                function,
                field,
                scope,
                with_duplicates,
            } => {
                let name = match function {
                    TotalFunction::Sum => "SUM",
                    TotalFunction::Min => "MIN",
                    TotalFunction::Max => "MAX",
                    TotalFunction::Avg => "AVG",
                    TotalFunction::Count => "COUNT",
                    TotalFunction::Distinct => "DISTINCT",
                };
                let scope = match scope {
                    TotalScope::Children => "children",
                    TotalScope::Leaves => "leaves",
                    TotalScope::All => "all",
                };
                let duplicates = if *with_duplicates {
                    "#with_duplicates"
                } else {
                    ""
                };
                let body = if *function == TotalFunction::Count {
                    format!("DEFINED({field})")
                } else {
                    field.clone()
                };
                Some(format!("{name}#{scope}{duplicates}{{{body}}}"))
            }
            Self::Formula { formula, .. } => Some(formula.clone()),
            Self::Field { .. } | Self::Progress { .. } => None,
        }
    }

    pub fn validate(&self) -> Result<(), ColumnError> {
        if let Self::Formula {
            name: Some(name), ..
        } = self
        {
            if name.trim().is_empty() {
                return Err(ColumnError::Name(
                    "the column's name is empty: leave it out to head the column with its formula"
                        .into(),
                ));
            }
            let chars = name.chars().count();
            if chars > COLUMN_NAME_MAX {
                return Err(ColumnError::Name(format!(
                    "the column's name is {chars} characters long; the most is {COLUMN_NAME_MAX}"
                )));
            }
            crate::ids::check_characters("the column's name", name, &[])
                .map_err(|e| ColumnError::Name(e.to_string()))?;
        }
        if let Self::Totals { field, .. } = self {
            let mut chars = field.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ColumnError::FieldName(field.clone()));
            }
        }
        match self.formula_source() {
            Some(source) => Formula::compile(&source)
                .map(drop)
                .map_err(|e| ColumnError::Formula(e.to_string())),
            None => Ok(()),
        }
    }

    /// The Jira fields this column reads.
    pub fn fields(&self, bindings: &FieldBindings) -> Vec<FieldId> {
        match self {
            Self::Field { field } => vec![field.clone()],
            Self::Progress { basis } => progress_fields(*basis, bindings),
            Self::Totals { .. } | Self::Formula { .. } => self
                .formula_source()
                .and_then(|source| Formula::compile(&source).ok())
                .map(|formula| {
                    formula
                        .variables()
                        .iter()
                        .filter_map(|v| bindings.field_for(v))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RawColumn {
    Field {
        field: String,
    },
    Totals {
        function: TotalFunction,
        field: String,
        #[serde(default = "default_scope")]
        scope: TotalScope,
        #[serde(default)]
        with_duplicates: bool,
    },
    Progress {
        basis: ProgressBasis,
    },
    Formula {
        formula: String,
        #[serde(default)]
        name: Option<String>,
    },
}

fn default_scope() -> TotalScope {
    TotalScope::All
}

impl TryFrom<RawColumn> for Column {
    type Error = ColumnError;

    fn try_from(raw: RawColumn) -> Result<Self, Self::Error> {
        let column = match raw {
            RawColumn::Field { field } => Self::Field {
                field: FieldId::new(&field),
            },
            RawColumn::Totals {
                function,
                field,
                scope,
                with_duplicates,
            } => Self::Totals {
                function,
                field,
                scope,
                with_duplicates,
            },
            RawColumn::Progress { basis } => Self::Progress { basis },
            RawColumn::Formula { formula, name } => Self::Formula { formula, name },
        };
        column.validate()?;
        Ok(column)
    }
}

/// A saved view: a name and its columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    pub columns: Vec<Column>,
}

impl View {
    /// The view a structure starts with: status, assignee, type and priority (every row shows its issue's key
    /// and summary as its title already).
    pub fn default_columns() -> Vec<Column> {
        ["status", "assignee", "issuetype", "priority"]
            .iter()
            .map(|f| Column::Field {
                field: FieldId::new(f),
            })
            .collect()
    }
}

/// Formula variable names → Jira field ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldBindings {
    map: HashMap<String, FieldId>,
}

/// Fields whose numbers are seconds and become durations in formulas.
const DURATION_FIELDS: &[&str] = &[
    "timeoriginalestimate",
    "timeestimate",
    "timespent",
    "aggregatetimeoriginalestimate",
    "aggregatetimeestimate",
    "aggregatetimespent",
];

impl FieldBindings {
    /// The standard names, with the site's story point field.
    pub fn standard(story_points: &FieldId) -> Self {
        let pairs: &[(&str, &str)] = &[
            ("summary", "summary"),
            ("status", "status"),
            ("priority", "priority"),
            ("assignee", "assignee"),
            ("reporter", "reporter"),
            ("issuetype", "issuetype"),
            ("type", "issuetype"),
            ("project", "project"),
            ("resolution", "resolution"),
            ("labels", "labels"),
            ("components", "components"),
            ("fix_versions", "fixVersions"),
            // Formula names are read in lower case; these Jira ids are not.
            ("fixversions", "fixVersions"),
            ("lastviewed", "lastViewed"),
            ("affected_versions", "versions"),
            ("created", "created"),
            ("updated", "updated"),
            ("resolved", "resolutiondate"),
            ("due_date", "duedate"),
            ("original_estimate", "timeoriginalestimate"),
            ("remaining_estimate", "timeestimate"),
            ("time_spent", "timespent"),
        ];
        let mut map: HashMap<String, FieldId> = pairs
            .iter()
            .map(|(name, field)| ((*name).to_owned(), FieldId::new(field)))
            .collect();
        map.insert(String::from("story_points"), story_points.clone());
        Self { map }
    }

    #[must_use]
    pub fn with(mut self, name: &str, field: FieldId) -> Self {
        self.map.insert(name.to_ascii_lowercase(), field);
        self
    }

    /// The variables bound to `field` by name (`story_points` for the site's story point field), sorted: how
    /// a column that names a variable is titled with the field's own name.
    pub fn variables_of(&self, field: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .map
            .iter()
            .filter(|(_, bound)| bound.as_str() == field)
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// The field a variable reads: its binding, else the field with that id (`customfield_10020`, `duedate`).
    pub fn field_for(&self, variable: &str) -> Option<FieldId> {
        if let Some(field) = self.map.get(variable) {
            return Some(field.clone());
        }
        let variable = variable.to_ascii_lowercase();
        if let Some(field) = self.map.get(&variable) {
            return Some(field.clone());
        }
        if matches!(variable.as_str(), "key" | "id") {
            return None;
        }
        Some(FieldId::new(&variable))
    }
}

/// The rows of an effective forest as formulas see them.
#[derive(Debug)]
pub struct ForestRows<'a> {
    forest: &'a EffectiveForest,
    data: &'a IssueData,
    bindings: &'a FieldBindings,
    now: jiff::Timestamp,
    /// Variables resolved to fields once, not on every row.
    resolved: RefCell<HashMap<String, Option<(FieldId, bool)>>>,
    /// Issues placed on more than one row, found once for all totals columns.
    multi_placed: std::cell::OnceCell<rustc_hash::FxHashSet<crate::ids::IssueId>>,
    /// Each row's issue data, looked up once for all columns.
    issues: std::cell::OnceCell<Vec<Option<&'a crate::data::Issue>>>,
}

impl<'a> ForestRows<'a> {
    pub fn new(
        forest: &'a EffectiveForest,
        data: &'a IssueData,
        bindings: &'a FieldBindings,
        now: jiff::Timestamp,
    ) -> Self {
        Self {
            forest,
            data,
            bindings,
            now,
            resolved: RefCell::new(HashMap::default()),
            multi_placed: std::cell::OnceCell::new(),
            issues: std::cell::OnceCell::new(),
        }
    }

    /// The data of the issue on a row, if the row shows an issue the data has.
    pub(crate) fn issue_at(&self, row: usize) -> Option<&'a crate::data::Issue> {
        let issues = self.issues.get_or_init(|| {
            (0..self.forest.len())
                .map(|r| self.forest.issue(r).and_then(|id| self.data.issue(id)))
                .collect()
        });
        issues.get(row).copied().flatten()
    }

    /// The issues that sit on more than one row.
    pub(crate) fn multi_placed(&self) -> &rustc_hash::FxHashSet<crate::ids::IssueId> {
        self.multi_placed.get_or_init(|| {
            let mut seen = rustc_hash::FxHashSet::default();
            let mut multi = rustc_hash::FxHashSet::default();
            for row in 0..self.forest.len() {
                if let Some(id) = self.forest.issue(row)
                    && !seen.insert(id)
                {
                    multi.insert(id);
                }
            }
            multi
        })
    }

    /// The field a variable reads, and whether its numbers are durations.
    pub(crate) fn resolve(&self, variable: &str) -> Option<(FieldId, bool)> {
        if let Some(known) = self.resolved.borrow().get(variable) {
            return known.clone();
        }
        let resolved = self.bindings.field_for(variable).map(|f| {
            let is_duration = DURATION_FIELDS.contains(&f.as_str());
            (f, is_duration)
        });
        self.resolved
            .borrow_mut()
            .insert(variable.to_owned(), resolved.clone());
        resolved
    }
}

impl RowContext for ForestRows<'_> {
    fn row_count(&self) -> usize {
        self.forest.len()
    }

    fn depth(&self, row: usize) -> u32 {
        u32::from(self.forest.depth(row))
    }

    fn issue_id(&self, row: usize) -> Option<u64> {
        self.forest.issue(row).map(crate::ids::IssueId::get)
    }

    fn value(&self, row: usize, field: &str) -> Value {
        if field == "key" {
            return self
                .forest
                .issue(row)
                .and_then(|id| self.data.issue(id))
                .map_or(Value::Empty, |issue| Value::text(issue.key.to_string()));
        }
        let Some(issue) = self.issue_at(row) else {
            return Value::Empty;
        };
        let Some((id, is_duration)) = self.resolve(field) else {
            return Value::Empty;
        };
        issue
            .field(&id)
            .flatten()
            .map_or(Value::Empty, |value| to_formula_value(value, is_duration))
    }

    fn now(&self) -> jiff::Timestamp {
        self.now
    }
}

/// A Jira value as a formula value. Durations are in milliseconds; Jira gives seconds.
pub fn to_formula_value(value: &FieldValue, is_duration: bool) -> Value {
    match value {
        FieldValue::Number(n) if is_duration => {
            let ms = (n * 1000.0).round();
            if ms.is_finite() && ms.abs() < 9.0e15 {
                Value::Duration(ms as i64)
            } else {
                Value::Empty
            }
        }
        FieldValue::Number(n) => Value::number(*n),
        FieldValue::Text(text) => Value::text(text.to_string()),
        FieldValue::Date(day) => {
            let (y, m, d) = day.ymd();
            match (i16::try_from(y), i8::try_from(m), i8::try_from(d)) {
                (Ok(y), Ok(m), Ok(d)) => {
                    jiff::civil::Date::new(y, m, d).map_or(Value::Empty, Value::Date)
                }
                _ => Value::Empty,
            }
        }
        FieldValue::DateTime(ts) => {
            jiff::Timestamp::from_millisecond(ts.0).map_or(Value::Empty, Value::DateTime)
        }
        FieldValue::User { display_name, .. } => Value::text(display_name.to_string()),
        FieldValue::Named { name, .. } => Value::text(name.to_string()),
        FieldValue::Issue { key, .. } => Value::text(key.to_string()),
        FieldValue::List(values) => Value::list(
            values
                .iter()
                .map(|v| to_formula_value(v, is_duration))
                .collect(),
        ),
    }
}

/// What must be fetched before the columns can be shown: each field for every issue row of the forest that the
/// data does not have yet (and has not been refused).
pub fn needs(forest: &EffectiveForest, data: &IssueData, fields: &[FieldId]) -> crate::data::Needs {
    let mut needs = crate::data::Needs::default();
    for row in 0..forest.len() {
        let Some(id) = forest.issue(row) else {
            continue;
        };
        if data.is_hidden(id) {
            continue;
        }
        match data.issue(id) {
            None => {
                // Unknown issue: fetching any field also tells whether the person may see it.
                needs.issues.insert(id);
                needs.fields.extend(fields.iter().cloned());
            }
            Some(issue) => {
                for field in fields.iter().filter(|f| !issue.has_field(f)) {
                    needs.field(id, field);
                }
            }
        }
    }
    needs
}

/// The values of one column for every row.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// A Jira field as fetched; `None` where the row has no issue or the issue no value.
    Field(Vec<Option<FieldValue>>),
    /// A formula or total per row; an error is shown in its cell.
    Computed(Vec<Result<Value, String>>),
    /// Progress in `0.0..=1.0` per row.
    Progress(Vec<Option<f64>>),
}

/// Computes a column over the rows the person sees.
pub fn compute(column: &Column, rows: &ForestRows<'_>) -> ColumnValues {
    match column {
        Column::Field { field } => ColumnValues::Field(
            (0..rows.forest.len())
                .map(|row| {
                    let issue = rows.data.issue(rows.forest.issue(row)?)?;
                    issue.field(field).flatten().cloned()
                })
                .collect(),
        ),
        Column::Progress { basis } => {
            let fields = ProgressFields::new(rows.bindings);
            let facts: Vec<ProgressFacts> = (0..rows.forest.len())
                .map(|row| fields.facts(rows, row))
                .collect();
            ColumnValues::Progress(
                progress::compute(rows.forest.depths(), &facts, *basis)
                    .into_iter()
                    .map(|r| r.progress)
                    .collect(),
            )
        }
        Column::Totals {
            function,
            field,
            scope,
            with_duplicates,
        } => match totals::compute(rows, field, *function, *scope, *with_duplicates) {
            Some(values) => ColumnValues::Computed(values.into_iter().map(Ok).collect()),
            None => compute_formula(column, rows),
        },
        Column::Formula { .. } => compute_formula(column, rows),
    }
}

fn compute_formula(column: &Column, rows: &ForestRows<'_>) -> ColumnValues {
    let source = column.formula_source().unwrap_or_default();
    match Formula::compile(&source) {
        Ok(formula) => ColumnValues::Computed(
            formula
                .evaluate_all(rows)
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect(),
        ),
        Err(error) => ColumnValues::Computed(vec![Err(error.to_string()); rows.forest.len()]),
    }
}

fn progress_fields(basis: ProgressBasis, bindings: &FieldBindings) -> Vec<FieldId> {
    let mut fields = vec![FieldId::new("resolution"), FieldId::new("status")];
    match basis {
        ProgressBasis::TimeTracking => {
            fields.extend(["timespent", "timeestimate", "timeoriginalestimate"].map(FieldId::new));
        }
        ProgressBasis::StoryPoints => fields.extend(bindings.field_for("story_points")),
        ProgressBasis::Resolution => {}
    }
    fields
}

/// The fields progress reads, resolved once per column rather than once per row.
struct ProgressFields {
    resolution: FieldId,
    status: FieldId,
    spent: FieldId,
    remaining: FieldId,
    original: FieldId,
    story_points: Option<FieldId>,
}

impl ProgressFields {
    fn new(bindings: &FieldBindings) -> Self {
        Self {
            resolution: FieldId::new("resolution"),
            status: FieldId::new("status"),
            spent: FieldId::new("timespent"),
            remaining: FieldId::new("timeestimate"),
            original: FieldId::new("timeoriginalestimate"),
            story_points: bindings.field_for("story_points"),
        }
    }

    fn facts(&self, rows: &ForestRows<'_>, row: usize) -> ProgressFacts {
        let Some(issue) = rows.issue_at(row) else {
            return ProgressFacts::default();
        };
        let number = |field: &FieldId| issue.field(field).flatten().and_then(FieldValue::as_number);
        let resolved = issue.field(&self.resolution).flatten().is_some()
            || matches!(
                issue.field(&self.status).flatten(),
                Some(FieldValue::Named { key: Some(category), .. }) if &**category == "done"
            );
        ProgressFacts {
            is_issue: true,
            resolved,
            time_spent: number(&self.spent),
            remaining_estimate: number(&self.remaining),
            original_estimate: number(&self.original),
            story_points: self.story_points.as_ref().and_then(number),
        }
    }
}

/// One issue as a one-row forest, for formulas that filter or sort (their aggregates see the row itself).
pub(crate) struct OneIssue<'a> {
    pub issue: &'a crate::data::Issue,
    pub bindings: &'a FieldBindings,
    pub now: jiff::Timestamp,
}

impl RowContext for OneIssue<'_> {
    fn row_count(&self) -> usize {
        1
    }

    fn depth(&self, _row: usize) -> u32 {
        0
    }

    fn issue_id(&self, _row: usize) -> Option<u64> {
        Some(self.issue.id.get())
    }

    fn value(&self, _row: usize, field: &str) -> Value {
        if field == "key" {
            return Value::text(self.issue.key.to_string());
        }
        let Some(id) = self.bindings.field_for(field) else {
            return Value::Empty;
        };
        let is_duration = DURATION_FIELDS.contains(&id.as_str());
        self.issue
            .field(&id)
            .flatten()
            .map_or(Value::Empty, |v| to_formula_value(v, is_duration))
    }

    fn now(&self) -> jiff::Timestamp {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jql::eval::{EvalContext, StandardCatalog, Timestamp};

    use super::*;
    use crate::data::Issue;
    use crate::effective::{Clock, Limits, RunContext, evaluate};
    use crate::forest::{Forest, Item, Row};
    use crate::ids::{IssueId, RowId};
    use crate::permission::visible_to;

    struct NoTime;
    impl Clock for NoTime {
        fn elapsed(&self) -> Duration {
            Duration::ZERO
        }
    }

    fn id(n: u64) -> IssueId {
        IssueId::new(n).unwrap()
    }

    /// epic 1 → stories 2 (5 points, done), 3 (3 points), 4 (8 points, hidden from this person); story 2 is
    /// also placed a second time at the top.
    fn fixture() -> (EffectiveForest, IssueData, FieldBindings) {
        let rows: Vec<Row> = [(1, 0, 1), (2, 1, 2), (3, 1, 3), (4, 1, 4), (5, 0, 2)]
            .into_iter()
            .map(|(row, depth, issue)| {
                Row::new(RowId::new(row).unwrap(), depth, Item::Issue(id(issue)))
            })
            .collect();
        let forest = Forest::from_rows(rows).unwrap();
        let generators = std::collections::HashMap::new();
        let catalog = StandardCatalog::new();
        let bindings = FieldBindings::standard(&FieldId::new("customfield_10016"));
        let rank = FieldId::new("rank");
        let clock = NoTime;
        let context = RunContext {
            generators: &generators,
            catalog: &catalog,
            jql: EvalContext::at(Timestamp(0)),
            rank_field: &rank,
            bindings: &bindings,
            limits: Limits::default(),
            clock: &clock,
        };
        let mut data = IssueData::new();
        let story_points = |n: f64| FieldValue::Number(n);
        data.insert_issue(Issue::new(id(1), "A-1"));
        data.insert_issue(
            Issue::new(id(2), "A-2")
                .with("customfield_10016", story_points(5.0))
                .with("resolution", FieldValue::named("1", "Done")),
        );
        data.insert_issue(Issue::new(id(3), "A-3").with("customfield_10016", story_points(3.0)));
        data.insert_hidden(id(4));
        let effective = evaluate(&forest, &data, &context).unwrap().forest;
        (effective, data, bindings)
    }

    fn numbers(values: &ColumnValues) -> Vec<Option<f64>> {
        match values {
            ColumnValues::Computed(cells) => cells
                .iter()
                .map(|c| match c {
                    Ok(Value::Number(n)) => Some(*n),
                    Ok(Value::Empty) => None,
                    other => panic!("{other:?}"),
                })
                .collect(),
            ColumnValues::Progress(cells) => cells.clone(),
            ColumnValues::Field(_) => panic!("a field column"),
        }
    }

    #[test]
    fn totals_count_visible_rows_only_and_multi_placed_issues_once() {
        let (effective, data, bindings) = fixture();
        let visible = visible_to(&effective, &data);
        assert_eq!(visible.hidden, 1);
        let rows = ForestRows::new(
            &visible.forest,
            &data,
            &bindings,
            jiff::Timestamp::UNIX_EPOCH,
        );
        let total = |scope, with_duplicates| Column::Totals {
            function: TotalFunction::Sum,
            field: "story_points".into(),
            scope,
            with_duplicates,
        };
        // Rows: epic 1, story 2, story 3, story 2 again. The hidden story's 8 points count nowhere.
        assert_eq!(
            numbers(&compute(&total(TotalScope::All, false), &rows)),
            [Some(8.0), Some(5.0), Some(3.0), Some(5.0)]
        );
        assert_eq!(
            numbers(&compute(&total(TotalScope::Children, false), &rows))[0],
            Some(8.0)
        );
        let count = Column::Totals {
            function: TotalFunction::Count,
            field: "story_points".into(),
            scope: TotalScope::Leaves,
            with_duplicates: false,
        };
        assert_eq!(numbers(&compute(&count, &rows))[0], Some(2.0));
    }

    #[test]
    fn progress_and_formula_columns() {
        let (effective, data, bindings) = fixture();
        let visible = visible_to(&effective, &data);
        let rows = ForestRows::new(
            &visible.forest,
            &data,
            &bindings,
            jiff::Timestamp::UNIX_EPOCH,
        );
        let progress = compute(
            &Column::Progress {
                basis: ProgressBasis::StoryPoints,
            },
            &rows,
        );
        // 5 of 8 visible points are done.
        assert_eq!(numbers(&progress)[0], Some(0.625));
        let formula = Column::Formula {
            formula: "IF(ISEMPTY(story_points), 0, story_points * 2)".into(),
            name: Some("Doubled".into()),
        };
        assert_eq!(
            numbers(&compute(&formula, &rows)),
            [Some(0.0), Some(10.0), Some(6.0), Some(10.0)]
        );
    }

    #[test]
    fn needs_cover_every_unknown_issue_and_missing_field() {
        let (effective, data, _) = fixture();
        let needs = needs(&effective, &data, &[FieldId::new("summary")]);
        // Issue 4 was refused: not asked again. The others lack `summary`.
        assert_eq!(needs.issues, [id(1), id(2), id(3)].into_iter().collect());
        assert_eq!(
            needs.fields,
            [FieldId::new("summary")].into_iter().collect()
        );
    }

    #[test]
    fn formula_columns_may_be_named() {
        let named: Column =
            serde_json::from_str(r#"{"kind":"formula","formula":"1 + 1","name":"Two"}"#).unwrap();
        assert_eq!(
            named,
            Column::Formula {
                formula: "1 + 1".into(),
                name: Some("Two".into())
            }
        );
        assert_eq!(
            serde_json::to_string(&named).unwrap(),
            r#"{"kind":"formula","formula":"1 + 1","name":"Two"}"#
        );
        // A column saved before names existed reads and writes as it was.
        let unnamed = r#"{"kind":"formula","formula":"1 + 1"}"#;
        let column: Column = serde_json::from_str(unnamed).unwrap();
        assert_eq!(serde_json::to_string(&column).unwrap(), unnamed);
        for (name, says) in [
            ("  ", "is empty"),
            ("a\\nb", "control character"),
            ("a\\u202eb", "bidirectional"),
        ] {
            let json = format!(r#"{{"kind":"formula","formula":"1","name":"{name}"}}"#);
            let error = serde_json::from_str::<Column>(&json)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("the column's name") && error.contains(says),
                "{name:?}: {error}"
            );
        }
        let long = "n".repeat(COLUMN_NAME_MAX + 1);
        let json = format!(r#"{{"kind":"formula","formula":"1","name":"{long}"}}"#);
        let error = serde_json::from_str::<Column>(&json)
            .unwrap_err()
            .to_string();
        assert!(error.contains("the most is 200"), "{error}");
    }

    #[test]
    fn column_configurations_are_checked_when_read() {
        let column: Column = serde_json::from_str(
            r#"{"kind":"totals","function":"sum","field":"story_points","scope":"leaves"}"#,
        )
        .unwrap();
        assert_eq!(column.formula_source().unwrap(), "SUM#leaves{story_points}");
        let bad = serde_json::from_str::<Column>(r#"{"kind":"formula","formula":"SUMM{x}"}"#)
            .unwrap_err();
        assert!(bad.to_string().contains("line 1"), "{bad}");
        let bad_field =
            serde_json::from_str::<Column>(r#"{"kind":"totals","function":"max","field":"x}{"}"#)
                .unwrap_err();
        assert!(
            bad_field.to_string().contains("not a field name"),
            "{bad_field}"
        );
        assert_eq!(
            Column::Progress {
                basis: ProgressBasis::StoryPoints
            }
            .fields(&FieldBindings::standard(&FieldId::new("customfield_10016")))
            .last(),
            Some(&FieldId::new("customfield_10016"))
        );
    }
}
