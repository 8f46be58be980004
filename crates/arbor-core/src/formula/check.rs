//! Syntax tree → checked program: names resolved (locals to stack slots, fields to variable indices,
//! functions to their implementation), arity checked, argument and operator types checked where they are
//! known without data, and the variables the formula reads collected.
//!
//! Static types are deliberately conservative: a field's type is unknown (`Any`), so only mismatches that
//! would fail on every row (`YEAR(5)`, `TODAY() * 2`, `"abc" + 1`) are reported here; everything else is
//! checked again when values exist.

use super::ast::{Expr, ExprKind, UnaryOp};
use super::error::{ErrorKind, RawError, Span};
use super::functions::{self, AggFunc, Func, P, Scope, Ty, aggregates, modifiers};
use super::value::{BinaryOp, Value, binary};

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Const(Value),
    /// Index into [`Program::vars`].
    Var(usize),
    /// Stack slot of a `WITH` local.
    Local(usize),
    Unary(UnaryOp, Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    If(Vec<(Node, Node)>, Option<Box<Node>>),
    Case(Box<Node>, Vec<(Node, Node)>, Option<Box<Node>>),
    Call(Func, Vec<Node>),
    /// Index into [`Program::aggs`].
    Aggregate(usize),
    With(Box<Node>, Box<Node>),
}

#[derive(Debug, Clone)]
pub(crate) struct AggDef {
    pub func: AggFunc,
    pub scope: Scope,
    /// Count an issue placed several times in the scope once (the default).
    pub dedup: bool,
    pub body: Node,
    pub span: Span,
    /// The body reads a `WITH` local bound outside it, so its value depends on the row that aggregates and
    /// cannot be computed once per row for everyone.
    pub reads_outer_locals: bool,
    /// The body contains an aggregate, so its value for an issue may differ between the placements.
    pub nested: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub root: Node,
    /// Aggregates in post-order: an aggregate's nested aggregates have smaller indices.
    pub aggs: Vec<AggDef>,
    /// Field names, lower-cased, in order of first use.
    pub vars: Vec<String>,
}

pub(crate) fn check(expr: &Expr) -> Result<Program, RawError> {
    let mut c = Checker {
        locals: Vec::new(),
        vars: Vec::new(),
        aggs: Vec::new(),
    };
    let (root, _) = c.compile(expr)?;
    Ok(Program {
        root,
        aggs: c.aggs,
        vars: c.vars,
    })
}

struct Checker {
    locals: Vec<(String, Ty)>,
    vars: Vec<String>,
    aggs: Vec<AggDef>,
}

fn check_error(span: Span, message: impl Into<String>) -> RawError {
    RawError::new(ErrorKind::Check, span, message)
}

/// A value standing for a static type when trying an operator on types (text is numeric text, so text that
/// might hold a number is not rejected).
fn sample(ty: Ty) -> Option<Value> {
    Some(match ty {
        Ty::Any => return None,
        Ty::Empty => Value::Empty,
        Ty::Number => Value::Number(1.0),
        Ty::Text => Value::Text("1".to_owned()),
        Ty::Bool => Value::Bool(true),
        Ty::Date => Value::Date(jiff::civil::Date::constant(2000, 1, 1)),
        Ty::DateTime => Value::DateTime(jiff::Timestamp::UNIX_EPOCH),
        Ty::Duration => Value::Duration(86_400_000),
        Ty::List => Value::List(vec![Value::Number(1.0)]),
    })
}

fn sample_of(node: &Node, ty: Ty) -> Option<Value> {
    match &node.kind {
        NodeKind::Const(v) => Some(v.clone()),
        _ => sample(ty),
    }
}

