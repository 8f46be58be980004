//! Generators as a structure's readers see them. A configuration may name issues Jira hides from a reader —
//! its JQL, search text, issue keys, formulas, another structure's id — so below the Automate level (who may
//! change it anyway) a generator is shown as its kind and what it does in words only, and an error Jira gives
//! about its queries is told without Jira's words, which quote them. The words are made here from the typed
//! configuration: the only names in them are field and link-type names, the site's configuration.

use arbor_core::data::LinkDirection;
use arbor_core::generator::Generator;
use arbor_core::permission::Level;
use arbor_jira::cache::MetaKind;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::Access;
use super::assist::{self, Named};
use crate::error::ApiError;
use crate::session::Caller;
use crate::state::AppState;

/// A generator of a structure and where it sits.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratorInfo {
    pub id: u64,
    /// The stored row that holds it (its scope is that row's parent's subtree).
    pub row: Option<u64>,
    /// `insert_jql`, `extend_children`, `group_by_field`, ...
    pub kind: &'static str,
    /// What it does, in words: "Inserts the issues a JQL query finds", "Sorts by Priority, descending".
    pub description: String,
    /// Its settings (`{"kind": "insert_jql", "jql": "…"}`, …), from the Automate level only: the queries,
    /// keys and formulas in them may name issues Jira hides from you.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Generator>,
}

/// The generators `(id, row, configuration)` as `access` may see them, in the order given.
pub async fn generators(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    generators: Vec<(u64, Option<u64>, Generator)>,
) -> Vec<GeneratorInfo> {
    let names =
        SiteNames::for_generators(state, caller, access, generators.iter().map(|(_, _, g)| g))
            .await;
    let full = access.level.allows(Level::Automate);
    generators
        .into_iter()
        .map(|(id, row, config)| {
            let (kind, description) = described(&config, &names);
            GeneratorInfo {
                id,
                row,
                kind,
                description,
                config: full.then_some(config),
            }
        })
        .collect()
}

/// What each generator does in words, as `access` may read it: its description, and from the Automate level
/// its query, text, keys or formula too ("Inserts the issues a JQL query finds (project = AC)").
pub async fn words(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    generators: &[Generator],
) -> Vec<String> {
    let names = SiteNames::for_generators(state, caller, access, generators.iter()).await;
    let full = access.level.allows(Level::Automate);
    generators
        .iter()
        .map(|generator| {
            let (_, description) = described(generator, &names);
            match settings(generator).filter(|_| full) {
                Some(settings) => format!("{description} ({settings})"),
                None => description,
            }
        })
        .collect()
}

/// The part of a configuration its description leaves out: what may name issues.
fn settings(generator: &Generator) -> Option<String> {
    match generator {
        Generator::InsertJql { jql } | Generator::FilterJql { jql } => Some(jql.clone()),
        Generator::InsertText { text } | Generator::FilterText { text } => {
            Some(format!("“{text}”"))
        }
        Generator::InsertKeys { keys } => Some(keys.join(", ")),
        Generator::InsertStructure { structure_id } => Some(format!("structure {structure_id}")),
        Generator::FilterFormula { formula } | Generator::SortByFormula { formula, .. } => {
            Some(formula.clone())
        }
        Generator::ExtendLinks { .. }
        | Generator::ExtendSubtasks { .. }
        | Generator::ExtendChildren { .. }
        | Generator::RemoveDuplicates
        | Generator::GroupByField { .. }
        | Generator::SortByField { .. }
        | Generator::SortByRank { .. } => None,
    }
}

/// `error` as someone with `level` may read it: Jira's words about a rejected query quote the query, so below
/// Automate they are replaced.
pub fn error_for(error: ApiError, level: Level) -> ApiError {
    if error.kind != "jira-rejected" || level.allows(Level::Automate) {
        return error;
    }
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "jira-rejected",
        "Jira rejected one of this structure's queries; someone with the Automate level sees the generators' \
         queries and Jira's reason, and can correct them",
    )
}

/// The site's names for the fields and link types generators name, as Jira lists them to the reader.
struct SiteNames {
    fields: Vec<Named>,
    link_types: Vec<Named>,
}

impl SiteNames {
    /// Asks Jira only for the lists these generators need. A list Jira does not give leaves ids in the words:
    /// a description is not worth failing a read for.
    async fn for_generators(
        state: &AppState,
        caller: &Caller,
        access: &Access,
        generators: impl Iterator<Item = &Generator> + Clone,
    ) -> Self {
        let list = |kind, needed: bool| async move {
            if !needed {
                return Vec::new();
            }
            assist::site_list(state, caller, &access.who, kind)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(detail = %error.detail, "site names unavailable; generators are described with ids");
                    Vec::new()
                })
        };
        let fields = generators.clone().any(|g| {
            matches!(
                g,
                Generator::GroupByField { .. } | Generator::SortByField { .. }
            )
        });
        let links = generators
            .clone()
            .any(|g| matches!(g, Generator::ExtendLinks { .. }));
        Self {
            fields: list(MetaKind::Fields, fields).await,
            link_types: list(MetaKind::LinkTypes, links).await,
        }
    }

    /// A field's name: the site's, else its id in words (`story_points` → "story points").
    fn field(&self, id: &str) -> String {
        self.fields
            .iter()
            .find(|f| f.id == id)
            .map_or_else(|| id.replace('_', " "), |f| f.name.clone())
    }

    /// How a link of this type reads in this direction ("blocks"), and the type's name.
    fn link(&self, id: &str, direction: LinkDirection) -> String {
        let Some(link) = self.link_types.iter().find(|l| l.id == id) else {
            return format!("link type {id}");
        };
        let reads = match direction {
            LinkDirection::Outward => link.outward.as_deref(),
            LinkDirection::Inward => link.inward.as_deref(),
        };
        match reads {
            Some(reads) => format!("“{reads}” ({})", link.name),
            None => link.name.clone(),
        }
    }
}

