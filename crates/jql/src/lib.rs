//! JQL: lexer, parser, canonical printer and local evaluator, shared by the simulator (which answers searches)
//! and by arbor (which checks JQL typed into dialogs and filters cached issues without asking Jira).
//!
//! - [`parse`] follows Atlassian's grammar (`JQLLexer.g4`/`JQLParser.g4`) to the letter and reports errors the way
//!   Jira words them; the [`ast`] keeps a span on every node; `Display` prints canonical JQL that parses back to
//!   the same tree.
//! - [`eval`] compiles a query once against a [`eval::FieldCatalog`] into a [`eval::Matcher`] that tests many
//!   issues through the [`eval::IssueView`] trait, and says why a query cannot be evaluated locally when it cannot.
//!
//! Invariants: no input makes the parser panic or recurse deeper than [`MAX_DEPTH`]; parsing is linear in the
//! length of the query.
#![forbid(unsafe_code)]

pub mod ast;
mod error;
pub mod eval;
mod lexer;
mod parser;
mod print;

pub use ast::Query;
pub use error::{Expected, Found, ParseError, ParseErrorKind};
pub use print::quote;

/// How deeply parentheses, `NOT`s and lists may nest. Real queries stay far below; the bound keeps the
/// recursive parser, the printer and the evaluator off the end of the stack.
pub const MAX_DEPTH: usize = 100;

/// Parses a JQL query.
///
/// # Errors
/// A [`ParseError`] naming the position, what was found and what was expected, for any text that is not a query
/// of the grammar.
pub fn parse(jql: &str) -> Result<Query, ParseError> {
    parser::parse(jql)
}

impl std::str::FromStr for Query {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}
