//! Tokens → syntax tree, by recursive descent with precedence climbing. Precedence, loosest first:
//!
//! `WITH` · `OR ||` · `AND &&` · `NOT !` · comparisons (not chainable) · `&` · `+ -` · `* / %` · unary `- +` ·
//! primary (literal, name, call, aggregate, parentheses).
//!
//! Invariant: no recursion deeper than [`MAX_DEPTH`] and no tree higher than it, so hostile input gives an
//! error instead of a stack overflow.

use super::ast::{Expr, ExprKind, UnaryOp};
use super::error::{ErrorKind, RawError, Span};
use super::lexer::{Tok, Token, tokenize};
use super::value::{BinaryOp, Value};

/// Deepest nesting accepted, counting every operator, call and parenthesis level.
pub const MAX_DEPTH: u32 = 64;
/// Longest formula accepted, in bytes.
pub const MAX_SOURCE_LEN: usize = 64 * 1024;

const PREC_OR: u8 = 1;
const PREC_AND: u8 = 2;
const PREC_NOT: u8 = 3;
const PREC_COMPARE: u8 = 4;
const PREC_CONCAT: u8 = 5;
const PREC_ADD: u8 = 6;
const PREC_MUL: u8 = 7;

const KEYWORDS: [&str; 8] = [
    "TRUE",
    "FALSE",
    "EMPTY",
    "UNDEFINED",
    "AND",
    "OR",
    "NOT",
    "WITH",
];

pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Parses a whole formula.
pub(crate) fn parse(src: &str) -> Result<Expr, RawError> {
    if src.len() > MAX_SOURCE_LEN {
        return Err(RawError::new(
            ErrorKind::Limit,
            Span::new(0, 0),
            format!(
                "Formula is too long ({} bytes; the limit is {MAX_SOURCE_LEN})",
                src.len()
            ),
        ));
    }
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    if p.peek() == &Tok::Eof {
        return Err(RawError::new(ErrorKind::Syntax, p.span(), "Empty formula"));
    }
    let expr = p.expr()?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected());
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: u32,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn span(&self) -> Span {
        self.tokens[self.pos.min(self.tokens.len() - 1)].span
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos.min(self.tokens.len() - 1)].clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn unexpected(&self) -> RawError {
        RawError::new(
            ErrorKind::Syntax,
            self.span(),
            format!("Unexpected {}", self.peek().describe()),
        )
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<Span, RawError> {
        if self.peek() == tok {
            Ok(self.bump().span)
        } else {
            let found = self.peek().describe();
            Err(RawError::new(
                ErrorKind::Syntax,
                self.span(),
                format!("Expected {what}, found {found}"),
            ))
        }
    }

    fn enter(&mut self) -> Result<(), RawError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(too_deep(self.span()));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn node(kind: ExprKind, span: Span) -> Result<Expr, RawError> {
        let e = Expr::new(kind, span);
        if e.height > MAX_DEPTH {
            return Err(too_deep(span));
        }
        Ok(e)
    }

    fn binary_node(op: BinaryOp, left: Expr, right: Expr) -> Result<Expr, RawError> {
        let span = left.span.to(right.span);
        Self::node(
            ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            span,
        )
    }

    fn expr(&mut self) -> Result<Expr, RawError> {
        self.enter()?;
        let e = self.binary(PREC_OR);
        self.leave();
        e
    }

    /// Precedence climbing: one frame per nesting level instead of one per precedence level, which keeps the
    /// stack small enough for [`MAX_DEPTH`] levels even in debug builds.
    fn binary(&mut self, min_prec: u8) -> Result<Expr, RawError> {
        let mut left =
            if min_prec <= PREC_NOT && (self.peek() == &Tok::Bang || self.peek_keyword("NOT")) {
                let start = self.bump().span;
                self.enter()?;
                // NOT covers a whole comparison: `NOT a = b` is `NOT (a = b)`.
                let operand = self.binary(PREC_NOT);
                self.leave();
                let operand = operand?;
                let span = start.to(operand.span);
                Self::node(
                    ExprKind::Unary {
                        op: UnaryOp::Not,
                        operand: Box::new(operand),
                    },
                    span,
                )?
            } else {
                self.unary()?
            };
        let mut compared = false;
        loop {
            let Some((op, prec)) = self.infix() else {
                return Ok(left);
            };
            if prec < min_prec {
                return Ok(left);
            }
            if prec == PREC_COMPARE && compared {
                return Err(RawError::new(
                    ErrorKind::Syntax,
                    self.span(),
                    "Comparisons cannot be chained",
                )
                .with_hint("combine them with AND, e.g. a < b AND b < c"));
            }
            self.bump();
            let right = self.binary(prec + 1)?;
            compared = prec == PREC_COMPARE;
            left = Self::binary_node(op, left, right)?;
        }
    }

    fn infix(&self) -> Option<(BinaryOp, u8)> {
        if self.peek_keyword("OR") {
            return Some((BinaryOp::Or, PREC_OR));
        }
        if self.peek_keyword("AND") {
            return Some((BinaryOp::And, PREC_AND));
        }
        Some(match self.peek() {
            Tok::OrOr => (BinaryOp::Or, PREC_OR),
            Tok::AndAnd => (BinaryOp::And, PREC_AND),
            Tok::Amp => (BinaryOp::Concat, PREC_CONCAT),
            Tok::Plus => (BinaryOp::Add, PREC_ADD),
            Tok::Minus => (BinaryOp::Sub, PREC_ADD),
            Tok::Star => (BinaryOp::Mul, PREC_MUL),
            Tok::Slash => (BinaryOp::Div, PREC_MUL),
            Tok::Percent => (BinaryOp::Rem, PREC_MUL),
            other => (comparison_op(other)?, PREC_COMPARE),
        })
    }

    fn unary(&mut self) -> Result<Expr, RawError> {
        let op = match self.peek() {
            Tok::Minus => UnaryOp::Neg,
            Tok::Plus => UnaryOp::Plus,
            _ => return self.primary(),
        };
        let start = self.bump().span;
        self.enter()?;
        let operand = self.unary();
        self.leave();
        let operand = operand?;
        let span = start.to(operand.span);
        Self::node(
            ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
            span,
        )
    }

    fn primary(&mut self) -> Result<Expr, RawError> {
        if self.peek() == &Tok::Eof {
            return Err(self.unexpected());
        }
        let token = self.bump();
        let span = token.span;
        match token.tok {
            Tok::Number(n) => Self::node(ExprKind::Literal(Value::Number(n)), span),
            Tok::Str(s) => Self::node(ExprKind::Literal(Value::text(s)), span),
            Tok::Quoted(name) => Self::node(ExprKind::Variable(name.to_lowercase()), span),
            Tok::LParen => {
                let inner = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(inner)
            }
            Tok::Ident(word) => self.word(&word, span),
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }

    /// A bare word: keyword literal, `WITH`, function call, aggregate or variable.
    fn word(&mut self, word: &str, span: Span) -> Result<Expr, RawError> {
        let upper = word.to_ascii_uppercase();
        match upper.as_str() {
            "TRUE" => return Self::node(ExprKind::Literal(Value::Bool(true)), span),
            "FALSE" => return Self::node(ExprKind::Literal(Value::Bool(false)), span),
            "EMPTY" | "UNDEFINED" => return Self::node(ExprKind::Literal(Value::Empty), span),
            "WITH" => return self.with(span),
            // AND(a, b) and OR(a, b) are the function forms; the infix forms are handled above.
            "AND" | "OR" if self.peek() == &Tok::LParen => {}
            "AND" | "OR" | "NOT" => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
            _ => {}
        }
        match self.peek() {
            Tok::LParen => self.call(upper, span),
            Tok::Hash | Tok::LBrace => self.aggregate(upper, span),
            _ => Self::node(ExprKind::Variable(word.to_lowercase()), span),
        }
    }

    fn with(&mut self, start: Span) -> Result<Expr, RawError> {
        let name_token = self.bump();
        let name = match name_token.tok {
            Tok::Ident(n) if !is_keyword(&n) => n.to_lowercase(),
            Tok::Quoted(n) => n.to_lowercase(),
            other => {
                return Err(RawError::new(
                    ErrorKind::Syntax,
                    name_token.span,
                    format!("Expected a name after WITH, found {}", other.describe()),
                ));
            }
        };
        self.expect(&Tok::Eq, "'=' after the name in WITH")?;
        let value = self.expr()?;
        self.expect(&Tok::Colon, "':' before the body of WITH")?;
        let body = self.expr()?;
        let span = start.to(body.span);
        Self::node(
            ExprKind::With {
                name,
                name_span: name_token.span,
                value: Box::new(value),
                body: Box::new(body),
            },
            span,
        )
    }

    fn call(&mut self, name: String, name_span: Span) -> Result<Expr, RawError> {
        self.bump();
        let mut args = Vec::new();
        if self.peek() != &Tok::RParen {
            loop {
                args.push(self.expr()?);
                match self.peek() {
                    Tok::Comma => {
                        self.bump();
                    }
                    Tok::RParen => break,
                    other => {
                        let found = other.describe();
                        return Err(RawError::new(
                            ErrorKind::Syntax,
                            self.span(),
                            format!("Expected ',' or ')', found {found}"),
                        ));
                    }
                }
            }
        }
        let end = self.bump().span;
        Self::node(
            ExprKind::Call {
                name,
                name_span,
                args,
            },
            name_span.to(end),
        )
    }

    fn aggregate(&mut self, name: String, name_span: Span) -> Result<Expr, RawError> {
        let mut modifiers = Vec::new();
        while self.peek() == &Tok::Hash {
            let hash = self.bump().span;
            let token = self.bump();
            match token.tok {
                Tok::Ident(m) => modifiers.push((m.to_lowercase(), hash.to(token.span))),
                other => {
                    return Err(RawError::new(
                        ErrorKind::Syntax,
                        token.span,
                        format!(
                            "Expected a modifier name after '#', found {}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
        self.expect(&Tok::LBrace, "'{' to start the aggregate's expression")?;
        let body = self.expr()?;
        let end = self.expect(&Tok::RBrace, "'}'")?;
        Self::node(
            ExprKind::Aggregate {
                name,
                name_span,
                modifiers,
                body: Box::new(body),
            },
            name_span.to(end),
        )
    }
}

fn comparison_op(tok: &Tok) -> Option<BinaryOp> {
    Some(match tok {
        Tok::Eq => BinaryOp::Eq,
        Tok::Ne => BinaryOp::Ne,
        Tok::Lt => BinaryOp::Lt,
        Tok::Le => BinaryOp::Le,
        Tok::Gt => BinaryOp::Gt,
        Tok::Ge => BinaryOp::Ge,
        _ => return None,
    })
}

fn too_deep(span: Span) -> RawError {
    RawError::new(
        ErrorKind::Limit,
        span,
        format!("Formula is nested too deeply (more than {MAX_DEPTH} levels)"),
    )
}
