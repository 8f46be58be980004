//! Metadata, people, groups, roles and permissions: `field`, `issuetype`, `issueLinkType`, `status`, `priority`,
//! `project/search`, `myself`, `user`, `user/bulk`, `user/search`, `user/groups`, `group/member`, `group/bulk`,
//! `groups/picker`, `project/{key}/role[/{id}]`, `project/{key}/roledetails`, `role/{id}`, `mypermissions`,
//! `permissions/check`.
//!
//! Permission model of the simulator: the project permissions that work on issues (browse, edit, link, create,
//! comment, assign, transition, ...) follow "Browse projects" (and, for an issue, its security level);
//! `ADMINISTER_PROJECTS` needs the Administrators role in the project; the global `ADMINISTER` needs the group
//! `jira-administrators`; the global "Browse users and groups" is granted by the site file (`browse_users`).
//! Object points: 2 per user, group, role actor or permission returned.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Shared;
use super::http::{
    ApiError, ApiResult, Caller, costed, json_body, query_int, query_value, query_values, respond,
};
use crate::model::{Grantee, PersonIdx, Site};
use crate::render::{Renderer, to_value};

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
fn each<T: Serialize>(count: usize, render: impl Fn(u16) -> T) -> Vec<T> {
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
        Ok(costed(StatusCode::OK, body, 0))
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
        Ok(costed(StatusCode::OK, body, 0))
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
                let mut v = to_value(Renderer::new(&site, None).priority(u16::try_from(i).ok()?));
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
        let body = page_bean(
            &format!("{}/rest/api/3/project/search", shared.base_url),
            start,
            max,
            matching.len(),
            values,
        );
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

/// A user as lists of users show them (search, bulk): no groups, and the email address only for oneself.
fn listed_user(shared: &Shared, site: &Site, p: PersonIdx, caller: PersonIdx) -> Value {
    let person = site.person(p);
    let avatar = |size: u32| {
        format!(
            "{}/images/avatar/{}-{size}.png",
            shared.base_url, person.account_id
        )
    };
    let mut v = json!({
        "self": format!("{}/rest/api/3/user?accountId={}", shared.base_url, person.account_id),
        "accountId": person.account_id,
        "accountType": "atlassian",
        "avatarUrls": { "16x16": avatar(16), "24x24": avatar(24), "32x32": avatar(32), "48x48": avatar(48) },
        "displayName": person.display_name,
        "active": person.active,
        "timeZone": person.time_zone,
        "locale": "en_US",
    });
    if p == caller {
        v["emailAddress"] = json!(person.email);
    }
    v
}

/// Whether `query` (already lower-cased) starts one of the words of `text`, or `text` itself.
fn prefix_of_a_word(text: &str, query: &str) -> bool {
    let text = text.to_lowercase();
    text.starts_with(query)
        || text
            .split(|c: char| c.is_whitespace() || matches!(c, '.' | '-' | '_' | '@' | '(' | ')'))
            .any(|word| word.starts_with(query))
}

/// Jira answers a user search with at most the first 1000 matches.
const USER_SEARCH_LIMIT: usize = 1000;

/// `GET user/search?query=|accountId=`: active people whose display name or email address has a word starting
/// with the query (case-insensitive), by display name. Without "Browse users and groups" the list is empty, as
/// Jira answers anonymous callers.
pub(crate) async fn user_search(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-user")?;
        let q = q.as_deref();
        let query = query_value(q, "query").filter(|t| !t.trim().is_empty());
        let account = query_value(q, "accountId").filter(|t| !t.is_empty());
        let property = query_value(q, "property").filter(|t| !t.is_empty());
        match (&query, &account, &property) {
            (None, None, None) => {
                return Err(ApiError::bad_request(
                    "One of 'accountId', 'query' or 'property' query parameters must be provided.",
                ));
            }
            (Some(_), Some(_), _) => {
                return Err(ApiError::bad_request(
                    "The 'accountId' and 'query' query parameters cannot be used together.",
                ));
            }
            (None, None, Some(_)) => {
                return Err(ApiError::bad_request(
                    "The simulator does not search user properties: use 'query' or 'accountId'.",
                ));
            }
            _ => {}
        }
        let start = usize::try_from(query_int(q, "startAt")?.unwrap_or(0).max(0)).unwrap_or(0);
        let max =
            usize::try_from(query_int(q, "maxResults")?.unwrap_or(50).clamp(0, 1000)).unwrap_or(50);
        let site = shared.site();
        if !site.can_browse_users(c.person) {
            return Ok(costed(StatusCode::OK, Value::Array(Vec::new()), 0));
        }
        let text = query.map(|t| t.trim().to_lowercase());
        let mut matching: Vec<PersonIdx> = (0..site.people.len())
            .filter_map(|p| u32::try_from(p).ok())
            .filter(|&p| site.person(p).active)
            .filter(|&p| {
                let person = site.person(p);
                match (&text, &account) {
                    (Some(t), _) => {
                        prefix_of_a_word(&person.display_name, t)
                            || person.email.to_lowercase().starts_with(t.as_str())
                    }
                    (None, Some(a)) => person.account_id == *a,
                    (None, None) => false,
                }
            })
            .collect();
        matching.sort_by(|&a, &b| {
            let (a, b) = (site.person(a), site.person(b));
            a.display_name
                .to_lowercase()
                .cmp(&b.display_name.to_lowercase())
                .then_with(|| a.account_id.cmp(&b.account_id))
        });
        matching.truncate(USER_SEARCH_LIMIT);
        let users: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(max)
            .map(|&p| listed_user(&shared, &site, p, c.person))
            .collect();
        let points = 2 * count(users.len());
        Ok(costed(StatusCode::OK, Value::Array(users), points))
    })
}

