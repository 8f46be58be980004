//! Scenario `forest`: the effective forest of a structure whose data is already in memory — a JQL inserter
//! (epics), a parent extender (their stories), a link extender (what stories block), a grouper (epics by
//! status), a sorter (by story points) and three totals — then the person's visibility filter.
//!
//! Figures: `compute_ms` (median, target 100 ms at 100,000 rows and 1,500 ms at 1,000,000 — SPEC §8),
//! `rows` (what was computed) and `bytes_per_row` (heap of the effective forest per row).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arbor_core::columns::{self, Column, FieldBindings, ForestRows, TotalFunction, TotalScope};
use arbor_core::data::{FieldId, FieldValue, Issue, IssueData, Link, LinkDirection};
use arbor_core::effective::{Clock, Limits, RunContext, evaluate};
use arbor_core::forest::{Forest, Item, Row};
use arbor_core::generator::{Generator, Levels};
use arbor_core::ids::{GeneratorId, IssueId, RowId};
use arbor_core::permission::visible_to;
use jql::eval::{EvalContext, StandardCatalog, Timestamp};
use serde_json::{Map, Value};

use crate::{Figure, Runs, median_time, ms};

const STORY_POINTS: &str = "customfield_10016";
const JQL: &str = "project = BENCH AND issuetype = Epic";

struct Wall(Instant);

