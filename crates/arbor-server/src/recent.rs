//! What this node read from storage in the last second: sessions, and each structure's description with its
//! permission rules. Every request needs both, and storage round trips were most of what a window of rows
//! cost; a second is short enough for the rules of the game:
//!
//! - on this node, a change is seen by every request made after it was answered: the change forgets the entry
//!   when its request is done (`api::Access`), and a read that overlapped that forget does not keep what it
//!   read (a change whose request was cancelled mid-write is covered by the TTL only);
//! - on other nodes (the PostgreSQL scale-out), a change of permissions, a rename or a logout takes effect
//!   within [`TTL`], counted from when the read that kept the old value began.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a value read from storage is used without reading it again.
pub const TTL: Duration = Duration::from_secs(1);

/// Entries kept at most: beyond that, the stale ones go, and if that is not enough, all of them.
const MAX_ENTRIES: usize = 100_000;

/// Stale entries are swept out every this many keeps, so the map holds about a second's worth of reads.
const SWEEP_EVERY: u64 = 1024;

#[derive(Debug)]
pub struct Recent<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    /// Counts forgets: a read that began before one may be older than the write it overlapped.
    forgets: AtomicU64,
    keeps: AtomicU64,
}

/// When a read began and how many forgets had happened by then: pass it back to [`Recent::keep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    forgets: u64,
    /// The value's age is counted from here, not from when the read came back.
    at: Instant,
}

impl<K: Eq + Hash + Clone, V: Clone> Recent<K, V> {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            forgets: AtomicU64::new(0),
            keeps: AtomicU64::new(0),
        }
    }

    /// A ticket for a read from storage that must not use what is kept.
    pub fn ticket(&self) -> Ticket {
        Ticket {
            forgets: self.forgets.load(Ordering::Acquire),
            at: Instant::now(),
        }
    }

    /// The value read less than [`TTL`] ago, or a ticket to read it from storage with.
    pub fn get(&self, key: &K) -> Result<V, Ticket> {
        let ticket = self.ticket();
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some((value, read_at)) if read_at.elapsed() < TTL => Ok(value.clone()),
            _ => Err(ticket),
        }
    }

    /// Keeps what was read with `ticket`, unless something was forgotten since the ticket was taken.
    pub fn keep(&self, key: K, value: V, ticket: Ticket) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if self.forgets.load(Ordering::Acquire) != ticket.forgets {
            return;
        }
        let keeps = self.keeps.fetch_add(1, Ordering::Relaxed);
        if keeps.is_multiple_of(SWEEP_EVERY) || entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, read_at)| read_at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (value, ticket.at));
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
