//! Naming whom rules grant to: people, groups, projects and roles found by name as the person, and the names of
//! a structure's grantees in its rules.

use jira_sim::server::{FaultKind, FaultRule};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Calls, quiet, spawn};

/// `(id, key)` of a project and the ids of the roles `Administrators` and `Developers`.
fn project_and_roles(app: &crate::App, key: &str) -> (u64, u64, u64) {
    app.sims[0].handle().with_site(|site| {
        let project = site.project_by_key(key).unwrap();
        let role = |name: &str| site.roles[site.role_by_name(name).unwrap() as usize].id;
        (
            site.projects[project as usize].id.parse().unwrap(),
            role("Administrators"),
            role("Developers"),
        )
    })
}

#[tokio::test]
async fn people_groups_projects_and_roles_are_found_by_name_as_the_person() {
    let app = spawn().await;
    let dev = app.sign_in("dev").await;
    let admin = app.sign_in("admin").await;

    let (status, found) = dev.get("/api/v1/jira/people?query=%20devon%20").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found,
        json!({"people": [{"account_id": dev.account, "display_name": "Devon Developer"}]})
    );
    let (_, many) = dev.get("/api/v1/jira/people?query=a").await;
    let many = many["people"].as_array().unwrap();
    assert!(many.len() > 1 && many.len() <= 20, "{many:?}");
    // Asked of Jira as dev, every time (searches are not cached).
    let searched = |app: &crate::App| {
        app.sims[0].handle().stats()["endpoints"]["GET /rest/api/3/user/search"]["requests"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = searched(&app);
    dev.get("/api/v1/jira/people?query=devon").await;
    assert_eq!(searched(&app), before + 1);
    let by_person = app.sims[0].handle().stats()["people"][dev.account.as_str()]["requests"]
        .as_u64()
        .unwrap();
    assert!(by_person >= 3);

    // A query is 1 to 100 characters, counted as characters.
    let long = "é".repeat(100);
    let (status, _) = dev.get(&format!("/api/v1/jira/people?query={long}")).await;
    assert_eq!(status, StatusCode::OK);
    for bad in [
        "/api/v1/jira/people".to_owned(),
        "/api/v1/jira/people?query=".to_owned(),
        "/api/v1/jira/people?query=%20%20".to_owned(),
        format!("/api/v1/jira/people?query={long}x"),
        "/api/v1/jira/people?query=dev&limit=3".to_owned(),
        "/api/v1/jira/groups?query=".to_owned(),
        format!("/api/v1/jira/groups?query={}", "g".repeat(101)),
    ] {
        let (status, problem) = dev.get(&bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("query"),
            "{bad}: {problem}"
        );
    }

    let (status, groups) = dev.get("/api/v1/jira/groups?query=JIRA").await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["jira-administrators", "jira-software-users"]);
    assert!(groups["groups"][0]["group_id"].as_str().unwrap().len() > 8);

    // Projects as each person may browse them, sorted by name.
    let (status, theirs) = dev.get("/api/v1/jira/projects").await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    let (_, all) = admin.get("/api/v1/jira/projects").await;
    let keys = |list: &Value| -> Vec<String> {
        list["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(keys(&all).contains(&"OPS".to_owned()), "{all}");
    assert!(!keys(&theirs).contains(&"OPS".to_owned()), "{theirs}");
    assert_eq!(keys(&theirs).len() + 1, keys(&all).len());
    let first = &all["projects"][0];
    assert!(first["id"].is_u64() && first["name"].is_string(), "{first}");
    let names: Vec<String> = all["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // Roles: for the project's administrators only.
    let (project, administrators, developers) = project_and_roles(&app, "CORE");
    let (status, roles) = admin
        .get(&format!("/api/v1/jira/projects/{project}/roles"))
        .await;
    assert_eq!(status, StatusCode::OK, "{roles}");
    assert_eq!(
        roles,
        json!({"roles": [
            {"id": administrators, "name": "Administrators"},
            {"id": developers, "name": "Developers"},
        ]})
    );
    let (status, problem) = dev
        .get(&format!("/api/v1/jira/projects/{project}/roles"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(problem["type"], "/problems/project-roles-not-shown");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("only to its administrators")
    );
    let (status, _) = admin.get("/api/v1/jira/projects/999999/roles").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin.get("/api/v1/jira/projects/CORE/roles").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Without a session, nobody is found.
    for path in [
        "/api/v1/jira/people?query=dev",
        "/api/v1/jira/groups?query=jira",
        "/api/v1/jira/projects",
    ] {
        let status = app
            .client()
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn rules_show_the_names_jira_tells_the_reader() {
    let app = spawn().await;
    let admin = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let (project, _, developers) = project_and_roles(&app, "CORE");
    let (_, groups) = admin.get("/api/v1/jira/groups?query=jira-software").await;
    let group = groups["groups"][0]["group_id"].as_str().unwrap().to_owned();
    let id = admin.create("Named").await;
    let rules = json!([
        {"grantee": {"kind": "person", "account_id": dev.account}, "level": "control"},
        {"grantee": {"kind": "group", "group_id": group}, "level": "edit"},
        {"grantee": {"kind": "project_role", "project_id": project, "role_id": developers}, "level": "view"},
        {"grantee": {"kind": "everyone"}, "level": "view"},
        {"grantee": {"kind": "person", "account_id": "no-such-account"}, "level": "view"},
    ]);
    let version = admin.version(id).await;
    let (status, body) = admin
        .call(
            Method::PUT,
            &format!("/api/v1/structures/{id}/permissions"),
            Some(json!({"rules": rules, "based_on": version})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let labels = |view: &Value| -> Vec<Value> {
        view["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["grantee"]["label"].clone())
            .collect()
    };
    let (status, view) = admin
        .get(&format!("/api/v1/structures/{id}/permissions"))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        labels(&view),
        [
            json!("Devon Developer"),
            json!("jira-software-users"),
            json!("Project CORE: Developers"),
            Value::Null,
            Value::Null
        ],
        "{view}"
    );
    // Ids and levels are as set; the labels ride along.
    assert_eq!(view["rules"][2]["grantee"]["role_id"], developers);
    assert_eq!(view["rules"][0]["level"], "control");
    assert!(view["based_on"].is_u64());
    assert_eq!(view["owner_label"], "Ada Admin");

    // dev (Control through the person rule) does not administer CORE: Jira does not name its roles to dev.
    let (status, theirs) = dev
        .get(&format!("/api/v1/structures/{id}/permissions"))
        .await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(
        labels(&theirs)[..3],
        [
            json!("Devon Developer"),
            json!("jira-software-users"),
            Value::Null
        ],
        "{theirs}"
    );

    // What Jira would not tell dev is not asked again while it is remembered.
    let asked = || {
        app.sims[0].handle().stats()["endpoints"]
            ["GET /rest/api/3/project/{projectIdOrKey}/roledetails"]["requests"]
            .as_u64()
            .unwrap()
    };
    let before = asked();
    let (_, again) = dev
        .get(&format!("/api/v1/structures/{id}/permissions"))
        .await;
    assert_eq!(labels(&again)[2], Value::Null);
    let (status, _) = dev
        .get(&format!("/api/v1/jira/projects/{project}/roles"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(asked(), before);

    // Rules read back are saved as they are: labels are never taken as ids.
    let version = admin.version(id).await;
    let mut again = view["rules"].clone();
    again[0]["grantee"]["label"] = json!("Someone Else");
    let (status, body) = admin
        .call(
            Method::PUT,
            &format!("/api/v1/structures/{id}/permissions"),
            Some(json!({"rules": again, "based_on": version})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, view) = admin
        .get(&format!("/api/v1/structures/{id}/permissions"))
        .await;
    assert_eq!(labels(&view)[0], "Devon Developer");

    // Jira failing to name people never fails the rules: they are shown without those names.
    let mut controls = quiet();
    controls.faults = vec![FaultRule {
        endpoint: "GET /rest/api/3/user/bulk".into(),
        kind: FaultKind::Status { status: 500 },
        probability: 1.0,
    }];
    app.sims[0].handle().set_controls(controls);
    let (status, view) = admin
        .get(&format!("/api/v1/structures/{id}/permissions"))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        labels(&view)[..3],
        [
            Value::Null,
            json!("jira-software-users"),
            json!("Project CORE: Developers")
        ],
        "{view}"
    );
    app.sims[0].handle().set_controls(quiet());

    // Ids a rule cannot name anyone by are refused, saying why.
    for (grantee, says) in [
        (json!({"kind": "person", "account_id": ""}), "person"),
        (json!({"kind": "person", "account_id": " x"}), "person"),
        (
            json!({"kind": "group", "group_id": "g".repeat(129)}),
            "group",
        ),
        (
            json!({"kind": "project_role", "project_id": 0, "role_id": developers}),
            "project role",
        ),
    ] {
        let version = admin.version(id).await;
        let (status, problem) = admin
            .call(
                Method::PUT,
                &format!("/api/v1/structures/{id}/permissions"),
                Some(
                    json!({"rules": [{"grantee": grantee, "level": "view"}], "based_on": version}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{grantee}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    app.stop().await;
}
