//! The history in words, with structure versions; restoring a version with its generators (issue #20, items 3
//! and 4).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Browser, Calls, issues, seen_and_hidden_epics, spawn};

/// (issue key, issue id) of the rows a window shows, in order.
/// The issue ids of every row, in order (what the effective forest shows).
fn shown(window: &Value) -> Vec<(u64, Option<u64>)> {
    window["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["depth"].as_u64().unwrap(), r["issue_id"].as_u64()))
        .collect()
}

async fn history_of(who: &Browser, id: u64) -> Vec<Value> {
    let (status, history) = who.get(&format!("/api/v1/structures/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    history.as_array().unwrap().clone()
}

fn descriptions(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .map(|h| h["description"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn history_tells_structure_versions_rows_and_generators_in_words() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let id = admin.create("Words").await;
    // A generator first, so that structure versions run ahead of the forest's own.
    admin
        .add_generator(
            id,
            json!({"kind": "insert_jql", "jql": "issuetype = Epic ORDER BY key"}),
        )
        .await;
    let epics = issues(&admin.rows(id, None).await);
    assert!(epics.len() >= 3, "{epics:?}");
    let (status, added) = admin
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
                "rows": [{"depth": 0, "item": {"folder": "Q3"}}, {"depth": 1, "item": {"issue": epics[0].1}},
                         {"depth": 1, "item": {"issue": epics[1].1}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let (status, undone) = admin
        .post(&format!("/api/v1/structures/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    let (status, redone) = admin
        .post(&format!("/api/v1/structures/{id}/redo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{redone}");

    let history = history_of(&admin, id).await;
    let forest: Vec<&Value> = history.iter().filter(|h| h["action"].is_string()).collect();
    let (undo, redo) = (forest[forest.len() - 2], forest[forest.len() - 1]);
    // The versions named are the structure's, as every client sees them, not the forest's own counter.
    assert_eq!(undo["of_version"], added["version"], "{undo}");
    assert_eq!(redo["of_version"], undone["version"], "{redo}");
    let (a, b) = (&epics[0].0, &epics[1].0);
    assert_eq!(
        descriptions(&history),
        [
            "Created the structure “Words”".to_owned(),
            "Set up generator: Inserts the issues a JQL query finds (issuetype = Epic ORDER BY key)"
                .to_owned(),
            "Added generator: Inserts the issues a JQL query finds (issuetype = Epic ORDER BY key)"
                .to_owned(),
            format!("Added 3 rows: folder “Q3”, {a} and {b}"),
            format!(
                "Undid version {} (removed 3 rows: folder “Q3”, {a} and {b})",
                added["version"]
            ),
            format!(
                "Redid version {} (added 3 rows: folder “Q3”, {a} and {b})",
                added["version"]
            ),
        ]
    );
    // Below Automate, a generator is told by what it does, never by its query.
    admin.share_with_everyone(id, "view").await;
    let dev = app.sign_in("dev").await;
    let theirs = descriptions(&history_of(&dev, id).await);
    assert_eq!(
        theirs[2],
        "Added generator: Inserts the issues a JQL query finds"
    );
    assert!(
        theirs.iter().all(|d| !d.contains("issuetype")),
        "{theirs:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn history_counts_the_rows_jira_hides_from_the_reader_and_never_names_them() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let (seen, hidden) = seen_and_hidden_epics(&admin, &dev).await;
    let seen = seen[0].clone();

    let id = admin.create("Shared").await;
    let (status, body) = admin
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
                "rows": [{"depth": 0, "item": {"issue": seen.1}}, {"depth": 0, "item": {"issue": hidden[0].1}},
                         {"depth": 0, "item": {"issue": hidden[1].1}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin
        .edit(
            id,
            json!({"op": "remove", "rows": [body["created"][1], body["created"][2]]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The admin sees every key; at Control too, nobody is told a key Jira does not show them.
    let theirs = descriptions(&history_of(&admin, id).await);
    assert_eq!(
        &theirs[1..],
        [
            format!(
                "Added 3 rows: {}, {} and {}",
                seen.0, hidden[0].0, hidden[1].0
            ),
            format!("Removed 2 rows: {} and {}", hidden[0].0, hidden[1].0),
        ]
    );
    for level in ["view", "control"] {
        let version = admin.version(id).await;
        let (status, body) = admin
            .call(
                Method::PUT,
                &format!("/api/v1/structures/{id}/permissions"),
                Some(json!({"rules": [{"grantee": {"kind": "everyone"}, "level": level}], "based_on": version})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let history = history_of(&dev, id).await;
        let theirs = descriptions(&history);
        assert_eq!(
            theirs[1..3],
            [
                format!("Added 3 rows: {} and 2 hidden rows", seen.0),
                "Removed 2 hidden rows".to_owned(),
            ],
            "{level}"
        );
        let all = serde_json::to_string(&history).unwrap();
        for (key, _) in &hidden {
            assert!(!all.contains(key.as_str()), "{level}: {key} in {all}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn restoring_an_early_version_keeps_generators_working_and_undo_gives_everything_back() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let id = admin.create("Demo").await;
    let generators = format!("/api/v1/structures/{id}/generators");
    // Version "early": epics and their children, from two generators, and a folder.
    let epics = admin
        .add_generator(
            id,
            json!({"kind": "insert_jql", "jql": "issuetype = Epic ORDER BY key"}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    let children = admin
        .add_generator(
            id,
            json!({"kind": "extend_children", "levels": {"from": 1, "to": 1}}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    let (status, body) = admin
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "first"}},
                "rows": [{"depth": 0, "item": {"folder": "Notes"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let early = admin.version(id).await;
    let early_rows = shown(&admin.rows(id, None).await);
    assert!(early_rows.len() > 5, "{early_rows:?}");

    // Since then: the epics' query changed, the children generator was removed, a sort was added.
    let (status, body) = admin
        .call(
            Method::PUT,
            &format!("{generators}/{epics}"),
            Some(
                json!({"config": {"kind": "insert_jql", "jql": "issuetype = Story ORDER BY key"},
                "based_on": admin.version(id).await}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin
        .call(Method::DELETE, &format!("{generators}/{children}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sort = admin
        .add_generator(
            id,
            json!({"kind": "sort_by_field", "field": "summary", "descending": true}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    let now_rows = shown(&admin.rows(id, None).await);
    assert_ne!(now_rows, early_rows);

    // The dialog is told, before it happens, what changes.
    let (status, preview) = admin
        .get(&format!("/api/v1/structures/{id}/restore?version={early}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["rows_now"], 1, "{preview}");
    assert_eq!(preview["rows_then"], 1, "{preview}");
    assert_eq!(preview["needs_automate"], true);
    assert_eq!(preview["allowed"], true);
    let changes: Vec<(u64, &str, &str)> = preview["generators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["generator"]["id"].as_u64().unwrap(),
                g["change"].as_str().unwrap(),
                g["generator"]["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (epics, "changed", "insert_jql"),
            (children, "back", "extend_children"),
            (sort, "gone", "sort_by_field"),
        ]
    );
    assert_eq!(
        preview["generators"][0]["generator"]["config"]["jql"],
        "issuetype = Epic ORDER BY key"
    );

    let (status, restored) = admin
        .post(
            &format!("/api/v1/structures/{id}/restore"),
            json!({"version": early}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    // Exactly what version "early" showed, every generator in the structure running.
    let window = admin.rows(id, None).await;
    assert_eq!(shown(&window), early_rows);
    let ran: Vec<u64> = window["generators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_u64().unwrap())
        .collect();
    let (_, listed) = admin.get(&generators).await;
    for generator in listed.as_array().unwrap() {
        let gid = generator["id"].as_u64().unwrap();
        // In the structure: it ran. Restored away: not in the structure, kept for undo, and not run.
        assert_eq!(
            generator["row"].is_u64(),
            ran.contains(&gid),
            "{listed} {window}"
        );
        assert_eq!(generator["row"].is_u64(), gid != sort, "{listed}");
    }
    let history = descriptions(&history_of(&admin, id).await);
    assert!(
        history
            .iter()
            .any(|d| d.starts_with(&format!("Restored version {early} ("))),
        "{history:?}"
    );

    // Undo gives back the rows and the generators as they were before the restore.
    let (status, body) = admin
        .post(&format!("/api/v1/structures/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let window = admin.rows(id, None).await;
    assert_eq!(shown(&window), now_rows);
    let (_, listed) = admin.get(&generators).await;
    let epics_now = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == epics)
        .unwrap();
    assert_eq!(epics_now["config"]["jql"], "issuetype = Story ORDER BY key");
    // And redo restores again.
    let (status, body) = admin
        .post(&format!("/api/v1/structures/{id}/redo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(shown(&admin.rows(id, None).await), early_rows);
    app.stop().await;
}
