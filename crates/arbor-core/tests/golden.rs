//! Golden tests on the real issues in `../shared/data/tidev-jira`: the engine's trees are compared with counts
//! computed here, directly from the file, without the engine.
//!
//! The test plays the caller's part of the needs protocol: it answers JQL by evaluating it locally over the
//! whole file, children through the `epic`/`parent` relations, and fields from the issue JSON.

// Helpers outside #[test] functions count as non-test code for clippy; here a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use arbor_core::columns::FieldBindings;
use arbor_core::data::{FieldId, FieldValue, Issue, IssueData, Link, LinkDirection};
use arbor_core::effective::{
    Clock, EffectiveForest, EffectiveItem, Evaluation, Limits, RunContext, evaluate,
};
use arbor_core::forest::{Forest, Item, Row};
use arbor_core::generator::{Generator, Levels};
use arbor_core::ids::{GeneratorId, IssueId, RowId};
use arbor_core::permission::visible_to;
use jql::eval::{EvalContext, Matcher, StandardCatalog, Timestamp};
use serde_json::Value as Json;

struct Site {
    raw: Vec<Json>,
    issues: HashMap<IssueId, Issue>,
    children: HashMap<IssueId, Vec<IssueId>>,
}

fn data_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/tidev-jira/issues.jsonl.gz")
}

fn site() -> Option<&'static Site> {
    static SITE: OnceLock<Option<Site>> = OnceLock::new();
    SITE.get_or_init(|| {
        let file = std::fs::File::open(data_file()).ok()?;
        let reader = BufReader::new(flate2::read::GzDecoder::new(file));
        let raw: Vec<Json> = reader
            .lines()
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect();
        let by_key: HashMap<&str, IssueId> = raw
            .iter()
            .map(|i| (i["key"].as_str().unwrap(), id_of(&i["id"])))
            .collect();
        let issues: HashMap<IssueId, Issue> =
            raw.iter().map(|i| (id_of(&i["id"]), to_issue(i))).collect();
        // Children through `parent` as Jira Cloud has it: epic → issues carrying `epic`, issue → sub-tasks.
        let mut children: HashMap<IssueId, Vec<IssueId>> = HashMap::new();
        for issue in &raw {
            let fields = &issue["fields"];
            let parent = fields["parent"]["key"]
                .as_str()
                .or_else(|| fields["epic"]["key"].as_str());
            if let Some(parent) = parent.and_then(|k| by_key.get(k)) {
                children
                    .entry(*parent)
                    .or_default()
                    .push(id_of(&issue["id"]));
            }
        }
        Some(Site {
            raw,
            issues,
            children,
        })
    })
    .as_ref()
}

fn id_of(value: &Json) -> IssueId {
    let n = value
        .as_str()
        .map_or_else(|| value.as_u64(), |s| s.parse().ok())
        .unwrap();
    IssueId::new(n).unwrap()
}

