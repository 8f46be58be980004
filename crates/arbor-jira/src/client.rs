//! The typed client for the parts of Jira Cloud REST v3 that arbor uses, called as one person.
//!
//! Every call takes the [`AccessToken`] of the person it is for: there is no client-wide credential, so Jira
//! itself decides what each person sees. Calls go through [`crate::retry`] (idempotent-only retries, backoff
//! with jitter, the per-tenant quota pause and concurrency limit) and are counted in [`crate::metrics`].
//!
//! Invariants:
//! - Tokens travel only in the `Authorization` header: never in a URL, a log line or `Debug` output.
//! - Only the configured base URL is ever contacted; paths are fixed by this module, never taken from input.
//! - Errors say what the caller should do (`Unauthorized` → sign in again) without echoing response bodies
//!   beyond Jira's own error messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arbor_core::data::FieldId;
use arbor_core::ids::IssueId;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use crate::metrics::{Metrics, TenantCounters};
use crate::retry::{RetryPolicy, TenantLimiter};

/// A tenant (one Jira site) as arbor names it; every limit, counter and cache entry is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    pub fn new(id: &str) -> Self {
        Self(Arc::from(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's OAuth access token. `Debug` prints `***`; the text is reachable only through [`ExposeSecret`].
#[derive(Clone)]
pub struct AccessToken(SecretString);

impl AccessToken {
    pub fn new(token: String) -> Self {
        Self(SecretString::from(token))
    }

    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.0.expose_secret())
    }
}

impl ExposeSecret<str> for AccessToken {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// The person a call is made for: their account id (for caches keyed by person) and their token.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub account_id: Arc<str>,
    pub token: AccessToken,
}

impl Credentials {
    pub fn new(account_id: &str, token: AccessToken) -> Self {
        Self {
            account_id: Arc::from(account_id),
            token,
        }
    }
}

/// Where a tenant's REST API lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiBase {
    /// The site itself (`https://example.atlassian.net`), as with the simulator.
    Site(Url),
    /// Through the OAuth gateway: `{gateway}/ex/jira/{cloud_id}` (gateway `https://api.atlassian.com`).
    Cloud { gateway: Url, cloud_id: String },
}

impl ApiBase {
    /// The URL of `rest/api/3/{path}`.
    fn rest(&self, path: &str) -> Result<Url, JiraError> {
        let text = match self {
            Self::Site(site) => {
                format!("{}/rest/api/3/{path}", site.as_str().trim_end_matches('/'))
            }
            Self::Cloud { gateway, cloud_id } => format!(
                "{}/ex/jira/{cloud_id}/rest/api/3/{path}",
                gateway.as_str().trim_end_matches('/')
            ),
        };
        Url::parse(&text)
            .map_err(|_| JiraError::Config("the Jira base URL does not form valid URLs"))
    }
}

/// Why a call failed, phrased as what the caller should do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JiraError {
    #[error("Jira did not accept the sign-in (missing, expired or revoked token): sign in again")]
    Unauthorized,
    #[error("Jira refused this for the signed-in person: {messages:?}")]
    Forbidden { messages: Vec<String> },
    #[error("Jira has no such resource (or does not show it to this person)")]
    NotFound,
    #[error("Jira's rate limit was reached; try again in {} s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("Jira is unavailable: {reason}")]
    Unavailable { reason: String },
    #[error("Jira rejected the request: {messages:?}")]
    BadRequest { messages: Vec<String> },
    #[error("Jira answered in an unexpected way: {0}")]
    Protocol(String),
    #[error("configuration error: {0}")]
    Config(&'static str),
}

impl JiraError {
    /// Whether the data layer may serve earlier data instead (Jira down or throttled, not a refusal).
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::RateLimited { .. })
    }
}

/// How the client behaves; every limit has a safe default.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Connect timeout of every call.
    pub connect_timeout: Duration,
    /// Whole-request timeout of every call.
    pub request_timeout: Duration,
    /// Concurrent calls per tenant.
    pub concurrency: usize,
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            concurrency: 8,
            retry: RetryPolicy::default(),
        }
    }
}

/// What one call is: used by the retry loop to decide whether it may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotence {
    /// Reads (including read-only POSTs such as search and bulkfetch) and idempotent writes.
    Idempotent,
    /// Anything that must not happen twice.
    Once,
}

