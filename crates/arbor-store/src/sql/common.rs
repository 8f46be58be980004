// The storage implementation shared by both engines. It is `include!`d by `sqlite.rs` and `postgres.rs`,
// which define before it: `Db` (the sqlx database), `ENGINE`, `BEGIN_WRITE` (the statement that opens a
// write transaction), `MIGRATION_LOCK`, `MIGRATIONS`, and the macros `for_update!()` / `for_share!()` that
// expand to the row-locking suffix (empty on SQLite, where `BEGIN IMMEDIATE` already serialises writers).
// The SQL below is the common subset of both dialects: `$n` parameters (in ascending order of first use),
// `RETURNING`, `ON CONFLICT`, `CAST(.. AS TEXT)`, `||`. Writing it once keeps the engines from drifting apart.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use arbor_core::forest::Forest;
use arbor_core::history::HistoryEntry;
use arbor_core::ids::{ActorId, GeneratorId, Timestamp, Version, defuse_bidi};
use arbor_core::permission::Rule;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use crate::audit::{
    self, AuditEntry, AuditFault, AuditReport, CHECKPOINT_EVERY, GENESIS, NewAuditEntry, Outcome,
    Verifier,
};
use crate::codec::{decode_forest, encode_forest};
use crate::crypto::{self, AuditKey, CryptoError, DataKey, MasterKey, Place};
use crate::error::{Result, StoreError};
use crate::journal::{JournalEntry, JournalOp};
use crate::model::{
    AccessRequest, AccessRequestId, AccessStatus, Actor, Alert, AlertId, BackupRecord,
    InvalidationEntry, JiraInvalidation, NewAccessRequest, NewStructure, OAuthToken, Person, Session, StructureId, StructureMeta,
    SavedView, Tenant, TenantId, ViewConfig, ViewId,
};
use crate::store::{Engine, ProgressFn, RotationProgress, RotationSummary, Store};

type Conn = <Db as sqlx::Database>::Connection;
type Tx = sqlx::Transaction<'static, Db>;

/// Rows re-encrypted per transaction during key rotation.
const ROTATION_BATCH: i64 = 256;
/// How long a key rotation's lease lasts before another may take over; renewed for every tenant.
const ROTATION_LEASE_MS: i64 = 10 * 60 * 1000;
/// Audit entries read per query during verification.
const VERIFY_PAGE: i64 = 1000;

/// A table with encrypted columns: how to page through it and how its ciphertexts name their row.
struct Encrypted {
    table: &'static str,
    /// An integer column, unique within the tenant, to page by.
    cursor: &'static str,
    /// The SQL expression for the row part of the associated data; must match what the methods use.
    row: &'static str,
    columns: &'static [&'static str],
}

/// Every encrypted column of the schema (SPEC §4's † items, plus people's settings and access request
/// reasons). Key rotation walks this list; the plaintext scan test checks nothing else holds text.
const ENCRYPTED: &[Encrypted] = &[
    Encrypted {
        table: "people",
        cursor: "id",
        row: "account_id",
        columns: &["settings"],
    },
    Encrypted {
        table: "oauth_tokens",
        cursor: "id",
        row: "account_id",
        columns: &["tokens"],
    },
    Encrypted {
        table: "structures",
        cursor: "id",
        row: "CAST(id AS TEXT)",
        columns: &["name", "description"],
    },
    Encrypted {
        table: "forests",
        cursor: "structure_id",
        row: "CAST(structure_id AS TEXT)",
        columns: &["snapshot"],
    },
    Encrypted {
        table: "generators",
        cursor: "id",
        row: "CAST(structure_id AS TEXT) || '/' || CAST(generator_id AS TEXT)",
        columns: &["config"],
    },
    Encrypted {
        table: "views",
        cursor: "id",
        row: "CAST(id AS TEXT)",
        columns: &["config"],
    },
    Encrypted {
        table: "journal",
        cursor: "seq",
        row: "CAST(seq AS TEXT)",
        columns: &["payload"],
    },
    Encrypted {
        table: "jira_invalidations",
        cursor: "seq",
        row: "CAST(seq AS TEXT)",
        columns: &["payload"],
    },
    Encrypted {
        table: "access_requests",
        cursor: "id",
        row: "CAST(id AS TEXT)",
        columns: &["reason"],
    },
];

/// Tables holding a tenant's records, in the order `delete_tenant` empties them.
const TENANT_TABLES: &[&str] = &[
    "people",
    "sessions",
    "oauth_tokens",
    "forests",
    "permission_rules",
    "generators",
    "views",
    "structures",
    "journal",
    "jira_invalidations",
    "webhook_tokens",
    "access_requests",
    "alerts",
];

/// The store on this engine. Cheap to share: clone the `Arc` it is usually held in.
pub struct SqlStore {
    pool: sqlx::Pool<Db>,
    master: RwLock<MasterKey>,
    audit_key: Arc<AuditKey>,
    keys: RwLock<HashMap<(TenantId, u32), Arc<DataKey>>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("engine", &ENGINE)
            .field("master_key", &self.master().id().to_string())
            .finish_non_exhaustive()
    }
}

fn malformed(record: impl std::fmt::Display, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Malformed {
        record: record.to_string(),
        reason: reason.to_string(),
    }
}

fn ts(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(millis)
}

fn version(value: i64) -> Version {
    Version(u64::try_from(value).unwrap_or(0))
}

fn version_sql(version: Version) -> Result<i64> {
    i64::try_from(version.get())
        .map_err(|_| StoreError::Invalid(format!("version {version} is out of range")))
}

fn actor_id(text: &str, record: impl std::fmt::Display) -> Result<ActorId> {
    ActorId::new(text).map_err(|e| malformed(record, e))
}

