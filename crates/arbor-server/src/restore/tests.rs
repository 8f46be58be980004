//! Restore over random histories: the server's steps (arbor-core's forest change, then [`writes`]) played
//! against a model of the store's configurations and journal, with the effective forest of every structure
//! version compared to the one a restore of it gives.

use std::collections::HashMap;
use std::time::Duration;

use arbor_core::columns::FieldBindings;
use arbor_core::data::{FieldId, FieldValue, Issue, IssueData};
use arbor_core::edit::{Edit, Fragment, Position};
use arbor_core::effective::{Clock, EffectiveForest, Limits, RunContext, evaluate};
use arbor_core::forest::Item;
use arbor_core::generator::Generator;
use arbor_core::history::{Applied, ApplyError, Author};
use arbor_core::ids::{ActorId, IssueId, SessionTag, Timestamp};
use jql::eval::{EvalContext, StandardCatalog};
use proptest::prelude::*;

use super::*;

struct Still;
impl Clock for Still {
    fn elapsed(&self) -> Duration {
        Duration::ZERO
    }
}

const CONFIGS: [&str; 7] = [
    r#"{"kind": "insert_jql", "jql": "project = A"}"#,
    r#"{"kind": "insert_jql", "jql": "project = B"}"#,
    r#"{"kind": "sort_by_field", "field": "points", "descending": true}"#,
    r#"{"kind": "sort_by_field", "field": "points", "descending": false}"#,
    r#"{"kind": "remove_duplicates"}"#,
    r#"{"kind": "extend_children", "levels": {"from": 1, "to": 2}}"#,
    r#"{"kind": "insert_keys", "keys": ["A-3", "A-9"]}"#,
];

fn config(choice: usize) -> Value {
    let generator: Generator = serde_json::from_str(CONFIGS[choice % CONFIGS.len()]).unwrap();
    serde_json::to_value(generator).unwrap()
}

fn id(n: u64) -> IssueId {
    IssueId::new(n).unwrap()
}

/// Issues A-1..A-12: A-1..6 in project A, A-7..12 in B; A-n's child is A-(n+6); points vary.
fn data() -> IssueData {
    let mut data = IssueData::new();
    for n in 1..=12u64 {
        let issue = Issue::new(id(n), &format!("A-{n}"))
            .with("points", FieldValue::Number(((n * 7) % 5) as f64));
        data.insert_issue(issue);
        data.insert_children(id(n), if n <= 6 { vec![id(n + 6)] } else { vec![] });
    }
    data.insert_jql("project = A", (1..=6).map(id).collect());
    data.insert_jql("project = B", (7..=12).map(id).collect());
    data
}

#[derive(Debug, Clone)]
enum Op {
    AddIssue { parent: usize, issue: u64 },
    AddGenerator { parent: usize, config: usize },
    ChangeGenerator { pick: usize, config: usize },
    DeleteGenerator { pick: usize },
    RemoveRow { pick: usize },
    MoveRow { pick: usize, parent: usize },
    Undo,
    Restore { to: usize, then_undo: bool },
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0usize..64;
    prop_oneof![
        3 => (n.clone(), 1u64..=12).prop_map(|(parent, issue)| Op::AddIssue { parent, issue }),
        3 => (n.clone(), n.clone()).prop_map(|(parent, config)| Op::AddGenerator { parent, config }),
        2 => (n.clone(), n.clone()).prop_map(|(pick, config)| Op::ChangeGenerator { pick, config }),
        1 => n.clone().prop_map(|pick| Op::DeleteGenerator { pick }),
        2 => n.clone().prop_map(|pick| Op::RemoveRow { pick }),
        2 => (n.clone(), n.clone()).prop_map(|(pick, parent)| Op::MoveRow { pick, parent }),
        1 => Just(Op::Undo),
        3 => (n, any::<bool>()).prop_map(|(to, then_undo)| Op::Restore { to, then_undo }),
    ]
}