/// One page of an id-only search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPage {
    pub ids: Vec<IssueId>,
    pub next_page_token: Option<String>,
}

/// The answer of a bulk fetch: the issues as JSON (ascending id) and the ids Jira did not return.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkFetch {
    pub issues: Vec<Value>,
    pub absent: Vec<IssueId>,
}

/// What Jira says of one query under strict validation. A query Jira accepts has neither errors nor warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JqlVerdict {
    /// What makes Jira refuse the query (its syntax, a field that does not exist, …).
    pub errors: Vec<String>,
    /// Values that do not exist or that the person cannot see: the query runs, but finds nothing by them.
    pub warnings: Vec<String>,
}

impl JqlVerdict {
    /// Whether Jira accepts the query without a word.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty() && self.warnings.is_empty()
    }
}

/// How many queries one `jql/parse` call checks.
pub const MAX_PARSED_QUERIES: usize = 100;

/// A person as Jira names them to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraUser {
    pub account_id: String,
    pub display_name: String,
    pub active: bool,
}

/// A Jira group: its id (stable) and name (which can change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraGroup {
    pub group_id: String,
    pub name: String,
}

/// A project role as `roledetails` describes it (roles are shared by every project of a Jira Cloud site).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDetails {
    pub id: u64,
    pub name: String,
    pub description: String,
}

/// The longest text a people or group search sends to Jira, in characters.
pub const MAX_SEARCH_CHARS: usize = 100;
/// How many people or groups one `user/bulk` or `group/bulk` call asks for.
const BULK_CHUNK: usize = 50;

/// A search text: trimmed, 1 to [`MAX_SEARCH_CHARS`] characters, or `BadRequest` saying so.
fn search_text(query: &str) -> Result<&str, JiraError> {
    let query = query.trim();
    let chars = query.chars().count();
    if chars == 0 || chars > MAX_SEARCH_CHARS {
        return Err(JiraError::BadRequest {
            messages: vec![format!(
                "a search needs 1 to {MAX_SEARCH_CHARS} characters (it had {chars})"
            )],
        });
    }
    Ok(query)
}

/// A user object of Jira's, when it is a person's account (apps and service-desk customers cannot sign in to
/// arbor, so they are never offered).
fn user_of(value: &Value) -> Option<JiraUser> {
    let kind = value["accountType"].as_str().unwrap_or("atlassian");
    if kind != "atlassian" {
        return None;
    }
    Some(JiraUser {
        account_id: value["accountId"].as_str()?.to_owned(),
        display_name: value["displayName"].as_str()?.to_owned(),
        active: value["active"].as_bool().unwrap_or(true),
    })
}

fn group_of(value: &Value) -> Option<JiraGroup> {
    Some(JiraGroup {
        group_id: value["groupId"].as_str()?.to_owned(),
        name: value["name"].as_str()?.to_owned(),
    })
}

/// A Jira client for one tenant. Cheap to clone; clones share limits and counters.
#[derive(Clone)]
pub struct JiraClient {
    http: reqwest::Client,
    base: ApiBase,
    tenant: TenantId,
    limiter: Arc<TenantLimiter>,
    counters: Arc<TenantCounters>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraClient")
            .field("base", &self.base)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// Builds the HTTP client every Jira and OAuth call uses: rustls, timeouts, no redirects followed.
pub(crate) fn http_client(config: &ClientConfig) -> Result<reqwest::Client, JiraError> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| JiraError::Config("the HTTP client could not be built"))
}

/// Limits and counters shared by every client of a tenant, so that all calls for one site share one budget.
#[derive(Debug, Default)]
pub struct Tenants {
    limiters: Mutex<HashMap<TenantId, Arc<TenantLimiter>>>,
    pub metrics: Metrics,
}

impl Tenants {
    pub fn new() -> Self {
        Self::default()
    }

    /// The tenant's shared call state, once a client of the tenant exists: its quota pause is what nodes
    /// share ([`TenantLimiter::paused_until`], [`TenantLimiter::pause_until_wall`]).
    pub fn limiter_of(&self, tenant: &TenantId) -> Option<Arc<TenantLimiter>> {
        let map = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(tenant).map(Arc::clone)
    }

