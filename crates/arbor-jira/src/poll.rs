//! Invalidation by polling, where webhooks are not available: every few minutes, ask Jira which issues were
//! updated in the last N minutes (`updated >= "-Nm"`, id-only) and drop them from the caches.
//!
//! The poll runs as one person of the tenant (typically the admin who connected the site), so it sees that
//! person's issues; changes to issues only others can see are covered by the TTL, as without polling.
//! Because a poll cannot tell a new issue from a changed one, any change also drops the tenant's cached query
//! results. The window overlaps the interval (N ≥ interval + 1 minute), so no change falls between polls.
//!
//! Invariant: polling only removes cache entries; it never adds data.

use std::time::Duration;

use crate::cache::Caches;
use crate::client::{Credentials, JiraClient, JiraError};

/// Polls one tenant.
#[derive(Debug, Clone)]
pub struct Poller {
    client: JiraClient,
    caches: Caches,
    interval: Duration,
}

impl Poller {
    /// Polls every `interval` (at least a second; deployments poll in minutes).
    pub fn new(client: JiraClient, caches: Caches, interval: Duration) -> Self {
        Self {
            client,
            caches,
            interval: interval.max(Duration::from_secs(1)),
        }
    }

    /// The query of one poll: the window covers the interval and a minute more.
    pub fn query(&self) -> String {
        let minutes = self.interval.as_secs().div_ceil(60) + 1;
        format!("updated >= \"-{minutes}m\"")
    }

    /// One poll: how many issues were invalidated.
    pub async fn poll_once(&self, who: &Credentials) -> Result<usize, JiraError> {
        let ids = self
            .client
            .search_ids(&who.token, &self.query(), 5000)
            .await?;
        for &id in &ids {
            self.caches.invalidate_issue(self.client.tenant(), id).await;
        }
        if !ids.is_empty() {
            self.caches
                .invalidate_results(self.client.tenant(), |_| true);
        }
        Ok(ids.len())
    }

    /// How often it polls.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}
