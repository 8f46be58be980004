//! The in-memory caches (moka): issue fields per (tenant, issue), visibility per (tenant, person, issue),
//! query results per (tenant, person, query or issue key), metadata per tenant and groups/roles per person.
//!
//! Invariants:
//! - Memory only, bounded: issue entries are weighed (a weigher over an estimate of their size) against
//!   [`CacheConfig::max_issue_bytes`]; the other caches are bounded by entry count.
//! - Every value carries the instant it was fetched. An entry younger than its kind's TTL is *fresh*; an older
//!   one is kept until `max_stale` so that it can be served, marked stale, while Jira is unreachable — never
//!   when Jira answers.
//! - Field values are shared across people, but the loader hands an issue to a person only when that person's
//!   visibility entry for it is fresh: Jira has shown it to *them* within the TTL.
//! - TTLs are between 1 minute and 24 hours; anything else is a configuration error.
//! - Invalidation is idempotent: invalidating what is not cached does nothing.
//! - Concurrent loads of one metadata or people entry are merged (`try_get_with`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arbor_core::data::{FieldId, Issue, IssueData};
use arbor_core::ids::IssueId;
use moka::future::Cache;
use serde_json::Value;

use crate::client::{JiraError, JqlVerdict, TenantId};

const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// A TTL outside 1 minute – 24 hours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the cache TTL of {kind} is {seconds} s; it must be between 60 s (1 minute) and 86400 s (24 hours)"
)]
pub struct TtlError {
    pub kind: &'static str,
    pub seconds: u64,
}

/// How long each kind of data stays fresh (SPEC §2 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    issue_fields: Duration,
    visibility: Duration,
    people: Duration,
    metadata: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Self {
            issue_fields: Duration::from_secs(60),
            visibility: Duration::from_secs(60),
            people: Duration::from_secs(300),
            metadata: Duration::from_secs(6 * 3600),
        }
    }
}

impl Ttls {
    /// Issue fields, per-person visibility (and query results), groups and roles, metadata.
    pub fn new(
        issue_fields: Duration,
        visibility: Duration,
        people: Duration,
        metadata: Duration,
    ) -> Result<Self, TtlError> {
        for (kind, ttl) in [
            ("issue fields", issue_fields),
            ("visibility", visibility),
            ("groups and roles", people),
            ("metadata", metadata),
        ] {
            if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
                return Err(TtlError {
                    kind,
                    seconds: ttl.as_secs(),
                });
            }
        }
        Ok(Self {
            issue_fields,
            visibility,
            people,
            metadata,
        })
    }

    pub fn issue_fields(&self) -> Duration {
        self.issue_fields
    }

    pub fn visibility(&self) -> Duration {
        self.visibility
    }
}

/// Sizes and ages of the caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    pub ttls: Ttls,
    /// How old data may be and still be served (marked stale) while Jira is unreachable.
    pub max_stale: Duration,
    /// Memory bound of the issue cache, in estimated bytes.
    pub max_issue_bytes: u64,
    /// Entry bound of the visibility and result caches.
    pub max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttls: Ttls::default(),
            max_stale: Duration::from_secs(3600),
            max_issue_bytes: 512 * 1024 * 1024,
            max_entries: 10_000_000,
        }
    }
}

/// A value with the instant it was fetched from Jira.
#[derive(Debug, Clone)]
pub struct Timed<T> {
    pub value: T,
    pub fetched: Instant,
}

/// What a person's view of an issue was when Jira last answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub visible: bool,
    pub fetched: Instant,
}

/// What a query result is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResultKey {
    /// The ids a JQL query returned, in Jira's order.
    Jql(Arc<str>),
    /// The children of an issue through `parent`.
    Children(IssueId),
    /// The issue an issue key names, as one id; none when Jira does not show the person such an issue.
    Key(Arc<str>),
}

/// Metadata kinds cached per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaKind {
    Fields,
    IssueTypes,
    LinkTypes,
    Statuses,
}

/// Per-person data cached per (tenant, person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeopleKind {
    Groups,
    Myself,
    /// Whether the person is in a project role: `project/{project}/role/{role}` as them.
    ProjectRole {
        project: u64,
        role: u64,
    },
    /// Metadata as Jira lists it to the person (fields and issue types depend on the projects they may
    /// browse), for what is shown to them.
    Metadata(MetaKind),
    /// The projects the person may browse (`project/search`).
    Projects,
    /// A project's roles with their names, as Jira describes them to the person (`roledetails`: only to
    /// those who may administer the project).
    RoleDetails {
        project: u64,
    },
}

