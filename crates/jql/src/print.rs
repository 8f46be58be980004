//! The canonical printer: `Display` for the syntax tree.
//!
//! Invariants:
//! - Parsing the printed form of any tree gives back the same tree, spans aside: strings are left unquoted only
//!   when they would lex back as the same plain word, nested clauses of equal or lower precedence are
//!   parenthesised, and path arguments after the first are separated by a space.
//! - The output is one line: keywords in upper case, single spaces, strings in double quotes with `\"`, `\\`,
//!   `\t`, `\n`, `\r` and `\uXXXX` escapes for characters the grammar does not allow raw.

use std::fmt::{self, Display, Formatter, Write as _};

use crate::ast::{
    Clause, Field, FieldName, FieldProperty, FunctionCall, Literal, LiteralKind, Operand, OrderBy,
    Predicate, Query, Sort, SortDirection, TerminalClause,
};
use crate::lexer::{TokenKind, classify_word, is_control, is_unquoted_char};

/// Writes `text` so that it lexes back as a string token with exactly this value.
pub(crate) fn write_string(f: &mut impl fmt::Write, text: &str) -> fmt::Result {
    let plain = !text.is_empty()
        && text.chars().all(is_unquoted_char)
        && classify_word(text) == TokenKind::Word;
    if plain {
        return f.write_str(text);
    }
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\t' => f.write_str("\\t")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            c if is_control(c) => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Quotes `text` as JQL would need it as a value or field name: `Story Points` → `"Story Points"`.
#[must_use]
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    // Writing into a String cannot fail.
    let _ = write_string(&mut out, text);
    out
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.kind {
            LiteralKind::Number => f.write_str(&self.text),
            LiteralKind::String => write_string(f, &self.text),
        }
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(clause) = &self.clause {
            clause.fmt(f)?;
            if self.order_by.is_some() {
                f.write_char(' ')?;
            }
        }
        if let Some(order_by) = &self.order_by {
            order_by.fmt(f)?;
        }
        Ok(())
    }
}

/// Binding strength, loosest first, for deciding where parentheses are needed.
fn precedence(clause: &Clause) -> u8 {
    match clause {
        Clause::Or(_) => 0,
        Clause::And(_) => 1,
        Clause::Not(_) => 2,
        Clause::Terminal(_) => 3,
    }
}

fn write_child(f: &mut Formatter<'_>, child: &Clause, parent_precedence: u8) -> fmt::Result {
    if precedence(child) <= parent_precedence {
        write!(f, "({child})")
    } else {
        child.fmt(f)
    }
}

impl Display for Clause {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Or(c) | Self::And(c) => {
                let (own, separator) = if matches!(self, Self::Or(_)) {
                    (0, " OR ")
                } else {
                    (1, " AND ")
                };
                for (i, child) in c.clauses.iter().enumerate() {
                    if i > 0 {
                        f.write_str(separator)?;
                    }
                    write_child(f, child, own)?;
                }
                Ok(())
            }
            Self::Not(c) => {
                f.write_str("NOT ")?;
                // NOT binds tighter than AND/OR, and a NOT inside a NOT needs no parentheses.
                write_child(f, &c.clause, 1)
            }
            Self::Terminal(t) => t.fmt(f),
        }
    }
}

impl Display for TerminalClause {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.operator)?;
        if let Some(operand) = &self.operand {
            write!(f, " {operand}")?;
        }
        for predicate in &self.predicates {
            write!(f, " {predicate}")?;
        }
        Ok(())
    }
}

impl Display for Predicate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.operand)
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.name {
            FieldName::Name(name) => write_string(f, name)?,
            FieldName::Number(digits) => f.write_str(digits)?,
            FieldName::Custom(digits) => write!(f, "cf[{digits}]")?,
        }
        for property in &self.properties {
            property.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for FieldProperty {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.key)?;
        for (i, arg) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            arg.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for Operand {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty(_) => f.write_str("EMPTY"),
            Self::Literal(l) => l.fmt(f),
            Self::Function(call) => call.fmt(f),
            Self::List(list) => {
                f.write_char('(')?;
                for (i, item) in list.items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    item.fmt(f)?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for FunctionCall {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            arg.fmt(f)?;
        }
        f.write_char(')')
    }
}

impl Display for OrderBy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("ORDER BY ")?;
        for (i, sort) in self.sorts.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            sort.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for Sort {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.field.fmt(f)?;
        match self.direction {
            Some(SortDirection::Asc) => f.write_str(" ASC"),
            Some(SortDirection::Desc) => f.write_str(" DESC"),
            None => Ok(()),
        }
    }
}
