//! Synthetic sites of any size (1k – 1M issues and more), deterministic for a seed.
//!
//! Shape, per the real data and common Jira Software usage:
//! - projects: `clamp(n / 25_000 + 5, 5, 45)`, keys from a fixed list (`CORE`, `WEB`, `MOB`, `API`, `OPS`, ...),
//!   each with 6 components, 10 versions (the first 6 released) and a board of sprints (mostly closed, one active,
//!   some future); issues are spread over projects with weights 1–4;
//! - issue types Epic (level 1), Story, Task, Bug (level 0), Sub-task (level -1): about 3 % epics, 70 % standard
//!   issues (60 % of them under an epic of their project), 27 % sub-tasks under a recent standard issue;
//! - statuses in every category (Backlog, To Do, In Progress, In Review, Done); older issues are more often done;
//!   done issues carry a resolution and a resolution date;
//! - about 0.5 links per issue: mostly between nearby issues, some across the site, 3 % of them as
//!   `Blocks` triangles (cycles), 1 % dangling (to `LEGACY-n` issues the site does not hold);
//! - assignees and reporters from a pool of `clamp(n / 200, 20, 5000)` people;
//! - story points, estimates and time spent as in [`crate::import`], from a hash drawn from the generator.
//!
//! Invariant: the same `(n, seed)` gives the same site, field for field, on every platform (a splitmix64 PRNG,
//! no hash-map iteration order involved).

use crate::import::{estimates_for, tracking_for};
use crate::model::{
    Component, ExternalIssue, Issue, IssueType, Link, LinkType, Priority, Project, Resolution,
    Site, Sprint, Status, StatusCategory, Target, Version, format_date, format_datetime, index_u32,
};

/// splitmix64: small, fast, and good enough for shaping data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n` is 0); the modulo bias is irrelevant at these sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform index into a slice of length `n`.
    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

const PROJECT_KEYS: [(&str, &str); 12] = [
    ("CORE", "Core Platform"),
    ("WEB", "Web Client"),
    ("MOB", "Mobile Apps"),
    ("API", "Public API"),
    ("OPS", "Operations"),
    ("DATA", "Data Pipeline"),
    ("PAY", "Payments"),
    ("AUTH", "Identity and Access"),
    ("SRCH", "Search"),
    ("INFRA", "Infrastructure"),
    ("DOCS", "Documentation"),
    ("QA", "Quality Assurance"),
];
const COMPONENTS: [&str; 12] = [
    "Backend",
    "Frontend",
    "Database",
    "Build",
    "Security",
    "Performance",
    "UX",
    "Integrations",
    "Reporting",
    "Notifications",
    "Accessibility",
    "Localisation",
];
const VERBS: [&str; 12] = [
    "Fix", "Add", "Improve", "Refactor", "Remove", "Support", "Document", "Migrate", "Optimise",
    "Validate", "Cache", "Redesign",
];
const OBJECTS: [&str; 16] = [
    "login flow",
    "export to CSV",
    "search results",
    "user settings",
    "billing page",
    "audit log",
    "REST client",
    "notification emails",
    "dashboard widgets",
    "sync job",
    "permission checks",
    "file upload",
    "date picker",
    "onboarding wizard",
    "rate limiter",
    "release notes",
];
const QUALIFIERS: [&str; 10] = [
    "on Android",
    "for large accounts",
    "in dark mode",
    "after timeout",
    "for admins",
    "in Safari",
    "under load",
    "with SSO",
    "for new users",
    "in the EU region",
];
const LABELS: [&str; 16] = [
    "backend",
    "frontend",
    "regression",
    "customer",
    "tech-debt",
    "security",
    "performance",
    "ux",
    "flaky",
    "needs-design",
    "quick-win",
    "blocked",
    "api",
    "mobile",
    "docs",
    "release-blocker",
];
const FIRST: [&str; 16] = [
    "Alex", "Sam", "Jordan", "Taylor", "Morgan", "Riley", "Casey", "Jamie", "Robin", "Avery",
    "Quinn", "Drew", "Kim", "Lee", "Noa", "Ari",
];
const LAST: [&str; 16] = [
    "Smith", "Garcia", "Müller", "Kowalski", "Nakamura", "Okafor", "Silva", "Rossi", "Novak",
    "Dubois", "Larsen", "Haddad", "Chen", "Patel", "Ivanova", "Moreau",
];
const ZONES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Europe/London",
    "Australia/Sydney",
];

