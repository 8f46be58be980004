//! Turns JQL text into tokens, following the lexer rules of Atlassian's grammar.
//!
//! Invariants:
//! - Longest match wins, and on equal length the earlier rule wins, as in ANTLR: `and` is the keyword, `andy` a
//!   word, `select` a reserved word, `123` a number, `123abc` and `-5d` words, `cf` the custom-field prefix.
//! - A word that contains an escape is always a plain string: no keyword, number or reserved word contains `\`.
//! - Lexical errors do not stop the lexer at once: they become [`TokenKind::Error`] tokens, which the parser never
//!   accepts, so the first error in reading order is the one reported, whether lexical or grammatical.
//! - The token list always ends with exactly one [`TokenKind::Eof`] (an error token may precede it).

use crate::ast::Span;

/// What went wrong while reading characters, before any grammar applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LexError {
    /// One of `{ } * / % + ^ $ # @ ? ;` outside a string.
    ReservedCharacter(char),
    /// A control or non-character code point where the grammar allows none.
    IllegalCharacter(char),
    /// A backslash not followed by `t n r " ' \ space` or `u` and four hex digits.
    IllegalEscape(String),
    /// A quoted string that reaches the end of the query; carries what was read of it.
    UnfinishedString(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    LParen,
    RParen,
    Comma,
    LBracket,
    RBracket,
    Bang,
    Lt,
    Gt,
    LtEq,
    GtEq,
    Eq,
    NotEq,
    Like,
    NotLike,
    In,
    Is,
    And,
    Or,
    Not,
    Empty,
    Was,
    Changed,
    Before,
    After,
    From,
    To,
    On,
    During,
    Order,
    By,
    Asc,
    Desc,
    PosNumber,
    NegNumber,
    CustomField,
    ReservedWord,
    /// An unquoted word; `text` holds it with escapes resolved.
    Word,
    /// A single- or double-quoted string; `text` holds its content with escapes resolved.
    Quoted,
    Error(LexError),
    Eof,
}

impl TokenKind {
    /// Words the grammar gives a meaning of their own, so that they cannot serve as values or field names unquoted.
    pub(crate) fn is_keyword(&self) -> bool {
        matches!(
            self,
            Self::In
                | Self::Is
                | Self::And
                | Self::Or
                | Self::Not
                | Self::Empty
                | Self::Was
                | Self::Changed
                | Self::Before
                | Self::After
                | Self::From
                | Self::To
                | Self::On
                | Self::During
                | Self::Order
                | Self::By
                | Self::Asc
                | Self::Desc
                | Self::CustomField
                | Self::ReservedWord
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) span: Span,
    /// The decoded value for words and quoted strings, the source text otherwise.
    pub(crate) text: String,
}

/// Reserved words from the grammar's `RESERVED_WORD` rule (words that are tokens of their own are not repeated).
pub(crate) const RESERVED_WORDS: &[&str] = &[
    "abort",
    "access",
    "add",
    "alias",
    "alter",
    "any",
    "as",
    "audit",
    "avg",
    "begin",
    "between",
    "boolean",
    "break",
    "byte",
    "catch",
    "char",
    "character",
    "check",
    "checkpoint",
    "collate",
    "collation",
    "column",
    "commit",
    "connect",
    "continue",
    "count",
    "create",
    "current",
    "date",
    "decimal",
    "declare",
    "decrement",
    "default",
    "defaults",
    "define",
    "delete",
    "delimiter",
    "difference",
    "distinct",
    "divide",
    "do",
    "double",
    "drop",
    "else",
    "encoding",
    "end",
    "equals",
    "escape",
    "exclusive",
    "exec",
    "execute",
    "exists",
    "explain",
    "false",
    "fetch",
    "field",
    "file",
    "first",
    "float",
    "for",
    "function",
    "go",
    "goto",
    "grant",
    "greater",
    "group",
    "having",
    "identified",
    "if",
    "immediate",
    "increment",
    "index",
    "initial",
    "inner",
    "inout",
    "input",
    "insert",
    "int",
    "integer",
    "intersect",
    "intersection",
    "into",
    "isempty",
    "isnull",
    "join",
    "last",
    "left",
    "less",
    "like",
    "limit",
    "lock",
    "long",
    "max",
    "min",
    "minus",
    "mode",
    "modify",
    "modulo",
    "more",
    "multiply",
    "next",
    "noaudit",
    "notin",
    "nowait",
    "number",
    "object",
    "of",
    "option",
    "outer",
    "output",
    "power",
    "previous",
    "prior",
    "privileges",
    "public",
    "raise",
    "raw",
    "remainder",
    "rename",
    "resource",
    "return",
    "returns",
    "revoke",
    "right",
    "row",
    "rowid",
    "rownum",
    "rows",
    "select",
    "session",
    "set",
    "share",
    "size",
    "sqrt",
    "start",
    "strict",
    "string",
    "subtract",
    "sum",
    "synonym",
    "table",
    "then",
    "trans",
    "transaction",
    "trigger",
    "true",
    "uid",
    "union",
    "unique",
    "update",
    "user",
    "validate",
    "values",
    "view",
    "when",
    "whenever",
    "where",
    "while",
    "with",
];

/// The keyword a bare word stands for, if any (case-insensitive).
fn keyword(word: &str) -> Option<TokenKind> {
    // Every keyword and reserved word is short ASCII; anything else is a plain word without allocating.
    if word.len() > 12 || !word.is_ascii() {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let kind = match lower.as_str() {
        "in" => TokenKind::In,
        "is" => TokenKind::Is,
        "and" => TokenKind::And,
        "or" => TokenKind::Or,
        "not" => TokenKind::Not,
        "empty" | "null" => TokenKind::Empty,
        "was" => TokenKind::Was,
        "changed" => TokenKind::Changed,
        "before" => TokenKind::Before,
        "after" => TokenKind::After,
        "from" => TokenKind::From,
        "to" => TokenKind::To,
        "on" => TokenKind::On,
        "during" => TokenKind::During,
        "order" => TokenKind::Order,
        "by" => TokenKind::By,
        "asc" => TokenKind::Asc,
        "desc" => TokenKind::Desc,
        "cf" => TokenKind::CustomField,
        other if RESERVED_WORDS.binary_search(&other).is_ok() => TokenKind::ReservedWord,
        _ => return None,
    };
    Some(kind)
}

/// The kind a bare word (no escapes) lexes as: keyword, number or plain word.
pub(crate) fn classify_word(word: &str) -> TokenKind {
    if let Some(kind) = keyword(word) {
        return kind;
    }
    let digits = word.strip_prefix('-').unwrap_or(word);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() == word.len() {
            TokenKind::PosNumber
        } else {
            TokenKind::NegNumber
        }
    } else {
        TokenKind::Word
    }
}

/// Code points the grammar treats as control characters (`JqlStringSupportImpl.isJqlControlCharacter`).
pub(crate) fn is_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{9}' | '\u{b}'..='\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{fdd0}'..='\u{fdef}' | '\u{fffe}'..='\u{ffff}')
}

