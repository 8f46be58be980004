//! Issues and links: `GET|PUT|DELETE issue/{idOrKey}`, `POST issue/bulkfetch`, `POST issueLink`,
//! `GET|DELETE issueLink/{id}`, and [`write`], the one path by which the REST API and the admin API change the
//! site.
//!
//! Invariants:
//! - An issue the caller may not browse is answered exactly like one that does not exist.
//! - Every write records the touched issues' earlier copies for search's consistency window, stamps them with
//!   the simulator's clock, and emits the webhook events it causes, in that order, under one write lock.
//! - Editing needs browse permission on the issue (the simulator grants edit and link to whoever can browse).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::http::{
    ApiError, ApiResult, Caller, costed, json_body, query_value, query_values, respond,
};
use super::search::add_names_schema;
use super::webhooks::{self, Event};
use super::{Shared, lock};
use crate::model::{self, IssueIdx, NewIssue, PersonIdx, Site, Target};
use crate::render::{Endpoint, FieldSelection, IssueJson, Renderer, to_value};

/// A change to the site.
#[derive(Debug, Clone)]
pub(crate) enum WriteOp {
    Summary {
        idx: IssueIdx,
        summary: String,
    },
    Parent {
        idx: IssueIdx,
        parent: Option<IssueIdx>,
    },
    AddLink {
        link_type: u16,
        source: IssueIdx,
        destination: IssueIdx,
    },
    RemoveLink {
        id: u64,
    },
    Create(NewIssue),
    Delete {
        idx: IssueIdx,
        with_subtasks: bool,
    },
}

/// What a write made.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Written {
    pub issue: Option<IssueIdx>,
    pub link: Option<u64>,
}

fn link_ends(site: &Site, id: u64) -> Vec<IssueIdx> {
    site.link_by_id(id)
        .map(|l| {
            [l.source, l.destination]
                .into_iter()
                .filter_map(crate::view::local)
                .collect()
        })
        .unwrap_or_default()
}

