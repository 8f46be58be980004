//! Errors of every phase (syntax, check, evaluation), all pointing at a place in the source.
//!
//! Positions are byte spans internally and 1-based line and column (counted in characters) in what
//! people see, so an editor can underline the exact spot.

use std::fmt;

/// A half-open byte range `start..end` in the formula source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    pub(crate) fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// Which phase found the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not a formula: unexpected character or token, missing bracket, unterminated string.
    Syntax,
    /// The formula parses but cannot mean anything: unknown function, wrong number or type of arguments.
    Check,
    /// A value met an operation it does not support while evaluating a row.
    Runtime,
    /// A safety bound was hit: nesting depth, formula length or evaluation steps.
    Limit,
}

/// A formula error with its position. `Display` gives the sentence shown to people, e.g.
/// "Unknown function 'SUMM' at line 2, column 5 — did you mean 'SUM'?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormulaError {
    pub kind: ErrorKind,
    /// What is wrong, without the position.
    pub message: String,
    /// An optional suggestion, shown after the position.
    pub hint: Option<String>,
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column of `span.start`, in characters.
    pub column: usize,
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.message, self.line, self.column
        )?;
        if let Some(hint) = &self.hint {
            write!(f, " — {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FormulaError {}

/// An error before its line and column are known; turned into a [`FormulaError`] with the source at hand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    pub span: Span,
}

impl RawError {
    pub(crate) fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            span,
        }
    }

    /// An error from a value-level message such as "unknown unit 'x'; use years, ...": the part after the
    /// first "; " becomes the hint, so it is shown after the position.
    pub(crate) fn from_message(kind: ErrorKind, span: Span, message: &str) -> Self {
        let message = capitalize(message);
        match message.split_once("; ") {
            Some((head, hint)) => Self::new(kind, span, head).with_hint(hint),
            None => Self::new(kind, span, message),
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn locate(self, source: &str) -> FormulaError {
        let (line, column) = line_column(source, self.span.start);
        FormulaError {
            kind: self.kind,
            message: self.message,
            hint: self.hint,
            span: self.span,
            line,
            column,
        }
    }
}

/// 1-based line and character column of a byte offset (clamped to the source).
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for (i, c) in source.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
