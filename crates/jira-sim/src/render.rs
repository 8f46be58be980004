//! Jira Cloud REST v3 JSON for issues and the objects inside them, for a field selection.
//!
//! Shapes follow the OpenAPI schemas in `../shared/data/jira-openapi/` (`IssueBean`, `IssueLink`, `LinkedIssue`,
//! `Fields`, `UserDetails`, `IssueTypeDetails`, `StatusDetails`, `TimeTrackingDetails`, `Version`, ...).
//!
//! Invariants:
//! - Rich text (`description`, `environment`) is Atlassian Document Format: a `doc` of paragraphs whose `text`
//!   nodes are never empty, with `hardBreak` between lines; empty text is `null`.
//! - A requested field is always present in `fields`: empty single values are `null`, empty lists `[]`.
//! - Linked issues and sub-tasks that the viewer may not browse are left out, as Jira does; dangling references
//!   (issues the site does not hold) are shown as the data showed them.

use std::fmt::{self, Display, Write as _};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use crate::fields::{self, FieldDef};
use crate::model::{
    ExternalIssue, Issue, IssueIdx, IssueType, Link, PersonIdx, Project, Site, Status, Target,
    format_datetime, format_duration, lexorank,
};

/// Which request a field selection belongs to: it decides the default and what `-field` alone starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `search/jql`: default `id` only; exclusions alone start from `*navigable`.
    Search,
    /// `GET issue`, `bulkfetch`: default `*all`; exclusions alone start from `*all`.
    Issue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Nothing,
    All,
    Navigable,
}

/// A parsed `fields` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelection {
    base: Base,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl FieldSelection {
    /// Parses `fields` values (each may hold a comma-separated list): `*all`, `*navigable`, field ids, `-field`.
    /// No values at all means the endpoint's default.
    #[must_use]
    pub fn parse<S: AsRef<str>>(values: &[S], endpoint: Endpoint) -> Self {
        let mut base = Base::Nothing;
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        let mut any = false;
        for item in values.iter().flat_map(|v| v.as_ref().split(',')) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            any = true;
            match item {
                "*all" => base = Base::All,
                "*navigable" if base != Base::All => base = Base::Navigable,
                "*navigable" => {}
                _ => match item.strip_prefix('-') {
                    Some(field) => exclude.push(field.to_owned()),
                    None => include.push(item.to_owned()),
                },
            }
        }
        if !any {
            return Self::default_for(endpoint);
        }
        if base == Base::Nothing && include.is_empty() && !exclude.is_empty() {
            base = match endpoint {
                Endpoint::Search => Base::Navigable,
                Endpoint::Issue => Base::All,
            };
        }
        Self {
            base,
            include,
            exclude,
        }
    }

    /// The selection used when a request names no fields.
    #[must_use]
    pub fn default_for(endpoint: Endpoint) -> Self {
        match endpoint {
            Endpoint::Search => Self::ids_only(),
            Endpoint::Issue => Self::all(),
        }
    }

    /// `fields=id`: only the issue id.
    #[must_use]
    pub fn ids_only() -> Self {
        Self {
            base: Base::Nothing,
            include: vec!["id".to_owned()],
            exclude: Vec::new(),
        }
    }

    #[must_use]
    pub fn all() -> Self {
        Self {
            base: Base::All,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    #[must_use]
    pub fn navigable() -> Self {
        Self {
            base: Base::Navigable,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// Whether the selection asks for nothing but ids (search then returns `{"id": ...}` per issue).
    #[must_use]
    pub fn is_ids_only(&self) -> bool {
        self.base == Base::Nothing && self.include.iter().all(|f| f == "id")
    }

    /// Whether a field is selected.
    #[must_use]
    pub fn wants(&self, field: &FieldDef) -> bool {
        if self.exclude.iter().any(|e| e == field.id) {
            return false;
        }
        match self.base {
            Base::All => true,
            Base::Navigable if field.navigable => true,
            _ => self.include.iter().any(|i| i == field.id),
        }
    }
}

/// Renders for one viewer (`None`: a site admin view that sees every linked issue).
///
/// Every rendering is a value that serializes itself, straight into an answer's bytes: search and bulk fetch
/// answers write thousands of issues, and building them as `serde_json::Value` first cost more than the writing.
/// [`to_value`] gives a `Value` where one is edited or kept.
#[derive(Debug, Clone, Copy)]
pub struct Renderer<'a> {
    pub site: &'a Site,
    pub viewer: Option<PersonIdx>,
}

/// A rendering as a `Value` (rendering never fails to serialize: every map key is a string).
#[must_use]
pub fn to_value(rendered: impl Serialize) -> Value {
    serde_json::to_value(rendered).unwrap_or(Value::Null)
}

/// `{site}{root}{path}{name}{suffix}`, written out only when serialized.
#[derive(Debug, Clone, Copy)]
pub struct Url<'a, N> {
    site: &'a str,
    root: &'static str,
    path: &'static str,
    name: N,
    suffix: &'static str,
}

impl<N: Display> Serialize for Url<'_, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!(
            "{}{}{}{}{}",
            self.site, self.root, self.path, self.name, self.suffix
        ))
    }
}

