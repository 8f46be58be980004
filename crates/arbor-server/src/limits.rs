//! Request rate limits per client address and per signed-in person: token buckets that refill continuously,
//! sized per minute, kept in memory per node (a per-node limit is what protects a node; Jira's quota is
//! shared separately by arbor-jira).
//!
//! A person also has a budget of Jira calls: one request may cost Jira many calls (a window of a large
//! structure, a lookup of 50 keys), so counting requests alone would let one person spend the whole site's
//! quota. Work that may call Jira first checks that the person's budget is not spent ([`RateLimits::jira`]),
//! and is then charged the calls it actually made ([`RateLimits::spent_jira_calls`]), which may run the
//! budget into debt that the refill pays off before their next such work.

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
        self.with(key, at, |bucket| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
            }
        })
    }

    /// Whether a token is available, taking none.
    fn check(&self, key: &K, at: Instant) -> Result<(), Duration> {
        self.with(key, at, |_| ())
    }

    /// Takes `tokens` whether or not they are there: what was spent is owed, and paid off by the refill.
    fn spend(&self, key: &K, tokens: u64, at: Instant) {
        let _ = self.with(key, at, |bucket| bucket.tokens -= tokens as f64);
    }

    /// Refills `key`'s bucket up to `at`, lets `act` take from it, and says whether a token was there before
    /// (and if not, how long until one is).
    fn with(&self, key: &K, at: Instant, act: impl FnOnce(&mut Bucket)) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let per_minute = self.per_minute;
        let refilled = |b: &Bucket| {
            let refill = at.saturating_duration_since(b.updated).as_secs_f64() * per_minute / 60.0;
            (b.tokens + refill).min(per_minute)
        };
        if buckets.len() > 100_000 {
            // Forget buckets that are full again: they carry no information.
            buckets.retain(|_, b| refilled(b) < per_minute);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: per_minute,
            updated: at,
        });
        bucket.tokens = refilled(bucket);
        bucket.updated = at;
        let available = if bucket.tokens >= 1.0 {
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) * 60.0 / per_minute;
            Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(60)))
        };
        act(bucket);
        available
    }
}

/// The server's request limits.
#[derive(Debug)]
pub struct RateLimits {
    clients: Buckets<IpAddr>,
    people: Buckets<(TenantId, String)>,
    jira_calls: Buckets<(TenantId, String)>,
}

impl RateLimits {
    pub fn new(config: &RequestLimits) -> Self {
        Self {
            clients: Buckets::new(config.per_client_per_minute),
            people: Buckets::new(config.per_person_per_minute),
            jira_calls: Buckets::new(config.jira_calls_per_person_per_minute),
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

    /// Before work that may call Jira as this person: refused while the Jira calls their requests made in the
    /// last minute or so have spent their budget.
    pub fn jira(&self, tenant: TenantId, account: &str) -> Result<(), ApiError> {
        self.jira_calls
            .check(&(tenant, account.to_owned()), Instant::now())
            .map_err(|wait| {
                ApiError::too_many(
                    wait,
                    "your recent requests asked Jira for too much at once; wait a moment and try again",
                )
            })
    }

    /// Charges the Jira calls a request made for this person to their budget.
    pub fn spent_jira_calls(&self, tenant: TenantId, account: &str, calls: u64) {
        if calls > 0 {
            self.jira_calls
                .spend(&(tenant, account.to_owned()), calls, Instant::now());
        }
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

    #[test]
    fn spending_beyond_the_budget_is_owed_until_the_refill_pays_it_off() {
        let buckets = Buckets::new(60);
        let start = Instant::now();
        assert!(buckets.check(&1, start).is_ok());
        buckets.spend(&1, 50, start);
        assert!(buckets.check(&1, start).is_ok(), "10 calls are left");
        buckets.spend(&1, 30, start);
        // 20 calls owed: 21 seconds until one is available again at one call a second.
        let wait = buckets.check(&1, start).unwrap_err();
        assert!(
            wait > Duration::from_secs(20) && wait <= Duration::from_secs(21),
            "{wait:?}"
        );
        assert!(buckets.check(&1, start + Duration::from_secs(15)).is_err());
        assert!(buckets.check(&1, start + Duration::from_secs(21)).is_ok());
        assert!(buckets.check(&2, start).is_ok(), "keys are independent");
    }
}
