//! The authorisation matrix: every structure endpoint × every level × owner, another person, another tenant.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Browser, Calls, spawn_sites};

/// A request: method, path and body.
type Call = (Method, String, Option<Value>);

/// An endpoint, the level it needs, and how to call it on structure `id` at version `v`.
struct Endpoint {
    name: &'static str,
    needs: &'static str,
    call: fn(id: u64, v: u64, gen_id: u64, view: u64) -> Call,
}

const LEVELS: [&str; 5] = ["none", "view", "edit", "automate", "control"];

fn rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap()
}

fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            name: "describe",
            needs: "view",
            call: |id, _, _, _| (Method::GET, format!("/api/v1/structures/{id}"), None),
        },
        Endpoint {
            name: "rows",
            needs: "view",
            call: |id, _, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/structures/{id}/rows"),
                    Some(json!({})),
                )
            },
        },
        Endpoint {
            name: "refresh",
            needs: "view",
            call: |id, _, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/structures/{id}/refresh"),
                    None,
                )
            },
        },
        Endpoint {
            name: "export",
            needs: "view",
            call: |id, _, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/structures/{id}/export?format=json"),
                    None,
                )
            },
        },
        Endpoint {
            name: "history",
            needs: "view",
            call: |id, _, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/structures/{id}/history"),
                    None,
                )
            },
        },
        Endpoint {
            name: "generators",
            needs: "view",
            call: |id, _, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/structures/{id}/generators"),
                    None,
                )
            },
        },
        Endpoint {
            name: "views",
            needs: "view",
            call: |id, _, _, _| (Method::GET, format!("/api/v1/structures/{id}/views"), None),
        },
        Endpoint {
            name: "edit",
            needs: "edit",
            call: |id, v, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/structures/{id}/edits"),
                    Some(
                        json!({"based_on": v, "edit": {"op": "add", "at": {"under": {"parent": null, "at": "last"}}, "rows": [{"depth": 0, "item": {"folder": "x"}}]}}),
                    ),
                )
            },
        },
        Endpoint {
            name: "undo",
            needs: "edit",
            call: |id, _, _, _| (Method::POST, format!("/api/v1/structures/{id}/undo"), None),
        },
        Endpoint {
            name: "redo",
            needs: "edit",
            call: |id, _, _, _| (Method::POST, format!("/api/v1/structures/{id}/redo"), None),
        },
        Endpoint {
            name: "restore",
            needs: "edit",
            // The current version: allowed at Edit (and a clear 400, since nothing changes). Restoring a
            // version from before the generator existed would remove it, which needs Automate.
            call: |id, v, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/structures/{id}/restore"),
                    Some(json!({"version": v})),
                )
            },
        },
        Endpoint {
            // A personal view; sharing one needs Edit (tests/api/views.rs).
            name: "create view",
            needs: "view",
            call: |id, _, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/structures/{id}/views"),
                    Some(json!({"name": "v", "columns": [{"kind": "field", "field": "status"}]})),
                )
            },
        },
        Endpoint {
            // The owner's shared view: another person changes it only with Control.
            name: "update view",
            needs: "control",
            call: |id, _, _, view| {
                (
                    Method::PUT,
                    format!("/api/v1/structures/{id}/views/{view}"),
                    Some(json!({"name": "v2", "columns": []})),
                )
            },
        },
        Endpoint {
            name: "add generator",
            needs: "automate",
            call: |id, v, _, _| {
                (
                    Method::POST,
                    format!("/api/v1/structures/{id}/generators"),
                    Some(
                        json!({"config": {"kind": "remove_duplicates"}, "at": {"under": {"parent": null, "at": "last"}}, "based_on": v}),
                    ),
                )
            },
        },
        Endpoint {
            name: "change generator",
            needs: "automate",
            call: |id, v, g, _| {
                (
                    Method::PUT,
                    format!("/api/v1/structures/{id}/generators/{g}"),
                    Some(
                        json!({"config": {"kind": "insert_jql", "jql": "issuetype = Epic"}, "based_on": v}),
                    ),
                )
            },
        },
        Endpoint {
            name: "read permissions",
            needs: "control",
            call: |id, _, _, _| {
                (
                    Method::GET,
                    format!("/api/v1/structures/{id}/permissions"),
                    None,
                )
            },
        },
        Endpoint {
            name: "rename",
            needs: "control",
            call: |id, v, _, _| {
                (
                    Method::PATCH,
                    format!("/api/v1/structures/{id}"),
                    Some(json!({"name": "renamed", "based_on": v})),
                )
            },
        },
    ]
}

async fn call(
    who: &Browser,
    endpoint: &Endpoint,
    id: u64,
    v: u64,
    g: u64,
    view: u64,
) -> StatusCode {
    let (method, path, body) = (endpoint.call)(id, v, g, view);
    who.call(method, &path, body).await.0
}

