//! The formula language of formula columns, sort-by-formula and filter-by-formula: a small expression
//! language over the fields of a row and the rows below it, in the spirit of spreadsheet formulas and of
//! Structure for Jira's "Expr". The reference for people is `docs/formulas.md`; this is the reference for code.
//!
//! Pipeline: source → tokens (`lexer`) → syntax tree with spans (`parser`, [`Expr`]) → checked program
//! (`check`: names resolved, arity and static types checked, fields collected) → values per row (`eval`).
//! [`Formula::compile`] runs the first three once; [`Formula::evaluate`] and [`Formula::evaluate_all`] run the
//! last as often as needed. [`Formula::variables`] tells the caller which Jira fields to fetch.
//!
//! Design decisions worth knowing:
//! - **Aggregates are written with braces**, `SUM{story_points}`, with modifiers after `#`:
//!   `SUM#children{...}`, `COUNT#leaves#with_duplicates{...}`. Braces cannot start anything else, so
//!   `MIN(a, b)` (of two values) and `MIN{a}` (over the subtree) never get confused, and `SUM(x)` is an
//!   error that points at the brace form. Scopes: `#all` (the row and everything below it; the default),
//!   `#descendants`, `#children`, `#leaves`. An issue placed twice in a scope counts once unless
//!   `#with_duplicates` is given; rows that are not issues (folders, memos) always count.
//! - **EMPTY is a value**, not an error: missing fields, division by zero, `SQRT(-1)`, a day that does not
//!   exist. It is the zero of `+` and `-` (`EMPTY + 3 = 3`), swallows `*`, `/`, `%` (`EMPTY * 3 = EMPTY`), is
//!   false in conditions, equals only itself, and makes `<`, `<=`, `>`, `>=` false (so `due_date < TODAY()` is
//!   never true for an issue without a due date) except that `EMPTY <= EMPTY` and `EMPTY >= EMPTY` hold. Text
//!   without characters and lists without elements *are* EMPTY.
//! - **Type errors are errors** (`"abc" * 2`), reported with the position of the operator or function, at
//!   check time when the types are known without data and at run time otherwise. Evaluation never panics.
//! - **Time comes from the caller** ([`RowContext::now`], [`RowContext::time_zone`]); the engine reads no
//!   clock, file or time-zone database, so results are reproducible.
//! - **Bounded**: nesting depth ([`MAX_DEPTH`]), source length ([`MAX_SOURCE_LEN`]), steps per row
//!   ([`STEP_LIMIT`]) and text built by `REPEAT` are limited, each with a clear error.
//! - Names of functions, keywords and fields are case-insensitive; fields are lower-cased (`Story_Points` is
//!   `story_points`); names with other characters are quoted with backticks: `` `Story Points` ``.
//!
//! Cost: see the `eval` module. In short, [`Formula::evaluate_all`] computes aggregates for every row of a forest
//! bottom-up in O(n) (O(n log n) when issues are placed more than once), where calling
//! [`Formula::evaluate`] on every row would walk each subtree again.

mod ast;
mod check;
mod context;
mod error;
mod eval;
mod functions;
mod lexer;
mod parser;
mod value;

#[cfg(test)]
mod tests;

pub use ast::{Expr, ExprKind, UnaryOp};
pub use context::{MemoryForest, RowContext};
pub use error::{ErrorKind, FormulaError, Span};
pub use eval::STEP_LIMIT;
pub use functions::{
    AggFunc, AggregateInfo, Category, FunctionInfo, ModifierInfo, Scope, aggregates, functions,
    modifiers,
};
pub use parser::{MAX_DEPTH, MAX_SOURCE_LEN};
pub use value::{BinaryOp, Value};

/// A compiled formula: parsed and checked once, evaluated on any number of rows.
#[derive(Debug, Clone)]
pub struct Formula {
    source: String,
    program: check::Program,
}

/// Parses a formula into its syntax tree without checking names (for editors and the printer).
pub fn parse(source: &str) -> Result<Expr, FormulaError> {
    parser::parse(source).map_err(|e| e.locate(source))
}

impl Formula {
    /// Parses and checks a formula. Errors carry line and column.
    pub fn compile(source: &str) -> Result<Formula, FormulaError> {
        let expr = parser::parse(source).map_err(|e| e.locate(source))?;
        let program = check::check(&expr).map_err(|e| e.locate(source))?;
        Ok(Formula {
            source: source.to_owned(),
            program,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fields the formula reads (lower-case, in order of first use), so the caller can fetch them.
    pub fn variables(&self) -> &[String] {
        &self.program.vars
    }

    /// Whether the formula reads other rows (contains an aggregate).
    pub fn has_aggregates(&self) -> bool {
        !self.program.aggs.is_empty()
    }

    /// The value on one row. Aggregates walk the rows they need.
    pub fn evaluate(&self, ctx: &dyn RowContext, row: usize) -> Result<Value, FormulaError> {
        eval::Evaluator::new(&self.program, ctx)
            .eval_row(row)
            .map_err(|e| e.locate(&self.source))
    }

    /// The values on every row of the context, in row order, with aggregates computed bottom-up.
    /// Gives the same results as calling [`Formula::evaluate`] on each row (sums may differ in the last bits
    /// of a floating-point number, since they are added in a different order).
    pub fn evaluate_all(&self, ctx: &dyn RowContext) -> Vec<Result<Value, FormulaError>> {
        eval::evaluate_all(&self.program, ctx)
            .into_iter()
            .map(|r| r.map_err(|e| e.locate(&self.source)))
            .collect()
    }
}
