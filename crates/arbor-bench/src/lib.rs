//! arbor's benchmark harness. Each scenario prints one JSON object per measured figure on stdout (scenario,
//! parameters, metric, value, unit and the target it is compared with) and nothing else, so that runs can be
//! compared with one another.
//!
//! Invariant: figures are medians of several runs after a warm-up; timed assertions never live in unit tests.
#![forbid(unsafe_code)]
