//! The SQLite engine: the default, one file in the data directory, bundled SQLite in WAL mode.
//!
//! Settings and why: WAL (readers never block the writer), `synchronous = FULL` (an acknowledged commit
//! survives a crash of the process or the machine), `BEGIN IMMEDIATE` for every write transaction (writers
//! queue on the busy timeout instead of failing to upgrade a read lock), `secure_delete` (deleted records are
//! overwritten, not left in free pages), and a database file created with mode 0600.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

type Db = sqlx::Sqlite;

const ENGINE: Engine = Engine::Sqlite;
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
const MIGRATION_LOCK: Option<&str> = None;
/// `(version, name, SQL)`, in order. Never edit a landed migration: add the next one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "journal_structure",
        include_str!("../migrations/sqlite/0002_journal_structure.sql"),
    ),
    (
        3,
        "jira_invalidations",
        include_str!("../migrations/sqlite/0003_jira_invalidations.sql"),
    ),
    (
        4,
        "quota_pause",
        include_str!("../migrations/sqlite/0004_quota_pause.sql"),
    ),
    (
        5,
        "webhook_tokens",
        include_str!("../migrations/sqlite/0005_webhook_tokens.sql"),
    ),
    (
        6,
        "view_owners",
        include_str!("../migrations/sqlite/0006_view_owners.sql"),
    ),
];

macro_rules! for_update {
    () => {
        ""
    };
}
macro_rules! for_share {
    () => {
        ""
    };
}

include!("sql/common.rs");

impl SqlStore {
    /// Opens (creating if needed) the database file at `path` and migrates it.
    pub async fn open(path: &Path, master: MasterKey) -> Result<Self> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            .pragma("secure_delete", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Self::from_pool(pool, master).await
    }
}

/// Creates the database file with mode 0600 before SQLite does (SQLite would use the umask); its WAL and
/// shared-memory files take the main file's permissions.
fn create_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path.exists() {
        // A restored or copied file may have come with wider permissions: the database is private.
        let private = std::fs::Permissions::from_mode(0o600);
        return std::fs::set_permissions(path, private).map_err(|source| StoreError::DataDir {
            path: path.display().to_string(),
            source,
        });
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::DataDir {
            path: path.display().to_string(),
            source,
        })
}
