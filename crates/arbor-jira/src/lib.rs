//! The only code in arbor that talks to Jira: the client that calls Jira as the signed-in person, sign-in with
//! Atlassian (OAuth 2.0 3LO), rate limits and retries, and the in-memory caches with their freshness.
//!
//! Invariants:
//! - Only this crate opens outbound connections, and only to the configured Jira sites.
//! - Every call is made with the access token of the person it is for; tokens never reach a log.
//! - Issue data is kept in memory only, for a bounded time.
//!
//! Built so far: [`convert`], which reads Jira's v3 issue JSON into the engine's issue data, and [`plan`], which
//! turns the engine's needs into the fewest calls Jira's API allows.
#![forbid(unsafe_code)]

pub mod convert;
pub mod plan;
