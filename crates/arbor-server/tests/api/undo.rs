//! Undo and redo through the API: they take back only the caller's own changes of this sign-in session, say
//! what they would do, leave a structure's set-up by the server alone, and survive a restart.

use std::sync::Arc;

use arbor_core::edit::NewRow;
use arbor_core::forest::Item;
use arbor_core::ids::{ActorId, FolderName};
use arbor_server::seed::{self, Blueprint};
use arbor_server::testing;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Browser, Calls, spawn};

fn titles(window: &Value) -> Vec<String> {
    window["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect()
}

/// What a structure's description or a change's answer says about Undo and Redo.
fn undo_redo(answer: &Value) -> Value {
    json!({
        "can_undo": answer["can_undo"],
        "undo": answer["undo_description"],
        "can_redo": answer["can_redo"],
        "redo": answer["redo_description"],
    })
}

fn offers(undo: Option<&str>, redo: Option<&str>) -> Value {
    json!({"can_undo": undo.is_some(), "undo": undo, "can_redo": redo.is_some(), "redo": redo})
}

async fn described(who: &Browser, id: u64) -> Value {
    let (status, structure) = who.get(&format!("/api/v1/structures/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{structure}");
    undo_redo(&structure)
}

async fn undo(who: &Browser, id: u64) -> (StatusCode, Value) {
    who.post(&format!("/api/v1/structures/{id}/undo"), json!({}))
        .await
}

async fn redo(who: &Browser, id: u64) -> (StatusCode, Value) {
    who.post(&format!("/api/v1/structures/{id}/redo"), json!({}))
        .await
}

fn folder(depth: u16, name: &str) -> NewRow {
    NewRow::new(depth, Item::Folder(FolderName::new(name).unwrap()))
}

#[tokio::test]
async fn nobody_can_undo_the_set_up_of_a_structure_the_server_made() {
    let app = spawn().await;
    let owner = app.sign_in("admin").await;
    let tenant = app.tenant_of(app.sims[0].base_url()).await;
    // As the demo's examples are made: for the owner, by the server.
    let id = seed::create(
        app.store.as_ref(),
        tenant,
        &Blueprint {
            name: "Example".into(),
            description: String::new(),
            owner: ActorId::new(&owner.account).unwrap(),
            generators: Vec::new(),
            rows: vec![folder(0, "Q1"), folder(1, "Kick-off"), folder(0, "Q2")],
            rules: Vec::new(),
            views: Vec::new(),
        },
    )
    .await
    .unwrap()
    .get();
    // Neither the owner's session that was open then nor a fresh one has anything to undo.
    let fresh = app.sign_in("admin").await;
    for who in [&owner, &fresh] {
        assert_eq!(described(who, id).await, offers(None, None));
        let (status, problem) = undo(who, id).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("this sign-in session") && detail.contains("History"),
            "{detail}"
        );
        let (status, _) = redo(who, id).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(titles(&who.rows(id, None).await), ["Q1", "Kick-off", "Q2"]);
    }
    // The set-up is reverted, like anything older than the session, by restoring a version.
    let (status, restored) = fresh
        .post(
            &format!("/api/v1/structures/{id}/restore"),
            json!({"version": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(
        undo_redo(&restored),
        offers(Some("restore version 0"), None)
    );
    assert!(titles(&fresh.rows(id, None).await).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_second_session_of_the_same_person_undoes_only_its_own_changes() {
    let app = spawn().await;
    let first = app.sign_in("admin").await;
    let second = app.sign_in("admin").await;
    assert_eq!(first.account, second.account);
    let id = first.create("Plan").await;
    let (status, added) = first
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
                "rows": [{"depth": 0, "item": {"folder": "Q1"}}, {"depth": 1, "item": {"memo": "kick-off"}},
                         {"depth": 0, "item": {"folder": "Q2"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(undo_redo(&added), offers(Some("add 3 rows"), None));
    let q1 = added["created"][0].as_u64().unwrap();

    // The same person in another session: the addition is not theirs to undo.
    assert_eq!(described(&second, id).await, offers(None, None));
    let (status, problem) = undo(&second, id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(
        titles(&second.rows(id, None).await),
        ["Q1", "kick-off", "Q2"]
    );

    // Their own removal is: the description counts the row below the removed one.
    let (status, removed) = second.edit(id, json!({"op": "remove", "rows": [q1]})).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(undo_redo(&removed), offers(Some("remove 2 rows"), None));
    // The first session's Undo still names its own addition, not the later removal.
    assert_eq!(
        described(&first, id).await,
        offers(Some("add 3 rows"), None)
    );

    let (status, undone) = undo(&second, id).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(undo_redo(&undone), offers(None, Some("remove 2 rows")));
    assert_eq!(
        titles(&second.rows(id, None).await),
        ["Q1", "kick-off", "Q2"]
    );
    assert_eq!(
        described(&first, id).await,
        offers(Some("add 3 rows"), None)
    );

    // The first session undoes its addition (merged into the changes made since), and redoes it.
    let (status, undone) = undo(&first, id).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(undo_redo(&undone), offers(None, Some("add 3 rows")));
    assert!(titles(&first.rows(id, None).await).is_empty());
    let (status, redone) = redo(&first, id).await;
    assert_eq!(status, StatusCode::OK, "{redone}");
    assert_eq!(undo_redo(&redone), offers(Some("add 3 rows"), None));
    assert_eq!(
        described(&second, id).await,
        offers(None, Some("remove 2 rows"))
    );
    app.stop().await;
}

#[tokio::test]
async fn undo_and_redo_say_what_they_would_do() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let id = me.create("Plan").await;
    let (_, added) = me
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
                "rows": [{"depth": 0, "item": {"folder": "A"}}, {"depth": 0, "item": {"folder": "B"}}]}),
        )
        .await;
    let (a, b) = (added["created"][0].clone(), added["created"][1].clone());
    let (status, moved) = me
        .edit(id, json!({"op": "move", "rows": [b], "to": {"before": a}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(undo_redo(&moved), offers(Some("move 1 row"), None));
    let (_, copied) = me
        .edit(id, json!({"op": "copy", "rows": [a], "to": {"after": a}}))
        .await;
    assert_eq!(undo_redo(&copied), offers(Some("copy 1 row"), None));
    // A generator is named as one.
    me.add_generator(id, json!({"kind": "insert_jql", "jql": "issuetype = Epic"}))
        .await;
    assert_eq!(
        described(&me, id).await,
        offers(Some("add 1 generator"), None)
    );
    let (_, undone) = undo(&me, id).await;
    assert_eq!(
        undo_redo(&undone),
        offers(Some("copy 1 row"), Some("add 1 generator"))
    );
    // A restore names the structure version it went back to (the one the history lists for those rows).
    let moved_in = moved["version"].as_u64().unwrap();
    let (status, restored) = me
        .post(
            &format!("/api/v1/structures/{id}/restore"),
            json!({"version": moved_in}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(
        undo_redo(&restored),
        offers(Some(&format!("restore version {moved_in}")), None)
    );
    // Undone and redone, a change is still named as it was made.
    undo(&me, id).await;
    let (_, redone) = redo(&me, id).await;
    assert_eq!(
        undo_redo(&redone),
        offers(Some(&format!("restore version {moved_in}")), None)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_sessions_undo_survives_a_restart() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let other = app.sign_in("admin").await;
    let id = me.create("Plan").await;
    let (status, _) = me
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
                "rows": [{"depth": 0, "item": {"folder": "A"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Another node reads the structure from storage alone, as this one would after a restart; the same
    // sessions (their cookies) go there.
    let (node, base, cert) = app.second_node().await;
    let there = |who: &Browser| Browser {
        http: testing::client(&cert, Arc::clone(&who.jar)).unwrap(),
        base: base.clone(),
        ..who.clone()
    };
    let (me_there, other_there) = (there(&me), there(&other));
    assert_eq!(described(&other_there, id).await, offers(None, None));
    assert_eq!(
        described(&me_there, id).await,
        offers(Some("add 1 row"), None)
    );
    let (status, undone) = undo(&me_there, id).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert!(titles(&me_there.rows(id, None).await).is_empty());
    node.shutdown().await.unwrap();
    app.stop().await;
}
