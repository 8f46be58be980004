//! What editors need while people type: JQL and formula checks that point at the error, and the Jira site's
//! fields, issue types, link types and statuses, and issue ids by key (read as the person, cached per person).
//!
//! JQL is checked twice: its syntax here, at once and without a Jira call; then, when the syntax is valid, by
//! Jira itself as the person (`jql/parse`, strict), which alone knows whether the projects, fields and values
//! it names exist and may be seen by them. Generators are held to the same: a query Jira refuses or warns
//! about, or a field the site does not have, is refused when the generator is saved.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arbor_core::data::FieldId;
use arbor_core::formula::Formula;
use arbor_core::generator::{Generator, is_issue_key};
use arbor_jira::cache::{MetaKind, PeopleKind};
use arbor_jira::client::{Credentials, JiraError, JqlVerdict};
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
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Checked {
    /// JQL: its syntax is valid and Jira (when it could be asked) had nothing to say against it.
    pub valid: bool,
    /// What is wrong: the syntax error, or Jira's first error or warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// 1-based line of the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column of the error, in characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// JQL: Jira's errors, asked as you — it would refuse the query.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// JQL: Jira's warnings, asked as you — values that do not exist or that you cannot see, by which the
    /// query finds nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// JQL whose syntax is valid but that Jira could not check now: why (Jira unreachable, your budget of
    /// Jira calls spent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchecked: Option<String>,
}

impl Checked {
    fn valid() -> Self {
        Self {
            valid: true,
            ..Self::default()
        }
    }

    fn error(message: String, line: usize, column: usize) -> Self {
        Self {
            valid: false,
            message: Some(message),
            line: Some(line),
            column: Some(column),
            ..Self::default()
        }
    }

    fn jira(verdict: &JqlVerdict) -> Self {
        Self {
            valid: verdict.is_clean(),
            message: verdict
                .errors
                .iter()
                .chain(&verdict.warnings)
                .next()
                .cloned(),
            errors: verdict.errors.clone(),
            warnings: verdict.warnings.clone(),
            ..Self::default()
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

/// `POST /api/v1/check/jql`: whether a JQL query parses, and where it does not; then, when it does, what
/// Jira says of it as you (its errors and warnings: projects, fields or values that do not exist or that you
/// cannot see). Jira's answer is kept a minute per person and query; asking it spends one of your Jira calls.
#[utoipa::path(post, path = "/api/v1/check/jql", tag = "assist", request_body = CheckBody,
    responses((status = 200, body = Checked)))]
pub async fn check_jql(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CheckBody>,
) -> ApiResult<Json<Checked>> {
    let text = bounded(&body)?;
    if let Err(error) = jql::parse(text) {
        return Ok(Json(Checked::error(
            error.reason(),
            error.line,
            error.column,
        )));
    }
    if text.trim().is_empty() {
        return Ok(Json(Checked::valid()));
    }
    Ok(Json(match jira_check(&state, &caller, text).await? {
        JiraCheck::Checked(verdict) => Checked::jira(&verdict),
        JiraCheck::Unchecked(why) => Checked {
            unchecked: Some(why),
            ..Checked::valid()
        },
    }))
}

/// What Jira said of a query as the person, or why it could not be asked.
pub(crate) enum JiraCheck {
    Checked(Arc<JqlVerdict>),
    Unchecked(String),
}

/// Jira's verdict on `query` as the caller (`jql/parse`, strict): from the brief cache per person and query,
/// else one call charged to their budget of Jira calls. Jira unreachable or throttled, or the budget spent, is
/// `Unchecked`; a sign-in Jira no longer accepts is an error (sign in again).
pub(crate) async fn jira_check(
    state: &AppState,
    caller: &Caller,
    query: &str,
) -> ApiResult<JiraCheck> {
    let site = state
        .site(caller.tenant)
        .ok_or_else(ApiError::unauthorized)?;
    let who = people::credentials(state, caller).await?;
    if let Err(refused) = state.limits.jira(caller.tenant, caller.account.as_str()) {
        return Ok(JiraCheck::Unchecked(refused.detail));
    }
    let client = site.loader.client().clone();
    let token = who.token.clone();
    let person: Arc<str> = Arc::from(caller.account.as_str());
    let answer = state
        .caches
        .jql_verdict(&jira_tenant(caller.tenant), &person, query, async move {
            let mut verdicts = client.parse_jql(&token, &[query]).await?;
            verdicts
                .pop()
                .ok_or_else(|| JiraError::Protocol("jql/parse without a verdict".into()))
        })
        .await;
    let charge = |calls| {
        state
            .limits
            .spent_jira_calls(caller.tenant, caller.account.as_str(), calls);
    };
    match answer {
        Ok((verdict, asked)) => {
            charge(u64::from(asked));
            Ok(JiraCheck::Checked(verdict))
        }
        Err(JiraError::Unauthorized) => {
            charge(1);
            Err(JiraError::Unauthorized.into())
        }
        Err(other) => {
            charge(1);
            Ok(JiraCheck::Unchecked(ApiError::from(other).detail))
        }
    }
}

/// A generator as it is stored, once Jira agrees: the query of a JQL generator is one Jira neither refuses
/// nor warns about as the person saving it, and the field of a group or sort generator is one of the site's
/// fields, named by its id or its name (regardless of case) and stored by its id. A 400 in words otherwise,
/// with Jira's messages or the close matches. When Jira cannot be asked, a query whose syntax is valid is
/// kept (the generator shows Jira's answer when it runs); a field cannot be resolved without the site's list.
pub(crate) async fn agreed_by_jira(
    state: &AppState,
    caller: &Caller,
    generator: Generator,
) -> ApiResult<Generator> {
    match generator {
        Generator::InsertJql { ref jql } | Generator::FilterJql { ref jql } => {
            if let JiraCheck::Checked(verdict) = jira_check(state, caller, jql).await? {
                if !verdict.errors.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "Jira refuses this query: {}",
                        verdict.errors.join(" ")
                    )));
                }
                if !verdict.warnings.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "Jira warns about this query, which would find nothing by these values: {}",
                        verdict.warnings.join(" ")
                    )));
                }
            }
            Ok(generator)
        }
        Generator::GroupByField { field } => Ok(Generator::GroupByField {
            field: site_field(state, caller, field.as_str()).await?,
        }),
        Generator::SortByField { field, descending } => Ok(Generator::SortByField {
            field: site_field(state, caller, field.as_str()).await?,
            descending,
        }),
        other => Ok(other),
    }
}

