//! The executor of the engine's needs protocol: given a person and the [`Needs`] of a run, fill the run's
//! [`IssueData`] from the caches and, for what they lack, from Jira — as that person.
//!
//! What it does for each kind of need:
//! - JQL: the ids come from Jira (id-only searches at the largest page size), cached per person. The loader
//!   never answers an inserting query from cached issues: that would be sound only if the cache were known to
//!   hold *every* issue the query could match for this person, which it cannot know (issues it never saw,
//!   issues created since). Local JQL is left to the engine, which already evaluates filter queries over the
//!   issues it has (`jql::eval::classify`), where the set of candidates is known.
//! - Children: `parent in (...)` id-only searches ([`plan::searches`]); which parent each child has comes from
//!   the children's own `parent` field, fetched in the same bulk fetch as their other fields.
//! - Issues and fields: bulk fetches of 100 ([`plan::Batches`]) with bounded concurrency, only for what is not
//!   cached fresh *and* visible to this person. Issues Jira did not return are recorded as hidden for this
//!   person (`IssueData::insert_hidden`) and remembered as such for the visibility TTL.
//! - The searches and the bulk fetches of a round overlap ([`Round`]): a batch leaves as soon as it is full,
//!   while searches (or a search's later pages) are still under way.
//! - Other structures' rows (`needs.structures`) are the caller's: they come from storage, not from Jira.
//!
//! Invariants:
//! - A cached issue is handed to a person only when Jira showed it to that person within the visibility TTL.
//! - When Jira is unreachable (down, timing out, or throttled past the quota pause), values older than their
//!   TTL but younger than `max_stale` are served and the report says so; Jira's refusals (401, 403, 400) are
//!   never papered over with cached data.
//! - The report states the oldest fetch time of everything used, so responses can state their freshness.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbor_core::data::{FieldId, FieldValue, Issue, IssueData, Needs};
use arbor_core::ids::IssueId;
use futures_util::stream::{self, StreamExt};
use tokio::task::JoinSet;

use crate::cache::{Age, Caches, MetaKind, ResultKey, Seen};
use crate::client::{Credentials, IdPage, JiraClient, JiraError};
use crate::convert::{FieldSchemas, issue_from_json};
use crate::plan::{self, Limits};

/// The ids a search found and how many pages it took.
type SearchOutcome = Result<(Vec<IssueId>, u64), JiraError>;

/// A finished piece of a [`Round`]'s Jira work.
enum Finished {
    /// A page of the round's search number `search`.
    Page {
        search: usize,
        outcome: Result<IdPage, JiraError>,
    },
    /// A bulk fetch of `batch`.
    Batch {
        batch: Vec<IssueId>,
        outcome: Result<Fetched, JiraError>,
    },
}

/// What one bulk fetch brought: the issues converted, the ones Jira did not show, and when.
struct Fetched {
    issues: Vec<Issue>,
    absent: Vec<IssueId>,
    at: Instant,
}

/// How the loader fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderConfig {
    pub limits: Limits,
    /// Bulk fetches under way at once for one load: asked of Jira, or being read and converted. Jira sees at
    /// most the tenant's client `concurrency` of them at once; twice that keeps every one of its call slots
    /// busy while answers are read.
    pub fetch_concurrency: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            fetch_concurrency: 16,
        }
    }
}

/// What one load did and how fresh its data is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Jira requests made (search pages and bulk fetches; retries are counted in the tenant's metrics).
    pub requests: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// When the oldest value used was fetched from Jira; `None` when nothing was used.
    pub oldest: Option<Instant>,
    /// Some value used was older than its TTL, served because Jira was unreachable.
    pub stale: bool,
}

impl LoadReport {
    /// How old the oldest value used is, by the caches' clock.
    pub fn age(&self, caches: &Caches) -> Option<Duration> {
        self.oldest
            .map(|fetched| caches.now().saturating_duration_since(fetched))
    }

    fn used(&mut self, fetched: Instant, age: Age) {
        self.oldest = Some(self.oldest.map_or(fetched, |o| o.min(fetched)));
        if age == Age::Stale {
            self.stale = true;
        }
    }

