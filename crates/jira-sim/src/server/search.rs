//! `search/jql` (GET and POST), `search/approximate-count`, and the retired `search` (410).
//!
//! A first page evaluates the JQL for the caller over the whole site (a query that requires `parent = x` or
//! `parent in (...)` over the children of those parents only, as Jira's index would), keeps the ordered result
//! (issue indices) in a small cache, and hands out `nextPageToken`s that name the cached result, the offset and a
//! checksum of the query, the person and the field selection. Later pages read the cached result, so paging never
//! repeats or skips an issue even while issues change; a token whose result was evicted re-runs the query and
//! resumes at its offset. A token presented with another query, person or fields, or forged, is a 400.
//!
//! Eventual consistency: every write records copies of the issues it touches as they were before it (see
//! [`ChangeLog`]). While a write is younger than `consistency_window_ms`, searches evaluate and order the earlier
//! copy (issues created within the window are not found yet); the issues returned show their current fields, and
//! ids in `reconcileIssues` are always evaluated as they are now.
//!
//! Without `ORDER BY`, results come newest first (issue id descending); ties of an `ORDER BY` are broken the same
//! way.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jql::ast::{Clause, FieldName, Literal, Operand, Operator};
use jql::eval::{EvalContext, Matcher, SortValue, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::http::{
    ApiError, ApiResult, Caller, costed, json_body, query_int, query_value, query_values, respond,
};
use super::{Shared, lock};
use crate::model::{Issue, IssueIdx, Millis, Site, fnv1a64};
use crate::render::{Endpoint, FieldSelection, IssueJson, Renderer};

const UNBOUNDED: &str =
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.";
const BAD_TOKEN: &str = "The provided next page token is invalid or expired.";
/// How many recent changes are remembered for eventual consistency.
const CHANGE_LOG_SIZE: usize = 10_000;
/// How many paged results are kept, and how many issue indices they may hold together (64 MiB).
const PAGE_CACHE_SIZE: usize = 64;
const PAGE_CACHE_IDS: usize = 16 << 20;

/// One write as search remembers it: the issue's copy before the write (`None`: the write created it).
#[derive(Debug, Clone)]
struct Change {
    at: Millis,
    idx: IssueIdx,
    before: Option<Box<Issue>>,
}

/// The last [`CHANGE_LOG_SIZE`] writes, oldest first.
#[derive(Debug, Default)]
pub(crate) struct ChangeLog {
    changes: VecDeque<Change>,
}

impl ChangeLog {
    /// Remembers `idx` as it was before a write at `at` (`None` for a created issue).
    pub(crate) fn record(&mut self, at: Millis, idx: IssueIdx, before: Option<Issue>) {
        if self.changes.len() >= CHANGE_LOG_SIZE {
            self.changes.pop_front();
        }
        self.changes.push_back(Change {
            at,
            idx,
            before: before.map(Box::new),
        });
    }

    /// The oldest pre-write copy of every issue written after `since`.
    fn stale_since(&self, since: Millis) -> HashMap<IssueIdx, Option<Issue>> {
        let mut out = HashMap::new();
        for c in self.changes.iter().filter(|c| c.at > since) {
            out.entry(c.idx)
                .or_insert_with(|| c.before.as_deref().cloned());
        }
        out
    }
}

/// Ordered results of recent searches, by result id.
#[derive(Debug, Default)]
pub(crate) struct PageCache {
    /// Each result with the binding (query, person, fields) it was made for.
    results: HashMap<u64, (u64, Arc<Vec<IssueIdx>>)>,
    order: VecDeque<u64>,
    next: u64,
    ids: usize,
}

impl PageCache {
    /// Keeps a result, evicting the oldest ones beyond the cache's bounds; returns the result's id.
    fn insert(&mut self, binding: u64, result: Arc<Vec<IssueIdx>>) -> u64 {
        self.next += 1;
        self.ids += result.len();
        self.results.insert(self.next, (binding, result));
        self.order.push_back(self.next);
        while self.order.len() > PAGE_CACHE_SIZE
            || (self.ids > PAGE_CACHE_IDS && self.order.len() > 1)
        {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, r)) = self.results.remove(&old) {
                self.ids -= r.len();
            }
        }
        self.next
    }
}

