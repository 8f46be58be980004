//! Edits below Control never act on rows whose issues Jira hides from the editor, and what they answer says
//! nothing about such rows (`api/hidden.rs`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Browser, Calls, seen_and_hidden_epics, spawn};

/// The stored rows as the owner sees them: (row id, depth, issue id or folder name).
async fn stored(owner: &Browser, id: u64) -> Vec<(u64, u64, String)> {
    owner.rows(id, None).await["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap_or(0),
                r["depth"].as_u64().unwrap(),
                r["issue_id"]
                    .as_u64()
                    .map_or_else(|| r["title"].to_string(), |i| i.to_string()),
            )
        })
        .collect()
}

#[tokio::test]
async fn edits_below_control_neither_touch_nor_reveal_rows_hidden_from_the_editor() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let (seen, hidden) = seen_and_hidden_epics(&admin, &dev).await;
    let ids = |epics: Vec<(String, u64)>| epics.into_iter().map(|(_, id)| id).collect::<Vec<u64>>();
    let (seen, hidden) = (ids(seen), ids(hidden));
    let id = admin.create("Shared").await;
    // Folder F holds a visible issue and a hidden one; a hidden issue and folder G are at the top.
    let (status, added) = admin
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
        "rows": [{"depth": 0, "item": {"folder": "F"}}, {"depth": 1, "item": {"issue": seen[0]}},
                 {"depth": 1, "item": {"issue": hidden[0]}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let (status, more) = admin
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
        "rows": [{"depth": 0, "item": {"issue": hidden[1]}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{more}");
    let (status, last) = admin
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": null, "at": "last"}},
        "rows": [{"depth": 0, "item": {"folder": "G"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{last}");
    let folder_f = added["created"][0].as_u64().unwrap();
    let hidden_child = added["created"][2].as_u64().unwrap();
    let hidden_top = more["created"][0].as_u64().unwrap();
    let folder_g = last["created"][0].as_u64().unwrap();
    admin.share_with_everyone(id, "edit").await;
    let before = stored(&admin, id).await;

    // A hidden row named by an edit is answered for exactly as a row that never existed.
    let never = 999_999;
    let (status, unknown) = dev.edit(id, json!({"op": "remove", "rows": [never]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{unknown}");
    let as_unknown = |row: u64, answer: &Value| {
        let said = answer["detail"].as_str().unwrap();
        assert_eq!(
            said.replace(&row.to_string(), "N"),
            unknown["detail"]
                .as_str()
                .unwrap()
                .replace(&never.to_string(), "N"),
            "{answer}"
        );
    };
    for (named, edit_body) in [
        (hidden_top, json!({"op": "remove", "rows": [hidden_top]})),
        (
            hidden_top,
            json!({"op": "move", "rows": [hidden_top], "to": {"after": folder_g}}),
        ),
        (
            hidden_top,
            json!({"op": "copy", "rows": [hidden_top], "to": {"after": folder_g}}),
        ),
        (
            hidden_top,
            json!({"op": "move", "rows": [folder_g], "to": {"before": hidden_top}}),
        ),
        (
            hidden_child,
            json!({"op": "move", "rows": [folder_g], "to": {"after": hidden_child}}),
        ),
        (
            hidden_child,
            json!({"op": "add", "at": {"under": {"parent": hidden_child, "at": "last"}},
            "rows": [{"depth": 0, "item": {"folder": "X"}}]}),
        ),
    ] {
        let (status, answer) = dev.edit(id, edit_body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{edit_body}: {answer}");
        as_unknown(named, &answer);
    }

    // A position past the end of F's children does not say how many it has (the hidden one counts).
    let (status, answer) = dev
        .edit(
            id,
            json!({"op": "add", "at": {"under": {"parent": folder_f, "at": {"index": 5}}},
        "rows": [{"depth": 0, "item": {"folder": "X"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let said = answer["detail"].as_str().unwrap();
    assert!(
        said.starts_with("index 5 is past the end of the row's children"),
        "{said}"
    );

    // Changes that would remove, copy or add rows dev cannot see are refused without saying which.
    for edit_body in [
        json!({"op": "remove", "rows": [folder_f]}),
        json!({"op": "copy", "rows": [folder_f], "to": {"after": folder_g}}),
        json!({"op": "add", "at": {"under": {"parent": folder_g, "at": "last"}},
            "rows": [{"depth": 0, "item": {"issue": hidden[0]}}]}),
    ] {
        let (status, answer) = dev.edit(id, edit_body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{edit_body}: {answer}");
        // One message for every such change, naming no row, issue or number.
        let said = answer["detail"].as_str().unwrap();
        assert!(said.contains("Jira does not show you"), "{said}");
        assert!(!said.chars().any(|c| c.is_ascii_digit()), "{said}");
    }
    assert_eq!(stored(&admin, id).await, before, "nothing changed");

    // Moving a visible folder takes the hidden row below it along; undoing it brings it back.
    let (status, moved) = dev
        .edit(
            id,
            json!({"op": "move", "rows": [folder_f], "to": {"after": folder_g}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let after_move = stored(&admin, id).await;
    let f_at = after_move.iter().position(|r| r.0 == folder_f).unwrap();
    assert_eq!(
        after_move[f_at + 2].2,
        hidden[0].to_string(),
        "{after_move:?}"
    );
    let (status, undone) = dev
        .post(&format!("/api/v1/structures/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(stored(&admin, id).await, before);

    // A restore that would remove hidden rows (to the empty first version) is refused as well.
    let (status, restored) = dev
        .post(
            &format!("/api/v1/structures/{id}/restore"),
            json!({"version": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{restored}");
    assert_eq!(stored(&admin, id).await, before);

    // Control acts on every row.
    let seen_by_dev = dev.version(id).await;
    let (status, removed) = admin
        .edit(id, json!({"op": "remove", "rows": [folder_f, hidden_top]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    // An edit based on the version before names the hidden row admin removed since: nothing says it was there.
    let (status, answer) = dev
        .post(
            &format!("/api/v1/structures/{id}/edits"),
            json!({"based_on": seen_by_dev, "edit": {"op": "remove", "rows": [hidden_top]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    as_unknown(hidden_top, &answer);
    app.stop().await;
}