fn named(value: &Json, key: Option<&str>) -> Option<FieldValue> {
    let id = value["id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| value["id"].as_u64().map(|n| n.to_string()))?;
    Some(FieldValue::Named {
        id: id.into(),
        name: value["name"].as_str()?.into(),
        key: key.map(Into::into),
    })
}

fn to_issue(raw: &Json) -> Issue {
    let fields = &raw["fields"];
    let mut issue = Issue::new(id_of(&raw["id"]), raw["key"].as_str().unwrap());
    issue.set(
        FieldId::new("summary"),
        fields["summary"].as_str().map(FieldValue::text),
    );
    issue.set(
        FieldId::new("status"),
        named(
            &fields["status"],
            fields["status"]["statusCategory"]["key"].as_str(),
        ),
    );
    issue.set(FieldId::new("issuetype"), named(&fields["issuetype"], None));
    issue.set(
        FieldId::new("project"),
        named(&fields["project"], fields["project"]["key"].as_str()),
    );
    issue.set(
        FieldId::new("resolution"),
        named(&fields["resolution"], None),
    );
    let links = fields["issuelinks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|link| {
            let (direction, other, phrase) = if link["outwardIssue"].is_object() {
                (
                    LinkDirection::Outward,
                    &link["outwardIssue"],
                    &link["type"]["outward"],
                )
            } else {
                (
                    LinkDirection::Inward,
                    &link["inwardIssue"],
                    &link["type"]["inward"],
                )
            };
            Link {
                type_id: link["type"]["id"].as_str().unwrap().into(),
                type_name: link["type"]["name"].as_str().unwrap().into(),
                direction,
                description: phrase.as_str().unwrap_or_default().into(),
                other: id_of(&other["id"]),
                other_key: other["key"].as_str().unwrap().into(),
            }
        })
        .collect();
    issue.set_links(links);
    issue.set_subtasks(
        fields["subtasks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| id_of(&s["id"]))
            .collect(),
    );
    issue
}

struct Fixed;
impl Clock for Fixed {
    fn elapsed(&self) -> Duration {
        Duration::ZERO
    }
}

/// Runs the engine, answering its needs from the file, until nothing is missing. Returns the evaluation and
/// the number of rounds it took.
fn run_to_completion(
    site: &Site,
    rows: Vec<Row>,
    generators: &HashMap<GeneratorId, Generator>,
) -> (Evaluation, usize) {
    let forest = Forest::from_rows(rows).unwrap();
    let catalog = StandardCatalog::new();
    let bindings = FieldBindings::standard(&FieldId::new("customfield_10016"));
    let rank = FieldId::new("customfield_10019");
    let context = RunContext {
        generators,
        catalog: &catalog,
        jql: EvalContext::at(Timestamp(1_700_000_000_000)),
        rank_field: &rank,
        bindings: &bindings,
        limits: Limits::default(),
        clock: &Fixed,
    };
    let mut data = IssueData::new();
    for round in 1..=20 {
        let evaluation = evaluate(&forest, &data, &context).unwrap();
        // Every issue row must be fetched before it can be shown.
        let mut needs = evaluation.needs.clone();
        for row in 0..evaluation.forest.len() {
            if let Some(id) = evaluation.forest.issue(row)
                && data.issue(id).is_none()
                && !data.is_hidden(id)
            {
                needs.issues.insert(id);
            }
        }
        if needs.is_empty() {
            return (evaluation, round);
        }
        for query in &needs.jql {
            let parsed = jql::parse(query).unwrap();
            let matcher = Matcher::compile(&parsed, &catalog, &context.jql).unwrap();
            let mut ids: Vec<IssueId> = site
                .issues
                .values()
                .filter(|i| matcher.matches(*i))
                .map(|i| i.id)
                .collect();
            ids.sort();
            data.insert_jql(query, ids);
        }
        for id in needs.issues.iter().chain(&needs.children) {
            match site.issues.get(id) {
                Some(issue) => data.insert_issue(issue.clone()),
                // Dangling references: Jira does not return them.
                None => data.insert_hidden(*id),
            }
        }
        for id in &needs.children {
            data.insert_children(*id, site.children.get(id).cloned().unwrap_or_default());
        }
    }
    panic!("the needs protocol did not converge in 20 rounds");
}

fn generator_rows(generators: &[(u64, Generator)]) -> (Vec<Row>, HashMap<GeneratorId, Generator>) {
    let rows = generators
        .iter()
        .enumerate()
        .map(|(i, (g, _))| {
            Row::new(
                RowId::new(i as u64 + 1).unwrap(),
                0,
                Item::Generator(GeneratorId::new(*g).unwrap()),
            )
        })
        .collect();
    let map = generators
        .iter()
        .map(|(g, config)| (GeneratorId::new(*g).unwrap(), config.clone()))
        .collect();
    (rows, map)
}

fn count_by_depth(forest: &EffectiveForest) -> Vec<usize> {
    let mut counts = Vec::new();
    for row in 0..forest.len() {
        let depth = usize::from(forest.depth(row));
        if counts.len() <= depth {
            counts.resize(depth + 1, 0);
        }
        counts[depth] += 1;
    }
    counts
}

#[test]
fn epics_stories_and_subtasks_of_a_project() {
    let Some(site) = site() else {
        eprintln!("SKIPPED: {} is not there", data_file().display());
        return;
    };
    let project = "TIMOB";
    // Independent count from the file: the project's epics; the issues under them (carrying the epic, or
    // sub-tasks whose parent is the epic — the data has both); and the sub-tasks of those.
    let key_of = |i: &Json| i["key"].as_str().unwrap().to_owned();
    let parent_of = |i: &Json| {
        let fields = &i["fields"];
        fields["epic"]["key"]
            .as_str()
            .or_else(|| fields["parent"]["key"].as_str())
            .map(str::to_owned)
    };
    let epics: BTreeSet<String> = site
        .raw
        .iter()
        .filter(|i| {
            i["fields"]["project"]["key"] == project && i["fields"]["issuetype"]["name"] == "Epic"
        })
        .map(key_of)
        .collect();
    let level1: BTreeSet<String> = site
        .raw
        .iter()
        .filter(|i| parent_of(i).is_some_and(|p| epics.contains(&p)))
        .map(key_of)
        .collect();
    let level2 = site
        .raw
        .iter()
        .filter(|i| parent_of(i).is_some_and(|p| level1.contains(&p)))
        .count();
    assert!(
        epics.len() > 100 && level1.len() > 500 && level2 > 0,
        "{} {} {level2}",
        epics.len(),
        level1.len()
    );

    let (rows, generators) = generator_rows(&[
        (
            1,
            Generator::InsertJql {
                jql: format!("project = {project} AND issuetype = Epic"),
            },
        ),
        (
            2,
            Generator::ExtendChildren {
                levels: Levels { from: 1, to: 2 },
            },
        ),
    ]);
    let (evaluation, rounds) = run_to_completion(site, rows, &generators);
    assert!(evaluation.is_complete());
    assert!(rounds <= 5, "one round per level, not per issue: {rounds}");
    assert_eq!(
        count_by_depth(&evaluation.forest),
        vec![epics.len(), level1.len(), level2]
    );
    // Each row sits under the issue that is its parent in the file.
    let forest = &evaluation.forest;
    let key = |row: usize| site.issues[&forest.issue(row).unwrap()].key.to_string();
    let by_key: HashMap<String, &Json> = site.raw.iter().map(|i| (key_of(i), i)).collect();
    let mut parents: Vec<usize> = Vec::new();
    for row in 0..forest.len() {
        assert!(matches!(forest.item(row), EffectiveItem::Issue(_)));
        let depth = usize::from(forest.depth(row));
        parents.truncate(depth);
        if let Some(&parent) = parents.last() {
            assert_eq!(parent_of(by_key[&key(row)]), Some(key(parent)));
        }
        parents.push(row);
    }
}

#[test]
fn blocking_links_with_dangling_references_hidden() {
    let Some(site) = site() else {
        eprintln!("SKIPPED: {} is not there", data_file().display());
        return;
    };
    let project = "TIMOB";
    // Independent count: for each issue of the project, the distinct issues it blocks; those in the file are
    // shown, those outside it (other or private projects) are hidden.
    let in_file: HashSet<&str> = site
        .raw
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    let (mut shown, mut hidden, mut top) = (0, 0, 0);
    for issue in site
        .raw
        .iter()
        .filter(|i| i["fields"]["project"]["key"] == project)
    {
        top += 1;
        let mut targets: BTreeSet<&str> = BTreeSet::new();
        for link in issue["fields"]["issuelinks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if link["type"]["name"] == "Blocks" && link["outwardIssue"].is_object() {
                let key = link["outwardIssue"]["key"].as_str().unwrap();
                if key != issue["key"].as_str().unwrap() {
                    targets.insert(key);
                }
            }
        }
        for key in targets {
            if in_file.contains(key) {
                shown += 1;
            } else {
                hidden += 1;
            }
        }
    }
    assert!(shown > 100 && hidden > 0, "{shown} {hidden}");

    let (rows, generators) = generator_rows(&[
        (
            1,
            Generator::InsertJql {
                jql: format!("project = {project}"),
            },
        ),
        (
            2,
            Generator::ExtendLinks {
                link_type_id: "10000".into(),
                direction: LinkDirection::Outward,
                levels: Levels { from: 1, to: 1 },
            },
        ),
    ]);
    let (evaluation, _) = run_to_completion(site, rows, &generators);
    let counts = count_by_depth(&evaluation.forest);
    assert_eq!(counts, vec![top, shown + hidden]);

    let mut data = IssueData::new();
    for row in 0..evaluation.forest.len() {
        let id = evaluation.forest.issue(row).unwrap();
        match site.issues.get(&id) {
            Some(issue) => data.insert_issue(issue.clone()),
            None => data.insert_hidden(id),
        }
    }
    let visible = visible_to(&evaluation.forest, &data);
    assert_eq!(visible.hidden, hidden);
    assert_eq!(count_by_depth(&visible.forest), vec![top, shown]);
}
