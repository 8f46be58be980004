//! Which fields exist, what their values look like, and which of them an issue view can provide.
//!
//! Invariant: field names resolve case-insensitively, through Jira's aliases (`type` → `issuetype`, `key`/`id`/
//! `issuekey` → `issue`, `cf[10016]` and `customfield_10016` → custom field 10016, custom field names).

use std::collections::{HashMap, HashSet};

use crate::ast::FieldName;

/// Jira's system fields that the evaluator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemField {
    Project,
    IssueType,
    Status,
    StatusCategory,
    Priority,
    Resolution,
    Assignee,
    Reporter,
    Creator,
    Summary,
    Description,
    Environment,
    Comment,
    Labels,
    Components,
    FixVersions,
    AffectedVersions,
    Sprint,
    Parent,
    /// The issue itself: `key`, `id`, `issue`, `issuekey`.
    Issue,
    /// The issue's links, each as [`super::Value::Link`].
    IssueLinks,
    Created,
    Updated,
    Resolved,
    Due,
}

/// The key an [`super::IssueView`] is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldKey {
    System(SystemField),
    /// `customfield_<id>`.
    Custom(u64),
}

/// The shape of a field's values, which decides the operators it accepts and how literals are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Free text, searched with `~` (summary, description, text custom fields).
    Text,
    /// Exact strings (labels, select-list values by name).
    Exact,
    Number,
    /// A calendar day without time (due date, date pickers).
    Date,
    DateTime,
    /// A person, matched by account id (or display name).
    User,
    /// Something with an id and a name (status, priority, versions, components, sprints, ...).
    Named,
    /// An issue, by key or id (`issue`, `parent`).
    Issue,
    /// Issue links, matched by link type name or direction description (`issueLinkType`).
    IssueLink,
}

/// A resolved field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// What to ask the view for. The virtual `text` field reads several keys.
    pub keys: Vec<FieldKey>,
    pub kind: FieldKind,
    /// The name used in messages (`status`, `cf[10016]`).
    pub name: String,
}

/// What the evaluator knows about fields. Implement it to add fields, or use [`StandardCatalog`].
pub trait FieldCatalog {
    /// The field a query names; `None` if no such field exists.
    fn resolve(&self, name: &FieldName) -> Option<FieldInfo>;

    /// Whether issue views can provide this field (arbor's cache may hold only some fields).
    fn is_available(&self, _key: FieldKey) -> bool {
        true
    }
}

/// Jira's system fields, plus custom fields registered by id and name, optionally limited to the fields the
/// caller's issue views hold.
#[derive(Debug, Clone, Default)]
pub struct StandardCatalog {
    custom: HashMap<u64, (String, FieldKind)>,
    custom_by_name: HashMap<String, u64>,
    available: Option<HashSet<FieldKey>>,
}

impl StandardCatalog {
    /// The system fields only.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers custom field `customfield_<id>` under `name` (names resolve case-insensitively).
    #[must_use]
    pub fn with_custom_field(mut self, id: u64, name: &str, kind: FieldKind) -> Self {
        self.custom.insert(id, (name.to_owned(), kind));
        self.custom_by_name.insert(name.to_lowercase(), id);
        self
    }

    /// Declares that views provide only these fields; the others make a query non-local.
    #[must_use]
    pub fn with_available(mut self, keys: impl IntoIterator<Item = FieldKey>) -> Self {
        self.available = Some(keys.into_iter().collect());
        self
    }

    fn custom(&self, id: u64) -> Option<FieldInfo> {
        let (_, kind) = self.custom.get(&id)?;
        Some(FieldInfo {
            keys: vec![FieldKey::Custom(id)],
            kind: *kind,
            name: format!("cf[{id}]"),
        })
    }
}

/// The system field a lower-case JQL name stands for.
fn system(name: &str) -> Option<(SystemField, FieldKind)> {
    use FieldKind as K;
    use SystemField as F;
    Some(match name {
        "project" => (F::Project, K::Named),
        "issuetype" | "type" => (F::IssueType, K::Named),
        "status" => (F::Status, K::Named),
        "statuscategory" => (F::StatusCategory, K::Named),
        "priority" => (F::Priority, K::Named),
        "resolution" => (F::Resolution, K::Named),
        "assignee" => (F::Assignee, K::User),
        "reporter" => (F::Reporter, K::User),
        "creator" => (F::Creator, K::User),
        "summary" => (F::Summary, K::Text),
        "description" => (F::Description, K::Text),
        "environment" => (F::Environment, K::Text),
        "comment" => (F::Comment, K::Text),
        "labels" | "label" => (F::Labels, K::Exact),
        "component" | "components" => (F::Components, K::Named),
        "fixversion" | "fixversions" => (F::FixVersions, K::Named),
        "affectedversion" | "affectsversion" => (F::AffectedVersions, K::Named),
        "sprint" => (F::Sprint, K::Named),
        "parent" => (F::Parent, K::Issue),
        "issue" | "issuekey" | "key" | "id" => (F::Issue, K::Issue),
        "issuelinktype" => (F::IssueLinks, K::IssueLink),
        "created" | "createddate" => (F::Created, K::DateTime),
        "updated" | "updateddate" => (F::Updated, K::DateTime),
        "resolved" | "resolutiondate" => (F::Resolved, K::DateTime),
        "due" | "duedate" => (F::Due, K::Date),
        _ => return None,
    })
}

impl FieldCatalog for StandardCatalog {
    fn resolve(&self, name: &FieldName) -> Option<FieldInfo> {
        let name = match name {
            FieldName::Custom(_) => return self.custom(name.custom_id()?),
            FieldName::Number(_) => return None,
            FieldName::Name(name) => name.to_lowercase(),
        };
        if name == "text" {
            let keys = [
                SystemField::Summary,
                SystemField::Description,
                SystemField::Environment,
                SystemField::Comment,
            ]
            .map(FieldKey::System)
            .to_vec();
            return Some(FieldInfo {
                keys,
                kind: FieldKind::Text,
                name,
            });
        }
        if let Some((field, kind)) = system(&name) {
            return Some(FieldInfo {
                keys: vec![FieldKey::System(field)],
                kind,
                name,
            });
        }
        if let Some(id) = name
            .strip_prefix("customfield_")
            .and_then(|id| id.parse().ok())
        {
            return self.custom(id);
        }
        self.custom_by_name
            .get(&name)
            .and_then(|id| self.custom(*id))
    }

    fn is_available(&self, key: FieldKey) -> bool {
        self.available
            .as_ref()
            .is_none_or(|keys| keys.contains(&key))
    }
}
