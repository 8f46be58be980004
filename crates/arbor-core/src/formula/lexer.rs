//! Source text → tokens with byte spans. Comments and whitespace disappear here.

use super::error::{ErrorKind, RawError, Span};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Number(f64),
    Str(String),
    /// A bare word: variable, function, keyword. Case is kept; the parser decides.
    Ident(String),
    /// A `` `quoted name` ``: always a variable.
    Quoted(String),
    Hash,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Colon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    AndAnd,
    OrOr,
    Bang,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

impl Tok {
    /// How a token is named in "Unexpected ..." messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Number(_) => "number".to_owned(),
            Tok::Str(_) => "text".to_owned(),
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Quoted(s) => format!("`{s}`"),
            Tok::Eof => "end of formula".to_owned(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Hash => "#",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Amp => "&",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            _ => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, RawError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            match src[i + 2..].find("*/") {
                Some(end) => i = i + 2 + end + 2,
                None => {
                    return Err(RawError::new(
                        ErrorKind::Syntax,
                        Span::new(i, i + 2),
                        "Unterminated comment",
                    )
                    .with_hint("close it with */"));
                }
            }
            continue;
        }
        let single = |tok: Tok| (tok, 1usize);
        let two = |tok: Tok| (tok, 2usize);
        let next = bytes.get(i + 1).copied();
        let simple = match (c, next) {
            (b'&', Some(b'&')) => Some(two(Tok::AndAnd)),
            (b'|', Some(b'|')) => Some(two(Tok::OrOr)),
            (b'!', Some(b'=')) | (b'<', Some(b'>')) => Some(two(Tok::Ne)),
            (b'=', Some(b'=')) => Some(two(Tok::Eq)),
            (b'<', Some(b'=')) => Some(two(Tok::Le)),
            (b'>', Some(b'=')) => Some(two(Tok::Ge)),
            (b'#', _) => Some(single(Tok::Hash)),
            (b'{', _) => Some(single(Tok::LBrace)),
            (b'}', _) => Some(single(Tok::RBrace)),
            (b'(', _) => Some(single(Tok::LParen)),
            (b')', _) => Some(single(Tok::RParen)),
            (b',', _) => Some(single(Tok::Comma)),
            (b':', _) => Some(single(Tok::Colon)),
            (b'+', _) => Some(single(Tok::Plus)),
            (b'-', _) => Some(single(Tok::Minus)),
            (b'*', _) => Some(single(Tok::Star)),
            (b'/', _) => Some(single(Tok::Slash)),
            (b'%', _) => Some(single(Tok::Percent)),
            (b'&', _) => Some(single(Tok::Amp)),
            (b'!', _) => Some(single(Tok::Bang)),
            (b'=', _) => Some(single(Tok::Eq)),
            (b'<', _) => Some(single(Tok::Lt)),
            (b'>', _) => Some(single(Tok::Gt)),
            _ => None,
        };
        if let Some((tok, len)) = simple {
            i += len;
            out.push(Token {
                tok,
                span: Span::new(start, i),
            });
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && next.is_some_and(|n| n.is_ascii_digit())) {
            i = scan_number(bytes, i);
            let text = &src[start..i];
            let n = text
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| {
                    RawError::new(
                        ErrorKind::Syntax,
                        Span::new(start, i),
                        format!("Invalid number '{text}'"),
                    )
                })?;
            out.push(Token {
                tok: Tok::Number(n),
                span: Span::new(start, i),
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(src[start..i].to_owned()),
                span: Span::new(start, i),
            });
            continue;
        }
        if c == b'"' || c == b'\'' {
            let (text, end) = scan_string(src, i)?;
            i = end;
            out.push(Token {
                tok: Tok::Str(text),
                span: Span::new(start, i),
            });
            continue;
        }
        if c == b'`' {
            let Some(len) = src[i + 1..].find('`') else {
                return Err(RawError::new(
                    ErrorKind::Syntax,
                    Span::new(i, i + 1),
                    "Unterminated quoted name",
                )
                .with_hint("close it with `"));
            };
            let name = src[i + 1..i + 1 + len].trim().to_owned();
            i = i + 1 + len + 1;
            if name.is_empty() {
                return Err(RawError::new(
                    ErrorKind::Syntax,
                    Span::new(start, i),
                    "Empty quoted name",
                ));
            }
            out.push(Token {
                tok: Tok::Quoted(name),
                span: Span::new(start, i),
            });
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or('?');
        return Err(RawError::new(
            ErrorKind::Syntax,
            Span::new(i, i + ch.len_utf8()),
            format!("Unexpected character '{ch}'"),
        ));
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(src.len(), src.len()),
    });
    Ok(out)
}

fn scan_number(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}

/// A string in `"..."` or `'...'` starting at `start`; returns its text and the offset after it.
fn scan_string(src: &str, start: usize) -> Result<(String, usize), RawError> {
    let mut chars = src[start..].char_indices();
    let (_, quote) = chars.next().unwrap_or((0, '"'));
    let mut text = String::new();
    while let Some((off, c)) = chars.next() {
        let at = start + off;
        if c == quote {
            return Ok((text, at + 1));
        }
        if c == '\\' {
            let Some((eoff, e)) = chars.next() else { break };
            let unescaped = match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' | '"' | '\'' => e,
                other => {
                    return Err(RawError::new(
                        ErrorKind::Syntax,
                        Span::new(at, start + eoff + other.len_utf8()),
                        format!("Unknown escape '\\{other}'"),
                    )
                    .with_hint("use \\\\, \\\", \\', \\n, \\t or \\r"));
                }
            };
            text.push(unescaped);
        } else {
            text.push(c);
        }
    }
    Err(RawError::new(
        ErrorKind::Syntax,
        Span::new(start, start + 1),
        "Unterminated text",
    )
    .with_hint(format!("close it with {quote}")))
}
