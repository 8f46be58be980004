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
//! - Issues and fields: bulk fetches of 100 ([`plan::bulk_fetches`]) with bounded concurrency, only for what
//!   is not cached fresh *and* visible to this person. Issues Jira did not return are recorded as hidden for
//!   this person (`IssueData::insert_hidden`) and remembered as such for the visibility TTL.
//! - Other structures' rows (`needs.structures`) are the caller's: they come from storage, not from Jira.
//!
//! Invariants:
//! - A cached issue is handed to a person only when Jira showed it to that person within the visibility TTL.
//! - When Jira is unreachable (down, timing out, or throttled past the quota pause), values older than their
//!   TTL but younger than `max_stale` are served and the report says so; Jira's refusals (401, 403, 400) are
//!   never papered over with cached data.
//! - The report states the oldest fetch time of everything used, so responses can state their freshness.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbor_core::data::{FieldId, FieldValue, Issue, IssueData, Needs};
use arbor_core::ids::IssueId;
use futures_util::stream::{self, StreamExt};
use tokio::task::JoinSet;

use crate::cache::{Age, Caches, MetaKind, ResultKey, Seen};
use crate::client::{Credentials, JiraClient, JiraError};
use crate::convert::{FieldSchemas, issue_from_json};
use crate::plan::{self, Call, Limits};