/// A number written as a JSON string, as Jira writes ids.
#[derive(Debug, Clone, Copy)]
struct Text<N>(N);

impl<N: Display> Serialize for Text<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// A name lower-cased, less spaces and dashes when `compact` (icon file names).
#[derive(Debug, Clone, Copy)]
struct IconName<'a> {
    name: &'a str,
    compact: bool,
}

impl Display for IconName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name
            .chars()
            .filter(|c| !(self.compact && matches!(c, ' ' | '-')))
            .flat_map(char::to_lowercase)
            .try_for_each(|c| f.write_char(c))
    }
}

/// `IssueBean` with the selected fields, or `{"id": ...}` for an ids-only selection.
#[derive(Debug, Clone, Copy)]
pub struct IssueJson<'a> {
    renderer: Renderer<'a>,
    idx: IssueIdx,
    selection: &'a FieldSelection,
}

impl Serialize for IssueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.renderer;
        let issue = r.site.issue(self.idx);
        if self.selection.is_ids_only() {
            let mut bean = serializer.serialize_map(Some(1))?;
            bean.serialize_entry("id", &Text(issue.id))?;
            return bean.end();
        }
        let mut bean = serializer.serialize_map(Some(5))?;
        bean.serialize_entry(
            "expand",
            "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        )?;
        bean.serialize_entry("id", &Text(issue.id))?;
        bean.serialize_entry("self", &r.api("issue/", issue.id))?;
        bean.serialize_entry("key", &*issue.key)?;
        bean.serialize_entry("fields", &FieldsJson(*self))?;
        bean.end()
    }
}

/// An issue's `fields` object.
struct FieldsJson<'a>(IssueJson<'a>);

impl Serialize for FieldsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let IssueJson {
            renderer,
            idx,
            selection,
        } = self.0;
        let mut fields = serializer.serialize_map(None)?;
        for def in &renderer.site.fields {
            if def.id != "issuekey" && selection.wants(def) {
                fields.serialize_entry(def.id, &renderer.field(idx, def.id))?;
            }
        }
        fields.end()
    }
}

/// One field's value; `null` for unknown fields.
#[derive(Debug, Clone, Copy)]
pub struct FieldJson<'a> {
    renderer: Renderer<'a>,
    idx: IssueIdx,
    field: &'a str,
}

