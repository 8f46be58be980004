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

use serde_json::{Map, Value, json};

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
#[derive(Debug, Clone, Copy)]
pub struct Renderer<'a> {
    pub site: &'a Site,
    pub viewer: Option<PersonIdx>,
}

impl<'a> Renderer<'a> {
    #[must_use]
    pub fn new(site: &'a Site, viewer: Option<PersonIdx>) -> Self {
        Self { site, viewer }
    }

    fn api(&self, path: &str) -> String {
        format!("{}/rest/api/3/{path}", self.site.base_url)
    }

    fn visible(&self, idx: IssueIdx) -> bool {
        self.viewer.is_none_or(|p| self.site.can_browse(p, idx))
    }

    /// An issue as `IssueBean` with the selected fields, or `{"id": ...}` for an ids-only selection.
    #[must_use]
    pub fn issue(&self, idx: IssueIdx, selection: &FieldSelection) -> Value {
        let issue = self.site.issue(idx);
        if selection.is_ids_only() {
            return json!({ "id": issue.id.to_string() });
        }
        let mut fields = Map::new();
        for def in &self.site.fields {
            if def.id != "issuekey" && selection.wants(def) {
                fields.insert(def.id.to_owned(), self.field(idx, def.id));
            }
        }
        let mut bean = Map::new();
        bean.insert(
            "expand".into(),
            json!(
                "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
            ),
        );
        bean.insert("id".into(), json!(issue.id.to_string()));
        bean.insert(
            "self".into(),
            json!(self.api(&format!("issue/{}", issue.id))),
        );
        bean.insert("key".into(), json!(&*issue.key));
        // Moved in: `json!` would copy the whole map.
        bean.insert("fields".into(), Value::Object(fields));
        Value::Object(bean)
    }

    /// One field's value; `null` for unknown fields.
    #[must_use]
    pub fn field(&self, idx: IssueIdx, field: &str) -> Value {
        let site = self.site;
        let issue = site.issue(idx);
        let secs = |v: Option<u32>| v.map_or(Value::Null, |v| json!(v));
        let agg =
            |f: fn(&Issue) -> Option<u32>| site.aggregate(idx, f).map_or(Value::Null, |v| json!(v));
        match field {
            "summary" => json!(&*issue.summary),
            "description" => adf(issue.description.as_deref()),
            "environment" => adf(issue.environment.as_deref()),
            "issuetype" => self.issue_type(issue.issue_type),
            "project" => self.project(issue.project),
            "status" => self.status(issue.status),
            "priority" => issue.priority.map_or(Value::Null, |p| self.priority(p)),
            "resolution" => issue.resolution.map_or(Value::Null, |r| self.resolution(r)),
            "resolutiondate" => issue
                .resolution_date
                .map_or(Value::Null, |t| json!(format_datetime(t))),
            "created" => json!(format_datetime(issue.created)),
            "updated" => json!(format_datetime(issue.updated)),
            "assignee" => issue.assignee.map_or(Value::Null, |p| self.user(p)),
            "reporter" => issue.reporter.map_or(Value::Null, |p| self.user(p)),
            "creator" => issue.creator.map_or(Value::Null, |p| self.user(p)),
            "labels" => issue
                .labels
                .iter()
                .map(|l| json!(site.interner.resolve(*l)))
                .collect(),
            "components" => issue
                .components
                .iter()
                .map(|&c| self.component(c))
                .collect(),
            "versions" => issue.versions.iter().map(|&v| self.version(v)).collect(),
            "fixVersions" => issue
                .fix_versions
                .iter()
                .map(|&v| self.version(v))
                .collect(),
            "issuelinks" => self.issue_links(idx),
            "subtasks" => issue
                .children
                .iter()
                .filter(|&&c| {
                    site.issue_types[site.issue(c).issue_type as usize].hierarchy_level < 0
                })
                .filter(|&&c| self.visible(c))
                .map(|&c| self.linked(Target::Local(c)))
                .collect(),
            // A parent the viewer may not browse is not shown at all, as Jira does.
            "parent" => match issue.parent {
                Some(Target::Local(p)) if !self.visible(p) => Value::Null,
                Some(parent) => self.linked(parent),
                None => Value::Null,
            },
            "security" => issue
                .security
                .map_or(Value::Null, |l| self.security_level(l)),
            "timetracking" => timetracking(issue),
            "timeoriginalestimate" => secs(issue.original_estimate),
            "timeestimate" => secs(issue.remaining_estimate),
            "timespent" => secs(issue.time_spent),
            "aggregatetimeoriginalestimate" => agg(|i| i.original_estimate),
            "aggregatetimeestimate" => agg(|i| i.remaining_estimate),
            "aggregatetimespent" => agg(|i| i.time_spent),
            "progress" => progress(
                issue.time_spent.map(u64::from),
                issue.remaining_estimate.map(u64::from),
            ),
            "aggregateprogress" => progress(
                site.aggregate(idx, |i| i.time_spent),
                site.aggregate(idx, |i| i.remaining_estimate),
            ),
            "workratio" => match (issue.original_estimate, issue.time_spent) {
                (Some(o), spent) if o > 0 => {
                    json!(u64::from(spent.unwrap_or(0)) * 100 / u64::from(o))
                }
                _ => json!(-1),
            },
            fields::STORY_POINTS => issue.story_points.map_or(Value::Null, |p| json!(p)),
            fields::RANK => json!(lexorank(issue.rank)),
            fields::SPRINT if issue.sprints.is_empty() => Value::Null,
            fields::SPRINT => issue.sprints.iter().map(|&s| self.sprint(s)).collect(),
            fields::FLAGGED if issue.flagged => {
                json!([{ "self": self.api("customFieldOption/10019"), "value": "Impediment", "id": "10019" }])
            }
            _ => Value::Null,
        }
    }

