//! The structure engine: forests of rows, editing with undo and history, generators, totals, progress,
//! formulas and the permission logic.
//!
//! Invariants:
//! - Pure: no I/O, no async, no SQL, no HTTP. Everything else in arbor depends on this crate; it depends on
//!   nothing of ours but `jql`.
//! - Issues are known only by their numeric Jira id; the engine never fetches data itself, it says what it lacks
//!   and the caller brings it.
#![forbid(unsafe_code)]

pub mod columns;
pub mod data;
pub mod edit;
pub mod effective;
pub mod forest;
pub mod formula;
pub mod generator;
pub mod history;
pub mod ids;
pub mod permission;
pub mod progress;
