//! The simulator's issues as the `jql` crate's evaluator sees them, so that search can filter and sort.
//!
//! Invariant: a field the issue leaves empty yields no value (the evaluator's definition of EMPTY); links to
//! dangling issues are visited like any other, with the id and key the data gave.

use jql::eval::{FieldKey, FieldKind, IssueView, StandardCatalog, SystemField, Timestamp, Value};

use crate::fields;
use crate::model::{Issue, IssueIdx, PersonIdx, Site, Target};

/// One issue of a site, for [`jql::eval::Matcher`]: the site's current issue, or an earlier copy of it (search
/// emulating eventual consistency evaluates the copy taken before a recent write).
#[derive(Debug, Clone, Copy)]
pub struct IssueRef<'a> {
    pub site: &'a Site,
    pub idx: IssueIdx,
    pub issue: &'a Issue,
}

impl Site {
    /// The evaluator's catalog for this site: system fields plus the custom fields of [`crate::fields`].
    #[must_use]
    pub fn jql_catalog(&self) -> StandardCatalog {
        StandardCatalog::new()
            .with_custom_field(
                fields::STORY_POINTS_ID,
                "Story point estimate",
                FieldKind::Number,
            )
            .with_custom_field(fields::RANK_ID, "Rank", FieldKind::Exact)
            .with_custom_field(fields::SPRINT_ID, "Sprint", FieldKind::Named)
            .with_custom_field(fields::FLAGGED_ID, "Flagged", FieldKind::Exact)
    }

    /// A view of one issue.
    #[must_use]
    pub fn view(&self, idx: IssueIdx) -> IssueRef<'_> {
        IssueRef {
            site: self,
            idx,
            issue: self.issue(idx),
        }
    }

    /// A view of an earlier state of issue `idx`. Links are those of the copy that the site still holds: a link
    /// removed since the copy was taken is gone from it too.
    #[must_use]
    pub fn view_as_of<'a>(&'a self, idx: IssueIdx, issue: &'a Issue) -> IssueRef<'a> {
        IssueRef {
            site: self,
            idx,
            issue,
        }
    }
}

