//! Local evaluation of JQL against issues the caller already holds.
//!
//! A query is compiled once ([`Matcher::compile`]) against a [`FieldCatalog`] and an [`EvalContext`] (clock,
//! time zone, current user, groups): field names are resolved, literals parsed into numbers, instants and text
//! patterns, and functions such as `now()` or `currentUser()` evaluated. The [`Matcher`] then tests any number
//! of issues through [`IssueView`], doing no parsing or name lookup per issue.
//!
//! Invariants:
//! - Compilation either yields a matcher that answers exactly what the query asks (up to the limits written on
//!   [`text`] and [`Obstacle`]), or lists every [`Obstacle`] that stops local evaluation; callers then ask Jira.
//!   [`Obstacle::is_jira_error`] tells apart queries Jira itself would reject.
//! - Empty fields follow Jira: `=`, `IN`, `~`, `<`… never match them; `!=`, `NOT IN` and `!~` do not match them
//!   either; only `IS EMPTY`, `= EMPTY` and `IN (…, EMPTY)` do.
//! - Multi-valued fields match `=`/`IN` when any value matches, `!=`/`NOT IN` when no value does.

mod catalog;
mod text;
mod time;

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;

pub use catalog::{FieldCatalog, FieldInfo, FieldKey, FieldKind, StandardCatalog, SystemField};
pub use time::{Day, Timestamp, WeekStart};

use crate::ast::{
    Clause, FunctionCall, Literal, LiteralKind, Operand, Operator, Query, SortDirection, Span,
};
use text::TextQuery;
use time::{Calendar, MINUTE, Unit, parse_absolute, parse_period};

/// One value of an issue field, borrowed from the caller's issue data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Text(&'a str),
    Number(f64),
    Date(Day),
    DateTime(Timestamp),
    User {
        account_id: &'a str,
        display_name: Option<&'a str>,
    },
    /// Status, priority, issue type, resolution, project, status category, version, component, sprint, option.
    /// `key` is the project key or the status category key, where there is one.
    Named {
        id: &'a str,
        name: &'a str,
        key: Option<&'a str>,
    },
    /// An issue (the issue itself for `issue`/`key`, or its parent).
    Issue {
        id: u64,
        key: &'a str,
    },
    /// A link to another issue. `description` is the phrase seen from this issue ("blocks", "is blocked by").
    Link {
        type_name: &'a str,
        description: &'a str,
        other_id: u64,
        other_key: &'a str,
    },
}

/// An issue as the evaluator sees it.
pub trait IssueView {
    /// Calls `visit` once per value of the field; not at all when the field is empty or unknown to the view.
    fn visit(&self, field: FieldKey, visit: &mut dyn FnMut(Value<'_>));
}

/// Answers `membersOf()`.
pub trait GroupDirectory {
    /// The account ids of a group's members, or `None` if there is no such group.
    fn members(&self, group: &str) -> Option<Vec<String>>;
}

/// What a query is evaluated relative to.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    /// The instant `now()` stands for.
    pub now: Timestamp,
    /// The searching user's offset from UTC, in minutes; days start at midnight there.
    pub utc_offset_minutes: i32,
    pub week_start: WeekStart,
    /// The account id of the searching user, for `currentUser()`; `None` for anonymous searches.
    pub current_user: Option<&'a str>,
    /// Needed for `membersOf()`; without it such queries are not local.
    pub groups: Option<&'a dyn GroupDirectory>,
}

impl fmt::Debug for EvalContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvalContext")
            .field("now", &self.now)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .field("week_start", &self.week_start)
            .field("current_user", &self.current_user)
            .field("groups", &self.groups.is_some())
            .finish()
    }
}

impl EvalContext<'_> {
    /// A context at `now` in UTC, anonymous, without groups.
    #[must_use]
    pub fn at(now: Timestamp) -> Self {
        Self {
            now,
            utc_offset_minutes: 0,
            week_start: WeekStart::default(),
            current_user: None,
            groups: None,
        }
    }

    fn calendar(&self) -> Calendar {
        Calendar {
            offset_ms: i64::from(self.utc_offset_minutes) * MINUTE,
            week_start: self.week_start,
        }
    }
}

