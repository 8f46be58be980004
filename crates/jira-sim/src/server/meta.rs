//! Metadata, people, groups, roles and permissions: `field`, `issuetype`, `issueLinkType`, `status`, `priority`,
//! `project/search`, `myself`, `user`, `user/groups`, `group/member`, `project/{key}/role[/{id}]`, `role/{id}`,
//! `mypermissions`, `permissions/check`.
//!
//! Permission model of the simulator: the project permissions that work on issues (browse, edit, link, create,
//! comment, assign, transition, ...) follow "Browse projects" (and, for an issue, its security level);
//! `ADMINISTER_PROJECTS` needs the Administrators role in the project; the global `ADMINISTER` needs the group
//! `jira-administrators`. Object points: 2 per user, group, role actor or permission returned.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Shared;
use super::http::{
    ApiError, ApiResult, Caller, costed, json_body, query_int, query_value, query_values, respond,
};
use crate::model::{Grantee, PersonIdx, Site};
use crate::render::Renderer;

fn count(n: usize) -> u64 {
    n as u64
}

pub(crate) async fn fields(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let body = serde_json::to_value(&site.fields).unwrap_or(Value::Array(Vec::new()));
        Ok(costed(StatusCode::OK, body, 0))
    })
}

/// Renders each of `count` metadata objects by their `u16` index.
fn each(count: usize, render: impl Fn(u16) -> Value) -> Vec<Value> {
    (0..count)
        .filter_map(|i| u16::try_from(i).ok())
        .map(render)
        .collect()
}

pub(crate) async fn issue_types(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let r = Renderer::new(&site, Some(c.person));
        let body = each(site.issue_types.len(), |t| r.issue_type(t));
        Ok(costed(StatusCode::OK, Value::Array(body), 0))
    })
}

pub(crate) async fn link_types(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let r = Renderer::new(&site, Some(c.person));
        let types = each(site.link_types.len(), |t| r.link_type(t));
        Ok(costed(
            StatusCode::OK,
            json!({ "issueLinkTypes": types }),
            0,
        ))
    })
}

pub(crate) async fn statuses(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let r = Renderer::new(&site, Some(c.person));
        let body = each(site.statuses.len(), |s| r.status(s));
        Ok(costed(StatusCode::OK, Value::Array(body), 0))
    })
}

pub(crate) async fn priorities(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let body: Vec<Value> = site
            .priorities
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let mut v = Renderer::new(&site, None).priority(u16::try_from(i).ok()?);
                v["statusColor"] = json!(p.status_color);
                v["description"] = json!(format!("{} priority", p.name));
                Some(v)
            })
            .collect();
        Ok(costed(StatusCode::OK, Value::Array(body), 0))
    })
}

fn project_json(shared: &Shared, site: &Site, p: u16) -> Value {
    let pr = &site.projects[p as usize];
    let avatar = |size: u32| format!("{}/images/project/{}-{size}.png", shared.base_url, pr.key);
    json!({
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "self": format!("{}/rest/api/3/project/{}", shared.base_url, pr.id),
        "id": pr.id,
        "key": pr.key,
        "name": pr.name,
        "avatarUrls": { "16x16": avatar(16), "24x24": avatar(24), "32x32": avatar(32), "48x48": avatar(48) },
        "projectTypeKey": "software",
        "simplified": false,
        "style": "classic",
        "isPrivate": false,
        "properties": {},
    })
}

