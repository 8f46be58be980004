//! Structures through the API: create, rename, list, windows of the effective forest, edits with versions,
//! undo and redo, history and restore, generators, views, exports, and two people seeing different rows.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use std::time::Duration;

use arbor_server::ServerConfig;
use jira_sim::server::{DataSource, FaultKind, FaultRule};

use crate::{App, Browser, Calls, quiet, spawn, spawn_with};

/// Fills structure `id` with the issues of `jql` and their children and grandchildren.
async fn epics_with_children(me: &Browser, id: u64, jql: &str) {
    me.add_generator(id, json!({"kind": "insert_jql", "jql": jql}))
        .await;
    me.add_generator(
        id,
        json!({"kind": "extend_children", "levels": {"from": 1, "to": 2}}),
    )
    .await;
}

#[tokio::test]
async fn jira_failing_after_a_first_answer_is_an_error_for_whoever_asks_next() {
    let (app, admin, _, id, _) = large_stored_structure(|config| {
        config.client.retry.base_delay = Duration::from_millis(10);
        config.client.retry.max_delay = Duration::from_millis(50);
    })
    .await;
    let window = || {
        let admin = admin.clone();
        async move {
            admin
                .post(
                    &format!("/api/v1/structures/{id}/rows"),
                    json!({"expand": {"depth": 100}, "limit": 50}),
                )
                .await
        }
    };
    admin.rows(id, None).await;
    let (status, _) = admin
        .post(&format!("/api/v1/structures/{id}/refresh"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A slow Jira: the rest of the issues is still being read when the first answer arrives, and then fails.
    let mut slow = quiet();
    slow.latency_ms = 300;
    app.sims[0].handle().set_controls(slow.clone());
    let (status, first) = window().await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["loading"], true);
    slow.faults = vec![FaultRule {
        endpoint: "POST /rest/api/3/issue/bulkfetch".into(),
        kind: FaultKind::Status { status: 503 },
        probability: 1.0,
    }];
    app.sims[0].handle().set_controls(slow);
    // Whoever waited for the rest gets its error, and so does whoever asks anew (no other first answer).
    for _ in 0..2 {
        let (status, problem) = window().await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    }
    // Jira well again: the whole answer at once.
    app.sims[0].handle().set_controls(quiet());
    let (status, whole) = window().await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert!(whole.get("loading").is_none(), "{whole}");
    app.stop().await;
}

/// Lets everyone signed in view structure `id`.
fn titles(window: &Value) -> Vec<String> {
    window["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_rename_list_and_delete() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let id = me.create("Roadmap").await;
    let version = me.version(id).await;
    let (status, renamed) = me
        .call(
            Method::PATCH,
            &format!("/api/v1/structures/{id}"),
            Some(json!({"name": "Roadmap 2027", "description": "next year", "based_on": version})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "Roadmap 2027");
    // A stale version is a clear conflict.
    let (status, problem) = me
        .call(
            Method::PATCH,
            &format!("/api/v1/structures/{id}"),
            Some(json!({"name": "Again", "based_on": version})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("reload"));
    let (_, list) = me.get("/api/v1/structures").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["level"], "control");
    let (status, _) = me
        .call(Method::DELETE, &format!("/api/v1/structures/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = me.get(&format!("/api/v1/structures/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn edits_undo_redo_history_and_restore() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let id = me.create("Plan").await;
    let path = format!("/api/v1/structures/{id}/edits");
    let v0 = me.version(id).await;
    // What the board's undo and redo buttons start from.
    let undo_redo =
        |structure: Value| [structure["can_undo"].clone(), structure["can_redo"].clone()];
    let described = format!("/api/v1/structures/{id}");
    assert_eq!(
        undo_redo(me.get(&described).await.1),
        [json!(false), json!(false)]
    );
    let (status, added) = me
        .post(
            &path,
            json!({"based_on": v0, "edit": {"op": "add", "at": {"under": {"parent": null, "at": "last"}},
                "rows": [{"depth": 0, "item": {"folder": "Q1"}}, {"depth": 1, "item": {"memo": "kick-off"}},
                         {"depth": 0, "item": {"folder": "Q2"}}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let created: Vec<u64> = added["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(created.len(), 3);
    assert_eq!(titles(&me.rows(id, None).await), ["Q1", "kick-off", "Q2"]);

    // A move based on the old version still merges (position-based).
    let (status, moved) = me
        .post(&path, json!({"based_on": v0, "edit": {"op": "move", "rows": [created[2]], "to": {"before": created[0]}}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["merged"], true);
    assert_eq!(titles(&me.rows(id, None).await), ["Q2", "Q1", "kick-off"]);

    // Undo, redo.
    let (status, undone) = me
        .post(&format!("/api/v1/structures/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(titles(&me.rows(id, None).await), ["Q1", "kick-off", "Q2"]);
    assert_eq!(
        undo_redo(me.get(&described).await.1),
        [json!(true), json!(true)]
    );
    let (status, _) = me
        .post(&format!("/api/v1/structures/{id}/redo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(titles(&me.rows(id, None).await), ["Q2", "Q1", "kick-off"]);

    // Removing a row someone's stale edit names is a conflict that says what happened.
    let current = me.version(id).await;
    me.post(
        &path,
        json!({"based_on": current, "edit": {"op": "remove", "rows": [created[1]]}}),
    )
    .await;
    let (status, conflict) = me
        .post(&path, json!({"based_on": current, "edit": {"op": "move", "rows": [created[1]], "to": {"after": created[2]}}}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert!(
        conflict["detail"].as_str().unwrap().contains("removed"),
        "{conflict}"
    );

    // History lists every change; restoring the first version brings its rows back as a new change.
    let (status, history) = me.get(&format!("/api/v1/structures/{id}/history")).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(actions, ["edit", "edit", "undo", "redo", "edit"]);
    // Each says what was done: the kind of edit and how many rows, or which version was undone or redone.
    let described: Vec<Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["action"].is_string())
        .map(|h| json!([h["edit"], h["rows"], h["of_version"]]))
        .collect();
    // Every change is signed with the name Jira gives its author (the reader's own here).
    let (_, session) = me.get("/api/v1/session").await;
    assert!(session["display_name"].is_string(), "{session}");
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["actor_name"] == session["display_name"]),
        "{history}"
    );
    let moved_in = moved["version"].clone();
    assert_eq!(
        described,
        [
            json!(["add", 3, null]),
            json!(["move", 1, null]),
            json!([null, null, moved_in]),
            json!([null, null, undone["version"]]),
            json!(["remove", 1, null]),
        ]
    );
    let first = history
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "edit")
        .unwrap()["version"]
        .as_u64()
        .unwrap();
    let (status, restored) = me
        .post(
            &format!("/api/v1/structures/{id}/restore"),
            json!({"version": first}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(titles(&me.rows(id, None).await), ["Q1", "kick-off", "Q2"]);
    app.stop().await;
}

#[tokio::test]
async fn generators_fill_the_forest_and_totals_count_only_visible_rows() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let id = admin.create("Everything").await;
    epics_with_children(&admin, id, "issuetype = Epic ORDER BY key").await;
    admin.share_with_everyone(id, "view").await;
    let columns = json!([
        {"kind": "field", "field": "status"},
        {"kind": "totals", "function": "count", "field": "summary", "scope": "all", "with_duplicates": false}
    ]);
    let seen_by_admin = admin.rows(id, Some(columns.clone())).await;
    let seen_by_dev = dev.rows(id, Some(columns.clone())).await;
    let admin_rows = seen_by_admin["visible_rows"].as_u64().unwrap();
    let dev_rows = seen_by_dev["visible_rows"].as_u64().unwrap();
    assert!(admin_rows > 0);
    assert!(
        dev_rows < admin_rows,
        "dev sees {dev_rows}, admin {admin_rows}"
    );
    // Generated rows come from searches as each person: nothing is hidden, there is simply less.
    assert_eq!(seen_by_dev["hidden"], 0);
    // A manual row of an issue only the admin may see is withheld from dev, and counted.
    let ids = |w: &Value| -> Vec<u64> {
        w["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["issue_id"].as_u64())
            .collect()
    };
    let dev_ids = ids(&seen_by_dev);
    let secret = ids(&seen_by_admin)
        .into_iter()
        .find(|i| !dev_ids.contains(i))
        .unwrap();
    let version = admin.version(id).await;
    let (status, body) = admin
        .post(&format!("/api/v1/structures/{id}/edits"), json!({"based_on": version,
            "edit": {"op": "add", "at": {"under": {"parent": null, "at": "first"}},
                     "rows": [{"depth": 0, "item": {"folder": "Secret"}}, {"depth": 1, "item": {"issue": secret}}]}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen_by_dev = dev.rows(id, Some(columns.clone())).await;
    let seen_by_admin = admin.rows(id, Some(columns)).await;
    assert_eq!(seen_by_dev["hidden"], 1);
    assert!(!ids(&seen_by_dev).contains(&secret));
    assert!(!seen_by_dev.to_string().contains(&format!("\"{secret}\"")));
    assert_eq!(seen_by_admin["hidden"], 0);
    assert!(ids(&seen_by_admin).contains(&secret));
    // Totals over the whole forest match what each person sees: the top-level COUNT sums are row counts.
    let top_count = |w: &Value| -> f64 {
        w["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["depth"] == 0)
            .map(|r| r["cells"][1]["number"].as_f64().unwrap_or(0.0))
            .sum()
    };
    assert!(top_count(&seen_by_dev) <= dev_rows as f64);
    assert!(top_count(&seen_by_dev) < top_count(&seen_by_admin));
    // Freshness and generator costs come with every window.
    assert!(seen_by_admin["freshness"]["data_age_ms"].is_u64());
    assert_eq!(seen_by_admin["generators"].as_array().unwrap().len(), 2);
    // A viewer cannot add generators.
    let (status, problem) = dev
        .post(&format!("/api/v1/structures/{id}/generators"),
            json!({"config": {"kind": "remove_duplicates"}, "at": {"under": {"parent": null, "at": "last"}}, "based_on": version + 1}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn views_and_exports() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let id = me.create("Export <me>").await;
    me.add_generator(
        id,
        json!({"kind": "insert_jql", "jql": "issuetype = Epic ORDER BY key"}),
    )
    .await;
    let (status, view) = me
        .post(
            &format!("/api/v1/structures/{id}/views"),
            json!({"name": "Status", "columns": [{"kind": "field", "field": "status"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let (status, problem) = me
        .post(
            &format!("/api/v1/structures/{id}/views"),
            json!({"name": "Broken", "columns": [{"kind": "formula", "formula": "1 +"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("columns[0]") && detail.contains("line 1, column 4"),
        "{problem}"
    );

    for (format, kind) in [
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats"),
        ("json", "application/json"),
    ] {
        let response = me
            .http
            .get(me.url(&format!(
                "/api/v1/structures/{id}/export?format={format}&view={}",
                view["id"]
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{format}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains(&format!("Export__me_.{format}"))
        );
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.len() > 20, "{format}");
    }
    // The JSON export lists generators in the order of their ids, so exports of one version are alike.
    for _ in 0..4 {
        me.add_generator(id, json!({"kind": "remove_duplicates"}))
            .await;
    }
    let (status, exported) = me
        .get(&format!("/api/v1/structures/{id}/export?format=json"))
        .await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    let generator_ids: Vec<u64> = exported["generators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_u64().unwrap())
        .collect();
    assert_eq!(generator_ids.len(), 5);
    assert!(
        generator_ids.is_sorted(),
        "generators out of order: {generator_ids:?}"
    );
    let (status, problem) = me
        .get(&format!("/api/v1/structures/{id}/export?format=pdf"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("csv, xlsx or json")
    );
    app.stop().await;
}

#[tokio::test]
async fn windows_follow_the_expansion_and_cells_say_only_what_they_have() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let id = admin.create("Epics and stories").await;
    epics_with_children(&admin, id, "issuetype in (Epic, Story) ORDER BY key").await;
    let columns = json!([{"kind": "field", "field": "status"}, {"kind": "field", "field": "issuetype"},
        {"kind": "field", "field": "project"}]);
    let window = |expand: Value, offset: u64, limit: u64| {
        let body = json!({"columns": columns, "expand": expand, "offset": offset, "limit": limit});
        let admin = &admin;
        async move {
            let (status, window) = admin
                .post(&format!("/api/v1/structures/{id}/rows"), body)
                .await;
            assert_eq!(status, StatusCode::OK, "{window}");
            window
        }
    };
    let all = window(json!({"depth": 100}), 0, 2000).await;
    let all_rows = all["rows"].as_array().unwrap().clone();
    // Columns are titled with the site's field names.
    assert_eq!(all["columns"], json!(["Status", "Issue Type", "Project"]));
    assert_eq!(all["total"], all_rows.len());
    assert!(
        all_rows.len() > 300,
        "{} rows: too few to cross a block",
        all_rows.len()
    );
    // Any slice of the fully expanded forest is the same rows, whichever block they were serialised in.
    for offset in [0, 1, 255, 256, 257, all_rows.len() as u64 - 3] {
        let part = window(json!({"depth": 100}), offset, 5).await;
        let expected: Vec<Value> = all_rows
            .iter()
            .skip(offset as usize)
            .take(5)
            .cloned()
            .collect();
        assert_eq!(
            part["rows"].as_array().unwrap(),
            &expected,
            "offset {offset}"
        );
    }
    for row in &all_rows {
        // Fully expanded: every row with rows below it says so, and rows without say neither.
        assert_eq!(row["expanded"], row["has_children"], "{row}");
        assert!(
            row["has_children"] == true || row.get("has_children").is_none(),
            "{row}"
        );
        // A status carries its category; an issue type, or a project (whose key is no category), is text.
        assert!(row["cells"][0]["category"].is_string(), "{row}");
        assert!(row["cells"][1].is_string(), "{row}");
        assert!(row["cells"][2].is_string(), "{row}");
    }
    // Only the top level (no row shallower than depth 0 is expanded): every row collapsed.
    let top = window(json!({"depth": 0}), 0, 2000).await;
    let top_rows = top["rows"].as_array().unwrap();
    assert!(
        top_rows
            .iter()
            .all(|r| r["depth"] == 0 && r["expanded"] != true)
    );
    assert_eq!(top["total"], top_rows.len());
    // One epic opened: it is marked expanded and its children follow it.
    let epic = top_rows
        .iter()
        .position(|r| r["has_children"] == true)
        .unwrap();
    let key = top_rows[epic]["key"].as_str().unwrap().to_owned();
    let opened = window(json!({"depth": 0, "open": [key]}), 0, 2000).await;
    let opened_rows = opened["rows"].as_array().unwrap();
    assert_eq!(opened_rows[epic]["expanded"], true);
    assert_eq!(opened_rows[epic + 1]["depth"], 1);
    assert!(opened["total"].as_u64() > top["total"].as_u64());
    // Everything open but that epic closed: it is not expanded, and none of its rows is shown.
    let closed = window(json!({"depth": 100, "closed": [key]}), 0, 2000).await;
    let closed_rows = closed["rows"].as_array().unwrap();
    let at = closed_rows.iter().position(|r| r["key"] == key).unwrap();
    assert_eq!(closed_rows[at]["expanded"], false);
    assert!(closed_rows.get(at + 1).is_none_or(|r| r["depth"] == 0));
    app.stop().await;
}

/// Every row with rows below it says how many (its whole subtree, however it is expanded), so that the board
/// can say how many rows a removal takes with it; the count holds across the server's blocks of 256 rows,
/// where subtrees open at a block's end are measured past it.
#[tokio::test]
async fn rows_say_how_many_rows_are_below_them() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let id = admin.create("Deep").await;
    let mut rows = vec![
        json!({"depth": 0, "item": {"folder": "Root"}}),
        json!({"depth": 1, "item": {"folder": "A"}}),
    ];
    rows.extend((0..300).map(|n| json!({"depth": 2, "item": {"memo": format!("note {n}")}})));
    rows.extend([
        json!({"depth": 1, "item": {"folder": "B"}}),
        json!({"depth": 2, "item": {"folder": "b1"}}),
        json!({"depth": 3, "item": {"memo": "b1a"}}),
        json!({"depth": 0, "item": {"folder": "C"}}),
    ]);
    let (status, body) = admin
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "first"}}, "rows": rows}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let window = |expand: Value, offset: u64, limit: u64| {
        let body = json!({"expand": expand, "offset": offset, "limit": limit});
        let admin = &admin;
        async move {
            let (status, window) = admin
                .post(&format!("/api/v1/structures/{id}/rows"), body)
                .await;
            assert_eq!(status, StatusCode::OK, "{window}");
            window["rows"].as_array().unwrap().clone()
        }
    };
    let below = |rows: &[Value], title: &str| {
        rows.iter()
            .find(|r| r["title"] == title)
            .map(|r| r["rows_below"].clone())
    };
    // Collapsed to the top level: each row still counts everything under it.
    let top = window(json!({"depth": 0}), 0, 10).await;
    assert_eq!(below(&top, "Root"), Some(json!(304)));
    assert_eq!(below(&top, "C"), Some(Value::Null));
    // Fully expanded, the first block alone (Root and A are open at its end), then a window across blocks.
    let first = window(json!({"depth": 100}), 0, 5).await;
    assert_eq!(below(&first, "Root"), Some(json!(304)));
    assert_eq!(below(&first, "A"), Some(json!(300)));
    let all = window(json!({"depth": 100}), 0, 2000).await;
    assert_eq!(all.len(), 306);
    assert_eq!(below(&all, "B"), Some(json!(2)));
    assert_eq!(below(&all, "b1"), Some(json!(1)));
    for (at, row) in all.iter().enumerate() {
        let depth = row["depth"].as_u64().unwrap();
        let subtree = all[at + 1..]
            .iter()
            .take_while(|r| r["depth"].as_u64().unwrap() > depth)
            .count();
        let expected = if subtree == 0 {
            Value::Null
        } else {
            json!(subtree)
        };
        assert_eq!(row["rows_below"], expected, "{row}");
    }
    app.stop().await;
}

/// A simulated site of 3000 issues, and a structure of about 1700 stored issue rows on it shared with everyone:
/// first an issue dev may not see, with the first epic and everything below it under it, then the other epics
/// with theirs. Returns the app, the admin, dev, the structure and the withheld issue's id.
async fn large_stored_structure(
    tweak: impl FnOnce(&mut ServerConfig),
) -> (App, Browser, Browser, u64, Value) {
    let app = spawn_with(
        1,
        |sim| {
            sim.data = DataSource::Synthetic {
                issues: 3000,
                seed: 11,
            }
        },
        tweak,
    )
    .await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    // Searches bring their issues' fields along: a structure of stored rows is the one whose issues are read
    // apart, by their ids. These are the rows of a generated one.
    let generated = admin.create("Everything").await;
    epics_with_children(&admin, generated, "issuetype = Epic ORDER BY key").await;
    admin.share_with_everyone(generated, "view").await;
    let everything = admin.rows(generated, None).await;
    let seen_by_dev = dev.rows(generated, None).await;
    let everything = everything["rows"].as_array().unwrap();
    let secret = everything
        .iter()
        .map(|r| r["issue_id"].clone())
        .find(|i| {
            !seen_by_dev["rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| &r["issue_id"] == i)
        })
        .unwrap();
    let first_epic_ends = everything[1..]
        .iter()
        .position(|r| r["depth"] == 0)
        .unwrap()
        + 1;
    let rows: Vec<Value> = std::iter::once(json!({"depth": 0, "item": {"issue": secret}}))
        .chain(everything.iter().enumerate().map(|(i, r)| {
            let below_secret = u64::from(i < first_epic_ends);
            json!({"depth": r["depth"].as_u64().unwrap() + below_secret, "item": {"issue": r["issue_id"]}})
        }))
        .collect();
    let id = admin.create("Everything, stored").await;
    let version = admin.version(id).await;
    let (status, body) = admin
        .post(
            &format!("/api/v1/structures/{id}/edits"),
            json!({"based_on": version,
            "edit": {"op": "add", "at": {"under": {"parent": null, "at": "first"}}, "rows": rows}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    admin.share_with_everyone(id, "view").await;
    (app, admin, dev, id, secret)
}

#[tokio::test]
async fn a_large_structure_first_answers_with_the_rows_whose_issues_are_read() {
    let (app, admin, dev, id, secret) = large_stored_structure(|_| {}).await;
    let columns = json!([
        {"kind": "field", "field": "status"},
        {"kind": "totals", "function": "count", "field": "summary", "scope": "all", "with_duplicates": false}
    ]);
    // A window ending just above a row at depth 1: the row after it (read with it) has a parent in it.
    let limit = {
        let listing = admin.rows(id, None).await;
        let rows = listing["rows"].as_array().unwrap();
        (20..rows.len()).find(|&k| rows[k]["depth"] == 1).unwrap()
    };
    let window = |who: &Browser, depth: u64, offset: usize, limit: usize| {
        let body = json!({"columns": columns, "expand": {"depth": depth}, "offset": offset, "limit": limit});
        let who = who.clone();
        async move {
            let (status, window) = who
                .post(&format!("/api/v1/structures/{id}/rows"), body)
                .await;
            assert_eq!(status, StatusCode::OK, "{window}");
            window
        }
    };
    let count = |w: &Value, field: &str| w[field].as_u64().unwrap();
    let mut pending = 0;
    let cases = [
        (&admin, true, 100, 0),
        (&dev, false, 100, 0),
        (&dev, false, 1, 0),
        (&admin, true, 100, 5),
    ];
    for (who, sees_everything, depth, offset) in cases {
        // Read before, then forgotten: the first answer reads from Jira again.
        who.rows(id, Some(columns.clone())).await;
        let (status, _) = who
            .post(&format!("/api/v1/structures/{id}/refresh"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let first = window(who, depth, offset, limit).await;
        // With the row after the window.
        let whole = window(who, depth, offset, limit + 1).await;
        assert_eq!(first["loading"], true, "{first}");
        assert!(whole.get("loading").is_none(), "{whole}");
        assert!(
            count(&whole, "visible_rows") > 1000,
            "{} rows: too few to be answered early",
            whole["visible_rows"]
        );
        assert!(
            first["freshness"]["jira_requests"].as_u64()
                < whole["freshness"]["jira_requests"].as_u64(),
            "{} then {}",
            first["freshness"],
            whole["freshness"]
        );
        // Of what is withheld, the first answer tells nothing: every row counts as shown, none as hidden.
        assert_eq!(count(&first, "hidden"), 0);
        assert_eq!(
            count(&first, "total"),
            count(&whole, "visible_rows") + count(&whole, "hidden")
        );
        assert_eq!(first["visible_rows"], first["total"]);
        assert_eq!(count(&whole, "hidden") == 0, sees_everything);
        let first_rows = first["rows"].as_array().unwrap();
        let whole_rows = whole["rows"].as_array().unwrap();
        assert_eq!(first_rows.len(), limit);
        assert_eq!(whole_rows.len(), limit + 1);
        assert_eq!(
            first_rows.iter().any(|r| r["issue_id"] == secret),
            sees_everything
        );
        // Where each row's subtree ends among the rows shown (a collapsed row's end is the next row).
        let end = |i: usize| {
            (i + 1..whole_rows.len())
                .find(|&j| whole_rows[j]["depth"].as_u64() <= whole_rows[i]["depth"].as_u64())
                .unwrap_or(whole_rows.len())
        };
        for (i, (early, late)) in first_rows.iter().zip(whole_rows).enumerate() {
            // The same rows; totals, and how many rows are below, wait where rows below are not all read, and
            // only there.
            let without_totals = |row: &Value| {
                let mut row = row.clone();
                row["cells"][1] = Value::Null;
                if let Some(row) = row.as_object_mut() {
                    row.remove("rows_below");
                }
                row
            };
            assert_eq!(without_totals(early), without_totals(late));
            let waits = end(i) > limit;
            if waits {
                pending += 1;
                assert_eq!(early["cells"][1], json!({"text": "…", "pending": true}));
                assert_eq!(early.get("rows_below"), None, "row {i}");
            } else {
                assert_eq!(early, late, "row {i}");
            }
        }
    }
    // The admin's first window ends above a row at depth 1: its parent, at least, waited.
    assert!(pending > 0);
    app.stop().await;
}

#[tokio::test]
async fn refresh_now_reads_everything_behind_the_structure_again() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let id = me.create("Fresh").await;
    epics_with_children(&me, id, "issuetype = Epic ORDER BY key").await;
    // A filter reads issues it then leaves out: their data is behind the structure too.
    me.add_generator(id, json!({"kind": "filter_jql", "jql": "status != Done"}))
        .await;
    let first = me.rows(id, None).await;
    assert!(
        first["freshness"]["jira_requests"].as_u64() > Some(0),
        "{first}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, _) = me
        .post(&format!("/api/v1/structures/{id}/refresh"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let again = me.rows(id, None).await;
    let freshness = &again["freshness"];
    assert!(freshness["jira_requests"].as_u64() > Some(0), "{freshness}");
    assert!(
        freshness["data_age_ms"].as_u64() < Some(1000),
        "{freshness}"
    );
    app.stop().await;
}