/// The parameters both forms of the search take.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    jql: Option<String>,
    next_page_token: Option<String>,
    max_results: Option<i64>,
    #[serde(default)]
    fields: Vec<String>,
    expand: Option<String>,
    #[serde(default)]
    reconcile_issues: Vec<u64>,
    #[serde(default)]
    #[allow(dead_code)]
    properties: Vec<String>,
    #[allow(dead_code)]
    fields_by_keys: Option<bool>,
    #[allow(dead_code)]
    fail_fast: Option<bool>,
}

pub(crate) async fn search_get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.as_deref();
    let request = (|| -> ApiResult<SearchRequest> {
        let reconcile = query_values(q, "reconcileIssues")
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim().parse().map_err(|_| {
                    ApiError::bad_request("The 'reconcileIssues' parameter must hold issue ids.")
                })
            })
            .collect::<ApiResult<Vec<u64>>>()?;
        Ok(SearchRequest {
            jql: query_value(q, "jql"),
            next_page_token: query_value(q, "nextPageToken"),
            max_results: query_int(q, "maxResults")?,
            fields: query_values(q, "fields"),
            expand: Some(query_values(q, "expand").join(",")),
            reconcile_issues: reconcile,
            ..SearchRequest::default()
        })
    })();
    match request {
        Ok(r) => search(&shared, &caller, r).unwrap_or_else(IntoResponse::into_response),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn search_post(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    match json_body::<SearchRequest>(&body) {
        Ok(r) => search(&shared, &caller, r).unwrap_or_else(IntoResponse::into_response),
        Err(e) => e.into_response(),
    }
}

/// A caller's compiled query, and the only issues it can match when that is known from the query alone.
pub(crate) struct Compiled {
    matcher: Matcher,
    /// `None`: any issue may match, and every one is evaluated.
    candidates: Option<Vec<IssueIdx>>,
}

/// Parses and compiles JQL for a caller, with Jira's 400s.
fn compile(site: &Site, caller: &Caller, jql: Option<&str>, now: Millis) -> ApiResult<Compiled> {
    let jql = jql.unwrap_or("");
    let query = jql::parse(jql).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if query.clause.is_none() {
        return Err(ApiError::bad_request(UNBOUNDED));
    }
    let catalog = site.jql_catalog();
    let mut context = EvalContext::at(Timestamp(now));
    context.current_user = Some(&caller.account_id);
    context.groups = Some(site);
    let matcher = Matcher::compile(&query, &catalog, &context).map_err(|obstacles| {
        let jira: Vec<String> = obstacles
            .iter()
            .filter(|o| o.is_jira_error())
            .map(ToString::to_string)
            .collect();
        let messages = if jira.is_empty() {
            obstacles
                .iter()
                .map(|o| format!("jira-sim cannot evaluate this query: {o} The simulator does not support it; it gives no result rather than a wrong one."))
                .collect()
        } else {
            jira
        };
        ApiError::with_messages(StatusCode::BAD_REQUEST, messages)
    })?;
    Ok(Compiled {
        matcher,
        candidates: query
            .clause
            .as_ref()
            .and_then(|clause| parent_candidates(site, clause)),
    })
}

/// The only issues a condition can match when it requires `parent = x` or `parent in (x, ...)` (as the
/// searches for children do): the children of those parents, as Jira's index would find them. `None` when it
/// requires no such thing, or names a parent that is not one of the site's issues (an issue outside the site can
/// be a parent too): then every issue is evaluated.
fn parent_candidates(site: &Site, clause: &Clause) -> Option<Vec<IssueIdx>> {
    let terminal = match clause {
        Clause::Terminal(terminal) => terminal,
        Clause::And(all) => {
            return all
                .clauses
                .iter()
                .find_map(|clause| parent_candidates(site, clause));
        }
        Clause::Or(_) | Clause::Not(_) => return None,
    };
    let is_parent = matches!(&terminal.field.name, FieldName::Name(name) if name.eq_ignore_ascii_case("parent"))
        && terminal.field.properties.is_empty();
    if !is_parent {
        return None;
    }
    let literals: Vec<&Literal> = match (terminal.operator, &terminal.operand) {
        (Operator::Equals, Some(Operand::Literal(literal))) => vec![literal],
        (Operator::In, Some(Operand::List(list))) => list
            .items
            .iter()
            .map(|item| match item {
                Operand::Literal(literal) => Some(literal),
                _ => None,
            })
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let mut candidates = Vec::new();
    for literal in literals {
        // As the evaluator compares: a number with ids, anything else with keys regardless of case.
        let text = literal.text.as_str();
        let id = text.parse::<u64>().ok();
        let parent = match id {
            Some(id) => site.issue_by_id(id),
            None => site
                .issue_by_key(text)
                .or_else(|| site.issue_by_key(&text.to_ascii_uppercase())),
        }?;
        let outside = site
            .externals
            .iter()
            .any(|e| Some(e.id) == id || e.key.eq_ignore_ascii_case(text));
        if outside {
            return None;
        }
        candidates.extend_from_slice(&site.issue(parent).children);
    }
    candidates.sort_unstable();
    candidates.dedup();
    Some(candidates)
}

/// `SortValue` order as the evaluator defines it: numbers, then times, issue keys, texts.
fn sort_value_cmp(a: &SortValue, b: &SortValue) -> Ordering {
    fn rank(v: &SortValue) -> u8 {
        match v {
            SortValue::Number(_) => 0,
            SortValue::Time(_) => 1,
            SortValue::IssueKey(..) => 2,
            SortValue::Text(_) => 3,
        }
    }
    match (a, b) {
        (SortValue::Number(x), SortValue::Number(y)) => x.total_cmp(y),
        (SortValue::Time(x), SortValue::Time(y)) => x.cmp(y),
        (SortValue::IssueKey(ap, an), SortValue::IssueKey(bp, bn)) => ap.cmp(bp).then(an.cmp(bn)),
        (SortValue::Text(x), SortValue::Text(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The caller's ordered matches, evaluated with the stale copies of recently written issues.
pub(crate) fn run_query(
    shared: &Shared,
    site: &Site,
    caller: &Caller,
    query: &Compiled,
    reconcile: &[u64],
    now: Millis,
) -> Vec<IssueIdx> {
    let window = i64::try_from(shared.controls().consistency_window_ms).unwrap_or(0);
    let mut stale = if window > 0 {
        lock(&shared.changes).stale_since(now - window)
    } else {
        HashMap::new()
    };
    for id in reconcile {
        if let Some(idx) = site.issue_by_id(*id) {
            stale.remove(&idx);
        }
    }
    let matcher = &query.matcher;
    let keys = matcher.sort_keys().len();
    let mut hits: Vec<(Vec<Option<SortValue>>, u64, IssueIdx)> = Vec::new();
    let evaluated: Box<dyn Iterator<Item = IssueIdx>> = match &query.candidates {
        // An earlier copy may have had another parent: those are evaluated too.
        Some(candidates) => Box::new(
            candidates.iter().copied().chain(
                stale
                    .keys()
                    .copied()
                    .filter(|idx| candidates.binary_search(idx).is_err()),
            ),
        ),
        None => Box::new((0..site.issues.len()).map(crate::model::index_u32)),
    };
    for idx in evaluated {
        if !site.can_browse(caller.person, idx) {
            continue;
        }
        let view = match stale.get(&idx) {
            None => site.view(idx),
            Some(None) => continue,
            Some(Some(before)) => site.view_as_of(idx, before),
        };
        if matcher.matches(&view) {
            let values = (0..keys).map(|k| matcher.sort_value(k, &view)).collect();
            hits.push((values, site.issue(idx).id, idx));
        }
    }
    let directions: Vec<bool> = matcher
        .sort_keys()
        .iter()
        .map(|k| k.direction == Some(jql::ast::SortDirection::Desc))
        .collect();
    hits.sort_by(|a, b| {
        for (k, desc) in directions.iter().enumerate() {
            let o = match (&a.0[k], &b.0[k]) {
                (Some(x), Some(y)) => sort_value_cmp(x, y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        b.1.cmp(&a.1)
    });
    hits.into_iter().map(|h| h.2).collect()
}

/// Whether a selection asks only for ids or keys: such pages may hold up to 5000 issues.
fn is_light(fields: &[String]) -> bool {
    let names: Vec<&str> = fields
        .iter()
        .flat_map(|f| f.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    names.iter().all(|f| *f == "id" || *f == "key")
}

fn token_for(shared: &Shared, binding: u64, result: u64, offset: usize) -> String {
    let mac = fnv1a64(format!("{}:{binding}:{result}:{offset}", shared.page_secret).as_bytes());
    format!("{result:012x}{offset:010x}{mac:016x}")
}

fn parse_token(shared: &Shared, token: &str, binding: u64) -> ApiResult<(u64, usize)> {
    let bad = || ApiError::bad_request(BAD_TOKEN);
    if token.len() != 38 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let result = u64::from_str_radix(&token[0..12], 16).map_err(|_| bad())?;
    let offset = usize::from_str_radix(&token[12..22], 16).map_err(|_| bad())?;
    if token_for(shared, binding, result, offset) != token {
        return Err(bad());
    }
    Ok((result, offset))
}

fn search(shared: &Shared, caller: &Caller, request: SearchRequest) -> ApiResult<Response> {
    caller.require("read:jira-work")?;
    if request.reconcile_issues.len() > 50 {
        return Err(ApiError::bad_request(
            "The 'reconcileIssues' parameter accepts at most 50 issue ids.",
        ));
    }
    let light = is_light(&request.fields);
    let cap: i64 = if light { 5000 } else { 100 };
    let max = request.max_results.unwrap_or(50).clamp(1, cap);
    let max = usize::try_from(max).unwrap_or(50);
    let selection = FieldSelection::parse(&request.fields, Endpoint::Search);
    let expand = request.expand.unwrap_or_default();
    let jql = request.jql.unwrap_or_default();
    let binding = fnv1a64(
        format!(
            "{jql}\u{0}{}\u{0}{}\u{0}{expand}",
            caller.account_id,
            request.fields.join(",")
        )
        .as_bytes(),
    );
    let now = shared.now_ms();
    let site = shared.site();
    let query = compile(&site, caller, Some(&jql), now)?;
    let (result_id, offset, result) = match &request.next_page_token {
        Some(token) if !token.is_empty() => {
            let (result_id, offset) = parse_token(shared, token, binding)?;
            let cached = lock(&shared.pages).results.get(&result_id).cloned();
            // A token names a result made for this query, person and fields, and still kept; anything else
            // is refused rather than answered from a different result or a re-run that could skip issues.
            let result = match cached {
                Some((made_for, result)) if made_for == binding => result,
                _ => return Err(ApiError::bad_request(BAD_TOKEN)),
            };
            (result_id, offset, result)
        }
        _ => {
            let result = Arc::new(run_query(
                shared,
                &site,
                caller,
                &query,
                &request.reconcile_issues,
                now,
            ));
            let id = lock(&shared.pages).insert(binding, Arc::clone(&result));
            (id, 0, result)
        }
    };
    let page = result.get(offset..).unwrap_or(&[]);
    let page = &page[..page.len().min(max)];
    let renderer = Renderer::new(&site, Some(caller.person));
    // Permissions are checked on every page, not only when the result was made: an issue deleted or hidden
    // since then is left out.
    let issues: Vec<IssueJson> = page
        .iter()
        .filter(|&&idx| !site.is_deleted(idx) && site.can_browse(caller.person, idx))
        .map(|&idx| renderer.issue(idx, &selection))
        .collect();
    let end = offset + page.len();
    let mut body = Map::new();
    if end < result.len() {
        body.insert(
            "nextPageToken".into(),
            json!(token_for(shared, binding, result_id, end)),
        );
        body.insert("isLast".into(), json!(false));
    } else {
        body.insert("isLast".into(), json!(true));
    }
    add_names_schema(&site, &selection, &expand, &mut body);
    Ok(costed(
        StatusCode::OK,
        SearchPage { issues, rest: body },
        page.len() as u64,
    ))
}

/// A page of `search/jql`: the issues, then the paging members (and `names`, `schema` when expanded).
#[derive(Debug, Serialize)]
struct SearchPage<'a> {
    issues: Vec<IssueJson<'a>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// `expand=names` / `expand=schema`: the selected fields' names and schemas.
pub(crate) fn add_names_schema(
    site: &Site,
    selection: &FieldSelection,
    expand: &str,
    body: &mut Map<String, Value>,
) {
    let wants = |what: &str| expand.split(',').any(|e| e.trim() == what);
    let selected = || {
        site.fields
            .iter()
            .filter(|f| f.id != "issuekey" && !selection.is_ids_only() && selection.wants(f))
    };
    if wants("names") {
        let names: Map<String, Value> = selected()
            .map(|f| (f.id.to_owned(), json!(f.name)))
            .collect();
        body.insert("names".into(), Value::Object(names));
    }
    if wants("schema") {
        let schema: Map<String, Value> = selected()
            .filter_map(|f| {
                Some((
                    f.id.to_owned(),
                    serde_json::to_value(f.schema.as_ref()?).ok()?,
                ))
            })
            .collect();
        body.insert("schema".into(), Value::Object(schema));
    }
}

#[derive(Debug, Default, Deserialize)]
struct CountRequest {
    jql: Option<String>,
}

pub(crate) async fn approximate_count(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(|| {
        caller.require("read:jira-work")?;
        let request: CountRequest = json_body(&body)?;
        let now = shared.now_ms();
        let site = shared.site();
        let query = compile(&site, &caller, request.jql.as_deref(), now)?;
        let count = run_query(&shared, &site, &caller, &query, &[], now).len();
        Ok(costed(StatusCode::OK, json!({ "count": count }), 0))
    })
}

/// The old search: removed from Jira Cloud.
pub(crate) async fn gone() -> Response {
    ApiError::new(
        StatusCode::GONE,
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_cache_evicts_oldest_beyond_its_bounds() {
        let mut cache = PageCache::default();
        let first = cache.insert(7, Arc::new(vec![1, 2, 3]));
        for _ in 0..PAGE_CACHE_SIZE {
            cache.insert(7, Arc::new(vec![4]));
        }
        assert!(!cache.results.contains_key(&first));
        assert_eq!(cache.results.len(), PAGE_CACHE_SIZE);
        assert_eq!(cache.ids, PAGE_CACHE_SIZE);
        let big = cache.insert(7, Arc::new(vec![0; PAGE_CACHE_IDS + 1]));
        assert_eq!(
            cache.results.len(),
            1,
            "a huge result pushes out all others"
        );
        assert!(cache.results.contains_key(&big));
    }

    #[test]
    fn change_log_keeps_the_oldest_copy_within_the_window() {
        let site = crate::synthetic::generate(50, 1);
        let mut log = ChangeLog::default();
        let mut first = site.issue(3).clone();
        first.summary = "first".into();
        let mut second = site.issue(3).clone();
        second.summary = "second".into();
        log.record(100, 3, Some(first));
        log.record(200, 3, Some(second));
        log.record(300, 7, None);
        let stale = log.stale_since(50);
        assert_eq!(stale[&3].as_ref().map(|i| &*i.summary), Some("first"));
        assert!(stale[&7].is_none());
        let later = log.stale_since(150);
        assert_eq!(later[&3].as_ref().map(|i| &*i.summary), Some("second"));
        assert!(log.stale_since(300).is_empty());
    }

    #[test]
    fn sort_values_order_like_the_evaluator() {
        use SortValue::{IssueKey, Number, Text, Time};
        assert_eq!(sort_value_cmp(&Number(1.0), &Number(2.0)), Ordering::Less);
        assert_eq!(
            sort_value_cmp(&IssueKey("a".into(), 9), &IssueKey("a".into(), 10)),
            Ordering::Less
        );
        assert_eq!(
            sort_value_cmp(&Text("b".into()), &Time(5)),
            Ordering::Greater
        );
        assert!(
            is_light(&["id".into(), "key".into()])
                && is_light(&[])
                && !is_light(&["summary".into()])
        );
    }
}