/// 2023-01-01T00:00:00Z; issues are created over the three years after it.
const START: i64 = 1_672_531_200_000;
const SPAN: i64 = 3 * 365 * 86_400_000;

// Table indices fixed by `metadata`.
const EPIC: u16 = 0;
const STORY: u16 = 1;
const TASK: u16 = 2;
const BUG: u16 = 3;
const SUBTASK: u16 = 4;
const BLOCKS: u16 = 0;

fn metadata(site: &mut Site) {
    let ty = |id: &str, name: &str, description: &str, level: i32| IssueType {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        subtask: level < 0,
        hierarchy_level: level,
    };
    site.issue_types = vec![
        ty(
            "10000",
            "Epic",
            "A big user story that needs to be broken down.",
            1,
        ),
        ty(
            "10001",
            "Story",
            "Functionality or a feature expressed as a user goal.",
            0,
        ),
        ty("10002", "Task", "A small, distinct piece of work.", 0),
        ty("10003", "Bug", "A problem or error.", 0),
        ty(
            "10004",
            "Sub-task",
            "A small piece of work that's part of a larger task.",
            -1,
        ),
    ];
    let st = |id: &str, name: &str, category| Status {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        category,
    };
    site.statuses = vec![
        st("10000", "Backlog", StatusCategory::New),
        st("10001", "To Do", StatusCategory::New),
        st("3", "In Progress", StatusCategory::Indeterminate),
        st("10002", "In Review", StatusCategory::Indeterminate),
        st("10003", "Done", StatusCategory::Done),
    ];
    site.priorities = [
        ("1", "Highest", "#d04437"),
        ("2", "High", "#f15C75"),
        ("3", "Medium", "#f79232"),
        ("4", "Low", "#707070"),
        ("5", "Lowest", "#999999"),
    ]
    .iter()
    .map(|(id, name, color)| Priority {
        id: (*id).into(),
        name: (*name).into(),
        status_color: (*color).into(),
    })
    .collect();
    site.resolutions = [
        ("10000", "Done", "Work has been completed on this issue."),
        ("10001", "Won't Do", "This issue won't be actioned."),
        (
            "10002",
            "Duplicate",
            "The problem is a duplicate of an existing issue.",
        ),
        (
            "10003",
            "Cannot Reproduce",
            "All attempts at reproducing this issue failed.",
        ),
    ]
    .iter()
    .map(|(id, name, d)| Resolution {
        id: (*id).into(),
        name: (*name).into(),
        description: (*d).into(),
    })
    .collect();
    site.link_types = [
        ("10000", "Blocks", "is blocked by", "blocks"),
        ("10001", "Cloners", "is cloned by", "clones"),
        ("10002", "Duplicate", "is duplicated by", "duplicates"),
        ("10003", "Relates", "relates to", "relates to"),
    ]
    .iter()
    .map(|(id, name, inward, outward)| LinkType {
        id: (*id).into(),
        name: (*name).into(),
        inward: (*inward).into(),
        outward: (*outward).into(),
    })
    .collect();
}

struct ProjectState {
    weight: u64,
    next_number: u64,
    epics: Vec<u32>,
    /// Recent standard issues, as a ring of at most 32.
    recent: Vec<u32>,
    /// Sprint table indices in time order.
    sprints: Vec<u32>,
}