/// A structure as the server keeps it: content, structure versions, stored configurations and the journal's
/// configuration changes.
struct Model {
    content: StructureContent,
    produced: Vec<Version>,
    version: Version,
    stored: Configs,
    timeline: Timeline,
    data: IssueData,
    /// The effective forest of every structure version (index = version); `None` where it does not evaluate
    /// (between a generator row's return and its configuration's, inside one request).
    effective: Vec<Option<EffectiveForest>>,
}

impl Model {
    fn new() -> Self {
        let mut model = Self {
            content: StructureContent::new(),
            produced: Vec::new(),
            version: Version(0),
            stored: Configs::new(),
            timeline: Timeline::default(),
            data: data(),
            effective: Vec::new(),
        };
        model.effective.push(model.evaluate());
        model
    }

    fn evaluate(&self) -> Option<EffectiveForest> {
        let generators: HashMap<GeneratorId, Generator> = self
            .stored
            .iter()
            .map(|(g, v)| (*g, serde_json::from_value(v.clone()).unwrap()))
            .collect();
        let catalog = StandardCatalog::new();
        let points = FieldId::new("points");
        let context = RunContext {
            generators: &generators,
            catalog: &catalog,
            jql: EvalContext::at(jql::eval::Timestamp(0)),
            rank_field: &FieldId::new("rank"),
            bindings: &FieldBindings::standard(&points),
            limits: Limits {
                budget: Duration::from_secs(60),
                max_rows: 100_000,
            },
            clock: &Still,
        };
        evaluate(self.content.forest(), &self.data, &context)
            .ok()
            .map(|e| e.forest)
    }

    fn bump(&mut self) -> Version {
        self.version = self.version.next().unwrap();
        self.version
    }

    fn set(&mut self, generator: GeneratorId, config: Option<Value>) {
        let version = self.bump();
        match &config {
            Some(config) => self.stored.insert(generator, config.clone()),
            None => self.stored.remove(&generator),
        };
        self.timeline.record(version, generator, config);
        self.effective.push(self.evaluate());
    }

    /// One forest change as `edits.rs` makes it: applied, saved, then the configurations that go with it.
    fn change(
        &mut self,
        run: impl FnOnce(&mut StructureContent) -> Result<Applied, ApplyError>,
    ) -> bool {
        let Ok(applied) = run(&mut self.content) else {
            return false;
        };
        let entry = self.content.entry(applied.version).unwrap().clone();
        let writes = writes(
            &self.content,
            &self.produced,
            &entry,
            &self.stored,
            &self.timeline,
        );
        let version = self.bump();
        self.produced.push(version);
        self.effective.push(self.evaluate());
        for (generator, config) in writes {
            self.set(generator, Some(config));
        }
        true
    }

    fn row(&self, pick: usize) -> Option<arbor_core::ids::RowId> {
        let forest = self.content.forest();
        (!forest.is_empty()).then(|| forest.row_id(pick % forest.len()))
    }

    fn parent(&self, pick: usize) -> Option<arbor_core::ids::RowId> {
        // One pick in three is the top level.
        if pick.is_multiple_of(3) {
            None
        } else {
            self.row(pick)
        }
    }

    fn edit(&mut self, edit: Edit) -> bool {
        let based_on = self.content.version();
        self.change(|c| c.apply(edit, based_on, &alice(), Timestamp::from_unix_millis(1)))
    }
}