    /// Adds another load's report (the rounds of one evaluation).
    pub fn add(&mut self, other: &Self) {
        self.requests += other.requests;
        self.cache_hits += other.cache_hits;
        self.cache_misses += other.cache_misses;
        self.stale |= other.stale;
        self.oldest = match (self.oldest, other.oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Loads issue data for people of one tenant.
#[derive(Debug, Clone)]
pub struct Loader {
    client: JiraClient,
    caches: Caches,
    config: LoaderConfig,
}

impl Loader {
    pub fn new(client: JiraClient, caches: Caches, config: LoaderConfig) -> Self {
        Self {
            client,
            caches,
            config,
        }
    }

    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    pub fn client(&self) -> &JiraClient {
        &self.client
    }

    /// Fills `data` with what `needs` asks for, as `who` sees it.
    pub async fn load(
        &self,
        who: &Credentials,
        needs: &Needs,
        data: &mut IssueData,
    ) -> Result<LoadReport, JiraError> {
        // Converting fetched issues needs the site's field list: it is read (once per metadata TTL) while the
        // searches run rather than after them, and given up when the load ends without it. A failure here is
        // reported by the call that needs the list (concurrent reads of it merge).
        let mut field_list = Box::pin(async {
            if !needs.jql.is_empty() || !needs.children.is_empty() || !needs.issues.is_empty() {
                let _ = self.schemas(who).await;
            }
        });
        // Boxed: the load's future is large, and every caller awaits this one.
        let mut load = Box::pin(self.load_as(who, needs, data));
        tokio::select! {
            biased;
            loaded = &mut load => loaded,
            () = &mut field_list => load.await,
        }
    }

    async fn load_as(
        &self,
        who: &Credentials,
        needs: &Needs,
        data: &mut IssueData,
    ) -> Result<LoadReport, JiraError> {
        let mut report = LoadReport::default();
        // The round's queries run concurrently; `buffered` keeps their order, so results are deterministic.
        let answers: Vec<(String, Result<Vec<IssueId>, JiraError>, LoadReport)> =
            stream::iter(needs.jql.iter().cloned())
                .map(|query| async move {
                    let mut report = LoadReport::default();
                    let key = ResultKey::Jql(Arc::from(query.as_str()));
                    let ids = self.ids(who, key, &query, &mut report).await;
                    (query, ids, report)
                })
                .buffered(self.config.fetch_concurrency.max(1))
                .collect()
                .await;
        for (query, ids, answered) in answers {
            report.add(&answered);
            data.insert_jql(&query, ids?);
        }

        // Children: cached lists; the others are searched for, one search per chunk of parents.
        let mut unknown_parents = Vec::new();
        for &parent in &needs.children {
            match self.cached_result(who, &ResultKey::Children(parent)).await {
                Some((ids, fetched, Age::Fresh)) => {
                    report.cache_hits += 1;
                    report.used(fetched, Age::Fresh);
                    data.insert_children(parent, ids);
                }
                _ => {
                    report.cache_misses += 1;
                    unknown_parents.push(parent);
                }
            }
        }
        let mut fields: BTreeSet<FieldId> = needs.fields.clone();
        if !unknown_parents.is_empty() {
            fields.insert(FieldId::new("parent"));
        }
        let searches = plan::children_searches(&unknown_parents, &self.config.limits)
            .into_iter()
            .map(|(parents, jql)| ChildrenSearch::new(parents, jql))
            .collect();
        Round::new(self, who, searches, fields.into_iter().collect())
            .run(&needs.issues, data, &mut report)
            .await?;
        self.client
            .counters()
            .count_cache(report.cache_hits, report.cache_misses);
        Ok(report)
    }

    /// Stores the children lists of `parents` (one search's) from the `found` children, each in the list of the
    /// parent its own `parent` field names, in the search's (rank) order.
    async fn store_children(
        &self,
        who: &Credentials,
        parents: &[IssueId],
        found: &[IssueId],
        data: &mut IssueData,
        report: &mut LoadReport,
    ) {
        let mut lists: HashMap<IssueId, Vec<IssueId>> =
            parents.iter().map(|&parent| (parent, Vec::new())).collect();
        let parent_field = FieldId::new("parent");
        for &child in found {
            let parent = data
                .issue(child)
                .and_then(|i| match i.field(&parent_field) {
                    Some(Some(FieldValue::Issue { id, .. })) => Some(*id),
                    _ => None,
                });
            if let Some(list) = parent.and_then(|parent| lists.get_mut(&parent))
                && !list.contains(&child)
            {
                list.push(child);
            }
        }
        let now = self.caches.now();
        for &parent in parents {
            let children = lists.remove(&parent).unwrap_or_default();
            self.caches
                .put_result(
                    self.client.tenant(),
                    &who.account_id,
                    ResultKey::Children(parent),
                    children.clone(),
                    now,
                )
                .await;
            report.used(now, Age::Fresh);
            data.insert_children(parent, children);
        }
    }

    async fn cached_result(
        &self,
        who: &Credentials,
        key: &ResultKey,
    ) -> Option<(Vec<IssueId>, Instant, Age)> {
        let hit = self
            .caches
            .result(self.client.tenant(), &who.account_id, key)
            .await?;
        let age = self
            .caches
            .age(hit.fetched, self.caches.config().ttls.visibility())?;
        Some((hit.value.clone(), hit.fetched, age))
    }

    /// A JQL query's ids: cached fresh, else from Jira, else (Jira unreachable) cached stale.
    async fn ids(
        &self,
        who: &Credentials,
        key: ResultKey,
        jql: &str,
        report: &mut LoadReport,
    ) -> Result<Vec<IssueId>, JiraError> {
        let cached = self.cached_result(who, &key).await;
        if let Some((ids, fetched, Age::Fresh)) = &cached {
            report.cache_hits += 1;
            report.used(*fetched, Age::Fresh);
            return Ok(ids.clone());
        }
        report.cache_misses += 1;
        match self.search(who, jql).await {
            Ok((ids, pages)) => {
                report.requests += pages;
                let now = self.caches.now();
                self.caches
                    .put_result(self.client.tenant(), &who.account_id, key, ids.clone(), now)
                    .await;
                report.used(now, Age::Fresh);
                Ok(ids)
            }
            Err(error) if error.is_outage() => match cached {
                Some((ids, fetched, _)) => {
                    report.used(fetched, Age::Stale);
                    Ok(ids)
                }
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    /// The ids of the issues that `keys` (issue keys, upper case) name as `who` sees them: `None` for a key Jira
    /// does not show them. Each key's answer is kept per person like a query result, fresh for the visibility
    /// TTL (a key that named nothing may name an issue created since; creations drop every result); the keys
    /// not fresh in the cache are asked in one bulk fetch per 100. While Jira is unreachable, stale answers are
    /// served when every key has one.
    pub async fn issue_ids_by_key(
        &self,
        who: &Credentials,
        keys: &[String],
    ) -> Result<(BTreeMap<String, Option<IssueId>>, LoadReport), JiraError> {
        let mut report = LoadReport::default();
        let mut found = BTreeMap::new();
        let mut unknown = Vec::new();
        let mut stale = Vec::new();
        for key in keys {
            match self
                .cached_result(who, &ResultKey::Key(Arc::from(key.as_str())))
                .await
            {
                Some((ids, fetched, Age::Fresh)) => {
                    report.cache_hits += 1;
                    report.used(fetched, Age::Fresh);
                    found.insert(key.clone(), ids.first().copied());
                }
                cached => {
                    report.cache_misses += 1;
                    stale.extend(
                        cached.map(|(ids, fetched, _)| (key, ids.first().copied(), fetched)),
                    );
                    unknown.push(key.as_str());
                }
            }
        }
        for chunk in unknown.chunks(100) {
            match self.client.issue_ids_by_key(&who.token, chunk).await {
                Ok(answer) => {
                    report.requests += 1;
                    let answered: HashMap<String, IssueId> = answer
                        .into_iter()
                        .map(|(key, id)| (key.to_ascii_uppercase(), id))
                        .collect();
                    let now = self.caches.now();
                    for &key in chunk {
                        let id = answered.get(key).copied();
                        self.caches
                            .put_result(
                                self.client.tenant(),
                                &who.account_id,
                                ResultKey::Key(Arc::from(key)),
                                id.into_iter().collect(),
                                now,
                            )
                            .await;
                        report.used(now, Age::Fresh);
                        found.insert(key.to_owned(), id);
                    }
                }
                Err(error) if error.is_outage() && stale.len() == unknown.len() => {
                    for &(key, id, fetched) in &stale {
                        if !found.contains_key(key) {
                            report.used(fetched, Age::Stale);
                            found.insert(key.clone(), id);
                        }
                    }
                    break;
                }
                Err(error) => return Err(error),
            }
        }
        self.client
            .counters()
            .count_cache(report.cache_hits, report.cache_misses);
        Ok((found, report))
    }

    /// Every page of an id-only search, and how many pages it took.
    async fn search(&self, who: &Credentials, jql: &str) -> SearchOutcome {
        let mut ids = Vec::new();
        let mut pages = 0;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .search_ids_page(
                    &who.token,
                    jql,
                    self.config.limits.ids_per_page,
                    token.as_deref(),
                )
                .await?;
            pages += 1;
            ids.extend(page.ids);
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => return Ok((ids, pages)),
            }
        }
    }

    /// The site's field schemas (metadata cache).
    async fn schemas(&self, who: &Credentials) -> Result<FieldSchemas, JiraError> {
        let list = self
            .caches
            .metadata(
                self.client.tenant(),
                MetaKind::Fields,
                self.client.fields(&who.token),
            )
            .await?;
        FieldSchemas::from_field_list(&list.value).map_err(|e| JiraError::Protocol(e.to_string()))
    }

    /// Puts issue `id` with `fields` into `data` from the caches, when Jira showed it to `who` (or hid it from
    /// them) within the visibility TTL and its cached fields are fresh; false when Jira must be asked.
    async fn take_cached(
        &self,
        who: &Credentials,
        id: IssueId,
        fields: &[FieldId],
        data: &mut IssueData,
        report: &mut LoadReport,
    ) -> bool {
        let tenant = self.client.tenant();
        let ttls = self.caches.config().ttls;
        let seen = self.caches.seen(tenant, &who.account_id, id).await;
        let Some(seen) =
            seen.filter(|s| self.caches.age(s.fetched, ttls.visibility()) == Some(Age::Fresh))
        else {
            report.cache_misses += 1;
            return false;
        };
        if !seen.visible {
            report.cache_hits += 1;
            report.used(seen.fetched, Age::Fresh);
            data.insert_hidden(id);
            return true;
        }
        let cached = self.caches.issue(tenant, id).await.filter(|c| {
            c.covers(fields) && self.caches.age(c.fetched, ttls.issue_fields()) == Some(Age::Fresh)
        });
        match cached {
            Some(entry) => {
                report.cache_hits += 1;
                report.used(entry.fetched.min(seen.fetched), Age::Fresh);
                data.insert_issue(entry.issue.clone());
                true
            }
            None => {
                report.cache_misses += 1;
                false
            }
        }
    }

    /// One bulk fetch as `who`, its issues converted and cached (with what `who` may see), for [`Self::issues`].
    async fn fetch_batch(
        self,
        who: Credentials,
        issues: Vec<IssueId>,
        fields: Arc<[FieldId]>,
        schemas: Arc<FieldSchemas>,
    ) -> Finished {
        let outcome = self
            .fetch_and_convert(&who, &issues, &fields, &schemas)
            .await;
        Finished::Batch {
            batch: issues,
            outcome,
        }
    }

    async fn fetch_and_convert(
        &self,
        who: &Credentials,
        issues: &[IssueId],
        fields: &[FieldId],
        schemas: &FieldSchemas,
    ) -> Result<Fetched, JiraError> {
        let answer = self.client.bulk_fetch(&who.token, issues, fields).await?;
        let tenant = self.client.tenant();
        let at = self.caches.now();
        let mut fetched = Fetched {
            issues: Vec::with_capacity(answer.issues.len()),
            absent: answer.absent,
            at,
        };
        for json in &answer.issues {
            let issue = issue_from_json(json, fields, schemas)
                .map_err(|e| JiraError::Protocol(e.to_string()))?;
            let seen = Seen {
                visible: true,
                fetched: at,
            };
            self.caches
                .put_seen(tenant, &who.account_id, issue.id, seen)
                .await;
            self.caches
                .put_issue(tenant, issue.clone(), fields, at)
                .await;
            fetched.issues.push(issue);
        }
        for &id in &fetched.absent {
            let seen = Seen {
                visible: false,
                fetched: at,
            };
            self.caches
                .put_seen(tenant, &who.account_id, id, seen)
                .await;
        }
        Ok(fetched)
    }

    /// Jira is unreachable: serves these issues from values within `max_stale`, or fails with `error`.
    async fn serve_stale(
        &self,
        who: &Credentials,
        ids: &BTreeSet<IssueId>,
        fields: &[FieldId],
        data: &mut IssueData,
        report: &mut LoadReport,
        error: JiraError,
    ) -> Result<(), JiraError> {
        let tenant = self.client.tenant();
        let issue_ttl = self.caches.config().ttls.issue_fields();
        let seen_ttl = self.caches.config().ttls.visibility();
        for &id in ids {
            let Some(seen) = self.caches.seen(tenant, &who.account_id, id).await else {
                return Err(error);
            };
            if self.caches.age(seen.fetched, seen_ttl).is_none() {
                return Err(error);
            }
            if !seen.visible {
                report.used(seen.fetched, Age::Stale);
                data.insert_hidden(id);
                continue;
            }
            let entry =
                self.caches.issue(tenant, id).await.filter(|c| {
                    c.covers(fields) && self.caches.age(c.fetched, issue_ttl).is_some()
                });
            let Some(entry) = entry else {
                return Err(error);
            };
            report.used(entry.fetched.min(seen.fetched), Age::Stale);
            data.insert_issue(entry.issue.clone());
        }
        Ok(())
    }
}

/// One `parent in (...)` search of a [`Round`], and what it found so far.
struct ChildrenSearch {
    /// The parents it asks for, ascending.
    parents: Vec<IssueId>,
    jql: Arc<str>,
    /// The children found, in the pages' (rank) order.
    found: Vec<IssueId>,
    progress: Progress,
    /// How many of `found`, from the first, are in the round's data: taken from the caches or answered.
    resolved: usize,
}

enum Progress {
    Paging,
    Complete,
    /// Jira could not be asked (unreachable): the parents' stale lists are served, or the load fails.
    Unanswered(JiraError),
}

impl ChildrenSearch {
    fn new(parents: Vec<IssueId>, jql: String) -> Self {
        Self {
            parents,
            jql: Arc::from(jql),
            found: Vec::new(),
            progress: Progress::Paging,
            resolved: 0,
        }
    }
}

/// One load's Jira work after its JQL queries: the children searches, page by page, the bulk fetches of the
/// needed issues and of the children the searches find, and the children lists.
/// - A batch leaves as soon as it is full — while other searches, or a search's next page, are still under way
///   — so the tenant's call slots stay busy and fetching does not wait for the slowest search; the last,
///   partial batch leaves once every search is done.
/// - A search's children lists are stored as soon as all of its children are in (each child's `parent` field
///   says which list it belongs to), searches in order, while later calls are still under way.
struct Round<'a> {
    loader: &'a Loader,
    who: &'a Credentials,
    searches: Vec<ChildrenSearch>,
    /// Searches not started yet.
    waiting: std::ops::Range<usize>,
    /// Searches whose lists are stored: the first `settled`.
    settled: usize,
    /// Search pages and batches under way.
    searching: usize,
    fetching: usize,
    running: JoinSet<Finished>,
    fields: Arc<[FieldId]>,
    /// The site's field schemas, read when the first batch leaves.
    schemas: Option<Arc<FieldSchemas>>,
    /// Every id taken into the round, from the caches or into a batch: each is fetched once.
    taken: HashSet<IssueId>,
    /// The ids in batches not answered yet. (Issues already in the run's data may be among them: an earlier
    /// round may have brought them without a field this one needs.)
    awaited: HashSet<IssueId>,
    batches: plan::Batches,
    /// Issues Jira could not be asked for (unreachable), and why: served stale at the end, or the load fails.
    outage: Option<(Vec<IssueId>, JiraError)>,
}

impl<'a> Round<'a> {
    fn new(
        loader: &'a Loader,
        who: &'a Credentials,
        searches: Vec<ChildrenSearch>,
        fields: Vec<FieldId>,
    ) -> Self {
        Self {
            loader,
            who,
            waiting: 0..searches.len(),
            searches,
            settled: 0,
            searching: 0,
            fetching: 0,
            running: JoinSet::new(),
            fields: Arc::from(fields),
            schemas: None,
            taken: HashSet::new(),
            awaited: HashSet::new(),
            batches: plan::Batches::new(&loader.config.limits),
            outage: None,
        }
    }

    /// Runs the searches, fetches `needed` and what the searches find into `data`, and stores the children
    /// lists.
    async fn run(
        mut self,
        needed: &BTreeSet<IssueId>,
        data: &mut IssueData,
        report: &mut LoadReport,
    ) -> Result<(), JiraError> {
        self.start_searches();
        for &id in needed {
            self.take(id, data, report).await;
        }
        loop {
            self.start_batches().await?;
            let Some(joined) = self.running.join_next().await else {
                break;
            };
            let finished = match joined {
                Ok(finished) => finished,
                Err(stopped) if stopped.is_panic() => {
                    std::panic::resume_unwind(stopped.into_panic())
                }
                Err(stopped) => {
                    return Err(JiraError::Protocol(format!(
                        "a Jira call did not finish: {stopped}"
                    )));
                }
            };
            match finished {
                Finished::Page { search, outcome } => {
                    self.searching -= 1;
                    let page = match outcome {
                        Ok(page) => page,
                        Err(error) if error.is_outage() => {
                            self.searches[search].progress = Progress::Unanswered(error);
                            self.start_searches();
                            self.settle(data, report, false).await?;
                            continue;
                        }
                        Err(error) => return Err(error),
                    };
                    report.requests += 1;
                    for &id in &page.ids {
                        self.take(id, data, report).await;
                    }
                    self.searches[search].found.extend(page.ids);
                    match page.next_page_token {
                        Some(token) => self.search(search, Some(token)),
                        None => {
                            self.searches[search].progress = Progress::Complete;
                            self.start_searches();
                        }
                    }
                }
                Finished::Batch { batch, outcome } => {
                    self.fetching -= 1;
                    let fetched = match outcome {
                        Ok(fetched) => fetched,
                        Err(error) if error.is_outage() => {
                            self.unreachable(batch, error);
                            continue;
                        }
                        Err(error) => return Err(error),
                    };
                    // The next batch leaves before this one's issues are taken in.
                    self.start_batches().await?;
                    for id in &batch {
                        self.awaited.remove(id);
                    }
                    report.requests += 1;
                    report.used(fetched.at, Age::Fresh);
                    for issue in fetched.issues {
                        data.insert_issue(issue);
                    }
                    for id in fetched.absent {
                        data.insert_hidden(id);
                    }
                }
            }
            self.settle(data, report, false).await?;
        }
        if let Some((ids, error)) = self.outage.take() {
            // Children found only by searches Jira did not finish are needed by nothing: their parents' stale
            // lists are served instead.
            let answered: HashSet<IssueId> = self
                .searches
                .iter()
                .filter(|search| matches!(search.progress, Progress::Complete))
                .flat_map(|search| search.found.iter().copied())
                .collect();
            let ids: BTreeSet<IssueId> = ids
                .into_iter()
                .filter(|id| needed.contains(id) || answered.contains(id))
                .collect();
            self.loader
                .serve_stale(self.who, &ids, &self.fields, data, report, error)
                .await?;
        }
        self.settle(data, report, true).await
    }

    /// Takes `id` into the round: from the caches when they may answer, else into a batch.
    async fn take(&mut self, id: IssueId, data: &mut IssueData, report: &mut LoadReport) {
        if self.taken.insert(id)
            && !self
                .loader
                .take_cached(self.who, id, &self.fields, data, report)
                .await
        {
            self.batches.push(id);
            self.awaited.insert(id);
        }
    }

    fn start_searches(&mut self) {
        while self.searching < self.loader.config.fetch_concurrency.max(1) {
            let Some(search) = self.waiting.next() else {
                return;
            };
            self.search(search, None);
        }
    }

    /// Asks for a page of search number `search`: its first, or the one `token` names.
    fn search(&mut self, search: usize, token: Option<String>) {
        let client = self.loader.client.clone();
        let access = self.who.token.clone();
        let jql = Arc::clone(&self.searches[search].jql);
        let per_page = self.loader.config.limits.ids_per_page;
        self.running.spawn(async move {
            let outcome = client
                .search_ids_page(&access, &jql, per_page, token.as_deref())
                .await;
            Finished::Page { search, outcome }
        });
        self.searching += 1;
    }

    /// Starts the batches that are ready, up to the fetch concurrency.
    async fn start_batches(&mut self) -> Result<(), JiraError> {
        let searches_done = self.searching == 0 && self.waiting.is_empty();
        while self.fetching < self.loader.config.fetch_concurrency.max(1) {
            let Some(batch) = self
                .batches
                .full()
                .or_else(|| searches_done.then(|| self.batches.rest()).flatten())
            else {
                return Ok(());
            };
            let schemas = match &self.schemas {
                Some(schemas) => Arc::clone(schemas),
                // The field list could not be read: Jira is unreachable.
                None if self.outage.is_some() => {
                    if let Some((ids, _)) = &mut self.outage {
                        ids.extend(batch);
                    }
                    continue;
                }
                None => match self.loader.schemas(self.who).await {
                    Ok(schemas) => Arc::clone(self.schemas.insert(Arc::new(schemas))),
                    Err(error) if error.is_outage() => {
                        self.unreachable(batch, error);
                        continue;
                    }
                    Err(error) => return Err(error),
                },
            };
            self.running.spawn(self.loader.clone().fetch_batch(
                self.who.clone(),
                batch,
                Arc::clone(&self.fields),
                schemas,
            ));
            self.fetching += 1;
        }
        Ok(())
    }

    /// Jira could not be asked for `batch`.
    fn unreachable(&mut self, batch: Vec<IssueId>, error: JiraError) {
        self.outage
            .get_or_insert_with(|| (Vec::new(), error))
            .0
            .extend(batch);
    }

    /// Stores the children lists of the searches whose children are all in, in order; at the end of the round
    /// (`last`), of every search. A search Jira did not answer has its parents' stale lists, or the load
    /// fails.
    async fn settle(
        &mut self,
        data: &mut IssueData,
        report: &mut LoadReport,
        last: bool,
    ) -> Result<(), JiraError> {
        while let Some(search) = self.searches.get_mut(self.settled) {
            match &search.progress {
                Progress::Paging => return Ok(()),
                Progress::Unanswered(error) => {
                    for &parent in &search.parents {
                        let Some((ids, fetched, _)) = self
                            .loader
                            .cached_result(self.who, &ResultKey::Children(parent))
                            .await
                        else {
                            return Err(error.clone());
                        };
                        report.used(fetched, Age::Stale);
                        data.insert_children(parent, ids);
                    }
                }
                Progress::Complete => {
                    search.resolved += search.found[search.resolved..]
                        .iter()
                        .take_while(|id| !self.awaited.contains(id))
                        .count();
                    if search.resolved < search.found.len() && !last {
                        return Ok(());
                    }
                    self.loader
                        .store_children(self.who, &search.parents, &search.found, data, report)
                        .await;
                }
            }
            self.settled += 1;
        }
        Ok(())
    }
}
