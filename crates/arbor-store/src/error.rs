//! The store's errors. Messages name the record, key id or schema version involved, never a secret or a
//! decrypted value.

use arbor_core::ids::Version;

use crate::crypto::CryptoError;
use crate::model::{StructureId, TenantId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "this database was written by a newer arbor (schema version {found}, this arbor knows up to {known}); upgrade arbor"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error(
        "migration {version} ({name}) was changed after it was applied to this database; migrations must never be edited"
    )]
    MigrationEdited { version: i64, name: String },
    #[error(
        "structure {structure} was changed concurrently: the edit is based on version {expected}, the structure is at version {actual}"
    )]
    Conflict {
        structure: StructureId,
        expected: Version,
        actual: Version,
    },
    #[error("tenant {tenant} has no {what} {id}")]
    NotFound {
        tenant: TenantId,
        what: &'static str,
        id: String,
    },
    #[error("tenant {0} does not exist")]
    NoTenant(TenantId),
    #[error("a tenant for site {0} already exists")]
    DuplicateTenant(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("{record}: the stored value is malformed ({reason})")]
    Malformed { record: String, reason: String },
    #[error("cannot create {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("unsupported database URL scheme {0:?}; use sqlite: or postgres:")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A JSON error described without the value it choked on: stored values are tenant data and must not reach
/// error messages or logs.
pub fn json_error_without_values(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "not of the expected shape",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{kind} (line {}, column {})", error.line(), error.column())
}
