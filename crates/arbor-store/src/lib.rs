//! The only code in arbor that knows SQL: the storage trait, its SQLite and PostgreSQL implementations with
//! their migrations, encryption at rest, the change journal and the audit chain.
//!
//! Invariants:
//! - Issue field values have no column anywhere: only issue ids and configuration are stored.
//! - Every query is scoped by tenant.
//! - Migrations are never edited once they have landed.
#![forbid(unsafe_code)]