/// Why a query cannot be evaluated locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obstacle {
    /// `WAS` or `CHANGED`: the issue's history is needed.
    History {
        field: String,
        operator: Operator,
        span: Span,
    },
    /// No field of that name exists.
    UnknownField { name: String, span: Span },
    /// The field exists but issue views do not provide it.
    UnavailableField { name: String, span: Span },
    /// Entity properties (`issue.property[x].y`) are not held locally.
    FieldProperty { name: String, span: Span },
    /// No JQL function of that name exists.
    UnknownFunction { name: String, span: Span },
    /// A Jira function that needs data beyond the issue itself (sprints, versions, watchers, ...).
    UnsupportedFunction { name: String, span: Span },
    /// The field does not support the operator.
    UnsupportedOperator {
        field: String,
        operator: Operator,
        span: Span,
    },
    /// A value the field cannot accept (a malformed date, a number field compared with text, ...).
    InvalidValue {
        field: String,
        value: String,
        reason: String,
        span: Span,
    },
    /// `membersOf()` without a group directory in the context.
    NeedsGroups { span: Span },
}

impl Obstacle {
    /// Whether Jira itself would reject the query (rather than merely needing data this side lacks).
    #[must_use]
    pub fn is_jira_error(&self) -> bool {
        matches!(
            self,
            Self::UnknownField { .. }
                | Self::UnknownFunction { .. }
                | Self::UnsupportedOperator { .. }
                | Self::InvalidValue { .. }
        )
    }

    /// Where in the query the obstacle is.
    #[must_use]
    pub fn span(&self) -> Span {
        match self {
            Self::History { span, .. }
            | Self::UnknownField { span, .. }
            | Self::UnavailableField { span, .. }
            | Self::FieldProperty { span, .. }
            | Self::UnknownFunction { span, .. }
            | Self::UnsupportedFunction { span, .. }
            | Self::UnsupportedOperator { span, .. }
            | Self::InvalidValue { span, .. }
            | Self::NeedsGroups { span } => *span,
        }
    }
}

impl fmt::Display for Obstacle {
    /// Jira's wording where Jira has one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::History {
                field, operator, ..
            } => {
                write!(
                    f,
                    "'{field} {operator}' needs the issue history, which is only available in Jira."
                )
            }
            Self::UnknownField { name, .. } => {
                write!(
                    f,
                    "Field '{name}' does not exist or you do not have permission to view it."
                )
            }
            Self::UnavailableField { name, .. } => {
                write!(f, "Field '{name}' is not available locally.")
            }
            Self::FieldProperty { name, .. } => {
                write!(
                    f,
                    "The property of field '{name}' is not available locally."
                )
            }
            Self::UnknownFunction { name, .. } => {
                write!(f, "Unable to find JQL function '{name}()'.")
            }
            Self::UnsupportedFunction { name, .. } => {
                write!(
                    f,
                    "The JQL function '{name}()' can only be evaluated by Jira."
                )
            }
            Self::UnsupportedOperator {
                field, operator, ..
            } => {
                write!(
                    f,
                    "The operator '{operator}' is not supported by the '{field}' field."
                )
            }
            Self::InvalidValue {
                field,
                value,
                reason,
                ..
            } => {
                write!(
                    f,
                    "The value '{value}' for field '{field}' is invalid: {reason}"
                )
            }
            Self::NeedsGroups { .. } => {
                f.write_str("The JQL function 'membersOf()' needs group membership data.")
            }
        }
    }
}

/// Whether a query can be evaluated locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locality {
    Local,
    /// Ask Jira, for these reasons.
    Remote(Vec<Obstacle>),
}

/// Says whether `query` can be evaluated locally, and if not, why.
#[must_use]
pub fn classify(query: &Query, catalog: &dyn FieldCatalog, context: &EvalContext<'_>) -> Locality {
    match Matcher::compile(query, catalog, context) {
        Ok(_) => Locality::Local,
        Err(obstacles) => Locality::Remote(obstacles),
    }
}

/// A literal read for one field kind.
#[derive(Debug, Clone, Default)]
struct Lit {
    raw: String,
    lower: String,
    number: Option<f64>,
    instant: Option<Timestamp>,
    day: Option<Day>,
    id: Option<u64>,
    /// Project key (lower case) and number of an issue key.
    issue_key: Option<(String, u64)>,
}

