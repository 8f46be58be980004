//! Parse errors, worded like Jira's own messages.
//!
//! Invariant: a [`ParseError`] always names where it happened (byte offset, 1-based line, 1-based column in
//! characters) and what was found there; its `Display` is the message Jira would show, starting with
//! `Error in the JQL Query:`. Errors at the end of the query say "before the end of the query" and give no position
//! in the text, as Jira does.

use std::fmt;

/// What the parser met where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A token, as written (strings with their escapes resolved).
    Token(String),
    /// The end of the query.
    EndOfQuery,
}

/// What the parser would have accepted where it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A field name, `NOT` or `(` at the start of a clause.
    Field,
    /// One of the clause operators.
    Operator,
    /// A value or a function (after `=`, `!=`, `~`, `!~`, `<`, `>`, `<=`, `>=` and `WAS [NOT]`).
    ValueOrFunction,
    /// A list or a function (after `IN`, `NOT IN` and `WAS [NOT] IN`).
    ListOrFunction,
    /// A value, list or function (inside lists and after history predicates).
    Operand,
    /// `EMPTY` or `NULL` (after `IS [NOT]`).
    Empty,
    /// `IN` (after `NOT` or `WAS NOT`, when an operator was being read).
    In,
    /// `AND` or `OR` between clauses.
    LogicalOperator,
    /// `)` closing a parenthesised clause.
    CloseParen,
    /// `,` or `)` inside a list or an argument list.
    CommaOrCloseParen,
    /// A string or number argument of a function or of a field property.
    Argument,
    /// `]` closing a field property or custom field.
    CloseBracket,
    /// `[` after `cf`.
    OpenBracket,
    /// The digits of a custom field id.
    CustomFieldId,
    /// `BY` after `ORDER`.
    By,
    /// `ASC`, `DESC` or `,` after a sort field.
    SortDirection,
    /// `,` after a sort direction.
    Comma,
}

impl Expected {
    fn describe(self) -> &'static str {
        match self {
            Self::Field => "a field name",
            Self::Operator => "operator",
            Self::ValueOrFunction => "either a value or function",
            Self::ListOrFunction => "either a list or function",
            Self::Operand => "either a value, list or function",
            Self::Empty => "'EMPTY'",
            Self::In => "'IN'",
            Self::LogicalOperator => "either 'OR' or 'AND'",
            Self::CloseParen => "')'",
            Self::CommaOrCloseParen => "either ',' or ')'",
            Self::Argument => "a value",
            Self::CloseBracket => "']'",
            Self::OpenBracket => "'['",
            Self::CustomFieldId => "a custom field id",
            Self::By => "'BY'",
            Self::SortDirection => "either 'ASC', 'DESC' or ','",
            Self::Comma => "','",
        }
    }
}

/// The kind of a parse error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The grammar did not allow the token found.
    Unexpected(Expected),
    /// A keyword or reserved word stood where a value or field name belongs.
    ReservedWord(String),
    /// One of `{ } * / % + ^ $ # @ ? ;` outside a string.
    ReservedCharacter(char),
    /// A character JQL does not allow at all.
    IllegalCharacter(char),
    /// A backslash sequence that is not an escape.
    IllegalEscape(String),
    /// A quoted string without its closing quote; holds what was read.
    UnfinishedString(String),
    /// Parentheses, `NOT`s or lists nested deeper than [`crate::MAX_DEPTH`].
    TooDeep,
}

/// A query that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// Byte offset into the query.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub found: Found,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, src: &str, offset: usize, found: Found) -> Self {
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self {
            kind,
            offset,
            line,
            column,
            found,
        }
    }

    /// What the parser would have accepted, when the error is about grammar rather than characters.
    #[must_use]
    pub fn expected(&self) -> Option<Expected> {
        match self.kind {
            ParseErrorKind::Unexpected(expected) => Some(expected),
            _ => None,
        }
    }

    /// The message without the `Error in the JQL Query:` prefix and without the position.
    #[must_use]
    pub fn reason(&self) -> String {
        let found = match &self.found {
            Found::Token(text) => Some(text.as_str()),
            Found::EndOfQuery => None,
        };
        match (&self.kind, found) {
            (ParseErrorKind::Unexpected(Expected::Operator), Some(found)) => {
                format!("Expecting operator but got '{found}'. {VALID_OPERATORS}")
            }
            (ParseErrorKind::Unexpected(Expected::Operator), None) => {
                format!("Expecting operator before the end of the query. {VALID_OPERATORS}")
            }
            (ParseErrorKind::Unexpected(expected), Some(found)) => {
                format!("Expecting {} but got '{found}'.", expected.describe())
            }
            (ParseErrorKind::Unexpected(expected), None) => {
                format!(
                    "Expecting {} before the end of the query.",
                    expected.describe()
                )
            }
            (ParseErrorKind::ReservedWord(word), _) => {
                format!(
                    "'{word}' is a reserved JQL word. You must surround it in quotation marks to use it in a query."
                )
            }
            (ParseErrorKind::ReservedCharacter(c), _) => format!(
                "The character '{c}' is a reserved JQL character. You must enclose it in a string or use the \
                 escape '\\u{:04x}' instead.",
                u32::from(*c)
            ),
            (ParseErrorKind::IllegalCharacter(c), _) => {
                format!(
                    "The character '\\u{:04x}' is not allowed in a JQL query.",
                    u32::from(*c)
                )
            }
            (ParseErrorKind::IllegalEscape(sequence), _) => {
                format!("The escape sequence '{sequence}' in the JQL query is not valid.")
            }
            (ParseErrorKind::UnfinishedString(text), _) => {
                format!("The quoted string '{text}' has not been completed.")
            }
            (ParseErrorKind::TooDeep, _) => format!(
                "The query nests parentheses, 'NOT's or lists more than {} levels deep.",
                crate::MAX_DEPTH
            ),
        }
    }
}

const VALID_OPERATORS: &str = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'.";

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error in the JQL Query: {}", self.reason())?;
        let at_end =
            matches!(self.kind, ParseErrorKind::Unexpected(_)) && self.found == Found::EndOfQuery;
        if !at_end {
            write!(f, " (line {}, character {})", self.line, self.column)?;
        }
        Ok(())
    }
}
