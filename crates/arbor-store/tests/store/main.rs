//! arbor-store's conformance suite: the same stories against SQLite (always) and PostgreSQL (when
//! `ARBOR_TEST_POSTGRES_URL` is set), plus engine-specific checks (plaintext scans, crash safety).
// The stories are plain async functions called by the generated `#[tokio::test]`s, which clippy does not
// see as tests; a failed unwrap here is a failed test, as anywhere else in tests.
#![allow(clippy::unwrap_used)]

mod audit_chain;
mod crash;
mod fixtures;
mod harness;
mod history;
mod invalidations;
mod isolation;
mod keys;
mod story;
mod views;