impl Serialize for FieldJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.renderer;
        let site = r.site;
        let idx = self.idx;
        let issue = site.issue(idx);
        let aggregate = |f: fn(&Issue) -> Option<u32>| site.aggregate(idx, f);
        let s = serializer;
        match self.field {
            "summary" => s.serialize_str(&issue.summary),
            "description" => adf(issue.description.as_deref()).serialize(s),
            "environment" => adf(issue.environment.as_deref()).serialize(s),
            "issuetype" => r.issue_type(issue.issue_type).serialize(s),
            "project" => r.project(issue.project).serialize(s),
            "status" => r.status(issue.status).serialize(s),
            "priority" => issue.priority.map(|p| r.priority(p)).serialize(s),
            "resolution" => issue.resolution.map(|x| r.resolution(x)).serialize(s),
            "resolutiondate" => issue.resolution_date.map(format_datetime).serialize(s),
            "created" => s.serialize_str(&format_datetime(issue.created)),
            "updated" => s.serialize_str(&format_datetime(issue.updated)),
            "assignee" => issue.assignee.map(|p| r.user(p)).serialize(s),
            "reporter" => issue.reporter.map(|p| r.user(p)).serialize(s),
            "creator" => issue.creator.map(|p| r.user(p)).serialize(s),
            "labels" => s.collect_seq(issue.labels.iter().map(|&l| site.interner.resolve(l))),
            "components" => s.collect_seq(issue.components.iter().map(|&c| r.component(c))),
            "versions" => s.collect_seq(issue.versions.iter().map(|&v| r.version(v))),
            "fixVersions" => s.collect_seq(issue.fix_versions.iter().map(|&v| r.version(v))),
            "issuelinks" => s.collect_seq(r.issue_links(idx)),
            "subtasks" => s.collect_seq(
                issue
                    .children
                    .iter()
                    .filter(|&&c| {
                        site.issue_types[site.issue(c).issue_type as usize].hierarchy_level < 0
                    })
                    .filter(|&&c| r.visible(c))
                    .map(|&c| r.linked(Target::Local(c))),
            ),
            // A parent the viewer may not browse is not shown at all, as Jira does.
            "parent" => match issue.parent {
                Some(Target::Local(p)) if !r.visible(p) => s.serialize_none(),
                parent => parent.map(|p| r.linked(p)).serialize(s),
            },
            "security" => issue.security.map(|l| r.security_level(l)).serialize(s),
            "timetracking" => TimeTracking(issue).serialize(s),
            "timeoriginalestimate" => issue.original_estimate.serialize(s),
            "timeestimate" => issue.remaining_estimate.serialize(s),
            "timespent" => issue.time_spent.serialize(s),
            "aggregatetimeoriginalestimate" => aggregate(|i| i.original_estimate).serialize(s),
            "aggregatetimeestimate" => aggregate(|i| i.remaining_estimate).serialize(s),
            "aggregatetimespent" => aggregate(|i| i.time_spent).serialize(s),
            "progress" => progress(
                issue.time_spent.map(u64::from),
                issue.remaining_estimate.map(u64::from),
            )
            .serialize(s),
            "aggregateprogress" => progress(
                aggregate(|i| i.time_spent),
                aggregate(|i| i.remaining_estimate),
            )
            .serialize(s),
            "workratio" => match (issue.original_estimate, issue.time_spent) {
                (Some(o), spent) if o > 0 => {
                    s.serialize_u64(u64::from(spent.unwrap_or(0)) * 100 / u64::from(o))
                }
                _ => s.serialize_i64(-1),
            },
            fields::STORY_POINTS => issue.story_points.serialize(s),
            fields::RANK => s.serialize_str(&lexorank(issue.rank)),
            fields::SPRINT if issue.sprints.is_empty() => s.serialize_none(),
            fields::SPRINT => s.collect_seq(issue.sprints.iter().map(|&x| r.sprint(x))),
            fields::FLAGGED if issue.flagged => [FlaggedOption {
                url: r.api("customFieldOption/", 10019),
                value: "Impediment",
                id: "10019",
            }]
            .serialize(s),
            _ => s.serialize_none(),
        }
    }
}

#[derive(Debug, Serialize)]
struct FlaggedOption<'a> {
    #[serde(rename = "self")]
    url: Url<'a, u32>,
    value: &'static str,
    id: &'static str,
}

/// `IssueLink`: the other issue as `outwardIssue` when this issue is the link's source; `GET issueLink/{id}`
/// shows both ends.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkJson<'a> {
    id: Text<u64>,
    #[serde(rename = "self")]
    url: Url<'a, u64>,
    #[serde(rename = "type")]
    link_type: LinkTypeJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inward_issue: Option<LinkedJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outward_issue: Option<LinkedJson<'a>>,
}

