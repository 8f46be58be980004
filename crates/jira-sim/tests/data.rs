//! The data layer against the real TiDev archive (checked by an independent pass over the raw file) and against
//! synthetic sites.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::OnceLock;

use jira_sim::fields;
use jira_sim::model::{NewIssue, Site, Target};
use jira_sim::render::{Endpoint, FieldSelection, Renderer, to_value};
use jira_sim::site::SiteFile;
use jira_sim::{import, synthetic};
use serde_json::{Value, json};

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/tidev-jira");
    if dir.join("issues.jsonl.gz").exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} not found; the real-data tests did not run",
            dir.display()
        );
        None
    }
}

struct Real {
    site: Site,
    raw: Vec<Value>,
}

/// The real site with the default site file applied, and the raw issues, loaded once per test binary.
fn real() -> Option<&'static Real> {
    static REAL: OnceLock<Option<Real>> = OnceLock::new();
    REAL.get_or_init(|| {
        let dir = data_dir()?;
        let mut site = import::load_tidev(&dir).expect("import");
        SiteFile::default_site()
            .expect("default site")
            .apply(&mut site)
            .expect("apply");
        let file = std::fs::File::open(dir.join("issues.jsonl.gz")).expect("open");
        let raw = BufReader::new(flate2::read::GzDecoder::new(file))
            .lines()
            .map(|l| serde_json::from_str(&l.expect("line")).expect("json"))
            .collect();
        Some(Real { site, raw })
    })
    .as_ref()
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn import_counts_match_the_raw_file() {
    let Some(real) = real() else { return };
    let site = &real.site;
    assert_eq!(site.issues.len(), real.raw.len());
    assert_eq!(site.issues.len(), 27_558);

    let mut raw_counts: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for r in &real.raw {
        let f = &r["fields"];
        *raw_counts
            .entry(("project", s(&f["project"]["key"])))
            .or_default() += 1;
        *raw_counts
            .entry(("category", s(&f["status"]["statusCategory"]["key"])))
            .or_default() += 1;
        *raw_counts
            .entry(("type", s(&f["issuetype"]["name"])))
            .or_default() += 1;
    }
    let mut counts: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for i in &site.issues {
        *counts
            .entry(("project", site.projects[i.project as usize].key.clone()))
            .or_default() += 1;
        let category = site.statuses[i.status as usize].category.key().to_owned();
        *counts.entry(("category", category)).or_default() += 1;
        *counts
            .entry(("type", site.issue_types[i.issue_type as usize].name.clone()))
            .or_default() += 1;
    }
    assert_eq!(counts, raw_counts);
    assert_eq!(counts[&("project", "TIMOB".to_owned())], 22_371);
    assert_eq!(counts[&("category", "done".to_owned())], 24_885);
    assert_eq!(counts[&("type", "Epic".to_owned())], 127);
    assert_eq!(site.projects.len(), 4);
}