impl IssueRef<'_> {
    fn user(&self, p: Option<PersonIdx>, visit: &mut dyn FnMut(Value<'_>)) {
        if let Some(p) = p {
            let person = self.site.person(p);
            visit(Value::User {
                account_id: &person.account_id,
                display_name: Some(&person.display_name),
            });
        }
    }

    fn sprints(&self, visit: &mut dyn FnMut(Value<'_>)) {
        for &s in &self.issue.sprints {
            let sprint = &self.site.sprints[s as usize];
            let id = sprint.id.to_string();
            visit(Value::Named {
                id: &id,
                name: &sprint.name,
                key: None,
            });
        }
    }
}

impl IssueView for IssueRef<'_> {
    fn visit(&self, field: FieldKey, visit: &mut dyn FnMut(Value<'_>)) {
        let site = self.site;
        let issue = self.issue;
        let text = |t: Option<&str>, visit: &mut dyn FnMut(Value<'_>)| {
            if let Some(t) = t.filter(|t| !t.is_empty()) {
                visit(Value::Text(t));
            }
        };
        let versions = |list: &[u32], visit: &mut dyn FnMut(Value<'_>)| {
            for &v in list {
                let version = &site.versions[v as usize];
                visit(Value::Named {
                    id: &version.id,
                    name: &version.name,
                    key: None,
                });
            }
        };
        match field {
            FieldKey::System(f) => match f {
                SystemField::Project => {
                    let p = &site.projects[issue.project as usize];
                    visit(Value::Named {
                        id: &p.id,
                        name: &p.name,
                        key: Some(&p.key),
                    });
                }
                SystemField::IssueType => {
                    let t = &site.issue_types[issue.issue_type as usize];
                    visit(Value::Named {
                        id: &t.id,
                        name: &t.name,
                        key: None,
                    });
                }
                SystemField::Status => {
                    let s = &site.statuses[issue.status as usize];
                    visit(Value::Named {
                        id: &s.id,
                        name: &s.name,
                        key: Some(s.category.key()),
                    });
                }
                SystemField::StatusCategory => {
                    let c = site.statuses[issue.status as usize].category;
                    let id = c.id().to_string();
                    visit(Value::Named {
                        id: &id,
                        name: c.name(),
                        key: Some(c.key()),
                    });
                }
                SystemField::Priority => {
                    if let Some(p) = issue.priority {
                        let p = &site.priorities[p as usize];
                        visit(Value::Named {
                            id: &p.id,
                            name: &p.name,
                            key: None,
                        });
                    }
                }
                SystemField::Resolution => {
                    if let Some(r) = issue.resolution {
                        let r = &site.resolutions[r as usize];
                        visit(Value::Named {
                            id: &r.id,
                            name: &r.name,
                            key: None,
                        });
                    }
                }
                SystemField::Assignee => self.user(issue.assignee, visit),
                SystemField::Reporter => self.user(issue.reporter, visit),
                SystemField::Creator => self.user(issue.creator, visit),
                SystemField::Summary => text(Some(&issue.summary), visit),
                SystemField::Description => text(issue.description.as_deref(), visit),
                SystemField::Environment => text(issue.environment.as_deref(), visit),
                SystemField::Labels => {
                    for &l in &issue.labels {
                        visit(Value::Text(site.interner.resolve(l)));
                    }
                }
                SystemField::Components => {
                    for &c in &issue.components {
                        let c = &site.components[c as usize];
                        visit(Value::Named {
                            id: &c.id,
                            name: &c.name,
                            key: None,
                        });
                    }
                }
                SystemField::FixVersions => versions(&issue.fix_versions, visit),
                SystemField::AffectedVersions => versions(&issue.versions, visit),
                SystemField::Sprint => self.sprints(visit),
                SystemField::Parent => {
                    if let Some(p) = issue.parent {
                        let (id, key) = site.target_id_key(p);
                        visit(Value::Issue { id, key });
                    }
                }
                SystemField::Issue => visit(Value::Issue {
                    id: issue.id,
                    key: &issue.key,
                }),
                SystemField::IssueLinks => {
                    let ends = issue.links.iter().filter_map(|&l| {
                        let link = site.links[l as usize].as_ref()?;
                        Some(if link.source == Target::Local(self.idx) {
                            (link, link.destination, true)
                        } else {
                            (link, link.source, false)
                        })
                    });
                    for (link, other, outward) in ends {
                        let lt = &site.link_types[link.link_type as usize];
                        let (other_id, other_key) = site.target_id_key(other);
                        let description = if outward { &lt.outward } else { &lt.inward };
                        visit(Value::Link {
                            type_name: &lt.name,
                            description,
                            other_id,
                            other_key,
                        });
                    }
                }
                SystemField::Created => visit(Value::DateTime(Timestamp(issue.created))),
                SystemField::Updated => visit(Value::DateTime(Timestamp(issue.updated))),
                SystemField::Resolved => {
                    if let Some(t) = issue.resolution_date {
                        visit(Value::DateTime(Timestamp(t)));
                    }
                }
                // The data has neither comments nor due dates.
                SystemField::Comment | SystemField::Due => {}
            },
            FieldKey::Custom(fields::STORY_POINTS_ID) => {
                if let Some(p) = issue.story_points {
                    visit(Value::Number(f64::from(p)));
                }
            }
            FieldKey::Custom(fields::RANK_ID) => {
                let rank = crate::model::lexorank(issue.rank);
                visit(Value::Text(&rank));
            }
            FieldKey::Custom(fields::SPRINT_ID) => self.sprints(visit),
            FieldKey::Custom(fields::FLAGGED_ID) => {
                if issue.flagged {
                    visit(Value::Text("Impediment"));
                }
            }
            FieldKey::Custom(_) => {}
        }
    }
}

/// The local issue a target names, if the site holds it (for hierarchy and link walks).
#[must_use]
pub fn local(target: Target) -> Option<IssueIdx> {
    match target {
        Target::Local(i) => Some(i),
        Target::External(_) => None,
    }
}

/// `membersOf()` for the evaluator: members of a site group, by account id.
impl jql::eval::GroupDirectory for Site {
    fn members(&self, group: &str) -> Option<Vec<String>> {
        let g = self.group_by_name(group)?;
        Some(
            self.groups[g as usize]
                .members
                .iter()
                .map(|&p| self.person(p).account_id.clone())
                .collect(),
        )
    }
}