/// `LinkedIssue`: id, key, self and `fields{summary,status,priority,issuetype}`.
#[derive(Debug, Serialize)]
pub struct LinkedJson<'a> {
    id: Text<u64>,
    key: &'a str,
    #[serde(rename = "self")]
    url: Url<'a, u64>,
    fields: LinkedFields<'a>,
}

#[derive(Debug, Serialize)]
struct LinkedFields<'a> {
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<PriorityJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuetype: Option<IssueTypeJson<'a>>,
}

/// `UserDetails` as Cloud shows it to other people (no email).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
    account_id: &'a str,
    account_type: &'static str,
    display_name: &'a str,
    active: bool,
    time_zone: &'a str,
}

/// `IssueTypeDetails`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueTypeJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
    id: &'a str,
    description: &'a str,
    icon_url: Url<'a, IconName<'a>>,
    name: &'a str,
    subtask: bool,
    hierarchy_level: i32,
}

/// `StatusDetails` with its `statusCategory`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
    description: &'a str,
    icon_url: Url<'a, &'static str>,
    name: &'a str,
    id: &'a str,
    status_category: StatusCategoryJson<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusCategoryJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, u32>,
    id: u32,
    key: &'static str,
    color_name: &'static str,
    name: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriorityJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
    icon_url: Url<'a, IconName<'a>>,
    name: &'a str,
    id: &'a str,
}

/// `Resolution`, `SecurityLevel`: the same four members.
#[derive(Debug, Serialize)]
pub struct DescribedJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
    id: &'a str,
    description: &'a str,
    name: &'a str,
}

/// `IssueLinkType`.
#[derive(Debug, Serialize)]
pub struct LinkTypeJson<'a> {
    id: &'a str,
    name: &'a str,
    inward: &'a str,
    outward: &'a str,
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
}

/// The project as embedded in an issue.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
    id: &'a str,
    key: &'a str,
    name: &'a str,
    project_type_key: &'static str,
    simplified: bool,
}

#[derive(Debug, Serialize)]
pub struct ComponentJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
    id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionJson<'a> {
    #[serde(rename = "self")]
    url: Url<'a, &'a str>,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    name: &'a str,
    archived: bool,
    released: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    release_date: Option<&'a str>,
}

/// A sprint as the Sprint custom field holds it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SprintJson<'a> {
    id: u64,
    name: &'a str,
    state: &'a str,
    board_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    goal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    complete_date: Option<&'a str>,
}

impl<'a> Renderer<'a> {
    #[must_use]
    pub fn new(site: &'a Site, viewer: Option<PersonIdx>) -> Self {
        Self { site, viewer }
    }

    /// `{site}/rest/api/3/{path}{id}`.
    fn api<N: Display>(&self, path: &'static str, id: N) -> Url<'a, N> {
        Url {
            site: &self.site.base_url,
            root: "/rest/api/3/",
            path,
            name: id,
            suffix: "",
        }
    }

    /// `{site}/images/icons/{path}{name}{suffix}`.
    fn image<N: Display>(&self, path: &'static str, name: N, suffix: &'static str) -> Url<'a, N> {
        Url {
            site: &self.site.base_url,
            root: "/images/icons/",
            path,
            name,
            suffix,
        }
    }

    fn visible(&self, idx: IssueIdx) -> bool {
        self.viewer.is_none_or(|p| self.site.can_browse(p, idx))
    }