pub(crate) async fn project_search(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let q = q.as_deref();
        let start = usize::try_from(query_int(q, "startAt")?.unwrap_or(0).max(0)).unwrap_or(0);
        let max =
            usize::try_from(query_int(q, "maxResults")?.unwrap_or(50).clamp(1, 100)).unwrap_or(50);
        let keys: Vec<String> = query_values(q, "keys")
            .iter()
            .flat_map(|k| k.split(','))
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        let text = query_value(q, "query").map(|t| t.to_lowercase());
        let site = shared.site();
        let matching: Vec<u16> = (0..site.projects.len())
            .filter_map(|p| u16::try_from(p).ok())
            .filter(|&p| site.can_browse_project(c.person, p))
            .filter(|&p| keys.is_empty() || keys.contains(&site.projects[p as usize].key))
            .filter(|&p| {
                text.as_ref().is_none_or(|t| {
                    let pr = &site.projects[p as usize];
                    pr.key.to_lowercase().contains(t) || pr.name.to_lowercase().contains(t)
                })
            })
            .collect();
        let values: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(max)
            .map(|&p| project_json(&shared, &site, p))
            .collect();
        let is_last = start + values.len() >= matching.len();
        let mut body = json!({
            "self": format!("{}/rest/api/3/project/search?startAt={start}&maxResults={max}", shared.base_url),
            "maxResults": max,
            "startAt": start,
            "total": matching.len(),
            "isLast": is_last,
            "values": values,
        });
        if !is_last {
            body["nextPage"] = json!(format!(
                "{}/rest/api/3/project/search?startAt={}&maxResults={max}",
                shared.base_url,
                start + max
            ));
        }
        Ok(costed(StatusCode::OK, body, 0))
    })
}

fn user_json(shared: &Shared, site: &Site, p: PersonIdx, with_email: bool) -> Value {
    let person = site.person(p);
    let avatar = |size: u32| {
        format!(
            "{}/images/avatar/{}-{size}.png",
            shared.base_url, person.account_id
        )
    };
    let groups: Vec<Value> = site
        .groups_of(p)
        .map(|g| group_json(shared, site, g))
        .collect();
    let mut v = json!({
        "self": format!("{}/rest/api/3/user?accountId={}", shared.base_url, person.account_id),
        "accountId": person.account_id,
        "accountType": "atlassian",
        "avatarUrls": { "16x16": avatar(16), "24x24": avatar(24), "32x32": avatar(32), "48x48": avatar(48) },
        "displayName": person.display_name,
        "active": person.active,
        "timeZone": person.time_zone,
        "locale": "en_US",
        "groups": { "size": groups.len(), "items": groups },
        "applicationRoles": { "size": 1, "items": [] },
        "expand": "groups,applicationRoles",
    });
    if with_email {
        v["emailAddress"] = json!(person.email);
    }
    v
}

fn group_json(shared: &Shared, site: &Site, g: u32) -> Value {
    let group = &site.groups[g as usize];
    json!({
        "name": group.name,
        "groupId": group.group_id,
        "self": format!("{}/rest/api/3/group?groupId={}", shared.base_url, group.group_id),
    })
}

pub(crate) async fn myself(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
) -> Response {
    respond(|| {
        c.require("read:jira-user")?;
        let site = shared.site();
        Ok(costed(
            StatusCode::OK,
            user_json(&shared, &site, c.person, true),
            2,
        ))
    })
}

fn person_param(site: &Site, q: Option<&str>) -> ApiResult<PersonIdx> {
    let Some(account) = query_value(q, "accountId") else {
        return Err(ApiError::bad_request(
            "The 'accountId' query parameter needs to be provided.",
        ));
    };
    site.person_by_account_id(&account).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Specified user does not exist or you do not have required permissions",
        )
    })
}

pub(crate) async fn user(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-user")?;
        let site = shared.site();
        let p = person_param(&site, q.as_deref())?;
        Ok(costed(
            StatusCode::OK,
            user_json(&shared, &site, p, p == c.person),
            2,
        ))
    })
}

pub(crate) async fn user_groups(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-user")?;
        let site = shared.site();
        let p = person_param(&site, q.as_deref())?;
        let groups: Vec<Value> = site
            .groups_of(p)
            .map(|g| group_json(&shared, &site, g))
            .collect();
        let points = 2 * count(groups.len());
        Ok(costed(StatusCode::OK, Value::Array(groups), points))
    })
}

