//! The syntax tree of a JQL query.
//!
//! Invariants:
//! - Every node carries the [`Span`] of the source text it was parsed from (byte offsets, end exclusive); nodes
//!   built by hand may use [`Span::default`].
//! - The tree mirrors the grammar, not Jira's meaning: `IS NULL` and `IS EMPTY` are the same node, quoted and
//!   unquoted strings are the same [`Literal`], but `123` (a number) and `"123"` (a string) differ, as they do
//!   for Jira.
//! - [`CompoundClause`]s hold at least two clauses; a parenthesised clause is not a node of its own, and
//!   `a OR (b OR c)` stays nested so that printing and parsing again gives back the same tree.
//! - `TerminalClause::operand` is `None` exactly for `CHANGED`; predicates appear only after `WAS` forms and
//!   `CHANGED`.

use std::fmt;

/// A byte range of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset just past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    #[must_use]
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both.
    #[must_use]
    pub fn to(self, other: Self) -> Self {
        Self::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A whole query: `jqlQuery : jqlWhere? jqlOrderBy? EOF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The condition; `None` for a query that only sorts (or is empty).
    pub clause: Option<Clause>,
    /// The `ORDER BY` part, if any.
    pub order_by: Option<OrderBy>,
    pub span: Span,
}

/// A condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Or(CompoundClause),
    And(CompoundClause),
    Not(NotClause),
    Terminal(TerminalClause),
}

impl Clause {
    /// The source span of the clause (including parentheses around it, if it had any).
    #[must_use]
    pub fn span(&self) -> Span {
        match self {
            Self::Or(c) | Self::And(c) => c.span,
            Self::Not(c) => c.span,
            Self::Terminal(c) => c.span,
        }
    }

    pub(crate) fn span_mut(&mut self) -> &mut Span {
        match self {
            Self::Or(c) | Self::And(c) => &mut c.span,
            Self::Not(c) => &mut c.span,
            Self::Terminal(c) => &mut c.span,
        }
    }
}

/// Two or more clauses joined by the same logical operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompoundClause {
    pub clauses: Vec<Clause>,
    pub span: Span,
}

/// `NOT clause` (or `! clause`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotClause {
    pub clause: Box<Clause>,
    pub span: Span,
}

/// `field operator operand predicates...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalClause {
    pub field: Field,
    pub operator: Operator,
    /// `None` only for [`Operator::Changed`].
    pub operand: Option<Operand>,
    /// History predicates (`AFTER`, `BY`, ...); only for the `WAS` operators and `CHANGED`.
    pub predicates: Vec<Predicate>,
    pub span: Span,
}

/// The operator of a terminal clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    NotEquals,
    Like,
    NotLike,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
    In,
    NotIn,
    Is,
    IsNot,
    Was,
    WasNot,
    WasIn,
    WasNotIn,
    Changed,
}

impl Operator {
    /// Every operator, for tests and generators.
    pub const ALL: [Self; 17] = [
        Self::Equals,
        Self::NotEquals,
        Self::Like,
        Self::NotLike,
        Self::LessThan,
        Self::GreaterThan,
        Self::LessThanEquals,
        Self::GreaterThanEquals,
        Self::In,
        Self::NotIn,
        Self::Is,
        Self::IsNot,
        Self::Was,
        Self::WasNot,
        Self::WasIn,
        Self::WasNotIn,
        Self::Changed,
    ];

    /// The canonical spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Equals => "=",
            Self::NotEquals => "!=",
            Self::Like => "~",
            Self::NotLike => "!~",
            Self::LessThan => "<",
            Self::GreaterThan => ">",
            Self::LessThanEquals => "<=",
            Self::GreaterThanEquals => ">=",
            Self::In => "IN",
            Self::NotIn => "NOT IN",
            Self::Is => "IS",
            Self::IsNot => "IS NOT",
            Self::Was => "WAS",
            Self::WasNot => "WAS NOT",
            Self::WasIn => "WAS IN",
            Self::WasNotIn => "WAS NOT IN",
            Self::Changed => "CHANGED",
        }
    }

    /// Whether the operator asks about the history rather than its present state.
    #[must_use]
    pub const fn is_history(self) -> bool {
        matches!(
            self,
            Self::Was | Self::WasNot | Self::WasIn | Self::WasNotIn | Self::Changed
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field reference: `summary`, `"Story Points"`, `cf[10016]`, `issue.property[x].y`, or a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: FieldName,
    /// Property accessors (`[key]path...`); always empty for [`FieldName::Number`].
    pub properties: Vec<FieldProperty>,
    pub span: Span,
}

/// How a field is named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldName {
    /// A quoted or unquoted name.
    Name(String),
    /// A bare number used as a field name (the grammar allows it; Jira rejects it later).
    Number(String),
    /// `cf[digits]`; holds the digits.
    Custom(String),
}

impl FieldName {
    /// The custom field id of `cf[N]`, if it fits in a `u64`.
    #[must_use]
    pub fn custom_id(&self) -> Option<u64> {
        match self {
            Self::Custom(digits) => digits.parse().ok(),
            Self::Name(_) | Self::Number(_) => None,
        }
    }
}

