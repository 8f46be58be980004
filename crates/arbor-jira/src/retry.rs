//! Rate limits and faults: how one Jira call is sent, retried and throttled.
//!
//! Invariants:
//! - Only idempotent calls are retried (reads, read-only POSTs such as search and bulkfetch, idempotent
//!   writes), at most [`RetryPolicy::max_retries`] times, on 429, 5xx, timeouts and dropped connections.
//! - Waits grow exponentially with a jitter factor in 0.7–1.3 and are never shorter than Jira's
//!   `Retry-After`.
//! - When a 429 says the hourly quota is gone (`RateLimit-Reason: jira-quota-global-based`), every call of
//!   the tenant pauses until `X-RateLimit-Reset`: calls wait when the reset is near, and fail at once with
//!   `RateLimited` (so the caller can serve earlier data) when it is not — Jira is not called meanwhile.
//! - The pause's end is known by the wall clock too ([`TenantLimiter::paused_until`]), so that the nodes of a
//!   deployment can share it ([`TenantLimiter::pause_until_wall`]): one node's 429 pauses them all.
//! - At most `concurrency` calls per tenant are in flight (a semaphore shared by all of the tenant's clients).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::client::{Idempotence, JiraError, error_for};
use crate::metrics::TenantCounters;

/// How calls are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (idempotent calls only).
    pub max_retries: u32,
    /// The first wait; doubled for every further retry.
    pub base_delay: Duration,
    /// No single wait is longer than this (except a longer `Retry-After`, which is honoured).
    pub max_delay: Duration,
    /// A call that meets a quota pause waits for its end when it is at most this far away; otherwise it fails
    /// at once with `RateLimited`.
    pub max_quota_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_quota_wait: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based), with a jitter factor in 0.7–1.3.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        let ms = u64::try_from(exp.as_millis()).unwrap_or(u64::MAX) as f64 * jitter_factor();
        Duration::from_millis(ms as u64)
    }
}

/// A factor uniformly in 0.7–1.3 (1.0 when the system has no randomness to give).
pub fn jitter_factor() -> f64 {
    let r = getrandom::u32().unwrap_or(u32::MAX / 2);
    0.7 + 0.6 * (f64::from(r) / f64::from(u32::MAX))
}

/// One tenant's shared call state: the concurrency limit and the quota pause.
#[derive(Debug)]
pub struct TenantLimiter {
    slots: Semaphore,
    /// The pause's end, by this process's monotonic clock (what calls wait on) and by the wall clock (what is
    /// shared with the deployment's other nodes, whose monotonic clocks differ).
    paused_until: Mutex<Option<(Instant, SystemTime)>>,
}

impl TenantLimiter {
    pub fn new(concurrency: usize) -> Self {
        Self {
            slots: Semaphore::new(concurrency.max(1)),
            paused_until: Mutex::new(None),
        }
    }

