//! The PostgreSQL engine: the scale-out path, for deployments that run several arbor processes.
//!
//! Concurrency: writers lock the rows they depend on (`FOR UPDATE` on the audit head and on the tenant row
//! that orders its journal, `FOR SHARE` on the tenant row for other encrypted writes, so a key rotation waits
//! for them); migrations take a transaction-scoped advisory lock so that processes starting together apply
//! them once.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

type Db = sqlx::Postgres;

const ENGINE: Engine = Engine::Postgres;
const BEGIN_WRITE: &str = "BEGIN";
/// A fixed key for `pg_advisory_xact_lock` ("arbor" in ASCII).
const MIGRATION_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(97114098111114)");
/// `(version, name, SQL)`, in order. Never edit a landed migration: add the next one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "journal_structure",
        include_str!("../migrations/postgres/0002_journal_structure.sql"),
    ),
    (
        3,
        "jira_invalidations",
        include_str!("../migrations/postgres/0003_jira_invalidations.sql"),
    ),
    (
        4,
        "quota_pause",
        include_str!("../migrations/postgres/0004_quota_pause.sql"),
    ),
    (
        5,
        "webhook_tokens",
        include_str!("../migrations/postgres/0005_webhook_tokens.sql"),
    ),
    (
        6,
        "view_owners",
        include_str!("../migrations/postgres/0006_view_owners.sql"),
    ),
];

macro_rules! for_update {
    () => {
        " FOR UPDATE"
    };
}
macro_rules! for_share {
    () => {
        " FOR SHARE"
    };
}

include!("sql/common.rs");

impl SqlStore {
    /// Connects to the database at `url` and migrates it.
    pub async fn connect(url: &str, master: MasterKey) -> Result<Self> {
        let options: PgConnectOptions = url.parse()?;
        Self::connect_with(options, master).await
    }

    /// Connects with explicit options (e.g. a `search_path` for a schema of its own) and migrates.
    pub async fn connect_with(options: PgConnectOptions, master: MasterKey) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Self::from_pool(pool, master).await
    }
}