pub(crate) async fn group_members(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-user")?;
        let q = q.as_deref();
        let site = shared.site();
        let g = match (query_value(q, "groupId"), query_value(q, "groupname")) {
            (Some(id), _) => site.groups.iter().position(|g| g.group_id == id),
            (None, Some(name)) => site.groups.iter().position(|g| g.name == name),
            (None, None) => {
                return Err(ApiError::bad_request(
                    "Either the 'groupname' or the 'groupId' parameter must be provided.",
                ));
            }
        }
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "The group doesn't exist."))?;
        let start = usize::try_from(query_int(q, "startAt")?.unwrap_or(0).max(0)).unwrap_or(0);
        let max =
            usize::try_from(query_int(q, "maxResults")?.unwrap_or(50).clamp(1, 50)).unwrap_or(50);
        let inactive = query_value(q, "includeInactiveUsers").as_deref() == Some("true");
        let group = &site.groups[g];
        let members: Vec<PersonIdx> = group
            .members
            .iter()
            .copied()
            .filter(|&p| inactive || site.person(p).active)
            .collect();
        let r = Renderer::new(&site, None);
        let values: Vec<Value> = members
            .iter()
            .skip(start)
            .take(max)
            .map(|&p| {
                let mut u = r.user(p);
                u["emailAddress"] = json!(site.person(p).email);
                u
            })
            .collect();
        let is_last = start + values.len() >= members.len();
        let base = format!(
            "{}/rest/api/3/group/member?groupId={}",
            shared.base_url, group.group_id
        );
        let mut body = json!({
            "self": format!("{base}&startAt={start}&maxResults={max}"),
            "maxResults": max,
            "startAt": start,
            "total": members.len(),
            "isLast": is_last,
            "values": values,
        });
        if !is_last {
            body["nextPage"] = json!(format!("{base}&startAt={}&maxResults={max}", start + max));
        }
        let points = 2 * count(values.len());
        Ok(costed(StatusCode::OK, body, points))
    })
}

fn param(params: &RawPathParams, name: &str) -> String {
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

fn project_param(site: &Site, text: &str) -> ApiResult<u16> {
    site.projects
        .iter()
        .position(|p| p.key == text || p.id == text)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No project could be found with key '{text}'."),
            )
        })
}

pub(crate) async fn project_roles(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    params: RawPathParams,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let key = param(&params, "projectIdOrKey");
        let p = project_param(&site, &key)?;
        if !site.can_browse_project(c.person, p) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No project could be found with key '{key}'."),
            ));
        }
        let project = &site.projects[p as usize];
        let body: Map<String, Value> = site
            .roles
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    json!(format!(
                        "{}/rest/api/3/project/{}/role/{}",
                        shared.base_url, project.id, r.id
                    )),
                )
            })
            .collect();
        Ok(costed(StatusCode::OK, Value::Object(body), 0))
    })
}

fn role_index(site: &Site, text: &str) -> ApiResult<u32> {
    site.roles
        .iter()
        .position(|r| r.id.to_string() == text)
        .and_then(|r| u32::try_from(r).ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("Can not retrieve a role actor for a null project role with id {text}."),
            )
        })
}

pub(crate) async fn project_role(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    params: RawPathParams,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let key = param(&params, "projectIdOrKey");
        let p = project_param(&site, &key)?;
        if !site.can_browse_project(c.person, p) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No project could be found with key '{key}'."),
            ));
        }
        let r = role_index(&site, &param(&params, "id"))?;
        let role = &site.roles[r as usize];
        let project = &site.projects[p as usize];
        let actors: Vec<Value> = site
            .role_actors
            .get(&(p, r))
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(n, a)| match *a {
                Grantee::Group(g) => {
                    let group = &site.groups[g as usize];
                    Some(json!({
                        "id": 10_000 + n,
                        "displayName": group.name,
                        "type": "atlassian-group-role-actor",
                        "name": group.name,
                        "actorGroup": { "name": group.name, "displayName": group.name, "groupId": group.group_id },
                    }))
                }
                Grantee::Person(u) => {
                    let person = site.person(u);
                    Some(json!({
                        "id": 10_000 + n,
                        "displayName": person.display_name,
                        "type": "atlassian-user-role-actor",
                        "actorUser": { "accountId": person.account_id },
                    }))
                }
                Grantee::Anyone | Grantee::Role(_) => None,
            })
            .collect();
        let points = 2 * count(actors.len());
        let body = json!({
            "self": format!("{}/rest/api/3/project/{}/role/{}", shared.base_url, project.id, role.id),
            "name": role.name,
            "id": role.id,
            "description": role.description,
            "actors": actors,
            "scope": { "type": "PROJECT", "project": { "id": project.id, "key": project.key, "name": project.name } },
            "currentUserRole": site.roles_of(c.person, p).contains(&r),
        });
        Ok(costed(StatusCode::OK, body, points))
    })
}