/// The ids a search found and how many pages it took.
type SearchOutcome = Result<(Vec<IssueId>, u64), JiraError>;

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

        // Children: cached lists, and one search per chunk of the others.
        let mut unknown_parents = BTreeSet::new();
        for &parent in &needs.children {
            match self.cached_result(who, &ResultKey::Children(parent)).await {
                Some((ids, fetched, Age::Fresh)) => {
                    report.cache_hits += 1;
                    report.used(fetched, Age::Fresh);
                    data.insert_children(parent, ids);
                }
                _ => {
                    report.cache_misses += 1;
                    unknown_parents.insert(parent);
                }
            }
        }
        let mut found_children: Vec<IssueId> = Vec::new();
        let mut fields: BTreeSet<FieldId> = needs.fields.clone();
        if !unknown_parents.is_empty() {
            let children_needs = Needs {
                children: unknown_parents.clone(),
                ..Needs::default()
            };
            // The chunks' searches run concurrently; `buffered` keeps their order, so results are deterministic.
            let queries: Vec<String> = plan::searches(&children_needs, &self.config.limits)
                .into_iter()
                .filter_map(|call| match call {
                    Call::SearchIds { jql } => Some(jql),
                    Call::BulkFetch { .. } => None,
                })
                .collect();
            let outcomes: Vec<(String, SearchOutcome)> = stream::iter(queries)
                .map(|jql| async move {
                    let outcome = self.search(who, &jql).await;
                    (jql, outcome)
                })
                .buffered(self.config.fetch_concurrency.max(1))
                .collect()
                .await;
            for (jql, outcome) in outcomes {
                match outcome {
                    Ok((ids, pages)) => {
                        report.requests += pages;
                        found_children.extend(ids);
                    }
                    Err(error) if error.is_outage() => {
                        // Serve the stale lists of this chunk's parents, or fail.
                        for parent in chunk_parents(&jql, &unknown_parents) {
                            let Some((ids, fetched, _)) =
                                self.cached_result(who, &ResultKey::Children(parent)).await
                            else {
                                return Err(error);
                            };
                            report.used(fetched, Age::Stale);
                            data.insert_children(parent, ids);
                            unknown_parents.remove(&parent);
                        }
                    }
                    Err(error) => return Err(error),
                }
            }
            fields.insert(FieldId::new("parent"));
        }

        // Issues: the needed ones and the children just found, with every needed field.
        let mut wanted: BTreeSet<IssueId> = needs.issues.clone();
        wanted.extend(found_children.iter().copied());
        let fields: Vec<FieldId> = fields.into_iter().collect();
        self.issues(who, &wanted, &fields, data, &mut report)
            .await?;

        if !unknown_parents.is_empty() {
            let mut by_parent: HashMap<IssueId, Vec<IssueId>> = HashMap::new();
            let parent_field = FieldId::new("parent");
            for &child in &found_children {
                let parent = data
                    .issue(child)
                    .and_then(|i| match i.field(&parent_field) {
                        Some(Some(FieldValue::Issue { id, .. })) => Some(*id),
                        _ => None,
                    });
                if let Some(parent) = parent.filter(|p| unknown_parents.contains(p)) {
                    let list = by_parent.entry(parent).or_default();
                    if !list.contains(&child) {
                        list.push(child);
                    }
                }
            }
            let now = self.caches.now();
            for parent in unknown_parents {
                let children = by_parent.remove(&parent).unwrap_or_default();
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
        self.client
            .counters()
            .count_cache(report.cache_hits, report.cache_misses);
        Ok(report)
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

    /// Puts `wanted` with `fields` into `data`: cached when fresh and visible to `who`, else bulk-fetched.
    async fn issues(
        &self,
        who: &Credentials,
        wanted: &BTreeSet<IssueId>,
        fields: &[FieldId],
        data: &mut IssueData,
        report: &mut LoadReport,
    ) -> Result<(), JiraError> {
        let tenant = self.client.tenant();
        let issue_ttl = self.caches.config().ttls.issue_fields();
        let seen_ttl = self.caches.config().ttls.visibility();
        let mut missing = BTreeSet::new();
        for &id in wanted {
            let seen = self.caches.seen(tenant, &who.account_id, id).await;
            let seen_age = seen.and_then(|s| self.caches.age(s.fetched, seen_ttl));
            match (seen, seen_age) {
                (Some(seen), Some(Age::Fresh)) if !seen.visible => {
                    report.cache_hits += 1;
                    report.used(seen.fetched, Age::Fresh);
                    data.insert_hidden(id);
                }
                (Some(seen), Some(Age::Fresh)) => {
                    let cached = self.caches.issue(tenant, id).await.filter(|c| {
                        c.covers(fields)
                            && self.caches.age(c.fetched, issue_ttl) == Some(Age::Fresh)
                    });
                    match cached {
                        Some(entry) => {
                            report.cache_hits += 1;
                            report.used(entry.fetched.min(seen.fetched), Age::Fresh);
                            data.insert_issue(entry.issue.clone());
                        }
                        None => {
                            report.cache_misses += 1;
                            missing.insert(id);
                        }
                    }
                }
                _ => {
                    report.cache_misses += 1;
                    missing.insert(id);
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let schemas = match self.schemas(who).await {
            Ok(schemas) => schemas,
            Err(error) if error.is_outage() => {
                return self
                    .serve_stale(who, &missing, fields, data, report, error)
                    .await;
            }
            Err(error) => return Err(error),
        };
        let field_set: BTreeSet<FieldId> = fields.iter().cloned().collect();
        let mut calls = plan::bulk_fetches(&missing, &field_set, &self.config.limits)
            .into_iter()
            .filter_map(|call| match call {
                Call::BulkFetch { issues, fields } => Some((issues, fields)),
                Call::SearchIds { .. } => None,
            });
        let converted: Arc<[FieldId]> = Arc::from(fields);
        let schemas = Arc::new(schemas);
        // Each batch is fetched and converted in a task of its own, so that reading and converting answers uses
        // every core while other batches wait for Jira. Dropping the set (an error, a cancelled load) aborts
        // the batches still running.
        let mut running = JoinSet::new();
        let mut start_next = |running: &mut JoinSet<_>| {
            if let Some((issues, requested)) = calls.next() {
                running.spawn(self.clone().fetch_batch(
                    who.clone(),
                    issues,
                    requested,
                    Arc::clone(&converted),
                    Arc::clone(&schemas),
                ));
            }
        };
        for _ in 0..self.config.fetch_concurrency.max(1) {
            start_next(&mut running);
        }
        let mut outage: Option<(Vec<IssueId>, JiraError)> = None;
        while let Some(joined) = running.join_next().await {
            let (batch, answer) = match joined {
                Ok(done) => done,
                Err(stopped) if stopped.is_panic() => {
                    std::panic::resume_unwind(stopped.into_panic())
                }
                Err(stopped) => {
                    return Err(JiraError::Protocol(format!(
                        "a bulk fetch did not finish: {stopped}"
                    )));
                }
            };
            let fetched = match answer {
                Ok(fetched) => fetched,
                Err(error) if error.is_outage() => {
                    start_next(&mut running);
                    let entry = outage.get_or_insert_with(|| (Vec::new(), error));
                    entry.0.extend(batch);
                    continue;
                }
                Err(error) => return Err(error),
            };
            // The next batch starts before this one's issues are taken in.
            start_next(&mut running);
            report.requests += 1;
            report.used(fetched.at, Age::Fresh);
            for issue in fetched.issues {
                data.insert_issue(issue);
            }
            for id in fetched.absent {
                data.insert_hidden(id);
            }
        }
        match outage {
            None => Ok(()),
            Some((batch, error)) => {
                let batch: BTreeSet<IssueId> = batch.into_iter().collect();
                self.serve_stale(who, &batch, fields, data, report, error)
                    .await
            }
        }
    }

    /// One bulk fetch as `who`, its issues converted and cached (with what `who` may see), for [`Self::issues`].
    async fn fetch_batch(
        self,
        who: Credentials,
        issues: Vec<IssueId>,
        requested: Vec<FieldId>,
        converted: Arc<[FieldId]>,
        schemas: Arc<FieldSchemas>,
    ) -> (Vec<IssueId>, Result<Fetched, JiraError>) {
        let answer = self
            .client
            .bulk_fetch(&who.token, &issues, &requested)
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => return (issues, Err(error)),
        };
        let tenant = self.client.tenant();
        let at = self.caches.now();
        let mut fetched = Fetched {
            issues: Vec::with_capacity(answer.issues.len()),
            absent: answer.absent,
            at,
        };
        for json in &answer.issues {
            let issue = match issue_from_json(json, &converted, &schemas) {
                Ok(issue) => issue,
                Err(e) => return (issues, Err(JiraError::Protocol(e.to_string()))),
            };
            let seen = Seen {
                visible: true,
                fetched: at,
            };
            self.caches
                .put_seen(tenant, &who.account_id, issue.id, seen)
                .await;
            self.caches
                .put_issue(tenant, issue.clone(), &converted, at)
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
        (issues, Ok(fetched))
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

/// The parents a `parent in (...)` query names, among `parents`.
fn chunk_parents(jql: &str, parents: &BTreeSet<IssueId>) -> Vec<IssueId> {
    let inside = jql
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("", |(list, _)| list);
    inside
        .split(',')
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .filter_map(|n| IssueId::new(n).ok())
        .filter(|id| parents.contains(id))
        .collect()
}
