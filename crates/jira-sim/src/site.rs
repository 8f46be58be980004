//! The site file: people, groups, project roles, per-project browse permission and issue security levels,
//! applied on top of imported or generated issues.
//!
//! Format (TOML; every list may be empty):
//! ```toml
//! base_url = "https://arbor-sim.atlassian.net"     # optional
//! [[people]]
//! name = "admin"                                   # user name; the account id is derived from it
//! display_name = "Ada Admin"
//! email = "ada@example.invalid"                    # optional, default <name>@example.invalid
//! time_zone = "Europe/Berlin"                      # optional, default UTC
//! [[groups]]
//! name = "jira-software-users"
//! members = ["admin"]                              # user names (site file or data)
//! all_people = true                                # also every person known to the site
//! [[project_roles]]
//! role = "Developers"
//! projects = ["*"]                                 # "*" = every project; `except` removes some
//! groups = ["jira-software-users"]                 # and/or users = [...]
//! [[browse]]                                       # "Browse projects" grants; several may cover a project
//! projects = ["*"]
//! except = ["AC"]
//! roles = ["Developers"]                           # and/or groups, users, anyone = true
//! [browse_users]                                   # the global "Browse users and groups" (searching
//! groups = ["jira-software-users"]                 #   people and groups); absent = every person has it
//! [[security_levels]]
//! name = "Internal"
//! roles = ["Administrators"]                       # who sees issues at this level: roles, groups, users
//! [security_levels.issues]                         # which issues carry the level
//! projects = []                                    # filter: empty = every project
//! issue_types = []                                 # filter: empty = every type (by name)
//! keys = []                                        # selectors: an issue matching any selector gets the
//! labels = []                                      #   level; with no selector at all, every issue that
//! every_nth = 10                                   #   passes the filters does (every_nth: id % n == 0)
//! ```
//! An issue gets the first level whose rule it matches. People named in the file but unknown to the site are
//! added; every other name must exist, or applying the file fails.
//!
//! The [`DEFAULT_SITE`] (used when no file is given): `admin` (Ada Admin) is in `jira-administrators` and holds
//! the Administrators role everywhere: she sees every issue. `dev` (Devon Developer) and every imported person are
//! in `jira-software-users` (role Developers): they cannot browse the projects `AC` (real data) and `OPS`
//! (synthetic data), and cannot see issues at the `Internal` level, which every issue whose id is a multiple of
//! 10 carries. Everyone may browse users and groups.

use std::collections::HashSet;

use serde::Deserialize;

use crate::model::{Error, Grantee, Site, index_u32};

/// The built-in site file.
pub const DEFAULT_SITE: &str = r#"
[[people]]
name = "admin"
display_name = "Ada Admin"
time_zone = "Europe/Berlin"

[[people]]
name = "dev"
display_name = "Devon Developer"
time_zone = "America/Los_Angeles"

[[groups]]
name = "jira-administrators"
members = ["admin"]

[[groups]]
name = "jira-software-users"
members = ["admin", "dev"]
all_people = true

[[project_roles]]
role = "Administrators"
projects = ["*"]
groups = ["jira-administrators"]

[[project_roles]]
role = "Developers"
projects = ["*"]
groups = ["jira-software-users"]

[[browse]]
projects = ["*"]
roles = ["Administrators"]

[[browse]]
projects = ["*"]
except = ["AC", "OPS"]
roles = ["Developers"]

[browse_users]
groups = ["jira-software-users", "jira-administrators"]

[[security_levels]]
name = "Internal"
description = "Visible to administrators only"
roles = ["Administrators"]
[security_levels.issues]
every_nth = 10
"#;

/// A parsed site file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    pub base_url: Option<String>,
    #[serde(default)]
    pub people: Vec<PersonEntry>,
    #[serde(default)]
    pub groups: Vec<GroupEntry>,
    #[serde(default)]
    pub project_roles: Vec<RoleEntry>,
    #[serde(default)]
    pub browse: Vec<BrowseEntry>,
    /// Who holds "Browse users and groups"; every person when absent.
    pub browse_users: Option<Grants>,
    #[serde(default)]
    pub security_levels: Vec<LevelEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonEntry {
    pub name: String,
    pub display_name: String,
    pub email: Option<String>,
    pub time_zone: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub all_people: bool,
}

