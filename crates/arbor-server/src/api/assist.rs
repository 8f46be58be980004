//! What editors need while people type: JQL and formula checks that point at the error, and the Jira site's
//! fields, issue types, link types and statuses, and issue ids by key (read as the person, cached per person).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arbor_core::formula::Formula;
use arbor_core::generator::is_issue_key;
use arbor_jira::cache::{MetaKind, PeopleKind};
use arbor_jira::client::Credentials;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Body, Param, Query};
use crate::error::{ApiError, ApiResult};
use crate::people;
use crate::session::Caller;
use crate::state::{AppState, jira_tenant};

/// The longest text checked.
const MAX_TEXT: usize = 20_000;

/// A JQL query or a formula to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    pub text: String,
}

/// Whether the text is valid, and if not what is wrong and where.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checked {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// 1-based line of the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column of the error, in characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl Checked {
    fn valid() -> Self {
        Self {
            valid: true,
            message: None,
            line: None,
            column: None,
        }
    }

    fn error(message: String, line: usize, column: usize) -> Self {
        Self {
            valid: false,
            message: Some(message),
            line: Some(line),
            column: Some(column),
        }
    }
}

fn bounded(body: &CheckBody) -> ApiResult<&str> {
    if body.text.len() > MAX_TEXT {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_TEXT} bytes are checked"
        )));
    }
    Ok(&body.text)
}

/// `POST /api/v1/check/jql`: whether a JQL query parses, and where it does not.
#[utoipa::path(post, path = "/api/v1/check/jql", tag = "assist", request_body = CheckBody,
    responses((status = 200, body = Checked)))]
pub async fn check_jql(_caller: Caller, Body(body): Body<CheckBody>) -> ApiResult<Json<Checked>> {
    Ok(Json(match jql::parse(bounded(&body)?) {
        Ok(_) => Checked::valid(),
        Err(error) => Checked::error(error.reason(), error.line, error.column),
    }))
}

/// `POST /api/v1/check/formula`: whether a formula compiles, and where it does not.
#[utoipa::path(post, path = "/api/v1/check/formula", tag = "assist", request_body = CheckBody,
    responses((status = 200, body = Checked)))]
pub async fn check_formula(
    _caller: Caller,
    Body(body): Body<CheckBody>,
) -> ApiResult<Json<Checked>> {
    Ok(Json(match Formula::compile(bounded(&body)?) {
        Ok(_) => Checked::valid(),
        Err(error) => Checked::error(error.message.clone(), error.line, error.column),
    }))
}

/// One of the site's fields, issue types, link types or statuses.
#[derive(Debug, Serialize, ToSchema)]
pub struct Named {
    pub id: String,
    pub name: String,
    /// Fields: the type of their values (`number`, `string`, `user`, `date`, `array`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Link types: how the link reads from the other side (`is blocked by`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inward: Option<String>,
    /// Link types: how the link reads from this side (`blocks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outward: Option<String>,
    /// Fields: the formula variables that read this field (`story_points`), which columns and formulas may
    /// name instead of its id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<String>,
}

/// `GET /api/v1/jira/{kind}`: the site's `fields`, `issue-types`, `link-types` or `statuses`, as Jira
/// lists them to you, sorted by name.
#[utoipa::path(get, path = "/api/v1/jira/{kind}", tag = "assist",
    params(("kind" = String, Path, description = "fields, issue-types, link-types or statuses")),
    responses((status = 200, body = Vec<Named>)))]
pub async fn jira_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Param(kind): Param<String>,
) -> ApiResult<Json<Vec<Named>>> {
    let kind = match kind.as_str() {
        "fields" => MetaKind::Fields,
        "issue-types" => MetaKind::IssueTypes,
        "link-types" => MetaKind::LinkTypes,
        "statuses" => MetaKind::Statuses,
        _ => {
            return Err(ApiError::not_found(
                "ask for fields, issue-types, link-types or statuses",
            ));
        }
    };
    let who = people::credentials(&state, &caller).await?;
    let mut list = site_list(&state, &caller, &who, kind).await?;
    if kind == MetaKind::Fields
        && let Some(site) = state.site(caller.tenant)
    {
        let bindings = crate::compute::bindings(site);
        for field in &mut list {
            field.variables = bindings
                .variables_of(&field.id)
                .into_iter()
                .filter(|variable| *variable != field.id)
                .map(str::to_owned)
                .collect();
        }
    }
    Ok(Json(list))
}