impl Lit {
    fn text(raw: &str) -> Self {
        Self {
            raw: raw.to_owned(),
            lower: raw.to_lowercase(),
            id: raw.parse().ok(),
            issue_key: split_issue_key(raw),
            ..Self::default()
        }
    }

    fn equals(&self, value: &Value<'_>) -> bool {
        match *value {
            Value::Text(s) => eq_lower(s, &self.lower),
            Value::Number(n) => self.number == Some(n),
            Value::Date(d) => self.day == Some(d),
            Value::DateTime(t) => self
                .instant
                .is_some_and(|i| i.0.div_euclid(MINUTE) == t.0.div_euclid(MINUTE)),
            Value::User {
                account_id,
                display_name,
            } => account_id == self.raw || display_name.is_some_and(|n| eq_lower(n, &self.lower)),
            Value::Named { id, name, key } => {
                id == self.raw
                    || eq_lower(name, &self.lower)
                    || key.is_some_and(|k| eq_lower(k, &self.lower))
            }
            Value::Issue { id, key } => self.id == Some(id) || eq_lower(key, &self.lower),
            Value::Link {
                type_name,
                description,
                ..
            } => eq_lower(type_name, &self.lower) || eq_lower(description, &self.lower),
        }
    }

    /// `value` compared with the literal, when the two are comparable.
    fn compare(&self, value: &Value<'_>, calendar: Calendar) -> Option<Ordering> {
        match *value {
            Value::Number(n) => n.partial_cmp(&self.number?),
            Value::DateTime(t) => Some(t.cmp(&self.instant?)),
            Value::Date(d) => Some(calendar.start_of(d).cmp(&self.instant?)),
            Value::Issue { id, key } => match (&self.issue_key, split_issue_key(key)) {
                (Some((lp, ln)), Some((vp, vn))) if *lp == vp => Some(vn.cmp(ln)),
                (Some(_), _) => None,
                (None, _) => Some(id.cmp(&self.id?)),
            },
            _ => None,
        }
    }
}

/// Compares `s` with an already lower-cased string without allocating.
fn eq_lower(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        return s.eq_ignore_ascii_case(lower);
    }
    s.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

/// Whether `set` (of lower-cased strings) holds `s` lower-cased; short ASCII strings (keys, names) are
/// lower-cased on the stack, as this runs for every issue a query is evaluated on.
fn contains_lower(set: &HashSet<String>, s: &str) -> bool {
    let mut buffer = [0u8; 64];
    if s.is_ascii()
        && let Some(lower) = buffer.get_mut(..s.len())
    {
        lower.copy_from_slice(s.as_bytes());
        lower.make_ascii_lowercase();
        // ASCII lower-cased is ASCII, and lower-cases as Unicode does.
        return std::str::from_utf8(lower).is_ok_and(|lower| set.contains(lower));
    }
    set.contains(&s.to_lowercase())
}

/// `ABC-123` → (`abc`, 123).
fn split_issue_key(key: &str) -> Option<(String, u64)> {
    let (project, number) = key.rsplit_once('-')?;
    if project.is_empty() {
        return None;
    }
    Some((project.to_lowercase(), number.parse().ok()?))
}

/// The literals of `=`/`IN`: a list scanned in order when short, hashed when long, so that
/// `key in (...20,000 keys...)` stays cheap per issue.
#[derive(Debug, Clone, Default)]
struct LitSet {
    lits: Vec<Lit>,
    hashed: Option<Box<Hashed>>,
}

#[derive(Debug, Clone, Default)]
struct Hashed {
    lower: HashSet<String>,
    raw: HashSet<String>,
    ids: HashSet<u64>,
    /// Some literal is not a number: only such a literal can be an issue key (which starts with a letter).
    any_text: bool,
}

/// Below this many literals a linear scan beats hashing.
const HASH_FROM: usize = 8;