/// Generates a site of `n` issues. The site has no permissions yet: apply a [`crate::site::SiteFile`].
#[must_use]
pub fn generate(n: usize, seed: u64) -> Site {
    let mut rng = SplitMix64::new(seed ^ 0x005e_ed0f_a7b0);
    let mut site = Site::default();
    metadata(&mut site);

    let people = (n / 200).clamp(20, 5000);
    for i in 0..people {
        let display = format!(
            "{} {}",
            FIRST[rng.index(FIRST.len())],
            LAST[rng.index(LAST.len())]
        );
        let zone = ZONES[rng.index(ZONES.len())];
        site.add_person(&format!("user{i:05}"), &display, !rng.chance(20), zone);
    }

    let n_projects = (n / 25_000 + 5).clamp(5, 45);
    let sprints_per_project = (n / (n_projects * 150)).clamp(4, 300);
    let mut states = Vec::with_capacity(n_projects);
    for p in 0..n_projects {
        let (key, name) = match PROJECT_KEYS.get(p) {
            Some(&(k, name)) => (k.to_owned(), name.to_owned()),
            None => (format!("PRJ{p}"), format!("Project {p}")),
        };
        let project = u16::try_from(p).unwrap_or(u16::MAX);
        let project_id = 10_000 + p;
        let mut components = Vec::new();
        for c in 0..6 {
            let name = COMPONENTS[(p + c * 5) % COMPONENTS.len()];
            components.push(index_u32(site.components.len()));
            site.components.push(Component {
                id: (10_000 + p * 10 + c).to_string(),
                name: name.into(),
                description: None,
                project,
            });
        }
        let mut versions = Vec::new();
        for v in 0..10_i64 {
            versions.push(index_u32(site.versions.len()));
            site.versions.push(Version {
                id: (20_000 + p as u64 * 10 + v.unsigned_abs()).to_string(),
                name: format!("{}.{}", 1 + v / 5, v % 5),
                description: None,
                archived: v < 2,
                released: v < 6,
                release_date: Some(format_date(START + (v + 1) * SPAN / 10)),
                project,
            });
        }
        let mut sprints = Vec::new();
        let board = 1 + p as u64;
        let sprint_len = SPAN / i64::try_from(sprints_per_project).unwrap_or(1);
        for s in 0..sprints_per_project {
            let si = i64::try_from(s).unwrap_or(0);
            let start = START + si * sprint_len;
            let end = start + sprint_len;
            let closed_count = sprints_per_project * 8 / 10;
            let state = match s.cmp(&closed_count) {
                std::cmp::Ordering::Less => "closed",
                std::cmp::Ordering::Equal => "active",
                std::cmp::Ordering::Greater => "future",
            };
            sprints.push(index_u32(site.sprints.len()));
            site.sprints.push(Sprint {
                id: 1 + (p * 1000 + s) as u64,
                name: format!("{key} Sprint {}", s + 1),
                state: state.into(),
                board_id: board,
                goal: None,
                start_date: (state != "future")
                    .then(|| format_datetime(start).replace("+0000", "Z")),
                end_date: (state != "future").then(|| format_datetime(end).replace("+0000", "Z")),
                complete_date: (state == "closed")
                    .then(|| format_datetime(end).replace("+0000", "Z")),
            });
        }
        site.projects.push(Project {
            id: project_id.to_string(),
            key,
            name,
            description: String::new(),
            issue_types: vec![EPIC, STORY, TASK, BUG, SUBTASK],
            components,
            versions,
            lead: Some(index_u32(p % people)),
        });
        states.push(ProjectState {
            weight: 1 + rng.below(4),
            next_number: 1,
            epics: Vec::new(),
            recent: Vec::new(),
            sprints,
        });
    }
    let total_weight: u64 = states.iter().map(|s| s.weight).sum();
    let labels: Vec<_> = LABELS.iter().map(|l| site.interner.intern(l)).collect();

    site.issues.reserve(n);
    let n64 = n.max(1) as u64;
    for i in 0..n {
        let mut pick = rng.below(total_weight);
        let mut p = 0;
        while pick >= states[p].weight {
            pick -= states[p].weight;
            p += 1;
        }
        let project = u16::try_from(p).unwrap_or(u16::MAX);
        let roll = rng.below(1000);
        let state = &mut states[p];
        let (issue_type, parent) = if roll < 30 {
            (EPIC, None)
        } else if roll < 730 || state.recent.is_empty() {
            let ty = [STORY, STORY, TASK, BUG][rng.index(4)];
            let epic = (!state.epics.is_empty() && rng.chance(600)).then(|| {
                let from = state.epics.len().saturating_sub(20);
                state.epics[from + rng.index(state.epics.len() - from)]
            });
            (ty, epic)
        } else {
            (SUBTASK, Some(state.recent[rng.index(state.recent.len())]))
        };
        let idx = index_u32(i);
        match issue_type {
            EPIC => state.epics.push(idx),
            SUBTASK => {}
            _ => {
                if state.recent.len() < 32 {
                    state.recent.push(idx);
                } else {
                    let slot = rng.index(32);
                    state.recent[slot] = idx;
                }
            }
        }
        let number = state.next_number;
        state.next_number += 1;

        let frac_millis = i64::try_from(i as u64 * 1000 / n64).unwrap_or(0);
        let created =
            START + SPAN / 1000 * frac_millis + i64::try_from(rng.below(86_400_000)).unwrap_or(0);
        let age = 1000 - frac_millis; // 1000 = oldest
        let done_per_mille = 150 + u64::try_from(age).unwrap_or(0) * 75 / 100;
        let status: u16 = if rng.chance(done_per_mille) {
            4
        } else if rng.chance(350) {
            2 + u16::from(rng.chance(400))
        } else {
            u16::from(rng.chance(600))
        };
        let done = status == 4;
        let updated = created + i64::try_from(rng.below(60 * 86_400_000)).unwrap_or(0);
        let resolution = done.then(|| {
            if rng.chance(850) {
                0
            } else {
                1 + u16::try_from(rng.below(3)).unwrap_or(0)
            }
        });
        let assignee = (!rng.chance(150)).then(|| index_u32(rng.index(people)));
        let reporter = Some(index_u32(rng.index(people)));
        let summary = format!(
            "{} {} {}",
            VERBS[rng.index(VERBS.len())],
            OBJECTS[rng.index(OBJECTS.len())],
            QUALIFIERS[rng.index(QUALIFIERS.len())]
        );
        let description = rng.chance(400).then(|| {
            format!(
                "As a user I want to {}.\n\nAcceptance criteria:\n- works\n- is tested",
                summary.to_lowercase()
            )
            .into_boxed_str()
        });
        let n_labels = [0, 0, 0, 1, 1, 2][rng.index(6)];
        let issue_labels: Box<[_]> = (0..n_labels)
            .map(|_| labels[rng.index(labels.len())])
            .collect();
        let comps = &site.projects[p].components;
        let issue_components: Box<[u32]> = if rng.chance(600) {
            Box::new([comps[rng.index(comps.len())]])
        } else {
            Box::new([])
        };
        let vers = &site.projects[p].versions;
        let version_slot = usize::try_from(frac_millis).unwrap_or(0) * vers.len() / 1000;
        let fix_versions: Box<[u32]> = if rng.chance(500) {
            Box::new([vers[version_slot.min(vers.len() - 1)]])
        } else {
            Box::new([])
        };
        let affects: Box<[u32]> = if issue_type == BUG && rng.chance(500) {
            Box::new([vers[version_slot.saturating_sub(1)]])
        } else {
            Box::new([])
        };
        let sprint_slot = usize::try_from(frac_millis).unwrap_or(0) * state.sprints.len() / 1000;
        let issue_sprints: Box<[u32]> = if issue_type != EPIC && rng.chance(600) {
            let s = state.sprints[sprint_slot.min(state.sprints.len() - 1)];
            if !done && sprint_slot > 0 && rng.chance(200) {
                Box::new([state.sprints[sprint_slot - 1], s])
            } else {
                Box::new([s])
            }
        } else {
            Box::new([])
        };
        let level = site.issue_types[issue_type as usize].hierarchy_level;
        let h = rng.next_u64();
        let (story_points, original_estimate) = estimates_for(level, h);
        let category = site.statuses[status as usize].category;
        let (time_spent, remaining_estimate) = tracking_for(original_estimate, category, done, h);
        let key = format!("{}-{number}", site.projects[p].key);
        let issue = Issue {
            id: 10_000 + i as u64,
            key: key.into(),
            project,
            issue_type,
            status,
            priority: Some(u16::try_from([2, 2, 2, 1, 3, 0, 4][rng.index(7)]).unwrap_or(2)),
            resolution,
            security: None,
            summary: summary.into(),
            description,
            environment: None,
            created,
            updated,
            resolution_date: done.then_some(updated),
            assignee,
            reporter,
            creator: reporter,
            labels: issue_labels,
            components: issue_components,
            versions: affects,
            fix_versions,
            sprints: issue_sprints,
            parent: parent.map(Target::Local),
            children: Vec::new(),
            links: Vec::new(),
            rank: i as u64,
            story_points,
            original_estimate,
            remaining_estimate,
            time_spent,
            flagged: rng.chance(5),
            change: 0,
        };
        // Ids and keys are unique by construction, so the push cannot fail.
        if site.push_issue(issue).is_err() {
            continue;
        }
    }
    site.rebuild_children();
    add_links(&mut site, &mut rng, n);
    site.now = site.issues.iter().map(|i| i.updated).max().unwrap_or(START);
    site
}

