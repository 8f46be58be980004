//! Storage commands: opening the configured store, `migrate`, `keys rotate` and `audit verify`.
//!
//! The master key leaves [`crate::config::Secret`] only here, straight into [`MasterKey::parse`].

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use arbor_core::ids::Timestamp;
use arbor_store::audit::{AuditReport, NewAuditEntry, Outcome};
use arbor_store::{Location, MasterKey, RotationProgress, RotationSummary, Store};

use crate::config::{Config, DatabaseUrl};

/// The configured master key, parsed.
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    let Some(text) = config.master_key.expose() else {
        bail!("no master key is configured: set ARBOR_MASTER_KEY or ARBOR_MASTER_KEY_FILE");
    };
    MasterKey::parse(text).context("the configured master key is unusable")
}

/// Opens the configured database, creating the data directory and applying migrations.
pub async fn open(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let location = match &config.database.url {
        DatabaseUrl::Sqlite(path) => Location::Sqlite(path.clone()),
        DatabaseUrl::Postgres(url) => Location::Postgres(url.clone()),
    };
    let store = arbor_store::open(&location, &config.data_dir, master_key(config)?).await?;
    Ok(store)
}

/// `arbor migrate`: applies pending migrations; returns the schema version.
pub async fn migrate(config: &Config) -> anyhow::Result<i64> {
    Ok(open(config).await?.schema_version().await?)
}

/// `arbor keys rotate`: optionally re-wraps everything under a new master key read from `new_key_file`,
/// then gives every tenant a new data key and re-encrypts its records, showing progress on `progress_out`.
pub async fn rotate_keys(
    config: &Config,
    new_key_file: Option<&Path>,
    progress_out: &(dyn Fn(&str) + Send + Sync),
) -> anyhow::Result<RotationSummary> {
    let store = open(config).await?;
    if let Some(file) = new_key_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the new master key from {}", file.display()))?;
        let new = MasterKey::parse(&text).context("the new master key is unusable")?;
        let count = store.rotate_master_key(&new).await?;
        progress_out(&format!(
            "re-wrapped {count} keys under master key {}; configure it before the next start\n",
            new.id()
        ));
    }
    let report = |p: &RotationProgress| {
        progress_out(&format!(
            "\rtenant {}/{} (id {}): {} values re-encrypted ({})   ",
            p.tenant_index, p.tenants, p.tenant, p.reencrypted, p.table
        ));
    };
    let summary = store.rotate_tenant_keys(&report).await?;
    progress_out("\n");
    // An admin action: it goes into the audit log.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let action = if new_key_file.is_some() {
        "keys.rotate_master"
    } else {
        "keys.rotate"
    };
    let entry = NewAuditEntry::new(
        None,
        None,
        action,
        &[],
        Outcome::Ok,
        Timestamp::from_unix_millis(now),
        None,
        None,
    )?;
    store.append_audit(&entry).await?;
    Ok(summary)
}

/// `arbor audit verify`: the report, whose `fault` names the first bad entry.
pub async fn verify_audit(config: &Config) -> anyhow::Result<AuditReport> {
    Ok(open(config).await?.verify_audit().await?)
}

/// Writes progress to standard error (a progress line on a terminal).
pub fn stderr_progress(text: &str) {
    let mut err = std::io::stderr().lock();
    // Progress is best effort: a closed stderr must not stop a rotation.
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}