#[test]
fn epics_become_parents_with_hierarchy_levels() {
    let Some(real) = real() else { return };
    let site = &real.site;
    let level = |name: &str| {
        site.issue_types
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .hierarchy_level
    };
    assert_eq!(
        (
            level("Epic"),
            level("Story"),
            level("Bug"),
            level("Sub-task"),
            level("Technical task")
        ),
        (1, 0, 0, -1, -1)
    );

    let mut epic_children = 0;
    let mut dangling_epics = 0;
    let mut dangling_parents = 0;
    for r in &real.raw {
        let idx = site.issue_by_key(r["key"].as_str().unwrap()).unwrap();
        let issue = site.issue(idx);
        let expected = r["fields"]
            .get("parent")
            .map(|p| s(&p["id"]))
            .or_else(|| r["fields"].get("epic").map(|e| s(&e["id"])));
        let actual = issue.parent.map(|p| site.target_id_key(p).0.to_string());
        assert_eq!(actual, expected, "{}", issue.key);
        if let Some(epic) = r["fields"].get("epic") {
            epic_children += 1;
            if let Some(Target::External(_)) = issue.parent {
                dangling_epics += 1;
                assert_eq!(
                    site.target_id_key(issue.parent.unwrap()).1,
                    epic["key"].as_str().unwrap()
                );
            } else {
                let parent = site.issue(match issue.parent.unwrap() {
                    Target::Local(p) => p,
                    Target::External(_) => unreachable!(),
                });
                assert_eq!(
                    site.issue_types[parent.issue_type as usize].hierarchy_level,
                    1
                );
            }
        } else if r["fields"].get("parent").is_some()
            && matches!(issue.parent, Some(Target::External(_)))
        {
            dangling_parents += 1;
        }
    }
    assert_eq!(epic_children, 867);
    assert_eq!(dangling_epics, 208);
    assert_eq!(dangling_parents, 396);

    // The v3 rendering: parent{id,key,fields{summary,status,issuetype}}, and sub-tasks listed under their parent.
    let r = Renderer::new(site, None);
    let story = real
        .raw
        .iter()
        .find(|x| {
            x["fields"]
                .get("epic")
                .is_some_and(|e| site.issue_by_id(e["id"].as_u64().unwrap()).is_some())
        })
        .unwrap();
    let idx = site.issue_by_key(story["key"].as_str().unwrap()).unwrap();
    let parent = to_value(r.field(idx, "parent"));
    assert_eq!(
        parent["id"],
        json!(story["fields"]["epic"]["id"].to_string())
    );
    assert_eq!(parent["key"], story["fields"]["epic"]["key"]);
    assert_eq!(parent["fields"]["issuetype"]["hierarchyLevel"], json!(1));
    assert!(
        parent["fields"]["summary"].is_string()
            && parent["fields"]["status"]["statusCategory"]["key"].is_string()
    );

    for raw in real
        .raw
        .iter()
        .filter(|x| !x["fields"]["subtasks"].as_array().unwrap().is_empty())
        .take(200)
    {
        let idx = site.issue_by_key(raw["key"].as_str().unwrap()).unwrap();
        let mut expected: Vec<String> = raw["fields"]["subtasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| s(&x["id"]))
            .collect();
        let mut actual: Vec<String> = to_value(r.field(idx, "subtasks"))
            .as_array()
            .unwrap()
            .iter()
            .map(|x| s(&x["id"]))
            .collect();
        expected.sort();
        actual.sort();
        assert_eq!(actual, expected);
    }
}

#[test]
fn links_appear_as_jira_presents_them() {
    let Some(real) = real() else { return };
    let site = &real.site;
    let r = Renderer::new(site, None);
    let mut dangling = 0;
    for raw in &real.raw {
        let idx = site.issue_by_key(raw["key"].as_str().unwrap()).unwrap();
        let side = |e: &Value| {
            if e.get("outwardIssue").is_some() {
                "outwardIssue"
            } else {
                "inwardIssue"
            }
        };
        let expected: Vec<(String, String, &str, String, String)> = raw["fields"]["issuelinks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    s(&e["id"]),
                    s(&e["type"]["id"]),
                    side(e),
                    s(&e[side(e)]["id"]),
                    s(&e[side(e)]["key"]),
                )
            })
            .collect();
        let rendered = to_value(r.field(idx, "issuelinks"));
        let actual: Vec<(String, String, &str, String, String)> = rendered
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert!(
                    e.get("inwardIssue").is_some() != e.get("outwardIssue").is_some(),
                    "exactly one side"
                );
                (
                    s(&e["id"]),
                    s(&e["type"]["id"]),
                    side(e),
                    s(&e[side(e)]["id"]),
                    s(&e[side(e)]["key"]),
                )
            })
            .collect();
        // One link id occurs twice on the same issue in the file; the site keeps one link per id.
        let mut seen = HashSet::new();
        let expected: Vec<_> = expected
            .into_iter()
            .filter(|e| seen.insert(e.0.clone()))
            .collect();
        assert_eq!(actual, expected, "{}", raw["key"]);
        dangling += actual
            .iter()
            .filter(|e| site.issue_by_id(e.3.parse().unwrap()).is_none())
            .count();
    }
    assert_eq!(dangling, 2150, "dangling link ends are kept");

    // A local link seen from both ends: the same id, opposite sides, each naming the other issue.
    let link = site
        .links
        .iter()
        .flatten()
        .find(|l| {
            matches!(
                (l.source, l.destination),
                (Target::Local(_), Target::Local(_))
            ) && site.link_types[l.link_type as usize].name == "Blocks"
        })
        .unwrap();
    let (Target::Local(a), Target::Local(b)) = (link.source, link.destination) else {
        unreachable!()
    };
    let entry = |from: u32| {
        to_value(r.field(from, "issuelinks"))
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == json!(link.id.to_string()))
            .unwrap()
            .clone()
    };
    let at_a = entry(a);
    let at_b = entry(b);
    assert_eq!(at_a["outwardIssue"]["key"], json!(&*site.issue(b).key));
    assert_eq!(at_b["inwardIssue"]["key"], json!(&*site.issue(a).key));
    assert_eq!(
        at_a["type"],
        json!({"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks", "self": format!("{}/rest/api/3/issueLinkType/10000", site.base_url)})
    );
    let linked = &at_a["outwardIssue"];
    assert!(
        linked["fields"]["summary"].is_string()
            && linked["fields"]["issuetype"]["name"].is_string()
            && linked["fields"]["status"]["name"].is_string()
    );
}