/// The site's field that `typed` names, as the caller's Jira lists them.
async fn site_field(state: &AppState, caller: &Caller, typed: &str) -> ApiResult<FieldId> {
    let who = people::credentials(state, caller).await?;
    let fields = site_list(state, caller, &who, MetaKind::Fields).await?;
    field_id(&fields, typed)
        .map(|id| FieldId::new(&id))
        .map_err(ApiError::bad_request)
}

/// The id of the field `typed` names among `fields`: its id, or its name, regardless of case. Otherwise what
/// is wrong, naming the closest names.
pub(crate) fn field_id(fields: &[Named], typed: &str) -> Result<String, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err("name a field (its name, as Jira shows it, or its id)".into());
    }
    if let Some(exact) = fields.iter().find(|f| f.id == typed) {
        return Ok(exact.id.clone());
    }
    let by_id: Vec<&Named> = fields
        .iter()
        .filter(|f| f.id.eq_ignore_ascii_case(typed))
        .collect();
    if let [one] = by_id.as_slice() {
        return Ok(one.id.clone());
    }
    let lower = typed.to_lowercase();
    let by_name: Vec<&Named> = fields
        .iter()
        .filter(|f| f.name.to_lowercase() == lower)
        .collect();
    match by_name.as_slice() {
        [one] => return Ok(one.id.clone()),
        [] => {}
        several => {
            let ids: Vec<&str> = several.iter().map(|f| f.id.as_str()).collect();
            return Err(format!(
                "several fields are named '{}' ({}); name the one you mean by its id",
                several[0].name,
                ids.join(", ")
            ));
        }
    }
    let shown: String = typed.chars().take(60).collect();
    let mut close: Vec<(usize, &str)> = fields
        .iter()
        .map(|f| (distance(&lower, &f.name.to_lowercase()), f.name.as_str()))
        .filter(|(d, name)| *d <= (name.chars().count() / 3).max(1))
        .collect();
    close.sort_unstable();
    close.dedup_by(|a, b| a.1 == b.1);
    let names: Vec<String> = close
        .iter()
        .take(3)
        .map(|(_, name)| format!("'{name}'"))
        .collect();
    Err(match names.as_slice() {
        [] => format!("no field named '{shown}'; choose one of the site's fields from the list"),
        [one] => format!("no field named '{shown}'; did you mean {one}?"),
        [rest @ .., last] => format!(
            "no field named '{shown}'; did you mean {} or {last}?",
            rest.join(", ")
        ),
    })
}

/// Edits between two texts, a swap of neighbours counting as one (optimal string alignment), in characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: two back, one back, this one.
    let mut before: Vec<usize> = Vec::new();
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut last, row);
    }
    last[b.len()]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn named(id: &str, name: &str) -> Named {
        Named {
            id: id.into(),
            name: name.into(),
            kind: None,
            inward: None,
            outward: None,
            variables: Vec::new(),
        }
    }

    fn site() -> Vec<Named> {
        vec![
            named("status", "Status"),
            named("statuscategory", "Status Category"),
            named("customfield_10016", "Story point estimate"),
            named("customfield_10020", "Sprint"),
            named("customfield_1", "Team"),
            named("customfield_2", "Team"),
        ]
    }

    #[test]
    fn a_field_is_found_by_id_or_by_name_regardless_of_case() {
        let fields = site();
        for typed in ["status", "Status", "STATUS", " status "] {
            assert_eq!(field_id(&fields, typed).as_deref(), Ok("status"), "{typed}");
        }
        assert_eq!(
            field_id(&fields, "story POINT estimate").as_deref(),
            Ok("customfield_10016")
        );
        assert_eq!(
            field_id(&fields, "CustomField_10020").as_deref(),
            Ok("customfield_10020")
        );
        assert_eq!(
            field_id(&fields, "customfield_1").as_deref(),
            Ok("customfield_1")
        );
    }

    #[test]
    fn an_unknown_field_is_refused_with_close_matches() {
        let fields = site();
        assert_eq!(
            field_id(&fields, "Stauts"),
            Err("no field named 'Stauts'; did you mean 'Status'?".into())
        );
        assert_eq!(
            field_id(&fields, "Sprnt"),
            Err("no field named 'Sprnt'; did you mean 'Sprint'?".into())
        );
        assert_eq!(
            field_id(&fields, "Colour"),
            Err("no field named 'Colour'; choose one of the site's fields from the list".into())
        );
        let team = field_id(&fields, "team").unwrap_err();
        assert!(team.contains("customfield_1, customfield_2"), "{team}");
        assert!(field_id(&fields, "  ").is_err());
    }

    #[test]
    fn distance_counts_a_swap_as_one_edit() {
        assert_eq!(distance("stauts", "status"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
