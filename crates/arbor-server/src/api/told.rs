//! A structure's history in words a planner reads: which rows (issue keys the reader may see, folder names,
//! memo texts; "2 hidden rows" for issues Jira hides from the reader, at every level: what Jira does not show
//! the reader is never named), which generators (what they do, and from Automate their queries too, see
//! `shown.rs`), and versions as the structure numbers them (forest versions translated, see `content.rs`).
//!
//! A change of rows is told by its effect: the rows it added, removed and moved. A restore removes every row
//! and inserts the restored forest under the same ids, so rows it removes and inserts again are left out of
//! its effect. Up to [`NAMED`] rows of each kind are named; the others are counted.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arbor_core::edit::{Edit, Step};
use arbor_core::forest::{Item, Row};
use arbor_core::generator::Generator;
use arbor_core::history::{Action, HistoryEntry};
use arbor_core::ids::{GeneratorId, IssueId, RowId, Version};
use arbor_store::journal::{JournalEntry, JournalOp};

use super::{Access, hidden, shown};
use crate::error::ApiResult;
use crate::restore::{self, Timeline};
use crate::session::Caller;
use crate::state::AppState;

/// How many rows of each kind an entry names.
pub const NAMED: usize = 5;

/// What the history needs from the structure's content besides the journal entries.
#[derive(Debug, Default)]
pub struct Context {
    /// The structure version that forest version `i + 1` produced.
    pub produced: Vec<Version>,
    /// What the rows that entries move hold (a move step names only the row).
    pub items: HashMap<RowId, Item>,
    /// For each redo (by the forest version of the undo it took back): the forest version of the change redone.
    pub redone: HashMap<Version, Version>,
}

impl Context {
    /// What describing `entries` needs of `content`.
    pub fn of(
        content: &arbor_core::history::StructureContent,
        produced: &[Version],
        entries: &[JournalEntry],
    ) -> Self {
        let mut moved = HashSet::new();
        let mut redone = HashMap::new();
        for entry in entries {
            if let JournalOp::ForestChanged { entry, .. } = &entry.op {
                for step in entry.change.steps() {
                    if let Step::Move { row, .. } = step {
                        moved.insert(*row);
                    }
                }
                if let Action::Redo { of } = entry.action
                    && let Some(Action::Undo { of: original }) =
                        content.entry(of).map(|undo| &undo.action)
                {
                    redone.insert(of, *original);
                }
            }
        }
        // A row's item never changes: where it was inserted tells what it holds.
        let mut items = HashMap::new();
        let forest = content.forest();
        moved.retain(|row| match forest.position_of(*row) {
            Some(pos) => {
                items.insert(*row, forest.item(pos).to_item());
                false
            }
            None => true,
        });
        if !moved.is_empty() {
            for entry in content.history() {
                for row in restore::inserted(&entry.change) {
                    if moved.contains(&row.id) {
                        items.insert(row.id, row.item.clone());
                    }
                }
            }
        }
        Self {
            produced: produced.to_vec(),
            items,
            redone,
        }
    }
}

/// The rows a change of rows added, removed and moved.
#[derive(Debug, Default)]
struct Effects {
    added: Vec<Row>,
    removed: Vec<Row>,
    moved: Vec<Row>,
}

impl Effects {
    fn of(entry: &HistoryEntry, items: &HashMap<RowId, Item>) -> Self {
        let inserted: Vec<&Row> = restore::inserted(&entry.change).collect();
        // An inverse undoes the steps last to first: its steps read backwards are in the change's order.
        let taken: Vec<&Row> = entry
            .inverse
            .steps()
            .iter()
            .rev()
            .flat_map(|step| match step {
                Step::Insert { rows, .. } => rows.rows(),
                Step::Move { .. } | Step::Remove { .. } => &[],
            })
            .collect();
        let inserted_ids: HashSet<RowId> = inserted.iter().map(|r| r.id).collect();
        let taken_ids: HashSet<RowId> = taken.iter().map(|r| r.id).collect();
        let mut moved: Vec<Row> = Vec::new();
        for step in entry.change.steps() {
            if let Step::Move { row, .. } = step
                && !moved.iter().any(|r| r.id == *row)
                && let Some(item) = items.get(row)
            {
                moved.push(Row::new(*row, 0, item.clone()));
            }
        }
        Self {
            added: inserted
                .into_iter()
                .filter(|r| !taken_ids.contains(&r.id))
                .cloned()
                .collect(),
            removed: taken
                .into_iter()
                .filter(|r| !inserted_ids.contains(&r.id))
                .cloned()
                .collect(),
            moved,
        }
    }

    fn rows(&self) -> impl Iterator<Item = &Row> {
        self.added.iter().chain(&self.removed).chain(&self.moved)
    }
}