#[test]
fn derived_numbers_are_deterministic_and_plausible() {
    let Some(real) = real() else { return };
    let site = &real.site;
    let mut copy = site.clone();
    for idx in 0..site.issues.len() {
        let idx = u32::try_from(idx).unwrap();
        import::derive_estimates(&mut copy, idx);
        let (a, b) = (site.issue(idx), copy.issue(idx));
        assert_eq!(
            (
                a.story_points,
                a.original_estimate,
                a.remaining_estimate,
                a.time_spent
            ),
            (
                b.story_points,
                b.original_estimate,
                b.remaining_estimate,
                b.time_spent
            )
        );
        let level = site.issue_types[a.issue_type as usize].hierarchy_level;
        assert_eq!(a.story_points.is_some(), level == 0);
        if let Some(p) = a.story_points {
            assert!([1.0, 2.0, 3.0, 5.0, 8.0, 13.0].contains(&p));
        }
        if a.resolution.is_some() && level <= 0 {
            assert_eq!(a.remaining_estimate, Some(0), "{}", a.key);
        }
    }
    // Pinned: the derivation is part of the documented data and must not drift silently.
    let ac18 = site.issue(site.issue_by_key("AC-18").unwrap());
    let pinned = (
        ac18.story_points,
        ac18.original_estimate,
        ac18.remaining_estimate,
        ac18.time_spent,
    );
    let h = jira_sim::model::fnv1a64(b"AC-18");
    let (points, original) = import::estimates_for(0, h);
    assert_eq!((pinned.0, pinned.1), (points, original));
    assert_eq!(pinned.2, Some(0));
    // Account ids: stable, 24 hex digits, distinct per user name.
    let ids: HashSet<&str> = site.people.iter().map(|p| p.account_id.as_str()).collect();
    assert_eq!(ids.len(), site.people.len());
    let p = site.person(site.person_by_name("admin").unwrap());
    assert_eq!(p.account_id, jira_sim::model::account_id_for("admin"));
}

