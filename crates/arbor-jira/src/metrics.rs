//! Per-tenant counters of what talking to Jira cost: requests, points (2026 model), 429s, cache hits and
//! misses. Lock-free atomics, read by the metrics endpoint through [`Metrics::snapshot`].
//!
//! Invariant: counters only grow; they hold numbers, never ids or values.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::client::TenantId;

/// One tenant's counters.
#[derive(Debug, Default)]
pub struct TenantCounters {
    requests: AtomicU64,
    points: AtomicU64,
    rate_limited: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CounterSnapshot {
    pub requests: u64,
    pub points: u64,
    pub rate_limited: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

impl TenantCounters {
    /// One request sent (an attempt, retries included): 1 request and its base point.
    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.points.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_points(&self, points: u64) {
        self.points.fetch_add(points, Ordering::Relaxed);
    }

    pub(crate) fn count_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_cache(&self, hits: u64, misses: u64) {
        self.cache_hits.fetch_add(hits, Ordering::Relaxed);
        self.cache_misses.fetch_add(misses, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            points: self.points.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
        }
    }
}

/// Every tenant's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    tenants: Mutex<BTreeMap<TenantId, Arc<TenantCounters>>>,
}

impl Metrics {
    /// The counters of `tenant`, created on first use.
    pub fn tenant(&self, tenant: &TenantId) -> Arc<TenantCounters> {
        let mut map = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(tenant.clone()).or_default())
    }

    /// Every tenant's counters, by tenant.
    pub fn snapshot(&self) -> BTreeMap<TenantId, CounterSnapshot> {
        let map = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(t, c)| (t.clone(), c.snapshot())).collect()
    }
}