/// One entry, before the names in it are looked up.
enum Plan {
    Rows {
        /// "Added", "Undid version 4", ...
        head: String,
        /// Whether the effect follows the head in parentheses ("Undid version 4 (removed AC-1)") or is the
        /// sentence ("Removed AC-1").
        verb: Option<&'static str>,
        effects: Effects,
        version: Version,
    },
    Generator {
        head: &'static str,
        generator: GeneratorId,
        version: Version,
    },
    Text(String),
}

/// Each entry's description, in the order given.
pub async fn describe(
    state: &AppState,
    caller: &Caller,
    access: &Access,
    entries: &[JournalEntry],
    context: &Context,
    timeline: &Timeline,
) -> ApiResult<Vec<String>> {
    let structure_version = |forest: Version| restore::structure_version(forest, &context.produced);
    let plans: Vec<Plan> = entries
        .iter()
        .map(|journaled| match &journaled.op {
            JournalOp::ForestChanged { version, entry, .. } => {
                let effects = Effects::of(entry, &context.items);
                let (head, verb) = match &entry.action {
                    Action::Edit { edit, .. } => match edit {
                        Edit::Add { .. } => ("Added".to_owned(), Some("added")),
                        Edit::Move { .. } => ("Moved".to_owned(), Some("moved")),
                        Edit::Remove { .. } => ("Removed".to_owned(), Some("removed")),
                        Edit::Copy { .. } => ("Copied".to_owned(), Some("added")),
                    },
                    Action::Undo { of } => {
                        (format!("Undid version {}", structure_version(*of)), None)
                    }
                    Action::Redo { of } => (
                        match context.redone.get(of) {
                            Some(original) => {
                                format!("Redid version {}", structure_version(*original))
                            }
                            None => format!("Redid what version {} undid", structure_version(*of)),
                        },
                        None,
                    ),
                    Action::Restore { to, shown_as } => (
                        format!(
                            "Restored version {}",
                            restore::restored_version(*to, *shown_as, &context.produced)
                        ),
                        None,
                    ),
                };
                Plan::Rows {
                    head,
                    verb,
                    effects,
                    version: *version,
                }
            }
            JournalOp::GeneratorSet {
                version, generator, ..
            } => {
                let existed = version
                    .get()
                    .checked_sub(1)
                    .is_some_and(|before| timeline.at(Version(before)).contains_key(generator));
                Plan::Generator {
                    head: if existed {
                        "Changed generator"
                    } else {
                        "Set up generator"
                    },
                    generator: *generator,
                    version: *version,
                }
            }
            JournalOp::GeneratorDeleted {
                version, generator, ..
            } => Plan::Generator {
                head: "Deleted generator",
                generator: *generator,
                version: *version,
            },
            JournalOp::StructureCreated { name, .. } => {
                Plan::Text(format!("Created the structure “{name}”"))
            }
            JournalOp::StructureUpdated { name, .. } => Plan::Text(format!(
                "Changed the structure's name or description (named “{name}”)"
            )),
            JournalOp::RulesSet { rules, .. } => Plan::Text(match rules.len() {
                1 => "Changed the permissions (1 rule)".to_owned(),
                n => format!("Changed the permissions ({n} rules)"),
            }),
            JournalOp::ViewSet { config, .. } => {
                Plan::Text(format!("Saved view “{}”", config.name))
            }
            JournalOp::ForestReplaced { .. } => Plan::Text("Replaced all rows".to_owned()),
            other => Plan::Text(other.name().to_owned()),
        })
        .collect();

    // The names to look up: the first rows of each kind, and the generators as they were then.
    let mut issues = BTreeSet::new();
    let mut generators: Vec<(GeneratorId, Version)> = Vec::new();
    for plan in &plans {
        match plan {
            Plan::Rows {
                effects, version, ..
            } => {
                for rows in [&effects.added, &effects.removed, &effects.moved] {
                    for row in rows.iter().filter(|r| !is_generator(r)).take(NAMED) {
                        if let Item::Issue(issue) = row.item {
                            issues.insert(issue);
                        }
                    }
                }
                for row in effects.rows() {
                    if let Item::Generator(g) = row.item {
                        generators.push((g, *version));
                    }
                }
            }
            Plan::Generator {
                generator, version, ..
            } => generators.push((*generator, *version)),
            Plan::Text(_) => {}
        }
    }
    generators.sort_unstable();
    generators.dedup();
    let keys = hidden::keys_shown(state, caller, access, issues).await?;
    let configs: Vec<(usize, Generator)> = generators
        .iter()
        .enumerate()
        .filter_map(|(i, (g, v))| {
            let config = timeline.config(*g, *v)?;
            Some((i, serde_json::from_value(config.clone()).ok()?))
        })
        .collect();
    let words = shown::words(
        state,
        caller,
        access,
        &configs.iter().map(|(_, g)| g.clone()).collect::<Vec<_>>(),
    )
    .await;
    let mut generator_words: HashMap<(GeneratorId, Version), String> = HashMap::new();
    for ((i, _), words) in configs.iter().zip(words) {
        generator_words.insert(generators[*i], words);
    }
    let names = Names {
        keys: &keys,
        generators: &generator_words,
    };

    Ok(plans
        .into_iter()
        .map(|plan| match plan {
            Plan::Rows {
                head,
                verb: verb @ Some(_),
                effects,
                version,
            } => {
                let rows = match verb {
                    Some("removed") => &effects.removed,
                    Some("moved") => &effects.moved,
                    _ => &effects.added,
                };
                let rows = names.things(rows, version);
                // A single generator reads "Added generator: …".
                match rows.strip_prefix("generator") {
                    Some(rest) if rest.starts_with(':') => format!("{head} generator{rest}"),
                    _ => format!("{head} {rows}"),
                }
            }
            Plan::Rows {
                head,
                verb: None,
                effects,
                version,
            } => {
                let mut parts = Vec::new();
                for (verb, rows) in [
                    ("removed", &effects.removed),
                    ("added", &effects.added),
                    ("moved", &effects.moved),
                ] {
                    if !rows.is_empty() {
                        parts.push(format!("{verb} {}", names.things(rows, version)));
                    }
                }
                if parts.is_empty() {
                    format!("{head} (rows put back in their places)")
                } else {
                    format!("{head} ({})", parts.join("; "))
                }
            }
            Plan::Generator {
                head,
                generator,
                version,
            } => format!("{head}: {}", names.generator(generator, version)),
            Plan::Text(text) => text,
        })
        .collect())
}