    fn limiter(&self, tenant: &TenantId, concurrency: usize) -> Arc<TenantLimiter> {
        let mut map = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry(tenant.clone())
                .or_insert_with(|| Arc::new(TenantLimiter::new(concurrency))),
        )
    }
}

impl JiraClient {
    /// A client for `tenant` at `base`, sharing limits and counters through `tenants`.
    pub fn new(
        tenant: TenantId,
        base: ApiBase,
        config: &ClientConfig,
        tenants: &Tenants,
    ) -> Result<Self, JiraError> {
        Ok(Self {
            http: http_client(config)?,
            limiter: tenants.limiter(&tenant, config.concurrency),
            counters: tenants.metrics.tenant(&tenant),
            base,
            tenant,
            retry: config.retry.clone(),
        })
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn counters(&self) -> &Arc<TenantCounters> {
        &self.counters
    }

    /// One call with retries; `points` estimates its cost in the 2026 model from the answer.
    async fn call(
        &self,
        who: &AccessToken,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotence: Idempotence,
    ) -> Result<Value, JiraError> {
        let mut url = self.base.rest(path)?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let value = crate::retry::execute(
            &self.retry,
            &self.limiter,
            &self.counters,
            idempotence,
            || {
                let mut request = self
                    .http
                    .request(method.clone(), url.clone())
                    .header(reqwest::header::AUTHORIZATION, who.bearer())
                    .header(reqwest::header::ACCEPT, "application/json");
                if let Some(body) = body {
                    request = request.json(body);
                }
                request
            },
        )
        .await?;
        self.counters.add_points(points_of(&value));
        Ok(value)
    }

    async fn get(
        &self,
        who: &AccessToken,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, JiraError> {
        self.call(who, Method::GET, path, query, None, Idempotence::Idempotent)
            .await
    }

    /// One page of `POST search/jql` asking for ids only.
    pub async fn search_ids_page(
        &self,
        who: &AccessToken,
        jql: &str,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<IdPage, JiraError> {
        let mut body = json!({ "jql": jql, "fields": ["id"], "maxResults": max_results });
        if let Some(token) = page_token {
            body["nextPageToken"] = json!(token);
        }
        let answer = self
            .call(
                who,
                Method::POST,
                "search/jql",
                &[],
                Some(&body),
                Idempotence::Idempotent,
            )
            .await?;
        let ids = issue_ids(&answer["issues"])?;
        let next = match answer["isLast"].as_bool() {
            Some(true) => None,
            _ => answer["nextPageToken"].as_str().map(str::to_owned),
        };
        Ok(IdPage {
            ids,
            next_page_token: next,
        })
    }

    /// Every id a query finds, following `nextPageToken` at `max_results` per page.
    pub async fn search_ids(
        &self,
        who: &AccessToken,
        jql: &str,
        max_results: usize,
    ) -> Result<Vec<IssueId>, JiraError> {
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .search_ids_page(who, jql, max_results, token.as_deref())
                .await?;
            ids.extend(page.ids);
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => return Ok(ids),
            }
        }
    }

    /// `POST search/approximate-count`.
    pub async fn approximate_count(&self, who: &AccessToken, jql: &str) -> Result<u64, JiraError> {
        let answer = self
            .call(
                who,
                Method::POST,
                "search/approximate-count",
                &[],
                Some(&json!({ "jql": jql })),
                Idempotence::Idempotent,
            )
            .await?;
        answer["count"]
            .as_u64()
            .ok_or_else(|| JiraError::Protocol("approximate-count without a count".into()))
    }

    /// `POST jql/parse?validation=strict`: Jira's own check of each query as the person — what a search
    /// would refuse (`errors`) and the values that do not exist or that the person cannot see (`warnings`:
    /// "The value 'NOPE' does not exist for the field 'project'."), one verdict per query, in order.
    pub async fn parse_jql(
        &self,
        who: &AccessToken,
        queries: &[&str],
    ) -> Result<Vec<JqlVerdict>, JiraError> {
        if queries.is_empty() || queries.len() > MAX_PARSED_QUERIES || queries.contains(&"") {
            return Err(JiraError::BadRequest {
                messages: vec![format!(
                    "Jira checks 1 to {MAX_PARSED_QUERIES} queries at a time, none of them empty"
                )],
            });
        }
        let answer = self
            .call(
                who,
                Method::POST,
                "jql/parse",
                &[("validation", "strict".to_owned())],
                Some(&json!({ "queries": queries })),
                Idempotence::Idempotent,
            )
            .await?;
        let list = answer["queries"]
            .as_array()
            .filter(|list| list.len() == queries.len())
            .ok_or_else(|| JiraError::Protocol("jql/parse without one answer per query".into()))?;
        let messages = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect()
        };
        Ok(list
            .iter()
            .map(|parsed| JqlVerdict {
                errors: messages(&parsed["errors"]),
                warnings: messages(&parsed["warnings"]),
            })
            .collect())
    }

