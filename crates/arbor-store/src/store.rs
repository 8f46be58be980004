//! The storage trait: every operation arbor's server and commands need, scoped by tenant.
//!
//! One trait, two implementations ([`crate::SqliteStore`], [`crate::PostgresStore`]); the conformance story
//! tests in `tests/store` run against both. It is object safe (`Arc<dyn Store>`), so the server does not care
//! which engine it talks to.
//!
//! Invariants every implementation keeps:
//! - Every method that touches a tenant's records takes its [`TenantId`] and matches it in every statement: a
//!   record of another tenant is "not found", never returned or changed. The few deployment-wide methods
//!   (tenants, backups, the audit chain's verification, key rotation, expired-session cleanup) say so.
//! - Every journaled mutation appends its [`crate::journal::JournalEntry`] in the same transaction as the change.
//! - Structure-level writes take the version they are based on and fail with
//!   [`crate::StoreError::Conflict`] when it is stale; the check happens inside the transaction.
//! - Values marked encrypted in [`crate::model`] are encrypted before they reach SQL.

use std::collections::BTreeMap;
use std::fmt;

use arbor_core::forest::Forest;
use arbor_core::history::HistoryEntry;
use arbor_core::ids::{ActorId, GeneratorId, Timestamp, Version};
use arbor_core::permission::Rule;
use async_trait::async_trait;

use crate::audit::{AuditEntry, AuditReport, NewAuditEntry};
use crate::crypto::MasterKey;
use crate::error::Result;
use crate::journal::JournalEntry;
use crate::model::{
    AccessRequest, AccessRequestId, Actor, Alert, AlertId, BackupRecord, InvalidationEntry,
    JiraInvalidation, NewAccessRequest, NewStructure, OAuthToken, Person, SavedView, Session,
    StructureId, StructureMeta, Tenant, TenantId, ViewConfig, ViewId,
};

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// Progress of a key rotation, reported after every batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationProgress {
    pub tenant: TenantId,
    /// 1-based position of this tenant among all tenants, and how many there are.
    pub tenant_index: usize,
    pub tenants: usize,
    pub table: &'static str,
    /// Values re-encrypted so far for this tenant (all tables).
    pub reencrypted: u64,
}

/// What a key rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationSummary {
    pub tenants: usize,
    pub reencrypted: u64,
}

/// A progress callback for key rotation.
pub type ProgressFn<'a> = &'a (dyn Fn(&RotationProgress) + Send + Sync);

