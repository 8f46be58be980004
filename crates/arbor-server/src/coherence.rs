//! Keeping the caches of a deployment's nodes coherent (SPEC §1, the PostgreSQL scale-out): a webhook
//! delivery reaches one node, which applies it and appends what it invalidated to storage
//! (`Store::append_invalidation`); every node follows those entries and applies them to its own caches.
//!
//! The follower ([`spawn_follower`], started with the server and stopped with it) reads each served tenant's
//! entries after the last sequence number it saw, every second, applies them to the Jira caches
//! (`arbor_jira::webhook::Invalidation::apply`, the path a local delivery takes) and forgets the tenant's
//! computed forests. It applies its own node's entries too: applying is idempotent, and that costs at most one
//! recomputation. A node begins after the last entry that existed when it started (its caches were empty then).
//! Entries older than a day, and the identities of expired webhook tokens (`webhooks`), are pruned by every
//! node now and then (deleting twice is harmless). Reading a table every second rather than PostgreSQL's
//! LISTEN/NOTIFY: the same code on both engines, and nothing is missed while a node's connection is down (it
//! reads on from where it was).
//!
//! The same follower shares Jira's quota pause (SPEC §2: limit state is shared across nodes): when this node's
//! limiter for a tenant was paused by a quota 429, the pause's end (wall clock) is recorded in storage
//! (`Store::pause_quota`, which keeps the later of two ends); the recorded end pauses every node's limiter
//! until then (`TenantLimiter::pause_until_wall`). So one node meeting the exhausted quota stops the whole
//! deployment's calls to Jira within a second, instead of each node spending calls to learn it.
//!
//! Invariant: entries hold issue ids, field ids and names and a flag; nothing of them is logged.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arbor_core::ids::Timestamp;
use arbor_jira::webhook::Invalidation;
use arbor_store::model::{JiraInvalidation, TenantId};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::{AppState, jira_tenant, now};

/// How often a node reads the entries other nodes appended.
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);
/// Entries read per query.
const PAGE: u32 = 500;
/// How long entries are kept: far longer than any node could lag behind and still be serving.
const KEEP: Duration = Duration::from_secs(24 * 3600);
/// How often a node prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// The stored form of an invalidation.
pub fn to_store(invalidation: &Invalidation) -> JiraInvalidation {
    JiraInvalidation {
        issues: invalidation.issues.clone(),
        fields: invalidation.fields.clone(),
        all_results: invalidation.all_results,
    }
}

/// An invalidation read from storage.
pub fn from_store(stored: JiraInvalidation) -> Invalidation {
    Invalidation {
        issues: stored.issues,
        fields: stored.fields,
        all_results: stored.all_results,
    }
    .bounded()
}

/// Where a node is in each tenant's entries.
#[derive(Debug, Default)]
pub struct Follower {
    /// The last sequence number applied per tenant; absent until the tenant's start could be read.
    after: HashMap<TenantId, u64>,
    /// The latest quota pause end (Unix ms) known to be recorded per tenant, so a pause is recorded once.
    quota_recorded: HashMap<TenantId, i64>,
    last_prune: Option<Instant>,
    /// The last problem reported, so that an outage is logged once rather than every second.
    last_problem: Option<String>,
}

impl Follower {
    /// Begins after each served tenant's last entry (a tenant whose start cannot be read now is begun on the
    /// first tick that can).
    pub async fn start(state: &AppState) -> Self {
        let mut follower = Self::default();
        for site in &state.sites {
            follower.begin(state, site.tenant).await;
        }
        follower
    }

    async fn begin(&mut self, state: &AppState, tenant: TenantId) -> Option<u64> {
        match state.store.last_invalidation(tenant).await {
            Ok(last) => {
                self.after.insert(tenant, last);
                Some(last)
            }
            Err(error) => {
                self.report(&error);
                None
            }
        }
    }

