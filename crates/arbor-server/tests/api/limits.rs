//! What people may store is limited, checked before any work is done, and refused with a problem that names
//! the limit and its value (`budget.rs`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Calls, spawn_sites};

fn refused_by(answer: (StatusCode, Value), limit: &str, value: u64) {
    let (status, body) = answer;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["type"], "/problems/limit-exceeded", "{body}");
    assert_eq!(body["limit"], limit, "{body}");
    assert_eq!(body["value"], value, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(limit) && detail.contains(&value.to_string()),
        "{detail}"
    );
}

fn folders(n: usize) -> Value {
    let rows: Vec<Value> = (0..n)
        .map(|i| json!({"depth": 0, "item": {"folder": format!("f{i}")}}))
        .collect();
    json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}}, "rows": rows})
}

#[tokio::test]
async fn copies_into_their_own_subtree_stop_at_the_row_limits() {
    let app = spawn_sites(1, |config| {
        config.content.rows_per_structure = 40;
        config.content.rows_per_edit = 20;
    })
    .await;
    let me = app.sign_in("admin").await;
    let id = me.create("Doubling").await;
    let (status, body) = me.edit(id, json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
        "rows": [{"depth": 0, "item": {"folder": "root"}}, {"depth": 1, "item": {"folder": "leaf"}}]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let root = body["created"][0].as_u64().unwrap();
    let copy =
        json!({"op": "copy", "rows": [root], "to": {"under": {"parent": root, "at": "last"}}});
    // 2 → 4 → 8 → 16 → 32 rows: each copy doubles the structure.
    for _ in 0..4 {
        let (status, body) = me.edit(id, copy.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let rows = || async { me.rows(id, None).await["visible_rows"].as_u64().unwrap() };
    assert_eq!(rows().await, 32);
    refused_by(me.edit(id, copy.clone()).await, "limits.rows_per_edit", 20);
    refused_by(
        me.edit(id, folders(9)).await,
        "limits.rows_per_structure",
        40,
    );
    assert_eq!(rows().await, 32, "refused edits change nothing");
    let (status, body) = me.edit(id, folders(8)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A generator's row is a stored row too.
    refused_by(
        me.post(
            &format!("/api/v1/structures/{id}/generators"),
            json!({"config": {"kind": "insert_jql", "jql": "project = CORE"},
                   "at": {"under": {"parent": null, "at": "last"}}, "based_on": me.version(id).await}),
        )
        .await,
        "limits.rows_per_structure",
        40,
    );
    app.stop().await;
}

#[tokio::test]
async fn generators_views_and_structures_are_counted() {
    let app = spawn_sites(1, |config| {
        config.content.generators_per_structure = 2;
        config.content.views_per_structure = 1;
        config.content.structures_per_person = 2;
    })
    .await;
    let me = app.sign_in("admin").await;
    let id = me.create("One").await;
    for jql in ["project = CORE", "project = WEB"] {
        me.add_generator(id, json!({"kind": "insert_jql", "jql": jql}))
            .await;
    }
    refused_by(
        me.post(
            &format!("/api/v1/structures/{id}/generators"),
            json!({"config": {"kind": "insert_jql", "jql": "project = MOB"},
                   "at": {"under": {"parent": null, "at": "last"}}, "based_on": me.version(id).await}),
        )
        .await,
        "limits.generators_per_structure",
        2,
    );
    let view = json!({"name": "Mine", "columns": [{"kind": "field", "field": "status"}]});
    let (status, body) = me
        .post(&format!("/api/v1/structures/{id}/views"), view.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    refused_by(
        me.post(&format!("/api/v1/structures/{id}/views"), view)
            .await,
        "limits.views_per_structure",
        1,
    );
    me.create("Two").await;
    refused_by(
        me.post("/api/v1/structures", json!({"name": "Three"}))
            .await,
        "limits.structures_per_person",
        2,
    );
    // The limit is per person.
    let dev = app.sign_in("dev").await;
    dev.create("Dev's").await;
    app.stop().await;
}

#[tokio::test]
async fn a_tenant_at_its_storage_budget_stores_no_more_but_may_remove() {
    let app = spawn_sites(1, |config| {
        config.content.tenant_storage_bytes = 20_000;
    })
    .await;
    let me = app.sign_in("admin").await;
    let id = me.create("Big").await;
    let (status, body) = me.edit(id, folders(2000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The usage measured before that edit is believed for a few seconds.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    refused_by(
        me.edit(id, folders(1)).await,
        "limits.tenant_storage_bytes",
        20_000,
    );
    refused_by(
        me.post("/api/v1/structures", json!({"name": "More"})).await,
        "limits.tenant_storage_bytes",
        20_000,
    );
    refused_by(
        me.call(
            reqwest::Method::PATCH,
            &format!("/api/v1/structures/{id}"),
            Some(json!({"description": "longer and longer", "based_on": me.version(id).await})),
        )
        .await,
        "limits.tenant_storage_bytes",
        20_000,
    );
    let first = me.rows(id, None).await["rows"][0]["row"].as_u64().unwrap();
    let (status, body) = me.edit(id, json!({"op": "remove", "rows": [first]})).await;
    assert_eq!(status, StatusCode::OK, "removing is never refused: {body}");
    app.stop().await;
}
