//! The audit log's core: append-only entries chained with HMAC-SHA256, checkpoints, and verification.
//!
//! Each entry's `mac = HMAC-SHA256(audit key, previous mac ‖ canonical(entry))`, the first entry chaining from
//! 32 zero bytes; the audit key is a key of its own, stored only wrapped by the master key (see
//! [`crate::crypto::MasterKey::wrap_audit_key`]), so it is independent of the data keys. The chain
//! is global (one sequence for the deployment), so deleting a tenant's data leaves the log verifiable.
//! Every [`CHECKPOINT_EVERY`] entries a checkpoint records `(seq, mac)` under its own MAC, and a head row
//! records the last `(seq, mac)`: deleting entries from the tail is detected against them.
//!
//! Invariant: an entry has no free-text field. Actions, object ids, client addresses and request ids are
//! bounded ASCII tokens checked by [`NewAuditEntry::new`]; issue field values cannot be written here.

use std::net::IpAddr;

use arbor_core::ids::{ActorId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::crypto::AuditKey;
use crate::model::TenantId;

/// A checkpoint is written after every this many entries.
pub const CHECKPOINT_EVERY: u64 = 1000;
/// The `prev` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// How an audited operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::Ok, Self::Denied, Self::Failed]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// Why an audit entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditInputError {
    // The rejected value is not repeated: it may be exactly the kind of text the audit log must never hold.
    #[error("the audit {what} is not a token of 1 to {max} characters [A-Za-z0-9._:/@-]")]
    NotAToken { what: &'static str, max: usize },
    #[error("an audit entry names at most {max} objects")]
    TooManyObjects { max: usize },
}

const TOKEN_MAX: usize = 128;
const OBJECTS_MAX: usize = 64;

pub(crate) fn token(what: &'static str, value: &str) -> Result<String, AuditInputError> {
    let ok = !value.is_empty()
        && value.len() <= TOKEN_MAX
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/@-".contains(&b));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AuditInputError::NotAToken {
            what,
            max: TOKEN_MAX,
        })
    }
}

/// An entry to append: who, what, which ids, result, when, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub tenant: Option<TenantId>,
    pub actor: Option<ActorId>,
    pub action: String,
    pub objects: Vec<String>,
    pub outcome: Outcome,
    pub at: Timestamp,
    pub client: Option<IpAddr>,
    pub request_id: Option<String>,
}

impl NewAuditEntry {
    /// Checks that the action, object ids and request id are bounded tokens.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenant: Option<TenantId>,
        actor: Option<ActorId>,
        action: &str,
        objects: &[&str],
        outcome: Outcome,
        at: Timestamp,
        client: Option<IpAddr>,
        request_id: Option<&str>,
    ) -> Result<Self, AuditInputError> {
        if objects.len() > OBJECTS_MAX {
            return Err(AuditInputError::TooManyObjects { max: OBJECTS_MAX });
        }
        Ok(Self {
            tenant,
            actor,
            action: token("action", action)?,
            objects: objects
                .iter()
                .map(|o| token("object id", o))
                .collect::<Result<_, _>>()?,
            outcome,
            at,
            client,
            request_id: request_id.map(|r| token("request id", r)).transpose()?,
        })
    }
}

/// A stored entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    pub entry: NewAuditEntry,
    pub mac: [u8; 32],
}

/// The bytes the MAC covers: every field, length-prefixed, so no two entries share an encoding.
pub fn canonical(seq: u64, e: &NewAuditEntry) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"arbor audit v1");
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&e.tenant.map_or(0, TenantId::get).to_be_bytes());
    out.extend_from_slice(&e.at.as_unix_millis().to_be_bytes());
    field(
        &mut out,
        e.actor.as_ref().map_or("", ActorId::as_str).as_bytes(),
    );
    field(&mut out, e.action.as_bytes());
    out.extend_from_slice(&(e.objects.len() as u64).to_be_bytes());
    for object in &e.objects {
        field(&mut out, object.as_bytes());
    }
    field(&mut out, e.outcome.as_str().as_bytes());
    field(
        &mut out,
        e.client
            .map(|c| c.to_string())
            .unwrap_or_default()
            .as_bytes(),
    );
    field(&mut out, e.request_id.as_deref().unwrap_or("").as_bytes());
    out
}