/// A generator's kind, as its configuration names it, and what it does in words, without its queries, text,
/// keys, formulas or ids.
fn described(generator: &Generator, names: &SiteNames) -> (&'static str, String) {
    let order = |descending: bool| {
        if descending {
            "descending"
        } else {
            "ascending"
        }
    };
    match generator {
        Generator::InsertJql { .. } => {
            ("insert_jql", "Inserts the issues a JQL query finds".into())
        }
        Generator::InsertKeys { keys } => (
            "insert_keys",
            match keys.len() {
                1 => "Inserts 1 issue chosen by key".into(),
                n => format!("Inserts {n} issues chosen by key"),
            },
        ),
        Generator::InsertText { .. } => (
            "insert_text",
            "Inserts the issues a text search finds".into(),
        ),
        Generator::InsertStructure { .. } => (
            "insert_structure",
            "Inserts the issues of another structure".into(),
        ),
        Generator::ExtendLinks {
            link_type_id,
            direction,
            levels,
        } => (
            "extend_links",
            format!(
                "Extends with linked issues: {}, levels {}–{}",
                names.link(link_type_id, *direction),
                levels.from,
                levels.to
            ),
        ),
        Generator::ExtendSubtasks { levels } => (
            "extend_subtasks",
            format!(
                "Extends with sub-tasks, levels {}–{}",
                levels.from, levels.to
            ),
        ),
        Generator::ExtendChildren { levels } => (
            "extend_children",
            format!(
                "Extends with children (epic → stories → sub-tasks), levels {}–{}",
                levels.from, levels.to
            ),
        ),
        Generator::FilterJql { .. } => {
            ("filter_jql", "Keeps the issues a JQL query matches".into())
        }
        Generator::FilterText { .. } => (
            "filter_text",
            "Keeps the issues that match a text search".into(),
        ),
        Generator::FilterFormula { .. } => (
            "filter_formula",
            "Keeps the issues for which a formula is true".into(),
        ),
        Generator::RemoveDuplicates => (
            "remove_duplicates",
            "Removes duplicates (keeps the first row of each issue)".into(),
        ),
        Generator::GroupByField { field } => (
            "group_by_field",
            format!("Groups by {}", names.field(field.as_str())),
        ),
        Generator::SortByField { field, descending } => (
            "sort_by_field",
            format!(
                "Sorts by {}, {}",
                names.field(field.as_str()),
                order(*descending)
            ),
        ),
        Generator::SortByRank { descending } => (
            "sort_by_rank",
            format!("Sorts by Jira rank, {}", order(*descending)),
        ),
        Generator::SortByFormula { descending, .. } => (
            "sort_by_formula",
            format!("Sorts by a formula, {}", order(*descending)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use arbor_core::data::FieldId;
    use arbor_core::generator::Levels;

    use super::*;

    fn link_type() -> Named {
        Named {
            id: "10000".into(),
            name: "Blocks".into(),
            kind: None,
            inward: Some("is blocked by".into()),
            outward: Some("blocks".into()),
            variables: Vec::new(),
        }
    }

    #[test]
    fn words_use_the_sites_names_and_fall_back_to_ids() {
        let names = SiteNames {
            fields: Vec::new(),
            link_types: vec![link_type()],
        };
        let links = |link_type_id: &str, direction| {
            described(
                &Generator::ExtendLinks {
                    link_type_id: link_type_id.into(),
                    direction,
                    levels: Levels { from: 1, to: 3 },
                },
                &names,
            )
            .1
        };
        assert_eq!(
            links("10000", LinkDirection::Inward),
            "Extends with linked issues: “is blocked by” (Blocks), levels 1–3"
        );
        assert_eq!(
            links("10001", LinkDirection::Outward),
            "Extends with linked issues: link type 10001, levels 1–3"
        );
        let group = Generator::GroupByField {
            field: FieldId::new("story_points"),
        };
        assert_eq!(
            described(&group, &names),
            ("group_by_field", "Groups by story points".into())
        );
    }

    #[test]
    fn kinds_are_named_as_configurations_name_them() {
        let names = SiteNames {
            fields: Vec::new(),
            link_types: Vec::new(),
        };
        for generator in [
            Generator::InsertKeys {
                keys: vec!["AC-19".into()],
            },
            Generator::SortByRank { descending: true },
            Generator::RemoveDuplicates,
            Generator::FilterText { text: "NDK".into() },
        ] {
            let stored = serde_json::to_value(&generator).unwrap();
            let (kind, words) = described(&generator, &names);
            assert_eq!(stored["kind"], kind);
            assert!(
                !words.contains("AC-19") && !words.contains("NDK"),
                "{words}"
            );
        }
    }
}
