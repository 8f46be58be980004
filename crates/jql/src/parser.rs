//! A recursive-descent parser for `JQLParser.g4`.
//!
//! Invariants:
//! - One token of lookahead, two where the grammar needs it (`NOT IN`, `IS NOT`, `WAS NOT IN`); every token is
//!   looked at a bounded number of times, so parsing is linear in the length of the query.
//! - Recursion is bounded by [`crate::MAX_DEPTH`] (parentheses, `NOT`s and nested lists count alike), so no input
//!   can exhaust the stack.
//! - The first offending token in reading order is reported; a lexical error token is reported as itself.

use crate::MAX_DEPTH;
use crate::ast::{
    Clause, CompoundClause, Field, FieldName, FieldProperty, FunctionCall, Literal, LiteralKind,
    NotClause, Operand, OperandList, Operator, OrderBy, Predicate, PredicateKind, Query, Sort,
    SortDirection, Span, TerminalClause,
};
use crate::error::{Expected, Found, ParseError, ParseErrorKind};
use crate::lexer::{LexError, Token, TokenKind, tokenize};

/// Parses a whole query.
pub(crate) fn parse(src: &str) -> Result<Query> {
    let mut parser = Parser {
        src,
        tokens: tokenize(src),
        pos: 0,
        depth: 0,
    };
    parser.query()
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

/// Which operands an operator accepts, per the alternatives of `jqlTerminalClauseRhs`.
#[derive(Clone, Copy)]
struct Accepts {
    empty: bool,
    value: bool,
    list: bool,
    expected: Expected,
}

const EMPTY_VALUE_OR_FUNCTION: Accepts = Accepts {
    empty: true,
    value: true,
    list: false,
    expected: Expected::ValueOrFunction,
};
const VALUE_OR_FUNCTION: Accepts = Accepts {
    empty: false,
    value: true,
    list: false,
    expected: Expected::ValueOrFunction,
};
const LIST_OR_FUNCTION: Accepts = Accepts {
    empty: false,
    value: false,
    list: true,
    expected: Expected::ListOrFunction,
};
const ANY_OPERAND: Accepts = Accepts {
    empty: true,
    value: true,
    list: true,
    expected: Expected::Operand,
};

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The lexer always ends the list with Eof and `bump` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    fn peek2_kind(&self) -> &TokenKind {
        &self.tokens[(self.pos + 1).min(self.tokens.len() - 1)].kind
    }

    fn at(&self, kind: &TokenKind) -> bool {
        self.peek_kind() == kind
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn expect(&mut self, kind: &TokenKind, expected: Expected) -> Result<Token> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// The error for the current token, given what would have been accepted.
    fn unexpected(&self, expected: Expected) -> ParseError {
        let token = self.peek();
        let offset = token.span.start;
        let kind = match &token.kind {
            TokenKind::Error(error) => match error.clone() {
                LexError::ReservedCharacter(c) => ParseErrorKind::ReservedCharacter(c),
                LexError::IllegalCharacter(c) => ParseErrorKind::IllegalCharacter(c),
                LexError::IllegalEscape(s) => ParseErrorKind::IllegalEscape(s),
                LexError::UnfinishedString(s) => ParseErrorKind::UnfinishedString(s),
            },
            TokenKind::ReservedWord => ParseErrorKind::ReservedWord(token.text.clone()),
            kind if kind.is_keyword() && wants_word(expected) => {
                ParseErrorKind::ReservedWord(token.text.clone())
            }
            _ => ParseErrorKind::Unexpected(expected),
        };
        let found = if token.kind == TokenKind::Eof {
            Found::EndOfQuery
        } else {
            Found::Token(token.text.clone())
        };
        ParseError::new(kind, self.src, offset, found)
    }

    fn enter(&mut self) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            let token = self.peek();
            return Err(ParseError::new(
                ParseErrorKind::TooDeep,
                self.src,
                token.span.start,
                Found::Token(token.text.clone()),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn query(&mut self) -> Result<Query> {
        let clause = match self.peek_kind() {
            TokenKind::Eof | TokenKind::Order => None,
            _ => Some(self.or_clause()?),
        };
        let order_by = if self.at(&TokenKind::Order) {
            Some(self.order_by()?)
        } else {
            None
        };
        if !self.at(&TokenKind::Eof) {
            return Err(self.unexpected(if order_by.is_some() {
                Expected::Comma
            } else {
                Expected::LogicalOperator
            }));
        }
        Ok(Query {
            clause,
            order_by,
            span: Span::new(0, self.src.len()),
        })
    }

    fn or_clause(&mut self) -> Result<Clause> {
        let first = self.and_clause()?;
        if !self.at(&TokenKind::Or) {
            return Ok(first);
        }
        let mut clauses = vec![first];
        while self.at(&TokenKind::Or) {
            self.bump();
            clauses.push(self.and_clause()?);
        }
        Ok(Clause::Or(compound(clauses)))
    }

    fn and_clause(&mut self) -> Result<Clause> {
        let first = self.not_clause()?;
        if !self.at(&TokenKind::And) {
            return Ok(first);
        }
        let mut clauses = vec![first];
        while self.at(&TokenKind::And) {
            self.bump();
            clauses.push(self.not_clause()?);
        }
        Ok(Clause::And(compound(clauses)))
    }

    fn not_clause(&mut self) -> Result<Clause> {
        match self.peek_kind() {
            TokenKind::Not | TokenKind::Bang => {
                let start = self.bump().span;
                self.enter()?;
                let inner = self.not_clause()?;
                self.leave();
                let span = start.to(inner.span());
                Ok(Clause::Not(NotClause {
                    clause: Box::new(inner),
                    span,
                }))
            }
            TokenKind::LParen => {
                let start = self.bump().span;
                self.enter()?;
                let mut inner = self.or_clause()?;
                self.leave();
                let end = self.expect(&TokenKind::RParen, Expected::CloseParen)?.span;
                *inner.span_mut() = start.to(end);
                Ok(inner)
            }
            _ => self.terminal_clause().map(Clause::Terminal),
        }
    }

    fn terminal_clause(&mut self) -> Result<TerminalClause> {
        let field = self.field()?;
        let op_token = self.peek().clone();
        let (operator, accepts) = match op_token.kind {
            TokenKind::Eq => (Operator::Equals, Some(EMPTY_VALUE_OR_FUNCTION)),
            TokenKind::NotEq => (Operator::NotEquals, Some(EMPTY_VALUE_OR_FUNCTION)),
            TokenKind::Like => (Operator::Like, Some(EMPTY_VALUE_OR_FUNCTION)),
            TokenKind::NotLike => (Operator::NotLike, Some(EMPTY_VALUE_OR_FUNCTION)),
            TokenKind::Lt => (Operator::LessThan, Some(VALUE_OR_FUNCTION)),
            TokenKind::Gt => (Operator::GreaterThan, Some(VALUE_OR_FUNCTION)),
            TokenKind::LtEq => (Operator::LessThanEquals, Some(VALUE_OR_FUNCTION)),
            TokenKind::GtEq => (Operator::GreaterThanEquals, Some(VALUE_OR_FUNCTION)),
            TokenKind::In => (Operator::In, Some(LIST_OR_FUNCTION)),
            TokenKind::Not => {
                if self.peek2_kind() != &TokenKind::In {
                    self.bump();
                    return Err(self.unexpected(Expected::In));
                }
                self.bump();
                (Operator::NotIn, Some(LIST_OR_FUNCTION))
            }
            TokenKind::Is => {
                if self.peek2_kind() == &TokenKind::Not {
                    self.bump();
                    (Operator::IsNot, None)
                } else {
                    (Operator::Is, None)
                }
            }
            TokenKind::Was => {
                let negated = self.peek2_kind() == &TokenKind::Not;
                if negated {
                    self.bump();
                }
                if self.peek2_kind() == &TokenKind::In {
                    self.bump();
                    (
                        if negated {
                            Operator::WasNotIn
                        } else {
                            Operator::WasIn
                        },
                        Some(LIST_OR_FUNCTION),
                    )
                } else {
                    (
                        if negated {
                            Operator::WasNot
                        } else {
                            Operator::Was
                        },
                        Some(EMPTY_VALUE_OR_FUNCTION),
                    )
                }
            }
            TokenKind::Changed => (Operator::Changed, None),
            _ => return Err(self.unexpected(Expected::Operator)),
        };
        let mut end = self.bump().span;
        let operand = match (operator, accepts) {
            (Operator::Changed, _) => None,
            (_, Some(accepts)) => Some(self.operand(accepts)?),
            (_, None) => {
                let token = self.expect(&TokenKind::Empty, Expected::Empty)?;
                Some(Operand::Empty(token.span))
            }
        };
        if let Some(operand) = &operand {
            end = operand.span();
        }
        let mut predicates = Vec::new();
        if operator.is_history() {
            while let Some(kind) = self.predicate_kind(operator == Operator::Changed) {
                let start = self.bump().span;
                let operand = self.operand(ANY_OPERAND)?;
                let span = start.to(operand.span());
                end = span;
                predicates.push(Predicate {
                    kind,
                    operand,
                    span,
                });
            }
        }
        let span = field.span.to(end);
        Ok(TerminalClause {
            field,
            operator,
            operand,
            predicates,
            span,
        })
    }

    fn predicate_kind(&self, changed: bool) -> Option<PredicateKind> {
        Some(match self.peek_kind() {
            TokenKind::After => PredicateKind::After,
            TokenKind::Before => PredicateKind::Before,
            TokenKind::On => PredicateKind::On,
            TokenKind::During => PredicateKind::During,
            TokenKind::By => PredicateKind::By,
            TokenKind::From if changed => PredicateKind::From,
            TokenKind::To if changed => PredicateKind::To,
            _ => return None,
        })
    }

    fn field(&mut self) -> Result<Field> {
        let token = self.peek().clone();
        let name = match token.kind {
            TokenKind::PosNumber | TokenKind::NegNumber => {
                self.bump();
                return Ok(Field {
                    name: FieldName::Number(token.text),
                    properties: Vec::new(),
                    span: token.span,
                });
            }
            TokenKind::Word | TokenKind::Quoted => {
                self.bump();
                FieldName::Name(token.text)
            }
            TokenKind::CustomField if self.peek2_kind() == &TokenKind::LBracket => {
                self.bump();
                self.bump();
                let id = self.expect(&TokenKind::PosNumber, Expected::CustomFieldId)?;
                self.expect(&TokenKind::RBracket, Expected::CloseBracket)?;
                FieldName::Custom(id.text)
            }
            TokenKind::CustomField => {
                self.bump();
                return Err(self.unexpected(Expected::OpenBracket));
            }
            _ => return Err(self.unexpected(Expected::Field)),
        };
        let mut properties = Vec::new();
        while self.at(&TokenKind::LBracket) {
            let start = self.bump().span;
            let key = self.argument()?;
            let mut end = self
                .expect(&TokenKind::RBracket, Expected::CloseBracket)?
                .span;
            let mut path = Vec::new();
            while is_argument(self.peek_kind()) {
                let arg = self.argument()?;
                end = arg.span;
                path.push(arg);
            }
            properties.push(FieldProperty {
                key,
                path,
                span: start.to(end),
            });
        }
        let span = properties
            .last()
            .map_or(self.tokens[self.pos - 1].span, |p| p.span);
        Ok(Field {
            name,
            properties,
            span: token.span.to(span),
        })
    }

    /// `jqlArgument : jqlString | jqlNumber`.
    fn argument(&mut self) -> Result<Literal> {
        if is_argument(self.peek_kind()) {
            Ok(literal(self.bump()))
        } else {
            Err(self.unexpected(Expected::Argument))
        }
    }

    fn operand(&mut self, accepts: Accepts) -> Result<Operand> {
        match self.peek_kind() {
            TokenKind::Empty if accepts.empty => Ok(Operand::Empty(self.bump().span)),
            TokenKind::LParen if accepts.list => self.list().map(Operand::List),
            kind if is_argument(kind) => {
                let is_call = self.peek2_kind() == &TokenKind::LParen;
                if !is_call && !accepts.value {
                    return Err(self.unexpected(accepts.expected));
                }
                let name = literal(self.bump());
                if is_call {
                    self.call(name).map(Operand::Function)
                } else {
                    Ok(Operand::Literal(name))
                }
            }
            _ => Err(self.unexpected(accepts.expected)),
        }
    }

    fn call(&mut self, name: Literal) -> Result<FunctionCall> {
        self.bump();
        let mut args = Vec::new();
        if !self.at(&TokenKind::RParen) {
            loop {
                args.push(self.argument()?);
                if !self.at(&TokenKind::Comma) {
                    break;
                }
                self.bump();
            }
        }
        let end = self
            .expect(&TokenKind::RParen, Expected::CommaOrCloseParen)?
            .span;
        let span = name.span.to(end);
        Ok(FunctionCall { name, args, span })
    }

    fn list(&mut self) -> Result<OperandList> {
        let start = self.bump().span;
        self.enter()?;
        let mut items = vec![self.operand(ANY_OPERAND)?];
        while self.at(&TokenKind::Comma) {
            self.bump();
            items.push(self.operand(ANY_OPERAND)?);
        }
        self.leave();
        let end = self
            .expect(&TokenKind::RParen, Expected::CommaOrCloseParen)?
            .span;
        Ok(OperandList {
            items,
            span: start.to(end),
        })
    }

    fn order_by(&mut self) -> Result<OrderBy> {
        let start = self.bump().span;
        self.expect(&TokenKind::By, Expected::By)?;
        let mut sorts = Vec::new();
        loop {
            let field = self.field()?;
            let direction = match self.peek_kind() {
                TokenKind::Asc => Some(SortDirection::Asc),
                TokenKind::Desc => Some(SortDirection::Desc),
                _ => None,
            };
            let mut span = field.span;
            if direction.is_some() {
                span = span.to(self.bump().span);
            } else if !matches!(self.peek_kind(), TokenKind::Comma | TokenKind::Eof) {
                return Err(self.unexpected(Expected::SortDirection));
            }
            sorts.push(Sort {
                field,
                direction,
                span,
            });
            if !self.at(&TokenKind::Comma) {
                break;
            }
            self.bump();
        }
        let end = sorts.last().map_or(start, |s| s.span);
        Ok(OrderBy {
            sorts,
            span: start.to(end),
        })
    }
}

fn compound(clauses: Vec<Clause>) -> CompoundClause {
    let span = match (clauses.first(), clauses.last()) {
        (Some(first), Some(last)) => first.span().to(last.span()),
        _ => Span::default(),
    };
    CompoundClause { clauses, span }
}

fn is_argument(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Word | TokenKind::Quoted | TokenKind::PosNumber | TokenKind::NegNumber
    )
}

fn literal(token: Token) -> Literal {
    let kind = match token.kind {
        TokenKind::PosNumber | TokenKind::NegNumber => LiteralKind::Number,
        _ => LiteralKind::String,
    };
    Literal {
        kind,
        text: token.text,
        span: token.span,
    }
}

/// Whether a keyword found at this point is best explained as a word that needed quoting.
fn wants_word(expected: Expected) -> bool {
    matches!(
        expected,
        Expected::Field
            | Expected::ValueOrFunction
            | Expected::ListOrFunction
            | Expected::Operand
            | Expected::Argument
    )
}
