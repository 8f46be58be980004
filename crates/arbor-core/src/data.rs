//! The issue data the engine works with, and the "needs" protocol through which it asks for more.
//!
//! The engine never fetches anything. It reads what the caller has put in an [`IssueData`] and, for everything
//! missing, records a [`Needs`] entry; the caller fetches all of it in bulk (so the Jira layer can batch
//! optimally), adds it, and runs the engine again.
//!
//! Invariants:
//! - A field that was fetched and is empty is different from a field that was not fetched: the first is an
//!   empty value, the second a need.
//! - Values are kept in memory only and are never serialised by this crate.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use jql::eval::{Day, FieldKey, IssueView, SystemField, Timestamp, Value};
// Issue ids and field ids come from Jira and from configuration, not from people typing: a fast hash is safe.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::ids::IssueId;

/// A Jira field id: `summary`, `status`, `customfield_10016`, ...
///
/// Interned: every `FieldId` with the same text shares one allocation, so equality is a pointer comparison —
/// field lookups happen for every row and column, millions of times per run. The set of field ids a site has
/// is small (hundreds to a few thousand), so the interner stays small.
#[derive(Debug, Clone, PartialOrd, Ord, serde::Serialize)]
#[serde(into = "String")]
pub struct FieldId(Arc<str>);

impl PartialEq for FieldId {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for FieldId {}

impl std::hash::Hash for FieldId {
    // By text, which agrees with equality by pointer because equal texts share one allocation.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

fn interned(id: &str) -> Arc<str> {
    static INTERNED: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    let mut set = INTERNED
        .get_or_init(|| Mutex::new(HashSet::default()))
        .lock()
        // The set is only ever inserted into; a panic elsewhere cannot leave it inconsistent.
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = set.get(id) {
        return Arc::clone(existing);
    }
    let new: Arc<str> = Arc::from(id);
    set.insert(Arc::clone(&new));
    new
}

impl From<FieldId> for String {
    fn from(id: FieldId) -> Self {
        id.0.to_string()
    }
}

impl FieldId {
    pub fn new(id: &str) -> Self {
        Self(interned(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the field the JQL evaluator calls `key`, if it has one here.
    pub fn for_jql(key: FieldKey) -> Option<Self> {
        match key {
            FieldKey::Custom(n) => Some(Self::new(&format!("customfield_{n}"))),
            FieldKey::System(field) => system_field_id(field).map(Self::new),
        }
    }
}

/// The Jira id of a system field the JQL evaluator knows (no allocation: this runs for every field read).
fn system_field_id(field: SystemField) -> Option<&'static str> {
    let id = match field {
        SystemField::Project => "project",
        SystemField::IssueType => "issuetype",
        // The status category is read from the status value.
        SystemField::Status | SystemField::StatusCategory => "status",
        SystemField::Priority => "priority",
        SystemField::Resolution => "resolution",
        SystemField::Assignee => "assignee",
        SystemField::Reporter => "reporter",
        SystemField::Creator => "creator",
        SystemField::Summary => "summary",
        SystemField::Description => "description",
        SystemField::Environment => "environment",
        SystemField::Comment => "comment",
        SystemField::Labels => "labels",
        SystemField::Components => "components",
        SystemField::FixVersions => "fixVersions",
        SystemField::AffectedVersions => "versions",
        SystemField::Parent => "parent",
        SystemField::IssueLinks => "issuelinks",
        SystemField::Created => "created",
        SystemField::Updated => "updated",
        SystemField::Resolved => "resolutiondate",
        SystemField::Due => "duedate",
        // The sprint field is a custom field whose id differs between sites; the issue's own id and key
        // are always present.
        SystemField::Sprint | SystemField::Issue => return None,
    };
    Some(id)
}

/// One value of a field, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(Arc<str>),
    Number(f64),
    Date(Day),
    DateTime(Timestamp),
    User {
        account_id: Arc<str>,
        display_name: Arc<str>,
    },
    /// Status, priority, issue type, resolution, project, version, component, option... `key` is the project
    /// key or, for a status, its category key (`new`, `indeterminate`, `done`).
    Named {
        id: Arc<str>,
        name: Arc<str>,
        key: Option<Arc<str>>,
    },
    Issue {
        id: IssueId,
        key: Arc<str>,
    },
    /// Several values (labels, components, versions...). An empty list is an empty field.
    List(Vec<FieldValue>),
}

impl FieldValue {
    pub fn text(text: &str) -> Self {
        Self::Text(Arc::from(text))
    }

