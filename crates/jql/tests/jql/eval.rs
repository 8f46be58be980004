//! The local evaluator and the classifier.

use std::cmp::Ordering;

use jql::ast::Operator;
use jql::eval::{
    Day, EvalContext, FieldKey, FieldKind, GroupDirectory, IssueView, Locality, Matcher, Obstacle,
    StandardCatalog, SystemField, Timestamp, Value, WeekStart, classify,
};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// 2024-01-03 (a Wednesday) 15:00 UTC.
const NOW: Timestamp = Timestamp(19_725 * DAY + 15 * HOUR);

/// A plain issue for tests.
#[derive(Default)]
struct Issue {
    id: u64,
    key: &'static str,
    project: (&'static str, &'static str, &'static str),
    status: Option<(&'static str, &'static str)>,
    status_category: Option<(&'static str, &'static str, &'static str)>,
    issue_type: Option<(&'static str, &'static str)>,
    assignee: Option<(&'static str, &'static str)>,
    summary: &'static str,
    description: Option<&'static str>,
    comments: Vec<&'static str>,
    labels: Vec<&'static str>,
    fix_versions: Vec<(&'static str, &'static str)>,
    parent: Option<(u64, &'static str)>,
    created: i64,
    due: Option<Day>,
    points: Option<f64>,
    links: Vec<(&'static str, &'static str, u64, &'static str)>,
}

impl IssueView for Issue {
    fn visit(&self, field: FieldKey, visit: &mut dyn FnMut(Value<'_>)) {
        use SystemField as F;
        match field {
            FieldKey::System(F::Issue) => visit(Value::Issue {
                id: self.id,
                key: self.key,
            }),
            FieldKey::System(F::Project) => {
                let (id, key, name) = self.project;
                visit(Value::Named {
                    id,
                    name,
                    key: Some(key),
                });
            }
            FieldKey::System(F::Status) => {
                if let Some((id, name)) = self.status {
                    visit(Value::Named {
                        id,
                        name,
                        key: None,
                    });
                }
            }
            FieldKey::System(F::StatusCategory) => {
                if let Some((id, key, name)) = self.status_category {
                    visit(Value::Named {
                        id,
                        name,
                        key: Some(key),
                    });
                }
            }
            FieldKey::System(F::IssueType) => {
                if let Some((id, name)) = self.issue_type {
                    visit(Value::Named {
                        id,
                        name,
                        key: None,
                    });
                }
            }
            FieldKey::System(F::Assignee) => {
                if let Some((account_id, name)) = self.assignee {
                    visit(Value::User {
                        account_id,
                        display_name: Some(name),
                    });
                }
            }
            FieldKey::System(F::Summary) => visit(Value::Text(self.summary)),
            FieldKey::System(F::Description) => {
                if let Some(d) = self.description {
                    visit(Value::Text(d));
                }
            }
            FieldKey::System(F::Comment) => {
                for c in &self.comments {
                    visit(Value::Text(c));
                }
            }
            FieldKey::System(F::Labels) => {
                for l in &self.labels {
                    visit(Value::Text(l));
                }
            }
            FieldKey::System(F::FixVersions) => {
                for (id, name) in &self.fix_versions {
                    visit(Value::Named {
                        id,
                        name,
                        key: None,
                    });
                }
            }
            FieldKey::System(F::Parent) => {
                if let Some((id, key)) = self.parent {
                    visit(Value::Issue { id, key });
                }
            }
            FieldKey::System(F::Created) => visit(Value::DateTime(Timestamp(self.created))),
            FieldKey::System(F::Due) => {
                if let Some(d) = self.due {
                    visit(Value::Date(d));
                }
            }
            FieldKey::System(F::IssueLinks) => {
                for (type_name, description, other_id, other_key) in &self.links {
                    visit(Value::Link {
                        type_name,
                        description,
                        other_id: *other_id,
                        other_key,
                    });
                }
            }
            FieldKey::Custom(10016) => {
                if let Some(p) = self.points {
                    visit(Value::Number(p));
                }
            }
            _ => {}
        }
    }
}

fn catalog() -> StandardCatalog {
    StandardCatalog::new().with_custom_field(10016, "Story Points", FieldKind::Number)
}

struct Groups;

impl GroupDirectory for Groups {
    fn members(&self, group: &str) -> Option<Vec<String>> {
        (group == "devs").then(|| vec!["u-ann".to_owned(), "u-bob".to_owned()])
    }
}

fn context() -> EvalContext<'static> {
    EvalContext {
        current_user: Some("u-ann"),
        groups: Some(&Groups),
        ..EvalContext::at(NOW)
    }
}

fn compile(jql: &str) -> Matcher {
    let query = jql::parse(jql).unwrap_or_else(|e| panic!("{jql}: {e}"));
    Matcher::compile(&query, &catalog(), &context()).unwrap_or_else(|o| panic!("{jql}: {o:?}"))
}

fn obstacles(jql: &str) -> Vec<Obstacle> {
    let query = jql::parse(jql).unwrap_or_else(|e| panic!("{jql}: {e}"));
    match classify(&query, &catalog(), &context()) {
        Locality::Local => Vec::new(),
        Locality::Remote(obstacles) => obstacles,
    }
}

fn issues() -> Vec<Issue> {
    vec![
        Issue {
            id: 10001,
            key: "ABC-1",
            project: ("100", "ABC", "Alpha Beta"),
            status: Some(("1", "Open")),
            status_category: Some(("2", "new", "To Do")),
            issue_type: Some(("10", "Epic")),
            assignee: Some(("u-ann", "Ann Lee")),
            summary: "Full screen mode for the editor",
            description: Some("Users want a distraction-free editor."),
            comments: vec!["Looks good", "Needs design"],
            labels: vec!["ux", "Editor"],
            fix_versions: vec![("500", "1.0"), ("501", "1.1")],
            created: NOW.0 - 2 * DAY,
            due: Some(Day(19_724)),
            points: Some(8.0),
            links: vec![("Blocks", "blocks", 10002, "ABC-2")],
            ..Issue::default()
        },
        Issue {
            id: 10002,
            key: "ABC-2",
            project: ("100", "ABC", "Alpha Beta"),
            status: Some(("3", "In Progress")),
            status_category: Some(("4", "indeterminate", "In Progress")),
            issue_type: Some(("11", "Story")),
            summary: "Screen reader labels",
            parent: Some((10001, "ABC-1")),
            created: NOW.0 - 10 * DAY,
            points: Some(3.0),
            links: vec![("Blocks", "is blocked by", 10001, "ABC-1")],
            ..Issue::default()
        },
        Issue {
            id: 10010,
            key: "ABC-10",
            project: ("100", "ABC", "Alpha Beta"),
            status: Some(("5", "Done")),
            status_category: Some(("3", "done", "Done")),
            issue_type: Some(("11", "Story")),
            assignee: Some(("u-cat", "Cat Doe")),
            summary: "Export to CSV",
            labels: vec!["export"],
            created: NOW.0 - 40 * DAY,
            due: Some(Day(19_730)),
            ..Issue::default()
        },
        Issue {
            id: 20001,
            key: "XY-1",
            project: ("200", "XY", "Xylophone"),
            status: Some(("1", "Open")),
            issue_type: Some(("12", "Bug")),
            assignee: Some(("u-bob", "Bob Roe")),
            summary: "Crash on startup",
            parent: Some((10001, "ABC-1")),
            created: NOW.0 - HOUR,
            ..Issue::default()
        },
    ]
}

fn keys(jql: &str) -> Vec<&'static str> {
    let matcher = compile(jql);
    issues()
        .into_iter()
        .filter(|i| matcher.matches(i))
        .map(|i| i.key)
        .collect()
}

#[test]
fn equality_names_ids_keys_and_aliases() {
    assert_eq!(keys("project = ABC"), ["ABC-1", "ABC-2", "ABC-10"]);
    assert_eq!(
        keys("project = \"alpha beta\""),
        ["ABC-1", "ABC-2", "ABC-10"]
    );
    assert_eq!(keys("project = 200"), ["XY-1"]);
    assert_eq!(keys("PROJECT != abc"), ["XY-1"]);
    assert_eq!(keys("type = story"), ["ABC-2", "ABC-10"]);
    assert_eq!(keys("issuetype in (Epic, Bug)"), ["ABC-1", "XY-1"]);
    assert_eq!(keys("status not in (Open, Done)"), ["ABC-2"]);
    assert_eq!(keys("statusCategory = done"), ["ABC-10"]);
    assert_eq!(keys("statusCategory = \"To Do\""), ["ABC-1"]);
    assert_eq!(keys("key = abc-2"), ["ABC-2"]);
    assert_eq!(keys("issue in (ABC-1, 20001)"), ["ABC-1", "XY-1"]);
    assert_eq!(keys("id = 10010"), ["ABC-10"]);
    assert_eq!(keys("parent = ABC-1"), ["ABC-2", "XY-1"]);
    assert_eq!(keys("parent = 10001 and project = XY"), ["XY-1"]);
}

#[test]
fn empty_semantics_follow_jira() {
    assert_eq!(keys("assignee is empty"), ["ABC-2"]);
    assert_eq!(keys("assignee = null"), ["ABC-2"]);
    assert_eq!(keys("assignee is not empty"), ["ABC-1", "ABC-10", "XY-1"]);
    assert_eq!(keys("assignee != EMPTY"), ["ABC-1", "ABC-10", "XY-1"]);
    // `!=` and NOT IN leave out empty fields, as in Jira.
    assert_eq!(keys("assignee != u-ann"), ["ABC-10", "XY-1"]);
    assert_eq!(keys("assignee not in (u-ann)"), ["ABC-10", "XY-1"]);
    assert_eq!(keys("assignee in (u-cat, EMPTY)"), ["ABC-2", "ABC-10"]);
    assert_eq!(keys("description ~ empty"), ["ABC-2", "ABC-10", "XY-1"]);
    assert_eq!(keys("labels is empty"), ["ABC-2", "XY-1"]);
}

#[test]
fn multi_valued_fields() {
    assert_eq!(keys("labels = editor"), ["ABC-1"]);
    assert_eq!(keys("labels in (export, ux)"), ["ABC-1", "ABC-10"]);
    assert_eq!(keys("labels != ux"), ["ABC-10"]);
    assert_eq!(keys("fixVersion = \"1.1\""), ["ABC-1"]);
    assert_eq!(keys("fixversion = 500"), ["ABC-1"]);
}

#[test]
fn users_current_user_and_groups() {
    assert_eq!(keys("assignee = currentUser()"), ["ABC-1"]);
    assert_eq!(keys("assignee = \"Bob Roe\""), ["XY-1"]);
    assert_eq!(keys("assignee in membersOf(devs)"), ["ABC-1", "XY-1"]);
    assert_eq!(keys("assignee not in membersOf(devs)"), ["ABC-10"]);
    let q = jql::parse("assignee = currentUser()").unwrap();
    let anonymous = EvalContext::at(NOW);
    let m = Matcher::compile(&q, &catalog(), &anonymous).unwrap();
    assert!(issues().iter().all(|i| !m.matches(i)));
}

#[test]
fn text_search() {
    assert_eq!(keys("summary ~ screen"), ["ABC-1", "ABC-2"]);
    assert_eq!(keys("summary ~ \"SCREEN full\""), ["ABC-1"]);
    assert_eq!(keys("summary ~ \"\\\"screen mode\\\"\""), ["ABC-1"]);
    assert_eq!(
        keys("summary ~ \"\\\"mode screen\\\"\""),
        Vec::<&str>::new()
    );
    assert_eq!(keys("summary ~ \"scr*\""), ["ABC-1", "ABC-2"]);
    assert_eq!(keys("summary !~ screen"), ["ABC-10", "XY-1"]);
    assert_eq!(keys("description ~ distraction"), ["ABC-1"]);
    // text searches summary, description, environment and comments.
    assert_eq!(keys("text ~ \"design editor\""), ["ABC-1"]);
    assert_eq!(keys("comment ~ design"), ["ABC-1"]);
    // !~ on an empty field matches nothing.
    assert_eq!(keys("description !~ distraction"), Vec::<&str>::new());
}

#[test]
fn numbers_and_custom_fields() {
    assert_eq!(keys("cf[10016] > 3"), ["ABC-1"]);
    assert_eq!(keys("\"Story Points\" >= 3"), ["ABC-1", "ABC-2"]);
    assert_eq!(keys("customfield_10016 = 8"), ["ABC-1"]);
    assert_eq!(keys("\"story points\" is empty"), ["ABC-10", "XY-1"]);
    assert_eq!(
        keys("cf[10016] < 4 or cf[10016] in (8)"),
        ["ABC-1", "ABC-2"]
    );
}

#[test]
fn dates_absolute_relative_and_functions() {
    assert_eq!(keys("created > -1d"), ["XY-1"]);
    assert_eq!(keys("created >= -3d"), ["ABC-1", "XY-1"]);
    assert_eq!(keys("created < \"-2w\""), ["ABC-10"]);
    assert_eq!(keys("created >= startOfDay()"), ["XY-1"]);
    // Weeks start on Sunday by default: 2023-12-31.
    assert_eq!(keys("created >= startOfWeek()"), ["ABC-1", "XY-1"]);
    assert_eq!(
        keys("created >= startOfMonth(-1)"),
        ["ABC-1", "ABC-2", "XY-1"]
    );
    assert_eq!(keys("created < startOfYear()"), ["ABC-2", "ABC-10"]);
    assert_eq!(keys("created >= \"2024/01/01\""), ["ABC-1", "XY-1"]);
    assert_eq!(keys("created <= \"2023-12-24 15:00\""), ["ABC-2", "ABC-10"]);
    assert_eq!(keys("due = 2024-01-02"), ["ABC-1"]);
    assert_eq!(keys("duedate < now()"), ["ABC-1"]);
    assert_eq!(keys("due <= endOfWeek(\"+1w\")"), ["ABC-1", "ABC-10"]);
    assert_eq!(keys("due > endOfDay()"), ["ABC-10"]);
    assert_eq!(keys("created > 0"), ["ABC-1", "ABC-2", "ABC-10", "XY-1"]);
}

#[test]
fn week_start_and_time_zone_come_from_the_context() {
    let q = jql::parse("created >= startOfWeek()").unwrap();
    // Sunday 2023-12-31 00:00 UTC falls within the week only when weeks start on Sunday.
    let issue = Issue {
        key: "S-1",
        created: 19_722 * DAY + HOUR,
        ..Issue::default()
    };
    let sunday = EvalContext {
        week_start: WeekStart::Sunday,
        ..EvalContext::at(NOW)
    };
    let monday = EvalContext {
        week_start: WeekStart::Monday,
        ..EvalContext::at(NOW)
    };
    assert!(
        Matcher::compile(&q, &catalog(), &sunday)
            .unwrap()
            .matches(&issue)
    );
    assert!(
        !Matcher::compile(&q, &catalog(), &monday)
            .unwrap()
            .matches(&issue)
    );
    let q = jql::parse("created >= startOfDay()").unwrap();
    let issue = Issue {
        key: "S-2",
        created: NOW.0 - 14 * HOUR,
        ..Issue::default()
    };
    let utc = EvalContext::at(NOW);
    let west = EvalContext {
        utc_offset_minutes: -8 * 60,
        ..EvalContext::at(NOW)
    };
    // 01:00 UTC is today in UTC but still yesterday (17:00) eight hours west.
    assert!(
        Matcher::compile(&q, &catalog(), &utc)
            .unwrap()
            .matches(&issue)
    );
    assert!(
        !Matcher::compile(&q, &catalog(), &west)
            .unwrap()
            .matches(&issue)
    );
}

#[test]
fn key_comparisons_stay_within_a_project() {
    assert_eq!(keys("key > ABC-1"), ["ABC-2", "ABC-10"]);
    assert_eq!(keys("issuekey <= ABC-2"), ["ABC-1", "ABC-2"]);
}

#[test]
fn links() {
    assert_eq!(keys("issue in linkedIssues(ABC-2)"), ["ABC-1"]);
    assert_eq!(
        keys("issue in linkedIssues(ABC-1, \"is blocked by\")"),
        ["ABC-2"]
    );
    assert_eq!(keys("issue in linkedIssues(ABC-1, blocks)"), ["ABC-2"]);
    assert_eq!(
        keys("issue in linkedIssues(ABC-1, duplicates)"),
        Vec::<&str>::new()
    );
    assert_eq!(keys("issueLinkType = \"is blocked by\""), ["ABC-2"]);
    assert_eq!(keys("issueLinkType = blocks"), ["ABC-1", "ABC-2"]);
}

#[test]
fn logic_and_no_condition() {
    assert_eq!(
        keys("project = ABC and not status = Open"),
        ["ABC-2", "ABC-10"]
    );
    assert_eq!(keys("status = Done or issuetype = Bug"), ["ABC-10", "XY-1"]);
    assert_eq!(keys("!(project = ABC) || key = ABC-1"), ["ABC-1", "XY-1"]);
    assert_eq!(keys(""), ["ABC-1", "ABC-2", "ABC-10", "XY-1"]);
    assert_eq!(keys("order by key"), ["ABC-1", "ABC-2", "ABC-10", "XY-1"]);
}

#[test]
fn order_by_sorts_with_empty_last() {
    let mut all = issues();
    let m = compile("order by cf[10016] desc, key");
    all.sort_by(|a, b| m.compare(a, b));
    // Descending reverses everything, so empty values come first, then by key.
    assert_eq!(
        all.iter().map(|i| i.key).collect::<Vec<_>>(),
        ["ABC-10", "XY-1", "ABC-1", "ABC-2"]
    );
    let m = compile("project = ABC order by key desc");
    all.sort_by(|a, b| m.compare(a, b));
    assert_eq!(
        all.iter().map(|i| i.key).collect::<Vec<_>>(),
        ["XY-1", "ABC-10", "ABC-2", "ABC-1"]
    );
    let m = compile("order by assignee");
    all.sort_by(|a, b| m.compare(a, b));
    assert_eq!(
        all.iter().map(|i| i.key).collect::<Vec<_>>(),
        ["ABC-1", "XY-1", "ABC-10", "ABC-2"]
    );
    assert_eq!(m.sort_keys().len(), 1);
    assert_eq!(m.compare(&all[0], &all[0]), Ordering::Equal);
}

#[test]
fn classifier_names_every_reason() {
    assert!(obstacles("project = ABC and summary ~ x order by created").is_empty());
    let found =
        obstacles("status was Open and status changed and foo = 1 and issue.property[x].y = 1");
    assert!(matches!(
        found[0],
        Obstacle::History {
            operator: Operator::Was,
            ..
        }
    ));
    assert!(matches!(
        found[1],
        Obstacle::History {
            operator: Operator::Changed,
            ..
        }
    ));
    assert!(matches!(&found[2], Obstacle::UnknownField { name, .. } if name == "foo"));
    assert!(matches!(found[3], Obstacle::FieldProperty { .. }));
    assert_eq!(found.len(), 4);
    let found = obstacles(
        "sprint in openSprints() and assignee = nosuch() and fixVersion in releasedVersions()",
    );
    assert!(
        matches!(&found[0], Obstacle::UnsupportedFunction { name, .. } if name == "openSprints")
    );
    assert!(matches!(&found[1], Obstacle::UnknownFunction { name, .. } if name == "nosuch"));
    assert!(matches!(found[2], Obstacle::UnsupportedFunction { .. }));
    let found =
        obstacles("status ~ open and summary = x and created > yesterday and cf[10016] = many");
    assert!(matches!(
        found[0],
        Obstacle::UnsupportedOperator {
            operator: Operator::Like,
            ..
        }
    ));
    assert!(matches!(
        found[1],
        Obstacle::UnsupportedOperator {
            operator: Operator::Equals,
            ..
        }
    ));
    assert!(matches!(found[2], Obstacle::InvalidValue { .. }));
    assert!(matches!(found[3], Obstacle::InvalidValue { .. }));
    assert!(found.iter().all(Obstacle::is_jira_error));
    assert_eq!(
        found[0].to_string(),
        "The operator '~' is not supported by the 'status' field."
    );
    let unknown = obstacles("cf[99999] = 1 order by nosuch");
    assert_eq!(unknown.len(), 2);
    assert_eq!(
        unknown[1].to_string(),
        "Field 'nosuch' does not exist or you do not have permission to view it."
    );
}

#[test]
fn classifier_knows_what_views_can_provide_and_what_context_is_needed() {
    let q = jql::parse("summary ~ x and labels = y").unwrap();
    let limited = catalog().with_available([FieldKey::System(SystemField::Summary)]);
    let Locality::Remote(found) = classify(&q, &limited, &context()) else {
        panic!("labels are not available")
    };
    assert!(matches!(&found[..], [Obstacle::UnavailableField { name, .. }] if name == "labels"));
    assert!(!found[0].is_jira_error());
    let q = jql::parse("assignee in membersOf(devs)").unwrap();
    let Locality::Remote(found) = classify(&q, &catalog(), &EvalContext::at(NOW)) else {
        panic!("no groups")
    };
    assert!(matches!(found[..], [Obstacle::NeedsGroups { .. }]));
    let q = jql::parse("assignee in membersOf(nobody)").unwrap();
    assert!(matches!(
        classify(&q, &catalog(), &context()),
        Locality::Remote(_)
    ));
}

#[test]
fn one_matcher_serves_many_issues() {
    let m = compile("project = ABC and status != Done and summary ~ screen order by created desc");
    let all = issues();
    let hits = (0..10_000)
        .filter(|i| m.matches(&all[i % all.len()]))
        .count();
    assert_eq!(hits, 5_000);
}

#[test]
fn long_lists_match_like_short_ones() {
    let many: Vec<String> = (100..140).map(|n| format!("ABC-{n}")).collect();
    let long = format!("key in (abc-2, {}, 20001)", many.join(", "));
    assert_eq!(keys(&long), ["ABC-2", "XY-1"]);
    let long = format!("status in (open, {})", many.join(", "));
    assert_eq!(keys(&long), ["ABC-1", "XY-1"]);
    let long = format!("assignee not in (u-ann, \"bob roe\", {})", many.join(", "));
    assert_eq!(keys(&long), ["ABC-10"]);
    let long = format!("labels in (EDITOR, {})", many.join(", "));
    assert_eq!(keys(&long), ["ABC-1"]);
    let long = format!(
        "cf[10016] in (3, {})",
        (10..30)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(keys(&long), ["ABC-2"]);
    // Ids only (as in the children searches of extenders), or a key among them.
    let ids: Vec<String> = (1..40).map(|n| n.to_string()).collect();
    let long = format!("parent in (10001, {})", ids.join(", "));
    assert_eq!(keys(&long), ["ABC-2", "XY-1"]);
    let long = format!("parent in (abc-1, {})", ids.join(", "));
    assert_eq!(keys(&long), ["ABC-2", "XY-1"]);
    let long = format!("issue in (Abc-10, {})", ids.join(", "));
    assert_eq!(keys(&long), ["ABC-10"]);
}