impl LitSet {
    fn new(lits: Vec<Lit>) -> Self {
        let hashed = (lits.len() >= HASH_FROM).then(|| {
            Box::new(Hashed {
                lower: lits.iter().map(|l| l.lower.clone()).collect(),
                raw: lits.iter().map(|l| l.raw.clone()).collect(),
                ids: lits.iter().filter_map(|l| l.id).collect(),
                any_text: lits.iter().any(|l| l.id.is_none()),
            })
        });
        Self { lits, hashed }
    }

    fn contains(&self, value: &Value<'_>) -> bool {
        let Some(h) = &self.hashed else {
            return self.lits.iter().any(|l| l.equals(value));
        };
        let lower = |s: &str| contains_lower(&h.lower, s);
        match *value {
            Value::Text(s) => lower(s),
            Value::User {
                account_id,
                display_name,
            } => h.raw.contains(account_id) || display_name.is_some_and(lower),
            Value::Named { id, name, key } => {
                h.raw.contains(id) || lower(name) || key.is_some_and(lower)
            }
            Value::Issue { id, key } => h.ids.contains(&id) || (h.any_text && lower(key)),
            Value::Number(_) | Value::Date(_) | Value::DateTime(_) | Value::Link { .. } => {
                self.lits.iter().any(|l| l.equals(value))
            }
        }
    }
}

/// `linkedIssues(key [, linkType])`.
#[derive(Debug, Clone)]
struct LinkSpec {
    other: Lit,
    link_type: Option<String>,
}

#[derive(Debug, Clone)]
enum Test {
    /// `IS EMPTY` (true) or `IS NOT EMPTY` (false).
    Empty(bool),
    /// `=`/`IN` (negated: `!=`/`NOT IN`).
    AnyOf {
        lits: LitSet,
        linked: Vec<LinkSpec>,
        empty: bool,
        negated: bool,
    },
    Compare {
        operator: Operator,
        lits: Vec<Lit>,
    },
    Text {
        query: TextQuery,
        negated: bool,
    },
}

#[derive(Debug, Clone)]
enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Leaf { keys: Vec<FieldKey>, test: Test },
}

/// One compiled `ORDER BY` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub field: FieldInfo,
    /// `None` when the query gave no direction; ascending is then used.
    pub direction: Option<SortDirection>,
}

/// A value reduced for sorting.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    Number(f64),
    Time(i64),
    /// Project key (lower case) and number, so that `ABC-9` sorts before `ABC-10`.
    IssueKey(String, u64),
    Text(String),
}

impl SortValue {
    fn rank(&self) -> u8 {
        match self {
            Self::Number(_) => 0,
            Self::Time(_) => 1,
            Self::IssueKey(..) => 2,
            Self::Text(_) => 3,
        }
    }

    fn total_cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Number(a), Self::Number(b)) => a.total_cmp(b),
            (Self::Time(a), Self::Time(b)) => a.cmp(b),
            (Self::IssueKey(ap, an), Self::IssueKey(bp, bn)) => ap.cmp(bp).then(an.cmp(bn)),
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn of(value: &Value<'_>, calendar: Calendar) -> Self {
        match *value {
            Value::Text(s) => Self::Text(s.to_lowercase()),
            Value::Number(n) => Self::Number(n),
            Value::Date(d) => Self::Time(calendar.start_of(d).0),
            Value::DateTime(t) => Self::Time(t.0),
            Value::User {
                account_id,
                display_name,
            } => Self::Text(display_name.unwrap_or(account_id).to_lowercase()),
            Value::Named { name, .. } => Self::Text(name.to_lowercase()),
            Value::Issue { id, key }
            | Value::Link {
                other_id: id,
                other_key: key,
                ..
            } => {
                split_issue_key(key).map_or(Self::Number(id as f64), |(p, n)| Self::IssueKey(p, n))
            }
        }
    }
}

/// A compiled query: tests issues and orders them.
#[derive(Debug, Clone)]
pub struct Matcher {
    root: Node,
    sort: Vec<SortKey>,
    calendar: Calendar,
}