    pub fn named(id: &str, name: &str) -> Self {
        Self::Named {
            id: Arc::from(id),
            name: Arc::from(name),
            key: None,
        }
    }

    /// The number in this value, if it is one.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// What a person sees for this value (group headers, exports).
    pub fn display(&self) -> String {
        match self {
            Self::Text(text) => text.to_string(),
            Self::Number(n) => format_number(*n),
            Self::Date(day) => {
                let (y, m, d) = day.ymd();
                format!("{y:04}-{m:02}-{d:02}")
            }
            Self::DateTime(ts) => {
                let day = Day(ts.0.div_euclid(86_400_000));
                let (y, m, d) = day.ymd();
                let ms = ts.0.rem_euclid(86_400_000);
                format!(
                    "{y:04}-{m:02}-{d:02} {:02}:{:02}",
                    ms / 3_600_000,
                    ms / 60_000 % 60
                )
            }
            Self::User { display_name, .. } => display_name.to_string(),
            Self::Named { name, .. } => name.to_string(),
            Self::Issue { key, .. } => key.to_string(),
            Self::List(values) => values
                .iter()
                .map(Self::display)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    fn visit_jql(&self, field: FieldKey, visit: &mut dyn FnMut(Value<'_>)) {
        match self {
            Self::Text(text) => visit(Value::Text(text)),
            Self::Number(n) => visit(Value::Number(*n)),
            Self::Date(day) => visit(Value::Date(*day)),
            Self::DateTime(ts) => visit(Value::DateTime(*ts)),
            Self::User {
                account_id,
                display_name,
            } => {
                visit(Value::User {
                    account_id,
                    display_name: Some(display_name),
                });
            }
            Self::Named { id, name, key } => {
                if field == FieldKey::System(SystemField::StatusCategory) {
                    if let Some(category) = key {
                        visit(Value::Named {
                            id: category,
                            name: category,
                            key: Some(category),
                        });
                    }
                } else {
                    visit(Value::Named {
                        id,
                        name,
                        key: key.as_deref(),
                    });
                }
            }
            Self::Issue { id, key } => visit(Value::Issue { id: id.get(), key }),
            Self::List(values) => values.iter().for_each(|v| v.visit_jql(field, visit)),
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// Direction of an issue link, seen from the issue that holds it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LinkDirection {
    /// This issue is the link's source ("blocks" the other).
    Outward,
    /// This issue is the link's target ("is blocked by" the other).
    Inward,
}

/// One issue link as seen from one of its ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub type_id: Arc<str>,
    pub type_name: Arc<str>,
    pub direction: LinkDirection,
    /// The phrase from this issue's side ("blocks", "is blocked by").
    pub description: Arc<str>,
    pub other: IssueId,
    pub other_key: Arc<str>,
}

/// What the engine knows of one issue: its key and the fields fetched so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub id: IssueId,
    pub key: Arc<str>,
    /// A short list, not a map: issues carry a dozen fields at most, and a scan of pointer comparisons beats
    /// hashing the field id on every read.
    fields: Vec<(FieldId, Option<FieldValue>)>,
    links: Option<Vec<Link>>,
    subtasks: Option<Vec<IssueId>>,
}

impl Issue {
    pub fn new(id: IssueId, key: &str) -> Self {
        Self {
            id,
            key: Arc::from(key),
            fields: Vec::new(),
            links: None,
            subtasks: None,
        }
    }

    /// Records a fetched field; `None` is a fetched, empty field.
    pub fn set(&mut self, field: FieldId, value: Option<FieldValue>) {
        let value = value.filter(|v| !matches!(v, FieldValue::List(list) if list.is_empty()));
        match self.fields.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((field, value)),
        }
    }

    pub fn with(mut self, field: &str, value: FieldValue) -> Self {
        self.set(FieldId::new(field), Some(value));
        self
    }

    fn slot(&self, field: &FieldId) -> Option<&Option<FieldValue>> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, v)| v)
    }

    pub fn set_links(&mut self, links: Vec<Link>) {
        self.links = Some(links);
    }

    pub fn set_subtasks(&mut self, subtasks: Vec<IssueId>) {
        self.subtasks = Some(subtasks);
    }

