//! Rate limits as Jira Cloud applies them since 2026, injected faults, and the statistics of `/_sim/stats`.
//!
//! - **Points quota**: each OAuth app (client id) has `hourly_points` per window of `window_seconds` (aligned
//!   to the epoch, like Jira's hourly reset). A request is refused with 429 once the app has no points left; the
//!   points of a response are charged after it is built, so the last admitted request may overdraw.
//! - **Burst**: at most `burst_per_second` requests per app within each wall-clock second.
//! - **Per-issue writes**: at most `issue_writes_per_2s` writes to one issue within 2 s and
//!   `issue_writes_per_30s` within 30 s.
//!
//! Invariants: counters are plain maps under one short-held mutex; a limit of 0 means unlimited.

use std::collections::{BTreeMap, HashMap, VecDeque};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{Millis, format_datetime};

/// Quota sizes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Quota {
    /// Points per app per window; 0 = unlimited.
    pub hourly_points: u64,
    /// Length of the quota window (3600 in Jira; tests shorten it).
    pub window_seconds: u64,
    /// Requests per app per second; 0 = unlimited.
    pub burst_per_second: u64,
    pub issue_writes_per_2s: u64,
    pub issue_writes_per_30s: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            hourly_points: 65_000,
            window_seconds: 3600,
            burst_per_second: 100,
            issue_writes_per_2s: 20,
            issue_writes_per_30s: 100,
        }
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FaultKind {
    /// Answer with this status (5xx) and a Jira error body.
    Status { status: u16 },
    /// Hold the request this long (at most 120 s), then answer 504.
    Timeout { ms: u64 },
    /// Close the connection without a complete response.
    Drop,
}

/// One fault rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// `*` for every endpoint, or `METHOD /rest/api/3/path` as in the statistics (`GET
    /// /rest/api/3/issue/{issueIdOrKey}`), or a prefix of it ending in `*`.
    pub endpoint: String,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Chance per request, 0.0–1.0.
    pub probability: f64,
}