    /// An issue as `IssueBean` with the selected fields, or `{"id": ...}` for an ids-only selection.
    #[must_use]
    pub fn issue(&self, idx: IssueIdx, selection: &'a FieldSelection) -> IssueJson<'a> {
        IssueJson {
            renderer: *self,
            idx,
            selection,
        }
    }

    /// One field's value; `null` for unknown fields.
    #[must_use]
    pub fn field(&self, idx: IssueIdx, field: &'a str) -> FieldJson<'a> {
        FieldJson {
            renderer: *self,
            idx,
            field,
        }
    }

    /// `issuelinks[]` of an issue, less those to issues the viewer may not browse.
    fn issue_links(&self, idx: IssueIdx) -> impl Iterator<Item = LinkJson<'a>> + 'a {
        let r = *self;
        r.site
            .links_of(idx)
            .filter(move |(_, other, _)| match other {
                Target::Local(o) => r.visible(*o),
                Target::External(_) => true,
            })
            .map(move |(link, other, outward)| {
                let other = Some(r.linked(other));
                let (inward_issue, outward_issue) = if outward {
                    (None, other)
                } else {
                    (other, None)
                };
                r.link_with(link, inward_issue, outward_issue)
            })
    }

    fn link_with(
        &self,
        link: &Link,
        inward_issue: Option<LinkedJson<'a>>,
        outward_issue: Option<LinkedJson<'a>>,
    ) -> LinkJson<'a> {
        LinkJson {
            id: Text(link.id),
            url: self.api("issueLink/", link.id),
            link_type: self.link_type(link.link_type),
            inward_issue,
            outward_issue,
        }
    }

    /// `IssueLink` as returned by `GET issueLink/{id}`: both ends.
    #[must_use]
    pub fn link(&self, link: &Link) -> LinkJson<'a> {
        self.link_with(
            link,
            Some(self.linked(link.source)),
            Some(self.linked(link.destination)),
        )
    }