    /// `None` when the field was not fetched; `Some(None)` when it was and is empty.
    pub fn field(&self, field: &FieldId) -> Option<Option<&FieldValue>> {
        self.slot(field).map(Option::as_ref)
    }

    pub fn has_field(&self, field: &FieldId) -> bool {
        self.slot(field).is_some()
    }

    pub fn links(&self) -> Option<&[Link]> {
        self.links.as_deref()
    }

    pub fn subtasks(&self) -> Option<&[IssueId]> {
        self.subtasks.as_deref()
    }
}

impl IssueView for Issue {
    fn visit(&self, field: FieldKey, visit: &mut dyn FnMut(Value<'_>)) {
        match field {
            FieldKey::System(SystemField::Issue) => visit(Value::Issue {
                id: self.id.get(),
                key: &self.key,
            }),
            FieldKey::System(SystemField::IssueLinks) => {
                for link in self.links.iter().flatten() {
                    visit(Value::Link {
                        type_name: &link.type_name,
                        description: &link.description,
                        other_id: link.other.get(),
                        other_key: &link.other_key,
                    });
                }
            }
            FieldKey::System(system) => {
                let name = system_field_id(system);
                let slot =
                    name.and_then(|name| self.fields.iter().find(|(f, _)| f.as_str() == name));
                if let Some((_, Some(value))) = slot {
                    value.visit_jql(field, visit);
                }
            }
            FieldKey::Custom(n) => {
                let is_it = |f: &FieldId| {
                    f.as_str()
                        .strip_prefix("customfield_")
                        .and_then(|d| d.parse().ok())
                        == Some(n)
                };
                if let Some((_, Some(value))) = self.fields.iter().find(|(f, _)| is_it(f)) {
                    value.visit_jql(field, visit);
                }
            }
        }
    }
}

/// Everything the caller has fetched for one run of the engine, as one person sees it: issues Jira did not show
/// to that person are simply absent.
#[derive(Debug, Clone, Default)]
pub struct IssueData {
    /// Issues in arrival order, found through `index`: a small index entry per issue keeps lookups in cache
    /// at a million issues, where a map of whole issues would not.
    issues: Vec<Issue>,
    index: HashMap<IssueId, u32>,
    /// The ids a JQL query returned, in Jira's order.
    jql: HashMap<String, Vec<IssueId>>,
    /// The issues whose `parent` is the key issue (epic → stories, story → sub-tasks), in rank order.
    children: HashMap<IssueId, Vec<IssueId>>,
    /// Issues Jira did not return to this person when asked: they exist for others, or not at all.
    hidden: HashSet<IssueId>,
    /// The issue rows of other structures (`(issue, depth)` in order), for "insert a structure".
    structures: HashMap<u64, Vec<(IssueId, u32)>>,
}

impl IssueData {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert_issue(&mut self, issue: Issue) {
        match self
            .index
            .get(&issue.id)
            .and_then(|&i| self.issues.get_mut(i as usize))
        {
            // Later fetches add fields to what an earlier fetch brought.
            Some(existing) => {
                for (field, value) in issue.fields {
                    existing.set(field, value);
                }
                if issue.links.is_some() {
                    existing.links = issue.links;
                }
                if issue.subtasks.is_some() {
                    existing.subtasks = issue.subtasks;
                }
            }
            None => {
                let position = u32::try_from(self.issues.len()).unwrap_or(u32::MAX);
                self.index.insert(issue.id, position);
                self.issues.push(issue);
            }
        }
    }

    pub fn insert_jql(&mut self, query: &str, ids: Vec<IssueId>) {
        self.jql.insert(query.to_owned(), ids);
    }

    pub fn insert_children(&mut self, parent: IssueId, children: Vec<IssueId>) {
        self.children.insert(parent, children);
    }

    /// Records that Jira did not return this issue to the person.
    pub fn insert_hidden(&mut self, id: IssueId) {
        self.hidden.insert(id);
    }

    pub fn insert_structure(&mut self, structure_id: u64, rows: Vec<(IssueId, u32)>) {
        self.structures.insert(structure_id, rows);
    }

    /// Whether Jira refused to show this issue to the person (as opposed to: not asked yet).
    pub fn is_hidden(&self, id: IssueId) -> bool {
        self.hidden.contains(&id)
    }

    pub fn structure(&self, structure_id: u64) -> Option<&[(IssueId, u32)]> {
        self.structures.get(&structure_id).map(Vec::as_slice)
    }