    /// `POST issue/bulkfetch` of at most 100 issues with these fields.
    pub async fn bulk_fetch(
        &self,
        who: &AccessToken,
        issues: &[IssueId],
        fields: &[FieldId],
    ) -> Result<BulkFetch, JiraError> {
        let ids: Vec<String> = issues.iter().map(|i| i.get().to_string()).collect();
        let fields: Vec<&str> = fields.iter().map(FieldId::as_str).collect();
        let mut answer = self
            .call(
                who,
                Method::POST,
                "issue/bulkfetch",
                &[],
                Some(&json!({ "issueIdsOrKeys": ids, "fields": fields })),
                Idempotence::Idempotent,
            )
            .await?;
        let returned: std::collections::HashSet<IssueId> =
            issue_ids(&answer["issues"])?.into_iter().collect();
        let list = match answer["issues"].take() {
            Value::Array(list) => list,
            _ => Vec::new(),
        };
        let absent = issues
            .iter()
            .copied()
            .filter(|id| !returned.contains(id))
            .collect();
        Ok(BulkFetch {
            issues: list,
            absent,
        })
    }

    /// `GET issue/{id}` with these fields.
    pub async fn issue(
        &self,
        who: &AccessToken,
        issue: IssueId,
        fields: &[FieldId],
    ) -> Result<Value, JiraError> {
        let fields: Vec<&str> = fields.iter().map(FieldId::as_str).collect();
        self.get(
            who,
            &format!("issue/{}", issue.get()),
            &[("fields", fields.join(","))],
        )
        .await
    }

    /// The ids of the issues named by `keys` (at most 100), in one `POST issue/bulkfetch`: each key Jira
    /// shows the person, with its issue's id. A key that names no issue, or one the person may not see, is
    /// left out of the answer — Jira answers a bulk fetch so, where a `key in (…)` search would be refused
    /// whole (400) for one such key. An issue moved since is answered under its new key, so its old key is
    /// left out too.
    pub async fn issue_ids_by_key(
        &self,
        who: &AccessToken,
        keys: &[&str],
    ) -> Result<Vec<(String, IssueId)>, JiraError> {
        if let Some(bad) = keys
            .iter()
            .find(|k| !arbor_core::generator::is_issue_key(k))
        {
            return Err(JiraError::BadRequest {
                messages: vec![format!(
                    "`{}` is not an issue key (like ABC-123)",
                    bad.chars().take(40).collect::<String>()
                )],
            });
        }
        if keys.is_empty() || keys.len() > 100 {
            return Err(JiraError::BadRequest {
                messages: vec![format!(
                    "a bulk fetch names 1 to 100 issues, not {}",
                    keys.len()
                )],
            });
        }
        let answer = self
            .call(
                who,
                Method::POST,
                "issue/bulkfetch",
                &[],
                Some(&json!({ "issueIdsOrKeys": keys, "fields": ["issuekey"] })),
                Idempotence::Idempotent,
            )
            .await?;
        let ids = issue_ids(&answer["issues"])?;
        let list = answer["issues"].as_array().map_or(&[][..], Vec::as_slice);
        list.iter()
            .zip(ids)
            .map(|(issue, id)| match issue["key"].as_str() {
                Some(key) => Ok((key.to_owned(), id)),
                None => Err(JiraError::Protocol("an issue without its key".into())),
            })
            .collect()
    }

    pub async fn fields(&self, who: &AccessToken) -> Result<Value, JiraError> {
        self.get(who, "field", &[]).await
    }