    /// `LinkedIssue`: id, key, self and `fields{summary,status,priority,issuetype}`.
    #[must_use]
    pub fn linked(&self, target: Target) -> LinkedJson<'a> {
        let site = self.site;
        let (id, key, fields) = match target {
            Target::Local(i) => {
                let issue = site.issue(i);
                let fields = LinkedFields {
                    summary: &issue.summary,
                    status: Some(self.status(issue.status)),
                    priority: issue.priority.map(|p| self.priority(p)),
                    issuetype: Some(self.issue_type(issue.issue_type)),
                };
                (issue.id, &*issue.key, fields)
            }
            Target::External(e) => {
                let ext: &ExternalIssue = &site.externals[e as usize];
                let fields = LinkedFields {
                    summary: &ext.summary,
                    status: ext.status.map(|s| self.status(s)),
                    priority: ext.priority.map(|p| self.priority(p)),
                    issuetype: ext.issue_type.map(|t| self.issue_type(t)),
                };
                (ext.id, ext.key.as_str(), fields)
            }
        };
        LinkedJson {
            id: Text(id),
            key,
            url: self.api("issue/", id),
            fields,
        }
    }

    /// `UserDetails` as Cloud shows it to other people (no email).
    #[must_use]
    pub fn user(&self, p: PersonIdx) -> UserJson<'a> {
        let person = self.site.person(p);
        UserJson {
            url: self.api("user?accountId=", &person.account_id),
            account_id: &person.account_id,
            account_type: "atlassian",
            display_name: &person.display_name,
            active: person.active,
            time_zone: &person.time_zone,
        }
    }

    /// `IssueTypeDetails`.
    #[must_use]
    pub fn issue_type(&self, t: u16) -> IssueTypeJson<'a> {
        let it: &IssueType = &self.site.issue_types[t as usize];
        IssueTypeJson {
            url: self.api("issuetype/", &it.id),
            id: &it.id,
            description: &it.description,
            icon_url: self.image(
                "issuetypes/",
                IconName {
                    name: &it.name,
                    compact: true,
                },
                ".svg",
            ),
            name: &it.name,
            subtask: it.subtask,
            hierarchy_level: it.hierarchy_level,
        }
    }

    /// `StatusDetails` with its `statusCategory`.
    #[must_use]
    pub fn status(&self, s: u16) -> StatusJson<'a> {
        let st: &Status = &self.site.statuses[s as usize];
        let c = st.category;
        StatusJson {
            url: self.api("status/", &st.id),
            description: &st.description,
            icon_url: self.image("statuses/", "generic", ".png"),
            name: &st.name,
            id: &st.id,
            status_category: StatusCategoryJson {
                url: self.api("statuscategory/", c.id()),
                id: c.id(),
                key: c.key(),
                color_name: c.color_name(),
                name: c.name(),
            },
        }
    }

    #[must_use]
    pub fn priority(&self, p: u16) -> PriorityJson<'a> {
        let pr = &self.site.priorities[p as usize];
        PriorityJson {
            url: self.api("priority/", &pr.id),
            icon_url: self.image(
                "priorities/",
                IconName {
                    name: &pr.name,
                    compact: false,
                },
                ".svg",
            ),
            name: &pr.name,
            id: &pr.id,
        }
    }

    #[must_use]
    pub fn resolution(&self, r: u16) -> DescribedJson<'a> {
        let res = &self.site.resolutions[r as usize];
        DescribedJson {
            url: self.api("resolution/", &res.id),
            id: &res.id,
            description: &res.description,
            name: &res.name,
        }
    }

    /// `IssueLinkType`.
    #[must_use]
    pub fn link_type(&self, t: u16) -> LinkTypeJson<'a> {
        let lt = &self.site.link_types[t as usize];
        LinkTypeJson {
            id: &lt.id,
            name: &lt.name,
            inward: &lt.inward,
            outward: &lt.outward,
            url: self.api("issueLinkType/", &lt.id),
        }
    }

    /// The project as embedded in an issue.
    #[must_use]
    pub fn project(&self, p: u16) -> ProjectJson<'a> {
        let pr: &Project = &self.site.projects[p as usize];
        ProjectJson {
            url: self.api("project/", &pr.id),
            id: &pr.id,
            key: &pr.key,
            name: &pr.name,
            project_type_key: "software",
            simplified: false,
        }
    }

    #[must_use]
    pub fn component(&self, c: u32) -> ComponentJson<'a> {
        let comp = &self.site.components[c as usize];
        ComponentJson {
            url: self.api("component/", &comp.id),
            id: &comp.id,
            name: &comp.name,
            description: comp.description.as_deref(),
        }
    }

    #[must_use]
    pub fn version(&self, v: u32) -> VersionJson<'a> {
        let ver = &self.site.versions[v as usize];
        VersionJson {
            url: self.api("version/", &ver.id),
            id: &ver.id,
            description: ver.description.as_deref(),
            name: &ver.name,
            archived: ver.archived,
            released: ver.released,
            release_date: ver.release_date.as_deref(),
        }
    }

    /// A sprint as the Sprint custom field holds it.
    #[must_use]
    pub fn sprint(&self, s: u32) -> SprintJson<'a> {
        let sp = &self.site.sprints[s as usize];
        SprintJson {
            id: sp.id,
            name: &sp.name,
            state: &sp.state,
            board_id: sp.board_id,
            goal: sp.goal.as_deref(),
            start_date: sp.start_date.as_deref(),
            end_date: sp.end_date.as_deref(),
            complete_date: sp.complete_date.as_deref(),
        }
    }

    #[must_use]
    pub fn security_level(&self, l: u16) -> DescribedJson<'a> {
        let level = &self.site.security_levels[l as usize];
        DescribedJson {
            url: self.api("securitylevel/", &level.id),
            id: &level.id,
            description: &level.description,
            name: &level.name,
        }
    }
}

/// `TimeTrackingDetails`: only the parts the issue has; `{}` when it has none.
struct TimeTracking<'a>(&'a Issue);

impl Serialize for TimeTracking<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let issue = self.0;
        let mut out = serializer.serialize_map(None)?;
        for (text, seconds, v) in [
            (
                "originalEstimate",
                "originalEstimateSeconds",
                issue.original_estimate,
            ),
            (
                "remainingEstimate",
                "remainingEstimateSeconds",
                issue.remaining_estimate,
            ),
            ("timeSpent", "timeSpentSeconds", issue.time_spent),
        ] {
            if let Some(v) = v {
                out.serialize_entry(text, &format_duration(v))?;
                out.serialize_entry(seconds, &v)?;
            }
        }
        out.end()
    }
}

/// Jira's `progress`: spent over spent + remaining; `percent` only when the total is positive.
#[derive(Debug, Serialize)]
struct Progress {
    progress: u64,
    total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    percent: Option<u64>,
}