    pub fn issue(&self, id: IssueId) -> Option<&Issue> {
        self.index
            .get(&id)
            .and_then(|&i| self.issues.get(i as usize))
    }

    pub fn issues(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter()
    }

    pub fn jql(&self, query: &str) -> Option<&[IssueId]> {
        self.jql.get(query).map(Vec::as_slice)
    }

    pub fn children(&self, parent: IssueId) -> Option<&[IssueId]> {
        self.children.get(&parent).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.issues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.issues.is_empty()
    }
}

/// What a run of the engine lacked. The caller fetches all of it and runs the engine again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// JQL queries whose result ids are needed.
    pub jql: BTreeSet<String>,
    /// Issues whose fields (`fields`) are needed, including `issuelinks` and `subtasks` for extenders.
    pub issues: BTreeSet<IssueId>,
    pub fields: BTreeSet<FieldId>,
    /// Issues whose children through `parent` are needed (fetched as `parent in (...)`).
    pub children: BTreeSet<IssueId>,
    /// Other structures whose issue rows are needed (after checking the person may view them).
    pub structures: BTreeSet<u64>,
}

impl Needs {
    pub fn is_empty(&self) -> bool {
        self.jql.is_empty()
            && self.issues.is_empty()
            && self.children.is_empty()
            && self.structures.is_empty()
    }

    pub fn field(&mut self, issue: IssueId, field: &FieldId) {
        self.issues.insert(issue);
        self.fields.insert(field.clone());
    }
}

#[cfg(test)]
mod tests {
    use jql::eval::{EvalContext, Matcher, StandardCatalog};

    use super::*;

    fn id(n: u64) -> IssueId {
        IssueId::new(n).unwrap()
    }

    #[test]
    fn fetched_empty_fields_differ_from_missing_ones() {
        let mut issue = Issue::new(id(1), "A-1");
        issue.set(FieldId::new("labels"), Some(FieldValue::List(vec![])));
        assert_eq!(issue.field(&FieldId::new("labels")), Some(None));
        assert_eq!(issue.field(&FieldId::new("summary")), None);
    }

    #[test]
    fn issues_answer_local_jql() {
        let issue = Issue::new(id(7), "TIMOB-7")
            .with("summary", FieldValue::text("Crash on start"))
            .with(
                "status",
                FieldValue::Named {
                    id: "6".into(),
                    name: "Closed".into(),
                    key: Some("done".into()),
                },
            )
            .with("customfield_10016", FieldValue::Number(5.0))
            .with("labels", FieldValue::List(vec![FieldValue::text("ios")]));
        let catalog = StandardCatalog::new().with_custom_field(
            10016,
            "Story point estimate",
            jql::eval::FieldKind::Number,
        );
        let context = EvalContext::at(Timestamp(0));
        let check = |q: &str| {
            let query = jql::parse(q).unwrap();
            Matcher::compile(&query, &catalog, &context)
                .unwrap()
                .matches(&issue)
        };
        assert!(check("summary ~ crash AND statusCategory = done"));
        assert!(check("cf[10016] >= 5 AND labels = ios AND key = TIMOB-7"));
        assert!(!check("status = Open"));
    }

    #[test]
    fn later_fetches_add_to_earlier_ones() {
        let mut data = IssueData::new();
        data.insert_issue(Issue::new(id(1), "A-1").with("summary", FieldValue::text("x")));
        let mut more = Issue::new(id(1), "A-1").with("customfield_10016", FieldValue::Number(3.0));
        more.set_subtasks(vec![id(2)]);
        data.insert_issue(more);
        let issue = data.issue(id(1)).unwrap();
        assert!(issue.has_field(&FieldId::new("summary")));
        assert!(issue.has_field(&FieldId::new("customfield_10016")));
        assert_eq!(issue.subtasks(), Some(&[id(2)][..]));
    }

    #[test]
    fn values_display_as_people_read_them() {
        assert_eq!(FieldValue::Number(3.0).display(), "3");
        assert_eq!(FieldValue::Number(2.5).display(), "2.5");
        assert_eq!(
            FieldValue::Date(Day::from_ymd(2026, 11, 23).unwrap()).display(),
            "2026-11-23"
        );
        assert_eq!(
            FieldValue::List(vec![
                FieldValue::named("1", "iOS"),
                FieldValue::named("2", "Android")
            ])
            .display(),
            "iOS, Android"
        );
    }
}