#[test]
fn default_site_people_see_different_issues() {
    let Some(real) = real() else { return };
    let site = &real.site;
    let admin = site.person_by_name("admin").unwrap();
    let dev = site.person_by_name("dev").unwrap();
    let all = u32::try_from(site.issues.len()).unwrap();
    let admin_sees = (0..all).filter(|&i| site.can_browse(admin, i)).count();
    let dev_sees: HashSet<u32> = (0..all).filter(|&i| site.can_browse(dev, i)).collect();
    let expected_dev = real
        .raw
        .iter()
        .filter(|r| {
            r["fields"]["project"]["key"] != "AC" && s(&r["id"]).parse::<u64>().unwrap() % 10 != 0
        })
        .count();
    let internal = real
        .raw
        .iter()
        .filter(|r| s(&r["id"]).parse::<u64>().unwrap() % 10 == 0)
        .count();
    eprintln!(
        "admin sees {admin_sees}, dev sees {}, internal issues {internal}",
        dev_sees.len()
    );
    assert_eq!(admin_sees, 27_558);
    assert_eq!(dev_sees.len(), expected_dev);
    assert_eq!(dev_sees.len(), 20_734);
    assert_eq!(internal, 2_771);
    assert!(dev_sees.len() < admin_sees);
    // Imported people are developers too.
    let someone = site.person_by_name("user04955").unwrap();
    assert_eq!(
        (0..all).filter(|&i| site.can_browse(someone, i)).count(),
        expected_dev
    );
    // Dev's view hides links to issues dev cannot see.
    let r_admin = Renderer::new(site, Some(admin));
    let r_dev = Renderer::new(site, Some(dev));
    let hidden = (0..all).filter(|i| dev_sees.contains(i)).find(|&i| {
        to_value(r_admin.field(i, "issuelinks"))
            .as_array()
            .unwrap()
            .len()
            > to_value(r_dev.field(i, "issuelinks"))
                .as_array()
                .unwrap()
                .len()
    });
    assert!(hidden.is_some());
}

#[test]
fn render_shapes_follow_the_v3_schemas() {
    let Some(real) = real() else { return };
    let site = &real.site;
    let r = Renderer::new(site, None);
    let idx = site.issue_by_key("AC-18").unwrap();
    let issue = to_value(r.issue(idx, &FieldSelection::all()));
    assert_eq!(issue["id"], json!("143749"));
    assert_eq!(issue["key"], json!("AC-18"));
    assert_eq!(
        issue["self"],
        json!(format!("{}/rest/api/3/issue/143749", site.base_url))
    );
    let f = &issue["fields"];
    assert_eq!(f["summary"], json!("testing-2"));
    assert_eq!(f["issuetype"]["hierarchyLevel"], json!(0));
    assert_eq!(f["issuetype"]["subtask"], json!(false));
    assert_eq!(
        f["status"]["statusCategory"],
        json!({"self": format!("{}/rest/api/3/statuscategory/3", site.base_url), "id": 3, "key": "done", "colorName": "green", "name": "Done"})
    );
    let assignee = &f["assignee"];
    assert_eq!(assignee["accountType"], json!("atlassian"));
    assert_eq!(assignee["accountId"].as_str().unwrap().len(), 24);
    assert_eq!(assignee["displayName"], json!("Jules Upton"));
    assert_eq!(assignee["timeZone"], json!("America/Los_Angeles"));
    assert!(
        assignee.get("name").is_none() && assignee.get("key").is_none(),
        "no Server user names in Cloud"
    );
    assert_eq!(f["created"], json!("2015-01-30T00:43:49.000+0000"));
    assert_eq!(f["description"], Value::Null);
    assert_eq!(f["labels"], json!([]));
    assert!(f[fields::RANK].as_str().unwrap().starts_with("0|"));
    assert!(f[fields::STORY_POINTS].is_number());
    assert!(f["timetracking"]["originalEstimateSeconds"].is_u64());
    assert_eq!(f["timetracking"]["remainingEstimateSeconds"], json!(0));
    assert_eq!(f["timeestimate"], json!(0));
    for def in &site.fields {
        if def.id != "issuekey" {
            assert!(f.get(def.id).is_some(), "*all includes {}", def.id);
        }
    }

    // ADF for a real description with paragraphs and line breaks.
    let with_desc = real
        .raw
        .iter()
        .find(|x| {
            x["fields"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("\r\n\r\n"))
        })
        .unwrap();
    let idx = site
        .issue_by_key(with_desc["key"].as_str().unwrap())
        .unwrap();
    let doc = to_value(r.field(idx, "description"));
    assert_eq!(doc["type"], json!("doc"));
    assert_eq!(doc["version"], json!(1));
    let paragraphs = doc["content"].as_array().unwrap();
    assert!(paragraphs.len() > 1);
    for p in paragraphs {
        assert_eq!(p["type"], json!("paragraph"));
        for node in p["content"].as_array().unwrap() {
            match node["type"].as_str().unwrap() {
                "text" => assert!(!node["text"].as_str().unwrap().is_empty()),
                "hardBreak" => {}
                other => panic!("unexpected node {other}"),
            }
        }
    }

    // Field selection.
    let ids = to_value(r.issue(idx, &FieldSelection::parse::<&str>(&[], Endpoint::Search)));
    assert_eq!(ids, json!({"id": s(&with_desc["id"])}));
    let two = to_value(r.issue(
        idx,
        &FieldSelection::parse(&["summary", "status"], Endpoint::Search),
    ));
    let keys: Vec<&String> = two["fields"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["status", "summary"]);
    let nav = to_value(r.issue(
        idx,
        &FieldSelection::parse(&["*navigable,-description"], Endpoint::Search),
    ));
    assert!(
        nav["fields"].get("description").is_none() && nav["fields"].get("timetracking").is_none()
    );
    assert!(
        nav["fields"].get("summary").is_some() && nav["fields"].get(fields::STORY_POINTS).is_some()
    );
}