/// Applies a write for `actor` (None: the admin API), records it and emits its webhooks.
pub(crate) fn write(
    shared: &Shared,
    actor: Option<PersonIdx>,
    op: &WriteOp,
) -> Result<Written, model::Error> {
    let now = shared.now_ms();
    let mut events = Vec::new();
    let (written, deliveries) = {
        let mut site = shared.site_mut();
        site.now = now;
        let touched: Vec<IssueIdx> = match op {
            WriteOp::Summary { idx, .. } => vec![*idx],
            WriteOp::Parent { idx, parent } => {
                let mut v = vec![*idx];
                if let Some(Target::Local(old)) = site.issue(*idx).parent {
                    v.push(old);
                }
                v.extend(parent);
                v
            }
            WriteOp::AddLink {
                source,
                destination,
                ..
            } => vec![*source, *destination],
            WriteOp::RemoveLink { id } => link_ends(&site, *id),
            WriteOp::Create(_) => Vec::new(),
            WriteOp::Delete { idx, .. } => {
                let issue = site.issue(*idx);
                let mut v = vec![*idx];
                v.extend(&issue.children);
                v.extend(issue.parent.and_then(crate::view::local));
                for (_, other, _) in site.links_of(*idx) {
                    v.extend(crate::view::local(other));
                }
                v.sort_unstable();
                v.dedup();
                v
            }
        };
        // A deleted issue's event is decided while the issue still exists.
        let mut deliveries = match op {
            WriteOp::Delete { idx, .. } => {
                let user = actor.map(|p| to_value(Renderer::new(&site, None).user(p)));
                let doomed = std::iter::once(*idx).chain(
                    site.issue(*idx).children.iter().copied().filter(|&c| {
                        site.issue_types[site.issue(c).issue_type as usize].hierarchy_level < 0
                    }),
                );
                let events: Vec<Event> = doomed
                    .map(|i| {
                        Event::issue(
                            "jira:issue_deleted",
                            "issue_deleted",
                            i,
                            user.as_ref(),
                            &[],
                            now,
                        )
                    })
                    .collect();
                webhooks::plan(shared, &site, &events)
            }
            _ => Vec::new(),
        };
        let before: Vec<(IssueIdx, model::Issue)> = touched
            .iter()
            .map(|&i| (i, site.issue(i).clone()))
            .collect();
        let removed_link = match op {
            WriteOp::RemoveLink { id } => site.link_by_id(*id).cloned(),
            _ => None,
        };
        let written = match op {
            WriteOp::Summary { idx, summary } => {
                site.set_summary(*idx, summary).map(|()| Written {
                    issue: Some(*idx),
                    link: None,
                })?
            }
            WriteOp::Parent { idx, parent } => {
                site.set_parent(*idx, *parent).map(|()| Written {
                    issue: Some(*idx),
                    link: None,
                })?
            }
            WriteOp::AddLink {
                link_type,
                source,
                destination,
            } => Written {
                issue: None,
                link: Some(site.add_link(*link_type, *source, *destination)?),
            },
            WriteOp::RemoveLink { id } => {
                site.remove_link(*id)?;
                Written {
                    issue: None,
                    link: Some(*id),
                }
            }
            WriteOp::Create(new) => Written {
                issue: Some(site.create_issue(new)?),
                link: None,
            },
            WriteOp::Delete { idx, with_subtasks } => {
                site.delete_issue(*idx, *with_subtasks)?;
                Written {
                    issue: Some(*idx),
                    link: None,
                }
            }
        };
        {
            let mut changes = lock(&shared.changes);
            for (idx, copy) in &before {
                changes.record(now, *idx, Some(copy.clone()));
            }
            if let (WriteOp::Create(_), Some(idx)) = (op, written.issue) {
                changes.record(now, idx, None);
            }
        }
        let user = actor.map(|p| to_value(Renderer::new(&site, None).user(p)));
        match op {
            WriteOp::Create(_) => {
                if let Some(idx) = written.issue {
                    events.push(Event::issue(
                        "jira:issue_created",
                        "issue_created",
                        idx,
                        user.as_ref(),
                        &[],
                        now,
                    ));
                }
            }
            WriteOp::Summary { idx, summary } => {
                let old = before
                    .first()
                    .map(|(_, i)| i.summary.to_string())
                    .unwrap_or_default();
                let item = json!({"field": "summary", "fieldtype": "jira", "fieldId": "summary",
                    "from": null, "fromString": old, "to": null, "toString": summary.trim()});
                events.push(Event::issue(
                    "jira:issue_updated",
                    "issue_generic",
                    *idx,
                    user.as_ref(),
                    &[item],
                    now,
                ));
            }
            WriteOp::Parent { idx, parent } => {
                let old = before
                    .first()
                    .and_then(|(_, i)| i.parent)
                    .map(|t| site.target_id_key(t));
                let new = parent.map(|p| (site.issue(p).id, site.issue(p).key.to_string()));
                let item = json!({"field": "IssueParentAssociation", "fieldtype": "jira", "fieldId": "parent",
                    "from": old.map(|o| o.0.to_string()), "fromString": old.map(|o| o.1.to_owned()),
                    "to": new.as_ref().map(|n| n.0.to_string()), "toString": new.map(|n| n.1)});
                let old_parent = before
                    .first()
                    .and_then(|(_, i)| i.parent)
                    .and_then(webhooks::local);
                events.push(
                    Event::issue(
                        "jira:issue_updated",
                        "issue_generic",
                        *idx,
                        user.as_ref(),
                        &[item],
                        now,
                    )
                    .mentioning(old_parent.into_iter().chain(*parent)),
                );
            }
            WriteOp::AddLink { .. } | WriteOp::RemoveLink { .. } => {
                let link = match op {
                    WriteOp::RemoveLink { .. } => removed_link,
                    _ => written.link.and_then(|id| site.link_by_id(id).cloned()),
                };
                if let Some(link) = link {
                    let created = matches!(op, WriteOp::AddLink { .. });
                    events.extend(Event::link(&site, &link, created, user.as_ref(), now));
                }
            }
            WriteOp::Delete { .. } => {}
        }
        deliveries.extend(webhooks::plan(shared, &site, &events));
        (written, deliveries)
    };
    webhooks::send(shared, deliveries);
    Ok(written)
}

/// Maps a data-layer error of a write to Jira's answer.
pub(crate) fn write_error(e: &model::Error) -> ApiError {
    match e {
        model::Error::NoIssue(_) => ApiError::issue_not_found(),
        model::Error::NoLink(id) => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No issue link with id '{id}' exists."),
        ),
        model::Error::NoLinkType(t) => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No issue link type with name '{t}' found."),
        ),
        model::Error::InvalidParent(m) => ApiError::field("parent", m.clone()),
        model::Error::InvalidIssue(m) if m.starts_with("summary") => {
            ApiError::field("summary", m.clone())
        }
        other => ApiError::bad_request(other.to_string()),
    }
}

/// A visible issue by id or key for a caller, or 404.
fn visible(site: &Site, caller: &Caller, id_or_key: &str) -> ApiResult<IssueIdx> {
    site.issue_by_id_or_key(id_or_key)
        .or_else(|| site.issue_by_key(&id_or_key.to_uppercase()))
        .filter(|&i| site.can_browse(caller.person, i))
        .ok_or_else(ApiError::issue_not_found)
}