/// `GET user/bulk?accountId=…`: the people with these account ids (inactive ones too), a page of them; ids
/// that name nobody are left out.
pub(crate) async fn user_bulk(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-user")?;
        let q = q.as_deref();
        let ids = query_values(q, "accountId");
        if ids.is_empty() {
            return Err(ApiError::bad_request(
                "The 'accountId' query parameter needs to be provided.",
            ));
        }
        if ids.iter().any(|id| id.len() > 128) {
            return Err(ApiError::bad_request(
                "An account ID is at most 128 characters.",
            ));
        }
        let start = usize::try_from(query_int(q, "startAt")?.unwrap_or(0).max(0)).unwrap_or(0);
        let max =
            usize::try_from(query_int(q, "maxResults")?.unwrap_or(10).clamp(1, 200)).unwrap_or(10);
        let site = shared.site();
        let mut people: Vec<PersonIdx> = Vec::new();
        for id in &ids {
            if let Some(p) = site.person_by_account_id(id)
                && !people.contains(&p)
            {
                people.push(p);
            }
        }
        let values: Vec<Value> = people
            .iter()
            .skip(start)
            .take(max)
            .map(|&p| listed_user(&shared, &site, p, c.person))
            .collect();
        let found = values.len();
        let body = page_bean(
            &format!("{}/rest/api/3/user/bulk", shared.base_url),
            start,
            max,
            people.len(),
            values,
        );
        let points = 2 * count(found);
        Ok(costed(StatusCode::OK, body, points))
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
                let mut u = to_value(r.user(p));
                u["emailAddress"] = json!(site.person(p).email);
                u
            })
            .collect();
        let found = values.len();
        let body = page_bean(
            &format!(
                "{}/rest/api/3/group/member?groupId={}",
                shared.base_url, group.group_id
            ),
            start,
            max,
            members.len(),
            values,
        );
        let points = 2 * count(found);
        Ok(costed(StatusCode::OK, body, points))
    })
}

/// Labels Jira puts on groups in pickers: the administrators' group is marked as such.
fn group_labels(name: &str) -> Value {
    if name == "jira-administrators" || name == "site-admins" {
        json!([{ "text": "Admin", "title": "Users added to this group will be given administrative access", "type": "ADMIN" }])
    } else {
        json!([])
    }
}

/// The group picker's default and largest answer (Jira's `jira.ajax.autocomplete.limit`).
const PICKER_LIMIT: usize = 20;
const PICKER_MAX: usize = 100;

