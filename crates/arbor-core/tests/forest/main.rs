//! Forest, editing and history tests: one binary, a module per area, shared helpers in `support`.

// Helpers outside `#[test]` functions panic on purpose (a panic is a failed test) and take edits by value so
// that cases read as data.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod edit;
mod forest;
mod history;
mod props;
mod support;
