//! Importer of the real TiDev Jira archive (`../shared/data/tidev-jira/`: `issues.jsonl.gz`, `projects.json`).
//!
//! The file is Jira Server REST v2 JSON; the importer turns it into a Cloud-shaped [`Site`]:
//! - `epic` (the Agile epic link) becomes `parent`; sub-tasks keep their `parent`. Issue types get
//!   `hierarchyLevel` 1 (`Epic`), -1 (sub-task types) or 0 (everything else).
//! - `issuelinks` are stored once per link id, from the end whose outward phrase applies, so each end later shows
//!   the other as `outwardIssue`/`inwardIssue` exactly as in the file. Each issue keeps the order of its own list.
//! - Links and parents to issues absent from the file stay dangling: they become [`crate::model::ExternalIssue`]s
//!   with the id, key and fields the file showed. A dangling epic shows its summary, issue type `Epic`, and status
//!   `Closed` when the file says `done`, `Open` otherwise.
//! - People get stable account ids from their user names ([`crate::model::account_id_for`]).
//! - Versions and components come from `projects.json` and from the issues (which add release dates); sprints from
//!   `sprint` and `closedSprints`; rank is the position in the file (which is ordered by project and key).
//!
//! Numbers the data lacks are derived from `h = FNV-1a-64(key)` ([`derive_estimates`]), so they are the same on
//! every run:
//! - story points (`customfield_10016`), standard issues only: `h % 16` → 0–2: 1, 3–6: 2, 7–10: 3, 11–13: 5,
//!   14: 8, 15: 13;
//! - original estimate: standard issues 4 h per story point; sub-tasks 1–8 h (`1 + (h >> 8) % 8`); epics none;
//! - time spent: done issues 70–140 % of the original estimate (`70 + (h >> 16) % 71`), in-progress issues 10–60 %
//!   (`10 + (h >> 16) % 51`), to-do issues none; rounded down to 15 minutes;
//! - remaining estimate: 0 when resolved or done, else the original minus time spent (at least 0).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use flate2::read::GzDecoder;
use serde::Deserialize;

use crate::model::{
    Component, Error, ExternalIssue, Issue, IssueType, Link, LinkType, Priority, Project,
    Resolution, Site, Sprint, Status, StatusCategory, Target, Version, fnv1a64, index_u32,
    parse_datetime,
};

