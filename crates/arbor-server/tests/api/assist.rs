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