/// `[key]` followed by zero or more path arguments, as in `issue.property[key].a.b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProperty {
    pub key: Literal,
    /// Arguments following the brackets (`.a.b` lexes as one word).
    pub path: Vec<Literal>,
    pub span: Span,
}

/// The right-hand side of an operator, or of a history predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// `EMPTY` or `NULL`.
    Empty(Span),
    Literal(Literal),
    Function(FunctionCall),
    List(OperandList),
}

impl Operand {
    /// The source span of the operand.
    #[must_use]
    pub fn span(&self) -> Span {
        match self {
            Self::Empty(span) => *span,
            Self::Literal(l) => l.span,
            Self::Function(f) => f.span,
            Self::List(l) => l.span,
        }
    }
}

/// Whether a literal was a string or a number in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiteralKind {
    /// A quoted string or an unquoted word.
    String,
    /// An unquoted integer, possibly negative (`POSNUMBER` or `NEGNUMBER`).
    Number,
}

/// A value: a string (escapes resolved) or a number (its digits as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub text: String,
    pub span: Span,
}

impl Literal {
    /// A string literal without a source position.
    #[must_use]
    pub fn string(text: impl Into<String>) -> Self {
        Self {
            kind: LiteralKind::String,
            text: text.into(),
            span: Span::default(),
        }
    }

    /// A number literal without a source position; `digits` must match `-?[0-9]+`.
    #[must_use]
    pub fn number(digits: impl Into<String>) -> Self {
        Self {
            kind: LiteralKind::Number,
            text: digits.into(),
            span: Span::default(),
        }
    }
}

/// `name(arg, ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCall {
    /// The grammar allows a string or a number as the name.
    pub name: Literal,
    pub args: Vec<Literal>,
    pub span: Span,
}

/// `(operand, ...)` with at least one operand; lists may nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperandList {
    pub items: Vec<Operand>,
    pub span: Span,
}

/// The keyword of a history predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PredicateKind {
    After,
    Before,
    On,
    During,
    By,
    /// Only after `CHANGED`.
    From,
    /// Only after `CHANGED`.
    To,
}

impl PredicateKind {
    /// The canonical spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::After => "AFTER",
            Self::Before => "BEFORE",
            Self::On => "ON",
            Self::During => "DURING",
            Self::By => "BY",
            Self::From => "FROM",
            Self::To => "TO",
        }
    }
}

/// `AFTER "2024-01-01"`, `BY currentUser()`, `DURING ("a", "b")`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicate {
    pub kind: PredicateKind,
    pub operand: Operand,
    pub span: Span,
}

/// `ORDER BY sort, ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// At least one.
    pub sorts: Vec<Sort>,
    pub span: Span,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub field: Field,
    /// `None` when the query names no direction (Jira then uses the field's default).
    pub direction: Option<SortDirection>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDirection {
    Asc,
    Desc,
}

impl Query {
    /// Sets every span in the tree to the default, so that trees can be compared for structure alone.
    pub fn clear_spans(&mut self) {
        self.span = Span::default();
        if let Some(clause) = &mut self.clause {
            clause.clear_spans();
        }
        if let Some(order_by) = &mut self.order_by {
            order_by.span = Span::default();
            for sort in &mut order_by.sorts {
                sort.span = Span::default();
                sort.field.clear_spans();
            }
        }
    }

    /// Whether two queries have the same structure and values, whatever their spans.
    #[must_use]
    pub fn same_as(&self, other: &Self) -> bool {
        let mut a = self.clone();
        let mut b = other.clone();
        a.clear_spans();
        b.clear_spans();
        a == b
    }
}

impl Clause {
    fn clear_spans(&mut self) {
        *self.span_mut() = Span::default();
        match self {
            Self::Or(c) | Self::And(c) => c.clauses.iter_mut().for_each(Self::clear_spans),
            Self::Not(c) => c.clause.clear_spans(),
            Self::Terminal(t) => {
                t.field.clear_spans();
                if let Some(operand) = &mut t.operand {
                    operand.clear_spans();
                }
                for predicate in &mut t.predicates {
                    predicate.span = Span::default();
                    predicate.operand.clear_spans();
                }
            }
        }
    }
}

impl Field {
    fn clear_spans(&mut self) {
        self.span = Span::default();
        for property in &mut self.properties {
            property.span = Span::default();
            property.key.span = Span::default();
            for arg in &mut property.path {
                arg.span = Span::default();
            }
        }
    }
}

impl Operand {
    fn clear_spans(&mut self) {
        match self {
            Self::Empty(span) => *span = Span::default(),
            Self::Literal(l) => l.span = Span::default(),
            Self::Function(f) => {
                f.span = Span::default();
                f.name.span = Span::default();
                for arg in &mut f.args {
                    arg.span = Span::default();
                }
            }
            Self::List(l) => {
                l.span = Span::default();
                l.items.iter_mut().for_each(Self::clear_spans);
            }
        }
    }
}
