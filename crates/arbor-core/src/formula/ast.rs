//! The syntax tree, exactly as written (names not yet resolved), with spans; and a printer whose output
//! parses back to the same tree.

use std::fmt::{self, Write as _};

use super::error::Span;
use super::value::{BinaryOp, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// Height of the tree below and including this node; bounded by the parser so that every recursive
    /// walk (check, evaluation, drop) has a bounded depth.
    pub(crate) height: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Value),
    /// A field of the row, lower-cased.
    Variable(String),
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `NAME(args)`, name upper-cased.
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
    /// `NAME#modifier...{body}`, name upper-cased, modifiers lower-cased.
    Aggregate {
        name: String,
        name_span: Span,
        modifiers: Vec<(String, Span)>,
        body: Box<Expr>,
    },
    /// `WITH name = value : body`, name lower-cased.
    With {
        name: String,
        name_span: Span,
        value: Box<Expr>,
        body: Box<Expr>,
    },
}

impl Expr {
    pub(crate) fn new(kind: ExprKind, span: Span) -> Expr {
        let height = 1 + match &kind {
            ExprKind::Literal(_) | ExprKind::Variable(_) => 0,
            ExprKind::Unary { operand, .. } => operand.height,
            ExprKind::Binary { left, right, .. } => left.height.max(right.height),
            ExprKind::Call { args, .. } => args.iter().map(|a| a.height).max().unwrap_or(0),
            ExprKind::Aggregate { body, .. } => body.height,
            ExprKind::With { value, body, .. } => value.height.max(body.height),
        };
        Expr { kind, span, height }
    }
}

fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !super::parser::is_keyword(name)
}

impl fmt::Display for Expr {
    /// Prints the formula with every operation in parentheses, so precedence never changes the meaning.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(Value::Number(n)) if *n < 0.0 => {
                write!(f, "(-{})", format_literal_number(-n))
            }
            ExprKind::Literal(Value::Number(n)) => f.write_str(&format_literal_number(*n)),
            ExprKind::Literal(v @ (Value::Text(_) | Value::Empty)) => f.write_str(&v.repr()),
            ExprKind::Literal(Value::Bool(b)) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            // Only numbers, text, booleans and EMPTY are written as literals.
            ExprKind::Literal(other) => f.write_str(&other.repr()),
            ExprKind::Variable(name) if is_plain_name(name) => f.write_str(name),
            ExprKind::Variable(name) => write!(f, "`{name}`"),
            ExprKind::Unary { op, operand } => {
                let sym = match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Plus => "+",
                    UnaryOp::Not => "NOT ",
                };
                write!(f, "({sym}{operand})")
            }
            ExprKind::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            ExprKind::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
            ExprKind::Aggregate {
                name,
                modifiers,
                body,
                ..
            } => {
                f.write_str(name)?;
                for (m, _) in modifiers {
                    write!(f, "#{m}")?;
                }
                write!(f, "{{{body}}}")
            }
            ExprKind::With {
                name, value, body, ..
            } => {
                let shown = if is_plain_name(name) {
                    name.clone()
                } else {
                    format!("`{name}`")
                };
                write!(f, "(WITH {shown} = {value} : {body})")
            }
        }
    }
}

/// Numbers in a form the lexer reads back to the same `f64` (Rust's shortest round-trip form).
fn format_literal_number(n: f64) -> String {
    // `{:?}` writes forms such as "1.0", "1e-7" and "1e16", all of which the lexer reads; literals are finite.
    format!("{n:?}")
}
