//! What this node read from storage in the last second: sessions, and each structure's description with its
//! permission rules. Every request needs both, and storage round trips were most of what a window of rows
//! cost; a second is short enough for the rules of the game:
//!
//! - on this node, a change is seen at once: writes forget the entry when they finish ([`Forget`]), and a read
//!   that overlapped a write does not keep what it read;
//! - on other nodes (the PostgreSQL scale-out), a change of permissions, a rename or a logout takes effect
//!   within [`TTL`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a value read from storage is used without reading it again.
pub const TTL: Duration = Duration::from_secs(1);

/// Entries kept at most; beyond that the stale ones go, and if none is stale, all.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub struct Recent<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    /// Counts forgets: a read that began before one may be older than the write it overlapped.
    forgets: AtomicU64,
}

/// Where a read stood before it went to storage: pass it back to [`Recent::keep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl<K: Eq + Hash + Clone, V: Clone> Recent<K, V> {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            forgets: AtomicU64::new(0),
        }
    }

    /// The value read less than [`TTL`] ago, or a ticket to read it from storage with.
    pub fn get(&self, key: &K) -> Result<V, Ticket> {
        let ticket = Ticket(self.forgets.load(Ordering::Acquire));
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some((value, read_at)) if read_at.elapsed() < TTL => Ok(value.clone()),
            _ => Err(ticket),
        }
    }

    /// Keeps what was read with `ticket`, unless something was forgotten since the ticket was taken.
    pub fn keep(&self, key: K, value: V, ticket: Ticket) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if self.forgets.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, read_at)| read_at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Drops a value after a change to it, so the next request reads storage.
    pub fn forget(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.forgets.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Default for Recent<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_until_forgotten() {
        let recent = Recent::new();
        let ticket = recent.get(&1).unwrap_err();
        recent.keep(1, "a", ticket);
        assert_eq!(recent.get(&1), Ok("a"));
        recent.forget(&1);
        assert!(recent.get(&1).is_err());
    }

    #[test]
    fn a_read_that_overlapped_a_change_is_not_kept() {
        let recent = Recent::new();
        let ticket = recent.get(&1).unwrap_err();
        // A write finishes while the read is at storage: what the read found may predate it.
        recent.forget(&1);
        recent.keep(1, "old", ticket);
        assert!(recent.get(&1).is_err());
    }
}
