//! The only code in arbor that knows SQL: the storage trait, its SQLite and PostgreSQL implementations with
//! their migrations, encryption at rest, the change journal and the audit chain.
//!
//! Map: [`store::Store`] is the trait; [`SqliteStore`] and [`PostgresStore`] implement it from one shared
//! body of SQL (`src/sql/common.rs`); [`open`] picks the engine. [`crypto`] holds the envelope encryption,
//! [`codec`] the forest snapshot encoding, [`journal`] the change journal and its replay, [`audit`] the
//! HMAC chain.
//!
//! Invariants:
//! - Issue field values have no column anywhere: only issue ids and configuration are stored.
//! - Every query is scoped by tenant.
//! - Migrations are never edited once they have landed; a database newer than this arbor is refused.
//! - The master key is never stored; free text is encrypted before it reaches SQL.
#![forbid(unsafe_code)]

pub mod audit;
pub mod codec;
pub mod crypto;
mod error;
pub mod journal;
pub mod model;
pub mod postgres;
pub mod sqlite;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::crypto::{CryptoError, MasterKey};
pub use crate::error::{Result, StoreError, json_error_without_values};
pub use crate::postgres::SqlStore as PostgresStore;
pub use crate::sqlite::SqlStore as SqliteStore;
pub use crate::store::{Engine, RotationProgress, RotationSummary, Store};

/// Where the database is. `Debug` hides a PostgreSQL password.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file; a relative path is relative to the data directory.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(url::Url),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => {
                let mut shown = url.clone();
                if shown.password().is_some() {
                    // Only fails for URLs that cannot have a password, which this one has.
                    let _ = shown.set_password(Some("***"));
                }
                f.debug_tuple("Postgres").field(&shown.as_str()).finish()
            }
        }
    }
}

/// Creates the data directory (mode 0700) if needed, opens the database, applies pending migrations and
/// checks the master key. Refuses a database written by a newer arbor.
pub async fn open(
    location: &Location,
    data_dir: &Path,
    master: MasterKey,
) -> Result<Arc<dyn Store>> {
    create_private_dir(data_dir)?;
    match location {
        Location::Sqlite(path) => {
            let path = data_dir.join(path);
            Ok(Arc::new(SqliteStore::open(&path, master).await?))
        }
        Location::Postgres(url) => Ok(Arc::new(
            PostgresStore::connect(url.as_str(), master).await?,
        )),
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let failed = |source| StoreError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(failed)?;
    }
    let mode = std::fs::metadata(dir).map_err(failed)?.permissions().mode();
    if mode & 0o077 != 0 {
        // Others must not read the database, its WAL or backups: the directory is made private again.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
        tracing::warn!(dir = %dir.display(), was = format!("{:o}", mode & 0o777), "the data directory was readable by others; it is now 0700");
    }
    Ok(())
}

#[cfg(test)]
mod location_tests {
    use super::*;

    #[test]
    fn a_data_directory_readable_by_others_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn debug_hides_the_database_password() {
        let location =
            Location::Postgres(url::Url::parse("postgres://arbor:hunter2@db/arbor").unwrap());
        let shown = format!("{location:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("arbor:***@db"),
            "{shown}"
        );
    }
}
