//! Generator configurations: the rules that fill and shape a structure. A generator is a row of the stored
//! forest; its scope is the subtree of its parent row (the whole structure at the top level). Only the
//! configuration is stored; what a generator produces is recomputed on demand by [`crate::effective`].
//!
//! Invariant: a configuration that exists is valid — JQL parses, formulas compile, level ranges are ordered —
//! because every constructor and `Deserialize` goes through [`Generator::validate`].

use serde::{Deserialize, Serialize};

use crate::data::{FieldId, LinkDirection};

/// The phases, in the order they run. Every generator of one phase runs before any generator of the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Insert,
    Extend,
    Filter,
    Group,
    Sort,
}

/// The most levels an extender may go down; deeper hierarchies need a second extender further down.
pub const MAX_EXTEND_LEVELS: u8 = 50;

/// A generator's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawGenerator")]
pub enum Generator {
    /// Insert the issues a JQL query returns, in Jira's order.
    InsertJql { jql: String },
    /// Insert issues by key, in the given order.
    InsertKeys { keys: Vec<String> },
    /// Insert the issues a text search finds (Jira's `text ~` search).
    InsertText { text: String },
    /// Insert the issue rows of another structure, with their hierarchy.
    InsertStructure { structure_id: u64 },
    /// Add the issues linked to each issue, by link type and direction.
    ExtendLinks {
        link_type_id: String,
        direction: LinkDirection,
        levels: Levels,
    },
    /// Add each issue's sub-tasks.
    ExtendSubtasks { levels: Levels },
    /// Add each issue's children through `parent` (epic → stories → sub-tasks).
    ExtendChildren { levels: Levels },
    /// Keep the issues a JQL query matches (and the rows above them).
    FilterJql { jql: String },
    /// Keep the issues whose text matches (Jira's `text ~` semantics, evaluated locally).
    FilterText { text: String },
    /// Keep the issues for which a formula is true.
    FilterFormula { formula: String },
    /// Keep only the first row of each issue within the scope.
    RemoveDuplicates,
    /// Put the scope's top issues under one header per value of a field.
    GroupByField { field: FieldId },
    /// Order siblings by a field's value.
    SortByField { field: FieldId, descending: bool },
    /// Order siblings by Jira rank.
    SortByRank { descending: bool },
    /// Order siblings by a formula's value.
    SortByFormula { formula: String, descending: bool },
}

/// Which relative levels of the scope an extender works on: level 1 is the scope's top rows. Added issues are
/// one level below the issue they were added for, so `to` also bounds how deep an extension goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Levels {
    pub from: u8,
    pub to: u8,
}

impl Default for Levels {
    /// Up to 10 levels, as Structure users expect.
    fn default() -> Self {
        Self { from: 1, to: 10 }
    }
}

impl Levels {
    pub fn contains(self, level: u32) -> bool {
        (u32::from(self.from)..=u32::from(self.to)).contains(&level)
    }
}

/// Why a generator configuration is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    #[error("{0}")]
    Jql(String),
    #[error("invalid formula: {0}")]
    Formula(String),
    #[error(
        "the level range {from}..{to} is not valid: it must start at 1 or more and end at {max} or less, not before it starts"
    )]
    Levels { from: u8, to: u8, max: u8 },
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("`{0}` is not an issue key (expected e.g. TIMOB-123)")]
    IssueKey(String),
}

impl Generator {
    pub fn phase(&self) -> Phase {
        match self {
            Self::InsertJql { .. }
            | Self::InsertKeys { .. }
            | Self::InsertText { .. }
            | Self::InsertStructure { .. } => Phase::Insert,
            Self::ExtendLinks { .. }
            | Self::ExtendSubtasks { .. }
            | Self::ExtendChildren { .. } => Phase::Extend,
            Self::FilterJql { .. }
            | Self::FilterText { .. }
            | Self::FilterFormula { .. }
            | Self::RemoveDuplicates => Phase::Filter,
            Self::GroupByField { .. } => Phase::Group,
            Self::SortByField { .. } | Self::SortByRank { .. } | Self::SortByFormula { .. } => {
                Phase::Sort
            }
        }
    }

