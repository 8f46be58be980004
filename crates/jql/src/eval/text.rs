//! Jira-like text search for `~` and `!~`: case-insensitive, word-based, with `*` and `?` wildcards and
//! `"quoted phrases"`.
//!
//! Invariants: a query matches when every one of its terms occurs in some searched value (terms may be found in
//! different values, phrases must lie within one); words are maximal runs of letters and digits, compared in
//! lower case. Jira also stems English words and drops stop words; this matcher does neither, so it can only be
//! stricter than Jira, never looser.

/// A compiled `~` operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextQuery {
    terms: Vec<Vec<Pattern>>,
}

/// One word of a query, possibly with wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    chars: Vec<char>,
    wild: bool,
}

impl Pattern {
    fn new(word: &str) -> Self {
        let chars: Vec<char> = word.chars().collect();
        let wild = chars.iter().any(|c| matches!(c, '*' | '?'));
        Self { chars, wild }
    }

    fn matches(&self, word: &[char]) -> bool {
        if self.wild {
            glob(&self.chars, word)
        } else {
            self.chars == word
        }
    }
}

/// Iterative glob matching with backtracking to the last `*`: linear-ish, no recursion.
fn glob(pattern: &[char], word: &[char]) -> bool {
    let (mut p, mut w) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while w < word.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, w));
                p += 1;
            }
            Some(&c) if c == '?' || c == word[w] => {
                p += 1;
                w += 1;
            }
            _ => match star {
                Some((sp, sw)) => {
                    p = sp + 1;
                    w = sw + 1;
                    star = Some((sp, sw + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == '*')
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Splits lower-cased text into words.
fn words(text: &str) -> Vec<Vec<char>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_word_char(c) {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Splits a query term into patterns: like [`words`] but keeping `*` and `?`.
fn patterns(text: &str) -> Vec<Pattern> {
    text.split(|c: char| !(is_word_char(c) || c == '*' || c == '?'))
        .filter(|w| !w.is_empty() && w.chars().any(|c| c != '*'))
        .map(|w| Pattern::new(&w.to_lowercase()))
        .collect()
}

impl TextQuery {
    /// Compiles the operand of `~`. A term in double quotes is a phrase; a word that splits into several
    /// (`foo-bar`) is a phrase too, as in Lucene. Returns `None` when nothing searchable remains.
    pub(crate) fn new(query: &str) -> Option<Self> {
        let mut terms = Vec::new();
        for (i, part) in query.split('"').enumerate() {
            if i % 2 == 1 {
                let phrase = patterns(part);
                if !phrase.is_empty() {
                    terms.push(phrase);
                }
            } else {
                for word in part.split_whitespace() {
                    let phrase = patterns(word);
                    if !phrase.is_empty() {
                        terms.push(phrase);
                    }
                }
            }
        }
        if terms.is_empty() {
            None
        } else {
            Some(Self { terms })
        }
    }

    /// A fresh record of which terms have been found.
    pub(crate) fn tracker(&self) -> Vec<bool> {
        vec![false; self.terms.len()]
    }

    /// Marks the terms found in one value.
    pub(crate) fn scan(&self, text: &str, found: &mut [bool]) {
        let words = words(text);
        for (term, seen) in self.terms.iter().zip(found.iter_mut()) {
            if !*seen {
                *seen = words
                    .windows(term.len())
                    .any(|window| term.iter().zip(window).all(|(p, w)| p.matches(w)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(query: &str, values: &[&str]) -> bool {
        let Some(q) = TextQuery::new(query) else {
            return false;
        };
        let mut found = q.tracker();
        for v in values {
            q.scan(v, &mut found);
        }
        found.iter().all(|f| *f)
    }

    #[test]
    fn words_any_order_case_insensitive() {
        assert!(matches("Screen full", &["The FULL screen mode"]));
        assert!(!matches("screen fuller", &["The full screen mode"]));
        assert!(matches("full screen", &["full", "screen"]));
    }

    #[test]
    fn phrases_and_wildcards() {
        assert!(matches("\"full screen\"", &["a full screen mode"]));
        assert!(!matches("\"screen full\"", &["a full screen mode"]));
        assert!(matches("scr*", &["a full screen mode"]));
        assert!(matches("sc?een", &["a full screen mode"]));
        assert!(matches("*een", &["a full screen mode"]));
        assert!(!matches("scr?", &["a full screen mode"]));
        assert!(matches("foo-bar", &["x foo bar y"]));
        assert!(matches("Ünïcode", &["ünÏcode text"]));
        assert!(TextQuery::new("  ** ").is_none());
    }

    #[test]
    fn glob_has_no_blowup() {
        let pattern: Vec<char> = "*a*a*a*a*a*a*a*b".chars().collect();
        let word: Vec<char> = "a".repeat(5_000).chars().collect();
        assert!(!glob(&pattern, &word));
    }
}
