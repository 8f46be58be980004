//! Identifiers and small values of the domain, each valid once constructed ("parse, don't validate").
//!
//! Every constructor returns `Result<_, ValueError>`; deserialisation goes through the same constructors,
//! so a value read from the wire or from storage is as valid as one built in code.
//!
//! Invariants:
//! - [`IssueId`], [`RowId`] and [`GeneratorId`] are positive and at most [`MAX_ID`]; the bound leaves the top
//!   bits of a `u64` free, which the forest uses to pack an item's kind and payload into one word.
//! - [`FolderName`] is trimmed, non-empty, at most [`FolderName::MAX_CHARS`] characters, without control
//!   characters. [`MemoText`] is trimmed, non-empty, at most [`MemoText::MAX_CHARS`] characters, and may contain
//!   line breaks and tabs but no other control characters. [`ActorId`] is non-empty, at most
//!   [`ActorId::MAX_CHARS`] characters, without whitespace or control characters; so is a [`SessionTag`] (at
//!   most [`SessionTag::MAX_CHARS`]).
//! - No text holds a bidirectional embedding, override or isolate ([`is_bidi_control`]): they make a name
//!   display as something other than what it is. [`check_characters`] is the one check of a typed text's
//!   characters, used here and by the server for the names and texts it stores.

use std::fmt;
use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

/// The largest numeric id accepted for issues, rows and generators: 2^61 − 1.
///
/// Jira issue ids are far below this; the bound lets the forest keep an item in 8 bytes.
pub const MAX_ID: u64 = (1 << 61) - 1;

