//! The structure engine: forests of rows, editing with undo and history, generators, totals, progress,
//! formulas and the permission logic.
//!
//! Invariants:
//! - Pure: no I/O, no async, no SQL, no HTTP. Everything else in arbor depends on this crate; it depends on
//!   nothing of ours but `jql`.
//! - Issues are known only by their numeric Jira id; the engine never fetches data itself, it says what it lacks
//!   and the caller brings it.
#![forbid(unsafe_code)]