/// Alice in one sign-in session, so that she may undo what she did.
fn alice() -> Author {
    Author::in_session(
        ActorId::new("alice").unwrap(),
        SessionTag::from_bytes(&[7; 16]),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// After restoring structure version v, the effective forest is v's; undoing the restore gives back the
    /// one before it, and redoing it v's again.
    #[test]
    fn a_restore_gives_back_the_effective_forest_of_its_version(ops in prop::collection::vec(op(), 1..40)) {
        let mut m = Model::new();
        for op in ops {
            match op {
                Op::AddIssue { parent, issue } => {
                    let at = Position::last_under(m.parent(parent));
                    m.edit(Edit::Add { rows: Fragment::single(Item::Issue(id(issue))), at });
                }
                Op::AddGenerator { parent, config: choice } => {
                    // As `config::add_generator`: the configuration, then its row.
                    let next = m.timeline.changes.iter().map(|(_, g, _)| g.get()).max().unwrap_or(0) + 1;
                    let generator = GeneratorId::new(next).unwrap();
                    m.set(generator, Some(config(choice)));
                    let at = Position::last_under(m.parent(parent));
                    m.edit(Edit::Add { rows: Fragment::single(Item::Generator(generator)), at });
                }
                Op::ChangeGenerator { pick, config: choice } => {
                    let Some(&generator) = m.stored.keys().nth(pick % m.stored.len().max(1)) else { continue };
                    m.set(generator, Some(config(choice)));
                }
                Op::DeleteGenerator { pick } => {
                    // As `config::remove_generator`: its rows, then its configuration.
                    let Some(&generator) = m.stored.keys().nth(pick % m.stored.len().max(1)) else { continue };
                    let rows: Vec<_> = m.content.forest().iter()
                        .filter(|r| r.item == ItemRef::Generator(generator)).map(|r| r.id).collect();
                    if !rows.is_empty() {
                        m.edit(Edit::Remove { rows });
                    }
                    m.set(generator, None);
                }
                Op::RemoveRow { pick } => {
                    if let Some(row) = m.row(pick) {
                        m.edit(Edit::Remove { rows: vec![row] });
                    }
                }
                Op::MoveRow { pick, parent } => {
                    if let Some(row) = m.row(pick) {
                        let to = Position::last_under(m.parent(parent));
                        m.edit(Edit::Move { rows: vec![row], to });
                    }
                }
                Op::Undo => {
                    m.change(|c| c.undo(&alice(), Timestamp::from_unix_millis(2)));
                }
                Op::Restore { to, then_undo } => {
                    let target = Version((to % (m.version.get() as usize + 1)) as u64);
                    let wanted = m.effective[target.get() as usize].clone();
                    let before = m.effective.last().cloned().flatten();
                    let to = forest_version(target, &m.produced);
                    let restored = m.change(|c| c.restore(to, Some(target.get()), &alice(), Timestamp::from_unix_millis(3)));
                    if !restored {
                        // Only a restore to the forest it already has is refused.
                        prop_assert_eq!(to, m.content.version());
                        continue;
                    }
                    let after = m.evaluate();
                    if wanted.is_some() {
                        prop_assert_eq!(&after, &wanted, "restoring version {}", target);
                    }
                    if then_undo {
                        prop_assert!(m.change(|c| c.undo(&alice(), Timestamp::from_unix_millis(4))));
                        prop_assert_eq!(&m.evaluate(), &before, "undoing the restore of version {}", target);
                        prop_assert!(m.change(|c| c.redo(&alice(), Timestamp::from_unix_millis(5))));
                        prop_assert_eq!(&m.evaluate(), &after, "redoing the restore of version {}", target);
                    }
                }
            }
        }
    }
}

#[test]
fn a_timeline_answers_for_any_version() {
    let g = |n| GeneratorId::new(n).unwrap();
    let mut timeline = Timeline::default();
    timeline.record(Version(1), g(1), Some(config(0)));
    timeline.record(Version(3), g(1), Some(config(1)));
    timeline.record(Version(4), g(2), Some(config(2)));
    timeline.record(Version(6), g(1), None);
    assert!(timeline.at(Version(0)).is_empty());
    assert_eq!(timeline.at(Version(2)), Configs::from([(g(1), config(0))]));
    assert_eq!(
        timeline.at(Version(5)),
        Configs::from([(g(1), config(1)), (g(2), config(2))])
    );
    assert_eq!(timeline.at(Version(6)), Configs::from([(g(2), config(2))]));
    assert_eq!(timeline.last(g(1)), Some(&config(1)));
    assert_eq!(timeline.config(g(1), Version(2)), Some(&config(0)));
    assert_eq!(timeline.config(g(1), Version(7)), Some(&config(1)));
}