    /// `issuelinks[]`: the other issue as `outwardIssue` when this issue is the link's source.
    fn issue_links(&self, idx: IssueIdx) -> Value {
        self.site
            .links_of(idx)
            .filter(|(_, other, _)| match other {
                Target::Local(o) => self.visible(*o),
                Target::External(_) => true,
            })
            .map(|(link, other, outward)| {
                let mut entry = Map::new();
                entry.insert("id".into(), json!(link.id.to_string()));
                entry.insert(
                    "self".into(),
                    json!(self.api(&format!("issueLink/{}", link.id))),
                );
                entry.insert("type".into(), self.link_type(link.link_type));
                let side = if outward {
                    "outwardIssue"
                } else {
                    "inwardIssue"
                };
                entry.insert(side.into(), self.linked(other));
                Value::Object(entry)
            })
            .collect()
    }

    /// `IssueLink` as returned by `GET issueLink/{id}`: both ends.
    #[must_use]
    pub fn link(&self, link: &Link) -> Value {
        json!({
            "id": link.id.to_string(),
            "self": self.api(&format!("issueLink/{}", link.id)),
            "type": self.link_type(link.link_type),
            "inwardIssue": self.linked(link.source),
            "outwardIssue": self.linked(link.destination),
        })
    }

    /// `LinkedIssue`: id, key, self and `fields{summary,status,priority,issuetype}`.
    #[must_use]
    pub fn linked(&self, target: Target) -> Value {
        let (id, key, fields) = match target {
            Target::Local(i) => {
                let issue = self.site.issue(i);
                let mut f = Map::new();
                f.insert("summary".into(), json!(&*issue.summary));
                f.insert("status".into(), self.status(issue.status));
                if let Some(p) = issue.priority {
                    f.insert("priority".into(), self.priority(p));
                }
                f.insert("issuetype".into(), self.issue_type(issue.issue_type));
                (issue.id, &*issue.key, f)
            }
            Target::External(e) => {
                let ext: &ExternalIssue = &self.site.externals[e as usize];
                let mut f = Map::new();
                f.insert("summary".into(), json!(ext.summary));
                if let Some(s) = ext.status {
                    f.insert("status".into(), self.status(s));
                }
                if let Some(p) = ext.priority {
                    f.insert("priority".into(), self.priority(p));
                }
                if let Some(t) = ext.issue_type {
                    f.insert("issuetype".into(), self.issue_type(t));
                }
                (ext.id, ext.key.as_str(), f)
            }
        };
        let mut bean = Map::new();
        bean.insert("id".into(), json!(id.to_string()));
        bean.insert("key".into(), json!(key));
        bean.insert("self".into(), json!(self.api(&format!("issue/{id}"))));
        bean.insert("fields".into(), Value::Object(fields));
        Value::Object(bean)
    }

    /// `UserDetails` as Cloud shows it to other people (no email).
    #[must_use]
    pub fn user(&self, p: PersonIdx) -> Value {
        let person = self.site.person(p);
        json!({
            "self": self.api(&format!("user?accountId={}", person.account_id)),
            "accountId": person.account_id,
            "accountType": "atlassian",
            "displayName": person.display_name,
            "active": person.active,
            "timeZone": person.time_zone,
        })
    }

    /// `IssueTypeDetails`.
    #[must_use]
    pub fn issue_type(&self, t: u16) -> Value {
        let it: &IssueType = &self.site.issue_types[t as usize];
        json!({
            "self": self.api(&format!("issuetype/{}", it.id)),
            "id": it.id,
            "description": it.description,
            "iconUrl": format!("{}/images/icons/issuetypes/{}.svg", self.site.base_url, icon_name(&it.name)),
            "name": it.name,
            "subtask": it.subtask,
            "hierarchyLevel": it.hierarchy_level,
        })
    }

