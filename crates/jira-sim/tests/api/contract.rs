//! The contract: every implemented operation, for successful and failing requests, answers with a status the
//! Jira Cloud OpenAPI document lists for it and a body that validates against the schema given for that status.
//! The document is read from `../shared/data/jira-openapi/` at test time.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, spawn_synthetic};

fn spec() -> Option<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/jira-openapi/jira-cloud-platform.v3.json");
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap()),
        Err(_) => {
            eprintln!(
                "SKIPPED: {} not found; the contract test did not run",
                path.display()
            );
            None
        }
    }
}

/// A validator for the JSON Schema subset the document uses.
struct Validator<'a> {
    root: &'a Value,
}

impl Validator<'_> {
    fn resolve<'b>(&'b self, schema: &'b Value) -> &'b Value {
        let mut s = schema;
        while let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let pointer = r.trim_start_matches('#');
            s = self
                .root
                .pointer(pointer)
                .unwrap_or_else(|| panic!("unresolved {r}"));
        }
        s
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(s, value, at, errors);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let ok = options.iter().any(|s| {
                    let mut e = Vec::new();
                    self.check(s, value, at, &mut e);
                    e.is_empty()
                });
                if !ok {
                    errors.push(format!("{at}: matches none of {key}"));
                }
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(format!("{at}: {value} not in enum"));
        }
        let kind = schema.get("type").and_then(Value::as_str);
        let type_ok = match kind {
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            // No type given, or one this subset does not check.
            _ => true,
        };
        if !type_ok {
            errors.push(format!(
                "{at}: expected {}, got {value}",
                kind.unwrap_or("?")
            ));
            return;
        }
        if let Some(obj) = value.as_object() {
            let props = schema.get("properties").and_then(Value::as_object);
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = required.as_str().unwrap_or("");
                if !obj.contains_key(name) {
                    errors.push(format!("{at}: missing required {name}"));
                }
            }
            for (k, v) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check(s, v, &format!("{at}.{k}"), errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            errors.push(format!("{at}: unexpected property {k}"));
                        }
                        Some(s @ Value::Object(_)) => {
                            self.check(s, v, &format!("{at}.{k}"), errors);
                        }
                        _ => {}
                    },
                }
            }
        }
        if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
            for (i, v) in list.iter().enumerate() {
                self.check(items, v, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

fn validate(spec: &Value, method: &Method, template: &str, reply: &Reply) -> Vec<String> {
    let op = &spec["paths"][template][method.as_str().to_lowercase()];
    assert!(op.is_object(), "{method} {template} is not in the document");
    let status = reply.status.as_u16().to_string();
    let Some(response) = op["responses"]
        .get(&status)
        .or_else(|| op["responses"].get("default"))
    else {
        return vec![format!(
            "{method} {template}: status {status} is not documented ({})",
            reply.body
        )];
    };
    let v = Validator { root: spec };
    let mut errors = Vec::new();
    if let Some(schema) = response.pointer("/content/application~1json/schema") {
        v.check(schema, &reply.body, "$", &mut errors);
    }
    errors
        .into_iter()
        .map(|e| format!("{method} {template} ({status}): {e}"))
        .collect()
}

#[tokio::test]
async fn every_operation_matches_the_openapi_document() {
    let Some(spec) = spec() else { return };
    let t = spawn_synthetic().await;
    let admin = t.token("admin").await;
    let dev = t.token_for_app("dev", "contract-app").await;
    let (account, group_id, role_id) = t.sim.handle().with_site(|s| {
        let p = s.person_by_name("dev").unwrap();
        (
            s.person(p).account_id.clone(),
            s.groups[0].group_id.clone(),
            s.roles[0].id,
        )
    });
    let link_id = t.sim.handle().with_site(|s| {
        s.links
            .iter()
            .flatten()
            .find(|l| {
                matches!(l.source, jira_sim::model::Target::Local(_))
                    && matches!(l.destination, jira_sim::model::Target::Local(_))
            })
            .unwrap()
            .id
    });
    let search = "/rest/api/3/search/jql";
    let cases: Vec<(Method, &str, String, Option<Value>, &str)> = vec![
        (Method::GET, search, format!("{search}?jql=project%3DCORE&fields=*all&expand=names,schema&maxResults=20"), None, &admin),
        (Method::GET, search, format!("{search}?jql=project%3DCORE"), None, &admin),
        (Method::POST, search, search.into(), Some(json!({"jql": "project = CORE ORDER BY rank", "fields": ["*navigable"], "maxResults": 30})), &dev),
        (Method::POST, search, search.into(), Some(json!({"jql": "order by key"})), &admin),
        (Method::POST, search, search.into(), Some(json!({"jql": "nosuch = 1"})), &admin),
        (Method::GET, search, format!("{search}?jql=project%3DCORE"), None, "bad-token"),
        (Method::POST, "/rest/api/3/search/approximate-count", "/rest/api/3/search/approximate-count".into(), Some(json!({"jql": "project = CORE"})), &admin),
        (Method::POST, "/rest/api/3/search/approximate-count", "/rest/api/3/search/approximate-count".into(), Some(json!({"jql": ""})), &admin),
        (Method::POST, "/rest/api/3/jql/parse", "/rest/api/3/jql/parse?validation=strict".into(), Some(json!({"queries": ["project = CORE ORDER BY rank", "project = NOPE", "nosuch = 1", "project = "]})), &dev),
        (Method::POST, "/rest/api/3/jql/parse", "/rest/api/3/jql/parse?validation=strict".into(), Some(json!({"queries": []})), &dev),
        (Method::GET, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/CORE-1".into(), None, &admin),
        (Method::GET, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/CORE-5?fields=summary,parent,issuelinks,subtasks&expand=names".into(), None, &dev),
        (Method::GET, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/OPS-1".into(), None, &dev),
        (Method::POST, "/rest/api/3/issue/bulkfetch", "/rest/api/3/issue/bulkfetch".into(), Some(json!({"issueIdsOrKeys": ["CORE-1", "CORE-2", "OPS-1", "x"], "fields": ["*all"]})), &dev),
        (Method::POST, "/rest/api/3/issue/bulkfetch", "/rest/api/3/issue/bulkfetch".into(), Some(json!({"issueIdsOrKeys": []})), &dev),
        (Method::PUT, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/CORE-7".into(), Some(json!({"fields": {"summary": "contract"}})), &admin),
        (Method::PUT, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/CORE-7?returnIssue=true".into(), Some(json!({"fields": {"summary": "contract 2"}})), &admin),
        (Method::PUT, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/CORE-7".into(), Some(json!({"fields": {"bogus": 1}})), &admin),
        (Method::PUT, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/OPS-1".into(), Some(json!({"fields": {"summary": "x"}})), &dev),
        (Method::DELETE, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/CORE-11".into(), None, &admin),
        (Method::DELETE, "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/CORE-11".into(), None, &admin),
        (Method::POST, "/rest/api/3/issueLink", "/rest/api/3/issueLink".into(), Some(json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "CORE-8"}, "outwardIssue": {"key": "CORE-9"}})), &admin),
        (Method::POST, "/rest/api/3/issueLink", "/rest/api/3/issueLink".into(), Some(json!({"type": {"name": "Nope"}, "inwardIssue": {"key": "CORE-8"}, "outwardIssue": {"key": "CORE-9"}})), &admin),
        (Method::GET, "/rest/api/3/issueLink/{linkId}", format!("/rest/api/3/issueLink/{link_id}"), None, &admin),
        (Method::DELETE, "/rest/api/3/issueLink/{linkId}", format!("/rest/api/3/issueLink/{link_id}"), None, &admin),
        (Method::DELETE, "/rest/api/3/issueLink/{linkId}", format!("/rest/api/3/issueLink/{link_id}"), None, &admin),
        (Method::GET, "/rest/api/3/field", "/rest/api/3/field".into(), None, &dev),
        (Method::GET, "/rest/api/3/issuetype", "/rest/api/3/issuetype".into(), None, &dev),
        (Method::GET, "/rest/api/3/issueLinkType", "/rest/api/3/issueLinkType".into(), None, &dev),
        (Method::GET, "/rest/api/3/status", "/rest/api/3/status".into(), None, &dev),
        (Method::GET, "/rest/api/3/priority", "/rest/api/3/priority".into(), None, &dev),
        (Method::GET, "/rest/api/3/project/search", "/rest/api/3/project/search?maxResults=2".into(), None, &dev),
        (Method::GET, "/rest/api/3/myself", "/rest/api/3/myself".into(), None, &dev),
        (Method::GET, "/rest/api/3/user", format!("/rest/api/3/user?accountId={account}"), None, &admin),
        (Method::GET, "/rest/api/3/user", "/rest/api/3/user?accountId=nobody".into(), None, &admin),
        (Method::GET, "/rest/api/3/user/groups", format!("/rest/api/3/user/groups?accountId={account}"), None, &admin),
        (Method::GET, "/rest/api/3/user/search", "/rest/api/3/user/search?query=a&maxResults=5".into(), None, &dev),
        (Method::GET, "/rest/api/3/user/search", format!("/rest/api/3/user/search?accountId={account}"), None, &dev),
        (Method::GET, "/rest/api/3/user/search", "/rest/api/3/user/search".into(), None, &dev),
        (Method::GET, "/rest/api/3/user/bulk", format!("/rest/api/3/user/bulk?accountId={account}&accountId=nobody"), None, &dev),
        (Method::GET, "/rest/api/3/user/bulk", "/rest/api/3/user/bulk".into(), None, &dev),
        (Method::GET, "/rest/api/3/groups/picker", "/rest/api/3/groups/picker?query=jira&caseInsensitive=true".into(), None, &dev),
        (Method::GET, "/rest/api/3/group/bulk", format!("/rest/api/3/group/bulk?groupId={group_id}"), None, &dev),
        (Method::GET, "/rest/api/3/project/{projectIdOrKey}/roledetails", "/rest/api/3/project/CORE/roledetails".into(), None, &admin),
        (Method::GET, "/rest/api/3/project/{projectIdOrKey}/roledetails", "/rest/api/3/project/CORE/roledetails".into(), None, &dev),
        (Method::GET, "/rest/api/3/group/member", format!("/rest/api/3/group/member?groupId={group_id}&maxResults=5"), None, &admin),
        (Method::GET, "/rest/api/3/group/member", "/rest/api/3/group/member?groupname=nope".into(), None, &admin),
        (Method::GET, "/rest/api/3/project/{projectIdOrKey}/role", "/rest/api/3/project/CORE/role".into(), None, &admin),
        (Method::GET, "/rest/api/3/project/{projectIdOrKey}/role/{id}", format!("/rest/api/3/project/CORE/role/{role_id}"), None, &admin),
        (Method::GET, "/rest/api/3/project/{projectIdOrKey}/role/{id}", "/rest/api/3/project/NOPE/role/1".into(), None, &admin),
        (Method::GET, "/rest/api/3/role/{id}", format!("/rest/api/3/role/{role_id}"), None, &admin),
        (Method::GET, "/rest/api/3/mypermissions", "/rest/api/3/mypermissions?projectKey=CORE&permissions=BROWSE_PROJECTS,EDIT_ISSUES,ADMINISTER".into(), None, &dev),
        (Method::GET, "/rest/api/3/mypermissions", "/rest/api/3/mypermissions".into(), None, &dev),
        (Method::POST, "/rest/api/3/permissions/check", "/rest/api/3/permissions/check".into(), Some(json!({"globalPermissions": ["ADMINISTER"], "projectPermissions": [{"permissions": ["BROWSE_PROJECTS"], "projects": [10000], "issues": [10001, 10002]}]})), &dev),
        (Method::POST, "/rest/api/3/permissions/check", "/rest/api/3/permissions/check".into(), Some(json!({"accountId": "someone-else", "projectPermissions": []})), &dev),
        (Method::POST, "/rest/api/3/webhook", "/rest/api/3/webhook".into(), Some(json!({"url": "http://127.0.0.1:9/hook", "webhooks": [{"events": ["jira:issue_updated"], "jqlFilter": "project = CORE"}, {"events": ["jira:issue_created"], "jqlFilter": "bogus = 1"}]})), &dev),
        (Method::GET, "/rest/api/3/webhook", "/rest/api/3/webhook".into(), None, &dev),
        (Method::PUT, "/rest/api/3/webhook/refresh", "/rest/api/3/webhook/refresh".into(), Some(json!({"webhookIds": [1]})), &dev),
        (Method::DELETE, "/rest/api/3/webhook", "/rest/api/3/webhook".into(), Some(json!({"webhookIds": [1]})), &dev),
        (Method::POST, "/rest/api/3/webhook", "/rest/api/3/webhook".into(), Some(json!({"webhooks": []})), &dev),
        (Method::GET, "/rest/api/3/search", "/rest/api/3/search?jql=project%3DCORE".into(), None, &admin),
    ];
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeSet::new();
    for (method, template, path, body, token) in &cases {
        let mut request = t
            .client
            .request(method.clone(), t.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            request = request.json(b);
        }
        let reply = t.send(request).await;
        statuses.insert(reply.status.as_u16());
        if *template == "/rest/api/3/search" {
            // Removed from Cloud: the document still lists it, without 410.
            assert_eq!(reply.status, reqwest::StatusCode::GONE);
            continue;
        }
        failures.extend(validate(&spec, method, template, &reply));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Both successes and errors were covered.
    for s in [200, 201, 202, 204, 400, 401, 403, 404] {
        assert!(statuses.contains(&s), "no case answered {s}");
    }
    t.sim.shutdown().await.unwrap();
}