/// `GET groups/picker?query=`: groups whose names contain the query, sorted by name, with the match in `<b>`
/// (case-sensitive unless `caseInsensitive=true`, as in Jira). Without "Browse projects" in any project the list
/// is empty; without "Browse users and groups" only a group named exactly as the query is found.
pub(crate) async fn groups_picker(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-user")?;
        let q = q.as_deref();
        let exclude = query_values(q, "exclude");
        let exclude_ids = query_values(q, "excludeId");
        if !exclude.is_empty() && !exclude_ids.is_empty() {
            return Err(ApiError::bad_request(
                "The 'exclude' and 'excludeId' parameters cannot be used together.",
            ));
        }
        let max = usize::try_from(
            query_int(q, "maxResults")?
                .unwrap_or(PICKER_LIMIT as i64)
                .clamp(0, PICKER_MAX as i64),
        )
        .unwrap_or(PICKER_LIMIT);
        let insensitive = query_value(q, "caseInsensitive").as_deref() == Some("true");
        let query = query_value(q, "query").unwrap_or_default();
        let site = shared.site();
        let browses_any = (0..site.projects.len())
            .filter_map(|p| u16::try_from(p).ok())
            .any(|p| site.can_browse_project(c.person, p));
        let browses_users = site.can_browse_users(c.person);
        let fold = |t: &str| {
            if insensitive {
                t.to_lowercase()
            } else {
                t.to_owned()
            }
        };
        let needle = fold(&query);
        let mut matching: Vec<&crate::model::Group> = site
            .groups
            .iter()
            .filter(|_| browses_any)
            .filter(|g| !exclude.contains(&g.name) && !exclude_ids.contains(&g.group_id))
            .filter(|g| {
                if browses_users {
                    fold(&g.name).contains(&needle)
                } else {
                    fold(&g.name) == needle
                }
            })
            .collect();
        matching.sort_by_key(|g| (g.name.to_lowercase(), g.name.clone()));
        let total = matching.len();
        let groups: Vec<Value> = matching
            .iter()
            .take(max)
            .map(|g| {
                json!({
                    "name": g.name,
                    "html": highlighted(&g.name, &query, insensitive),
                    "groupId": g.group_id,
                    "labels": group_labels(&g.name),
                })
            })
            .collect();
        let points = 2 * count(groups.len());
        Ok(costed(
            StatusCode::OK,
            json!({
                "header": format!("Showing {} of {total} matching groups", groups.len()),
                "total": total,
                "groups": groups,
            }),
            points,
        ))
    })
}

/// The group name as HTML with the first match of `query` in `<b>`; every other character escaped.
fn highlighted(name: &str, query: &str, insensitive: bool) -> String {
    let found = if query.is_empty() {
        None
    } else if insensitive {
        // Lower-casing may change lengths: search character by character.
        let lower: Vec<char> = query.to_lowercase().chars().collect();
        let chars: Vec<(usize, char)> = name.char_indices().collect();
        (0..chars.len()).find_map(|i| {
            let window: String = chars
                .iter()
                .skip(i)
                .take(lower.len())
                .map(|(_, c)| *c)
                .collect();
            (window.to_lowercase().chars().eq(lower.iter().copied())).then(|| {
                let start = chars[i].0;
                let end = chars.get(i + lower.len()).map_or(name.len(), |(b, _)| *b);
                (start, end)
            })
        })
    } else {
        name.find(query).map(|start| (start, start + query.len()))
    };
    match found {
        Some((start, end)) => format!(
            "{}<b>{}</b>{}",
            escape_html(&name[..start]),
            escape_html(&name[start..end]),
            escape_html(&name[end..])
        ),
        None => escape_html(name),
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// `GET group/bulk?groupId=…&groupName=…`: groups by id or name (every group when neither is given), a page
/// of them. Needs "Browse users and groups" (403 otherwise).
pub(crate) async fn group_bulk(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-user")?;
        let q = q.as_deref();
        let site = shared.site();
        if !site.can_browse_users(c.person) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "Browse users and groups permission is required to view groups.",
            ));
        }
        let ids = query_values(q, "groupId");
        let names = query_values(q, "groupName");
        let start = usize::try_from(query_int(q, "startAt")?.unwrap_or(0).max(0)).unwrap_or(0);
        let max =
            usize::try_from(query_int(q, "maxResults")?.unwrap_or(50).clamp(1, 100)).unwrap_or(50);
        let matching: Vec<&crate::model::Group> = site
            .groups
            .iter()
            .filter(|g| {
                (ids.is_empty() && names.is_empty())
                    || ids.contains(&g.group_id)
                    || names.contains(&g.name)
            })
            .collect();
        let values: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(max)
            .map(|g| json!({ "groupId": g.group_id, "name": g.name }))
            .collect();
        let found = values.len();
        let body = page_bean(
            &format!("{}/rest/api/3/group/bulk", shared.base_url),
            start,
            max,
            matching.len(),
            values,
        );
        let points = 2 * count(found);
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