fn mac32(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

fn not_found(tenant: TenantId, what: &'static str, id: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        tenant,
        what,
        id: id.to_string(),
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Applies the migrations this arbor knows that the database lacks, in one transaction; refuses a database
/// that records a version this arbor does not know, or a known migration whose text changed.
async fn migrate(pool: &sqlx::Pool<Db>) -> Result<i64> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    if let Some(lock) = MIGRATION_LOCK {
        sqlx::query(lock).execute(&mut *tx).await?;
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS arbor_schema (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<(i64, String)> =
        sqlx::query("SELECT version, checksum FROM arbor_schema ORDER BY version")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some((found, _)) = applied.iter().rev().find(|(v, _)| *v > known) {
        return Err(StoreError::NewerSchema {
            found: *found,
            known,
        });
    }
    for (number, name, sql) in MIGRATIONS {
        match applied.iter().find(|(v, _)| v == number) {
            Some((_, sum)) if *sum == checksum(sql) => {}
            Some(_) => {
                return Err(StoreError::MigrationEdited {
                    version: *number,
                    name: (*name).into(),
                });
            }
            None => {
                sqlx::raw_sql(*sql).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO arbor_schema (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(number)
                .bind(name)
                .bind(checksum(sql))
                .bind(now_millis())
                .execute(&mut *tx)
                .await?;
                tracing::info!(engine = %ENGINE, version = number, name, "migration applied");
            }
        }
    }
    tx.commit().await?;
    Ok(known)
}

impl SqlStore {
    /// Migrates the database, checks that `master` is the key it was written with, and loads (or on first
    /// start creates) the audit key.
    pub async fn from_pool(pool: sqlx::Pool<Db>, master: MasterKey) -> Result<Self> {
        migrate(&pool).await?;
        let stored: Vec<String> = sqlx::query(
            "SELECT DISTINCT master_key_id FROM tenant_keys UNION SELECT master_key_id FROM deployment_keys",
        )
        .fetch_all(&pool)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, sqlx::Error>>()?;
        if let Some(other) = stored.into_iter().find(|id| id != master.id().as_str()) {
            return Err(CryptoError::WrongMasterKey {
                configured: master.id().clone(),
                stored: other,
            }
            .into());
        }
        let fresh = AuditKey::generate()?;
        let created = sqlx::query(
            "INSERT INTO deployment_keys (purpose, master_key_id, wrapped) VALUES ('audit', $1, $2) \
             ON CONFLICT (purpose) DO NOTHING",
        )
        .bind(master.id().as_str())
        .bind(master.wrap_audit_key(&fresh)?)
        .execute(&pool)
        .await?
        .rows_affected()
            == 1;
        if created {
            // The empty chain's head is MAC'd from the start, so that resetting a wiped log to "nothing written
            // yet" cannot pass for the real thing.
            sqlx::query("UPDATE audit_head SET mac = $1, checkpoint_mac = $2 WHERE id = 1 AND seq = 0")
                .bind(GENESIS.as_slice())
                .bind(audit::checkpoint_mac(&fresh, b"head", 0, &GENESIS).as_slice())
                .execute(&pool)
                .await?;
        }
        let wrapped: Vec<u8> =
            sqlx::query("SELECT wrapped FROM deployment_keys WHERE purpose = 'audit'")
                .fetch_one(&pool)
                .await?
                .try_get(0)?;
        let audit_key = Arc::new(master.unwrap_audit_key(&wrapped)?);
        Ok(Self {
            pool,
            master: RwLock::new(master),
            audit_key,
            keys: RwLock::new(HashMap::new()),
        })
    }

    /// The connection pool, for engine-specific maintenance.
    pub fn pool(&self) -> &sqlx::Pool<Db> {
        &self.pool
    }

    /// Waits for in-flight work and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn master(&self) -> MasterKey {
        self.master
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A tenant's data key of `version`, from the cache or unwrapped from the database; `None` if the tenant
    /// has no such version (any more).
    async fn data_key(
        &self,
        conn: &mut Conn,
        tenant: TenantId,
        version: u32,
    ) -> Result<Option<Arc<DataKey>>> {
        let cached = self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(tenant, version))
            .cloned();
        if let Some(key) = cached {
            return Ok(Some(key));
        }
        let row = sqlx::query(
            "SELECT master_key_id, wrapped FROM tenant_keys WHERE tenant_id = $1 AND version = $2",
        )
        .bind(tenant.sql())
        .bind(i64::from(version))
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let master = self.master();
        let stored: String = row.try_get(0)?;
        if stored != master.id().as_str() {
            return Err(CryptoError::WrongMasterKey {
                configured: master.id().clone(),
                stored,
            }
            .into());
        }
        let wrapped: Vec<u8> = row.try_get(1)?;
        let key = Arc::new(master.unwrap_key(tenant, version, &wrapped)?);
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((tenant, version), Arc::clone(&key));
        Ok(Some(key))
    }

    /// Decrypts a value read from `place`, with the key version its header names.
    async fn open_value(
        &self,
        conn: &mut Conn,
        place: &Place<'_>,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        let version = crypto::key_version(place, sealed)?;
        let key = self
            .data_key(conn, place.tenant, version)
            .await?
            .ok_or_else(|| CryptoError::MissingKey {
                record: place.to_string(),
                tenant: place.tenant,
                version,
            })?;
        Ok(key.open(place, sealed)?)
    }

    async fn open_text(&self, conn: &mut Conn, place: &Place<'_>, sealed: &[u8]) -> Result<String> {
        let plain = self.open_value(conn, place, sealed).await?;
        String::from_utf8(plain).map_err(|_| malformed(place, "not UTF-8"))
    }

    async fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        conn: &mut Conn,
        place: &Place<'_>,
        sealed: &[u8],
    ) -> Result<T> {
        let plain = self.open_value(conn, place, sealed).await?;
        serde_json::from_slice(&plain).map_err(|e| malformed(place, crate::error::json_error_without_values(&e)))
    }

    /// The current data key of a tenant, read inside `tx` (shared-locking the tenant row on PostgreSQL, so
    /// that a key rotation waits for this write and this write sees the rotation).
    async fn current_key(&self, tx: &mut Tx, tenant: TenantId) -> Result<Arc<DataKey>> {
        let row = sqlx::query(concat!(
            "SELECT key_version FROM tenants WHERE id = $1",
            for_share!()
        ))
        .bind(tenant.sql())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NoTenant(tenant))?;
        self.key_of(tx, tenant, row.try_get(0)?).await
    }

    async fn key_of(&self, tx: &mut Tx, tenant: TenantId, version: i64) -> Result<Arc<DataKey>> {
        let version = u32::try_from(version)
            .map_err(|_| malformed(format!("tenant {tenant}"), "key version out of range"))?;
        self.data_key(tx, tenant, version).await?.ok_or_else(|| {
            malformed(
                format!("tenant {tenant}"),
                format!("its current key version {version} is missing"),
            )
        })
    }

    /// Opens a write transaction that will append to the tenant's journal: takes the next sequence number
    /// (locking the tenant row, which orders the tenant's journal) and the current data key.
    async fn begin_journaled(&self, tenant: TenantId) -> Result<(Tx, Arc<DataKey>, i64)> {
        self.begin_numbered(
            tenant,
            "UPDATE tenants SET journal_seq = journal_seq + 1 WHERE id = $1 RETURNING journal_seq, key_version",
        )
        .await
    }

    /// Opens a write transaction, takes the next number of one of the tenant's sequences with `next` (an
    /// UPDATE of the tenant row returning the number and the key version: the row stays locked until the
    /// commit, so numbers commit in order) and the current data key.
    async fn begin_numbered(
        &self,
        tenant: TenantId,
        next: &'static str,
    ) -> Result<(Tx, Arc<DataKey>, i64)> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let row = sqlx::query(next)
        .bind(tenant.sql())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NoTenant(tenant))?;
        let seq: i64 = row.try_get(0)?;
        let key = self.key_of(&mut tx, tenant, row.try_get(1)?).await?;
        Ok((tx, key, seq))
    }

    async fn append_journal(
        tx: &mut Tx,
        key: &DataKey,
        tenant: TenantId,
        seq: i64,
        actor: &Actor,
        op: &JournalOp,
        tail: Option<&[u8]>,
    ) -> Result<()> {
        let row = seq.to_string();
        let place = Place {
            tenant,
            table: "journal",
            row: &row,
            column: "payload",
        };
        let plain = match tail {
            Some(tail) => op.encode_with_tail(tail),
            None => op.encode(),
        }
        .map_err(|e| malformed(place, e))?;
        sqlx::query(
            "INSERT INTO journal (tenant_id, seq, at, actor, op, payload, structure_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.sql())
        .bind(seq)
        .bind(actor.at.as_unix_millis())
        .bind(actor.id.as_str())
        .bind(op.name())
        .bind(key.seal(&place, &plain)?)
        .bind(op.structure().map(StructureId::sql))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Decrypts journal rows selected as `seq, at, actor, payload`.
    async fn journal_entries(
        &self,
        conn: &mut Conn,
        tenant: TenantId,
        rows: &[<Db as sqlx::Database>::Row],
    ) -> Result<Vec<JournalEntry>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.try_get(0)?;
            let row_name = seq.to_string();
            let place = Place {
                tenant,
                table: "journal",
                row: &row_name,
                column: "payload",
            };
            let sealed: Vec<u8> = row.try_get(3)?;
            let plain = self.open_value(conn, &place, &sealed).await?;
            let actor: String = row.try_get(2)?;
            out.push(JournalEntry {
                seq: u64::try_from(seq).map_err(|e| malformed(place, e))?,
                at: ts(row.try_get(1)?),
                actor: actor_id(&actor, place)?,
                op: JournalOp::decode(&plain).map_err(|e| malformed(place, e))?,
            });
        }
        Ok(out)
    }

    /// Moves a structure from `expected` to the next version, or explains why not: it does not exist in
    /// this tenant, or it is at another version (a conflict).
    async fn bump_version(
        tx: &mut Tx,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        at: Timestamp,
    ) -> Result<Version> {
        let next = expected.next().ok_or_else(|| {
            StoreError::Invalid(format!("structure {id} has no version after {expected}"))
        })?;
        let done = sqlx::query(
            "UPDATE structures SET version = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4 AND version = $5",
        )
        .bind(version_sql(next)?)
        .bind(at.as_unix_millis())
        .bind(tenant.sql())
        .bind(id.sql())
        .bind(version_sql(expected)?)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(next);
        }
        let actual = sqlx::query("SELECT version FROM structures WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.sql())
            .bind(id.sql())
            .fetch_optional(&mut **tx)
            .await?;
        match actual {
            None => Err(not_found(tenant, "structure", id)),
            Some(row) => Err(StoreError::Conflict {
                structure: id,
                expected,
                actual: version(row.try_get(0)?),
            }),
        }
    }

    async fn structure_meta(
        &self,
        conn: &mut Conn,
        tenant: TenantId,
        row: &<Db as sqlx::Database>::Row,
    ) -> Result<StructureMeta> {
        let raw_id: i64 = row.try_get("id")?;
        let id = StructureId::from_sql(raw_id).map_err(|e| malformed("structures", e))?;
        let row_name = id.to_string();
        let place = |column| Place {
            tenant,
            table: "structures",
            row: &row_name,
            column,
        };
        let name: Vec<u8> = row.try_get("name")?;
        let description: Vec<u8> = row.try_get("description")?;
        let owner: String = row.try_get("owner")?;
        // Names stored before bidirectional formatting characters were refused load defused.
        let name = self.open_text(conn, &place("name"), &name).await?;
        let description = self
            .open_text(conn, &place("description"), &description)
            .await?;
        Ok(StructureMeta {
            id,
            name: defuse_bidi(&name).into_owned(),
            description: defuse_bidi(&description).into_owned(),
            owner: actor_id(&owner, place("owner"))?,
            version: version(row.try_get("version")?),
            created_at: ts(row.try_get("created_at")?),
            updated_at: ts(row.try_get("updated_at")?),
        })
    }

    async fn person_from_row(
        &self,
        conn: &mut Conn,
        tenant: TenantId,
        row: &<Db as sqlx::Database>::Row,
    ) -> Result<Person> {
        let account: String = row.try_get("account_id")?;
        let place = Place {
            tenant,
            table: "people",
            row: &account,
            column: "settings",
        };
        let sealed: Vec<u8> = row.try_get("settings")?;
        Ok(Person {
            account_id: actor_id(&account, place)?,
            settings: self.open_json(conn, &place, &sealed).await?,
            updated_at: ts(row.try_get("updated_at")?),
        })
    }

    async fn access_request_from_row(
        &self,
        conn: &mut Conn,
        tenant: TenantId,
        row: &<Db as sqlx::Database>::Row,
    ) -> Result<AccessRequest> {
        let raw_id: i64 = row.try_get("id")?;
        let id = AccessRequestId::from_sql(raw_id).map_err(|e| malformed("access_requests", e))?;
        let row_name = id.to_string();
        let place = Place {
            tenant,
            table: "access_requests",
            row: &row_name,
            column: "reason",
        };
        let sealed: Vec<u8> = row.try_get("reason")?;
        let requester: String = row.try_get("requester")?;
        let status: String = row.try_get("status")?;
        let decided_by: Option<String> = row.try_get("decided_by")?;
        let duration: i64 = row.try_get("duration_minutes")?;
        let decided_at: Option<i64> = row.try_get("decided_at")?;
        Ok(AccessRequest {
            id,
            requester: actor_id(&requester, place)?,
            reason: self.open_text(conn, &place, &sealed).await?,
            scope: row.try_get("scope")?,
            duration_minutes: u32::try_from(duration).map_err(|e| malformed(place, e))?,
            status: AccessStatus::parse(&status)
                .ok_or_else(|| malformed(place, format!("unknown status {status:?}")))?,
            decided_by: decided_by.map(|d| actor_id(&d, place)).transpose()?,
            created_at: ts(row.try_get("created_at")?),
            decided_at: decided_at.map(ts),
        })
    }

    fn audit_from_row(row: &<Db as sqlx::Database>::Row) -> Result<AuditEntry, AuditFault> {
        fn read(
            row: &<Db as sqlx::Database>::Row,
        ) -> Result<(u64, NewAuditEntry, [u8; 32]), String> {
            let seq: i64 = row.try_get("seq").map_err(|e| e.to_string())?;
            let seq = u64::try_from(seq).map_err(|e| e.to_string())?;
            let tenant: Option<i64> = row.try_get("tenant_id").map_err(|e| e.to_string())?;
            let actor: Option<String> = row.try_get("actor").map_err(|e| e.to_string())?;
            let objects: String = row.try_get("objects").map_err(|e| e.to_string())?;
            let outcome: String = row.try_get("outcome").map_err(|e| e.to_string())?;
            let client: Option<String> = row.try_get("client").map_err(|e| e.to_string())?;
            let mac: Vec<u8> = row.try_get("mac").map_err(|e| e.to_string())?;
            let entry = NewAuditEntry {
                tenant: tenant
                    .map(TenantId::from_sql)
                    .transpose()
                    .map_err(|e| e.to_string())?,
                actor: actor
                    .map(|a| ActorId::new(&a))
                    .transpose()
                    .map_err(|e| e.to_string())?,
                action: row.try_get("action").map_err(|e| e.to_string())?,
                objects: objects
                    .split(' ')
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect(),
                outcome: Outcome::parse(&outcome).ok_or("unknown outcome")?,
                at: ts(row.try_get("at").map_err(|e| e.to_string())?),
                client: client
                    .map(|c| c.parse::<IpAddr>())
                    .transpose()
                    .map_err(|e| e.to_string())?,
                request_id: row.try_get("request_id").map_err(|e| e.to_string())?,
            };
            Ok((seq, entry, mac32(&mac).ok_or("the MAC is not 32 bytes")?))
        }
        let seq: i64 = row.try_get("seq").unwrap_or(0);
        read(row)
            .map(|(seq, entry, mac)| AuditEntry { seq, entry, mac })
            .map_err(|reason| AuditFault::Unreadable {
                seq: u64::try_from(seq).unwrap_or(0),
                reason,
            })
    }

    /// Re-encrypts one table's values of one tenant that are not under `key`, in batches.
    async fn reencrypt_table(
        &self,
        tenant: TenantId,
        key: &DataKey,
        table: &Encrypted,
        done: &mut u64,
        report: &mut (dyn FnMut(u64) + Send),
    ) -> Result<()> {
        let columns = table.columns.join(", ");
        let select = format!(
            "SELECT {cursor} AS cursor, {row} AS row_name, {columns} FROM {name} \
             WHERE tenant_id = $1 AND {cursor} > $2 ORDER BY {cursor} LIMIT {ROTATION_BATCH}",
            cursor = table.cursor,
            row = table.row,
            name = table.table,
        );
        let mut after = i64::MIN;
        loop {
            let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
            let rows = sqlx::query(AssertSqlSafe(select.clone()))
                .bind(tenant.sql())
                .bind(after)
                .fetch_all(&mut *tx)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("cursor")?;
            for row in &rows {
                let cursor: i64 = row.try_get("cursor")?;
                let row_name: String = row.try_get("row_name")?;
                for column in table.columns {
                    let sealed: Vec<u8> = row.try_get(*column)?;
                    let place = Place {
                        tenant,
                        table: table.table,
                        row: &row_name,
                        column,
                    };
                    // Only older versions move; a value already under this version (or a newer one) stays.
                    if sealed.is_empty() || crypto::key_version(&place, &sealed)? >= key.version() {
                        continue;
                    }
                    let plain = self.open_value(&mut tx, &place, &sealed).await?;
                    // Compare-and-swap: a value rewritten meanwhile is already under the new key.
                    let update = format!(
                        "UPDATE {name} SET {column} = $1 WHERE tenant_id = $2 AND {cursor} = $3 AND {column} = $4",
                        name = table.table,
                        cursor = table.cursor,
                    );
                    sqlx::query(AssertSqlSafe(update))
                        .bind(key.seal(&place, &plain)?)
                        .bind(tenant.sql())
                        .bind(cursor)
                        .bind(sealed)
                        .execute(&mut *tx)
                        .await?;
                    *done += 1;
                }
            }
            tx.commit().await?;
            report(*done);
        }
        Ok(())
    }

    async fn set_versioned_generator(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        generator: GeneratorId,
        config: Option<&serde_json::Value>,
        actor: &Actor,
    ) -> Result<Version> {
        let (mut tx, key, seq) = self.begin_journaled(tenant).await?;
        let next = Self::bump_version(&mut tx, tenant, id, expected, actor.at).await?;
        let generator_sql = i64::try_from(generator.get()).unwrap_or(i64::MAX);
        let op = match config {
            Some(config) => {
                let row = format!("{id}/{generator}");
                let place = Place {
                    tenant,
                    table: "generators",
                    row: &row,
                    column: "config",
                };
                let plain = serde_json::to_vec(config).map_err(|e| malformed(place, e))?;
                sqlx::query(
                    "INSERT INTO generators (tenant_id, structure_id, generator_id, config) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (structure_id, generator_id) DO UPDATE SET config = excluded.config",
                )
                .bind(tenant.sql())
                .bind(id.sql())
                .bind(generator_sql)
                .bind(key.seal(&place, &plain)?)
                .execute(&mut *tx)
                .await?;
                JournalOp::GeneratorSet {
                    structure: id,
                    version: next,
                    generator,
                    config: config.clone(),
                }
            }
            None => {
                let done = sqlx::query(
                    "DELETE FROM generators WHERE tenant_id = $1 AND structure_id = $2 AND generator_id = $3",
                )
                .bind(tenant.sql())
                .bind(id.sql())
                .bind(generator_sql)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(not_found(tenant, "generator", format!("{id}/{generator}")));
                }
                JournalOp::GeneratorDeleted {
                    structure: id,
                    version: next,
                    generator,
                }
            }
        };
        Self::append_journal(&mut tx, &key, tenant, seq, actor, &op, None).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Creates (`structure`, no `view`), changes (`view`) or deletes (`view`, no `config`) a view. A new view
    /// is owned by `actor`; a change keeps the owner (it is journaled with the change).
    async fn write_view(
        &self,
        tenant: TenantId,
        structure: Option<StructureId>,
        view: Option<ViewId>,
        config: Option<(&ViewConfig, bool)>,
        actor: &Actor,
    ) -> Result<ViewId> {
        let (mut tx, key, seq) = self.begin_journaled(tenant).await?;
        let (view, structure, owner) = match (view, structure) {
            (None, Some(structure)) => {
                let exists =
                    sqlx::query("SELECT id FROM structures WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.sql())
                        .bind(structure.sql())
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    return Err(not_found(tenant, "structure", structure));
                }
                let id: i64 = sqlx::query(
                    "INSERT INTO views (tenant_id, structure_id, config, owner) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(tenant.sql())
                .bind(structure.sql())
                .bind(Vec::<u8>::new())
                .bind(actor.id.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                (
                    ViewId::from_sql(id).map_err(|e| malformed("views", e))?,
                    structure,
                    actor.id.clone(),
                )
            }
            (Some(view), _) => {
                let row = sqlx::query(
                    "SELECT structure_id, owner FROM views WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.sql())
                .bind(view.sql())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| not_found(tenant, "view", view))?;
                let structure: i64 = row.try_get(0)?;
                let owner: String = row.try_get(1)?;
                (
                    view,
                    StructureId::from_sql(structure).map_err(|e| malformed("views", e))?,
                    actor_id(&owner, "views")?,
                )
            }
            (None, None) => return Err(StoreError::Invalid("a view needs a structure".into())),
        };
        let op = match config {
            Some((config, shared)) => {
                let row = view.to_string();
                let place = Place {
                    tenant,
                    table: "views",
                    row: &row,
                    column: "config",
                };
                let plain = serde_json::to_vec(config).map_err(|e| malformed(place, e))?;
                sqlx::query(
                    "UPDATE views SET config = $1, shared = $2 WHERE tenant_id = $3 AND id = $4",
                )
                .bind(key.seal(&place, &plain)?)
                .bind(i64::from(shared))
                .bind(tenant.sql())
                .bind(view.sql())
                .execute(&mut *tx)
                .await?;
                JournalOp::ViewSet {
                    structure,
                    view,
                    config: config.clone(),
                    owner: Some(owner),
                    shared,
                }
            }
            None => {
                sqlx::query("DELETE FROM views WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.sql())
                    .bind(view.sql())
                    .execute(&mut *tx)
                    .await?;
                JournalOp::ViewDeleted { view }
            }
        };
        Self::append_journal(&mut tx, &key, tenant, seq, actor, &op, None).await?;
        tx.commit().await?;
        Ok(view)
    }
}

fn tenant_from_row(row: &<Db as sqlx::Database>::Row) -> Result<Tenant> {
    let id: i64 = row.try_get("id")?;
    let key_version: i64 = row.try_get("key_version")?;
    Ok(Tenant {
        id: TenantId::from_sql(id).map_err(|e| malformed("tenants", e))?,
        site: row.try_get("site")?,
        created_at: ts(row.try_get("created_at")?),
        key_version: u32::try_from(key_version)
            .map_err(|e| malformed(format!("tenant {id}"), e))?,
    })
}

#[async_trait]
impl Store for SqlStore {
    fn engine(&self) -> Engine {
        ENGINE
    }

    async fn schema_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT MAX(version) FROM arbor_schema")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    async fn create_tenant(&self, site: &str, at: Timestamp) -> Result<TenantId> {
        let site = site.trim();
        if site.is_empty() || site.len() > 512 {
            return Err(StoreError::Invalid(
                "a tenant's site must be 1 to 512 characters".into(),
            ));
        }
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let row = sqlx::query(
            "INSERT INTO tenants (site, created_at, key_version) VALUES ($1, $2, 1) \
             ON CONFLICT (site) DO NOTHING RETURNING id",
        )
        .bind(site)
        .bind(at.as_unix_millis())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::DuplicateTenant(site.to_owned()))?;
        let tenant = TenantId::from_sql(row.try_get(0)?).map_err(|e| malformed("tenants", e))?;
        let key = DataKey::generate(1)?;
        let master = self.master();
        sqlx::query(
            "INSERT INTO tenant_keys (tenant_id, version, master_key_id, wrapped) VALUES ($1, 1, $2, $3)",
        )
        .bind(tenant.sql())
        .bind(master.id().as_str())
        .bind(master.wrap(tenant, &key)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(tenant)
    }

    async fn tenant(&self, tenant: TenantId) -> Result<Option<Tenant>> {
        sqlx::query("SELECT id, site, created_at, key_version FROM tenants WHERE id = $1")
            .bind(tenant.sql())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(tenant_from_row)
            .transpose()
    }

    async fn tenant_by_site(&self, site: &str) -> Result<Option<Tenant>> {
        sqlx::query("SELECT id, site, created_at, key_version FROM tenants WHERE site = $1")
            .bind(site.trim())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(tenant_from_row)
            .transpose()
    }

    async fn tenants(&self) -> Result<Vec<Tenant>> {
        sqlx::query("SELECT id, site, created_at, key_version FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(tenant_from_row)
            .collect()
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Result<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let exists = sqlx::query(concat!(
            "SELECT id FROM tenants WHERE id = $1",
            for_update!()
        ))
        .bind(tenant.sql())
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_none() {
            return Err(StoreError::NoTenant(tenant));
        }
        for table in TENANT_TABLES.iter().chain(&["tenant_keys"]) {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1"
            )))
            .bind(tenant.sql())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(tenant.sql())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(t, _), _| *t != tenant);
        Ok(())
    }

    async fn set_settings(
        &self,
        tenant: TenantId,
        account: &ActorId,
        settings: &serde_json::Value,
        at: Timestamp,
    ) -> Result<()> {
        let (mut tx, key, seq) = self.begin_journaled(tenant).await?;
        let place = Place {
            tenant,
            table: "people",
            row: account.as_str(),
            column: "settings",
        };
        let plain = serde_json::to_vec(settings).map_err(|e| malformed(place, e))?;
        sqlx::query(
            "INSERT INTO people (tenant_id, account_id, settings, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, account_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        )
        .bind(tenant.sql())
        .bind(account.as_str())
        .bind(key.seal(&place, &plain)?)
        .bind(at.as_unix_millis())
        .execute(&mut *tx)
        .await?;
        let op = JournalOp::SettingsSet {
            account: account.clone(),
            settings: settings.clone(),
        };
        let actor = Actor::new(account.clone(), at);
        Self::append_journal(&mut tx, &key, tenant, seq, &actor, &op, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn person(&self, tenant: TenantId, account: &ActorId) -> Result<Option<Person>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT account_id, settings, updated_at FROM people WHERE tenant_id = $1 AND account_id = $2",
        )
        .bind(tenant.sql())
        .bind(account.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => Ok(Some(self.person_from_row(&mut conn, tenant, &row).await?)),
            None => Ok(None),
        }
    }

    async fn people(&self, tenant: TenantId) -> Result<Vec<Person>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT account_id, settings, updated_at FROM people WHERE tenant_id = $1 ORDER BY account_id",
        )
        .bind(tenant.sql())
        .fetch_all(&mut *conn)
        .await?;
        let mut people = Vec::with_capacity(rows.len());
        for row in &rows {
            people.push(self.person_from_row(&mut conn, tenant, row).await?);
        }
        Ok(people)
    }

    async fn create_session(&self, tenant: TenantId, session: &Session) -> Result<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        self.current_key(&mut tx, tenant).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, tenant_id, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.token_hash.as_slice())
        .bind(tenant.sql())
        .bind(session.account_id.as_str())
        .bind(session.created_at.as_unix_millis())
        .bind(session.expires_at.as_unix_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(
        &self,
        tenant: TenantId,
        token_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT account_id, created_at, expires_at FROM sessions \
             WHERE token_hash = $1 AND tenant_id = $2 AND expires_at > $3",
        )
        .bind(token_hash.as_slice())
        .bind(tenant.sql())
        .bind(now.as_unix_millis())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let account: String = row.try_get(0)?;
        Ok(Some(Session {
            token_hash: *token_hash,
            account_id: actor_id(&account, format!("tenant {tenant} session"))?,
            created_at: ts(row.try_get(1)?),
            expires_at: ts(row.try_get(2)?),
        }))
    }

    async fn delete_session(&self, tenant: TenantId, token_hash: &[u8; 32]) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 AND tenant_id = $2")
            .bind(token_hash.as_slice())
            .bind(tenant.sql())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn extend_session(
        &self,
        tenant: TenantId,
        token_hash: &[u8; 32],
        expires_at: Timestamp,
    ) -> Result<bool> {
        // Only ever later: a concurrent request that extended it further is not undone.
        let done = sqlx::query(
            "UPDATE sessions SET expires_at = $1 WHERE token_hash = $2 AND tenant_id = $3 AND expires_at < $1",
        )
        .bind(expires_at.as_unix_millis())
        .bind(token_hash.as_slice())
        .bind(tenant.sql())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.as_unix_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn put_oauth_token(&self, tenant: TenantId, token: &OAuthToken) -> Result<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let key = self.current_key(&mut tx, tenant).await?;
        let place = Place {
            tenant,
            table: "oauth_tokens",
            row: token.account_id.as_str(),
            column: "tokens",
        };
        sqlx::query(
            "INSERT INTO oauth_tokens (tenant_id, account_id, tokens, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, account_id) DO UPDATE SET tokens = excluded.tokens, expires_at = excluded.expires_at",
        )
        .bind(tenant.sql())
        .bind(token.account_id.as_str())
        .bind(key.seal(&place, token.tokens.expose_secret().as_bytes())?)
        .bind(token.expires_at.as_unix_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn oauth_token(&self, tenant: TenantId, account: &ActorId) -> Result<Option<OAuthToken>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT tokens, expires_at FROM oauth_tokens WHERE tenant_id = $1 AND account_id = $2",
        )
        .bind(tenant.sql())
        .bind(account.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let place = Place {
            tenant,
            table: "oauth_tokens",
            row: account.as_str(),
            column: "tokens",
        };
        let sealed: Vec<u8> = row.try_get(0)?;
        let tokens = self.open_text(&mut conn, &place, &sealed).await?;
        Ok(Some(OAuthToken {
            account_id: account.clone(),
            tokens: SecretString::from(tokens),
            expires_at: ts(row.try_get(1)?),
        }))
    }

    async fn delete_oauth_token(&self, tenant: TenantId, account: &ActorId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM oauth_tokens WHERE tenant_id = $1 AND account_id = $2")
            .bind(tenant.sql())
            .bind(account.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_structure(
        &self,
        tenant: TenantId,
        new: &NewStructure,
        actor: &Actor,
    ) -> Result<StructureMeta> {
        let (mut tx, key, seq) = self.begin_journaled(tenant).await?;
        let at = actor.at.as_unix_millis();
        let raw_id: i64 = sqlx::query(
            "INSERT INTO structures (tenant_id, name, description, owner, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $6) RETURNING id",
        )
        .bind(tenant.sql())
        .bind(Vec::<u8>::new())
        .bind(Vec::<u8>::new())
        .bind(new.owner.as_str())
        .bind(at)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let id = StructureId::from_sql(raw_id).map_err(|e| malformed("structures", e))?;
        let row = id.to_string();
        let place = |column| Place {
            tenant,
            table: "structures",
            row: &row,
            column,
        };
        let forest_place = Place {
            tenant,
            table: "forests",
            row: &row,
            column: "snapshot",
        };
        let snapshot = key.seal(&forest_place, &encode_forest(&Forest::new()))?;
        sqlx::query("UPDATE structures SET name = $1, description = $2 WHERE id = $3")
            .bind(key.seal(&place("name"), new.name.as_bytes())?)
            .bind(key.seal(&place("description"), new.description.as_bytes())?)
            .bind(raw_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO forests (structure_id, tenant_id, snapshot) VALUES ($1, $2, $3)")
            .bind(raw_id)
            .bind(tenant.sql())
            .bind(snapshot)
            .execute(&mut *tx)
            .await?;
        let op = JournalOp::StructureCreated {
            structure: id,
            name: new.name.clone(),
            description: new.description.clone(),
            owner: new.owner.clone(),
        };
        Self::append_journal(&mut tx, &key, tenant, seq, actor, &op, None).await?;
        tx.commit().await?;
        Ok(StructureMeta {
            id,
            name: new.name.clone(),
            description: new.description.clone(),
            owner: new.owner.clone(),
            version: Version::ZERO,
            created_at: actor.at,
            updated_at: actor.at,
        })
    }

    async fn structure(&self, tenant: TenantId, id: StructureId) -> Result<Option<StructureMeta>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT id, name, description, owner, version, created_at, updated_at FROM structures \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.sql())
        .bind(id.sql())
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => Ok(Some(self.structure_meta(&mut conn, tenant, &row).await?)),
            None => Ok(None),
        }
    }

    async fn structures(&self, tenant: TenantId) -> Result<Vec<StructureMeta>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT id, name, description, owner, version, created_at, updated_at FROM structures \
             WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant.sql())
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.structure_meta(&mut conn, tenant, row).await?);
        }
        Ok(out)
    }

    async fn update_structure(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        name: &str,
        description: &str,
        actor: &Actor,
    ) -> Result<Version> {
        let (mut tx, key, seq) = self.begin_journaled(tenant).await?;
        let next = Self::bump_version(&mut tx, tenant, id, expected, actor.at).await?;
        let row = id.to_string();
        let place = |column| Place {
            tenant,
            table: "structures",
            row: &row,
            column,
        };
        sqlx::query(
            "UPDATE structures SET name = $1, description = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(key.seal(&place("name"), name.as_bytes())?)
        .bind(key.seal(&place("description"), description.as_bytes())?)
        .bind(tenant.sql())
        .bind(id.sql())
        .execute(&mut *tx)
        .await?;
        let op = JournalOp::StructureUpdated {
            structure: id,
            version: next,
            name: name.to_owned(),
            description: description.to_owned(),
        };
        Self::append_journal(&mut tx, &key, tenant, seq, actor, &op, None).await?;
        tx.commit().await?;
        Ok(next)
    }

    async fn delete_structure(
        &self,
        tenant: TenantId,
        id: StructureId,
        actor: &Actor,
    ) -> Result<()> {
        let (mut tx, key, seq) = self.begin_journaled(tenant).await?;
        let done = sqlx::query("DELETE FROM structures WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.sql())
            .bind(id.sql())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(tenant, "structure", id));
        }
        for table in ["forests", "permission_rules", "generators", "views"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND structure_id = $2"
            )))
            .bind(tenant.sql())
            .bind(id.sql())
            .execute(&mut *tx)
            .await?;
        }
        let op = JournalOp::StructureDeleted { structure: id };
        Self::append_journal(&mut tx, &key, tenant, seq, actor, &op, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn load_forest(&self, tenant: TenantId, id: StructureId) -> Result<(Version, Forest)> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT s.version, f.snapshot FROM structures s JOIN forests f ON f.structure_id = s.id \
             WHERE s.tenant_id = $1 AND s.id = $2 AND f.tenant_id = $1",
        )
        .bind(tenant.sql())
        .bind(id.sql())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| not_found(tenant, "structure", id))?;
        let row_name = id.to_string();
        let place = Place {
            tenant,
            table: "forests",
            row: &row_name,
            column: "snapshot",
        };
        let sealed: Vec<u8> = row.try_get(1)?;
        let plain = self.open_value(&mut conn, &place, &sealed).await?;
        let forest = decode_forest(&plain).map_err(|e| malformed(place, e))?;
        Ok((version(row.try_get(0)?), forest))
    }

    async fn save_forest(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        forest: &Forest,
        change: Option<&HistoryEntry>,
        actor: &Actor,
    ) -> Result<Version> {
        let encoded = encode_forest(forest);
        let (mut tx, key, seq) = self.begin_journaled(tenant).await?;
        let next = Self::bump_version(&mut tx, tenant, id, expected, actor.at).await?;
        let row = id.to_string();
        let place = Place {
            tenant,
            table: "forests",
            row: &row,
            column: "snapshot",
        };
        sqlx::query("UPDATE forests SET snapshot = $1 WHERE tenant_id = $2 AND structure_id = $3")
            .bind(key.seal(&place, &encoded)?)
            .bind(tenant.sql())
            .bind(id.sql())
            .execute(&mut *tx)
            .await?;
        match change {
            Some(change) => {
                let op = JournalOp::ForestChanged {
                    structure: id,
                    version: next,
                    entry: change.clone(),
                };
                Self::append_journal(&mut tx, &key, tenant, seq, actor, &op, None).await?;
            }
            None => {
                let op = JournalOp::ForestReplaced {
                    structure: id,
                    version: next,
                    forest: Forest::new(),
                };
                Self::append_journal(&mut tx, &key, tenant, seq, actor, &op, Some(&encoded))
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(next)
    }

    async fn set_rules(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        rules: &[Rule],
        actor: &Actor,
    ) -> Result<Version> {
        let (mut tx, key, seq) = self.begin_journaled(tenant).await?;
        let next = Self::bump_version(&mut tx, tenant, id, expected, actor.at).await?;
        sqlx::query("DELETE FROM permission_rules WHERE tenant_id = $1 AND structure_id = $2")
            .bind(tenant.sql())
            .bind(id.sql())
            .execute(&mut *tx)
            .await?;
        for (position, rule) in rules.iter().enumerate() {
            let grantee = serde_json::to_string(&rule.grantee)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let level = serde_json::to_string(&rule.level)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query(
                "INSERT INTO permission_rules (structure_id, position, tenant_id, grantee, level) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.sql())
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(tenant.sql())
            .bind(grantee)
            .bind(level)
            .execute(&mut *tx)
            .await?;
        }
        let op = JournalOp::RulesSet {
            structure: id,
            version: next,
            rules: rules.to_vec(),
        };
        Self::append_journal(&mut tx, &key, tenant, seq, actor, &op, None).await?;
        tx.commit().await?;
        Ok(next)
    }

    async fn rules(&self, tenant: TenantId, id: StructureId) -> Result<Vec<Rule>> {
        let rows = sqlx::query(
            "SELECT grantee, level FROM permission_rules WHERE tenant_id = $1 AND structure_id = $2 ORDER BY position",
        )
        .bind(tenant.sql())
        .bind(id.sql())
        .fetch_all(&self.pool)
        .await?;
        let record = || format!("tenant {tenant} permission rules of structure {id}");
        rows.iter()
            .map(|row| {
                let grantee: String = row.try_get(0)?;
                let level: String = row.try_get(1)?;
                Ok(Rule {
                    grantee: serde_json::from_str(&grantee).map_err(|e| malformed(record(), e))?,
                    level: serde_json::from_str(&level).map_err(|e| malformed(record(), e))?,
                })
            })
            .collect()
    }

    async fn set_generator(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        generator: GeneratorId,
        config: &serde_json::Value,
        actor: &Actor,
    ) -> Result<Version> {
        self.set_versioned_generator(tenant, id, expected, generator, Some(config), actor)
            .await
    }

    async fn delete_generator(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        generator: GeneratorId,
        actor: &Actor,
    ) -> Result<Version> {
        self.set_versioned_generator(tenant, id, expected, generator, None, actor)
            .await
    }

    async fn generators(
        &self,
        tenant: TenantId,
        id: StructureId,
    ) -> Result<BTreeMap<GeneratorId, serde_json::Value>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT generator_id, config FROM generators WHERE tenant_id = $1 AND structure_id = $2",
        )
        .bind(tenant.sql())
        .bind(id.sql())
        .fetch_all(&mut *conn)
        .await?;
        let mut out = BTreeMap::new();
        for row in &rows {
            let raw: i64 = row.try_get(0)?;
            let generator = GeneratorId::new(u64::try_from(raw).unwrap_or(0))
                .map_err(|e| malformed("generators", e))?;
            let row_name = format!("{id}/{generator}");
            let place = Place {
                tenant,
                table: "generators",
                row: &row_name,
                column: "config",
            };
            let sealed: Vec<u8> = row.try_get(1)?;
            out.insert(generator, self.open_json(&mut conn, &place, &sealed).await?);
        }
        Ok(out)
    }

    async fn create_view(
        &self,
        tenant: TenantId,
        structure: StructureId,
        config: &ViewConfig,
        shared: bool,
        actor: &Actor,
    ) -> Result<ViewId> {
        self.write_view(tenant, Some(structure), None, Some((config, shared)), actor)
            .await
    }

    async fn update_view(
        &self,
        tenant: TenantId,
        view: ViewId,
        config: &ViewConfig,
        shared: bool,
        actor: &Actor,
    ) -> Result<()> {
        self.write_view(tenant, None, Some(view), Some((config, shared)), actor)
            .await
            .map(drop)
    }

    async fn delete_view(&self, tenant: TenantId, view: ViewId, actor: &Actor) -> Result<()> {
        self.write_view(tenant, None, Some(view), None, actor)
            .await
            .map(drop)
    }

    async fn views(
        &self,
        tenant: TenantId,
        structure: StructureId,
    ) -> Result<Vec<(ViewId, SavedView)>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT id, config, owner, shared FROM views WHERE tenant_id = $1 AND structure_id = $2 ORDER BY id",
        )
        .bind(tenant.sql())
        .bind(structure.sql())
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let view = ViewId::from_sql(row.try_get(0)?).map_err(|e| malformed("views", e))?;
            let row_name = view.to_string();
            let place = Place {
                tenant,
                table: "views",
                row: &row_name,
                column: "config",
            };
            let sealed: Vec<u8> = row.try_get(1)?;
            let mut config: ViewConfig = self.open_json(&mut conn, &place, &sealed).await?;
            config.name = defuse_bidi(&config.name).into_owned();
            let owner: String = row.try_get(2)?;
            let shared: i64 = row.try_get(3)?;
            out.push((
                view,
                SavedView {
                    owner: actor_id(&owner, "views")?,
                    shared: shared != 0,
                    config,
                },
            ));
        }
        Ok(out)
    }

    async fn journal(&self, tenant: TenantId, after: u64, limit: u32) -> Result<Vec<JournalEntry>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT seq, at, actor, payload FROM journal WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant.sql())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        self.journal_entries(&mut conn, tenant, &rows).await
    }

    async fn structure_journal(
        &self,
        tenant: TenantId,
        structure: StructureId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<JournalEntry>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT seq, at, actor, payload FROM journal \
             WHERE tenant_id = $1 AND structure_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(tenant.sql())
        .bind(structure.sql())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        self.journal_entries(&mut conn, tenant, &rows).await
    }

    async fn append_invalidation(
        &self,
        tenant: TenantId,
        invalidation: &JiraInvalidation,
        at: Timestamp,
    ) -> Result<u64> {
        if invalidation.issues.len() > JiraInvalidation::MAX_ITEMS
            || invalidation.fields.len() > JiraInvalidation::MAX_ITEMS
        {
            return Err(StoreError::Invalid(format!(
                "a Jira invalidation names at most {} issues and {} fields",
                JiraInvalidation::MAX_ITEMS,
                JiraInvalidation::MAX_ITEMS
            )));
        }
        if invalidation
            .fields
            .iter()
            .any(|f| f.is_empty() || f.len() > JiraInvalidation::MAX_FIELD_LEN)
        {
            return Err(StoreError::Invalid(format!(
                "a Jira invalidation's field names are 1 to {} bytes long",
                JiraInvalidation::MAX_FIELD_LEN
            )));
        }
        let (mut tx, key, seq) = self
            .begin_numbered(
                tenant,
                "UPDATE tenants SET invalidation_seq = invalidation_seq + 1 WHERE id = $1 RETURNING invalidation_seq, key_version",
            )
            .await?;
        let row_name = seq.to_string();
        let place = Place {
            tenant,
            table: "jira_invalidations",
            row: &row_name,
            column: "payload",
        };
        let plain = serde_json::to_vec(invalidation).map_err(|e| malformed(place, e))?;
        sqlx::query(
            "INSERT INTO jira_invalidations (tenant_id, seq, at, payload) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant.sql())
        .bind(seq)
        .bind(at.as_unix_millis())
        .bind(key.seal(&place, &plain)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        u64::try_from(seq).map_err(|e| malformed(place, e))
    }

    async fn invalidations(
        &self,
        tenant: TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<InvalidationEntry>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT seq, at, payload FROM jira_invalidations WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant.sql())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.try_get(0)?;
            let row_name = seq.to_string();
            let place = Place {
                tenant,
                table: "jira_invalidations",
                row: &row_name,
                column: "payload",
            };
            let sealed: Vec<u8> = row.try_get(2)?;
            out.push(InvalidationEntry {
                seq: u64::try_from(seq).map_err(|e| malformed(place, e))?,
                at: ts(row.try_get(1)?),
                invalidation: self.open_json(&mut conn, &place, &sealed).await?,
            });
        }
        Ok(out)
    }

    async fn last_invalidation(&self, tenant: TenantId) -> Result<u64> {
        let row = sqlx::query("SELECT invalidation_seq FROM tenants WHERE id = $1")
            .bind(tenant.sql())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NoTenant(tenant))?;
        let seq: i64 = row.try_get(0)?;
        u64::try_from(seq).map_err(|e| malformed(format!("tenant {tenant}"), e))
    }

    async fn prune_invalidations(&self, tenant: TenantId, before: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM jira_invalidations WHERE tenant_id = $1 AND at < $2")
            .bind(tenant.sql())
            .bind(before.as_unix_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn pause_quota(&self, tenant: TenantId, until: Timestamp) -> Result<Timestamp> {
        let row = sqlx::query(
            "UPDATE tenants SET quota_paused_until = CASE \
               WHEN quota_paused_until IS NULL OR quota_paused_until < $1 THEN $1 \
               ELSE quota_paused_until END \
             WHERE id = $2 RETURNING quota_paused_until",
        )
        .bind(until.as_unix_millis())
        .bind(tenant.sql())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NoTenant(tenant))?;
        Ok(ts(row.try_get(0)?))
    }

    async fn quota_pause(&self, tenant: TenantId) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT quota_paused_until FROM tenants WHERE id = $1")
            .bind(tenant.sql())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NoTenant(tenant))?;
        let until: Option<i64> = row.try_get(0)?;
        Ok(until.map(ts))
    }

    async fn tenant_storage_bytes(&self, tenant: TenantId) -> Result<u64> {
        let row = sqlx::query(
            "SELECT \
               CAST((SELECT COALESCE(SUM(LENGTH(name) + LENGTH(description)), 0) FROM structures WHERE tenant_id = $1) \
                  + (SELECT COALESCE(SUM(LENGTH(snapshot)), 0) FROM forests WHERE tenant_id = $1) \
                  + (SELECT COALESCE(SUM(LENGTH(config)), 0) FROM generators WHERE tenant_id = $1) \
                  + (SELECT COALESCE(SUM(LENGTH(config)), 0) FROM views WHERE tenant_id = $1) AS BIGINT)",
        )
        .bind(tenant.sql())
        .fetch_one(&self.pool)
        .await?;
        let bytes: i64 = row.try_get(0)?;
        u64::try_from(bytes).map_err(|e| malformed("tenant storage", e))
    }

    async fn remember_webhook_token(
        &self,
        tenant: TenantId,
        identity: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        if identity.is_empty() || identity.len() > 128 {
            return Err(StoreError::Invalid(
                "a webhook token's identity is 1 to 128 bytes long".into(),
            ));
        }
        // A row whose token expired (not pruned yet) is taken over; a live one is left alone.
        let done = sqlx::query(
            "INSERT INTO webhook_tokens (tenant_id, identity, expires) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, identity) DO UPDATE SET expires = excluded.expires \
             WHERE webhook_tokens.expires < $4",
        )
        .bind(tenant.sql())
        .bind(identity)
        .bind(expires.as_unix_millis())
        .bind(now.as_unix_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn forget_webhook_token(&self, tenant: TenantId, identity: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhook_tokens WHERE tenant_id = $1 AND identity = $2")
            .bind(tenant.sql())
            .bind(identity)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune_webhook_tokens(&self, tenant: TenantId, now: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM webhook_tokens WHERE tenant_id = $1 AND expires < $2")
            .bind(tenant.sql())
            .bind(now.as_unix_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<u64> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let head = sqlx::query(concat!(
            "SELECT seq, mac FROM audit_head WHERE id = 1",
            for_update!()
        ))
        .fetch_one(&mut *tx)
        .await?;
        let last: i64 = head.try_get(0)?;
        let last_mac: Vec<u8> = head.try_get(1)?;
        let prev = if last == 0 {
            GENESIS
        } else {
            mac32(&last_mac).ok_or_else(|| malformed("audit_head", "the MAC is not 32 bytes"))?
        };
        let seq = u64::try_from(last).map_err(|e| malformed("audit_head", e))? + 1;
        let mac = audit::entry_mac(&self.audit_key, &prev, seq, entry);
        let seq_sql = last + 1;
        sqlx::query(
            "INSERT INTO audit_log (seq, tenant_id, actor, action, objects, outcome, at, client, request_id, mac) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(seq_sql)
        .bind(entry.tenant.map(TenantId::sql))
        .bind(entry.actor.as_ref().map(ActorId::as_str))
        .bind(entry.action.as_str())
        .bind(entry.objects.join(" "))
        .bind(entry.outcome.as_str())
        .bind(entry.at.as_unix_millis())
        .bind(entry.client.map(|c| c.to_string()))
        .bind(entry.request_id.as_deref())
        .bind(mac.as_slice())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, mac = $2, checkpoint_mac = $3 WHERE id = 1")
            .bind(seq_sql)
            .bind(mac.as_slice())
            .bind(audit::checkpoint_mac(&self.audit_key, b"head", seq, &mac).as_slice())
            .execute(&mut *tx)
            .await?;
        if seq.is_multiple_of(CHECKPOINT_EVERY) {
            sqlx::query(
                "INSERT INTO audit_checkpoints (seq, mac, checkpoint_mac) VALUES ($1, $2, $3)",
            )
            .bind(seq_sql)
            .bind(mac.as_slice())
            .bind(audit::checkpoint_mac(&self.audit_key, b"checkpoint", seq, &mac).as_slice())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(seq)
    }

    async fn audit_entries(
        &self,
        tenant: TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        sqlx::query(
            "SELECT seq, tenant_id, actor, action, objects, outcome, at, client, request_id, mac FROM audit_log \
             WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant.sql())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Self::audit_from_row(row).map_err(|fault| malformed("audit_log", fault)))
        .collect()
    }

    async fn verify_audit(&self) -> Result<AuditReport> {
        let mut verifier = Verifier::new(&self.audit_key);
        let mut entries = 0;
        let mut after = i64::MIN;
        let report = |entries, checkpoints, fault| {
            Ok(AuditReport {
                entries,
                checkpoints,
                fault,
            })
        };
        // The head first: entries appended while verifying are beyond it and are left for the next check.
        let head = sqlx::query("SELECT seq, mac, checkpoint_mac FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        let head = match head {
            None => None,
            Some(row) => {
                let seq: i64 = row.try_get(0)?;
                let seq = u64::try_from(seq).unwrap_or(0);
                let mac: Vec<u8> = row.try_get(1)?;
                let cmac: Vec<u8> = row.try_get(2)?;
                match (mac32(&mac), mac32(&cmac)) {
                    (Some(mac), Some(cmac)) => Some((seq, mac, cmac)),
                    _ => return report(entries, 0, Some(AuditFault::BadCheckpoint { seq })),
                }
            }
        };
        // Only a genuine head bounds the walk; a forged one does not hide what lies behind it.
        let bound = match head {
            Some((seq, mac, cmac)) if audit::checkpoint_mac(&self.audit_key, b"head", seq, &mac) == cmac => {
                i64::try_from(seq).unwrap_or(i64::MAX)
            }
            _ => i64::MAX,
        };
        loop {
            let rows = sqlx::query(
                "SELECT seq, tenant_id, actor, action, objects, outcome, at, client, request_id, mac FROM audit_log \
                 WHERE seq > $1 AND seq <= $3 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(VERIFY_PAGE)
            .bind(bound)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("seq")?;
            for row in &rows {
                let checked = Self::audit_from_row(row).and_then(|entry| verifier.feed(&entry));
                if let Err(fault) = checked {
                    return report(entries, 0, Some(fault));
                }
                entries += 1;
            }
        }
        let mut checkpoints = Vec::new();
        for row in
            sqlx::query("SELECT seq, mac, checkpoint_mac FROM audit_checkpoints WHERE seq <= $1 ORDER BY seq")
                .bind(bound)
                .fetch_all(&self.pool)
                .await?
        {
            let seq: i64 = row.try_get(0)?;
            let seq = u64::try_from(seq).unwrap_or(0);
            let mac: Vec<u8> = row.try_get(1)?;
            let cmac: Vec<u8> = row.try_get(2)?;
            match (mac32(&mac), mac32(&cmac)) {
                (Some(mac), Some(cmac)) => checkpoints.push((seq, mac, cmac)),
                _ => return report(entries, 0, Some(AuditFault::BadCheckpoint { seq })),
            }
        }
        let count = checkpoints.len() as u64;
        if let Err(fault) = verifier.finish(&checkpoints, head) {
            return report(entries, count, Some(fault));
        }
        // Appends move the head in the same transaction, so in any one snapshot no entry lies beyond it: one
        // that does was slipped in.
        let beyond: Option<i64> = sqlx::query(
            "SELECT MIN(seq) FROM audit_log WHERE seq > (SELECT seq FROM audit_head WHERE id = 1)",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        let fault = beyond.map(|seq| AuditFault::BadMac { seq: u64::try_from(seq).unwrap_or(0) });
        report(entries, count, fault)
    }

    async fn create_access_request(
        &self,
        tenant: TenantId,
        request: &NewAccessRequest,
        at: Timestamp,
    ) -> Result<AccessRequestId> {
        if request.duration_minutes == 0 || request.duration_minutes > 8 * 60 {
            return Err(StoreError::Invalid(
                "operator access lasts 1 minute to 8 hours".into(),
            ));
        }
        // The scope names what access is for (`structure:17`), stored in clear for review: ids only.
        audit::token("access scope", &request.scope).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let key = self.current_key(&mut tx, tenant).await?;
        let raw: i64 = sqlx::query(
            "INSERT INTO access_requests (tenant_id, requester, reason, scope, duration_minutes, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id",
        )
        .bind(tenant.sql())
        .bind(request.requester.as_str())
        .bind(Vec::<u8>::new())
        .bind(request.scope.as_str())
        .bind(i64::from(request.duration_minutes))
        .bind(at.as_unix_millis())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let id = AccessRequestId::from_sql(raw).map_err(|e| malformed("access_requests", e))?;
        let row = id.to_string();
        let place = Place {
            tenant,
            table: "access_requests",
            row: &row,
            column: "reason",
        };
        sqlx::query("UPDATE access_requests SET reason = $1 WHERE id = $2")
            .bind(key.seal(&place, request.reason.as_bytes())?)
            .bind(raw)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn decide_access_request(
        &self,
        tenant: TenantId,
        id: AccessRequestId,
        approver: &ActorId,
        approve: bool,
        at: Timestamp,
    ) -> Result<AccessRequest> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let row = sqlx::query(concat!(
            "SELECT requester, status FROM access_requests WHERE tenant_id = $1 AND id = $2",
            for_update!()
        ))
        .bind(tenant.sql())
        .bind(id.sql())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found(tenant, "access request", id))?;
        let requester: String = row.try_get(0)?;
        let status: String = row.try_get(1)?;
        if status != AccessStatus::Pending.as_str() {
            return Err(StoreError::Invalid(format!(
                "access request {id} was already decided"
            )));
        }
        if requester == approver.as_str() {
            return Err(StoreError::Invalid(format!(
                "access request {id} must be decided by someone other than its requester"
            )));
        }
        let status = if approve {
            AccessStatus::Approved
        } else {
            AccessStatus::Denied
        };
        sqlx::query(
            "UPDATE access_requests SET status = $1, decided_by = $2, decided_at = $3 WHERE tenant_id = $4 AND id = $5",
        )
        .bind(status.as_str())
        .bind(approver.as_str())
        .bind(at.as_unix_millis())
        .bind(tenant.sql())
        .bind(id.sql())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT * FROM access_requests WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.sql())
            .bind(id.sql())
            .fetch_one(&mut *tx)
            .await?;
        let request = self.access_request_from_row(&mut tx, tenant, &row).await?;
        tx.commit().await?;
        Ok(request)
    }

    async fn access_requests(&self, tenant: TenantId) -> Result<Vec<AccessRequest>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query("SELECT * FROM access_requests WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.sql())
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.access_request_from_row(&mut conn, tenant, row).await?);
        }
        Ok(out)
    }

    async fn raise_alert(
        &self,
        tenant: TenantId,
        kind: &str,
        subject: &str,
        at: Timestamp,
    ) -> Result<AlertId> {
        // Alerts name what happened and to which ids, never data: both are tokens, like audit entries.
        let kind = audit::token("alert kind", kind).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let subject = audit::token("alert subject", subject).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        self.current_key(&mut tx, tenant).await?;
        let raw: i64 = sqlx::query(
            "INSERT INTO alerts (tenant_id, kind, subject, raised_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(tenant.sql())
        .bind(&kind)
        .bind(&subject)
        .bind(at.as_unix_millis())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        tx.commit().await?;
        AlertId::from_sql(raw).map_err(|e| malformed("alerts", e))
    }

    async fn alerts(&self, tenant: TenantId) -> Result<Vec<Alert>> {
        sqlx::query(
            "SELECT id, kind, subject, raised_at, acknowledged_by FROM alerts WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant.sql())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let by: Option<String> = row.try_get(4)?;
            Ok(Alert {
                id: AlertId::from_sql(row.try_get(0)?).map_err(|e| malformed("alerts", e))?,
                kind: row.try_get(1)?,
                subject: row.try_get(2)?,
                raised_at: ts(row.try_get(3)?),
                acknowledged_by: by.map(|b| actor_id(&b, "alerts")).transpose()?,
            })
        })
        .collect()
    }

    async fn acknowledge_alert(&self, tenant: TenantId, id: AlertId, by: &ActorId) -> Result<()> {
        let done =
            sqlx::query("UPDATE alerts SET acknowledged_by = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(by.as_str())
                .bind(tenant.sql())
                .bind(id.sql())
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(tenant, "alert", id));
        }
        Ok(())
    }

    async fn record_backup(&self, record: &BackupRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO backups (id, created_at, kind, location, size_bytes, sha256, verified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET verified_at = excluded.verified_at",
        )
        .bind(record.id.as_str())
        .bind(record.created_at.as_unix_millis())
        .bind(record.kind.as_str())
        .bind(record.location.as_str())
        .bind(i64::try_from(record.size_bytes).unwrap_or(i64::MAX))
        .bind(record.sha256.as_str())
        .bind(record.verified_at.map(Timestamp::as_unix_millis))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn backups(&self) -> Result<Vec<BackupRecord>> {
        sqlx::query(
            "SELECT id, created_at, kind, location, size_bytes, sha256, verified_at FROM backups ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let size: i64 = row.try_get(4)?;
            let verified: Option<i64> = row.try_get(6)?;
            Ok(BackupRecord {
                id: row.try_get(0)?,
                created_at: ts(row.try_get(1)?),
                kind: row.try_get(2)?,
                location: row.try_get(3)?,
                size_bytes: u64::try_from(size).unwrap_or(0),
                sha256: row.try_get(5)?,
                verified_at: verified.map(ts),
            })
        })
        .collect()
    }

    async fn rotate_master_key(&self, new: &MasterKey) -> Result<u64> {
        let old = self.master();
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let rows = sqlx::query(concat!(
            "SELECT tenant_id, version, master_key_id, wrapped FROM tenant_keys",
            for_update!()
        ))
        .fetch_all(&mut *tx)
        .await?;
        let mut count = 0;
        for row in &rows {
            let tenant =
                TenantId::from_sql(row.try_get(0)?).map_err(|e| malformed("tenant_keys", e))?;
            let version: i64 = row.try_get(1)?;
            let version = u32::try_from(version).map_err(|e| malformed("tenant_keys", e))?;
            let stored: String = row.try_get(2)?;
            if stored != old.id().as_str() {
                return Err(CryptoError::WrongMasterKey {
                    configured: old.id().clone(),
                    stored,
                }
                .into());
            }
            let wrapped: Vec<u8> = row.try_get(3)?;
            let key = old.unwrap_key(tenant, version, &wrapped)?;
            sqlx::query(
                "UPDATE tenant_keys SET master_key_id = $1, wrapped = $2 WHERE tenant_id = $3 AND version = $4",
            )
            .bind(new.id().as_str())
            .bind(new.wrap(tenant, &key)?)
            .bind(tenant.sql())
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await?;
            count += 1;
        }
        sqlx::query(
            "UPDATE deployment_keys SET master_key_id = $1, wrapped = $2 WHERE purpose = 'audit'",
        )
        .bind(new.id().as_str())
        .bind(new.wrap_audit_key(&self.audit_key)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        *self.master.write().unwrap_or_else(PoisonError::into_inner) = new.clone();
        Ok(count + 1)
    }

    async fn rotate_tenant_keys(&self, progress: ProgressFn<'_>) -> Result<RotationSummary> {
        let holder = crypto::random_hex(16)?;
        self.take_rotation_lease(&holder).await?;
        let result = self.rotate_tenant_keys_holding(&holder, progress).await;
        // Released on success and on failure; a crash leaves a lease that expires by itself.
        sqlx::query("DELETE FROM key_rotation WHERE holder = $1").bind(&holder).execute(&self.pool).await?;
        result
    }
}

impl SqlStore {
    /// Takes the rotation lease, or says that another rotation holds it.
    async fn take_rotation_lease(&self, holder: &str) -> Result<()> {
        let now = now_millis();
        let taken = sqlx::query(
            "INSERT INTO key_rotation (id, holder, expires_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE key_rotation.expires_at < $3",
        )
        .bind(holder)
        .bind(now + ROTATION_LEASE_MS)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if taken == 1 {
            Ok(())
        } else {
            Err(StoreError::Invalid(
                "another key rotation is running; try again when it has finished (a crashed one lets go within 10 minutes)"
                    .into(),
            ))
        }
    }

    async fn rotate_tenant_keys_holding(&self, holder: &str, progress: ProgressFn<'_>) -> Result<RotationSummary> {
        let tenants = self.tenants().await?;
        let mut summary = RotationSummary {
            tenants: tenants.len(),
            reencrypted: 0,
        };
        for (index, tenant) in tenants.iter().enumerate() {
            let id = tenant.id;
            sqlx::query("UPDATE key_rotation SET expires_at = $1 WHERE holder = $2")
                .bind(now_millis() + ROTATION_LEASE_MS)
                .bind(holder)
                .execute(&self.pool)
                .await?;
            // A new version becomes current first: from this commit on every write uses it.
            let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
            let row = sqlx::query(concat!(
                "SELECT key_version FROM tenants WHERE id = $1",
                for_update!()
            ))
            .bind(id.sql())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { continue };
            let current: i64 = row.try_get(0)?;
            let next =
                u32::try_from(current + 1).map_err(|e| malformed(format!("tenant {id}"), e))?;
            let key = Arc::new(DataKey::generate(next)?);
            let master = self.master();
            sqlx::query(
                "INSERT INTO tenant_keys (tenant_id, version, master_key_id, wrapped) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.sql())
            .bind(i64::from(next))
            .bind(master.id().as_str())
            .bind(master.wrap(id, &key)?)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE tenants SET key_version = $1 WHERE id = $2")
                .bind(i64::from(next))
                .bind(id.sql())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            self.keys
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((id, next), Arc::clone(&key));

            let mut done = 0;
            for table in ENCRYPTED {
                let mut report = |reencrypted| {
                    progress(&RotationProgress {
                        tenant: id,
                        tenant_index: index + 1,
                        tenants: tenants.len(),
                        table: table.table,
                        reencrypted,
                    });
                };
                self.reencrypt_table(id, &key, table, &mut done, &mut report)
                    .await?;
                report(done);
            }
            // Nothing refers to the old versions any more: destroy them.
            sqlx::query("DELETE FROM tenant_keys WHERE tenant_id = $1 AND version < $2")
                .bind(id.sql())
                .bind(i64::from(next))
                .execute(&self.pool)
                .await?;
            self.keys
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(t, v), _| *t != id || *v == next);
            summary.reencrypted += done;
        }
        Ok(summary)
    }
}