/// Characters reserved for future use; they must be quoted or escaped.
pub(crate) fn is_reserved_char(c: char) -> bool {
    matches!(
        c,
        '{' | '}' | '*' | '/' | '%' | '+' | '^' | '$' | '#' | '@' | '?' | ';'
    )
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Whether `c` may appear in an unquoted word without an escape.
pub(crate) fn is_unquoted_char(c: char) -> bool {
    !(c == '\\'
        || is_whitespace(c)
        || is_control(c)
        || is_reserved_char(c)
        || matches!(
            c,
            '"' | '\'' | '=' | '!' | '<' | '>' | '(' | ')' | '~' | ',' | '[' | ']' | '|' | '&'
        ))
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    tokens: Vec<Token>,
}

/// Splits `src` into tokens; never fails, errors become [`TokenKind::Error`] tokens.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        src,
        pos: 0,
        tokens: Vec::new(),
    };
    lexer.run();
    lexer.tokens
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, byte_offset: usize) -> Option<char> {
        self.src
            .get(self.pos + byte_offset..)
            .and_then(|s| s.chars().next())
    }

    fn push(&mut self, kind: TokenKind, start: usize, text: String) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
            text,
        });
    }

    fn push_symbol(&mut self, kind: TokenKind, len: usize) {
        let start = self.pos;
        self.pos += len;
        let text = self.src[start..self.pos].to_owned();
        self.push(kind, start, text);
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            if is_whitespace(c) {
                self.pos += 1;
                continue;
            }
            let next = self.peek_at(c.len_utf8());
            match c {
                '(' => self.push_symbol(TokenKind::LParen, 1),
                ')' => self.push_symbol(TokenKind::RParen, 1),
                ',' => self.push_symbol(TokenKind::Comma, 1),
                '[' => self.push_symbol(TokenKind::LBracket, 1),
                ']' => self.push_symbol(TokenKind::RBracket, 1),
                '=' => self.push_symbol(TokenKind::Eq, 1),
                '~' => self.push_symbol(TokenKind::Like, 1),
                '!' => match next {
                    Some('=') => self.push_symbol(TokenKind::NotEq, 2),
                    Some('~') => self.push_symbol(TokenKind::NotLike, 2),
                    _ => self.push_symbol(TokenKind::Bang, 1),
                },
                '<' if next == Some('=') => self.push_symbol(TokenKind::LtEq, 2),
                '<' => self.push_symbol(TokenKind::Lt, 1),
                '>' if next == Some('=') => self.push_symbol(TokenKind::GtEq, 2),
                '>' => self.push_symbol(TokenKind::Gt, 1),
                '&' if next == Some('&') => self.push_symbol(TokenKind::And, 2),
                '&' => self.push_symbol(TokenKind::And, 1),
                '|' if next == Some('|') => self.push_symbol(TokenKind::Or, 2),
                '|' => self.push_symbol(TokenKind::Or, 1),
                '"' | '\'' => {
                    if !self.quoted(c) {
                        return;
                    }
                }
                c if is_reserved_char(c) => {
                    self.error(LexError::ReservedCharacter(c), c.len_utf8());
                }
                c if is_control(c) => self.error(LexError::IllegalCharacter(c), c.len_utf8()),
                _ => {
                    if !self.word() {
                        return;
                    }
                }
            }
        }
        self.push(TokenKind::Eof, self.pos, String::new());
    }

    /// Records a lexical error covering `len` bytes and carries on after it.
    fn error(&mut self, error: LexError, len: usize) {
        let start = self.pos;
        self.pos += len;
        let text = self.src[start..self.pos].to_owned();
        self.push(TokenKind::Error(error), start, text);
    }

    /// Reads an escape sequence at `self.pos` (which holds a backslash). On success returns the character and
    /// advances; on failure records an error token and returns `None`.
    fn escape(&mut self) -> Option<char> {
        let start = self.pos;
        let rest = &self.src[start + 1..];
        let mut chars = rest.chars();
        let simple = match chars.next() {
            Some('t') => Some('\t'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some(c @ ('"' | '\'' | '\\' | ' ')) => Some(c),
            Some('u') => None,
            other => {
                let len = 1 + other.map_or(0, char::len_utf8);
                self.error(
                    LexError::IllegalEscape(self.src[start..start + len].to_owned()),
                    len,
                );
                return None;
            }
        };
        if let Some(c) = simple {
            self.pos += 2;
            return Some(c);
        }
        let Some(unit) = hex4(rest.get(1..5)) else {
            // Report `\u` and whatever hex digits follow it, as Jira shows the sequence it could not read.
            let hex_len = rest[1..]
                .chars()
                .take(4)
                .take_while(char::is_ascii_hexdigit)
                .count();
            let len = 2 + hex_len;
            self.error(
                LexError::IllegalEscape(self.src[start..start + len].to_owned()),
                len,
            );
            return None;
        };
        self.pos += 6;
        if (0xD800..0xDC00).contains(&unit) {
            // A high surrogate: Java would keep it as half of a pair; Rust strings need the whole pair.
            if self.src[self.pos..].starts_with("\\u")
                && let Some(low) = hex4(self.src.get(self.pos + 2..self.pos + 6))
                && (0xDC00..0xE000).contains(&low)
            {
                self.pos += 6;
                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Some(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            return Some(char::REPLACEMENT_CHARACTER);
        }
        Some(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// Reads a maximal unquoted word. Returns false when an error token ended lexing.
    fn word(&mut self) -> bool {
        let start = self.pos;
        let mut text = String::new();
        let mut escaped = false;
        while let Some(c) = self.peek() {
            if c == '\\' {
                match self.escape() {
                    Some(decoded) => {
                        text.push(decoded);
                        escaped = true;
                    }
                    None => {
                        // The error token is already recorded; the word read so far goes in front of it.
                        if let Some(err) = self.tokens.pop() {
                            if err.span.start > start {
                                let kind = if escaped {
                                    TokenKind::Word
                                } else {
                                    classify_word(&text)
                                };
                                self.tokens.push(Token {
                                    kind,
                                    span: Span::new(start, err.span.start),
                                    text,
                                });
                            }
                            self.tokens.push(err);
                        }
                        return true;
                    }
                }
            } else if is_unquoted_char(c) {
                text.push(c);
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        let kind = if escaped {
            TokenKind::Word
        } else {
            classify_word(&text)
        };
        self.push(kind, start, text);
        true
    }

    /// Reads a string quoted with `quote`. Returns false when the string is unfinished (lexing ends).
    fn quoted(&mut self, quote: char) -> bool {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                let err = LexError::UnfinishedString(text);
                self.pos = start;
                self.error(err, self.src.len() - start);
                self.push(TokenKind::Eof, self.pos, String::new());
                return false;
            };
            if c == quote {
                self.pos += 1;
                self.push(TokenKind::Quoted, start, text);
                return true;
            }
            if c == '\\' {
                match self.escape() {
                    Some(decoded) => text.push(decoded),
                    // The rest of the string is skipped: the parser stops at the error token anyway.
                    None => return self.skip_rest_of_string(quote),
                }
            } else if is_control(c) {
                self.error(LexError::IllegalCharacter(c), c.len_utf8());
                return self.skip_rest_of_string(quote);
            } else {
                text.push(c);
                self.pos += c.len_utf8();
            }
        }
    }

    /// After an error inside a string, moves past its closing quote so that lexing stays in step.
    fn skip_rest_of_string(&mut self, quote: char) -> bool {
        while let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            if c == '\\' {
                if let Some(n) = self.peek() {
                    self.pos += n.len_utf8();
                }
            } else if c == quote {
                return true;
            }
        }
        true
    }
}

fn hex4(s: Option<&str>) -> Option<u32> {
    let s = s?;
    if s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        let mut sorted = RESERVED_WORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, RESERVED_WORDS);
    }

    #[test]
    fn longest_match_decides_between_keywords_and_words() {
        use TokenKind::*;
        assert_eq!(kinds("and andy AND oR"), vec![And, Word, And, Or, Eof]);
        assert_eq!(kinds("select selected"), vec![ReservedWord, Word, Eof]);
        assert_eq!(
            kinds("123 -5 123abc -5d - --5"),
            vec![PosNumber, NegNumber, Word, Word, Word, Word, Eof]
        );
        assert_eq!(
            kinds("cf CF cfx cf[1]"),
            vec![
                CustomField,
                CustomField,
                Word,
                CustomField,
                LBracket,
                PosNumber,
                RBracket,
                Eof
            ]
        );
        assert_eq!(kinds("null EMPTY"), vec![Empty, Empty, Eof]);
    }

    #[test]
    fn operators_and_aliases() {
        use TokenKind::*;
        assert_eq!(
            kinds("= != ~ !~ < > <= >= ! & && | || &&&"),
            vec![
                Eq, NotEq, Like, NotLike, Lt, Gt, LtEq, GtEq, Bang, And, And, Or, Or, And, And, Eof
            ]
        );
        assert_eq!(kinds("a&b"), vec![Word, And, Word, Eof]);
    }

    #[test]
    fn escapes_in_words_and_strings() {
        let tokens = tokenize(r#"a\ b "x\"y\u0041\n" 'it\'s' an\d"#);
        assert_eq!(tokens[0].text, "a b");
        assert_eq!(tokens[0].kind, TokenKind::Word);
        assert_eq!(tokens[1].text, "x\"yA\n");
        assert_eq!(tokens[2].text, "it's");
        assert_eq!(tokens[3].kind, TokenKind::Word);
        assert_eq!(tokens[3].text, "an");
        assert_eq!(
            tokens[4].kind,
            TokenKind::Error(LexError::IllegalEscape("\\d".into()))
        );
        assert_eq!(kinds(r"o\r"), vec![TokenKind::Word, TokenKind::Eof]);
    }

    #[test]
    fn surrogate_pairs_are_joined() {
        let tokens = tokenize(r#""\ud83d\ude00" "\ud83d""#);
        assert_eq!(tokens[0].text, "😀");
        assert_eq!(tokens[1].text, "\u{fffd}");
    }

    #[test]
    fn lexical_errors() {
        assert_eq!(
            kinds("%")[0],
            TokenKind::Error(LexError::ReservedCharacter('%'))
        );
        assert_eq!(
            kinds("\u{1}")[0],
            TokenKind::Error(LexError::IllegalCharacter('\u{1}'))
        );
        assert_eq!(
            kinds("a\\q")[1],
            TokenKind::Error(LexError::IllegalEscape("\\q".into()))
        );
        assert_eq!(
            kinds("\"ab")[0],
            TokenKind::Error(LexError::UnfinishedString("ab".into()))
        );
        assert_eq!(
            kinds("'a\tb'")[0],
            TokenKind::Error(LexError::IllegalCharacter('\t'))
        );
        assert_eq!(
            kinds("\\u12")[0],
            TokenKind::Error(LexError::IllegalEscape("\\u12".into()))
        );
    }
}