/// How fresh a cached value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    Fresh,
    /// Older than the TTL but within `max_stale`: only for when Jira is unreachable.
    Stale,
}

type PersonKey = (TenantId, Arc<str>);

/// Every cache of the Jira layer.
#[derive(Clone)]
pub struct Caches {
    config: CacheConfig,
    issues: Cache<(TenantId, IssueId), Arc<CachedIssue>>,
    visibility: Cache<(PersonKey, IssueId), Seen>,
    results: Cache<(PersonKey, ResultKey), Arc<Timed<Vec<IssueId>>>>,
    metadata: Cache<(TenantId, MetaKind), Arc<Timed<Value>>>,
    people: Cache<(PersonKey, PeopleKind), Arc<Timed<Value>>>,
    /// Jira's verdict on a query, per person and query text.
    jql_verdicts: Cache<(PersonKey, Arc<str>), Arc<JqlVerdict>>,
    /// Added to the clock: lets tests and benchmarks age entries without waiting.
    skew_ms: Arc<AtomicU64>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("config", &self.config)
            .field("issues", &self.issues.entry_count())
            .finish_non_exhaustive()
    }
}

/// One cached issue: the fields fetched for it, and when.
#[derive(Debug, Clone)]
pub struct CachedIssue {
    pub issue: Issue,
    /// Every field this entry answers (including `issuelinks` and `subtasks`).
    pub fields: Vec<FieldId>,
    pub fetched: Instant,
}

impl CachedIssue {
    /// Whether this entry answers every one of `fields`.
    pub fn covers(&self, fields: &[FieldId]) -> bool {
        fields.iter().all(|f| self.fields.contains(f))
    }

    /// An estimate of the entry's memory: key and fixed overheads per field and link.
    fn weight(&self) -> u32 {
        let links = self.issue.links().map_or(0, <[_]>::len);
        let subtasks = self.issue.subtasks().map_or(0, <[_]>::len);
        let estimate =
            256 + self.issue.key.len() + 96 * self.fields.len() + 96 * links + 16 * subtasks;
        u32::try_from(estimate).unwrap_or(u32::MAX)
    }
}

impl Caches {
    pub fn new(config: CacheConfig) -> Self {
        // Entries live until they may no longer be served even as stale; freshness is checked on read.
        let keep = |ttl: Duration| ttl.max(config.max_stale);
        Self {
            issues: Cache::builder()
                .max_capacity(config.max_issue_bytes)
                .weigher(|_, v: &Arc<CachedIssue>| v.weight())
                .time_to_live(keep(config.ttls.issue_fields))
                .build(),
            visibility: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(keep(config.ttls.visibility))
                .build(),
            results: Cache::builder()
                .max_capacity(config.max_entries / 100 + 1000)
                .time_to_live(keep(config.ttls.visibility))
                .support_invalidation_closures()
                .build(),
            metadata: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(keep(config.ttls.metadata))
                .build(),
            people: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(keep(config.ttls.people))
                .build(),
            // Brief: what a person may see, and so which values exist for them, changes at the pace of
            // visibility.
            jql_verdicts: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(config.ttls.visibility)
                .build(),
            config,
            skew_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The caches' clock.
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.skew_ms.load(Ordering::Relaxed))
    }