fn add_links(site: &mut Site, rng: &mut SplitMix64, n: usize) {
    if n < 2 {
        return;
    }
    let target = n / 2;
    let mut made = 0;
    let mut next_id = 100_000_u64;
    let mut next_external = 1_u64;
    let nearby = |rng: &mut SplitMix64, a: usize| -> usize {
        let offset = 1 + rng.index(2000);
        if rng.chance(500) {
            (a + offset) % n
        } else {
            (a + n - offset % n) % n
        }
    };
    while made < target {
        let a = rng.index(n);
        if rng.chance(30) && target - made >= 3 {
            // A cycle: a blocks b blocks c blocks a.
            let b = nearby(rng, a);
            let c = nearby(rng, b);
            if a == b || b == c || a == c {
                continue;
            }
            for (s, d) in [(a, b), (b, c), (c, a)] {
                site.insert_link(Link {
                    id: next_id,
                    link_type: BLOCKS,
                    source: Target::Local(index_u32(s)),
                    destination: Target::Local(index_u32(d)),
                });
                next_id += 1;
            }
            made += 3;
            continue;
        }
        let link_type = [3, 3, 3, 3, 3, 0, 0, 0, 2, 1][rng.index(10)];
        let destination = if rng.chance(10) {
            let e = site.add_external(ExternalIssue {
                id: 1_000 + next_external,
                key: format!("LEGACY-{next_external}"),
                summary: format!("Legacy issue {next_external}"),
                status: Some(4),
                priority: None,
                issue_type: Some(TASK),
            });
            next_external += 1;
            Target::External(e)
        } else {
            let b = if rng.chance(800) {
                nearby(rng, a)
            } else {
                rng.index(n)
            };
            if a == b {
                continue;
            }
            Target::Local(index_u32(b))
        };
        site.insert_link(Link {
            id: next_id,
            link_type,
            source: Target::Local(index_u32(a)),
            destination,
        });
        next_id += 1;
        made += 1;
    }
}
