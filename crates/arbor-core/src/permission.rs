//! Who may do what with a structure: permission levels, the rules that grant them, and how a person's level is
//! resolved.
//!
//! Invariants:
//! - Levels are ordered `None < View < Edit < Automate < Control`; each level includes the ones below it.
//! - The highest level among the rules that match a person wins; rules never take a level away.
//! - The owner of a structure and arbor admins always have `Control`, whatever the rules say.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::data::IssueData;
use crate::effective::EffectiveForest;

/// What a person may do with a structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Not even see that the structure exists.
    None,
    /// Open it and export it.
    View,
    /// Add, move, remove and copy rows; change views.
    Edit,
    /// Add and change generators (automation).
    Automate,
    /// Change permissions, rename and delete.
    Control,
}

impl Level {
    /// Whether this level includes `required`.
    pub fn allows(self, required: Level) -> bool {
        self >= required
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::View => "View",
            Self::Edit => "Edit",
            Self::Automate => "Automate",
            Self::Control => "Control",
        })
    }
}

/// Who a rule is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grantee {
    /// One person, by Atlassian account id.
    Person { account_id: String },
    /// Members of a Jira group, by group id (names can change; ids cannot).
    Group { group_id: String },
    /// Holders of a project role in a project.
    ProjectRole { project_id: u64, role_id: u64 },
    /// Everyone who has signed in to arbor for this Jira site.
    Everyone,
}

/// One permission rule of a structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    pub grantee: Grantee,
    pub level: Level,
}

/// What arbor knows about the person asking: who they are and which groups and project roles Jira says they
/// hold (read as that person, and cached briefly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    pub account_id: String,
    pub group_ids: BTreeSet<String>,
    /// Project id → the role ids the person holds in it.
    pub project_roles: BTreeMap<u64, BTreeSet<u64>>,
    /// An arbor admin of this tenant.
    pub is_admin: bool,
}

impl Requester {
    pub fn new(account_id: impl Into<String>) -> Self {
        Self {
            account_id: account_id.into(),
            ..Self::default()
        }
    }

    fn matches(&self, grantee: &Grantee) -> bool {
        match grantee {
            Grantee::Person { account_id } => {
                !account_id.is_empty() && *account_id == self.account_id
            }
            Grantee::Group { group_id } => self.group_ids.contains(group_id),
            Grantee::ProjectRole {
                project_id,
                role_id,
            } => self
                .project_roles
                .get(project_id)
                .is_some_and(|roles| roles.contains(role_id)),
            Grantee::Everyone => true,
        }
    }
}

/// The level `requester` has on a structure owned by `owner_account_id` with these rules.
pub fn resolve_level(rules: &[Rule], owner_account_id: &str, requester: &Requester) -> Level {
    if requester.is_admin
        || (!requester.account_id.is_empty() && requester.account_id == owner_account_id)
    {
        return Level::Control;
    }
    rules
        .iter()
        .filter(|rule| requester.matches(&rule.grantee))
        .map(|rule| rule.level)
        .max()
        .unwrap_or(Level::None)
}

/// A forest as one person may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Visible {
    pub forest: EffectiveForest,
    /// How many issue rows were withheld ("3 issues hidden"); nothing else about them is told.
    pub hidden: usize,
}

/// The rows of `forest` that the person whose data this is may see. Issue rows are shown only when Jira
/// returned the issue to that person (it is in `data`); the others are withheld — also when they were never
/// fetched, so that a caller that skipped a fetch fails closed. Rows below a withheld row move up to its
/// parent, and every total computed afterwards is over visible rows only.
pub fn visible_to(forest: &EffectiveForest, data: &IssueData) -> Visible {
    let shown = |row: usize| forest.issue(row).is_none_or(|id| data.issue(id).is_some());
    let hidden = (0..forest.len()).filter(|&row| !shown(row)).count();
    Visible {
        forest: forest.without_rows(shown),
        hidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(grantee: Grantee, level: Level) -> Rule {
        Rule { grantee, level }
    }

    fn person(id: &str) -> Grantee {
        Grantee::Person {
            account_id: id.into(),
        }
    }

    #[test]
    fn levels_are_ordered_and_include_the_ones_below() {
        assert!(Level::Control.allows(Level::Automate));
        assert!(Level::Automate.allows(Level::Edit));
        assert!(Level::Edit.allows(Level::View));
        assert!(!Level::View.allows(Level::Edit));
        assert!(!Level::None.allows(Level::View));
        assert!(Level::None.allows(Level::None));
    }

    #[test]
    fn the_highest_matching_rule_wins() {
        let mut bob = Requester::new("bob");
        bob.group_ids.insert("g-dev".into());
        bob.project_roles.insert(10, BTreeSet::from([7]));
        let rules = vec![
            rule(Grantee::Everyone, Level::View),
            rule(
                Grantee::Group {
                    group_id: "g-dev".into(),
                },
                Level::Edit,
            ),
            rule(
                Grantee::ProjectRole {
                    project_id: 10,
                    role_id: 7,
                },
                Level::Automate,
            ),
            rule(person("bob"), Level::View),
        ];
        assert_eq!(resolve_level(&rules, "alice", &bob), Level::Automate);
        // A lower rule for the same person does not take the higher level away.
        assert_eq!(resolve_level(&rules[..2], "alice", &bob), Level::Edit);
        // The role must be held in that project.
        let mut carol = Requester::new("carol");
        carol.project_roles.insert(11, BTreeSet::from([7]));
        assert_eq!(resolve_level(&rules[2..3], "alice", &carol), Level::None);
    }

    #[test]
    fn owner_and_admins_always_have_control() {
        let rules = vec![rule(person("alice"), Level::View)];
        assert_eq!(
            resolve_level(&rules, "alice", &Requester::new("alice")),
            Level::Control
        );
        let mut admin = Requester::new("root");
        admin.is_admin = true;
        assert_eq!(resolve_level(&[], "alice", &admin), Level::Control);
    }

    #[test]
    fn an_empty_account_id_matches_no_one() {
        let rules = vec![rule(person(""), Level::Edit)];
        assert_eq!(resolve_level(&rules, "", &Requester::new("")), Level::None);
    }

    #[test]
    fn no_matching_rule_means_none() {
        let rules = vec![
            rule(person("bob"), Level::Edit),
            rule(
                Grantee::Group {
                    group_id: "x".into(),
                },
                Level::View,
            ),
        ];
        assert_eq!(
            resolve_level(&rules, "alice", &Requester::new("carol")),
            Level::None
        );
    }
}
