//! search/jql paging and errors, issues, bulkfetch, writes, permissions of two people, eventual consistency.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{spawn, spawn_synthetic, synthetic_config};

#[tokio::test]
async fn paging_has_no_duplicates_or_gaps_and_tokens_are_bound() {
    let t = spawn_synthetic().await;
    let admin = t.token("admin").await;
    let dev = t.token("dev").await;
    let jql = "project in (CORE, WEB, OPS) ORDER BY key";
    let ids = t.all_ids(&admin, jql, 37).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicates");
    let count = t
        .post(
            &admin,
            "/rest/api/3/search/approximate-count",
            &json!({"jql": jql}),
        )
        .await;
    assert_eq!(
        count.body["count"].as_u64().unwrap() as usize,
        ids.len(),
        "no gaps"
    );
    let one_page = t.all_ids(&admin, jql, 5000).await;
    assert_eq!(one_page, ids, "same order whatever the page size");

    let first = t
        .get(
            &admin,
            "/rest/api/3/search/jql?jql=project%20%3D%20CORE&maxResults=3",
        )
        .await;
    assert_eq!(first.body["issues"].as_array().unwrap().len(), 3);
    assert_eq!(
        first.body["issues"][0].as_object().unwrap().len(),
        1,
        "default fields=id"
    );
    assert!(first.body.get("total").is_none());
    let token = first.body["nextPageToken"].as_str().unwrap();
    let foreign = t
        .get(
            &dev,
            &format!(
                "/rest/api/3/search/jql?jql=project%20%3D%20CORE&maxResults=3&nextPageToken={token}"
            ),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    let other_query = t
        .get(
            &admin,
            &format!("/rest/api/3/search/jql?jql=project%20%3D%20WEB&nextPageToken={token}"),
        )
        .await;
    assert_eq!(other_query.status, StatusCode::BAD_REQUEST);
    let forged = t
        .get(
            &admin,
            "/rest/api/3/search/jql?jql=project%20%3D%20CORE&nextPageToken=abc",
        )
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(
        forged.body["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("token")
    );
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn page_sizes_fields_and_jql_errors() {
    let t = spawn_synthetic().await;
    let admin = t.token("admin").await;
    let ids = t
        .post(
            &admin,
            "/rest/api/3/search/jql",
            &json!({"jql": "project = CORE", "maxResults": 9000}),
        )
        .await;
    let n_ids = ids.body["issues"].as_array().unwrap().len();
    let rich = t
        .post(
            &admin,
            "/rest/api/3/search/jql",
            &json!({"jql": "project = CORE", "maxResults": 9000, "fields": ["*navigable"]}),
        )
        .await;
    assert_eq!(
        rich.body["issues"].as_array().unwrap().len(),
        100.min(n_ids)
    );
    assert!(rich.body["issues"][0]["fields"]["summary"].is_string());
    let minus = t.post(&admin, "/rest/api/3/search/jql", &json!({"jql": "project = CORE", "fields": ["*all", "-description"], "expand": "names,schema", "maxResults": 1})).await;
    let fields = minus.body["issues"][0]["fields"].as_object().unwrap();
    assert!(fields.contains_key("timetracking") && !fields.contains_key("description"));
    assert_eq!(minus.body["names"]["summary"], "Summary");
    assert!(minus.body["schema"]["summary"].is_object());

    for (jql, needle) in [
        ("", "Unbounded JQL"),
        ("ORDER BY key", "Unbounded JQL"),
        ("nosuchfield = 1", "does not exist"),
        (
            "project = CORE AND issue in nosuchfunction()",
            "nosuchfunction",
        ),
        ("status WAS Done", "jira-sim cannot evaluate"),
        ("project = ", ""),
    ] {
        let r = t
            .post(&admin, "/rest/api/3/search/jql", &json!({"jql": jql}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{jql}");
        let message = r.body["errorMessages"][0].as_str().unwrap();
        assert!(message.contains(needle), "{jql}: {message}");
    }
    let gone = t.get(&admin, "/rest/api/3/search?jql=project%3DCORE").await;
    assert_eq!(gone.status, StatusCode::GONE);
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_people_see_different_issues() {
    let t = spawn_synthetic().await;
    let admin = t.token("admin").await;
    let dev = t.token("dev").await;
    let all = t.all_ids(&admin, "project is not EMPTY", 5000).await;
    let some = t.all_ids(&dev, "project is not EMPTY", 5000).await;
    let (expected_all, expected_dev) = t.sim.handle().with_site(|s| {
        let d = s.person_by_name("dev").unwrap();
        (
            s.issues.len(),
            (0..s.issues.len() as u32)
                .filter(|&i| s.can_browse(d, i))
                .count(),
        )
    });
    assert_eq!(all.len(), expected_all);
    assert_eq!(some.len(), expected_dev);
    assert!(some.len() < all.len());
    let hidden: Vec<&String> = all.iter().filter(|id| !some.contains(id)).take(3).collect();
    let ops = t
        .get(&dev, "/rest/api/3/search/jql?jql=project%3DOPS")
        .await;
    assert_eq!(ops.body["issues"].as_array().unwrap().len(), 0);

    // GET issue: 404 for the hidden one, as for a missing one.
    assert_eq!(
        t.get(&dev, &format!("/rest/api/3/issue/{}", hidden[0]))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(&admin, &format!("/rest/api/3/issue/{}", hidden[0]))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.get(&dev, "/rest/api/3/issue/NOPE-1").await.status,
        StatusCode::NOT_FOUND
    );

    // bulkfetch: hidden issues absent, ascending ids, ≤ 100.
    let mut wanted: Vec<Value> = some.iter().take(5).map(|s| json!(s)).collect();
    wanted.extend(hidden.iter().map(|s| json!(s)));
    wanted.push(json!("not a key"));
    let bulk = t
        .post(
            &dev,
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": wanted, "fields": ["summary"]}),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::OK);
    let got: Vec<u64> = bulk.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(got.len(), 5);
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(bulk.body["issueErrors"].as_array().unwrap().len(), 1);
    let too_many: Vec<Value> = (0..101).map(|i| json!(format!("CORE-{}", i + 1))).collect();
    let r = t
        .post(
            &dev,
            "/rest/api/3/issue/bulkfetch",
            &json!({"issueIdsOrKeys": too_many}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Permissions differ too.
    let ops_perm = t
        .get(
            &dev,
            "/rest/api/3/mypermissions?projectKey=OPS&permissions=BROWSE_PROJECTS",
        )
        .await;
    // A project dev may not browse is not found at all: not even its existence is confirmed.
    assert_eq!(ops_perm.status, StatusCode::NOT_FOUND, "{}", ops_perm.body);
    let ids: Vec<u64> = hidden
        .iter()
        .copied()
        .chain(some.iter().take(2))
        .map(|s| s.parse().unwrap())
        .collect();
    let check = t
        .post(
            &dev,
            "/rest/api/3/permissions/check",
            &json!({"projectPermissions": [{"permissions": ["BROWSE_PROJECTS"], "issues": ids}]}),
        )
        .await;
    assert_eq!(
        check.body["projectPermissions"][0]["issues"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let projects = t.get(&dev, "/rest/api/3/project/search").await;
    let keys: Vec<&str> = projects.body["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert!(!keys.contains(&"OPS") && keys.contains(&"CORE"));
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn writes_and_eventual_consistency() {
    let mut config = synthetic_config();
    config.controls.consistency_window_ms = 2500;
    let t = spawn(config).await;
    let admin = t.token("admin").await;
    let r = t
        .put(
            &admin,
            "/rest/api/3/issue/CORE-2",
            &json!({"fields": {"summary": "zebra quokka"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let issue = t
        .get(&admin, "/rest/api/3/issue/CORE-2?fields=summary")
        .await;
    assert_eq!(issue.body["fields"]["summary"], "zebra quokka");
    let search = json!({"jql": "summary ~ quokka"});
    let stale = t.post(&admin, "/rest/api/3/search/jql", &search).await;
    assert_eq!(
        stale.body["issues"].as_array().unwrap().len(),
        0,
        "search still sees the old summary"
    );
    let id: u64 = issue.body["id"].as_str().unwrap().parse().unwrap();
    let reconciled = t
        .post(
            &admin,
            "/rest/api/3/search/jql",
            &json!({"jql": "summary ~ quokka", "reconcileIssues": [id]}),
        )
        .await;
    assert_eq!(reconciled.body["issues"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let fresh = t.post(&admin, "/rest/api/3/search/jql", &search).await;
    assert_eq!(fresh.body["issues"].as_array().unwrap().len(), 1);

    // Invalid writes.
    let bad = t
        .put(
            &admin,
            "/rest/api/3/issue/CORE-2",
            &json!({"fields": {"nosuch": 1}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["errors"]["nosuch"].is_string());
    let empty = t
        .put(
            &admin,
            "/rest/api/3/issue/CORE-2",
            &json!({"fields": {"summary": " "}}),
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);

    // Parent and links.
    let (story, epic, other) = t.sim.handle().with_site(|s| {
        let level = |i: u32| s.issue_types[s.issue(i).issue_type as usize].hierarchy_level;
        let epic = (0..s.issues.len() as u32)
            .find(|&i| level(i) == 1 && s.issue(i).key.starts_with("CORE-"))
            .unwrap();
        let story = (0..s.issues.len() as u32)
            .find(|&i| {
                level(i) == 0 && s.issue(i).key.starts_with("CORE-") && s.issue(i).parent.is_none()
            })
            .unwrap();
        let other = (0..s.issues.len() as u32)
            .rev()
            .find(|&i| level(i) == 0 && s.issue(i).key.starts_with("CORE-"))
            .unwrap();
        (
            s.issue(story).key.to_string(),
            s.issue(epic).key.to_string(),
            s.issue(other).key.to_string(),
        )
    });
    let r = t
        .put(
            &admin,
            &format!("/rest/api/3/issue/{story}"),
            &json!({"update": {"parent": [{"set": {"key": epic}}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let got = t
        .get(&admin, &format!("/rest/api/3/issue/{story}?fields=parent"))
        .await;
    assert_eq!(
        got.body["fields"]["parent"]["key"],
        Value::String(epic.clone())
    );
    let invalid = t
        .put(
            &admin,
            &format!("/rest/api/3/issue/{epic}"),
            &json!({"fields": {"parent": {"key": story}}}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(invalid.body["errors"]["parent"].is_string());

    let r = t.post(&admin, "/rest/api/3/issueLink", &json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": story}, "outwardIssue": {"key": other}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let links = t
        .get(
            &admin,
            &format!("/rest/api/3/issue/{story}?fields=issuelinks"),
        )
        .await;
    let link = links.body["fields"]["issuelinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["outwardIssue"]["key"] == Value::String(other.clone()))
        .unwrap()
        .clone();
    let link_id = link["id"].as_str().unwrap();
    assert_eq!(
        t.get(&admin, &format!("/rest/api/3/issueLink/{link_id}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.delete(&admin, &format!("/rest/api/3/issueLink/{link_id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.delete(&admin, &format!("/rest/api/3/issueLink/{link_id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = t.post(&admin, "/rest/api/3/issueLink", &json!({"type": {"name": "Nope"}, "inwardIssue": {"key": story}, "outwardIssue": {"key": other}})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Deleting: an issue with sub-tasks needs deleteSubtasks=true; then it and its sub-tasks are gone.
    let (parent, subtask) = t.sim.handle().with_site(|s| {
        let p = (0..s.issues.len() as u32)
            .find(|&i| {
                s.issue(i).key.starts_with("CORE-")
                    && s.issue(i)
                        .children
                        .iter()
                        .any(|&c| s.issue_types[s.issue(c).issue_type as usize].subtask)
            })
            .unwrap();
        let c = s
            .issue(p)
            .children
            .iter()
            .copied()
            .find(|&c| s.issue_types[s.issue(c).issue_type as usize].subtask)
            .unwrap();
        (s.issue(p).key.to_string(), s.issue(c).key.to_string())
    });
    let refused = t
        .delete(&admin, &format!("/rest/api/3/issue/{parent}"), None)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let deleted = t
        .delete(
            &admin,
            &format!("/rest/api/3/issue/{parent}?deleteSubtasks=true"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for key in [&parent, &subtask] {
        assert_eq!(
            t.get(&admin, &format!("/rest/api/3/issue/{key}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }

    // Created issues are not found within the window.
    let created = t
        .admin(
            reqwest::Method::POST,
            "/_sim/issues",
            &json!({"project": "CORE", "issueType": "Task", "summary": "brand new wombat"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let r = t
        .post(
            &admin,
            "/rest/api/3/search/jql",
            &json!({"jql": "summary ~ wombat"}),
        )
        .await;
    assert_eq!(r.body["issues"].as_array().unwrap().len(), 0);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let r = t
        .post(
            &admin,
            "/rest/api/3/search/jql",
            &json!({"jql": "summary ~ wombat"}),
        )
        .await;
    assert_eq!(r.body["issues"].as_array().unwrap().len(), 1);
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn id_and_key_pages_hold_up_to_5000_rich_pages_100() {
    let t = spawn(jira_sim::server::SimConfig::new(
        jira_sim::server::DataSource::Synthetic {
            issues: 12_000,
            seed: 5,
        },
    ))
    .await;
    let admin = t.token("admin").await;
    for (fields, expected) in [
        (json!(["id"]), 5000),
        (json!(["key"]), 5000),
        (json!(["id", "key"]), 5000),
        (json!(["summary"]), 100),
        (json!(["*all"]), 100),
    ] {
        let r = t
            .post(
                &admin,
                "/rest/api/3/search/jql",
                &json!({"jql": "project is not EMPTY", "maxResults": 20000, "fields": fields}),
            )
            .await;
        assert_eq!(
            r.body["issues"].as_array().unwrap().len(),
            expected,
            "{fields}"
        );
        assert_eq!(r.body["isLast"], false);
    }
    let default = t
        .get(
            &admin,
            "/rest/api/3/search/jql?jql=project%20is%20not%20EMPTY",
        )
        .await;
    assert_eq!(default.body["issues"].as_array().unwrap().len(), 50);
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn issues_deleted_between_pages_are_gone_from_later_pages() {
    let t = spawn_synthetic().await;
    let admin = t.token("admin").await;
    let jql = "project = CORE ORDER BY key";
    let all = t.all_ids(&admin, jql, 5000).await;
    let first = t
        .post(
            &admin,
            "/rest/api/3/search/jql",
            &json!({"jql": jql, "maxResults": 2}),
        )
        .await;
    let token = first.body["nextPageToken"].as_str().unwrap().to_owned();
    let doomed = &all[2];
    let deleted = t
        .admin(
            reqwest::Method::DELETE,
            &format!("/_sim/issues/{doomed}"),
            &json!({}),
        )
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    let second = t
        .post(
            &admin,
            "/rest/api/3/search/jql",
            &json!({"jql": jql, "maxResults": 2, "nextPageToken": token}),
        )
        .await;
    let ids: Vec<&str> = second.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&doomed.as_str()), "{ids:?}");
    assert!(ids.contains(&all[3].as_str()));
}

#[tokio::test]
async fn a_parent_the_person_may_not_browse_is_not_shown() {
    let t = spawn_synthetic().await;
    let admin = t.token("admin").await;
    let dev = t.token("dev").await;
    // An issue dev may see whose parent is Internal (its id a multiple of 10, see DATA.md).
    let page = t
        .post(
            &admin,
            "/rest/api/3/search/jql",
            &json!({"jql": "project = CORE AND parent IS NOT EMPTY", "fields": ["parent"], "maxResults": 100}),
        )
        .await;
    let issue = page.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            let id: u64 = i["id"].as_str().unwrap().parse().unwrap();
            let parent: u64 = i["fields"]["parent"]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            !id.is_multiple_of(10) && parent.is_multiple_of(10)
        })
        .expect("a CORE issue under an Internal parent");
    let path = format!(
        "/rest/api/3/issue/{}?fields=parent",
        issue["id"].as_str().unwrap()
    );
    assert!(t.get(&admin, &path).await.body["fields"]["parent"].is_object());
    let as_dev = t.get(&dev, &path).await;
    assert_eq!(as_dev.status, StatusCode::OK);
    assert!(as_dev.body["fields"]["parent"].is_null(), "{}", as_dev.body);
}

/// Searches that require a parent evaluate only its children (as Jira's index finds them): they must find
/// exactly what evaluating every issue finds — `(q) OR (q)` means `q` but is evaluated issue by issue.
#[tokio::test]
async fn parent_searches_find_what_evaluating_every_issue_finds() {
    let mut config = synthetic_config();
    config.controls.consistency_window_ms = 60_000;
    // Many searches in a moment: no rate limit.
    config.controls.quota.burst_per_second = 0;
    config.controls.quota.hourly_points = 0;
    let t = spawn(config).await;
    let admin = t.token("admin").await;
    let dev = t.token("dev").await;
    let (epics, stories, moved) = t.sim.handle().with_site(|s| {
        let level = |i: u32| s.issue_types[s.issue(i).issue_type as usize].hierarchy_level;
        let with_children = |l: i32| -> Vec<u32> {
            (0..s.issues.len() as u32)
                .filter(|&i| level(i) == l && !s.issue(i).children.is_empty())
                .collect()
        };
        let epics = with_children(1);
        let stories = with_children(0);
        let moved = s.issue(epics[0]).children[0];
        let ids = |list: &[u32]| -> Vec<String> {
            list.iter().map(|&i| s.issue(i).id.to_string()).collect()
        };
        let keys = |list: &[u32]| -> Vec<String> {
            list.iter()
                .map(|&i| s.issue(i).key.to_lowercase())
                .collect()
        };
        (
            ids(&epics[..12]),
            keys(&stories[..5]),
            s.issue(moved).key.to_string(),
        )
    });
    let epic_list = epics.join(", ");
    let story_list = stories.join(", ");
    let conditions = [
        format!("parent in ({epic_list})"),
        format!("parent = {}", stories[0]),
        format!("parent in ({story_list}, {}) AND status != Done", epics[1]),
        format!("Parent IN ({epic_list}, 999999999)"),
        format!("project = CORE AND parent in ({epic_list})"),
    ];
    let check = |moment: &'static str| {
        let (t, admin, dev, conditions) = (&t, &admin, &dev, &conditions);
        async move {
            for condition in conditions {
                for order in ["", " ORDER BY key DESC", " ORDER BY created"] {
                    for who in [admin, dev] {
                        let narrowed = t.all_ids(who, &format!("{condition}{order}"), 5000).await;
                        let whole = t
                            .all_ids(who, &format!("({condition}) OR ({condition}){order}"), 5000)
                            .await;
                        assert_eq!(narrowed, whole, "{moment}: {condition}{order}");
                    }
                }
            }
        }
    };
    check("before a move").await;
    assert!(
        !t.all_ids(&admin, &conditions[0], 5000).await.is_empty(),
        "the conditions find issues"
    );

    // A child moved to another parent is still found under its old parent while searches lag behind.
    let r = t
        .put(
            &admin,
            &format!("/rest/api/3/issue/{moved}"),
            &json!({"fields": {"parent": {"id": epics[1]}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let moved_id = t
        .get(&admin, &format!("/rest/api/3/issue/{moved}?fields=id"))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let under_first = t
        .all_ids(&admin, &format!("parent = {}", epics[0]), 5000)
        .await;
    assert!(
        under_first.contains(&moved_id),
        "the search still sees the old parent"
    );
    let under_second = t
        .all_ids(&admin, &format!("parent = {}", epics[1]), 5000)
        .await;
    assert!(!under_second.contains(&moved_id));
    check("after a move").await;
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn jql_parse_answers_each_query_with_jiras_errors_and_warnings() {
    let t = spawn_synthetic().await;
    let dev = t.token("dev").await;
    let queries = json!({"queries": [
        "project = CORE AND issuetype = Epic ORDER BY rank",
        "project = NOPE",
        "foo = 1",
        "project = CORE AND AND status = Done",
        "project in (CORE, OPS) AND status = Nowhere",
        "summary ~ 'x' AND status WAS Done AND cf[10020] = 'No sprint'",
        "priority = Highest AND statusCategory = Done AND type = Nope",
    ]});
    let reply = t
        .post(&dev, "/rest/api/3/jql/parse?validation=strict", &queries)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let answers = reply.body["queries"].as_array().unwrap();
    assert_eq!(answers.len(), 7);
    for (answer, query) in answers.iter().zip(queries["queries"].as_array().unwrap()) {
        assert_eq!(
            answer["query"], *query,
            "each answer names its query, in order"
        );
    }
    let list = |i: usize, what: &str| -> Vec<String> {
        answers[i][what]
            .as_array()
            .map(|l| l.iter().map(|m| m.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    // A valid query has neither list.
    assert!(answers[0].get("errors").is_none() && answers[0].get("warnings").is_none());
    assert_eq!(
        list(1, "warnings"),
        ["The value 'NOPE' does not exist for the field 'project'."]
    );
    assert!(list(1, "errors").is_empty());
    assert_eq!(
        list(2, "errors"),
        ["Field 'foo' does not exist or you do not have permission to view it."]
    );
    let syntax = list(3, "errors");
    assert!(
        syntax.len() == 1 && syntax[0].starts_with("Error in the JQL Query:"),
        "{syntax:?}"
    );
    // dev may not browse OPS: Jira says it does not exist, as it says of a project that does not.
    assert_eq!(
        list(4, "warnings"),
        [
            "The value 'OPS' does not exist for the field 'project'.",
            "The value 'Nowhere' does not exist for the field 'status'."
        ]
    );
    // History is Jira's to evaluate: not an error. A sprint that does not exist is a warning.
    assert!(list(5, "errors").is_empty(), "{:?}", list(5, "errors"));
    assert_eq!(
        list(5, "warnings"),
        ["The value 'No sprint' does not exist for the field 'cf[10020]'."]
    );
    assert_eq!(
        list(6, "warnings"),
        ["The value 'Nope' does not exist for the field 'type'."]
    );

    // The admin may browse OPS.
    let admin = t.token("admin").await;
    let reply = t
        .post(
            &admin,
            "/rest/api/3/jql/parse?validation=strict",
            &json!({"queries": ["project = OPS"]}),
        )
        .await;
    assert!(
        reply.body["queries"][0].get("warnings").is_none(),
        "{}",
        reply.body
    );

    // `none` checks the syntax only; a bad validation or an empty list is a 400.
    let reply = t
        .post(
            &dev,
            "/rest/api/3/jql/parse?validation=none",
            &json!({"queries": ["project = NOPE", "a = = b"]}),
        )
        .await;
    assert!(reply.body["queries"][0].get("warnings").is_none());
    assert!(reply.body["queries"][1]["errors"].is_array());
    for (path, body) in [
        (
            "/rest/api/3/jql/parse?validation=loose",
            json!({"queries": ["a = b"]}),
        ),
        (
            "/rest/api/3/jql/parse?validation=strict",
            json!({"queries": []}),
        ),
        (
            "/rest/api/3/jql/parse?validation=strict",
            json!({"queries": [""]}),
        ),
    ] {
        let reply = t.post(&dev, path, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert!(reply.body["errorMessages"][0].is_string(), "{}", reply.body);
    }
}
