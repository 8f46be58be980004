//! Prometheus metrics of one server: HTTP requests and latencies by route, effective-forest computations, and
//! (read at scrape time) arbor-jira's per-tenant Jira requests, points, 429s and cache hit rates. Kept per
//! server instance rather than in a global recorder, so several servers in one process (tests) do not mix.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, count) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Registry {
    /// (method, route, status) → count.
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) → latency.
    latency: BTreeMap<(String, String), Histogram>,
    /// Effective-forest computations.
    compute: Histogram,
    /// Audit entries that could not be written.
    audit_failures: u64,
}

#[derive(Debug, Default)]
pub struct Metrics(Mutex<Registry>);

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut registry = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *registry
            .requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        registry
            .latency
            .entry((method.to_owned(), route.to_owned()))
            .or_default()
            .observe(took.as_secs_f64());
    }

    pub fn computed(&self, took: Duration) {
        let mut registry = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        registry.compute.observe(took.as_secs_f64());
    }

    pub fn audit_failed(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .audit_failures += 1;
    }

    /// The text exposition format; `jira` adds the Jira layer's counters per tenant.
    pub fn render(&self, jira: &arbor_jira::metrics::Metrics) -> String {
        let registry = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        out.push_str("# HELP arbor_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE arbor_http_requests_total counter\n");
        for ((method, route, status), count) in &registry.requests {
            let _ = writeln!(
                out,
                "arbor_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP arbor_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE arbor_http_request_duration_seconds histogram\n");
        for ((method, route), histogram) in &registry.latency {
            histogram.render(
                &mut out,
                "arbor_http_request_duration_seconds",
                &format!("method=\"{method}\",route=\"{route}\""),
            );
        }
        out.push_str("# HELP arbor_forest_compute_seconds Time to compute an effective forest (generators, data loading, columns).\n");
        out.push_str("# TYPE arbor_forest_compute_seconds histogram\n");
        registry
            .compute
            .render(&mut out, "arbor_forest_compute_seconds", "scope=\"all\"");
        out.push_str(
            "# HELP arbor_audit_failures_total Audit entries that could not be written.\n",
        );
        out.push_str("# TYPE arbor_audit_failures_total counter\n");
        let _ = writeln!(
            out,
            "arbor_audit_failures_total {}",
            registry.audit_failures
        );
        drop(registry);
        let tenants = jira.snapshot();
        type Read = fn(&arbor_jira::metrics::CounterSnapshot) -> u64;
        let counters: [(&str, &str, Read); 5] = [
            ("arbor_jira_requests_total", "Requests sent to Jira.", |s| {
                s.requests
            }),
            (
                "arbor_jira_points_total",
                "Jira rate-limit points spent (2026 model).",
                |s| s.points,
            ),
            (
                "arbor_jira_rate_limited_total",
                "Jira answers with status 429.",
                |s| s.rate_limited,
            ),
            (
                "arbor_jira_cache_hits_total",
                "Issue data served from the cache.",
                |s| s.cache_hits,
            ),
            (
                "arbor_jira_cache_misses_total",
                "Issue data fetched from Jira.",
                |s| s.cache_misses,
            ),
        ];
        for (name, help, read) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (tenant, snapshot) in &tenants {
                let _ = writeln!(
                    out,
                    "{name}{{tenant=\"{}\"}} {}",
                    tenant.as_str(),
                    read(snapshot)
                );
            }
        }
        out
    }
}