/// The site's fields, issue types, link types or statuses as Jira lists them to the caller (cached per person
/// for the people TTL), sorted by name.
pub async fn site_list(
    state: &AppState,
    caller: &Caller,
    who: &Credentials,
    kind: MetaKind,
) -> ApiResult<Vec<Named>> {
    let site = state
        .site(caller.tenant)
        .ok_or_else(ApiError::unauthorized)?;
    let client = site.loader.client().clone();
    let token = who.token.clone();
    // Per person: what one person's Jira shows (issue types and fields of projects they may browse) is not
    // shown to another.
    let person: Arc<str> = Arc::from(caller.account.as_str());
    let answer = state
        .caches
        .people(
            &jira_tenant(caller.tenant),
            &person,
            PeopleKind::Metadata(kind),
            async move {
                match kind {
                    MetaKind::Fields => client.fields(&token).await,
                    MetaKind::IssueTypes => client.issue_types(&token).await,
                    MetaKind::LinkTypes => client.link_types(&token).await,
                    MetaKind::Statuses => client.statuses(&token).await,
                }
            },
        )
        .await?;
    // Link types come wrapped (`{"issueLinkTypes": [...]}`), the others as lists.
    let list = answer
        .value
        .get("issueLinkTypes")
        .unwrap_or(&answer.value)
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut named: Vec<Named> = list.iter().filter_map(named).collect();
    named.sort_by_key(|n| n.name.to_lowercase());
    Ok(named)
}

fn named(item: &Value) -> Option<Named> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    Some(Named {
        id: text(&item["id"])?,
        name: text(&item["name"])?,
        kind: text(&item["schema"]["type"]),
        inward: text(&item["inward"]),
        outward: text(&item["outward"]),
        variables: Vec::new(),
    })
}

/// The most keys one lookup resolves.
const MAX_KEYS: usize = 50;

/// `?keys=A-1,B-2`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysQuery {
    pub keys: String,
}

/// Issue ids by key, and the keys Jira does not show you (or that do not exist: Jira does not say which; or
/// that name an issue since moved to another key).
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueIds {
    pub ids: BTreeMap<String, u64>,
    pub missing: Vec<String>,
}

/// `GET /api/v1/jira/issue-ids?keys=A-1,B-2`: the ids of issues named by key (up to 50), as Jira shows them
/// to you — what adding issues by key needs, since structures store ids. One Jira call for all the keys
/// (a bulk fetch: a `key in (…)` search would be refused whole for one key that does not exist), each key's
/// answer cached for you alone, and charged to your budget of Jira calls.
#[utoipa::path(get, path = "/api/v1/jira/issue-ids", tag = "assist",
    params(("keys" = String, Query, description = "issue keys, separated by commas")),
    responses((status = 200, body = IssueIds)))]
pub async fn issue_ids(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<KeysQuery>,
) -> ApiResult<Json<IssueIds>> {
    let keys: BTreeSet<String> = query
        .keys
        .split(',')
        .map(|k| k.trim().to_uppercase())
        .filter(|k| !k.is_empty())
        .collect();
    if let Some(bad) = keys.iter().find(|k| !is_issue_key(k)) {
        return Err(ApiError::bad_request(format!(
            "`{}` is not an issue key (like ABC-123)",
            bad.chars().take(40).collect::<String>()
        )));
    }
    if keys.len() > MAX_KEYS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_KEYS} keys at a time"
        )));
    }
    let site = state
        .site(caller.tenant)
        .ok_or_else(ApiError::unauthorized)?;
    let who = people::credentials(&state, &caller).await?;
    state.limits.jira(caller.tenant, caller.account.as_str())?;
    let keys: Vec<String> = keys.into_iter().collect();
    let (answers, report) = site.loader.issue_ids_by_key(&who, &keys).await?;
    state
        .limits
        .spent_jira_calls(caller.tenant, caller.account.as_str(), report.requests);
    let mut found = IssueIds {
        ids: BTreeMap::new(),
        missing: Vec::new(),
    };
    for (key, id) in answers {
        match id {
            Some(id) => {
                found.ids.insert(key, id.get());
            }
            None => found.missing.push(key),
        }
    }
    Ok(Json(found))
}