impl Clock for Wall {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// In-memory data for about `rows` effective rows: epics with 15 stories each, every fourth story blocking
/// another story.
/// The field ids every part of a run shares, as the Jira layer shares the ids of its request with the data it
/// fetches (cheap `Arc` clones), which makes field lookups pointer comparisons.
struct Fields {
    status: FieldId,
    points: FieldId,
    bindings: FieldBindings,
}

impl Fields {
    fn new() -> Self {
        let points = FieldId::new(STORY_POINTS);
        let bindings = FieldBindings::standard(&points);
        let status = bindings
            .field_for("status")
            .unwrap_or_else(|| FieldId::new("status"));
        Self {
            status,
            points,
            bindings,
        }
    }
}

fn dataset(rows: usize, fields: &Fields) -> IssueData {
    let (status_field, points_field) = (&fields.status, &fields.points);
    let epics = (rows / 20).max(1) as u64;
    let stories_per_epic = 15u64;
    let stories = epics * stories_per_epic;
    let mut data = IssueData::new();
    let status = |n: u64| {
        let (name, category) = [
            ("Open", "new"),
            ("In Progress", "indeterminate"),
            ("Done", "done"),
        ][(n % 3) as usize];
        FieldValue::Named {
            id: name.into(),
            name: name.into(),
            key: Some(category.into()),
        }
    };
    let id = |n: u64| IssueId::new(n).unwrap_or_else(|_| unreachable!("benchmark ids start at 1"));
    let mut epic_ids = Vec::with_capacity(epics as usize);
    for e in 0..epics {
        let epic = id(1 + e);
        epic_ids.push(epic);
        let mut issue = Issue::new(epic, &format!("BENCH-{}", 1 + e));
        issue.set(status_field.clone(), Some(status(e)));
        issue.set(points_field.clone(), Some(FieldValue::Number(0.0)));
        issue.set_links(Vec::new());
        data.insert_issue(issue);
        let children: Vec<IssueId> = (0..stories_per_epic)
            .map(|s| id(epics + 1 + e * stories_per_epic + s))
            .collect();
        data.insert_children(epic, children);
    }
    for s in 0..stories {
        let n = epics + 1 + s;
        let mut issue = Issue::new(id(n), &format!("BENCH-{n}"))
            .with("status", status(n))
            .with(
                STORY_POINTS,
                FieldValue::Number([1.0, 2.0, 3.0, 5.0, 8.0][(n % 5) as usize]),
            );
        let links = if s % 4 == 0 {
            let other = epics + 1 + (s * 7919 + 13) % stories;
            vec![Link {
                type_id: "10000".into(),
                type_name: "Blocks".into(),
                direction: LinkDirection::Outward,
                description: "blocks".into(),
                other: id(other),
                other_key: format!("BENCH-{other}").into(),
            }]
        } else {
            Vec::new()
        };
        issue.set_links(links);
        data.insert_issue(issue);
        data.insert_children(id(n), Vec::new());
    }
    data.insert_jql(JQL, epic_ids);
    data
}

fn generators(fields: &Fields) -> (Forest, HashMap<GeneratorId, Generator>) {
    let configs = [
        Generator::InsertJql { jql: JQL.into() },
        Generator::ExtendChildren {
            levels: Levels { from: 1, to: 1 },
        },
        Generator::ExtendLinks {
            link_type_id: "10000".into(),
            direction: LinkDirection::Outward,
            levels: Levels { from: 2, to: 2 },
        },
        Generator::GroupByField {
            field: fields.status.clone(),
        },
        Generator::SortByField {
            field: fields.points.clone(),
            descending: true,
        },
    ];
    let mut rows = Vec::new();
    let mut map = HashMap::new();
    for (n, config) in (1u64..).zip(configs) {
        let (Ok(row), Ok(generator)) = (RowId::new(n), GeneratorId::new(n)) else {
            continue;
        };
        rows.push(Row::new(row, 0, Item::Generator(generator)));
        map.insert(generator, config);
    }
    let forest = Forest::from_rows(rows).unwrap_or_default();
    (forest, map)
}

/// Runs the scenario and returns its figures.
pub fn run(rows: usize, runs: Runs) -> Vec<Figure> {
    let fields = Fields::new();
    let data = dataset(rows, &fields);
    let (forest, generators) = generators(&fields);
    let catalog = StandardCatalog::new();
    let bindings = &fields.bindings;
    let rank = FieldId::new("customfield_10019");
    let totals = [
        Column::Totals {
            function: TotalFunction::Sum,
            field: "story_points".into(),
            scope: TotalScope::All,
            with_duplicates: false,
        },
        Column::Totals {
            function: TotalFunction::Count,
            field: "status".into(),
            scope: TotalScope::Leaves,
            with_duplicates: false,
        },
        Column::Totals {
            function: TotalFunction::Max,
            field: "story_points".into(),
            scope: TotalScope::Children,
            with_duplicates: false,
        },
    ];

    let mut computed_rows = 0;
    let mut bytes_per_row = 0.0;
    let mut complete = true;
    let time = median_time(
        runs,
        || (),
        |()| {
            let clock = Wall(Instant::now());
            let context = RunContext {
                generators: &generators,
                catalog: &catalog,
                jql: EvalContext::at(Timestamp(1_700_000_000_000)),
                rank_field: &rank,
                bindings,
                limits: Limits::default(),
                clock: &clock,
            };
            let Ok(evaluation) = evaluate(&forest, &data, &context) else {
                complete = false;
                return;
            };
            complete &= evaluation.is_complete();
            let visible = visible_to(&evaluation.forest, &data);
            let view = ForestRows::new(
                &visible.forest,
                &data,
                bindings,
                jiff::Timestamp::UNIX_EPOCH,
            );
            for column in &totals {
                std::hint::black_box(columns::compute(column, &view));
            }
            computed_rows = visible.forest.len();
            bytes_per_row = visible.forest.heap_bytes() as f64 / visible.forest.len().max(1) as f64;
        },
    );

    let mut params = Map::new();
    params.insert("rows".into(), Value::from(rows));
    let target = if rows <= 100_000 {
        Some(100.0)
    } else if rows <= 1_000_000 {
        Some(1500.0)
    } else {
        None
    };
    let mut compute = Figure::new("forest", &params, "compute_ms", ms(time), "ms");
    if let Some(target) = target {
        compute = compute.target(target);
    }
    let mut figures = vec![
        compute,
        Figure::new("forest", &params, "rows", computed_rows as f64, "rows"),
        Figure::new(
            "forest",
            &params,
            "bytes_per_row",
            (bytes_per_row * 10.0).round() / 10.0,
            "bytes",
        ),
    ];
    if !complete {
        figures.push(Figure::new("forest", &params, "incomplete_runs", 1.0, "count").target(0.0));
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_builds_about_the_requested_rows_completely() {
        let figures = run(
            2_000,
            Runs {
                warmup: 0,
                measured: 1,
            },
        );
        let rows = figures.iter().find(|f| f.metric == "rows").unwrap().value;
        assert!((1_900.0..=2_200.0).contains(&rows), "{rows}");
        assert!(
            figures.iter().all(|f| f.metric != "incomplete_runs"),
            "{figures:?}"
        );
        assert_eq!(figures[0].target, Some(100.0));
    }
}