impl Matcher {
    /// Compiles `query` for local evaluation.
    ///
    /// # Errors
    /// Every [`Obstacle`] found, when the query cannot be evaluated locally.
    pub fn compile(
        query: &Query,
        catalog: &dyn FieldCatalog,
        context: &EvalContext<'_>,
    ) -> Result<Self, Vec<Obstacle>> {
        let mut compiler = Compiler {
            catalog,
            context,
            calendar: context.calendar(),
            obstacles: Vec::new(),
        };
        let root = query
            .clause
            .as_ref()
            .map_or(Node::Const(true), |c| compiler.clause(c));
        let mut sort = Vec::new();
        for s in query.order_by.iter().flat_map(|o| &o.sorts) {
            if let Some(field) = compiler.field(&s.field) {
                sort.push(SortKey {
                    field,
                    direction: s.direction,
                });
            }
        }
        if compiler.obstacles.is_empty() {
            Ok(Self {
                root,
                sort,
                calendar: compiler.calendar,
            })
        } else {
            Err(compiler.obstacles)
        }
    }

    /// Whether the issue matches the query's condition (a query without one matches every issue).
    pub fn matches(&self, issue: &(impl IssueView + ?Sized)) -> bool {
        self.eval(&self.root, issue)
    }

    /// The `ORDER BY` keys, in order.
    #[must_use]
    pub fn sort_keys(&self) -> &[SortKey] {
        &self.sort
    }

    /// The value an issue sorts by for sort key `index` (its first value); `None` when empty or out of range.
    /// Callers sorting many issues can compute these once per issue.
    pub fn sort_value(&self, index: usize, issue: &(impl IssueView + ?Sized)) -> Option<SortValue> {
        let key = self.sort.get(index)?;
        let mut out = None;
        for field in &key.field.keys {
            issue.visit(*field, &mut |v| {
                if out.is_none() {
                    out = Some(SortValue::of(&v, self.calendar));
                }
            });
        }
        out
    }