    pub async fn issue_types(&self, who: &AccessToken) -> Result<Value, JiraError> {
        self.get(who, "issuetype", &[]).await
    }

    pub async fn link_types(&self, who: &AccessToken) -> Result<Value, JiraError> {
        self.get(who, "issueLinkType", &[]).await
    }

    pub async fn statuses(&self, who: &AccessToken) -> Result<Value, JiraError> {
        self.get(who, "status", &[]).await
    }

    /// `GET project/search`, every page: the projects this person may browse.
    pub async fn projects(&self, who: &AccessToken) -> Result<Vec<Value>, JiraError> {
        let mut all = Vec::new();
        loop {
            let page = self
                .get(
                    who,
                    "project/search",
                    &[
                        ("startAt", all.len().to_string()),
                        ("maxResults", "100".into()),
                    ],
                )
                .await?;
            let values = page["values"].as_array().cloned().unwrap_or_default();
            let done = values.is_empty() || page["isLast"].as_bool().unwrap_or(true);
            all.extend(values);
            if done {
                return Ok(all);
            }
        }
    }

    pub async fn myself(&self, who: &AccessToken) -> Result<Value, JiraError> {
        self.get(who, "myself", &[]).await
    }

    /// `GET user/groups?accountId=`: the groups of a person.
    pub async fn groups(&self, who: &AccessToken, account_id: &str) -> Result<Value, JiraError> {
        self.get(who, "user/groups", &[("accountId", account_id.to_owned())])
            .await
    }