pub fn entry_mac(key: &AuditKey, prev: &[u8; 32], seq: u64, e: &NewAuditEntry) -> [u8; 32] {
    key.mac(&[prev, &canonical(seq, e)])
}

/// The MAC of a checkpoint or of the head row: binds the position to the chain's MAC there.
pub fn checkpoint_mac(key: &AuditKey, kind: &[u8], seq: u64, mac: &[u8; 32]) -> [u8; 32] {
    key.mac(&[b"arbor audit checkpoint v1", kind, &seq.to_be_bytes(), mac])
}

/// What is wrong with the log, at the first place it goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditFault {
    #[error(
        "audit entry {seq} was modified, inserted or reordered: its MAC does not match the chain"
    )]
    BadMac { seq: u64 },
    #[error("audit entry {seq} is missing: the sequence jumps from {prev} to {next}")]
    Missing { seq: u64, prev: u64, next: u64 },
    #[error("audit entry {seq} is unreadable: {reason}")]
    Unreadable { seq: u64, reason: String },
    #[error("audit checkpoint at entry {seq} was modified or forged")]
    BadCheckpoint { seq: u64 },
    #[error("audit entry {seq} does not match the checkpoint recorded for it")]
    CheckpointMismatch { seq: u64 },
    #[error(
        "audit entries from {seq} on were deleted: the log ends at {last}, but {recorded} was recorded"
    )]
    Truncated { seq: u64, last: u64, recorded: u64 },
}

impl AuditFault {
    /// The sequence number of the first bad entry.
    pub fn seq(&self) -> u64 {
        match self {
            Self::BadMac { seq }
            | Self::Missing { seq, .. }
            | Self::Unreadable { seq, .. }
            | Self::BadCheckpoint { seq }
            | Self::CheckpointMismatch { seq }
            | Self::Truncated { seq, .. } => *seq,
        }
    }
}

/// The result of `verify`: how much was checked, and the first fault if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub entries: u64,
    pub checkpoints: u64,
    pub fault: Option<AuditFault>,
}

/// Walks the chain entry by entry; fed in sequence order by the engines.
#[derive(Debug)]
pub(crate) struct Verifier<'k> {
    key: &'k AuditKey,
    prev_mac: [u8; 32],
    last: u64,
    pub(crate) macs_at_checkpoints: Vec<(u64, [u8; 32])>,
}

impl<'k> Verifier<'k> {
    pub(crate) fn new(key: &'k AuditKey) -> Self {
        Self {
            key,
            prev_mac: GENESIS,
            last: 0,
            macs_at_checkpoints: Vec::new(),
        }
    }

    pub(crate) fn feed(&mut self, entry: &AuditEntry) -> Result<(), AuditFault> {
        let expected = self.last + 1;
        if entry.seq != expected {
            return Err(AuditFault::Missing {
                seq: expected,
                prev: self.last,
                next: entry.seq,
            });
        }
        let mac = entry_mac(self.key, &self.prev_mac, entry.seq, &entry.entry);
        if mac != entry.mac {
            return Err(AuditFault::BadMac { seq: entry.seq });
        }
        self.prev_mac = mac;
        self.last = entry.seq;
        if entry.seq.is_multiple_of(CHECKPOINT_EVERY) {
            self.macs_at_checkpoints.push((entry.seq, mac));
        }
        Ok(())
    }