    /// Orders two issues by the query's `ORDER BY`; empty values sort last in ascending order.
    pub fn compare(
        &self,
        a: &(impl IssueView + ?Sized),
        b: &(impl IssueView + ?Sized),
    ) -> Ordering {
        for (i, key) in self.sort.iter().enumerate() {
            let ordering = match (self.sort_value(i, a), self.sort_value(i, b)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let ordering = if key.direction == Some(SortDirection::Desc) {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }

    fn eval(&self, node: &Node, issue: &(impl IssueView + ?Sized)) -> bool {
        match node {
            Node::Const(b) => *b,
            Node::And(nodes) => nodes.iter().all(|n| self.eval(n, issue)),
            Node::Or(nodes) => nodes.iter().any(|n| self.eval(n, issue)),
            Node::Not(n) => !self.eval(n, issue),
            Node::Leaf { keys, test } => self.leaf(keys, test, issue),
        }
    }

    fn leaf(&self, keys: &[FieldKey], test: &Test, issue: &(impl IssueView + ?Sized)) -> bool {
        let mut count = 0usize;
        match test {
            Test::Empty(want_empty) => {
                for key in keys {
                    issue.visit(*key, &mut |_| count += 1);
                }
                (count == 0) == *want_empty
            }
            Test::AnyOf {
                lits,
                linked,
                empty,
                negated,
            } => {
                let mut hit = false;
                for key in keys {
                    issue.visit(*key, &mut |v| {
                        count += 1;
                        hit = hit || lits.contains(&v);
                    });
                }
                if !linked.is_empty() && !hit {
                    issue.visit(FieldKey::System(SystemField::IssueLinks), &mut |v| {
                        hit = hit || linked.iter().any(|spec| spec.matches(&v));
                    });
                }
                if *negated {
                    count > 0 && !hit
                } else {
                    hit || (*empty && count == 0)
                }
            }
            Test::Compare { operator, lits } => {
                let mut hit = false;
                let calendar = self.calendar;
                for key in keys {
                    issue.visit(*key, &mut |v| {
                        hit = hit
                            || lits.iter().any(|l| {
                                l.compare(&v, calendar).is_some_and(|o| match operator {
                                    Operator::LessThan => o.is_lt(),
                                    Operator::LessThanEquals => o.is_le(),
                                    Operator::GreaterThan => o.is_gt(),
                                    _ => o.is_ge(),
                                })
                            });
                    });
                }
                hit
            }
            Test::Text { query, negated } => {
                let mut found = query.tracker();
                for key in keys {
                    issue.visit(*key, &mut |v| {
                        if let Value::Text(s) = v {
                            count += 1;
                            query.scan(s, &mut found);
                        }
                    });
                }
                let all = found.iter().all(|f| *f);
                count > 0 && all != *negated
            }
        }
    }
}

impl LinkSpec {
    fn matches(&self, value: &Value<'_>) -> bool {
        let Value::Link {
            type_name,
            description,
            other_id,
            other_key,
        } = *value
        else {
            return false;
        };
        let other = self.other.id == Some(other_id) || eq_lower(other_key, &self.other.lower);
        other
            && self
                .link_type
                .as_deref()
                .is_none_or(|t| eq_lower(type_name, t) || eq_lower(description, t))
    }
}

/// Functions Jira has that need more than the issue itself.
const REMOTE_FUNCTIONS: &[&str] = &[
    "approved",
    "approver",
    "cascadeoption",
    "choiceoption",
    "closedsprints",
    "componentsleadbyuser",
    "currentlogin",
    "earliestunreleasedversion",
    "futuresprints",
    "issuehistory",
    "issueswithremotelinksbyglobalid",
    "lastlogin",
    "latestreleasedversion",
    "myapproval",
    "mypending",
    "opensprints",
    "pending",
    "pendingby",
    "projectsleadbyuser",
    "projectswhereuserhaspermission",
    "projectswhereuserhasrole",
    "releasedversions",
    "standardissuetypes",
    "subtaskissuetypes",
    "unreleasedversions",
    "updatedby",
    "votedissues",
    "watchedissues",
];

struct Compiler<'c, 'x> {
    catalog: &'c dyn FieldCatalog,
    context: &'c EvalContext<'x>,
    calendar: Calendar,
    obstacles: Vec<Obstacle>,
}

/// The operand of a clause, flattened.
#[derive(Default)]
struct Items {
    lits: Vec<Lit>,
    linked: Vec<LinkSpec>,
    empty: bool,
}

impl Compiler<'_, '_> {
    fn clause(&mut self, clause: &Clause) -> Node {
        match clause {
            Clause::Or(c) => Node::Or(c.clauses.iter().map(|c| self.clause(c)).collect()),
            Clause::And(c) => Node::And(c.clauses.iter().map(|c| self.clause(c)).collect()),
            Clause::Not(c) => Node::Not(Box::new(self.clause(&c.clause))),
            Clause::Terminal(t) => {
                let node = self.terminal(&t.field, t.operator, t.operand.as_ref(), t.span);
                node.unwrap_or(Node::Const(false))
            }
        }
    }

    fn field(&mut self, field: &crate::ast::Field) -> Option<FieldInfo> {
        let display = field_display(field);
        if !field.properties.is_empty() {
            self.obstacles.push(Obstacle::FieldProperty {
                name: display,
                span: field.span,
            });
            return None;
        }
        let Some(info) = self.catalog.resolve(&field.name) else {
            self.obstacles.push(Obstacle::UnknownField {
                name: display,
                span: field.span,
            });
            return None;
        };
        if !info.keys.iter().all(|k| self.catalog.is_available(*k)) {
            self.obstacles.push(Obstacle::UnavailableField {
                name: info.name,
                span: field.span,
            });
            return None;
        }
        Some(info)
    }

    fn terminal(
        &mut self,
        field: &crate::ast::Field,
        operator: Operator,
        operand: Option<&Operand>,
        span: Span,
    ) -> Option<Node> {
        if operator.is_history() {
            self.obstacles.push(Obstacle::History {
                field: field_display(field),
                operator,
                span,
            });
            return None;
        }
        let info = self.field(field)?;
        if !supports(info.kind, operator) {
            self.obstacles.push(Obstacle::UnsupportedOperator {
                field: info.name,
                operator,
                span,
            });
            return None;
        }
        let keys = info.keys.clone();
        let operand = operand?;
        let test = match operator {
            Operator::Is => Test::Empty(true),
            Operator::IsNot => Test::Empty(false),
            Operator::Equals | Operator::Like if matches!(operand, Operand::Empty(_)) => {
                Test::Empty(true)
            }
            Operator::NotEquals | Operator::NotLike if matches!(operand, Operand::Empty(_)) => {
                Test::Empty(false)
            }
            Operator::Like | Operator::NotLike => {
                let Operand::Literal(literal) = operand else {
                    self.obstacles.push(unsupported_function(operand));
                    return None;
                };
                let Some(query) = TextQuery::new(&literal.text) else {
                    self.obstacles.push(Obstacle::InvalidValue {
                        field: info.name,
                        value: literal.text.clone(),
                        reason: "there is nothing to search for.".into(),
                        span: literal.span,
                    });
                    return None;
                };
                Test::Text {
                    query,
                    negated: operator == Operator::NotLike,
                }
            }
            Operator::LessThan
            | Operator::LessThanEquals
            | Operator::GreaterThan
            | Operator::GreaterThanEquals => {
                let items = self.items(&info, operand)?;
                Test::Compare {
                    operator,
                    lits: items.lits,
                }
            }
            _ => {
                let items = self.items(&info, operand)?;
                let negated = matches!(operator, Operator::NotEquals | Operator::NotIn);
                Test::AnyOf {
                    lits: LitSet::new(items.lits),
                    linked: items.linked,
                    empty: items.empty,
                    negated,
                }
            }
        };
        Some(Node::Leaf { keys, test })
    }

    fn items(&mut self, info: &FieldInfo, operand: &Operand) -> Option<Items> {
        let mut items = Items::default();
        let before = self.obstacles.len();
        self.collect(info, operand, &mut items);
        (self.obstacles.len() == before).then_some(items)
    }

    fn collect(&mut self, info: &FieldInfo, operand: &Operand, items: &mut Items) {
        match operand {
            Operand::Empty(_) => items.empty = true,
            Operand::Literal(l) => {
                if let Some(lit) = self.literal(info, l) {
                    items.lits.push(lit);
                }
            }
            Operand::List(list) => {
                for item in &list.items {
                    self.collect(info, item, items);
                }
            }
            Operand::Function(call) => self.function(info, call, items),
        }
    }

    fn literal(&mut self, info: &FieldInfo, literal: &Literal) -> Option<Lit> {
        let mut lit = Lit::text(&literal.text);
        let invalid = |reason: &str| Obstacle::InvalidValue {
            field: info.name.clone(),
            value: literal.text.clone(),
            reason: reason.to_owned(),
            span: literal.span,
        };
        match info.kind {
            FieldKind::Number => match literal.text.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => lit.number = Some(n),
                _ => {
                    self.obstacles.push(invalid("it is not a number."));
                    return None;
                }
            },
            FieldKind::Date | FieldKind::DateTime => {
                let instant = if literal.kind == LiteralKind::Number {
                    literal.text.parse().ok().map(Timestamp)
                } else {
                    parse_absolute(&literal.text, self.calendar).or_else(|| {
                        parse_period(&literal.text, None)
                            .map(|p| self.calendar.add(self.context.now, p))
                    })
                };
                let Some(instant) = instant else {
                    self.obstacles.push(invalid(
                        "valid formats include 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', \
                         or a period format e.g. '-5d', '4w 2d'.",
                    ));
                    return None;
                };
                self.set_instant(&mut lit, instant);
            }
            _ => {}
        }
        Some(lit)
    }

    fn set_instant(&self, lit: &mut Lit, instant: Timestamp) {
        lit.instant = Some(instant);
        lit.day = Some(self.calendar.day_of(instant));
    }

    fn function(&mut self, info: &FieldInfo, call: &FunctionCall, items: &mut Items) {
        let name = call.name.text.to_lowercase();
        let args: Vec<&str> = call.args.iter().map(|a| a.text.as_str()).collect();
        let invalid = |reason: &str| Obstacle::InvalidValue {
            field: info.name.clone(),
            value: call.to_string(),
            reason: reason.to_owned(),
            span: call.span,
        };
        let unit = match name.as_str() {
            "startofday" | "endofday" => Some((Unit::Day, 'd')),
            "startofweek" | "endofweek" => Some((Unit::Week, 'w')),
            "startofmonth" | "endofmonth" => Some((Unit::Month, 'M')),
            "startofyear" | "endofyear" => Some((Unit::Year, 'y')),
            _ => None,
        };
        if let Some((unit, default_unit)) = unit {
            let increment = match args.as_slice() {
                [] => Some(Default::default()),
                [arg] => parse_period(arg, Some(default_unit)),
                _ => None,
            };
            let Some(increment) = increment else {
                self.obstacles
                    .push(invalid("the increment must look like '-1', '+2d' or '1w'."));
                return;
            };
            let now = self.context.now;
            let instant = if name.starts_with("start") {
                self.calendar.start_of_current(now, unit, increment)
            } else {
                self.calendar.end_of_current(now, unit, increment)
            };
            let mut lit = Lit::default();
            self.set_instant(&mut lit, instant);
            items.lits.push(lit);
            return;
        }
        match name.as_str() {
            "now" => {
                let mut lit = Lit::default();
                self.set_instant(&mut lit, self.context.now);
                items.lits.push(lit);
            }
            "currentuser" => items.lits.extend(self.context.current_user.map(Lit::text)),
            "membersof" => {
                let Some(groups) = self.context.groups else {
                    self.obstacles
                        .push(Obstacle::NeedsGroups { span: call.span });
                    return;
                };
                let [group] = args.as_slice() else {
                    self.obstacles
                        .push(invalid("membersOf() takes one group name."));
                    return;
                };
                match groups.members(group) {
                    Some(members) => items.lits.extend(members.iter().map(|m| Lit::text(m))),
                    None => self.obstacles.push(invalid("the group does not exist.")),
                }
            }
            "linkedissues" if info.kind == FieldKind::Issue => {
                if !self
                    .catalog
                    .is_available(FieldKey::System(SystemField::IssueLinks))
                {
                    self.obstacles.push(Obstacle::UnavailableField {
                        name: "issuelinks".into(),
                        span: call.span,
                    });
                    return;
                }
                match args.as_slice() {
                    [other] => items.linked.push(LinkSpec {
                        other: Lit::text(other),
                        link_type: None,
                    }),
                    [other, link_type] => items.linked.push(LinkSpec {
                        other: Lit::text(other),
                        link_type: Some(link_type.to_lowercase()),
                    }),
                    _ => self.obstacles.push(invalid(
                        "linkedIssues() takes an issue key and an optional link type.",
                    )),
                }
            }
            "linkedissues" => self.obstacles.push(Obstacle::UnsupportedFunction {
                name: call.name.text.clone(),
                span: call.span,
            }),
            known if REMOTE_FUNCTIONS.binary_search(&known).is_ok() => {
                self.obstacles.push(Obstacle::UnsupportedFunction {
                    name: call.name.text.clone(),
                    span: call.span,
                });
            }
            _ => self.obstacles.push(Obstacle::UnknownFunction {
                name: call.name.text.clone(),
                span: call.span,
            }),
        }
    }
}

fn unsupported_function(operand: &Operand) -> Obstacle {
    match operand {
        Operand::Function(call) => Obstacle::UnsupportedFunction {
            name: call.name.text.clone(),
            span: call.span,
        },
        other => Obstacle::InvalidValue {
            field: String::new(),
            value: other.to_string(),
            reason: "'~' takes a single text value.".into(),
            span: other.span(),
        },
    }
}

fn field_display(field: &crate::ast::Field) -> String {
    match &field.name {
        crate::ast::FieldName::Name(name) | crate::ast::FieldName::Number(name) => name.clone(),
        crate::ast::FieldName::Custom(id) => format!("cf[{id}]"),
    }
}

/// Which operators each kind of field accepts, as in Jira.
fn supports(kind: FieldKind, operator: Operator) -> bool {
    use Operator as O;
    let ordering = matches!(
        operator,
        O::LessThan | O::LessThanEquals | O::GreaterThan | O::GreaterThanEquals
    );
    match operator {
        O::Is | O::IsNot => true,
        O::Like | O::NotLike => kind == FieldKind::Text,
        _ if kind == FieldKind::Text => false,
        _ if ordering => matches!(
            kind,
            FieldKind::Number | FieldKind::Date | FieldKind::DateTime | FieldKind::Issue
        ),
        _ => true,
    }
}