/// Why a value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{what} must be a positive number, got 0")]
    Zero { what: &'static str },
    #[error("{what} {value} is larger than the maximum {MAX_ID}")]
    TooLarge { what: &'static str, value: u64 },
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is {chars} characters long; the maximum is {max}")]
    TooLong {
        what: &'static str,
        chars: usize,
        max: usize,
    },
    #[error("{what} must not contain the control character U+{code:04X}")]
    ControlCharacter { what: &'static str, code: u32 },
    #[error(
        "{what} must not contain the bidirectional formatting character U+{code:04X} (it makes text display \
         in another order than it is written)"
    )]
    BidiControl { what: &'static str, code: u32 },
    #[error("{what} must not contain whitespace")]
    Whitespace { what: &'static str },
}

fn positive_id(what: &'static str, value: u64) -> Result<NonZeroU64, ValueError> {
    if value > MAX_ID {
        return Err(ValueError::TooLarge { what, value });
    }
    NonZeroU64::new(value).ok_or(ValueError::Zero { what })
}

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u64", into = "u64")]
        pub struct $name(NonZeroU64);

        impl $name {
            /// The smallest valid id, 1.
            pub const MIN: Self = Self(NonZeroU64::MIN);

            /// Accepts `1..=MAX_ID`.
            pub fn new(value: u64) -> Result<Self, ValueError> {
                positive_id($what, value).map(Self)
            }

            pub fn get(self) -> u64 {
                self.0.get()
            }
        }

        impl TryFrom<u64> for $name {
            type Error = ValueError;

            fn try_from(value: u64) -> Result<Self, ValueError> {
                Self::new(value)
            }
        }

        impl From<$name> for u64 {
            fn from(id: $name) -> u64 {
                id.get()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

numeric_id!(
    /// A Jira issue's numeric id (never its key: keys change when issues move between projects).
    IssueId,
    "issue id"
);
numeric_id!(
    /// A row of a forest. Unique within one forest; the same issue may sit in many rows.
    RowId,
    "row id"
);
numeric_id!(
    /// A generator's configuration, stored elsewhere; a generator row refers to it by this id.
    GeneratorId,
    "generator id"
);

impl RowId {
    /// The first row id a new structure hands out.
    pub const FIRST: RowId = RowId::MIN;

    /// The id after this one, or `None` once [`MAX_ID`] is reached.
    pub fn next(self) -> Option<RowId> {
        RowId::new(self.get() + 1).ok()
    }
}

/// A structure's content version: 0 for a new, empty structure, then +1 for every applied change.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Version(pub u64);

impl Version {
    pub const ZERO: Version = Version(0);

    pub fn get(self) -> u64 {
        self.0
    }

    /// The following version; `None` only after 2^64 − 1 changes.
    pub fn next(self) -> Option<Version> {
        self.0.checked_add(1).map(Version)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A point in time as milliseconds since the Unix epoch (UTC).
///
/// The engine never reads a clock: callers pass the time of each change in. Millisecond integers keep the
/// history's wire shape plain and make replays reproducible.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn as_unix_millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Whether `c` is a bidirectional embedding, override or isolate (U+202A–U+202E, U+2066–U+2069): one of these
/// reorders the text after it until its terminator, so `"abc\u{202E}fdp.exe"` displays as `abcexe.pdf`
/// ("Trojan Source", CVE-2021-42574; rustc's `text_direction_codepoint_in_literal` lint refuses the same
/// set). The implicit marks (U+200E, U+200F, U+061C) are allowed: they reorder nothing beyond the
/// neutral characters next to them, and right-to-left writing needs them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with each bidirectional formatting character ([`is_bidi_control`]) replaced by U+FFFD: for names
/// and texts stored before these characters were refused, so that they still load and can no longer display
/// as something else.
pub fn defuse_bidi(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_bidi_control) {
        text.chars()
            .map(|c| if is_bidi_control(c) { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// Checks the characters of a text a person typed: no control characters but `allowed_control`, and no
/// bidirectional formatting characters ([`is_bidi_control`]).
pub fn check_characters(
    what: &'static str,
    text: &str,
    allowed_control: &[char],
) -> Result<(), ValueError> {
    for c in text.chars() {
        let code = u32::from(c);
        if c.is_control() && !allowed_control.contains(&c) {
            return Err(ValueError::ControlCharacter { what, code });
        }
        if is_bidi_control(c) {
            return Err(ValueError::BidiControl { what, code });
        }
    }
    Ok(())
}

fn check_text(
    what: &'static str,
    text: &str,
    max: usize,
    allowed_control: &[char],
) -> Result<(), ValueError> {
    if text.is_empty() {
        return Err(ValueError::Empty { what });
    }
    check_characters(what, text, allowed_control)?;
    let chars = text.chars().count();
    if chars > max {
        return Err(ValueError::TooLong { what, chars, max });
    }
    Ok(())
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Box<str>);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;

            fn try_from(value: String) -> Result<Self, ValueError> {
                Self::new(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0.into()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_value!(
    /// A folder row's name: trimmed, non-empty, single line.
    FolderName
);
text_value!(
    /// A memo row's text: trimmed, non-empty; line breaks and tabs allowed.
    MemoText
);
text_value!(
    /// Who made a change: an opaque person id (for Jira Cloud, the Atlassian account id).
    ActorId
);
text_value!(
    /// The sign-in session a change was made in, as an opaque tag: undo and redo take back only what was
    /// changed in the same session. The server derives it from the session without revealing it.
    SessionTag
);

impl FolderName {
    pub const MAX_CHARS: usize = 255;

    /// Trims surrounding whitespace, then checks the rules in the module docs.
    pub fn new(name: &str) -> Result<Self, ValueError> {
        let name = name.trim();
        check_text("folder name", name, Self::MAX_CHARS, &[])?;
        Ok(Self(name.into()))
    }
}

impl MemoText {
    /// Long enough for a paragraph of notes, short enough that a memo stays a row, not a document.
    pub const MAX_CHARS: usize = 2000;

    /// Trims surrounding whitespace, then checks the rules in the module docs.
    pub fn new(text: &str) -> Result<Self, ValueError> {
        let text = text.trim();
        check_text("memo text", text, Self::MAX_CHARS, &['\n', '\r', '\t'])?;
        Ok(Self(text.into()))
    }
}

impl SessionTag {
    pub const MAX_CHARS: usize = 64;

    /// The tag for 16 bytes that identify a session (a digest of it, say): their lowercase hex.
    pub fn from_bytes(bytes: &[u8; 16]) -> Self {
        use fmt::Write;
        let mut hex = String::with_capacity(32);
        for byte in bytes {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex.into())
    }

    /// Taken as given, then checked like an [`ActorId`].
    pub fn new(tag: &str) -> Result<Self, ValueError> {
        const WHAT: &str = "session tag";
        check_text(WHAT, tag, Self::MAX_CHARS, &[])?;
        if tag.chars().any(char::is_whitespace) {
            return Err(ValueError::Whitespace { what: WHAT });
        }
        Ok(Self(tag.into()))
    }
}

impl ActorId {
    pub const MAX_CHARS: usize = 128;

    /// Taken as given (ids are compared exactly, so nothing is trimmed), then checked.
    pub fn new(id: &str) -> Result<Self, ValueError> {
        const WHAT: &str = "actor id";
        check_text(WHAT, id, Self::MAX_CHARS, &[])?;
        if id.chars().any(char::is_whitespace) {
            return Err(ValueError::Whitespace { what: WHAT });
        }
        Ok(Self(id.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_are_positive_and_bounded() {
        assert_eq!(IssueId::new(10_001).unwrap().get(), 10_001);
        assert_eq!(IssueId::new(0), Err(ValueError::Zero { what: "issue id" }));
        assert!(matches!(
            RowId::new(MAX_ID + 1),
            Err(ValueError::TooLarge { .. })
        ));
        assert!(GeneratorId::new(MAX_ID).is_ok());
        assert_eq!(RowId::new(MAX_ID).unwrap().next(), None);
        assert_eq!(
            RowId::new(0).unwrap_err().to_string(),
            "row id must be a positive number, got 0"
        );
    }

    #[test]
    fn folder_names_are_trimmed_single_lines() {
        assert_eq!(FolderName::new("  Q3 plan ").unwrap().as_str(), "Q3 plan");
        assert_eq!(
            FolderName::new("   "),
            Err(ValueError::Empty {
                what: "folder name"
            })
        );
        assert_eq!(
            FolderName::new("a\nb").unwrap_err().to_string(),
            "folder name must not contain the control character U+000A"
        );
        let long = "x".repeat(FolderName::MAX_CHARS + 1);
        assert!(matches!(
            FolderName::new(&long),
            Err(ValueError::TooLong { chars: 256, .. })
        ));
        // Characters, not bytes, are counted.
        assert!(FolderName::new(&"é".repeat(FolderName::MAX_CHARS)).is_ok());
    }

    #[test]
    fn memos_allow_line_breaks_but_not_other_controls() {
        assert_eq!(
            MemoText::new(" first\n\tsecond \n").unwrap().as_str(),
            "first\n\tsecond"
        );
        assert!(matches!(
            MemoText::new("bell\u{7}"),
            Err(ValueError::ControlCharacter { code: 7, .. })
        ));
        assert!(MemoText::new(&"m".repeat(MemoText::MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn names_and_memos_refuse_bidirectional_overrides_and_isolates() {
        for c in ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}'] {
            let text = format!("invoice{c}fdp.exe");
            assert_eq!(
                FolderName::new(&text),
                Err(ValueError::BidiControl {
                    what: "folder name",
                    code: u32::from(c)
                })
            );
            assert!(matches!(
                MemoText::new(&text),
                Err(ValueError::BidiControl {
                    what: "memo text",
                    ..
                })
            ));
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert!(
                FolderName::new(&format!("a{c}b")).is_err(),
                "U+{:04X}",
                u32::from(c)
            );
            assert!(
                MemoText::new(&format!("a\n{c}b")).is_err(),
                "U+{:04X}",
                u32::from(c)
            );
        }
        assert_eq!(
            FolderName::new("x\u{202E}y").unwrap_err().to_string(),
            "folder name must not contain the bidirectional formatting character U+202E (it makes text \
             display in another order than it is written)"
        );
        assert_eq!(defuse_bidi("a\u{202E}b\u{2066}"), "a\u{FFFD}b\u{FFFD}");
        assert!(matches!(
            defuse_bidi("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
        // Right-to-left text and its implicit marks are welcome.
        assert!(FolderName::new("תוכנית Q3\u{200F}").is_ok());
        assert!(MemoText::new("ملاحظة\u{061C} 2\u{200E}").is_ok());
    }

    #[test]
    fn actor_ids_are_exact_tokens() {
        assert!(ActorId::new("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077").is_ok());
        assert!(matches!(
            ActorId::new(" alice"),
            Err(ValueError::Whitespace { .. })
        ));
        assert!(ActorId::new("").is_err());
    }

    #[test]
    fn session_tags_are_short_exact_tokens() {
        let tag = SessionTag::from_bytes(&[0xab; 16]);
        assert_eq!(tag.as_str(), "ab".repeat(16));
        assert_eq!(SessionTag::new(tag.as_str()), Ok(tag));
        assert!(SessionTag::new("a b").is_err());
        assert!(SessionTag::new(&"a".repeat(65)).is_err());
        assert!(serde_json::from_str::<SessionTag>("\"\"").is_err());
    }

    #[test]
    fn values_deserialise_through_their_constructors() {
        let id: IssueId = serde_json::from_str("10001").unwrap();
        assert_eq!(id.get(), 10_001);
        assert!(serde_json::from_str::<RowId>("0").is_err());
        let name: FolderName = serde_json::from_str("\" Backlog \"").unwrap();
        assert_eq!(name.as_str(), "Backlog");
        assert!(serde_json::from_str::<MemoText>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&Version(7)).unwrap(), "7");
    }
}