#[test]
fn jql_evaluates_over_the_model() {
    let Some(real) = real() else { return };
    let site = &real.site;
    let catalog = site.jql_catalog();
    let count = |q: &str| {
        let query = jql::parse(q).unwrap();
        let ctx = jql::eval::EvalContext::at(jql::eval::Timestamp(site.now));
        let m = jql::eval::Matcher::compile(&query, &catalog, &ctx).unwrap();
        (0..u32::try_from(site.issues.len()).unwrap())
            .filter(|&i| m.matches(&site.view(i)))
            .count()
    };
    let raw_count =
        |p: &dyn Fn(&Value) -> bool| real.raw.iter().filter(|r| p(&r["fields"])).count();
    assert_eq!(
        count("project = MOD AND statusCategory = Done"),
        raw_count(
            &|f| f["project"]["key"] == "MOD" && f["status"]["statusCategory"]["key"] == "done"
        )
    );
    assert_eq!(count("issuetype = Epic"), 127);
    assert_eq!(
        count("parent is not EMPTY"),
        raw_count(&|f| f.get("parent").is_some() || f.get("epic").is_some())
    );
    assert_eq!(
        count("cf[10016] >= 8"),
        site.issues
            .iter()
            .filter(|i| i.story_points.is_some_and(|p| p >= 8.0))
            .count()
    );
}