fn path_param(params: &RawPathParams, name: &str) -> String {
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

pub(crate) async fn get_issue(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    params: RawPathParams,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        caller.require("read:jira-work")?;
        let site = shared.site();
        let idx = visible(&site, &caller, &path_param(&params, "issueIdOrKey"))?;
        let selection =
            FieldSelection::parse(&query_values(q.as_deref(), "fields"), Endpoint::Issue);
        let mut issue = to_value(Renderer::new(&site, Some(caller.person)).issue(idx, &selection));
        if let Some(obj) = issue.as_object_mut() {
            let expand = query_values(q.as_deref(), "expand").join(",");
            add_names_schema(&site, &selection, &expand, obj);
        }
        Ok(costed(StatusCode::OK, issue, 1))
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkFetch {
    issue_ids_or_keys: Vec<Value>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    expand: Vec<String>,
}

pub(crate) async fn bulkfetch(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(|| {
        caller.require("read:jira-work")?;
        let request: BulkFetch = json_body(&body)?;
        if request.issue_ids_or_keys.is_empty() {
            return Err(ApiError::bad_request(
                "At least one issue ID or key is required.",
            ));
        }
        if request.issue_ids_or_keys.len() > 100 {
            return Err(ApiError::bad_request(
                "The number of issue IDs or keys must not exceed 100.",
            ));
        }
        let selection = if request.fields.is_empty() {
            FieldSelection::navigable()
        } else {
            FieldSelection::parse(&request.fields, Endpoint::Search)
        };
        let site = shared.site();
        let mut found: Vec<IssueIdx> = Vec::new();
        let mut errors = Vec::new();
        for item in &request.issue_ids_or_keys {
            let text = match item {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            let well_formed = text.parse::<u64>().is_ok()
                || text
                    .rsplit_once('-')
                    .is_some_and(|(p, n)| !p.is_empty() && n.parse::<u64>().is_ok());
            if !well_formed {
                errors.push(json!({ "id": text, "errorMessage": "Issue ID or key is not valid." }));
                continue;
            }
            if let Ok(idx) = visible(&site, &caller, &text)
                && !found.contains(&idx)
            {
                found.push(idx);
            }
        }
        found.sort_by_key(|&i| site.issue(i).id);
        let renderer = Renderer::new(&site, Some(caller.person));
        let issues: Vec<IssueJson> = found
            .iter()
            .map(|&i| renderer.issue(i, &selection))
            .collect();
        let _ = &request.expand;
        Ok(costed(
            StatusCode::OK,
            BulkFetchAnswer {
                issues,
                issue_errors: errors,
            },
            found.len() as u64,
        ))
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkFetchAnswer<'a> {
    issues: Vec<IssueJson<'a>>,
    issue_errors: Vec<Value>,
}

/// An issue reference in a request body: `{"key": ...}` or `{"id": ...}`.
fn issue_ref(site: &Site, caller: &Caller, value: &Value) -> ApiResult<IssueIdx> {
    let text = value
        .get("key")
        .or_else(|| value.get("id"))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    visible(site, caller, &text)
}

/// Checks the per-issue write limits; a refusal is Jira's 429.
fn issue_write_allowed(shared: &Shared, issue_id: u64) -> ApiResult<()> {
    let quota = shared.controls().quota;
    match lock(&shared.limits).write_issue(&quota, issue_id, shared.now_ms()) {
        None => Ok(()),
        Some(refusal) => Err(ApiError::rate_limited(refusal)),
    }
}

pub(crate) async fn edit_issue(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    params: RawPathParams,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    respond(|| {
        caller.require("write:jira-work")?;
        let request: Value = json_body(&body)?;
        let mut ops = Vec::new();
        let (idx, issue_id) = {
            let site = shared.site();
            let idx = visible(&site, &caller, &path_param(&params, "issueIdOrKey"))?;
            let mut changes: Vec<(String, Value)> = Vec::new();
            if let Some(fields) = request.get("fields").and_then(Value::as_object) {
                changes.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            if let Some(update) = request.get("update").and_then(Value::as_object) {
                for (field, operations) in update {
                    for operation in operations.as_array().into_iter().flatten() {
                        match operation.get("set") {
                            Some(v) => changes.push((field.clone(), v.clone())),
                            None => {
                                return Err(ApiError::field(
                                    field,
                                    "The simulator supports only the 'set' operation here.",
                                ));
                            }
                        }
                    }
                }
            }
            for (field, value) in changes {
                match field.as_str() {
                    "summary" => match value.as_str() {
                        Some(s) => ops.push(WriteOp::Summary {
                            idx,
                            summary: s.to_owned(),
                        }),
                        None => {
                            return Err(ApiError::field("summary", "Summary must be a string."));
                        }
                    },
                    "parent" => {
                        let parent = if value.is_null()
                            || value.get("none").is_some()
                            || value.as_object().is_some_and(Map::is_empty)
                        {
                            None
                        } else {
                            Some(issue_ref(&site, &caller, &value).map_err(|_| {
                                ApiError::field("parent", "Could not find issue by id or key.")
                            })?)
                        };
                        ops.push(WriteOp::Parent { idx, parent });
                    }
                    other => {
                        return Err(ApiError::field(
                            other,
                            format!(
                                "Field '{other}' cannot be set. It is not on the appropriate screen, or unknown."
                            ),
                        ));
                    }
                }
            }
            (idx, site.issue(idx).id)
        };
        issue_write_allowed(&shared, issue_id)?;
        for op in &ops {
            write(&shared, Some(caller.person), op).map_err(|e| write_error(&e))?;
        }
        if query_value(q.as_deref(), "returnIssue").as_deref() == Some("true") {
            let site = shared.site();
            let all = FieldSelection::all();
            let issue = Renderer::new(&site, Some(caller.person)).issue(idx, &all);
            return Ok(costed(StatusCode::OK, issue, 1));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

pub(crate) async fn create_link(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(|| {
        caller.require("write:jira-work")?;
        let request: Value = json_body(&body)?;
        let (Some(kind), Some(inward), Some(outward)) = (
            request.get("type"),
            request.get("inwardIssue"),
            request.get("outwardIssue"),
        ) else {
            return Err(ApiError::bad_request(
                "The link needs 'type', 'inwardIssue' and 'outwardIssue'.",
            ));
        };
        let op = {
            let site = shared.site();
            let name = kind
                .get("name")
                .or_else(|| kind.get("id"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let link_type = site.link_type_by_name_or_id(name).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("No issue link type with name '{name}' found."),
                )
            })?;
            let source = issue_ref(&site, &caller, inward)?;
            let destination = issue_ref(&site, &caller, outward)?;
            WriteOp::AddLink {
                link_type,
                source,
                destination,
            }
        };
        if let WriteOp::AddLink {
            source,
            destination,
            ..
        } = &op
        {
            let ids = {
                let site = shared.site();
                [site.issue(*source).id, site.issue(*destination).id]
            };
            for id in ids {
                issue_write_allowed(&shared, id)?;
            }
        }
        write(&shared, Some(caller.person), &op).map_err(|e| write_error(&e))?;
        Ok(StatusCode::CREATED.into_response())
    })
}

/// A link id from the path, visible to the caller (both local ends browsable), or 404/400.
fn visible_link(site: &Site, caller: &Caller, params: &RawPathParams) -> ApiResult<u64> {
    let text = path_param(params, "linkId");
    let id: u64 = text
        .parse()
        .map_err(|_| ApiError::bad_request(format!("The issue link id '{text}' is not valid.")))?;
    let link = site.link_by_id(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No issue link with id '{id}' exists."),
        )
    })?;
    let ok = [link.source, link.destination].iter().all(|t| match t {
        Target::Local(i) => site.can_browse(caller.person, *i),
        Target::External(_) => true,
    });
    if ok {
        Ok(id)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No issue link with id '{id}' exists."),
        ))
    }
}

pub(crate) async fn get_link(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    params: RawPathParams,
) -> Response {
    respond(|| {
        caller.require("read:jira-work")?;
        let site = shared.site();
        let id = visible_link(&site, &caller, &params)?;
        let link = site.link_by_id(id).ok_or_else(ApiError::issue_not_found)?;
        Ok(costed(
            StatusCode::OK,
            Renderer::new(&site, Some(caller.person)).link(link),
            0,
        ))
    })
}

pub(crate) async fn delete_link(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    params: RawPathParams,
) -> Response {
    respond(|| {
        caller.require("write:jira-work")?;
        let id = {
            let site = shared.site();
            visible_link(&site, &caller, &params)?
        };
        write(&shared, Some(caller.person), &WriteOp::RemoveLink { id })
            .map_err(|e| write_error(&e))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

pub(crate) async fn delete_issue(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    params: RawPathParams,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        caller.require("write:jira-work")?;
        let with_subtasks = query_value(q.as_deref(), "deleteSubtasks").as_deref() == Some("true");
        let (idx, issue_id) = {
            let site = shared.site();
            let idx = visible(&site, &caller, &path_param(&params, "issueIdOrKey"))?;
            (idx, site.issue(idx).id)
        };
        issue_write_allowed(&shared, issue_id)?;
        write(
            &shared,
            Some(caller.person),
            &WriteOp::Delete { idx, with_subtasks },
        )
        .map_err(|e| match e {
            model::Error::InvalidIssue(m) => ApiError::bad_request(format!(
                "The issue has subtasks. To delete it, set 'deleteSubtasks' to true. ({m})"
            )),
            other => write_error(&other),
        })?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
