//! arbor's benchmark harness. Each scenario prints one JSON object per measured figure on stdout (scenario,
//! parameters, metric, value, unit and the target it is compared with) and nothing else, so that runs can be
//! compared with one another.
//!
//! Invariant: timed figures are medians of several runs after a warm-up; timed assertions never live in unit
//! tests.
#![forbid(unsafe_code)]

pub mod browser;
pub mod forest;
pub mod jira;
pub mod memory;
pub mod server;
pub mod sim;
pub mod stage;
pub mod store;
pub mod ui;

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

/// One measured figure, printed as one JSON line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub scenario: String,
    pub params: Map<String, Value>,
    pub metric: String,
    pub value: f64,
    pub unit: String,
    /// The reference the figure is compared with (a SPEC §8 target), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
}

impl Figure {
    pub fn new(
        scenario: &str,
        params: &Map<String, Value>,
        metric: &str,
        value: f64,
        unit: &str,
    ) -> Self {
        Self {
            scenario: scenario.to_owned(),
            params: params.clone(),
            metric: metric.to_owned(),
            value,
            unit: unit.to_owned(),
            target: None,
        }
    }

    #[must_use]
    pub fn target(mut self, target: f64) -> Self {
        self.target = Some(target);
        self
    }

    /// The JSON line for this figure.
    pub fn to_line(&self) -> String {
        // Serialising plain strings, numbers and maps cannot fail; an empty object would show if it did.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// How many unmeasured runs come first, and how many measured runs follow.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    pub warmup: usize,
    pub measured: usize,
}

impl Default for Runs {
    fn default() -> Self {
        Self {
            warmup: 2,
            measured: 7,
        }
    }
}

/// Runs `work` `runs.warmup` times unmeasured, then `runs.measured` times, and returns the median duration.
/// Each run gets the result of `setup`, which is not timed.
pub fn median_time<S, T>(
    runs: Runs,
    mut setup: impl FnMut() -> S,
    mut work: impl FnMut(S) -> T,
) -> Duration {
    for _ in 0..runs.warmup {
        std::hint::black_box(work(setup()));
    }
    let mut times: Vec<Duration> = (0..runs.measured.max(1))
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            std::hint::black_box(work(input));
            start.elapsed()
        })
        .collect();
    median(&mut times)
}

/// The median of a non-empty list (the mean of the two middle values for an even count).
pub fn median(values: &mut [Duration]) -> Duration {
    values.sort_unstable();
    match values.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2,
    }
}

/// The middle value of a list of figures (the upper one of the two middle values for an even count; NaN
/// for none).
pub fn middle(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The value at fraction `p` of a sorted list (nearest rank; NaN for none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Milliseconds as a float, for figures.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_is_one_json_line_with_the_agreed_fields() {
        let mut params = Map::new();
        params.insert("rows".into(), Value::from(100_000));
        let line = Figure::new("forest", &params, "compute_ms", 41.7, "ms")
            .target(100.0)
            .to_line();
        assert_eq!(
            line,
            r#"{"scenario":"forest","params":{"rows":100000},"metric":"compute_ms","value":41.7,"unit":"ms","target":100.0}"#
        );
        let without_target =
            Figure::new("forest", &params, "bytes_per_row", 12.0, "bytes").to_line();
        assert!(!without_target.contains("target"));
    }

    #[test]
    fn middle_and_percentile_of_figures() {
        assert!(middle(&mut []).is_nan());
        assert_eq!(middle(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(middle(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.95), 95.0);
        assert_eq!(percentile(&sorted, 1.0), 100.0);
        assert_eq!(percentile(&sorted, 0.0), 1.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let d = Duration::from_millis;
        assert_eq!(median(&mut [d(5), d(1), d(3)]), d(3));
        assert_eq!(
            median(&mut [d(4), d(1), d(3), d(2)]),
            Duration::from_micros(2500)
        );
        assert_eq!(median(&mut []), Duration::ZERO);
    }

    #[test]
    fn median_time_runs_setup_and_work_for_every_run() {
        let mut setups = 0;
        let mut works = 0;
        median_time(
            Runs {
                warmup: 2,
                measured: 3,
            },
            || setups += 1,
            |()| works += 1,
        );
        assert_eq!((setups, works), (5, 5));
    }
}

/// Which resident memory of this process to read.
#[derive(Debug, Clone, Copy)]
pub enum Rss {
    /// Now (`VmRSS`).
    Current,
    /// The peak so far (`VmHWM`).
    Peak,
}

/// Resident memory of this process in MiB; `None` where `/proc` has no answer.
#[must_use]
pub fn rss_mib(which: Rss) -> Option<f64> {
    let field = match which {
        Rss::Current => "VmRSS:",
        Rss::Peak => "VmHWM:",
    };
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