/// `ProjectRoleDetails` of a role in a project.
fn role_details(shared: &Shared, site: &Site, project: u16, r: usize) -> Value {
    let role = &site.roles[r];
    json!({
        "self": format!("{}/rest/api/3/project/{}/role/{}", shared.base_url, site.projects[project as usize].id, role.id),
        "name": role.name,
        "id": role.id,
        "description": role.description,
        "admin": role.name == "Administrators",
        "default": role.name == "Developers",
        "roleConfigurable": true,
        "translatedName": role.name,
    })
}

/// `GET project/{projectIdOrKey}/roledetails[?currentMember=true]`: every project role of the site with its
/// details (roles are shared by all projects in Jira Cloud). Only for those who may administer the project
/// (Administer Jira, or the project's Administrators role); to anyone else the project does not exist.
pub(crate) async fn project_role_details(
    State(shared): State<Arc<Shared>>,
    Extension(c): Extension<Caller>,
    params: RawPathParams,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        c.require("read:jira-work")?;
        let site = shared.site();
        let key = param(&params, "projectIdOrKey");
        let p = project_param(&site, &key)?;
        if !site.can_administer_project(c.person, p) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No project could be found with key '{key}'."),
            ));
        }
        let mine = query_value(q.as_deref(), "currentMember").as_deref() == Some("true");
        let held = site.roles_of(c.person, p);
        let body: Vec<Value> = (0..site.roles.len())
            .filter(|&r| !mine || u32::try_from(r).is_ok_and(|r| held.contains(&r)))
            .map(|r| role_details(&shared, &site, p, r))
            .collect();
        Ok(costed(StatusCode::OK, Value::Array(body), 0))
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
    site.is_site_admin(person)
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

/// Jira's page of `values` (a PageBean): where it is, where the next one is unless this is the last, and the
/// total. `url` is the listing's address, with its own query when it has one.
fn page_bean(url: &str, start: usize, max: usize, total: usize, values: Vec<Value>) -> Value {
    let separator = if url.contains('?') { '&' } else { '?' };
    let is_last = start + values.len() >= total;
    let mut body = json!({
        "self": format!("{url}{separator}startAt={start}&maxResults={max}"),
        "maxResults": max,
        "startAt": start,
        "total": total,
        "isLast": is_last,
        "values": Value::Array(values),
    });
    if !is_last {
        body["nextPage"] = json!(format!(
            "{url}{separator}startAt={}&maxResults={max}",
            start + max
        ));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_escaped_around_the_highlighted_match() {
        assert_eq!(
            highlighted("a<b>&team", "team", false),
            "a&lt;b&gt;&amp;<b>team</b>"
        );
        assert_eq!(highlighted("Dev-Ops", "dev", false), "Dev-Ops");
        assert_eq!(highlighted("Dev-Ops", "dev", true), "<b>Dev</b>-Ops");
        assert_eq!(highlighted("\"q\"", "", true), "&quot;q&quot;");
    }

    #[test]
    fn queries_match_the_start_of_a_word() {
        assert!(prefix_of_a_word("Devon Developer", "deve"));
        assert!(prefix_of_a_word("Devon Developer", "devon d"));
        assert!(prefix_of_a_word("Jean-Luc Picard", "luc"));
        assert!(!prefix_of_a_word("Devon Developer", "von"));
    }
}