/// An id written as a string (`"143749"`) or a number (`143749`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Id {
    Num(u64),
    Str(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Self::Num(n) => n.to_string(),
            Self::Str(s) => s.clone(),
        }
    }
    fn num(&self) -> Option<u64> {
        match self {
            Self::Num(n) => Some(*n),
            Self::Str(s) => s.parse().ok(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawIssue {
    id: Id,
    key: String,
    fields: RawFields,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFields {
    issuetype: RawIssueType,
    project: RawProjectRef,
    status: RawStatus,
    priority: Option<RawNamed>,
    resolution: Option<RawNamed>,
    resolutiondate: Option<String>,
    created: String,
    updated: String,
    summary: Option<String>,
    description: Option<String>,
    environment: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    components: Vec<RawComponent>,
    #[serde(default)]
    versions: Vec<RawVersion>,
    #[serde(default)]
    fix_versions: Vec<RawVersion>,
    assignee: Option<RawUser>,
    reporter: Option<RawUser>,
    creator: Option<RawUser>,
    #[serde(default)]
    issuelinks: Vec<RawLink>,
    parent: Option<RawLinked>,
    epic: Option<RawEpic>,
    #[serde(default)]
    closed_sprints: Vec<RawSprint>,
    sprint: Option<RawSprint>,
    #[serde(default)]
    flagged: bool,
}

#[derive(Debug, Deserialize)]
struct RawIssueType {
    id: Id,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    subtask: bool,
}

#[derive(Debug, Deserialize)]
struct RawProjectRef {
    key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    id: Id,
    name: String,
    #[serde(default)]
    description: String,
    status_category: RawStatusCategory,
}

#[derive(Debug, Deserialize)]
struct RawStatusCategory {
    key: String,
}

#[derive(Debug, Deserialize)]
struct RawNamed {
    id: Id,
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    id: Id,
    name: String,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVersion {
    id: Id,
    name: String,
    description: Option<String>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    released: bool,
    release_date: Option<String>,
    project_id: Option<Id>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUser {
    name: String,
    display_name: Option<String>,
    #[serde(default = "yes")]
    active: bool,
    time_zone: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLink {
    id: Id,
    #[serde(rename = "type")]
    link_type: RawLinkType,
    inward_issue: Option<RawLinked>,
    outward_issue: Option<RawLinked>,
}

#[derive(Debug, Deserialize)]
struct RawLinkType {
    id: Id,
    name: String,
    inward: String,
    outward: String,
}

#[derive(Debug, Deserialize)]
struct RawLinked {
    id: Id,
    key: String,
    fields: Option<RawLinkedFields>,
}

#[derive(Debug, Deserialize)]
struct RawLinkedFields {
    summary: Option<String>,
    status: Option<RawStatus>,
    priority: Option<RawNamed>,
    issuetype: Option<RawIssueType>,
}

#[derive(Debug, Deserialize)]
struct RawEpic {
    id: Id,
    key: String,
    summary: Option<String>,
    name: Option<String>,
    #[serde(default)]
    done: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSprint {
    id: u64,
    name: String,
    state: String,
    origin_board_id: Option<u64>,
    goal: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    complete_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProject {
    id: Id,
    key: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    components: Vec<RawComponent>,
    #[serde(default)]
    issue_types: Vec<RawIssueType>,
    #[serde(default)]
    versions: Vec<RawVersion>,
}

/// References that can only be resolved once every issue is known.
#[derive(Debug)]
enum PendingParent {
    Issue(Box<RawLinked>),
    Epic(RawEpic),
}

/// Lookup tables from the data's ids to the site's table indices.
#[derive(Debug, Default)]
struct Tables {
    statuses: HashMap<String, u16>,
    issue_types: HashMap<String, u16>,
    priorities: HashMap<String, u16>,
    resolutions: HashMap<String, u16>,
    link_types: HashMap<String, u16>,
    components: HashMap<String, u32>,
    versions: HashMap<String, u32>,
    sprints: HashMap<u64, u32>,
}

fn small(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl Tables {
    fn status(&mut self, site: &mut Site, raw: &RawStatus) -> u16 {
        let id = raw.id.text();
        if let Some(&s) = self.statuses.get(&id) {
            return s;
        }
        let s = small(site.statuses.len());
        site.statuses.push(Status {
            id: id.clone(),
            name: raw.name.clone(),
            description: raw.description.clone(),
            category: StatusCategory::from_key(&raw.status_category.key)
                .unwrap_or(StatusCategory::New),
        });
        self.statuses.insert(id, s);
        s
    }

    fn issue_type(&mut self, site: &mut Site, raw: &RawIssueType) -> u16 {
        let id = raw.id.text();
        if let Some(&t) = self.issue_types.get(&id) {
            return t;
        }
        let t = small(site.issue_types.len());
        let hierarchy_level = if raw.subtask {
            -1
        } else if raw.name == "Epic" {
            1
        } else {
            0
        };
        site.issue_types.push(IssueType {
            id: id.clone(),
            name: raw.name.clone(),
            description: raw.description.clone(),
            subtask: raw.subtask,
            hierarchy_level,
        });
        self.issue_types.insert(id, t);
        t
    }

    fn priority(&mut self, site: &mut Site, raw: &RawNamed) -> u16 {
        let id = raw.id.text();
        if let Some(&p) = self.priorities.get(&id) {
            return p;
        }
        let p = small(site.priorities.len());
        site.priorities.push(Priority {
            id: id.clone(),
            name: raw.name.clone(),
            status_color: priority_color(&raw.name),
        });
        self.priorities.insert(id, p);
        p
    }

    fn resolution(&mut self, site: &mut Site, raw: &RawNamed) -> u16 {
        let id = raw.id.text();
        if let Some(&r) = self.resolutions.get(&id) {
            return r;
        }
        let r = small(site.resolutions.len());
        site.resolutions.push(Resolution {
            id: id.clone(),
            name: raw.name.clone(),
            description: raw.description.clone(),
        });
        self.resolutions.insert(id, r);
        r
    }

    fn link_type(&mut self, site: &mut Site, raw: &RawLinkType) -> u16 {
        let id = raw.id.text();
        if let Some(&t) = self.link_types.get(&id) {
            return t;
        }
        let t = small(site.link_types.len());
        site.link_types.push(LinkType {
            id: id.clone(),
            name: raw.name.clone(),
            inward: raw.inward.clone(),
            outward: raw.outward.clone(),
        });
        self.link_types.insert(id, t);
        t
    }

    fn component(&mut self, site: &mut Site, raw: &RawComponent, project: u16) -> u32 {
        let id = raw.id.text();
        if let Some(&c) = self.components.get(&id) {
            return c;
        }
        let c = index_u32(site.components.len());
        site.components.push(Component {
            id: id.clone(),
            name: raw.name.clone(),
            description: raw.description.clone().filter(|d| !d.is_empty()),
            project,
        });
        if let Some(p) = site.projects.get_mut(project as usize) {
            p.components.push(c);
        }
        self.components.insert(id, c);
        c
    }

    fn version(&mut self, site: &mut Site, raw: &RawVersion, project: u16) -> u32 {
        let id = raw.id.text();
        if let Some(&v) = self.versions.get(&id) {
            // Issues carry release dates and descriptions that projects.json lacks.
            let version = &mut site.versions[v as usize];
            if version.release_date.is_none() {
                version.release_date.clone_from(&raw.release_date);
            }
            if version.description.is_none() {
                version.description = raw.description.clone().filter(|d| !d.is_empty());
            }
            return v;
        }
        let v = index_u32(site.versions.len());
        site.versions.push(Version {
            id: id.clone(),
            name: raw.name.clone(),
            description: raw.description.clone().filter(|d| !d.is_empty()),
            archived: raw.archived,
            released: raw.released,
            release_date: raw.release_date.clone(),
            project,
        });
        if let Some(p) = site.projects.get_mut(project as usize) {
            p.versions.push(v);
        }
        self.versions.insert(id, v);
        v
    }

    fn sprint(&mut self, site: &mut Site, raw: &RawSprint) -> u32 {
        if let Some(&s) = self.sprints.get(&raw.id) {
            return s;
        }
        let s = index_u32(site.sprints.len());
        site.sprints.push(Sprint {
            id: raw.id,
            name: raw.name.clone(),
            state: raw.state.clone(),
            board_id: raw.origin_board_id.unwrap_or(0),
            goal: raw.goal.clone(),
            start_date: raw.start_date.clone(),
            end_date: raw.end_date.clone(),
            complete_date: raw.complete_date.clone(),
        });
        self.sprints.insert(raw.id, s);
        s
    }

    fn external(&mut self, site: &mut Site, raw: &RawLinked) -> Target {
        let id = raw.id.num().unwrap_or(0);
        if let Some(i) = site.issue_by_id(id) {
            return Target::Local(i);
        }
        let fields = raw.fields.as_ref();
        let status = fields
            .and_then(|f| f.status.as_ref())
            .map(|s| self.status(site, s));
        let priority = fields
            .and_then(|f| f.priority.as_ref())
            .map(|p| self.priority(site, p));
        let issue_type = fields
            .and_then(|f| f.issuetype.as_ref())
            .map(|t| self.issue_type(site, t));
        Target::External(site.add_external(ExternalIssue {
            id,
            key: raw.key.clone(),
            summary: fields.and_then(|f| f.summary.clone()).unwrap_or_default(),
            status,
            priority,
            issue_type,
        }))
    }
}

/// Jira Cloud's default colours of the standard priorities.
fn priority_color(name: &str) -> String {
    match name {
        "Blocker" | "Critical" | "Highest" => "#d04437",
        "High" | "Major" => "#f15C75",
        "Medium" => "#f79232",
        "Low" | "Minor" => "#707070",
        "Trivial" | "Lowest" => "#999999",
        _ => "#cfcfcf",
    }
    .to_owned()
}

/// Loads `issues.jsonl.gz` and `projects.json` from a TiDev archive directory. The site has no permissions yet:
/// apply a [`crate::site::SiteFile`] to it.
pub fn load_tidev(dir: &Path) -> Result<Site, Error> {
    let mut site = Site::default();
    let mut tables = Tables::default();
    read_projects(&mut site, &mut tables, &dir.join("projects.json"))?;

    let path = dir.join("issues.jsonl.gz");
    let path_text = path.display().to_string();
    let file = File::open(&path).map_err(|source| Error::Io {
        path: path_text.clone(),
        source,
    })?;
    let reader = BufReader::with_capacity(1 << 16, GzDecoder::new(file));
    let mut pending_parents: Vec<(u32, PendingParent)> = Vec::new();
    let mut pending_links: Vec<(u32, Vec<RawLink>)> = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| Error::Io {
            path: path_text.clone(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let raw: RawIssue = serde_json::from_str(&line).map_err(|source| Error::Json {
            path: path_text.clone(),
            line: n + 1,
            source,
        })?;
        let err = |message: String| Error::Data {
            path: path_text.clone(),
            line: n + 1,
            message,
        };
        let mut raw = raw;
        let links = std::mem::take(&mut raw.fields.issuelinks);
        let parent = raw
            .fields
            .parent
            .take()
            .map(|p| PendingParent::Issue(Box::new(p)))
            .or_else(|| raw.fields.epic.take().map(PendingParent::Epic));
        let issue = convert(&mut site, &mut tables, raw).map_err(err)?;
        let idx = site.push_issue(issue).map_err(|e| Error::Data {
            path: path_text.clone(),
            line: n + 1,
            message: e.to_string(),
        })?;
        if let Some(p) = parent {
            pending_parents.push((idx, p));
        }
        if !links.is_empty() {
            pending_links.push((idx, links));
        }
    }
    resolve_parents(&mut site, &mut tables, pending_parents);
    resolve_links(&mut site, &mut tables, pending_links);
    site.rebuild_children();
    for idx in 0..site.issues.len() {
        derive_estimates(&mut site, index_u32(idx));
    }
    site.now = site.issues.iter().map(|i| i.updated).max().unwrap_or(0);
    Ok(site)
}

fn read_projects(site: &mut Site, tables: &mut Tables, path: &Path) -> Result<(), Error> {
    let path_text = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path_text.clone(),
        source,
    })?;
    let raw: Vec<RawProject> = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path_text,
        line: 1,
        source,
    })?;
    for p in raw {
        let project = small(site.projects.len());
        site.projects.push(Project {
            id: p.id.text(),
            key: p.key.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            issue_types: Vec::new(),
            components: Vec::new(),
            versions: Vec::new(),
            lead: None,
        });
        let types: Vec<u16> = p
            .issue_types
            .iter()
            .map(|t| tables.issue_type(site, t))
            .collect();
        site.projects[project as usize].issue_types = types;
        for c in &p.components {
            tables.component(site, c, project);
        }
        for v in &p.versions {
            let owner = v
                .project_id
                .as_ref()
                .and_then(|id| site.projects.iter().position(|q| q.id == id.text()))
                .map_or(project, small);
            tables.version(site, v, owner);
        }
    }
    Ok(())
}

fn convert(site: &mut Site, tables: &mut Tables, raw: RawIssue) -> Result<Issue, String> {
    let f = raw.fields;
    let project = site
        .project_by_key(&f.project.key)
        .ok_or_else(|| format!("unknown project {}", f.project.key))?;
    let issue_type = tables.issue_type(site, &f.issuetype);
    if !site.projects[project as usize]
        .issue_types
        .contains(&issue_type)
    {
        site.projects[project as usize].issue_types.push(issue_type);
    }
    let status = tables.status(site, &f.status);
    let priority = f.priority.as_ref().map(|p| tables.priority(site, p));
    let resolution = f.resolution.as_ref().map(|r| tables.resolution(site, r));
    let mut person = |u: Option<&RawUser>| {
        u.map(|u| {
            site.add_person(
                &u.name,
                u.display_name.as_deref().unwrap_or(&u.name),
                u.active,
                u.time_zone.as_deref().unwrap_or("UTC"),
            )
        })
    };
    let assignee = person(f.assignee.as_ref());
    let reporter = person(f.reporter.as_ref());
    let creator = person(f.creator.as_ref());
    let labels = f.labels.iter().map(|l| site.interner.intern(l)).collect();
    let components = f
        .components
        .iter()
        .map(|c| tables.component(site, c, project))
        .collect();
    let versions = f
        .versions
        .iter()
        .map(|v| tables.version(site, v, project))
        .collect();
    let fix_versions = f
        .fix_versions
        .iter()
        .map(|v| tables.version(site, v, project))
        .collect();
    let sprints = f
        .closed_sprints
        .iter()
        .chain(f.sprint.as_ref())
        .map(|s| tables.sprint(site, s))
        .collect();
    let created = parse_datetime(&f.created).ok_or_else(|| format!("bad created {}", f.created))?;
    let updated = parse_datetime(&f.updated).ok_or_else(|| format!("bad updated {}", f.updated))?;
    let id = raw
        .id
        .num()
        .ok_or_else(|| format!("bad id {}", raw.id.text()))?;
    Ok(Issue {
        id,
        key: raw.key.into(),
        project,
        issue_type,
        status,
        priority,
        resolution,
        security: None,
        summary: f.summary.unwrap_or_default().into(),
        description: f.description.map(Into::into),
        environment: f.environment.map(Into::into),
        created,
        updated,
        resolution_date: f.resolutiondate.as_deref().and_then(parse_datetime),
        assignee,
        reporter,
        creator,
        labels,
        components,
        versions,
        fix_versions,
        sprints,
        parent: None,
        children: Vec::new(),
        links: Vec::new(),
        rank: u64::from(index_u32(site.issues.len())),
        story_points: None,
        original_estimate: None,
        remaining_estimate: None,
        time_spent: None,
        flagged: f.flagged,
        change: 0,
    })
}

fn resolve_parents(site: &mut Site, tables: &mut Tables, pending: Vec<(u32, PendingParent)>) {
    let epic_type = site
        .issue_types
        .iter()
        .position(|t| t.hierarchy_level == 1)
        .map(small);
    let closed = site
        .statuses
        .iter()
        .position(|s| s.name == "Closed")
        .map(small);
    let open = site
        .statuses
        .iter()
        .position(|s| s.name == "Open")
        .map(small);
    for (idx, parent) in pending {
        let target = match parent {
            PendingParent::Issue(raw) => tables.external(site, &raw),
            PendingParent::Epic(epic) => {
                let id = epic.id.num().unwrap_or(0);
                match site.issue_by_id(id) {
                    Some(local) => Target::Local(local),
                    None => Target::External(site.add_external(ExternalIssue {
                        id,
                        key: epic.key.clone(),
                        summary: epic.summary.or(epic.name).unwrap_or_default(),
                        status: if epic.done { closed } else { open },
                        priority: None,
                        issue_type: epic_type,
                    })),
                }
            }
        };
        site.issues[idx as usize].parent = Some(target);
    }
}

fn resolve_links(site: &mut Site, tables: &mut Tables, pending: Vec<(u32, Vec<RawLink>)>) {
    let mut own_order: Vec<(u32, Vec<u64>)> = Vec::with_capacity(pending.len());
    for (idx, links) in pending {
        let mut ids = Vec::with_capacity(links.len());
        for raw in links {
            let link_type = tables.link_type(site, &raw.link_type);
            let Some(id) = raw.id.num() else { continue };
            let (source, destination) = match (&raw.outward_issue, &raw.inward_issue) {
                (Some(other), _) => (Target::Local(idx), tables.external(site, other)),
                (None, Some(other)) => (tables.external(site, other), Target::Local(idx)),
                (None, None) => continue,
            };
            site.insert_link(Link {
                id,
                link_type,
                source,
                destination,
            });
            ids.push(id);
        }
        own_order.push((idx, ids));
    }
    // Each issue lists its links in its own order, whichever end stored the link first.
    let index_of: HashMap<u64, u32> = site
        .links
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.as_ref().map(|l| (l.id, index_u32(i))))
        .collect();
    for (idx, ids) in own_order {
        let mut ordered: Vec<u32> = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(&l) = index_of.get(&id)
                && !ordered.contains(&l)
            {
                ordered.push(l);
            }
        }
        let issue = &mut site.issues[idx as usize];
        for &l in &issue.links {
            if !ordered.contains(&l) {
                ordered.push(l);
            }
        }
        issue.links = ordered;
    }
}

/// Story points and time tracking for an issue, from the hash of its key (see the module documentation).
pub fn derive_estimates(site: &mut Site, idx: u32) {
    let (level, category, resolved) = {
        let issue = site.issue(idx);
        (
            site.issue_types[issue.issue_type as usize].hierarchy_level,
            site.statuses[issue.status as usize].category,
            issue.resolution.is_some(),
        )
    };
    let issue = &mut site.issues[idx as usize];
    let h = fnv1a64(issue.key.as_bytes());
    let (points, original) = estimates_for(level, h);
    issue.story_points = points;
    issue.original_estimate = original;
    let (spent, remaining) = tracking_for(original, category, resolved, h);
    issue.time_spent = spent;
    issue.remaining_estimate = remaining;
}

/// Story points and original estimate (seconds) for a hierarchy level and hash.
#[must_use]
pub fn estimates_for(level: i32, h: u64) -> (Option<f32>, Option<u32>) {
    match level {
        0 => {
            let points: u32 = match h % 16 {
                0..=2 => 1,
                3..=6 => 2,
                7..=10 => 3,
                11..=13 => 5,
                14 => 8,
                _ => 13,
            };
            #[allow(clippy::cast_precision_loss)]
            let p = points as f32;
            (Some(p), Some(points * 4 * 3600))
        }
        l if l < 0 => {
            let hours = 1 + u32::try_from((h >> 8) % 8).unwrap_or(0);
            (None, Some(hours * 3600))
        }
        _ => (None, None),
    }
}

/// Time spent and remaining estimate (seconds) from the original estimate and the issue's state.
#[must_use]
pub fn tracking_for(
    original: Option<u32>,
    category: StatusCategory,
    resolved: bool,
    h: u64,
) -> (Option<u32>, Option<u32>) {
    let Some(original) = original else {
        return (None, None);
    };
    let share = |min: u64, spread: u64| {
        let pct = min + (h >> 16) % spread;
        let secs = u64::from(original) * pct / 100;
        u32::try_from(secs - secs % 900).unwrap_or(u32::MAX)
    };
    let done = resolved || category == StatusCategory::Done;
    let spent = match category {
        _ if done => Some(share(70, 71)),
        StatusCategory::Indeterminate => Some(share(10, 51)),
        _ => None,
    };
    let remaining = if done {
        0
    } else {
        original.saturating_sub(spent.unwrap_or(0))
    };
    (spent, Some(remaining))
}