#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    fn engine(&self) -> Engine;

    /// The schema version of the database (the newest applied migration).
    async fn schema_version(&self) -> Result<i64>;

    // --- Tenants (deployment-wide) ---------------------------------------------------------------------

    /// Creates a tenant for a Jira site, with its first data key.
    async fn create_tenant(&self, site: &str, at: Timestamp) -> Result<TenantId>;
    async fn tenant(&self, tenant: TenantId) -> Result<Option<Tenant>>;
    async fn tenant_by_site(&self, site: &str) -> Result<Option<Tenant>>;
    async fn tenants(&self) -> Result<Vec<Tenant>>;
    /// Deletes every record of the tenant and then its keys (crypto-shredding: anything left in a WAL, a
    /// backup or a dump can no longer be decrypted). Its audit entries stay: they hold ids only.
    async fn delete_tenant(&self, tenant: TenantId) -> Result<()>;

    // --- People and their settings (journaled; settings encrypted) -----------------------------------

    async fn set_settings(
        &self,
        tenant: TenantId,
        account: &ActorId,
        settings: &serde_json::Value,
        at: Timestamp,
    ) -> Result<()>;
    async fn person(&self, tenant: TenantId, account: &ActorId) -> Result<Option<Person>>;
    async fn people(&self, tenant: TenantId) -> Result<Vec<Person>>;

    // --- Sessions (token hashes only) -----------------------------------------------------------------

    async fn create_session(&self, tenant: TenantId, session: &Session) -> Result<()>;
    /// The session with this token hash if it exists and has not expired at `now`.
    async fn session(
        &self,
        tenant: TenantId,
        token_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<Session>>;
    async fn delete_session(&self, tenant: TenantId, token_hash: &[u8; 32]) -> Result<bool>;
    /// Moves a session's end to `expires_at` if that is later (idle expiry slides with use); false when the
    /// session does not exist in this tenant or already ends later.
    async fn extend_session(
        &self,
        tenant: TenantId,
        token_hash: &[u8; 32],
        expires_at: Timestamp,
    ) -> Result<bool>;
    /// Deployment-wide cleanup; returns how many sessions were removed.
    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64>;

    // --- OAuth tokens (encrypted) ---------------------------------------------------------------------

    async fn put_oauth_token(&self, tenant: TenantId, token: &OAuthToken) -> Result<()>;
    async fn oauth_token(&self, tenant: TenantId, account: &ActorId) -> Result<Option<OAuthToken>>;
    async fn delete_oauth_token(&self, tenant: TenantId, account: &ActorId) -> Result<bool>;

    // --- Structures (journaled; names, descriptions, forests and generator configurations encrypted) ---

    async fn create_structure(
        &self,
        tenant: TenantId,
        new: &NewStructure,
        actor: &Actor,
    ) -> Result<StructureMeta>;
    async fn structure(&self, tenant: TenantId, id: StructureId) -> Result<Option<StructureMeta>>;
    async fn structures(&self, tenant: TenantId) -> Result<Vec<StructureMeta>>;
    async fn update_structure(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        name: &str,
        description: &str,
        actor: &Actor,
    ) -> Result<Version>;
    async fn delete_structure(
        &self,
        tenant: TenantId,
        id: StructureId,
        actor: &Actor,
    ) -> Result<()>;

    async fn load_forest(&self, tenant: TenantId, id: StructureId) -> Result<(Version, Forest)>;
    /// Saves the structure's forest. `change` is the history entry (edit, undo, redo or restore) that led from
    /// the stored forest to this one, journaled whole so that the structure's history and undo stacks can be
    /// rebuilt from [`Store::structure_journal`]; `None` journals the whole forest (imports).
    #[allow(clippy::too_many_arguments)]
    async fn save_forest(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        forest: &Forest,
        change: Option<&HistoryEntry>,
        actor: &Actor,
    ) -> Result<Version>;

    async fn set_rules(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        rules: &[Rule],
        actor: &Actor,
    ) -> Result<Version>;
    async fn rules(&self, tenant: TenantId, id: StructureId) -> Result<Vec<Rule>>;

    #[allow(clippy::too_many_arguments)]
    async fn set_generator(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        generator: GeneratorId,
        config: &serde_json::Value,
        actor: &Actor,
    ) -> Result<Version>;
    async fn delete_generator(
        &self,
        tenant: TenantId,
        id: StructureId,
        expected: Version,
        generator: GeneratorId,
        actor: &Actor,
    ) -> Result<Version>;
    async fn generators(
        &self,
        tenant: TenantId,
        id: StructureId,
    ) -> Result<BTreeMap<GeneratorId, serde_json::Value>>;

    // --- Views and their columns (journaled; encrypted) ----------------------------------------------

    /// Creates a view owned by `actor`: personal, or `shared` with everyone who may view the structure.
    async fn create_view(
        &self,
        tenant: TenantId,
        structure: StructureId,
        config: &ViewConfig,
        shared: bool,
        actor: &Actor,
    ) -> Result<ViewId>;
    /// Changes a view's configuration and whether it is shared; its owner stays. Who may do so is the
    /// server's rule (a shared view: its owner or someone with Control), not the store's.
    async fn update_view(
        &self,
        tenant: TenantId,
        view: ViewId,
        config: &ViewConfig,
        shared: bool,
        actor: &Actor,
    ) -> Result<()>;
    async fn delete_view(&self, tenant: TenantId, view: ViewId, actor: &Actor) -> Result<()>;
    /// Every view of the structure, personal ones of every owner included, by id.
    async fn views(
        &self,
        tenant: TenantId,
        structure: StructureId,
    ) -> Result<Vec<(ViewId, SavedView)>>;

    // --- The change journal ---------------------------------------------------------------------------

    /// Up to `limit` entries with a sequence number above `after`, in order, decrypted.
    async fn journal(&self, tenant: TenantId, after: u64, limit: u32) -> Result<Vec<JournalEntry>>;
    /// Up to `limit` entries naming `structure` ([`crate::journal::JournalOp::structure`]) with a sequence
    /// number above `after`, in order, decrypted: what rebuilds the structure's history after a restart.
    async fn structure_journal(
        &self,
        tenant: TenantId,
        structure: StructureId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<JournalEntry>>;

    // --- How the nodes of one deployment keep their caches coherent and share Jira's quota pause ------

    /// Appends what a webhook delivery invalidated; returns its sequence number (per tenant, from 1; on
    /// every engine numbers become visible in order, so a reader never skips one).
    async fn append_invalidation(
        &self,
        tenant: TenantId,
        invalidation: &JiraInvalidation,
        at: Timestamp,
    ) -> Result<u64>;
    /// Up to `limit` entries with a sequence number above `after`, in order, decrypted.
    async fn invalidations(
        &self,
        tenant: TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<InvalidationEntry>>;
    /// The last sequence number handed out (0 before the first): where a starting node begins to follow.
    async fn last_invalidation(&self, tenant: TenantId) -> Result<u64>;
    /// Deletes the entries appended before `before`; returns how many.
    async fn prune_invalidations(&self, tenant: TenantId, before: Timestamp) -> Result<u64>;

    /// Records that the tenant's Jira calls are paused until `until` (an exhausted hourly quota); a later end
    /// already recorded is kept. Returns the end now recorded.
    async fn pause_quota(&self, tenant: TenantId, until: Timestamp) -> Result<Timestamp>;
    /// The end of the tenant's recorded quota pause (possibly past), if one was recorded.
    async fn quota_pause(&self, tenant: TenantId) -> Result<Option<Timestamp>>;

    /// The bytes the tenant's current content takes in storage: structures' names and descriptions, forests,
    /// generator and view configurations, as stored (encrypted). What a storage budget is checked against;
    /// removing content lowers it. (The change journal, the history, is not counted.)
    async fn tenant_storage_bytes(&self, tenant: TenantId) -> Result<u64>;
    /// Remembers that a Jira webhook token with `identity` (a digest, 1 to 128 bytes; never the token) was
    /// used, until `expires`. True when it was new: not remembered, or remembered only until before `now`.
    /// Atomic, so of two nodes receiving the same token at once exactly one is told it is new.
    async fn remember_webhook_token(
        &self,
        tenant: TenantId,
        identity: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool>;
    /// Forgets the webhook tokens that expired before `now`; returns how many.
    async fn prune_webhook_tokens(&self, tenant: TenantId, now: Timestamp) -> Result<u64>;
    /// Forgets one webhook token: its delivery was not done (could not be shared), so that Jira's retry with
    /// the same token is taken. True when it was remembered.
    async fn forget_webhook_token(&self, tenant: TenantId, identity: &str) -> Result<bool>;

    // --- The audit log --------------------------------------------------------------------------------

    /// Appends an entry to the chain; returns its sequence number.
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<u64>;
    /// A tenant's entries with a sequence number above `after`, in order.
    async fn audit_entries(
        &self,
        tenant: TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    /// Verifies the whole chain (deployment-wide); the report names the first bad entry.
    async fn verify_audit(&self) -> Result<AuditReport>;

    // --- Operator access requests (reason encrypted) ---------------------------------------------------

    async fn create_access_request(
        &self,
        tenant: TenantId,
        request: &NewAccessRequest,
        at: Timestamp,
    ) -> Result<AccessRequestId>;
    /// Approves or denies a pending request. The approver must not be the requester.
    async fn decide_access_request(
        &self,
        tenant: TenantId,
        id: AccessRequestId,
        approver: &ActorId,
        approve: bool,
        at: Timestamp,
    ) -> Result<AccessRequest>;
    async fn access_requests(&self, tenant: TenantId) -> Result<Vec<AccessRequest>>;

    // --- Alerts ---------------------------------------------------------------------------------------

    async fn raise_alert(
        &self,
        tenant: TenantId,
        kind: &str,
        subject: &str,
        at: Timestamp,
    ) -> Result<AlertId>;
    async fn alerts(&self, tenant: TenantId) -> Result<Vec<Alert>>;
    async fn acknowledge_alert(&self, tenant: TenantId, id: AlertId, by: &ActorId) -> Result<()>;

    // --- Backups (deployment-wide) --------------------------------------------------------------------

    async fn record_backup(&self, record: &BackupRecord) -> Result<()>;
    async fn backups(&self) -> Result<Vec<BackupRecord>>;

    // --- Keys (deployment-wide) -----------------------------------------------------------------------

    /// Re-wraps every tenant key and the audit key under `new`, in one transaction, and uses `new` from then
    /// on. Returns how many keys were re-wrapped. The configuration must then be switched to the new key.
    async fn rotate_master_key(&self, new: &MasterKey) -> Result<u64>;
    /// Gives every tenant a new data key version and re-encrypts its records with it in batches, each its own
    /// transaction, so other operations keep working; then destroys the old versions.
    async fn rotate_tenant_keys(&self, progress: ProgressFn<'_>) -> Result<RotationSummary>;
}
