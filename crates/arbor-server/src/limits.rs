//! Request rate limits per client address and per signed-in person: token buckets that refill continuously,
//! sized per minute, kept in memory per node (a per-node limit is what protects a node; Jira's quota is
//! shared separately by arbor-jira).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use arbor_store::model::TenantId;

use crate::config::RequestLimits;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by `K`: `per_minute` requests per minute with bursts of up to a minute's worth.
#[derive(Debug)]
struct Buckets<K> {
    per_minute: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token, or says how long until one is available.
    fn take(&self, key: &K, at: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget buckets that are full again: they carry no information.
            let full = Duration::from_secs(60);
            buckets.retain(|_, b| at.saturating_duration_since(b.updated) < full);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.per_minute,
            updated: at,
        });
        let refill =
            at.saturating_duration_since(bucket.updated).as_secs_f64() * self.per_minute / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(self.per_minute);
        bucket.updated = at;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) * 60.0 / self.per_minute;
            Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(60)))
        }
    }
}

/// The server's request limits.
#[derive(Debug)]
pub struct RateLimits {
    clients: Buckets<IpAddr>,
    people: Buckets<(TenantId, String)>,
}

impl RateLimits {
    pub fn new(config: &RequestLimits) -> Self {
        Self {
            clients: Buckets::new(config.per_client_per_minute),
            people: Buckets::new(config.per_person_per_minute),
        }
    }

    pub fn client(&self, client: IpAddr) -> Result<(), ApiError> {
        self.clients.take(&client, Instant::now()).map_err(|wait| {
            ApiError::too_many(wait, "too many requests from your address; slow down")
        })
    }

    pub fn person(&self, tenant: TenantId, account: &str) -> Result<(), ApiError> {
        self.people
            .take(&(tenant, account.to_owned()), Instant::now())
            .map_err(|wait| {
                ApiError::too_many(wait, "too many requests from your account; slow down")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_over_time() {
        let buckets = Buckets::new(60);
        let start = Instant::now();
        for _ in 0..60 {
            assert!(buckets.take(&1, start).is_ok());
        }
        let wait = buckets.take(&1, start).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(buckets.take(&2, start).is_ok(), "keys are independent");
        let later = start + Duration::from_secs(2);
        assert!(buckets.take(&1, later).is_ok());
        assert!(buckets.take(&1, later).is_ok());
        assert!(buckets.take(&1, later).is_err());
    }
}
