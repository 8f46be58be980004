//! Generators below the Automate level (issue #19): a person who may view or edit a structure, but not change
//! its generators, sees each one's kind and what it does in words — never the JQL, search text, issue keys,
//! formulas or ids it carries, which may name issues Jira hides from them: not in the generators list, the
//! JSON export, the history, windows, nor in the errors of a query Jira rejects.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{App, Browser, Calls, spawn};

/// A structure with one generator whose query Jira refuses now (as after a project or field it names was
/// removed), though it accepted it when it was saved: arbor refuses to save such a query, so the query is put
/// in storage in place of an accepted one.
async fn refused_by_jira_since(app: &App, owner: &Browser, name: &str, jql: &str) -> u64 {
    use arbor_core::ids::{ActorId, GeneratorId, Timestamp, Version};
    use arbor_store::model::{Actor, StructureId};
    let id = owner.create(name).await;
    let generator = owner
        .add_generator(id, json!({"kind": "insert_jql", "jql": "issuetype = Epic"}))
        .await;
    let tenant = app.tenant_of(app.sims[0].base_url()).await;
    app.store
        .set_generator(
            tenant,
            StructureId::new(id).unwrap(),
            Version(owner.version(id).await),
            GeneratorId::new(generator["id"].as_u64().unwrap()).unwrap(),
            &json!({"kind": "insert_jql", "jql": jql}),
            &Actor::new(
                ActorId::new(&owner.account).unwrap(),
                Timestamp::from_unix_millis(0),
            ),
        )
        .await
        .unwrap();
    // Written behind the server's back: its memory of what it read from storage lasts a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    id
}

const QUERY: &str = r#"project = CORE AND key in (AC-19, AC-20) AND summary ~ "NDK""#;

/// Pieces of the configurations below; none may reach a person below Automate.
const SECRETS: [&str; 6] = [
    "AC-19",
    "AC-20",
    "NDK",
    "project = CORE",
    "summary ~",
    "key in",
];