    /// Checks the configuration: JQL parses, formulas compile, level ranges hold, keys look like keys.
    pub fn validate(&self) -> Result<(), GeneratorError> {
        match self {
            Self::InsertJql { jql } | Self::FilterJql { jql } => {
                if jql.trim().is_empty() {
                    return Err(GeneratorError::Empty("the JQL query"));
                }
                jql::parse(jql)
                    .map(drop)
                    .map_err(|e| GeneratorError::Jql(e.to_string()))
            }
            Self::InsertText { text } | Self::FilterText { text } => {
                if text.trim().is_empty() {
                    Err(GeneratorError::Empty("the search text"))
                } else {
                    Ok(())
                }
            }
            Self::InsertKeys { keys } => {
                if keys.is_empty() {
                    return Err(GeneratorError::Empty("the list of issue keys"));
                }
                match keys.iter().find(|k| !is_issue_key(k)) {
                    Some(bad) => Err(GeneratorError::IssueKey(bad.clone())),
                    None => Ok(()),
                }
            }
            Self::ExtendLinks { levels, .. }
            | Self::ExtendSubtasks { levels }
            | Self::ExtendChildren { levels } => {
                if levels.from == 0 || levels.to < levels.from || levels.to > MAX_EXTEND_LEVELS {
                    Err(GeneratorError::Levels {
                        from: levels.from,
                        to: levels.to,
                        max: MAX_EXTEND_LEVELS,
                    })
                } else {
                    Ok(())
                }
            }
            Self::FilterFormula { formula } | Self::SortByFormula { formula, .. } => {
                crate::formula::Formula::compile(formula)
                    .map(drop)
                    .map_err(|e| GeneratorError::Formula(e.to_string()))
            }
            Self::InsertStructure { .. }
            | Self::RemoveDuplicates
            | Self::GroupByField { .. }
            | Self::SortByField { .. }
            | Self::SortByRank { .. } => Ok(()),
        }
    }
}

/// `PROJ-123`: a project key (a letter, then letters, digits or `_`), a dash, a positive number.
pub fn is_issue_key(key: &str) -> bool {
    let Some((project, number)) = key.rsplit_once('-') else {
        return false;
    };
    let mut chars = project.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && !number.trim_start_matches('0').is_empty()
}

/// The unchecked shape `Deserialize` reads before [`Generator::validate`] accepts it.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RawGenerator {
    InsertJql {
        jql: String,
    },
    InsertKeys {
        keys: Vec<String>,
    },
    InsertText {
        text: String,
    },
    InsertStructure {
        structure_id: u64,
    },
    ExtendLinks {
        link_type_id: String,
        direction: LinkDirection,
        #[serde(default)]
        levels: Levels,
    },
    ExtendSubtasks {
        #[serde(default)]
        levels: Levels,
    },
    ExtendChildren {
        #[serde(default)]
        levels: Levels,
    },
    FilterJql {
        jql: String,
    },
    FilterText {
        text: String,
    },
    FilterFormula {
        formula: String,
    },
    RemoveDuplicates,
    GroupByField {
        field: String,
    },
    SortByField {
        field: String,
        #[serde(default)]
        descending: bool,
    },
    SortByRank {
        #[serde(default)]
        descending: bool,
    },
    SortByFormula {
        formula: String,
        #[serde(default)]
        descending: bool,
    },
}

impl TryFrom<RawGenerator> for Generator {
    type Error = GeneratorError;

