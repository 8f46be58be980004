//! What editors ask while people type: checks that point at errors, and the site's metadata.

use reqwest::StatusCode;
use serde_json::json;

use crate::{Calls, spawn};

#[tokio::test]
async fn checks_point_at_the_error_and_metadata_lists_the_site() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let (status, ok) = me
        .post(
            "/api/v1/check/jql",
            json!({"text": "project = TIDEV AND status = Done"}),
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