fn unify(types: impl IntoIterator<Item = Ty>) -> Ty {
    let mut it = types.into_iter();
    let Some(first) = it.next() else {
        return Ty::Any;
    };
    if it.all(|t| t == first) {
        first
    } else {
        Ty::Any
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = if name.chars().count() <= 3 { 1 } else { 2 };
    let name = name.to_ascii_uppercase();
    candidates
        .into_iter()
        .map(|c| {
            let upper = c.to_ascii_uppercase();
            // A cut-short name ("child" for "children") is as good as a typo.
            let d = if name.len() >= 4 && upper.starts_with(&name) {
                1
            } else {
                distance(&name, &upper)
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn all_function_names() -> impl Iterator<Item = &'static str> {
    functions::functions()
        .iter()
        .map(|f| f.name)
        .chain(aggregates().iter().map(|a| a.name))
}

impl Checker {
    fn compile(&mut self, e: &Expr) -> Result<(Node, Ty), RawError> {
        let span = e.span;
        let node = |kind| Node { kind, span };
        Ok(match &e.kind {
            ExprKind::Literal(v) => (node(NodeKind::Const(v.clone())), Ty::of(v)),
            ExprKind::Variable(name) => {
                if let Some(slot) = self.locals.iter().rposition(|(n, _)| n == name) {
                    (node(NodeKind::Local(slot)), self.locals[slot].1)
                } else {
                    let index = match self.vars.iter().position(|v| v == name) {
                        Some(i) => i,
                        None => {
                            self.vars.push(name.clone());
                            self.vars.len() - 1
                        }
                    };
                    (node(NodeKind::Var(index)), Ty::Any)
                }
            }
            ExprKind::Unary { op, operand } => {
                let (inner, ty) = self.compile(operand)?;
                let out = match op {
                    UnaryOp::Not => Ty::Bool,
                    UnaryOp::Neg | UnaryOp::Plus => {
                        if matches!(ty, Ty::Text | Ty::Date | Ty::DateTime | Ty::List) {
                            let sym = if *op == UnaryOp::Neg { '-' } else { '+' };
                            return Err(check_error(
                                span,
                                format!("Cannot apply unary '{sym}' to {}", ty.name()),
                            ));
                        }
                        if ty == Ty::Bool { Ty::Number } else { ty }
                    }
                };
                (node(NodeKind::Unary(*op, Box::new(inner))), out)
            }
            ExprKind::Binary { op, left, right } => {
                let (l, lt) = self.compile(left)?;
                let (r, rt) = self.compile(right)?;
                let ty = binary_type(*op, &l, lt, &r, rt, span)?;
                let kind = match op {
                    BinaryOp::And => NodeKind::And(vec![l, r]),
                    BinaryOp::Or => NodeKind::Or(vec![l, r]),
                    _ => NodeKind::Binary(*op, Box::new(l), Box::new(r)),
                };
                (node(kind), ty)
            }
            ExprKind::With {
                name, value, body, ..
            } => {
                let (v, vt) = self.compile(value)?;
                self.locals.push((name.clone(), vt));
                let compiled = self.compile(body);
                self.locals.pop();
                let (b, bt) = compiled?;
                (node(NodeKind::With(Box::new(v), Box::new(b))), bt)
            }
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, *name_span, args, span)?,
            ExprKind::Aggregate {
                name,
                name_span,
                modifiers,
                body,
            } => self.aggregate(name, *name_span, modifiers, body, span)?,
        })
    }

    fn call(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[Expr],
        span: Span,
    ) -> Result<(Node, Ty), RawError> {
        let Some(info) = functions::lookup(name) else {
            if let Some(agg) = aggregates().iter().find(|a| a.name == name) {
                return Err(check_error(
                    name_span,
                    format!("{} is an aggregate function", agg.name),
                )
                .with_hint(format!(
                    "write {0}{{expression}}, e.g. {0}#children{{story_points}}",
                    agg.name
                )));
            }
            let err = check_error(name_span, format!("Unknown function '{name}'"));
            return Err(match suggest(name, all_function_names()) {
                Some(s) => err.with_hint(format!("did you mean '{s}'?")),
                None => err,
            });
        };
        let n = args.len();
        if n < info.min_args || info.max_args.is_some_and(|m| n > m) {
            let expected = match info.max_args {
                Some(m) if m == info.min_args => format!("{m}"),
                Some(m) => format!("{} to {m}", info.min_args),
                None => format!("at least {}", info.min_args),
            };
            let plural = if expected == "1" {
                "argument"
            } else {
                "arguments"
            };
            return Err(check_error(
                name_span,
                format!("{} expects {expected} {plural}, got {n}", info.name),
            )
            .with_hint(format!("usage: {}", info.usage)));
        }
        let mut compiled = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        for (i, a) in args.iter().enumerate() {
            let (node, ty) = self.compile(a)?;
            let kind = info
                .params
                .get(i)
                .or(info.params.last())
                .copied()
                .unwrap_or(P::A);
            if !kind.accepts(ty) {
                return Err(check_error(
                    a.span,
                    format!(
                        "{} expects {} as argument {}, got {}",
                        info.name,
                        kind.name(),
                        i + 1,
                        ty.name()
                    ),
                )
                .with_hint(format!("usage: {}", info.usage)));
            }
            compiled.push(node);
            types.push(ty);
        }
        build_call(info.func, info.ret, compiled, &types, span)
    }

    fn aggregate(
        &mut self,
        name: &str,
        name_span: Span,
        mods: &[(String, Span)],
        body: &Expr,
        span: Span,
    ) -> Result<(Node, Ty), RawError> {
        let Some(info) = aggregates().iter().find(|a| a.name == name) else {
            let err = if functions::lookup(name).is_some() {
                check_error(name_span, format!("{name} is not an aggregate function"))
            } else {
                check_error(name_span, format!("Unknown aggregate function '{name}'"))
            };
            let hint = match suggest(name, aggregates().iter().map(|a| a.name)) {
                Some(s) => format!("did you mean '{s}'?"),
                None => "aggregates are SUM, MIN, MAX, AVG, COUNT and DISTINCT".to_owned(),
            };
            return Err(err.with_hint(hint));
        };
        let mut scope = None;
        let mut dedup = true;
        for (m, mspan) in mods {
            let Some(known) = modifiers().iter().find(|k| k.name == m) else {
                let err = check_error(*mspan, format!("Unknown modifier '#{m}'"));
                let hint = match suggest(m, modifiers().iter().map(|k| k.name)) {
                    Some(s) => format!("did you mean '#{s}'?"),
                    None => {
                        "modifiers are #all, #descendants, #children, #leaves and #with_duplicates"
                            .to_owned()
                    }
                };
                return Err(err.with_hint(hint));
            };
            match known.scope {
                Some(s) if scope.is_none() => scope = Some(s),
                Some(_) => {
                    return Err(check_error(
                        *mspan,
                        "Only one of #all, #descendants, #children and #leaves may be given",
                    ));
                }
                None if dedup => dedup = false,
                None => {
                    return Err(check_error(
                        *mspan,
                        format!("Modifier '#{m}' is given twice"),
                    ));
                }
            }
        }
        let base = self.locals.len();
        let first_nested = self.aggs.len();
        let (body_node, body_ty) = self.compile(body)?;
        let nested = self.aggs.len() > first_nested;
        let mut reads_outer_locals = reads_slot_below(&body_node, base);
        for inner in &self.aggs[first_nested..] {
            reads_outer_locals |= reads_slot_below(&inner.body, base);
        }
        let ty = match info.func {
            AggFunc::Sum | AggFunc::Avg => {
                if matches!(body_ty, Ty::Date | Ty::DateTime | Ty::List | Ty::Text) {
                    return Err(check_error(
                        body.span,
                        format!(
                            "{} needs numbers or durations, got {}",
                            info.name,
                            body_ty.name()
                        ),
                    ));
                }
                if body_ty == Ty::Duration {
                    Ty::Duration
                } else {
                    Ty::Number
                }
            }
            AggFunc::Count => Ty::Number,
            AggFunc::Min | AggFunc::Max => body_ty,
            AggFunc::Distinct => Ty::List,
        };
        self.aggs.push(AggDef {
            func: info.func,
            scope: scope.unwrap_or(Scope::All),
            dedup,
            body: body_node,
            span,
            reads_outer_locals,
            nested,
        });
        Ok((
            Node {
                kind: NodeKind::Aggregate(self.aggs.len() - 1),
                span,
            },
            ty,
        ))
    }
}

/// The node for a call whose arguments are compiled; lazy forms get their own node kinds. Kept apart from
/// `Checker::call` so that the frame on the recursive path stays small.
fn build_call(
    func: Func,
    ret: Ty,
    compiled: Vec<Node>,
    types: &[Ty],
    span: Span,
) -> Result<(Node, Ty), RawError> {
    let n = compiled.len();
    let node = |kind| Node { kind, span };
    Ok(match func {
        Func::If => {
            let mut items = compiled;
            // An odd count ends with the else branch; the rest pairs up as (condition, result).
            let otherwise = if n % 2 == 1 {
                items.pop().map(Box::new)
            } else {
                None
            };
            let mut branch_types: Vec<Ty> =
                types.chunks(2).filter_map(|c| c.get(1).copied()).collect();
            if n % 2 == 1 {
                branch_types.push(types[n - 1]);
            }
            let mut rest = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(c), Some(t)) = (rest.next(), rest.next()) {
                pairs.push((c, t));
            }
            (node(NodeKind::If(pairs, otherwise)), unify(branch_types))
        }
        Func::Case => {
            let mut rest = compiled.into_iter();
            let Some(subject) = rest.next() else {
                return Err(check_error(span, "CASE needs a value"));
            };
            let mut pairs = Vec::new();
            let mut leftover = None;
            loop {
                match (rest.next(), rest.next()) {
                    (Some(p), Some(r)) => pairs.push((p, r)),
                    (Some(d), None) => {
                        leftover = Some(Box::new(d));
                        break;
                    }
                    _ => break,
                }
            }
            let mut result_types: Vec<Ty> = types[1..]
                .chunks(2)
                .filter_map(|c| c.get(1).copied())
                .collect();
            if n.is_multiple_of(2) {
                result_types.push(types[n - 1]);
            }
            (
                node(NodeKind::Case(Box::new(subject), pairs, leftover)),
                unify(result_types),
            )
        }
        Func::And => (node(NodeKind::And(compiled)), Ty::Bool),
        Func::Or => (node(NodeKind::Or(compiled)), Ty::Bool),
        Func::Not => {
            let inner = compiled.into_iter().next().map(Box::new);
            match inner {
                Some(i) => (node(NodeKind::Unary(UnaryOp::Not, i)), Ty::Bool),
                None => return Err(check_error(span, "NOT needs a value")),
            }
        }
        Func::Default | Func::Min | Func::Max => (
            node(NodeKind::Call(func, compiled)),
            unify(types.iter().copied()),
        ),
        other => (node(NodeKind::Call(other, compiled)), ret),
    })
}

fn binary_type(
    op: BinaryOp,
    l: &Node,
    lt: Ty,
    r: &Node,
    rt: Ty,
    span: Span,
) -> Result<Ty, RawError> {
    let fixed = match op {
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::And | BinaryOp::Or => return Ok(Ty::Bool),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => Some(Ty::Bool),
        BinaryOp::Concat => return Ok(Ty::Text),
        _ => None,
    };
    let (Some(a), Some(b)) = (sample_of(l, lt), sample_of(r, rt)) else {
        return Ok(fixed.unwrap_or(Ty::Any));
    };
    // Trying the operator on stand-in values keeps the static rules identical to the run-time ones.
    match binary(op, &a, &b, &jiff::tz::TimeZone::UTC) {
        Ok(v) => Ok(fixed.unwrap_or(match v {
            // A date plus a duration may land on a date-time; the stand-in cannot tell.
            Value::Date(_) | Value::DateTime(_) | Value::Empty => Ty::Any,
            other => Ty::of(&other),
        })),
        Err(message) => Err(RawError::from_message(ErrorKind::Check, span, &message)),
    }
}

pub(crate) fn reads_slot_below(node: &Node, base: usize) -> bool {
    let below = |n: &Node| reads_slot_below(n, base);
    match &node.kind {
        NodeKind::Local(slot) => *slot < base,
        NodeKind::Const(_) | NodeKind::Var(_) | NodeKind::Aggregate(_) => false,
        NodeKind::Unary(_, a) => below(a),
        NodeKind::Binary(_, a, b) | NodeKind::With(a, b) => below(a) || below(b),
        NodeKind::And(items) | NodeKind::Or(items) | NodeKind::Call(_, items) => {
            items.iter().any(below)
        }
        NodeKind::If(pairs, otherwise) => {
            pairs.iter().any(|(c, t)| below(c) || below(t))
                || otherwise.as_deref().is_some_and(below)
        }
        NodeKind::Case(subject, pairs, otherwise) => {
            below(subject)
                || pairs.iter().any(|(p, r)| below(p) || below(r))
                || otherwise.as_deref().is_some_and(below)
        }
    }
}
