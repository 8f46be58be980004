//! The records arbor stores, as typed values. Exactly SPEC §4: ids and configuration, never issue field
//! values — no type here has a field that could carry a summary, a status name or an assignee.
//!
//! Free text that people type (structure names and descriptions, folder names and memos inside the forest,
//! generator and view configurations, settings, access request reasons) is encrypted by the store; the ids,
//! times and enums around it are not, so that queries can select by them.

use std::fmt;
use std::num::NonZeroU64;

use arbor_core::ids::{ActorId, IssueId, Timestamp, Version};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

macro_rules! store_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u64", into = "u64")]
        pub struct $name(NonZeroU64);

        impl $name {
            /// Accepts positive values that fit a signed 64-bit database integer.
            pub fn new(value: u64) -> Result<Self, InvalidId> {
                if value > i64::MAX as u64 {
                    return Err(InvalidId { what: $what, value });
                }
                NonZeroU64::new(value).map(Self).ok_or(InvalidId { what: $what, value })
            }

            pub fn get(self) -> u64 {
                self.0.get()
            }

            pub(crate) fn sql(self) -> i64 {
                // In range by construction.
                self.0.get() as i64
            }

            pub(crate) fn from_sql(value: i64) -> Result<Self, InvalidId> {
                Self::new(u64::try_from(value).unwrap_or(0))
            }
        }

        impl TryFrom<u64> for $name {
            type Error = InvalidId;

            fn try_from(value: u64) -> Result<Self, InvalidId> {
                Self::new(value)
            }
        }

        impl From<$name> for u64 {
            fn from(id: $name) -> u64 {
                id.get()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

/// An id that is zero or does not fit the database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be between 1 and 2^63 - 1, got {value}")]
pub struct InvalidId {
    what: &'static str,
    value: u64,
}

store_id!(
    /// One Jira site served by this deployment. Every stored record belongs to exactly one tenant.
    TenantId,
    "tenant id"
);
store_id!(
    /// A structure, unique across the deployment (but only reachable through its tenant).
    StructureId,
    "structure id"
);
store_id!(
    /// A saved view of a structure.
    ViewId,
    "view id"
);
store_id!(
    /// An operator's request for access to a tenant's data.
    AccessRequestId,
    "access request id"
);
store_id!(
    /// A raised alert.
    AlertId,
    "alert id"
);

/// A tenant: one Jira site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    /// The Jira site's base URL or cloud id; configuration, not tenant data.
    pub site: String,
    pub created_at: Timestamp,
    /// The data key version new records are encrypted with.
    pub key_version: u32,
}

/// A person's arbor settings (a JSON document the server defines; encrypted).
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub account_id: ActorId,
    pub settings: serde_json::Value,
    pub updated_at: Timestamp,
}

/// A signed-in session. The store keeps only the SHA-256 of the session token, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: [u8; 32],
    pub account_id: ActorId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A person's OAuth tokens for Jira (encrypted; `Debug` redacts them).
#[derive(Debug, Clone)]
pub struct OAuthToken {
    pub account_id: ActorId,
    /// The token set as the OAuth client serialised it (access token, refresh token, scopes).
    pub tokens: SecretString,
    pub expires_at: Timestamp,
}

/// What a new structure starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStructure {
    pub name: String,
    pub description: String,
    pub owner: ActorId,
}

/// A structure without its forest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureMeta {
    pub id: StructureId,
    pub name: String,
    pub description: String,
    pub owner: ActorId,
    pub version: Version,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A saved view: its name and its ordered columns with their settings, as the server defines them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewConfig {
    pub name: String,
    pub columns: serde_json::Value,
}

/// A saved view as stored: whose it is, whether it is shared, and its configuration (encrypted). The owner
/// and the flag are in clear, like a structure's owner: they decide who sees and changes the view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedView {
    /// Who made it; never changes (another person saves a copy instead).
    pub owner: ActorId,
    /// Seen by everyone who may view the structure; otherwise only by its owner.
    pub shared: bool,
    pub config: ViewConfig,
}

/// Who did something and when; every mutation carries it into the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: ActorId,
    pub at: Timestamp,
}

impl Actor {
    pub fn new(id: ActorId, at: Timestamp) -> Self {
        Self { id, at }
    }
}

/// What an operator asks for when requesting access to a tenant's data (SPEC §5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessRequest {
    pub requester: ActorId,
    /// Free text; encrypted.
    pub reason: String,
    /// What is asked for, e.g. `structure:17` or `tenant`; an id list, not data.
    pub scope: String,
    pub duration_minutes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessStatus {
    Pending,
    Approved,
    Denied,
}

impl AccessStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub id: AccessRequestId,
    pub requester: ActorId,
    pub reason: String,
    pub scope: String,
    pub duration_minutes: u32,
    pub status: AccessStatus,
    pub decided_by: Option<ActorId>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

/// An alert raised by an unusual-activity detector (SPEC §5.5). `kind` is the detector's name and `subject`
/// the id it is about (a person, a client address): ids, never data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: AlertId,
    pub kind: String,
    pub subject: String,
    pub raised_at: Timestamp,
    pub acknowledged_by: Option<ActorId>,
}

/// A backup that was taken (deployment-wide: a backup covers every tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRecord {
    pub id: String,
    pub created_at: Timestamp,
    /// `daily` or `weekly`, or `manual`.
    pub kind: String,
    pub location: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub verified_at: Option<Timestamp>,
}

/// What a Jira webhook delivery made a node drop from its in-memory caches: issue ids, the changed fields'
/// ids and names, and whether every query result was dropped. Never issue data. Encrypted (field names are
/// the site's configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraInvalidation {
    pub issues: Vec<IssueId>,
    pub fields: Vec<String>,
    pub all_results: bool,
}

impl JiraInvalidation {
    /// Most issues and fields one entry may name (a delivery names a few).
    pub const MAX_ITEMS: usize = 1000;
    /// Longest field id or name.
    pub const MAX_FIELD_LEN: usize = 255;
}

/// One entry of a tenant's Jira invalidations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidationEntry {
    /// Per tenant, from 1, in commit order.
    pub seq: u64,
    pub at: Timestamp,
    pub invalidation: JiraInvalidation,
}