fn progress(spent: Option<u64>, remaining: Option<u64>) -> Progress {
    let spent = spent.unwrap_or(0);
    let total = spent + remaining.unwrap_or(0);
    Progress {
        progress: spent,
        total,
        percent: (total > 0).then(|| spent * 100 / total),
    }
}

/// Plain text (the data's wiki markup, verbatim) as an ADF document: blank lines separate paragraphs, single line
/// breaks become `hardBreak` nodes. `null` for absent or blank text.
#[must_use]
pub fn adf(text: Option<&str>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut paragraphs = Vec::new();
    for para in text.split("\n\n") {
        let mut content = Vec::new();
        for line in para.split('\n').filter(|l| !l.trim().is_empty()) {
            if !content.is_empty() {
                content.push(json!({ "type": "hardBreak" }));
            }
            content.push(json!({ "type": "text", "text": line }));
        }
        if !content.is_empty() {
            paragraphs.push(json!({ "type": "paragraph", "content": content }));
        }
    }
    if paragraphs.is_empty() {
        return Value::Null;
    }
    json!({ "type": "doc", "version": 1, "content": paragraphs })
}

/// The plain text of an ADF document (text nodes joined, paragraphs separated by blank lines), for writes that
/// carry ADF.
#[must_use]
pub fn adf_text(doc: &Value) -> String {
    fn walk(node: &Value, out: &mut String) {
        match node.get("type").and_then(Value::as_str) {
            Some("text") => out.push_str(node.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("hardBreak") => out.push('\n'),
            _ => {
                let children = node
                    .get("content")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice);
                for (i, child) in children.iter().enumerate() {
                    if i > 0 && child.get("type").and_then(Value::as_str) == Some("paragraph") {
                        out.push_str("\n\n");
                    }
                    walk(child, out);
                }
            }
        }
    }
    let mut out = String::new();
    walk(doc, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adf_paragraphs_and_breaks() {
        let doc = adf(Some("first line\r\nsecond\r\n\r\n\r\nthird"));
        assert_eq!(
            doc,
            json!({"type":"doc","version":1,"content":[
                {"type":"paragraph","content":[
                    {"type":"text","text":"first line"},{"type":"hardBreak"},{"type":"text","text":"second"}]},
                {"type":"paragraph","content":[{"type":"text","text":"third"}]}]})
        );
        assert_eq!(adf(Some("  \n ")), Value::Null);
        assert_eq!(adf(None), Value::Null);
        assert_eq!(adf_text(&doc), "first line\nsecond\n\nthird");
    }

    #[test]
    fn selection_semantics() {
        let defs = fields::standard_fields();
        let def = |id: &str| defs.iter().find(|d| d.id == id).unwrap().clone();
        let (summary, tt, desc) = (def("summary"), def("timetracking"), def("description"));

        let search_default = FieldSelection::parse::<&str>(&[], Endpoint::Search);
        assert!(search_default.is_ids_only());
        assert!(!search_default.wants(&summary));

        let all = FieldSelection::parse(&["*all"], Endpoint::Search);
        assert!(all.wants(&summary) && all.wants(&tt));

        let nav = FieldSelection::parse(&["*navigable"], Endpoint::Search);
        assert!(nav.wants(&summary) && !nav.wants(&tt));

        let explicit = FieldSelection::parse(&["summary,timetracking"], Endpoint::Search);
        assert!(explicit.wants(&summary) && explicit.wants(&tt) && !explicit.wants(&desc));
        assert!(!explicit.is_ids_only());

        let minus = FieldSelection::parse(&["*all", "-description"], Endpoint::Issue);
        assert!(minus.wants(&summary) && !minus.wants(&desc));

        let only_minus_search = FieldSelection::parse(&["-description"], Endpoint::Search);
        assert!(
            only_minus_search.wants(&summary)
                && !only_minus_search.wants(&desc)
                && !only_minus_search.wants(&tt)
        );
        let only_minus_issue = FieldSelection::parse(&["-description"], Endpoint::Issue);
        assert!(only_minus_issue.wants(&tt) && !only_minus_issue.wants(&desc));

        assert_eq!(
            FieldSelection::parse::<&str>(&[], Endpoint::Issue),
            FieldSelection::all()
        );
    }
}
