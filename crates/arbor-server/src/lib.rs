//! The only code in arbor that knows HTTP: HTTPS, sign-in sessions, security middleware, the `/api/v1` REST
//! API and the embedded web UI.
//!
//! Invariants:
//! - Every data-related request is authorised against the structure's permission rules and audited through one
//!   path.
//! - Every error leaves as `application/problem+json` and never reveals internals.
#![forbid(unsafe_code)]