    /// Checks the checkpoints and the head `(seq, mac, checkpoint mac)` against the chain walked so far.
    pub(crate) fn finish(
        &self,
        checkpoints: &[(u64, [u8; 32], [u8; 32])],
        head: Option<(u64, [u8; 32], [u8; 32])>,
    ) -> Result<(), AuditFault> {
        for (seq, mac, cmac) in checkpoints {
            if checkpoint_mac(self.key, b"checkpoint", *seq, mac) != *cmac {
                return Err(AuditFault::BadCheckpoint { seq: *seq });
            }
            if *seq > self.last {
                return Err(AuditFault::Truncated {
                    seq: self.last + 1,
                    last: self.last,
                    recorded: *seq,
                });
            }
            let walked = self.macs_at_checkpoints.iter().find(|(s, _)| s == seq);
            if walked.map(|(_, m)| m) != Some(mac) {
                return Err(AuditFault::CheckpointMismatch { seq: *seq });
            }
        }
        match head {
            Some((seq, mac, cmac)) => {
                if checkpoint_mac(self.key, b"head", seq, &mac) != cmac {
                    return Err(AuditFault::BadCheckpoint { seq });
                }
                if seq > self.last {
                    return Err(AuditFault::Truncated {
                        seq: self.last + 1,
                        last: self.last,
                        recorded: seq,
                    });
                }
                if seq < self.last || mac != self.prev_mac {
                    return Err(AuditFault::BadMac { seq: seq + 1 });
                }
            }
            // The head row exists from the first start on; without it nothing vouches for the log's end.
            None => return Err(AuditFault::BadCheckpoint { seq: self.last }),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> NewAuditEntry {
        NewAuditEntry::new(
            TenantId::new(1).ok(),
            ActorId::new("alice").ok(),
            action,
            &["structure:1", "row:2"],
            Outcome::Ok,
            Timestamp::from_unix_millis(5),
            "::1".parse().ok(),
            Some("req-9"),
        )
        .unwrap()
    }

    fn chain(key: &AuditKey, actions: &[&str]) -> Vec<AuditEntry> {
        let mut prev = GENESIS;
        let mut out = Vec::new();
        for (i, action) in actions.iter().enumerate() {
            let seq = i as u64 + 1;
            let e = entry(action);
            let mac = entry_mac(key, &prev, seq, &e);
            prev = mac;
            out.push(AuditEntry { seq, entry: e, mac });
        }
        out
    }

    fn verify(key: &AuditKey, entries: &[AuditEntry]) -> Result<(), AuditFault> {
        let mut v = Verifier::new(key);
        entries.iter().try_for_each(|e| v.feed(e))
    }

    #[test]
    fn the_chain_detects_changes_gaps_and_swaps() {
        let key = AuditKey::generate().unwrap();
        let entries = chain(&key, &["a", "b", "c", "d"]);
        assert_eq!(verify(&key, &entries), Ok(()));

        let mut modified = entries.clone();
        modified[1].entry.objects[0] = "structure:9".into();
        assert_eq!(verify(&key, &modified), Err(AuditFault::BadMac { seq: 2 }));

        let mut deleted = entries.clone();
        deleted.remove(2);
        assert_eq!(
            verify(&key, &deleted),
            Err(AuditFault::Missing {
                seq: 3,
                prev: 2,
                next: 4
            })
        );

        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        (swapped[1].seq, swapped[2].seq) = (2, 3);
        assert_eq!(verify(&key, &swapped), Err(AuditFault::BadMac { seq: 2 }));

        let other = AuditKey::generate().unwrap();
        assert_eq!(verify(&other, &entries), Err(AuditFault::BadMac { seq: 1 }));
    }

    #[test]
    fn the_canonical_form_separates_fields() {
        let mut a = entry("x");
        let mut b = entry("x");
        a.objects = vec!["ab".into(), "c".into()];
        b.objects = vec!["a".into(), "bc".into()];
        assert_ne!(canonical(1, &a), canonical(1, &b));
        assert_ne!(canonical(1, &a), canonical(2, &a));
    }

    #[test]
    fn entries_take_tokens_only() {
        let at = Timestamp::from_unix_millis(1);
        let token = |action: &str, object: &str| {
            NewAuditEntry::new(None, None, action, &[object], Outcome::Ok, at, None, None)
        };
        assert!(token("structure.read", "structure:1").is_ok());
        assert!(token("structure read", "x").is_err());
        assert!(token("read", "Fix the login page").is_err());
        assert!(token("read", &"x".repeat(129)).is_err());
        let many = vec!["x"; 65];
        assert!(NewAuditEntry::new(None, None, "a", &many, Outcome::Ok, at, None, None).is_err());
    }
}