    fn try_from(raw: RawGenerator) -> Result<Self, Self::Error> {
        let generator = match raw {
            RawGenerator::InsertJql { jql } => Self::InsertJql { jql },
            RawGenerator::InsertKeys { keys } => Self::InsertKeys { keys },
            RawGenerator::InsertText { text } => Self::InsertText { text },
            RawGenerator::InsertStructure { structure_id } => {
                Self::InsertStructure { structure_id }
            }
            RawGenerator::ExtendLinks {
                link_type_id,
                direction,
                levels,
            } => Self::ExtendLinks {
                link_type_id,
                direction,
                levels,
            },
            RawGenerator::ExtendSubtasks { levels } => Self::ExtendSubtasks { levels },
            RawGenerator::ExtendChildren { levels } => Self::ExtendChildren { levels },
            RawGenerator::FilterJql { jql } => Self::FilterJql { jql },
            RawGenerator::FilterText { text } => Self::FilterText { text },
            RawGenerator::FilterFormula { formula } => Self::FilterFormula { formula },
            RawGenerator::RemoveDuplicates => Self::RemoveDuplicates,
            RawGenerator::GroupByField { field } => Self::GroupByField {
                field: FieldId::new(&field),
            },
            RawGenerator::SortByField { field, descending } => Self::SortByField {
                field: FieldId::new(&field),
                descending,
            },
            RawGenerator::SortByRank { descending } => Self::SortByRank { descending },
            RawGenerator::SortByFormula {
                formula,
                descending,
            } => Self::SortByFormula {
                formula,
                descending,
            },
        };
        generator.validate()?;
        Ok(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_the_kind() {
        assert_eq!(
            Generator::InsertJql {
                jql: "project = A".into()
            }
            .phase(),
            Phase::Insert
        );
        assert_eq!(
            Generator::ExtendChildren {
                levels: Levels::default()
            }
            .phase(),
            Phase::Extend
        );
        assert_eq!(Generator::RemoveDuplicates.phase(), Phase::Filter);
        assert_eq!(
            Generator::GroupByField {
                field: FieldId::new("status")
            }
            .phase(),
            Phase::Group
        );
        assert_eq!(
            Generator::SortByRank { descending: false }.phase(),
            Phase::Sort
        );
        assert!(Phase::Insert < Phase::Extend && Phase::Extend < Phase::Filter);
        assert!(Phase::Filter < Phase::Group && Phase::Group < Phase::Sort);
    }

    #[test]
    fn invalid_configurations_are_refused_with_a_clear_message() {
        let bad_jql = Generator::InsertJql {
            jql: "project = (".into(),
        }
        .validate()
        .unwrap_err();
        assert!(
            bad_jql.to_string().starts_with("Error in the JQL Query"),
            "{bad_jql}"
        );
        let levels = Generator::ExtendChildren {
            levels: Levels { from: 3, to: 2 },
        }
        .validate()
        .unwrap_err();
        assert!(levels.to_string().contains("3..2"), "{levels}");
        assert_eq!(
            Generator::InsertKeys {
                keys: vec!["TIMOB-1".into(), "nope".into()]
            }
            .validate(),
            Err(GeneratorError::IssueKey("nope".into()))
        );
        assert!(
            Generator::FilterText { text: "  ".into() }
                .validate()
                .is_err()
        );
    }

    #[test]
    fn configurations_round_trip_through_json_and_are_checked_when_read() {
        let generator = Generator::ExtendLinks {
            link_type_id: "10000".into(),
            direction: LinkDirection::Outward,
            levels: Levels { from: 1, to: 3 },
        };
        let json = serde_json::to_string(&generator).unwrap();
        assert_eq!(serde_json::from_str::<Generator>(&json).unwrap(), generator);
        let defaulted: Generator = serde_json::from_str(r#"{"kind":"extend_children"}"#).unwrap();
        assert_eq!(
            defaulted,
            Generator::ExtendChildren {
                levels: Levels::default()
            }
        );
        let invalid =
            serde_json::from_str::<Generator>(r#"{"kind":"insert_jql","jql":"a = "}"#).unwrap_err();
        assert!(
            invalid.to_string().contains("Error in the JQL Query"),
            "{invalid}"
        );
    }

    #[test]
    fn issue_keys() {
        assert!(is_issue_key("TIMOB-12345"));
        assert!(is_issue_key("A1_B-7"));
        assert!(!is_issue_key("-1"));
        assert!(!is_issue_key("1A-1"));
        assert!(!is_issue_key("A-"));
        assert!(!is_issue_key("A-0"));
        assert!(!is_issue_key("A-x1"));
    }
}