    /// `GET project/{key}/role`: the project's roles, name → URL.
    pub async fn project_roles(
        &self,
        who: &AccessToken,
        project_key: &str,
    ) -> Result<Value, JiraError> {
        if !project_key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(JiraError::BadRequest {
                messages: vec!["a project key is letters, digits and underscores".into()],
            });
        }
        self.get(who, &format!("project/{project_key}/role"), &[])
            .await
    }

    /// `GET project/{id}/role/{id}`: a project role's actors and whether the person is among them
    /// (`currentUserRole`). Jira Cloud answers this only to people who may administer the project.
    pub async fn project_role(
        &self,
        who: &AccessToken,
        project_id: u64,
        role_id: u64,
    ) -> Result<Value, JiraError> {
        self.get(who, &format!("project/{project_id}/role/{role_id}"), &[])
            .await
    }

    /// `GET user/search?query=`: active people whose name or email address starts with the query (Jira
    /// matches the start of words), at most `max_results`. Jira answers an empty list to people without the
    /// "Browse users and groups" permission.
    pub async fn search_users(
        &self,
        who: &AccessToken,
        query: &str,
        max_results: usize,
    ) -> Result<Vec<JiraUser>, JiraError> {
        let query = search_text(query)?;
        let answer = self
            .get(
                who,
                "user/search",
                &[
                    ("query", query.to_owned()),
                    ("maxResults", max_results.clamp(1, 100).to_string()),
                ],
            )
            .await?;
        let list = answer
            .as_array()
            .ok_or_else(|| JiraError::Protocol("user/search did not answer a list".into()))?;
        Ok(list
            .iter()
            .filter_map(user_of)
            .filter(|u| u.active)
            .collect())
    }

    /// `GET groups/picker?query=&caseInsensitive=true`: groups whose names contain the query, at most
    /// `max_results`. Without "Browse users and groups" Jira finds only a group named exactly so.
    pub async fn find_groups(
        &self,
        who: &AccessToken,
        query: &str,
        max_results: usize,
    ) -> Result<Vec<JiraGroup>, JiraError> {
        let query = search_text(query)?;
        let answer = self
            .get(
                who,
                "groups/picker",
                &[
                    ("query", query.to_owned()),
                    ("maxResults", max_results.clamp(1, 100).to_string()),
                    ("caseInsensitive", "true".into()),
                ],
            )
            .await?;
        let list = answer["groups"]
            .as_array()
            .ok_or_else(|| JiraError::Protocol("groups/picker without groups".into()))?;
        Ok(list.iter().filter_map(group_of).collect())
    }

    /// `GET user/bulk?accountId=…`: the people with these account ids that Jira knows (inactive ones too), in
    /// calls of 50.
    pub async fn users_by_id(
        &self,
        who: &AccessToken,
        account_ids: &[&str],
    ) -> Result<Vec<JiraUser>, JiraError> {
        let mut users = Vec::new();
        for chunk in account_ids.chunks(BULK_CHUNK) {
            let ids = chunk.iter().map(|id| ("accountId", (*id).to_owned()));
            let values = self.all_pages(who, "user/bulk", ids.collect()).await?;
            users.extend(values.iter().filter_map(user_of));
        }
        Ok(users)
    }

    /// `GET group/bulk?groupId=…`: the groups with these ids, in calls of 50. Jira refuses it (`Forbidden`)
    /// to people without "Browse users and groups".
    pub async fn groups_by_id(
        &self,
        who: &AccessToken,
        group_ids: &[&str],
    ) -> Result<Vec<JiraGroup>, JiraError> {
        let mut groups = Vec::new();
        for chunk in group_ids.chunks(BULK_CHUNK) {
            let ids = chunk.iter().map(|id| ("groupId", (*id).to_owned()));
            let values = self.all_pages(who, "group/bulk", ids.collect()).await?;
            groups.extend(values.iter().filter_map(group_of));
        }
        Ok(groups)
    }

    /// Every `values` of a paged answer (`startAt`, `isLast`), asking `BULK_CHUNK` at a time.
    async fn all_pages(
        &self,
        who: &AccessToken,
        path: &str,
        query: Vec<(&str, String)>,
    ) -> Result<Vec<Value>, JiraError> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let mut params = query.clone();
            params.push(("startAt", all.len().to_string()));
            params.push(("maxResults", BULK_CHUNK.to_string()));
            let page = self.get(who, path, &params).await?;
            let values = page["values"]
                .as_array()
                .ok_or_else(|| JiraError::Protocol(format!("{path} without values")))?;
            let done = values.is_empty() || page["isLast"].as_bool().unwrap_or(true);
            all.extend(values.iter().cloned());
            if done {
                return Ok(all);
            }
        }
    }

    /// `GET project/{id}/roledetails`: the project roles with their ids and names. Jira Cloud answers only
    /// those who may administer the project (`NotFound` for anyone else, as for a missing project).
    pub async fn project_role_details(
        &self,
        who: &AccessToken,
        project_id: u64,
    ) -> Result<Vec<RoleDetails>, JiraError> {
        let answer = self
            .get(who, &format!("project/{project_id}/roledetails"), &[])
            .await?;
        let list = answer
            .as_array()
            .ok_or_else(|| JiraError::Protocol("roledetails did not answer a list".into()))?;
        Ok(list
            .iter()
            .filter_map(|role| {
                Some(RoleDetails {
                    id: role["id"].as_u64()?,
                    name: role["name"].as_str()?.to_owned(),
                    description: role["description"].as_str().unwrap_or("").to_owned(),
                })
            })
            .collect())
    }

    /// `GET mypermissions?permissions=…`.
    pub async fn my_permissions(
        &self,
        who: &AccessToken,
        permissions: &[&str],
    ) -> Result<Value, JiraError> {
        self.get(
            who,
            "mypermissions",
            &[("permissions", permissions.join(","))],
        )
        .await
    }

    /// `POST permissions/check`: which of these issues (≤ 1000) the person has `permission` on.
    pub async fn permissions_check(
        &self,
        who: &AccessToken,
        permission: &str,
        issues: &[IssueId],
    ) -> Result<Value, JiraError> {
        let ids: Vec<u64> = issues.iter().map(|i| i.get()).collect();
        self.call(
            who,
            Method::POST,
            "permissions/check",
            &[],
            Some(
                &json!({ "projectPermissions": [{ "permissions": [permission], "issues": ids }] }),
            ),
            Idempotence::Idempotent,
        )
        .await
    }

    /// `POST webhook`: registers dynamic webhooks (not retried: it is not idempotent).
    pub async fn register_webhooks(
        &self,
        who: &AccessToken,
        url: &Url,
        webhooks: &[(Vec<&str>, &str)],
    ) -> Result<Value, JiraError> {
        let list: Vec<Value> = webhooks
            .iter()
            .map(|(events, jql)| json!({ "events": events, "jqlFilter": jql }))
            .collect();
        self.call(
            who,
            Method::POST,
            "webhook",
            &[],
            Some(&json!({ "url": url.as_str(), "webhooks": list })),
            Idempotence::Once,
        )
        .await
    }

    /// `GET webhook`: the app's registered webhooks.
    pub async fn webhooks(&self, who: &AccessToken) -> Result<Value, JiraError> {
        self.get(who, "webhook", &[]).await
    }

    /// `PUT webhook/refresh`: extends these webhooks by 30 days.
    pub async fn refresh_webhooks(
        &self,
        who: &AccessToken,
        ids: &[u64],
    ) -> Result<Value, JiraError> {
        self.call(
            who,
            Method::PUT,
            "webhook/refresh",
            &[],
            Some(&json!({ "webhookIds": ids })),
            Idempotence::Idempotent,
        )
        .await
    }

    /// `DELETE webhook`.
    pub async fn delete_webhooks(&self, who: &AccessToken, ids: &[u64]) -> Result<(), JiraError> {
        self.call(
            who,
            Method::DELETE,
            "webhook",
            &[],
            Some(&json!({ "webhookIds": ids })),
            Idempotence::Idempotent,
        )
        .await
        .map(|_| ())
    }
}