    /// Moves the caches' clock forward: every entry ages by `by` (tests, benchmarks).
    pub fn advance_clock(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skew_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Fresh, stale (servable only during an outage) or gone.
    pub fn age(&self, fetched: Instant, ttl: Duration) -> Option<Age> {
        let age = self.now().saturating_duration_since(fetched);
        if age < ttl {
            Some(Age::Fresh)
        } else if age < self.config.max_stale.max(ttl) {
            Some(Age::Stale)
        } else {
            None
        }
    }

    // ---- Issues -------------------------------------------------------------------------------------------

    pub async fn issue(&self, tenant: &TenantId, id: IssueId) -> Option<Arc<CachedIssue>> {
        self.issues.get(&(tenant.clone(), id)).await
    }

    /// Stores a fetched issue with the `fields` that were asked for. Fields a fresh earlier entry had and
    /// this fetch did not ask for are kept, and the entry's fetch time is then the older of the two (its age
    /// is that of its oldest field).
    pub async fn put_issue(
        &self,
        tenant: &TenantId,
        issue: Issue,
        fields: &[FieldId],
        fetched: Instant,
    ) {
        let key = (tenant.clone(), issue.id);
        let entry = match self.issues.get(&key).await {
            Some(old)
                if self.age(old.fetched, self.config.ttls.issue_fields) == Some(Age::Fresh) =>
            {
                let mut all = fields.to_vec();
                let mut kept_old = false;
                for field in &old.fields {
                    if !all.contains(field) {
                        all.push(field.clone());
                        kept_old = true;
                    }
                }
                let mut data = IssueData::new();
                data.insert_issue(old.issue.clone());
                data.insert_issue(issue);
                let Some(merged) = data.issues().next().cloned() else {
                    return;
                };
                CachedIssue {
                    issue: merged,
                    fields: all,
                    fetched: if kept_old {
                        old.fetched.min(fetched)
                    } else {
                        fetched
                    },
                }
            }
            _ => CachedIssue {
                issue,
                fields: fields.to_vec(),
                fetched,
            },
        };
        self.issues.insert(key, Arc::new(entry)).await;
    }

    /// Drops an issue's fields (idempotent).
    pub async fn invalidate_issue(&self, tenant: &TenantId, id: IssueId) {
        self.issues.invalidate(&(tenant.clone(), id)).await;
    }

    // ---- Visibility ---------------------------------------------------------------------------------------

    pub async fn seen(&self, tenant: &TenantId, person: &Arc<str>, id: IssueId) -> Option<Seen> {
        self.visibility
            .get(&((tenant.clone(), Arc::clone(person)), id))
            .await
    }

    pub async fn put_seen(&self, tenant: &TenantId, person: &Arc<str>, id: IssueId, seen: Seen) {
        self.visibility
            .insert(((tenant.clone(), Arc::clone(person)), id), seen)
            .await;
    }

    // ---- Query results ------------------------------------------------------------------------------------

    pub async fn result(
        &self,
        tenant: &TenantId,
        person: &Arc<str>,
        key: &ResultKey,
    ) -> Option<Arc<Timed<Vec<IssueId>>>> {
        self.results
            .get(&((tenant.clone(), Arc::clone(person)), key.clone()))
            .await
    }

    pub async fn put_result(
        &self,
        tenant: &TenantId,
        person: &Arc<str>,
        key: ResultKey,
        ids: Vec<IssueId>,
        fetched: Instant,
    ) {
        self.results
            .insert(
                ((tenant.clone(), Arc::clone(person)), key),
                Arc::new(Timed {
                    value: ids,
                    fetched,
                }),
            )
            .await;
    }

    /// Drops every person's cached results of `tenant` that `affected` selects (idempotent).
    pub fn invalidate_results(
        &self,
        tenant: &TenantId,
        affected: impl Fn(&ResultKey) -> bool + Send + Sync + 'static,
    ) {
        let tenant = tenant.clone();
        let outcome = self
            .results
            .invalidate_entries_if(move |((t, _), key), _| *t == tenant && affected(key));
        if outcome.is_err() {
            // Cannot happen (closures are enabled above); invalidate everything rather than serve old results.
            self.results.invalidate_all();
        }
    }

    // ---- Metadata and people ------------------------------------------------------------------------------

    /// A tenant's metadata, loaded with `load` when missing or older than its TTL; concurrent loads merge.
    pub async fn metadata<F>(
        &self,
        tenant: &TenantId,
        kind: MetaKind,
        load: F,
    ) -> Result<Arc<Timed<Value>>, JiraError>
    where
        F: Future<Output = Result<Value, JiraError>>,
    {
        let key = (tenant.clone(), kind);
        self.load_merged(&self.metadata, key, self.config.ttls.metadata, load)
            .await
    }

    /// A person's groups, profile or project-role membership, loaded with `load` when missing or old; concurrent loads merge.
    pub async fn people<F>(
        &self,
        tenant: &TenantId,
        person: &Arc<str>,
        kind: PeopleKind,
        load: F,
    ) -> Result<Arc<Timed<Value>>, JiraError>
    where
        F: Future<Output = Result<Value, JiraError>>,
    {
        let key = ((tenant.clone(), Arc::clone(person)), kind);
        self.load_merged(&self.people, key, self.config.ttls.people, load)
            .await
    }

    /// Jira's verdict on `query` for `person`, loaded with `load` when not checked within the visibility TTL;
    /// concurrent checks of one query merge, and failures are not kept. Also says whether `load` ran (a call
    /// to charge to the person).
    pub async fn jql_verdict<F>(
        &self,
        tenant: &TenantId,
        person: &Arc<str>,
        query: &str,
        load: F,
    ) -> Result<(Arc<JqlVerdict>, bool), JiraError>
    where
        F: Future<Output = Result<JqlVerdict, JiraError>>,
    {
        let key = ((tenant.clone(), Arc::clone(person)), Arc::from(query));
        let loaded = std::sync::atomic::AtomicBool::new(false);
        let verdict = self
            .jql_verdicts
            .try_get_with(key, async {
                loaded.store(true, Ordering::Relaxed);
                load.await.map(Arc::new)
            })
            .await
            .map_err(|e| (*e).clone())?;
        Ok((verdict, loaded.load(Ordering::Relaxed)))
    }

    /// A value of `cache` younger than `ttl`, else loaded with `load`; concurrent loads of one key merge.
    async fn load_merged<K, F>(
        &self,
        cache: &Cache<K, Arc<Timed<Value>>>,
        key: K,
        ttl: Duration,
        load: F,
    ) -> Result<Arc<Timed<Value>>, JiraError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        F: Future<Output = Result<Value, JiraError>>,
    {
        if let Some(hit) = cache.get(&key).await {
            match self.age(hit.fetched, ttl) {
                Some(Age::Fresh) => return Ok(hit),
                _ => cache.invalidate(&key).await,
            }
        }
        let fetched = self.now();
        cache
            .try_get_with(key, async move {
                load.await.map(|value| Arc::new(Timed { value, fetched }))
            })
            .await
            .map_err(|e| (*e).clone())
    }
}

/// Whether `issue` holds `field` (links and sub-tasks are kept apart from the other fields).
pub fn has(issue: &Issue, field: &FieldId) -> bool {
    match field.as_str() {
        "issuelinks" => issue.links().is_some(),
        "subtasks" => issue.subtasks().is_some(),
        _ => issue.has_field(field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_must_be_between_a_minute_and_a_day() {
        let m = Duration::from_secs(60);
        assert!(Ttls::new(m, m, m, Duration::from_secs(86_400)).is_ok());
        let err = Ttls::new(Duration::from_secs(59), m, m, m).unwrap_err();
        assert_eq!(err.kind, "issue fields");
        assert!(err.to_string().contains("between 60 s"));
        assert!(Ttls::new(m, m, m, Duration::from_secs(86_401)).is_err());
    }

    #[tokio::test]
    async fn entries_age_from_fresh_to_stale_to_gone() {
        let caches = Caches::new(CacheConfig {
            max_stale: Duration::from_secs(600),
            ..CacheConfig::default()
        });
        let tenant = TenantId::new("t");
        let id = IssueId::new(5).unwrap();
        let issue = Issue::new(id, "A-5").with("summary", arbor_core::data::FieldValue::text("x"));
        caches
            .put_issue(&tenant, issue, &[FieldId::new("summary")], caches.now())
            .await;
        let hit = caches.issue(&tenant, id).await.unwrap();
        let ttl = caches.config().ttls.issue_fields();
        assert_eq!(caches.age(hit.fetched, ttl), Some(Age::Fresh));
        caches.advance_clock(Duration::from_secs(61));
        assert_eq!(caches.age(hit.fetched, ttl), Some(Age::Stale));
        caches.advance_clock(Duration::from_secs(600));
        assert_eq!(caches.age(hit.fetched, ttl), None);
        caches.invalidate_issue(&tenant, id).await;
        caches.invalidate_issue(&tenant, id).await;
        assert!(caches.issue(&tenant, id).await.is_none());
    }

    #[tokio::test]
    async fn groups_are_kept_per_person_loaded_once_at_a_time_and_again_after_their_ttl() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let caches = Caches::new(CacheConfig::default());
        let tenant = TenantId::new("t");
        let loads = AtomicUsize::new(0);
        let groups_of = |person: &'static str| {
            let loads = &loads;
            let person: Arc<str> = Arc::from(person);
            let caches = caches.clone();
            let tenant = tenant.clone();
            async move {
                let value = caches
                    .people(&tenant, &person, PeopleKind::Groups, async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        // Slow enough for concurrent askers to meet the load in flight.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(serde_json::json!([format!("{person}-team")]))
                    })
                    .await
                    .unwrap();
                value.value.clone()
            }
        };
        // Concurrent askers for one person share one load.
        let (a, b) = tokio::join!(groups_of("ada"), groups_of("ada"));
        assert_eq!(a, serde_json::json!(["ada-team"]));
        assert_eq!(a, b);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        // Within the TTL: from the cache. Another person: their own load and their own groups.
        assert_eq!(groups_of("ada").await, serde_json::json!(["ada-team"]));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(groups_of("bo").await, serde_json::json!(["bo-team"]));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        // After the TTL: loaded again.
        caches.advance_clock(caches.config().ttls.people + Duration::from_secs(1));
        groups_of("ada").await;
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }
}