impl FaultRule {
    #[must_use]
    pub fn applies_to(&self, endpoint: &str) -> bool {
        match self.endpoint.strip_suffix('*') {
            Some(prefix) => endpoint.starts_with(prefix),
            None => self.endpoint == endpoint,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub reason: &'static str,
    pub retry_after_s: u64,
}

/// The outcome of admission: the limit headers and, if refused, why.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    limit: u64,
    remaining: u64,
    reset: Millis,
    pub refusal: Option<Refusal>,
}

impl Admission {
    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset` (the end of the window, ISO 8601).
    pub(crate) fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if self.limit == 0 {
            return h;
        }
        for (name, value) in [
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-Reset", iso(self.reset)),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        h
    }
}

fn iso(ms: Millis) -> String {
    let s = format_datetime(ms);
    // 2026-01-01T10:00:00.000+0000 → 2026-01-01T10:00:00Z
    format!("{}Z", s.get(..19).unwrap_or(&s))
}

#[derive(Debug, Default)]
struct AppUsage {
    window: i64,
    points: u64,
    second: i64,
    requests_this_second: u64,
    quota: u64,
}

/// Quota and burst counters per app, and recent writes per issue.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    apps: HashMap<String, AppUsage>,
    writes: HashMap<u64, VecDeque<Millis>>,
}

impl Limiter {
    pub(crate) fn reset(&mut self) {
        self.apps.clear();
        self.writes.clear();
    }

    fn usage<'a>(&'a mut self, quota: &Quota, app: &str, now: Millis) -> &'a mut AppUsage {
        let window_ms =
            i64::try_from(quota.window_seconds.max(1).saturating_mul(1000)).unwrap_or(i64::MAX);
        let window = now.div_euclid(window_ms);
        let usage = self.apps.entry(app.to_owned()).or_default();
        if usage.window != window {
            usage.window = window;
            usage.points = 0;
        }
        usage.quota = quota.hourly_points;
        usage
    }

    /// Admits a request of `app` or says why not; counts it against the burst limit.
    pub(crate) fn admit(&mut self, quota: &Quota, app: &str, now: Millis) -> Admission {
        let window_ms =
            i64::try_from(quota.window_seconds.max(1).saturating_mul(1000)).unwrap_or(i64::MAX);
        let usage = self.usage(quota, app, now);
        let reset = (usage.window + 1).saturating_mul(window_ms);
        let remaining = quota.hourly_points.saturating_sub(usage.points);
        let mut admission = Admission {
            limit: quota.hourly_points,
            remaining,
            reset,
            refusal: None,
        };
        if quota.hourly_points > 0 && remaining == 0 {
            let wait = u64::try_from((reset - now + 999) / 1000)
                .unwrap_or(1)
                .max(1);
            admission.refusal = Some(Refusal {
                reason: "jira-quota-global-based",
                retry_after_s: wait,
            });
            return admission;
        }
        let second = now.div_euclid(1000);
        if usage.second != second {
            usage.second = second;
            usage.requests_this_second = 0;
        }
        if quota.burst_per_second > 0 && usage.requests_this_second >= quota.burst_per_second {
            admission.refusal = Some(Refusal {
                reason: "jira-burst-based",
                retry_after_s: 1,
            });
            return admission;
        }
        usage.requests_this_second += 1;
        admission
    }

    /// Charges points to `app`; returns what is left in the window.
    /// Charges points to an app; the points left this hour, or `None` when no hourly quota is set.
    pub(crate) fn charge(&mut self, app: &str, points: u64) -> Option<u64> {
        let usage = self.apps.get_mut(app)?;
        usage.points = usage.points.saturating_add(points);
        (usage.quota > 0).then(|| usage.quota.saturating_sub(usage.points))
    }

    /// Records a write to an issue, or refuses it when the issue's write limits are reached.
    pub(crate) fn write_issue(
        &mut self,
        quota: &Quota,
        issue_id: u64,
        now: Millis,
    ) -> Option<Refusal> {
        let writes = self.writes.entry(issue_id).or_default();
        while writes.front().is_some_and(|&t| now - t >= 30_000) {
            writes.pop_front();
        }
        let recent = writes.iter().filter(|&&t| now - t < 2_000).count() as u64;
        let over_2s = quota.issue_writes_per_2s > 0 && recent >= quota.issue_writes_per_2s;
        let over_30s =
            quota.issue_writes_per_30s > 0 && writes.len() as u64 >= quota.issue_writes_per_30s;
        if over_2s || over_30s {
            return Some(Refusal {
                reason: "jira-per-issue-on-write",
                retry_after_s: if over_30s { 30 } else { 2 },
            });
        }
        writes.push_back(now);
        None
    }
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Counter {
    requests: u64,
    points: u64,
    rate_limited: u64,
    errors: u64,
}

impl Counter {
    fn add(&mut self, points: u64, status: StatusCode) {
        self.requests += 1;
        self.points += points;
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited += 1;
        } else if status.is_client_error() || status.is_server_error() {
            self.errors += 1;
        }
    }
}

/// Requests, points, 429s and errors: in total, per endpoint, per person (account id) and per OAuth app.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    total: Counter,
    endpoints: BTreeMap<String, Counter>,
    people: BTreeMap<String, Counter>,
    apps: BTreeMap<String, Counter>,
    webhook_deliveries: u64,
    webhook_failures: u64,
}

impl Stats {
    pub(crate) fn record(
        &mut self,
        endpoint: &str,
        caller: Option<(&str, &str)>,
        points: u64,
        status: StatusCode,
    ) {
        self.total.add(points, status);
        self.endpoints
            .entry(endpoint.to_owned())
            .or_default()
            .add(points, status);
        if let Some((person, app)) = caller {
            self.people
                .entry(person.to_owned())
                .or_default()
                .add(points, status);
            self.apps
                .entry(app.to_owned())
                .or_default()
                .add(points, status);
        }
    }

    pub(crate) fn delivery(&mut self, ok: bool) {
        self.webhook_deliveries += 1;
        if !ok {
            self.webhook_failures += 1;
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "total": self.total,
            "endpoints": self.endpoints,
            "people": self.people,
            "apps": self.apps,
            "webhooks": { "attempts": self.webhook_deliveries, "failures": self.webhook_failures },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_refuses_when_spent_and_recovers_next_window() {
        let quota = Quota {
            hourly_points: 10,
            window_seconds: 60,
            burst_per_second: 0,
            ..Quota::default()
        };
        let mut l = Limiter::default();
        assert!(l.admit(&quota, "app", 0).refusal.is_none());
        assert_eq!(l.charge("app", 10), Some(0));
        let refused = l.admit(&quota, "app", 1_000);
        assert_eq!(
            refused.refusal.as_ref().map(|r| r.reason),
            Some("jira-quota-global-based")
        );
        assert_eq!(refused.refusal.map(|r| r.retry_after_s), Some(59));
        assert!(l.admit(&quota, "app", 60_000).refusal.is_none());
    }

    #[test]
    fn burst_and_issue_writes() {
        let quota = Quota {
            hourly_points: 0,
            burst_per_second: 2,
            issue_writes_per_2s: 2,
            issue_writes_per_30s: 3,
            ..Quota::default()
        };
        let mut l = Limiter::default();
        assert!(l.admit(&quota, "a", 0).refusal.is_none());
        assert!(l.admit(&quota, "a", 10).refusal.is_none());
        assert!(l.admit(&quota, "a", 20).refusal.is_some());
        assert!(l.admit(&quota, "a", 1000).refusal.is_none());
        assert!(l.write_issue(&quota, 1, 0).is_none());
        assert!(l.write_issue(&quota, 1, 1).is_none());
        assert!(l.write_issue(&quota, 1, 2).is_some());
        assert!(l.write_issue(&quota, 1, 2_500).is_none());
        assert_eq!(
            l.write_issue(&quota, 1, 2_600).map(|r| r.retry_after_s),
            Some(30)
        );
        assert!(l.write_issue(&quota, 1, 40_000).is_none());
    }

    #[test]
    fn fault_rules_match_endpoints() {
        let rule = FaultRule {
            endpoint: "GET /rest/api/3/search*".into(),
            kind: FaultKind::Drop,
            probability: 1.0,
        };
        assert!(rule.applies_to("GET /rest/api/3/search/jql"));
        assert!(!rule.applies_to("POST /rest/api/3/search/jql"));
    }
}