    /// How long the tenant's calls are still paused for.
    pub fn paused_for(&self) -> Option<Duration> {
        let until = *self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        until
            .map(|(u, _)| u.saturating_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    /// When the current pause ends, by the wall clock; `None` when the tenant is not paused.
    pub fn paused_until(&self) -> Option<SystemTime> {
        let until = *self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        until
            .filter(|(u, _)| *u > Instant::now())
            .map(|(_, wall)| wall)
    }

    /// Pauses the tenant's calls until `until` (wall clock), e.g. because another node of the deployment met
    /// the exhausted quota; a pause that ends later is kept, a time already past changes nothing.
    pub fn pause_until_wall(&self, until: SystemTime) {
        let Ok(left) = until.duration_since(SystemTime::now()) else {
            return;
        };
        if let Some(instant) = Instant::now().checked_add(left) {
            self.set_pause(instant, until);
        }
    }

    fn pause_for(&self, left: Duration) {
        let (Some(instant), Some(wall)) = (
            Instant::now().checked_add(left),
            SystemTime::now().checked_add(left),
        ) else {
            return;
        };
        self.set_pause(instant, wall);
    }

    fn set_pause(&self, until: Instant, wall: SystemTime) {
        let mut slot = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.is_none_or(|(current, _)| current < until) {
            *slot = Some((until, wall));
        }
    }
}

/// What a 429 or 5xx said about waiting.
struct Throttle {
    retry_after: Option<Duration>,
    reset_in: Option<Duration>,
    quota_gone: bool,
}

fn throttle(headers: &reqwest::header::HeaderMap) -> Throttle {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = text("retry-after")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let reset_in = text("x-ratelimit-reset")
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .and_then(|reset| {
            let ms = reset.as_millisecond() - jiff::Timestamp::now().as_millisecond();
            u64::try_from(ms).ok().map(Duration::from_millis)
        });
    let quota_gone = text("ratelimit-reason") == Some("jira-quota-global-based");
    Throttle {
        retry_after,
        reset_in,
        quota_gone,
    }
}

/// Sends the request `build` makes, with the policy's retries, the tenant's limits and counting.
pub(crate) async fn execute(
    policy: &RetryPolicy,
    limiter: &TenantLimiter,
    counters: &TenantCounters,
    idempotence: Idempotence,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Value, JiraError> {
    let retries = match idempotence {
        Idempotence::Idempotent => policy.max_retries,
        Idempotence::Once => 0,
    };
    let mut attempt = 0u32;
    loop {
        if let Some(paused) = limiter.paused_for() {
            if paused > policy.max_quota_wait {
                return Err(JiraError::RateLimited {
                    retry_after: paused,
                });
            }
            tokio::time::sleep(paused).await;
        }
        let outcome = {
            let _slot = limiter
                .slots
                .acquire()
                .await
                .map_err(|_| JiraError::Config("the tenant's call limiter was closed"))?;
            counters.count_request();
            // Boxed: the request's future is large, and every call's future holds it.
            Box::pin(send(build())).await
        };
        // Read once the call's slot is free: the next call is under way meanwhile.
        let outcome = match outcome {
            Ok((status, headers, bytes)) => read(status, bytes)
                .await
                .map(|body| (status, headers, body)),
            Err(failure) => Err(failure),
        };
        let (failure, wait_at_least) = match outcome {
            Ok((status, _, body)) if status.is_success() => return Ok(body),
            Ok((StatusCode::TOO_MANY_REQUESTS, headers, body)) => {
                counters.count_rate_limited();
                let t = throttle(&headers);
                let retry_after = t.retry_after.unwrap_or(policy.base_delay);
                if t.quota_gone {
                    let until = t.reset_in.unwrap_or(retry_after).max(retry_after);
                    limiter.pause_for(until);
                }
                (
                    error_for(StatusCode::TOO_MANY_REQUESTS, &body, retry_after),
                    retry_after,
                )
            }
            Ok((status, headers, body)) if status.is_server_error() => {
                let t = throttle(&headers);
                (
                    error_for(status, &body, Duration::ZERO),
                    t.retry_after.unwrap_or(Duration::ZERO),
                )
            }
            Ok((status, _, body)) => return Err(error_for(status, &body, Duration::ZERO)),
            Err(failure) => (failure, Duration::ZERO),
        };
        // A wait longer than a quota pause may last is not waited out here: the caller hears at once.
        if attempt >= retries || wait_at_least > policy.max_quota_wait {
            return Err(failure);
        }
        let wait = policy.backoff(attempt).max(wait_at_least);
        tracing::debug!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            error = %failure,
            "retrying a Jira call"
        );
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// One attempt: status, headers and the body's bytes. Transport failures, including a body cut off by a
/// dropped connection, are `Unavailable`; the error text never includes the URL or headers.
async fn send(
    request: reqwest::RequestBuilder,
) -> Result<
    (
        StatusCode,
        reqwest::header::HeaderMap,
        impl AsRef<[u8]> + Send + 'static,
    ),
    JiraError,
> {
    let response = request.send().await.map_err(|e| transport(&e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(|e| transport(&e))?;
    Ok((status, headers, bytes))
}

/// Answers above this size are read on a blocking thread.
const READ_APART_FROM: usize = 16 * 1024;

/// An answer's JSON body, as [`body`] reads it. A large answer takes milliseconds to read: that is done on a
/// blocking thread, which the system schedules beside the runtime's workers, so that other calls' requests and
/// answers are not held up behind it.
async fn read(
    status: StatusCode,
    bytes: impl AsRef<[u8]> + Send + 'static,
) -> Result<Value, JiraError> {
    if bytes.as_ref().len() < READ_APART_FROM {
        return body(status, bytes.as_ref());
    }
    tokio::task::spawn_blocking(move || body(status, bytes.as_ref()))
        .await
        .map_err(|_| JiraError::Protocol("reading the answer failed".into()))?
}

/// An answer's JSON body: `null` when empty, or when an error's body is not JSON.
fn body(status: StatusCode, bytes: &[u8]) -> Result<Value, JiraError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    match crate::answer::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(_) if !status.is_success() => Ok(Value::Null),
        Err(_) => Err(JiraError::Protocol("the answer is not JSON".into())),
    }
}

fn transport(error: &reqwest::Error) -> JiraError {
    let reason = if error.is_timeout() {
        "the call timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "the connection failed"
    };
    JiraError::Unavailable {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_the_jitter_band() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
        for retry in 0..4 {
            let nominal = 100.0 * f64::from(2u32.pow(retry));
            for _ in 0..50 {
                let ms = policy.backoff(retry).as_secs_f64() * 1000.0;
                assert!(
                    ms >= nominal * 0.7 - 1e-6 && ms <= nominal * 1.3 + 1e-6,
                    "{ms}"
                );
            }
        }
        let capped = RetryPolicy {
            max_delay: Duration::from_millis(150),
            ..policy
        };
        assert!(capped.backoff(10) <= Duration::from_millis(195));
    }
}