#[test]
fn synthetic_shape_and_determinism() {
    let n = 20_000;
    let site = synthetic::generate(n, 7);
    assert_eq!(site.issues.len(), n);
    let level_share = |level: i32| {
        site.issues
            .iter()
            .filter(|i| site.issue_types[i.issue_type as usize].hierarchy_level == level)
            .count()
            * 1000
            / n
    };
    let (epics, standard, subtasks) = (level_share(1), level_share(0), level_share(-1));
    eprintln!("per mille: epics {epics}, standard {standard}, sub-tasks {subtasks}");
    assert!((20..=40).contains(&epics), "{epics}");
    assert!((650..=760).contains(&standard), "{standard}");
    assert!((220..=300).contains(&subtasks), "{subtasks}");
    let links = site.links.iter().flatten().count();
    assert!((n * 45 / 100..=n * 55 / 100).contains(&links), "{links}");
    for cat in ["new", "indeterminate", "done"] {
        assert!(
            site.issues
                .iter()
                .any(|i| site.statuses[i.status as usize].category.key() == cat)
        );
    }
    for i in &site.issues {
        let done = site.statuses[i.status as usize].category.key() == "done";
        assert_eq!(i.resolution.is_some(), done);
        let level = site.issue_types[i.issue_type as usize].hierarchy_level;
        match (level, i.parent) {
            (-1, Some(Target::Local(p))) => assert_eq!(
                site.issue_types[site.issue(p).issue_type as usize].hierarchy_level,
                0
            ),
            (0, Some(Target::Local(p))) => assert_eq!(
                site.issue_types[site.issue(p).issue_type as usize].hierarchy_level,
                1
            ),
            (0 | 1, None) => {}
            other => panic!("bad hierarchy {other:?}"),
        }
    }
    let with_epic = site
        .issues
        .iter()
        .filter(|i| {
            i.parent.is_some() && site.issue_types[i.issue_type as usize].hierarchy_level == 0
        })
        .count();
    assert!(with_epic > n / 3);
    // Some link cycles: a Blocks triangle.
    let blocks: HashMap<u32, Vec<u32>> = site
        .links
        .iter()
        .flatten()
        .filter(|l| l.link_type == 0)
        .fold(HashMap::new(), |mut m, l| {
            if let (Target::Local(a), Target::Local(b)) = (l.source, l.destination) {
                m.entry(a).or_default().push(b);
            }
            m
        });
    let cycle = blocks.iter().any(|(&a, next)| {
        next.iter().any(|b| {
            blocks.get(b).is_some_and(|c| {
                c.iter()
                    .any(|c| blocks.get(c).is_some_and(|d| d.contains(&a)))
            })
        })
    });
    assert!(cycle);
    assert!(
        site.links
            .iter()
            .flatten()
            .any(|l| matches!(l.destination, Target::External(_)))
    );
    assert!(
        site.issues.iter().any(|i| !i.sprints.is_empty())
            && site.issues.iter().any(|i| !i.fix_versions.is_empty())
            && site.issues.iter().any(|i| !i.components.is_empty())
    );

    // Same seed, same site; another seed, another site.
    let again = synthetic::generate(n, 7);
    let r1 = Renderer::new(&site, None);
    let r2 = Renderer::new(&again, None);
    for idx in (0..u32::try_from(n).unwrap()).step_by(997) {
        assert_eq!(
            to_value(r1.issue(idx, &FieldSelection::all())),
            to_value(r2.issue(idx, &FieldSelection::all()))
        );
    }
    let other = synthetic::generate(n, 8);
    assert_ne!(
        site.issues.iter().map(|i| &*i.summary).collect::<Vec<_>>(),
        other.issues.iter().map(|i| &*i.summary).collect::<Vec<_>>()
    );
}

#[test]
fn default_site_on_synthetic_data() {
    let mut site = synthetic::generate(5_000, 1);
    SiteFile::default_site().unwrap().apply(&mut site).unwrap();
    let admin = site.person_by_name("admin").unwrap();
    let dev = site.person_by_name("dev").unwrap();
    let ops = site.project_by_key("OPS").unwrap();
    let all = u32::try_from(site.issues.len()).unwrap();
    assert_eq!(
        (0..all).filter(|&i| site.can_browse(admin, i)).count(),
        5_000
    );
    let expected = site
        .issues
        .iter()
        .filter(|i| i.project != ops && i.id % 10 != 0)
        .count();
    assert_eq!(
        (0..all).filter(|&i| site.can_browse(dev, i)).count(),
        expected
    );
    assert!(site.issues.iter().filter(|i| i.security.is_some()).count() == 500);
    assert!(site.can_browse_project(dev, 0) && !site.can_browse_project(dev, ops));
    let role = site.role_by_name("Developers").unwrap();
    assert!(site.roles_of(dev, 0).contains(&role));
    // Everyone may find people and groups; only admin administers projects.
    assert!(site.can_browse_users(dev) && site.can_browse_users(admin));
    assert!(site.can_administer_project(admin, 0) && !site.can_administer_project(dev, 0));
}

