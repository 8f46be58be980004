//! A Jira Cloud REST v3 simulator, faithful enough that arbor cannot tell it from Jira for what arbor uses:
//! real and synthetic data, people and permissions, OAuth 2.0 (3LO), rate limits and injected faults.
//!
//! The data layer (`model`, `import`, `synthetic`, `site`, `render`, `view`, `fields`) builds and renders one
//! in-memory site; [`server`] serves it over HTTP (see `README.md` for endpoints, controls and the admin API).
//!
//! Invariant: responses follow the shapes of the Jira Cloud OpenAPI document in `../shared/data/jira-openapi/`.
#![forbid(unsafe_code)]

pub mod fields;
pub mod import;
pub mod model;
pub mod render;
pub mod server;
pub mod site;
pub mod synthetic;
pub mod view;
