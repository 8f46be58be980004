//! What editors ask while people type: checks that point at errors, and the site's metadata.

use reqwest::StatusCode;
use serde_json::json;

use arbor_server::testing::Browser;

use crate::{App, Calls, spawn};

#[tokio::test]
async fn checks_point_at_the_error_and_metadata_lists_the_site() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let (status, ok) = me
        .post(
            "/api/v1/check/jql",
            json!({"text": "project = CORE AND status = Done"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(ok, json!({"valid": true}));
    let (_, bad) = me
        .post(
            "/api/v1/check/jql",
            json!({"text": "project = TIDEV AND\n  status = = Done"}),
        )
        .await;
    assert_eq!(bad["valid"], false);
    assert_eq!(
        (bad["line"].as_u64(), bad["column"].as_u64()),
        (Some(2), Some(12)),
        "{bad}"
    );
    let (_, bad) = me
        .post(
            "/api/v1/check/formula",
            json!({"text": "story_points * (2 +"}),
        )
        .await;
    assert_eq!(bad["valid"], false);
    assert_eq!(bad["line"], 1, "{bad}");
    assert!(bad["message"].as_str().unwrap().len() > 5, "{bad}");
    let (_, ok) = me
        .post(
            "/api/v1/check/formula",
            json!({"text": "SUM { story_points }"}),
        )
        .await;
    assert_eq!(ok["valid"], true, "{ok}");
    for kind in ["fields", "issue-types", "link-types", "statuses"] {
        let (status, list) = me.get(&format!("/api/v1/jira/{kind}")).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {list}");
        let list = list.as_array().unwrap();
        assert!(!list.is_empty(), "{kind}");
        assert!(
            list.iter()
                .all(|n| n["id"].is_string() && n["name"].is_string())
        );
    }
    let (_, links) = me.get("/api/v1/jira/link-types").await;
    assert!(
        links
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["outward"] == "blocks"),
        "{links}"
    );
    let (status, _) = me.get("/api/v1/jira/projects-and-secrets").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A generator with a query that does not parse is refused the same way, pointing into the query.
    let id = me.create("Bad query").await;
    let (status, problem) = me
        .post(&format!("/api/v1/structures/{id}/generators"),
            json!({"config": {"kind": "insert_jql", "jql": "project = = X"}, "at": {"under": {"parent": null, "at": "last"}}, "based_on": me.version(id).await}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("line 1, character 11"), "{detail}");
    // Issue ids by key, as each person may see them.
    let (open, secret) = app.sims[0].handle().with_site(|site| {
        let dev = site.person_by_name("dev").unwrap();
        let find = |visible: bool| {
            (0..site.issues.len())
                .map(|i| u32::try_from(i).unwrap())
                .find(|&i| site.can_browse(dev, i) == visible)
                .map(|i| (site.issue(i).key.to_string(), site.issue(i).id))
                .unwrap()
        };
        (find(true), find(false))
    });
    let dev = app.sign_in("dev").await;
    let path = format!(
        "/api/v1/jira/issue-ids?keys={},{}, nope-1 ,{}",
        open.0,
        secret.0,
        open.0.to_lowercase()
    );
    let (status, seen) = dev.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["ids"], json!({ open.0.clone(): open.1 }), "{seen}");
    assert_eq!(
        seen["missing"],
        json!(["NOPE-1", secret.0.clone()]),
        "{seen}"
    );
    let (_, seen) = me.get(&path).await;
    assert_eq!(seen["ids"][&secret.0], secret.1, "{seen}");
    let (status, problem) = dev
        .get("/api/v1/jira/issue-ids?keys=A-1,../../myself")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    // Without a session, nothing is checked.
    let (status, _) = app
        .client()
        .post(format!("{}/api/v1/check/jql", app.base))
        .json(&json!({"text": "x"}))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn fifty_keys_cost_one_jira_call_cached_for_each_person_alone() {
    let app = spawn().await;
    let (admin, dev) = (app.sign_in("admin").await, app.sign_in("dev").await);
    // 49 keys dev may see and one dev may not.
    let (open, secret) = app.sims[0].handle().with_site(|site| {
        let person = site.person_by_name("dev").unwrap();
        let keys = |visible: bool| -> Vec<(String, u64)> {
            (0..site.issues.len())
                .map(|i| u32::try_from(i).unwrap())
                .filter(|&i| site.can_browse(person, i) == visible)
                .map(|i| (site.issue(i).key.to_string(), site.issue(i).id))
                .collect()
        };
        (keys(true), keys(false))
    });
    let (open, secret) = (&open[..49], &secret[0]);
    let keys: Vec<&str> = open
        .iter()
        .chain([secret])
        .map(|(key, _)| key.as_str())
        .collect();
    let path = format!("/api/v1/jira/issue-ids?keys={}", keys.join(","));
    let (found, spent) = lookup(&app, &admin, &path).await;
    assert_eq!(spent, 1, "one Jira call for 50 keys");
    assert_eq!(found["ids"].as_object().unwrap().len(), 50, "{found}");
    assert_eq!(found["ids"][&secret.0], secret.1);
    // Another person sees less: their own call, and not what Jira showed the first.
    let (found, spent) = lookup(&app, &dev, &path).await;
    assert_eq!(spent, 1, "not answered from another person's lookup");
    let expected: serde_json::Map<String, serde_json::Value> = open
        .iter()
        .map(|(key, id)| (key.clone(), json!(id)))
        .collect();
    assert_eq!(found["ids"], json!(expected));
    assert_eq!(found["missing"], json!([secret.0]));
    // Asked again: from their cache, no call.
    for (who, shown) in [(&admin, 50), (&dev, 49)] {
        let (again, spent) = lookup(&app, who, &path).await;
        assert_eq!(spent, 0, "cached for {}", who.account);
        assert_eq!(again["ids"].as_object().unwrap().len(), shown, "{again}");
    }
    app.stop().await;
}

/// Issue ids by key as `who`, with the Jira calls the lookup made.
async fn lookup(app: &App, who: &Browser, path: &str) -> (serde_json::Value, u64) {
    let calls = || {
        app.sims[0].handle().stats()["people"][who.account.as_str()]["requests"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = calls();
    let (status, found) = who.get(path).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    (found, calls() - before)
}

/// The titles of a window's group headers.
fn group_headers(window: &serde_json::Value) -> Vec<String> {
    window["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "group")
        .map(|r| r["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn jql_is_checked_by_jira_as_the_person() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let check = |me: &Browser, text: &'static str| {
        let me = me.clone();
        async move {
            let (status, checked) = me.post("/api/v1/check/jql", json!({ "text": text })).await;
            assert_eq!(status, StatusCode::OK, "{checked}");
            checked
        }
    };
    // A project that does not exist is not "valid": Jira's warning says why.
    let nope = check(&admin, "project = NOPE AND issuetype = Epic").await;
    let warning = "The value 'NOPE' does not exist for the field 'project'.";
    assert_eq!(nope["valid"], false, "{nope}");
    assert_eq!(nope["warnings"], json!([warning]), "{nope}");
    assert_eq!(nope["message"], warning, "{nope}");
    assert!(
        nope.get("line").is_none(),
        "Jira does not say where: {nope}"
    );
    let field = check(&admin, "foo = 1").await;
    assert_eq!(field["valid"], false, "{field}");
    assert_eq!(
        field["errors"],
        json!(["Field 'foo' does not exist or you do not have permission to view it."])
    );
    // As each person: dev may not browse OPS.
    assert_eq!(check(&admin, "project = OPS").await, json!({"valid": true}));
    let hidden = check(&dev, "project = OPS").await;
    assert_eq!(
        hidden["warnings"],
        json!(["The value 'OPS' does not exist for the field 'project'."])
    );
    // A syntax error is found here, with its place, without asking Jira.
    let syntax = check(&admin, "project = = NOPE").await;
    assert_eq!(
        (syntax["valid"].clone(), syntax["column"].clone()),
        (json!(false), json!(11))
    );
    assert!(syntax.get("warnings").is_none(), "{syntax}");

    // A generator with a query Jira refuses or warns about is refused, with Jira's words.
    let id = admin.create("Checked by Jira").await;
    for (config, expected) in [
        (
            json!({"kind": "insert_jql", "jql": "project = NOPE"}),
            warning,
        ),
        (
            json!({"kind": "filter_jql", "jql": "foo = 1"}),
            "Field 'foo' does not exist or you do not have permission to view it.",
        ),
    ] {
        let (status, problem) = admin
            .post(&format!("/api/v1/structures/{id}/generators"),
                json!({"config": config, "at": {"under": {"parent": null, "at": "last"}}, "based_on": admin.version(id).await}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{detail}");
    }
    let added = admin
        .add_generator(
            id,
            json!({"kind": "insert_jql", "jql": "project = CORE AND issuetype = Epic"}),
        )
        .await;
    // Changing it to such a query is refused too, and changes nothing.
    let (status, problem) = admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/structures/{id}/generators/{}", added["id"]),
            Some(json!({"config": {"kind": "insert_jql", "jql": "project = NOPE"}, "based_on": admin.version(id).await})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (_, generators) = admin
        .get(&format!("/api/v1/structures/{id}/generators"))
        .await;
    assert_eq!(
        generators[0]["config"]["jql"], "project = CORE AND issuetype = Epic",
        "{generators}"
    );
    app.stop().await;
}

#[tokio::test]
async fn group_and_sort_fields_are_named_by_name_and_stored_by_id() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let id = me.create("Grouped by name").await;
    me.add_generator(
        id,
        json!({"kind": "insert_jql", "jql": "project = CORE AND issuetype = Epic"}),
    )
    .await;
    // A typo is refused, naming what was probably meant.
    let (status, problem) = me
        .post(&format!("/api/v1/structures/{id}/generators"),
            json!({"config": {"kind": "group_by_field", "field": "Stauts"}, "at": {"under": {"parent": null, "at": "last"}}, "based_on": me.version(id).await}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(
        problem["detail"], "no field named 'Stauts'; did you mean 'Status'?",
        "{problem}"
    );
    me.add_generator(id, json!({"kind": "group_by_field", "field": "Status"}))
        .await;
    me.add_generator(
        id,
        json!({"kind": "sort_by_field", "field": "story POINT estimate", "descending": true}),
    )
    .await;
    let (_, generators) = me.get(&format!("/api/v1/structures/{id}/generators")).await;
    assert_eq!(generators[1]["config"]["field"], "status", "{generators}");
    assert_eq!(
        generators[2]["config"]["field"], "customfield_10016",
        "{generators}"
    );
    assert_eq!(generators[1]["description"], "Groups by Status");
    // The epics are grouped by their statuses, not all under "No Status".
    let window = me.rows(id, None).await;
    let headers = group_headers(&window);
    let statuses = ["Backlog", "To Do", "In Progress", "In Review", "Done"];
    assert!(
        !headers.is_empty() && headers.iter().all(|h| statuses.contains(&h.as_str())),
        "{headers:?}"
    );
    app.stop().await;
}