/// An answer's status, content type and bytes, as they left the server.
async fn raw(
    me: &Browser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, String, String) {
    let mut request = me
        .http
        .request(method, me.url(path))
        .header("x-csrf-token", &me.csrf);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

fn assert_withheld(what: &str, bytes: &str) {
    for secret in SECRETS {
        assert!(
            !bytes.contains(secret),
            "{what} shows `{secret}` below Automate: {bytes}"
        );
    }
}

async fn share(owner: &Browser, id: u64, with: &Browser, level: &str) {
    let version = owner.version(id).await;
    let (status, body) = owner
        .call(Method::PUT, &format!("/api/v1/structures/{id}/permissions"),
            Some(json!({"rules": [{"grantee": {"kind": "person", "account_id": with.account}, "level": level}], "based_on": version})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn below_automate_generators_show_their_kind_and_what_they_do_never_their_queries() {
    let app = spawn().await;
    let owner = app.sign_in("admin").await;
    let other = app.sign_in("dev").await;
    // A query Jira refuses, and whose refusal quotes it.
    let broken = refused_by_jira_since(
        &app,
        &owner,
        "Broken",
        &format!(r#"{QUERY} AND created > "NDK-AC-19""#),
    )
    .await;
    let id = owner.create("Configured").await;
    for config in [
        json!({"kind": "insert_jql", "jql": "issuetype = Epic"}),
        json!({"kind": "insert_jql", "jql": QUERY}),
        json!({"kind": "insert_keys", "keys": ["AC-19", "AC-20"]}),
        json!({"kind": "insert_text", "text": "NDK"}),
        json!({"kind": "insert_structure", "structure_id": broken}),
        json!({"kind": "extend_children", "levels": {"from": 1, "to": 2}}),
        json!({"kind": "filter_jql", "jql": r#"key not in (AC-19) OR summary ~ "NDK""#}),
        json!({"kind": "filter_formula", "formula": r#"summary != "NDK AC-20""#}),
        json!({"kind": "group_by_field", "field": "status"}),
        json!({"kind": "sort_by_field", "field": "priority", "descending": true}),
        json!({"kind": "sort_by_formula", "formula": r#"IF(summary = "AC-19", 1, 2)"#, "descending": false}),
    ] {
        owner.add_generator(id, config).await;
    }
    let history = format!("/api/v1/structures/{id}/history");
    for level in ["view", "edit"] {
        share(&owner, id, &other, level).await;
        share(&owner, broken, &other, level).await;
        let (status, kind, bytes) = raw(
            &other,
            Method::GET,
            &format!("/api/v1/structures/{id}/generators"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{bytes}");
        assert_eq!(kind, "application/json");
        assert_withheld("the generators list", &bytes);
        let generators: Value = serde_json::from_str(&bytes).unwrap();
        let described: Vec<(&str, &str)> = generators
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                assert!(g.get("config").is_none(), "{level}: {g}");
                (
                    g["kind"].as_str().unwrap(),
                    g["description"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            described,
            [
                ("insert_jql", "Inserts the issues a JQL query finds"),
                ("insert_jql", "Inserts the issues a JQL query finds"),
                ("insert_keys", "Inserts 2 issues chosen by key"),
                ("insert_text", "Inserts the issues a text search finds"),
                (
                    "insert_structure",
                    "Inserts the issues of another structure"
                ),
                (
                    "extend_children",
                    "Extends with children (epic → stories → sub-tasks), levels 1–2"
                ),
                ("filter_jql", "Keeps the issues a JQL query matches"),
                (
                    "filter_formula",
                    "Keeps the issues for which a formula is true"
                ),
                ("group_by_field", "Groups by Status"),
                ("sort_by_field", "Sorts by Priority, descending"),
                ("sort_by_formula", "Sorts by a formula, ascending"),
            ],
            "{level}"
        );
        let (status, _, bytes) = raw(
            &other,
            Method::GET,
            &format!("/api/v1/structures/{id}/export?format=json"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{bytes}");
        assert_withheld("the JSON export", &bytes);
        let export: Value = serde_json::from_str(&bytes).unwrap();
        assert_eq!(
            export["generators"][8]["description"], "Groups by Status",
            "{level}"
        );
        let (status, _, bytes) = raw(&other, Method::GET, &history, None).await;
        assert_eq!(status, StatusCode::OK, "{bytes}");
        assert_withheld("the history", &bytes);
        let window = json!({"expand": {"depth": 100}, "limit": 2000});
        let (status, _, bytes) = raw(
            &other,
            Method::POST,
            &format!("/api/v1/structures/{id}/rows"),
            Some(window.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{bytes}");
        assert_withheld("a window", &bytes);
        // Jira's refusal quotes the query: below Automate, the problem says what happened in other words.
        let (status, kind, bytes) = raw(
            &other,
            Method::POST,
            &format!("/api/v1/structures/{broken}/rows"),
            Some(window),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bytes}");
        assert_eq!(kind, "application/problem+json");
        assert_withheld("a window's error", &bytes);
        let problem: Value = serde_json::from_str(&bytes).unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("Automate"),
            "{problem}"
        );
        for format in ["csv", "json"] {
            let (status, _, bytes) = raw(
                &other,
                Method::GET,
                &format!("/api/v1/structures/{broken}/export?format={format}"),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bytes}");
            assert_withheld("an export's error", &bytes);
        }
    }
    // From Automate, everything as it is stored, and Jira's own words.
    share(&owner, id, &other, "automate").await;
    share(&owner, broken, &other, "automate").await;
    let (status, generators) = other
        .get(&format!("/api/v1/structures/{id}/generators"))
        .await;
    assert_eq!(status, StatusCode::OK, "{generators}");
    assert_eq!(
        generators[1]["config"],
        json!({"kind": "insert_jql", "jql": QUERY})
    );
    assert_eq!(
        generators[1]["description"],
        "Inserts the issues a JQL query finds"
    );
    assert_eq!(generators[2]["config"]["keys"], json!(["AC-19", "AC-20"]));
    assert_eq!(generators[4]["config"]["structure_id"], broken);
    let (status, export) = other
        .get(&format!("/api/v1/structures/{id}/export?format=json"))
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["generators"][1]["config"]["jql"], QUERY);
    let (status, problem) = other
        .post(
            &format!("/api/v1/structures/{broken}/rows"),
            json!({"limit": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("NDK-AC-19"),
        "{problem}"
    );
    app.stop().await;
}