pub(crate) async fn role(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    params: RawPathParams,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let r = role_index(&site, &param(&params, "id"))?;
        let role = &site.roles[r as usize];
        Ok(costed(
            StatusCode::OK,
            json!({
                "self": format!("{}/rest/api/3/role/{}", shared.base_url, role.id),
                "name": role.name,
                "id": role.id,
                "description": role.description,
                "actors": [],
                "admin": role.name == "Administrators",
                "default": role.name == "Developers",
                "roleConfigurable": true,
                "translatedName": role.name,
            }),
            0,
        ))
    })
}

/// Permissions the simulator knows: key, id, name, type.
const PERMISSIONS: &[(&str, &str, &str, &str)] = &[
    ("ADMINISTER", "0", "Administer Jira", "GLOBAL"),
    ("BROWSE_PROJECTS", "10", "Browse Projects", "PROJECT"),
    ("CREATE_ISSUES", "11", "Create Issues", "PROJECT"),
    ("EDIT_ISSUES", "12", "Edit Issues", "PROJECT"),
    ("ASSIGN_ISSUES", "13", "Assign Issues", "PROJECT"),
    ("RESOLVE_ISSUES", "14", "Resolve Issues", "PROJECT"),
    ("ADD_COMMENTS", "15", "Add Comments", "PROJECT"),
    ("LINK_ISSUES", "21", "Link Issues", "PROJECT"),
    (
        "ADMINISTER_PROJECTS",
        "23",
        "Administer Projects",
        "PROJECT",
    ),
    ("SCHEDULE_ISSUES", "28", "Schedule Issues", "PROJECT"),
    ("ASSIGNABLE_USER", "17", "Assignable User", "PROJECT"),
    ("TRANSITION_ISSUES", "46", "Transition Issues", "PROJECT"),
    ("WORK_ON_ISSUES", "20", "Work On Issues", "PROJECT"),
    ("CREATE_ATTACHMENTS", "19", "Create Attachments", "PROJECT"),
];

fn is_site_admin(site: &Site, person: PersonIdx) -> bool {
    site.groups_of(person)
        .any(|g| site.groups[g as usize].name == "jira-administrators")
}

/// Whether `person` holds a project permission in `project` (and on `issue`, if given).
fn holds(site: &Site, person: PersonIdx, key: &str, project: u16, issue: Option<u32>) -> bool {
    if !site.can_browse_project(person, project)
        || issue.is_some_and(|i| !site.can_browse(person, i))
    {
        return false;
    }
    if key == "ADMINISTER_PROJECTS" {
        return site
            .role_by_name("Administrators")
            .is_some_and(|r| site.roles_of(person, project).contains(&r));
    }
    true
}

pub(crate) async fn my_permissions(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let q = q.as_deref();
        let wanted: Vec<String> = query_values(q, "permissions")
            .iter()
            .flat_map(|p| p.split(','))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if wanted.is_empty() {
            return Err(ApiError::bad_request(
                "The 'permissions' query parameter is required.",
            ));
        }
        let site = shared.site();
        let issue = match (query_value(q, "issueKey"), query_value(q, "issueId")) {
            (Some(k), _) | (None, Some(k)) => Some(
                site.issue_by_id_or_key(&k)
                    .filter(|&i| site.can_browse(c.person, i))
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::NOT_FOUND,
                            "Issue does not exist or you do not have permission to see it.",
                        )
                    })?,
            ),
            (None, None) => None,
        };
        let project = match (query_value(q, "projectKey"), query_value(q, "projectId")) {
            // A project the person may not browse is as absent as one that does not exist.
            (Some(k), _) | (None, Some(k)) => {
                let p = project_param(&site, &k)?;
                if !site.can_browse_project(c.person, p) {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        format!("No project could be found with key '{k}'."),
                    ));
                }
                Some(p)
            }
            (None, None) => issue.map(|i| site.issue(i).project),
        };
        let mut out = Map::new();
        for key in &wanted {
            let Some(&(k, id, name, kind)) = PERMISSIONS.iter().find(|p| p.0 == key) else {
                return Err(ApiError::bad_request(format!(
                    "Unrecognized permission key: {key}"
                )));
            };
            let have = if kind == "GLOBAL" {
                is_site_admin(&site, c.person)
            } else {
                match project {
                    Some(p) => holds(&site, c.person, k, p, issue),
                    None => (0..site.projects.len())
                        .filter_map(|p| u16::try_from(p).ok())
                        .any(|p| holds(&site, c.person, k, p, None)),
                }
            };
            out.insert(
                k.to_owned(),
                json!({
                    "id": id, "key": k, "name": name, "type": kind,
                    "description": format!("Ability to {}.", name.to_lowercase()),
                    "havePermission": have,
                }),
            );
        }
        let points = 2 * count(out.len());
        Ok(costed(
            StatusCode::OK,
            json!({ "permissions": out }),
            points,
        ))
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkCheck {
    account_id: Option<String>,
    #[serde(default)]
    global_permissions: Vec<String>,
    #[serde(default)]
    project_permissions: Vec<ProjectCheck>,
}