fn is_generator(row: &Row) -> bool {
    matches!(row.item, Item::Generator(_))
}

/// The names the reader may read.
struct Names<'a> {
    keys: &'a HashMap<IssueId, Arc<str>>,
    generators: &'a HashMap<(GeneratorId, Version), String>,
}

impl Names<'_> {
    fn generator(&self, generator: GeneratorId, version: Version) -> String {
        self.generators
            .get(&(generator, version))
            .cloned()
            .unwrap_or_else(|| "a generator whose settings are no longer stored".to_owned())
    }

    /// "AC-1", "3 rows: AC-1, folder “Q3” and 1 hidden row", "generator: Inserts …", "2 rows: … and
    /// generator: …".
    fn things(&self, rows: &[Row], version: Version) -> String {
        let others: Vec<&Row> = rows.iter().filter(|r| !is_generator(r)).collect();
        let generators: Vec<String> = rows
            .iter()
            .filter_map(|r| match r.item {
                Item::Generator(g) => Some(self.generator(g, version)),
                _ => None,
            })
            .collect();
        let mut parts = Vec::new();
        if !others.is_empty() {
            let mut names = Vec::new();
            let mut hidden = 0;
            for row in others.iter().take(NAMED) {
                match &row.item {
                    Item::Issue(issue) => match self.keys.get(issue) {
                        Some(key) => names.push(key.to_string()),
                        None => hidden += 1,
                    },
                    Item::Folder(name) => names.push(format!("folder “{}”", name.as_str())),
                    Item::Memo(text) => names.push(format!("memo “{}”", short(text.as_str()))),
                    Item::Generator(_) => {}
                }
            }
            let more = others.len() - others.len().min(NAMED);
            if names.is_empty() && more == 0 {
                parts.push(plural(hidden, "hidden row"));
            } else {
                if hidden > 0 {
                    names.push(plural(hidden, "hidden row"));
                }
                if more > 0 {
                    names.push(format!("{more} more"));
                }
                let list = and(&names);
                parts.push(if others.len() == 1 {
                    list
                } else {
                    format!("{} rows: {list}", others.len())
                });
            }
        }
        match generators.len() {
            0 => {}
            1 => parts.push(format!("generator: {}", generators[0])),
            n => parts.push(format!("{n} generators: {}", generators.join("; "))),
        }
        if parts.is_empty() {
            "no rows".to_owned()
        } else {
            parts.join(" and ")
        }
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// "a", "a and b", "a, b and c".
fn and(names: &[String]) -> String {
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// A memo's first words.
fn short(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", text[..end].trim_end()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_sentences() {
        assert_eq!(and(&["a".into()]), "a");
        assert_eq!(and(&["a".into(), "b".into(), "c".into()]), "a, b and c");
        assert_eq!(short("short"), "short");
        assert_eq!(short(&"x".repeat(50)), format!("{}…", "x".repeat(40)));
    }
}