#[tokio::test]
async fn every_endpoint_at_every_level_for_owner_other_person_and_other_tenant() {
    let app = spawn_sites(2, |_| {}).await;
    let owner = app.sign_in_to(0, "admin").await;
    let other = app.sign_in_to(0, "dev").await;
    let foreigner = app.sign_in_to(1, "admin").await;
    let id = owner.create("Matrix").await;
    let generator = owner
        .add_generator(id, json!({"kind": "insert_jql", "jql": "issuetype = Epic"}))
        .await["id"]
        .as_u64()
        .unwrap();
    let (_, view) = owner
        .post(
            &format!("/api/v1/structures/{id}/views"),
            json!({"name": "v", "columns": [], "shared": true}),
        )
        .await;
    let view = view["id"].as_u64().unwrap();
    for level in LEVELS {
        let version = owner.version(id).await;
        let rules = if level == "none" {
            json!([])
        } else {
            json!([{"grantee": {"kind": "person", "account_id": other.account}, "level": level}])
        };
        let (status, body) = owner
            .call(
                Method::PUT,
                &format!("/api/v1/structures/{id}/permissions"),
                Some(json!({"rules": rules, "based_on": version})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for endpoint in endpoints() {
            let v = owner.version(id).await;
            let status = call(&other, &endpoint, id, v, generator, view).await;
            let allowed = rank(level) >= rank(endpoint.needs);
            let refused = matches!(
                status,
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED
            );
            if allowed {
                assert!(!refused, "{level}: {} refused with {status}", endpoint.name);
            } else if level == "none" {
                assert_eq!(
                    status,
                    StatusCode::NOT_FOUND,
                    "{level}: {} must look absent",
                    endpoint.name
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{level}: {} must be forbidden",
                    endpoint.name
                );
            }
            let v = owner.version(id).await;
            let status = call(&foreigner, &endpoint, id, v, generator, view).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "other tenant: {}",
                endpoint.name
            );
        }
    }
    for endpoint in endpoints() {
        let v = owner.version(id).await;
        let status = call(&owner, &endpoint, id, v, generator, view).await;
        assert!(
            !matches!(
                status,
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED
            ),
            "owner: {} refused with {status}",
            endpoint.name
        );
    }
    // Deletion: Control only; the other person with Edit cannot.
    let version = owner.version(id).await;
    owner
        .call(Method::PUT, &format!("/api/v1/structures/{id}/permissions"),
            Some(json!({"rules": [{"grantee": {"kind": "person", "account_id": other.account}, "level": "automate"}], "based_on": version})))
        .await;
    let (status, _) = other
        .call(Method::DELETE, &format!("/api/v1/structures/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = foreigner
        .call(Method::DELETE, &format!("/api/v1/structures/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = owner
        .call(Method::DELETE, &format!("/api/v1/structures/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Refusals were audited.
    let tenant = app.store.tenants().await.unwrap()[0].id;
    let audit = app.store.audit_entries(tenant, 0, 10_000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.entry.outcome == arbor_store::audit::Outcome::Denied
                && e.entry.actor.as_ref().map(arbor_core::ids::ActorId::as_str)
                    == Some(other.account.as_str()))
    );
    app.stop().await;
}

#[tokio::test]
async fn changes_that_add_or_remove_generators_need_automate_however_they_are_asked() {
    let app = spawn_sites(1, |_| {}).await;
    let owner = app.sign_in("admin").await;
    let editor = app.sign_in("dev").await;
    let id = owner.create("Guarded").await;
    let v0 = owner.version(id).await;
    owner
        .post(&format!("/api/v1/structures/{id}/edits"), json!({"based_on": v0,
            "edit": {"op": "add", "at": {"under": {"parent": null, "at": "last"}}, "rows": [{"depth": 0, "item": {"folder": "F"}}]}}))
        .await;
    let before_generator = owner.version(id).await;
    owner
        .add_generator(id, json!({"kind": "insert_jql", "jql": "issuetype = Epic"}))
        .await;
    let version = owner.version(id).await;
    owner
        .call(Method::PUT, &format!("/api/v1/structures/{id}/permissions"),
            Some(json!({"rules": [{"grantee": {"kind": "person", "account_id": editor.account}, "level": "edit"}], "based_on": version})))
        .await;
    let rows_before = editor.rows(id, None).await["visible_rows"].clone();
    // Restoring a version from before the generator would remove it: refused, and nothing changed.
    let (status, problem) = editor
        .post(
            &format!("/api/v1/structures/{id}/restore"),
            json!({"version": before_generator}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("Automate"));
    assert_eq!(editor.rows(id, None).await["visible_rows"], rows_before);
    // The owner removes the generator, then undoes the removal: its row comes back with the configuration it
    // last had, and it runs again.
    let generators = owner
        .get(&format!("/api/v1/structures/{id}/generators"))
        .await
        .1;
    let generator = generators[0]["id"].as_u64().unwrap();
    let (status, _) = owner
        .call(
            Method::DELETE,
            &format!("/api/v1/structures/{id}/generators/{generator}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = owner
        .post(&format!("/api/v1/structures/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let window = owner.rows(id, None).await;
    assert!(
        window["visible_rows"].as_u64().unwrap() > 1,
        "the folder and the epics: {window}"
    );
    let (_, generators) = owner
        .get(&format!("/api/v1/structures/{id}/generators"))
        .await;
    assert_eq!(generators[0]["id"], generator, "{generators}");
    assert!(generators[0]["row"].is_u64(), "{generators}");
    app.stop().await;
}

#[tokio::test]
async fn project_role_rules_match_the_members_jira_names() {
    let app = spawn_sites(1, |_| {}).await;
    // A project in which dev is in a role, that role, and a role dev is not in there.
    let (project, dev_role, other_role) = app.sims[0].handle().with_site(|site| {
        let dev = site.person_by_name("dev").unwrap();
        (0..site.projects.len())
            .find_map(|p| {
                let p = u16::try_from(p).unwrap();
                let roles = site.roles_of(dev, p);
                let outside = (0..site.roles.len())
                    .map(|r| u32::try_from(r).unwrap())
                    .find(|r| !roles.contains(r))?;
                let inside = *roles.first()?;
                Some((
                    site.projects[p as usize].id.parse::<u64>().unwrap(),
                    site.roles[inside as usize].id,
                    site.roles[outside as usize].id,
                ))
            })
            .unwrap()
    });
    let owner = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let set = |role: u64, level: &'static str| {
        let owner = &owner;
        async move {
            let id = owner.create(&format!("Role {role}")).await;
            let version = owner.version(id).await;
            let rule = json!({"grantee": {"kind": "project_role", "project_id": project, "role_id": role}, "level": level});
            let (status, body) = owner
                .call(
                    Method::PUT,
                    &format!("/api/v1/structures/{id}/permissions"),
                    Some(json!({"rules": [rule], "based_on": version})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            id
        }
    };
    let theirs = set(dev_role, "edit").await;
    let (status, body) = dev.get(&format!("/api/v1/structures/{theirs}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["level"], "edit", "{body}");
    let not_theirs = set(other_role, "view").await;
    let (status, body) = dev.get(&format!("/api/v1/structures/{not_theirs}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A role of a project that does not exist matches nobody, and says so without an error.
    let nowhere = owner.create("Nowhere").await;
    let version = owner.version(nowhere).await;
    let (status, body) = owner
        .call(Method::PUT, &format!("/api/v1/structures/{nowhere}/permissions"),
            Some(json!({"rules": [{"grantee": {"kind": "project_role", "project_id": 999_999, "role_id": dev_role}, "level": "view"}], "based_on": version})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = dev.get(&format!("/api/v1/structures/{nowhere}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Each named role is a question to Jira for whoever lists structures: a structure names at most 20.
    let many: Vec<_> = (1..=21)
        .map(|project| json!({"grantee": {"kind": "project_role", "project_id": project, "role_id": dev_role}, "level": "view"}))
        .collect();
    let version = owner.version(nowhere).await;
    let (status, problem) = owner
        .call(
            Method::PUT,
            &format!("/api/v1/structures/{nowhere}/permissions"),
            Some(json!({"rules": many, "based_on": version})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_permission_takes_effect_on_the_next_request() {
    let app = spawn_sites(1, |_| {}).await;
    let owner = app.sign_in("admin").await;
    let dev = app.sign_in("dev").await;
    let id = owner.create("Shared, then not").await;
    let share = |rules: Value| {
        let owner = &owner;
        async move {
            let version = owner.version(id).await;
            let (status, body) = owner
                .call(
                    Method::PUT,
                    &format!("/api/v1/structures/{id}/permissions"),
                    Some(json!({"rules": rules, "based_on": version})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    share(json!([{"grantee": {"kind": "everyone"}, "level": "view"}])).await;
    // Read twice: the second answer comes from what this node read a moment ago.
    for _ in 0..2 {
        let (status, body) = dev.get(&format!("/api/v1/structures/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    share(json!([])).await;
    let (status, body) = dev.get(&format!("/api/v1/structures/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A rename is seen at once too.
    let version = owner.version(id).await;
    let (status, body) = owner
        .call(
            Method::PATCH,
            &format!("/api/v1/structures/{id}"),
            Some(json!({"name": "Renamed", "based_on": version})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = owner.get(&format!("/api/v1/structures/{id}")).await;
    assert_eq!(body["name"], "Renamed");
    app.stop().await;
}