#[derive(Debug, Deserialize)]
struct ProjectCheck {
    permissions: Vec<String>,
    #[serde(default)]
    projects: Vec<u64>,
    #[serde(default)]
    issues: Vec<u64>,
}

pub(crate) async fn permissions_check(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let request: BulkCheck = json_body(&body)?;
        let site = shared.site();
        let person = match &request.account_id {
            None => c.person,
            Some(a) if *a == c.account_id => c.person,
            Some(a) => {
                if !is_site_admin(&site, c.person) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "You must have the Administer Jira permission to check the permissions of other users.",
                    ));
                }
                site.person_by_account_id(a).ok_or_else(|| {
                    ApiError::bad_request(format!("The user with account ID '{a}' does not exist."))
                })?
            }
        };
        let issue_count: usize = request
            .project_permissions
            .iter()
            .map(|p| p.issues.len())
            .sum();
        if issue_count > 1000 {
            return Err(ApiError::bad_request(
                "At most 1000 issues can be checked in one request.",
            ));
        }
        // The work is permissions × (projects + issues): bound the other factors too.
        let permission_count: usize = request
            .project_permissions
            .iter()
            .map(|p| p.permissions.len())
            .sum();
        let project_count: usize = request
            .project_permissions
            .iter()
            .map(|p| p.projects.len())
            .sum();
        if permission_count + request.global_permissions.len() > 100 || project_count > 1000 {
            return Err(ApiError::bad_request(
                "At most 100 permissions and 1000 projects can be checked in one request.",
            ));
        }
        let known = |k: &str, kind: &str| PERMISSIONS.iter().any(|p| p.0 == k && p.3 == kind);
        let mut global = Vec::new();
        for g in &request.global_permissions {
            if !known(g, "GLOBAL") {
                return Err(ApiError::bad_request(format!(
                    "Unrecognized permission key: {g}"
                )));
            }
            if is_site_admin(&site, person) {
                global.push(json!(g));
            }
        }
        let mut grants: Vec<Value> = Vec::new();
        for check in &request.project_permissions {
            for permission in &check.permissions {
                if !known(permission, "PROJECT") {
                    return Err(ApiError::bad_request(format!(
                        "Unrecognized permission key: {permission}"
                    )));
                }
                let projects: Vec<u64> = check
                    .projects
                    .iter()
                    .copied()
                    .filter(|id| {
                        project_param(&site, &id.to_string())
                            .is_ok_and(|p| holds(&site, person, permission, p, None))
                    })
                    .collect();
                let issues: Vec<u64> = check
                    .issues
                    .iter()
                    .copied()
                    .filter(|id| {
                        site.issue_by_id(*id).is_some_and(|i| {
                            holds(&site, person, permission, site.issue(i).project, Some(i))
                        })
                    })
                    .collect();
                grants.push(
                    json!({ "permission": permission, "projects": projects, "issues": issues }),
                );
            }
        }
        let points = 2 * count(grants.len() + global.len());
        Ok(costed(
            StatusCode::OK,
            json!({ "globalPermissions": global, "projectPermissions": grants }),
            points,
        ))
    })
}