/// The ids of a list of issue objects (`id` as a string, as Jira sends it).
///
/// Jira always sends the list (`"issues": []` when nothing matched). An answer without it (an empty 200 from a
/// proxy or gateway, or JSON of another shape) is a protocol error, never "no issues": read as no issues it
/// would become children lists cached as empty and issues remembered as hidden, shown without any warning.
fn issue_ids(list: &Value) -> Result<Vec<IssueId>, JiraError> {
    let list = list
        .as_array()
        .ok_or_else(|| JiraError::Protocol("an answer without its list of issues".into()))?;
    list.iter()
        .map(|issue| {
            issue["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| issue["id"].as_u64())
                .and_then(|n| IssueId::new(n).ok())
                .ok_or_else(|| JiraError::Protocol("an issue without a numeric id".into()))
        })
        .collect()
}

/// The 2026 cost of an answer: 1 per request (counted by the retry loop) plus 1 per issue object and 2 per
/// user, group or permission object returned.
fn points_of(answer: &Value) -> u64 {
    let count = |v: &Value| v.as_array().map_or(0, Vec::len) as u64;
    if answer.get("issues").is_some() {
        count(&answer["issues"])
    } else if answer.get("fields").is_some() && answer.get("key").is_some() {
        1
    } else if answer.get("groups").is_some() {
        2 * count(&answer["groups"])
    } else if let Some(perms) = answer.get("permissions").and_then(Value::as_object) {
        2 * perms.len() as u64
    } else if answer.is_array()
        && answer
            .get(0)
            .is_some_and(|v| v.get("groupId").is_some() || v.get("accountId").is_some())
    {
        2 * count(answer)
    } else if answer["values"]
        .get(0)
        .is_some_and(|v| v.get("groupId").is_some() || v.get("accountId").is_some())
    {
        2 * count(&answer["values"])
    } else {
        0
    }
}

/// Reads Jira's error body: `errorMessages` and the values of `errors`.
pub(crate) fn error_messages(body: &Value) -> Vec<String> {
    let mut messages: Vec<String> = body["errorMessages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect();
    if let Some(errors) = body["errors"].as_object() {
        messages.extend(
            errors
                .values()
                .filter_map(|m| m.as_str().map(str::to_owned)),
        );
    }
    messages
}

/// Maps a final (non-retried) status to an error.
pub(crate) fn error_for(status: StatusCode, body: &Value, retry_after: Duration) -> JiraError {
    match status {
        StatusCode::UNAUTHORIZED => JiraError::Unauthorized,
        StatusCode::FORBIDDEN => JiraError::Forbidden {
            messages: error_messages(body),
        },
        StatusCode::NOT_FOUND => JiraError::NotFound,
        StatusCode::TOO_MANY_REQUESTS => JiraError::RateLimited { retry_after },
        s if s.is_server_error() => JiraError::Unavailable {
            reason: format!("HTTP {}", s.as_u16()),
        },
        _ => JiraError::BadRequest {
            messages: error_messages(body),
        },
    }
}
