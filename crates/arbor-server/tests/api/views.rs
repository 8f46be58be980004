//! Views have owners: a view is personal (its owner's alone) or shared (everyone who may view the structure);
//! a shared view changes only by its owner or someone with Control, and anyone may save a copy of their own.
//! Owners are named as Jira names them to the reader, in the views and in the list of structures.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Calls, spawn};

fn planning() -> Value {
    json!({"name": "Planning", "shared": true, "columns": [
        {"kind": "field", "field": "status"}, {"kind": "field", "field": "assignee"}]})
}

/// The views `who` sees, as `(name, owner_name, shared, can_change)`.
async fn seen(who: &arbor_server::testing::Browser, id: u64) -> Vec<Value> {
    let (status, views) = who.get(&format!("/api/v1/structures/{id}/views")).await;
    assert_eq!(status, StatusCode::OK, "{views}");
    views
        .as_array()
        .unwrap()
        .iter()
        .map(|v| json!([v["name"], v["owner_name"], v["shared"], v["can_change"]]))
        .collect()
}

async fn level(owner: &arbor_server::testing::Browser, id: u64, account: &str, level: &str) {
    let version = owner.version(id).await;
    let (status, body) = owner
        .call(
            Method::PUT,
            &format!("/api/v1/structures/{id}/permissions"),
            Some(json!({"rules": [{"grantee": {"kind": "person", "account_id": account}, "level": level}],
                "based_on": version})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_shared_view_changes_only_by_its_owner_or_control_and_anyone_may_save_a_copy() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let id = admin.create("Team board").await;
    level(&admin, id, &dev.account, "edit").await;
    let (status, view) = admin
        .post(&format!("/api/v1/structures/{id}/views"), planning())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(
        (
            &view["owner"],
            &view["owner_name"],
            &view["shared"],
            &view["can_change"]
        ),
        (
            &json!(admin.account),
            &json!("Ada Admin"),
            &json!(true),
            &json!(true)
        ),
        "{view}"
    );
    let planning_id = view["id"].as_u64().unwrap();
    let path = format!("/api/v1/structures/{id}/views/{planning_id}");

    // dev sees it, named, and is told it is not theirs to change.
    assert_eq!(
        seen(&dev, id).await,
        [json!(["Planning", "Ada Admin", true, false])]
    );
    let attempts = [
        (
            Method::PUT,
            Some(json!({"name": "Renamed", "columns": planning()["columns"]})),
        ),
        (
            Method::PUT,
            Some(json!({"name": "Planning", "columns": []})),
        ),
        (
            Method::PUT,
            Some(json!({"name": "Planning", "columns": planning()["columns"], "shared": false})),
        ),
        (Method::DELETE, None),
    ];
    for (method, body) in attempts {
        let (status, problem) = dev.call(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("shared by Ada Admin")
                && detail.contains("Control")
                && detail.contains("Save as my view"),
            "{detail}"
        );
        assert_eq!(problem["owner"], json!(admin.account), "{problem}");
    }
    // Nothing changed.
    assert_eq!(
        seen(&admin, id).await,
        [json!(["Planning", "Ada Admin", true, true])]
    );
    let (_, views) = admin.get(&format!("/api/v1/structures/{id}/views")).await;
    assert_eq!(views[0]["columns"], planning()["columns"]);

    // dev saves a copy of their own: personal, seen by dev alone.
    let (status, copy) = dev
        .post(
            &format!("/api/v1/structures/{id}/views"),
            json!({"name": "Planning (mine)", "columns": [{"kind": "field", "field": "status"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    assert_eq!(
        (&copy["owner"], &copy["shared"], &copy["can_change"]),
        (&json!(dev.account), &json!(false), &json!(true)),
        "{copy}"
    );
    let copy_id = copy["id"].as_u64().unwrap();
    assert_eq!(
        seen(&dev, id).await,
        [
            json!(["Planning", "Ada Admin", true, false]),
            json!(["Planning (mine)", "Devon Developer", false, true])
        ]
    );
    // Invisible to everyone else, even the structure's owner: not listed, not usable, not changeable.
    assert_eq!(seen(&admin, id).await.len(), 1);
    let copy_path = format!("/api/v1/structures/{id}/views/{copy_id}");
    let (status, _) = admin
        .post(
            &format!("/api/v1/structures/{id}/rows"),
            json!({"view": copy_id, "expand": {"depth": 1}, "limit": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .call(
            Method::PUT,
            &copy_path,
            Some(json!({"name": "x", "columns": []})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin.call(Method::DELETE, &copy_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, export) = admin
        .get(&format!("/api/v1/structures/{id}/export?format=json"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        export["views"].as_array().unwrap().len(),
        1,
        "{}",
        export["views"]
    );
    // dev uses and changes their own, and shares it (dev has Edit).
    let (status, window) = dev
        .post(
            &format!("/api/v1/structures/{id}/rows"),
            json!({"view": copy_id, "expand": {"depth": 1}, "limit": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{window}");
    let (status, changed) = dev
        .call(
            Method::PUT,
            &copy_path,
            Some(json!({"name": "Dev's planning", "columns": [], "shared": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["shared"], true);
    assert_eq!(
        seen(&admin, id).await,
        [
            json!(["Planning", "Ada Admin", true, true]),
            json!(["Dev's planning", "Devon Developer", true, true])
        ]
    );

    // The owner changes theirs; so does someone with Control, and the owner stays.
    let (status, body) = admin
        .call(
            Method::PUT,
            &path,
            Some(json!({"name": "Planning 2", "columns": planning()["columns"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    level(&admin, id, &dev.account, "control").await;
    let (status, body) = dev
        .call(
            Method::PUT,
            &path,
            Some(json!({"name": "Planning 3", "columns": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["owner"], &body["shared"], &body["can_change"]),
        (&json!(admin.account), &json!(true), &json!(true)),
        "{body}"
    );
    assert_eq!(
        seen(&admin, id).await[0],
        json!(["Planning 3", "Ada Admin", true, true])
    );
    let (status, _) = dev.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // The refusals were audited.
    let tenant = app.store.tenants().await.unwrap()[0].id;
    let audit = app.store.audit_entries(tenant, 0, 10_000).await.unwrap();
    let denied = audit
        .iter()
        .filter(|e| {
            e.entry.outcome == arbor_store::audit::Outcome::Denied
                && e.entry.action.starts_with("view.")
        })
        .count();
    assert_eq!(denied, 4);
    app.stop().await;
}

#[tokio::test]
async fn with_view_only_a_person_saves_personal_views_and_cannot_share_them() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let id = admin.create("Read only").await;
    level(&admin, id, &dev.account, "view").await;
    let views = format!("/api/v1/structures/{id}/views");
    let mine = json!({"name": "Mine", "columns": [{"kind": "field", "field": "status"}]});
    let (status, view) = dev.post(&views, mine.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["shared"], false);
    let mut shared = mine.clone();
    shared["shared"] = json!(true);
    let (status, problem) = dev.post(&views, shared.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("needs the Edit level"),
        "{problem}"
    );
    let (status, problem) = dev
        .call(
            Method::PUT,
            &format!("{views}/{}", view["id"]),
            Some(shared),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(seen(&admin, id).await.len(), 0);
    assert_eq!(seen(&dev, id).await.len(), 1);
    app.stop().await;
}

/// "Shared with me" names each owner as Jira names them to the reader; your own structures need no name.
#[tokio::test]
async fn the_structure_list_names_the_owners_of_structures_shared_with_you() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let id = admin.create("Ada's").await;
    dev.create("Devon's").await;
    level(&admin, id, &dev.account, "view").await;
    let (status, list) = dev.get("/api/v1/structures").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let shown: Vec<Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!([s["name"], s["shared_with_me"], s["owner_name"]]))
        .collect();
    assert_eq!(
        shown,
        [
            json!(["Ada's", true, "Ada Admin"]),
            json!(["Devon's", false, null])
        ]
    );
    app.stop().await;
}

/// Columns are titled with Jira's field names, also when they name a formula variable (`story_points`).
#[tokio::test]
async fn column_titles_use_jiras_field_names() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let id = admin.create("Titles").await;
    let columns = json!([
        {"kind": "totals", "function": "sum", "field": "story_points", "scope": "all", "with_duplicates": false},
        {"kind": "totals", "function": "max", "field": "customfield_10016", "scope": "all", "with_duplicates": false},
        {"kind": "field", "field": "issuetype"},
    ]);
    let window = admin.rows(id, Some(columns)).await;
    assert_eq!(
        window["columns"],
        json!([
            "Sum of Story point estimate",
            "Max of Story point estimate",
            "Issue Type"
        ])
    );
    // The field list says which formula variables read a field, so the board titles columns the same way.
    let (status, fields) = admin.get("/api/v1/jira/fields").await;
    assert_eq!(status, StatusCode::OK, "{fields}");
    let points = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "customfield_10016")
        .unwrap();
    assert_eq!(points["variables"], json!(["story_points"]), "{points}");
    app.stop().await;
}