/// Who a rule names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    #[serde(default)]
    pub anyone: bool,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    pub role: String,
    #[serde(default = "every_project")]
    pub projects: Vec<String>,
    #[serde(default)]
    pub except: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

fn every_project() -> Vec<String> {
    vec!["*".to_owned()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowseEntry {
    #[serde(default = "every_project")]
    pub projects: Vec<String>,
    #[serde(default)]
    pub except: Vec<String>,
    #[serde(flatten)]
    pub grants: Grants,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelEntry {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(flatten)]
    pub grants: Grants,
    #[serde(default)]
    pub issues: LevelRule,
}

/// Which issues carry a security level.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelRule {
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default)]
    pub issue_types: Vec<String>,
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub every_nth: Option<u64>,
}

impl SiteFile {
    /// Parses a site file's TOML text.
    pub fn parse(text: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|e| Error::SiteFile(e.to_string()))
    }

    /// The built-in default site.
    pub fn default_site() -> Result<Self, Error> {
        Self::parse(DEFAULT_SITE)
    }

    /// Reads a site file: TOML, or JSON of the same shape when the name ends in `.json`.
    pub fn read(path: &std::path::Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| Error::SiteFile(e.to_string()))
        } else {
            Self::parse(&text)
        }
    }

    /// Applies the file to a site: people, groups, roles, permissions and security levels (replacing earlier
    /// groups, roles and rules), then precomputes access.
    pub fn apply(&self, site: &mut Site) -> Result<(), Error> {
        if let Some(url) = &self.base_url {
            site.base_url = url.trim_end_matches('/').to_owned();
        }
        for p in &self.people {
            let idx = site.add_person(
                &p.name,
                &p.display_name,
                p.active,
                p.time_zone.as_deref().unwrap_or("UTC"),
            );
            if let Some(email) = &p.email {
                site.people[idx as usize].email.clone_from(email);
            }
        }
        site.groups.clear();
        for g in &self.groups {
            let mut members = if g.all_people {
                (0..site.people.len()).map(index_u32).collect()
            } else {
                Vec::new()
            };
            for name in &g.members {
                let p = person(site, name)?;
                if !members.contains(&p) {
                    members.push(p);
                }
            }
            site.groups.push(crate::model::Group {
                name: g.name.clone(),
                group_id: group_id_for(&g.name),
                members,
            });
        }
        site.roles.clear();
        site.role_actors.clear();
        for r in &self.project_roles {
            let role = match site.role_by_name(&r.role) {
                Some(role) => role,
                None => {
                    site.roles.push(crate::model::Role {
                        id: 10_002 + u64::from(index_u32(site.roles.len())),
                        name: r.role.clone(),
                        description: format!("The {} project role", r.role),
                    });
                    index_u32(site.roles.len() - 1)
                }
            };
            let grants = Grants {
                anyone: false,
                users: r.users.clone(),
                groups: r.groups.clone(),
                roles: Vec::new(),
            };
            let actors = grantees(site, &grants)?;
            for project in projects(site, &r.projects, &r.except)? {
                site.role_actors
                    .entry((project, role))
                    .or_default()
                    .extend(actors.iter().copied());
            }
        }
        site.browse = vec![Vec::new(); site.projects.len()];
        for b in &self.browse {
            let who = grantees(site, &b.grants)?;
            for project in projects(site, &b.projects, &b.except)? {
                site.browse[project as usize].extend(who.iter().copied());
            }
        }
        site.browse_users = match &self.browse_users {
            Some(grants) => grantees(site, grants)?,
            None => vec![Grantee::Anyone],
        };
        site.security_levels.clear();
        for (i, l) in self.security_levels.iter().enumerate() {
            site.security_levels.push(crate::model::SecurityLevel {
                id: (10_000 + i).to_string(),
                name: l.name.clone(),
                description: l.description.clone(),
                grantees: grantees(site, &l.grants)?,
            });
        }
        assign_levels(site, &self.security_levels)?;
        site.finish();
        Ok(())
    }
}