    /// `StatusDetails` with its `statusCategory`.
    #[must_use]
    pub fn status(&self, s: u16) -> Value {
        let st: &Status = &self.site.statuses[s as usize];
        let c = st.category;
        json!({
            "self": self.api(&format!("status/{}", st.id)),
            "description": st.description,
            "iconUrl": format!("{}/images/icons/statuses/generic.png", self.site.base_url),
            "name": st.name,
            "id": st.id,
            "statusCategory": {
                "self": self.api(&format!("statuscategory/{}", c.id())),
                "id": c.id(),
                "key": c.key(),
                "colorName": c.color_name(),
                "name": c.name(),
            },
        })
    }

    #[must_use]
    pub fn priority(&self, p: u16) -> Value {
        let pr = &self.site.priorities[p as usize];
        json!({
            "self": self.api(&format!("priority/{}", pr.id)),
            "iconUrl": format!("{}/images/icons/priorities/{}.svg", self.site.base_url, pr.name.to_lowercase()),
            "name": pr.name,
            "id": pr.id,
        })
    }

    #[must_use]
    pub fn resolution(&self, r: u16) -> Value {
        let res = &self.site.resolutions[r as usize];
        json!({
            "self": self.api(&format!("resolution/{}", res.id)),
            "id": res.id,
            "description": res.description,
            "name": res.name,
        })
    }

    /// `IssueLinkType`.
    #[must_use]
    pub fn link_type(&self, t: u16) -> Value {
        let lt = &self.site.link_types[t as usize];
        json!({
            "id": lt.id,
            "name": lt.name,
            "inward": lt.inward,
            "outward": lt.outward,
            "self": self.api(&format!("issueLinkType/{}", lt.id)),
        })
    }

    /// The project as embedded in an issue.
    #[must_use]
    pub fn project(&self, p: u16) -> Value {
        let pr: &Project = &self.site.projects[p as usize];
        json!({
            "self": self.api(&format!("project/{}", pr.id)),
            "id": pr.id,
            "key": pr.key,
            "name": pr.name,
            "projectTypeKey": "software",
            "simplified": false,
        })
    }

    #[must_use]
    pub fn component(&self, c: u32) -> Value {
        let comp = &self.site.components[c as usize];
        let mut v = json!({ "self": self.api(&format!("component/{}", comp.id)), "id": comp.id, "name": comp.name });
        if let (Some(d), Some(obj)) = (&comp.description, v.as_object_mut()) {
            obj.insert("description".into(), json!(d));
        }
        v
    }

    #[must_use]
    pub fn version(&self, v: u32) -> Value {
        let ver = &self.site.versions[v as usize];
        let mut out = Map::new();
        out.insert(
            "self".into(),
            json!(self.api(&format!("version/{}", ver.id))),
        );
        out.insert("id".into(), json!(ver.id));
        if let Some(d) = &ver.description {
            out.insert("description".into(), json!(d));
        }
        out.insert("name".into(), json!(ver.name));
        out.insert("archived".into(), json!(ver.archived));
        out.insert("released".into(), json!(ver.released));
        if let Some(d) = &ver.release_date {
            out.insert("releaseDate".into(), json!(d));
        }
        Value::Object(out)
    }

    /// A sprint as the Sprint custom field holds it.
    #[must_use]
    pub fn sprint(&self, s: u32) -> Value {
        let sp = &self.site.sprints[s as usize];
        let mut out = Map::new();
        out.insert("id".into(), json!(sp.id));
        out.insert("name".into(), json!(sp.name));
        out.insert("state".into(), json!(sp.state));
        out.insert("boardId".into(), json!(sp.board_id));
        for (k, v) in [
            ("goal", &sp.goal),
            ("startDate", &sp.start_date),
            ("endDate", &sp.end_date),
            ("completeDate", &sp.complete_date),
        ] {
            if let Some(v) = v {
                out.insert(k.into(), json!(v));
            }
        }
        Value::Object(out)
    }

    #[must_use]
    pub fn security_level(&self, l: u16) -> Value {
        let level = &self.site.security_levels[l as usize];
        json!({
            "self": self.api(&format!("securitylevel/{}", level.id)),
            "id": level.id,
            "description": level.description,
            "name": level.name,
        })
    }
}

fn icon_name(type_name: &str) -> String {
    type_name.to_lowercase().replace([' ', '-'], "")
}

/// `TimeTrackingDetails`: only the parts the issue has; `{}` when it has none.
fn timetracking(issue: &Issue) -> Value {
    let mut out = Map::new();
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
            out.insert(text.into(), json!(format_duration(v)));
            out.insert(seconds.into(), json!(v));
        }
    }
    Value::Object(out)
}

/// Jira's `progress`: spent over spent + remaining; `percent` only when the total is positive.
fn progress(spent: Option<u64>, remaining: Option<u64>) -> Value {
    let spent = spent.unwrap_or(0);
    let total = spent + remaining.unwrap_or(0);
    if total == 0 {
        json!({ "progress": 0, "total": 0 })
    } else {
        json!({ "progress": spent, "total": total, "percent": spent * 100 / total })
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
