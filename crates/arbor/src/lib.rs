//! The `arbor` binary's library half: configuration and logging, and (as the other crates grow) the wiring of
//! storage, the Jira client and the server into the commands of `main.rs`.
//!
//! Invariants:
//! - Configuration is read in one place ([`config::load`]); nothing else reads `ARBOR_*` variables.
//! - Secrets stay [`config::Secret`]s until the one place that uses them.
#![forbid(unsafe_code)]

pub mod config;
pub mod demo;
pub mod logging;
pub mod server;
pub mod storage;