    /// Applies every entry appended since the last call; returns how many were applied.
    pub async fn poll(&mut self, state: &AppState) -> usize {
        let mut applied = 0;
        let mut failed = false;
        for site in &state.sites {
            let tenant = site.tenant;
            failed |= !self.share_quota_pause(state, tenant).await;
            let Some(&(mut after)) = self.after.get(&tenant) else {
                // Not begun yet (storage was unavailable at start): begin after its last entry now.
                failed |= self.begin(state, tenant).await.is_none();
                continue;
            };
            let jira = jira_tenant(tenant);
            loop {
                let entries = match state.store.invalidations(tenant, after, PAGE).await {
                    Ok(entries) => entries,
                    Err(error) => {
                        self.report(&error);
                        failed = true;
                        break;
                    }
                };
                let full = entries.len() >= PAGE as usize;
                for entry in entries {
                    from_store(entry.invalidation)
                        .apply(&state.caches, &jira)
                        .await;
                    after = entry.seq;
                    applied += 1;
                    // Forgotten after each entry's caches are dropped, so that no forest computed from
                    // the older data outlives it.
                    state.computed.forget_tenant(tenant);
                }
                self.after.insert(tenant, after);
                if !full {
                    break;
                }
            }
        }
        if !failed && self.last_problem.take().is_some() {
            tracing::info!("following the other nodes' Jira invalidations again");
        }
        self.prune(state).await;
        applied
    }

    /// Records this node's quota pause of `tenant` if storage does not know it yet, then pauses this node
    /// until the recorded end. False when storage could not be asked.
    async fn share_quota_pause(&mut self, state: &AppState, tenant: TenantId) -> bool {
        let Some(limiter) = state.jira.limiter_of(&jira_tenant(tenant)) else {
            return true;
        };
        if let Some(local) = limiter.paused_until().map(unix_millis) {
            let known = self.quota_recorded.get(&tenant).copied();
            if known.is_none_or(|known| known < local) {
                match state
                    .store
                    .pause_quota(tenant, Timestamp::from_unix_millis(local))
                    .await
                {
                    Ok(recorded) => {
                        self.quota_recorded
                            .insert(tenant, recorded.as_unix_millis());
                        tracing::info!(
                            %tenant,
                            paused_until_ms = recorded.as_unix_millis(),
                            "Jira's quota for this site is exhausted: every node pauses its calls"
                        );
                    }
                    Err(error) => {
                        self.report(&error);
                        return false;
                    }
                }
            }
        }
        match state.store.quota_pause(tenant).await {
            Ok(Some(until)) => {
                let ms = until.as_unix_millis();
                let known = self.quota_recorded.entry(tenant).or_insert(ms);
                *known = (*known).max(ms);
                if let Some(wall) = u64::try_from(ms)
                    .ok()
                    .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
                {
                    limiter.pause_until_wall(wall);
                }
                true
            }
            Ok(None) => true,
            Err(error) => {
                self.report(&error);
                false
            }
        }
    }

    async fn prune(&mut self, state: &AppState) {
        if self
            .last_prune
            .is_some_and(|last| last.elapsed() < PRUNE_EVERY)
        {
            return;
        }
        self.last_prune = Some(Instant::now());
        let keep_ms = i64::try_from(KEEP.as_millis()).unwrap_or(i64::MAX);
        let before = Timestamp::from_unix_millis(now().as_unix_millis().saturating_sub(keep_ms));
        for site in &state.sites {
            if let Err(error) = state.store.prune_invalidations(site.tenant, before).await {
                self.report(&error);
            }
            if let Err(error) = state.store.prune_webhook_tokens(site.tenant, now()).await {
                self.report(&error);
            }
        }
    }

    fn report(&mut self, error: &arbor_store::StoreError) {
        let problem = error.to_string();
        if self.last_problem.as_deref() != Some(problem.as_str()) {
            tracing::warn!(error = %problem, "cannot follow the other nodes' Jira invalidations; retrying every second");
            self.last_problem = Some(problem);
        }
    }
}

/// Runs `follower` every `interval` until `shutdown` turns `true` or its sender is dropped.
pub fn spawn_follower(
    state: AppState,
    mut follower: Follower,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopped(&mut shutdown) => return,
                _ = ticker.tick() => { follower.poll(&state).await; }
            }
        }
    })
}

/// Resolves once `shutdown` is `true` or its sender is gone (nobody could stop us later).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
