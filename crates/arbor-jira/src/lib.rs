//! The only code in arbor that talks to Jira: the client that calls Jira as the signed-in person, sign-in with
//! Atlassian (OAuth 2.0 3LO), rate limits and retries, and the in-memory caches with their freshness.
//!
//! Invariants:
//! - Only this crate opens outbound connections, and only to the configured Jira sites and sign-in endpoints.
//! - Every call is made with the access token of the person it is for; tokens never reach a log, a URL or
//!   `Debug` output.
//! - Issue data is kept in memory only, for a bounded time.
//!
//! Modules: [`client`] (typed REST v3 calls), [`retry`] (backoff, quota pause, concurrency), [`auth`] (3LO),
//! [`cache`] (moka caches with fetch times), [`loader`] (executes the engine's needs), [`webhook`] and
//! [`poll`] (early invalidation), [`metrics`] (per-tenant counters), [`convert`], [`answer`] and [`plan`] (pure).
#![forbid(unsafe_code)]

pub mod answer;
pub mod auth;
pub mod cache;
pub mod client;
pub mod convert;
pub mod loader;
pub mod metrics;
pub mod plan;
pub mod poll;
pub mod retry;
pub mod webhook;