#[test]
fn site_file_rules() {
    let mut site = synthetic::generate(2_000, 3);
    let file = SiteFile::parse(
        r#"
        [[people]]
        name = "carol"
        display_name = "Carol Contractor"
        [[groups]]
        name = "contractors"
        members = ["carol"]
        [[browse]]
        projects = ["WEB"]
        groups = ["contractors"]
        [[browse]]
        projects = ["*"]
        users = ["user00001"]
        [[security_levels]]
        name = "Secret"
        users = ["user00001"]
        [security_levels.issues]
        projects = ["WEB"]
        labels = ["security"]
        "#,
    )
    .unwrap();
    file.apply(&mut site).unwrap();
    let carol = site.person_by_name("carol").unwrap();
    let web = site.project_by_key("WEB").unwrap();
    let security = site.interner.get("security").unwrap();
    let all = u32::try_from(site.issues.len()).unwrap();
    let expected = site
        .issues
        .iter()
        .filter(|i| i.project == web && !i.labels.contains(&security))
        .count();
    assert_eq!(
        (0..all).filter(|&i| site.can_browse(carol, i)).count(),
        expected
    );
    let u1 = site.person_by_name("user00001").unwrap();
    assert_eq!((0..all).filter(|&i| site.can_browse(u1, i)).count(), 2_000);
    assert!(
        SiteFile::parse("[[browse]]\nprojects=[\"*\"]\ngroups=[\"nobody\"]")
            .unwrap()
            .apply(&mut site)
            .is_err()
    );
    assert!(SiteFile::parse("unknown = 1").is_err());
}

#[test]
fn mutations_update_both_ends_and_the_change_counter() {
    let mut site = synthetic::generate(1_000, 5);
    SiteFile::default_site().unwrap().apply(&mut site).unwrap();
    let start = site.change_counter();
    let r = |site: &Site, i: u32| to_value(Renderer::new(site, None).field(i, "issuelinks"));

    let (a, b) = (10, 20);
    let id = site.add_link(0, a, b).unwrap();
    assert!(
        r(&site, a)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == json!(id.to_string())
                && e["outwardIssue"]["key"] == json!(&*site.issue(b).key))
    );
    assert!(
        r(&site, b)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == json!(id.to_string())
                && e["inwardIssue"]["key"] == json!(&*site.issue(a).key))
    );
    site.remove_link(id).unwrap();
    assert!(
        !r(&site, a)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == json!(id.to_string()))
    );
    assert!(
        !r(&site, b)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == json!(id.to_string()))
    );
    assert!(site.remove_link(id).is_err());

    site.now += 60_000;
    site.set_summary(a, "A new summary").unwrap();
    assert_eq!(&*site.issue(a).summary, "A new summary");
    assert_eq!(site.issue(a).updated, site.now);
    assert!(site.set_summary(a, "  ").is_err());

    let level =
        |site: &Site, i: u32| site.issue_types[site.issue(i).issue_type as usize].hierarchy_level;
    let story = (0..1000).find(|&i| level(&site, i) == 0).unwrap();
    let epics: Vec<u32> = (0..1000).filter(|&i| level(&site, i) == 1).collect();
    site.set_parent(story, Some(epics[0])).unwrap();
    assert!(site.issue(epics[0]).children.contains(&story));
    site.set_parent(story, Some(epics[1])).unwrap();
    assert!(
        !site.issue(epics[0]).children.contains(&story)
            && site.issue(epics[1]).children.contains(&story)
    );
    assert!(site.set_parent(story, Some(story)).is_err());
    site.set_parent(story, None).unwrap();
    assert_eq!(
        to_value(Renderer::new(&site, None).field(story, "parent")),
        Value::Null
    );

    let created = site
        .create_issue(&NewIssue {
            project: 0,
            issue_type: 4,
            summary: "Write tests".into(),
            parent: Some(story),
            reporter: Some(0),
            assignee: None,
        })
        .unwrap();
    let key = site.issue(created).key.to_string();
    assert_eq!(site.issue_by_key(&key), Some(created));
    let subtasks = to_value(Renderer::new(&site, None).field(story, "subtasks"));
    assert!(
        subtasks
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["key"] == json!(key))
    );
    assert!(
        site.create_issue(&NewIssue {
            project: 0,
            issue_type: 4,
            summary: "orphan".into(),
            parent: None,
            reporter: None,
            assignee: None
        })
        .is_err()
    );
    assert!(site.change_counter() > start);
    assert_eq!(site.issue(created).change, site.change_counter());
}