fn person(site: &Site, name: &str) -> Result<u32, Error> {
    site.person_by_name(name)
        .ok_or_else(|| Error::SiteFile(format!("unknown person {name:?}")))
}

fn grantees(site: &Site, grants: &Grants) -> Result<Vec<Grantee>, Error> {
    let mut out = Vec::new();
    if grants.anyone {
        out.push(Grantee::Anyone);
    }
    for u in &grants.users {
        out.push(Grantee::Person(person(site, u)?));
    }
    for g in &grants.groups {
        let g = site
            .group_by_name(g)
            .ok_or_else(|| Error::SiteFile(format!("unknown group {g:?}")))?;
        out.push(Grantee::Group(g));
    }
    for r in &grants.roles {
        let r = site
            .role_by_name(r)
            .ok_or_else(|| Error::SiteFile(format!("unknown project role {r:?}")))?;
        out.push(Grantee::Role(r));
    }
    Ok(out)
}

/// Project indices named by a list (`*` = all) minus `except`. Keys absent from the site are ignored, so that
/// one file serves the real and the synthetic data.
fn projects(site: &Site, names: &[String], except: &[String]) -> Result<Vec<u16>, Error> {
    let all = names.iter().any(|n| n == "*");
    let out: Vec<u16> = site
        .projects
        .iter()
        .enumerate()
        .filter(|(_, p)| (all || names.contains(&p.key)) && !except.contains(&p.key))
        .filter_map(|(i, _)| u16::try_from(i).ok())
        .collect();
    if names.is_empty() {
        return Err(Error::SiteFile("a rule names no projects".into()));
    }
    Ok(out)
}

fn assign_levels(site: &mut Site, levels: &[LevelEntry]) -> Result<(), Error> {
    struct Rule {
        projects: Option<HashSet<u16>>,
        types: Option<HashSet<u16>>,
        keys: HashSet<String>,
        labels: Vec<crate::model::Sym>,
        every_nth: Option<u64>,
        any_selector: bool,
    }
    let mut rules = Vec::with_capacity(levels.len());
    for l in levels {
        let r = &l.issues;
        if r.every_nth == Some(0) {
            return Err(Error::SiteFile(format!(
                "level {:?}: every_nth must be at least 1",
                l.name
            )));
        }
        let projects = (!r.projects.is_empty()).then(|| {
            site.projects
                .iter()
                .enumerate()
                .filter(|(_, p)| r.projects.contains(&p.key))
                .filter_map(|(i, _)| u16::try_from(i).ok())
                .collect()
        });
        let types = (!r.issue_types.is_empty()).then(|| {
            site.issue_types
                .iter()
                .enumerate()
                .filter(|(_, t)| r.issue_types.contains(&t.name))
                .filter_map(|(i, _)| u16::try_from(i).ok())
                .collect()
        });
        rules.push(Rule {
            projects,
            types,
            keys: r.keys.iter().cloned().collect(),
            labels: r
                .labels
                .iter()
                .filter_map(|l| site.interner.get(l))
                .collect(),
            every_nth: r.every_nth,
            any_selector: !r.keys.is_empty() || !r.labels.is_empty() || r.every_nth.is_some(),
        });
    }
    for issue in &mut site.issues {
        issue.security = rules
            .iter()
            .position(|rule| {
                rule.projects
                    .as_ref()
                    .is_none_or(|p| p.contains(&issue.project))
                    && rule
                        .types
                        .as_ref()
                        .is_none_or(|t| t.contains(&issue.issue_type))
                    && (!rule.any_selector
                        || rule.keys.contains(&*issue.key)
                        || issue.labels.iter().any(|l| rule.labels.contains(l))
                        || rule.every_nth.is_some_and(|n| issue.id % n == 0))
            })
            .and_then(|i| u16::try_from(i).ok());
    }
    Ok(())
}

/// A stable group id (UUID-shaped, as Cloud's `groupId`) from the group name.
#[must_use]
pub fn group_id_for(name: &str) -> String {
    let a = crate::model::fnv1a64(format!("group:{name}").as_bytes());
    let b = crate::model::fnv1a64(format!("group-id:{name}").as_bytes());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}
