//! Consistency check, repair, statistics and block ownership of a deque.
//!
//! A dead lock holder leaves at most `count`/`bytes` stale (see `locked`): taking its lock
//! over recounts them. The check walks every entry from `head` to `tail`, checking framing
//! and checksums, and compares the counts. A repair recounts, cuts the deque at the first
//! damaged entry (the entries behind it are lost, the ones before it kept), and replaces a
//! ring whose header or positions are unusable by a fresh empty one (every item lost,
//! reported); the leak sweep then frees the old ring.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-deque-verify-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let d = store.deque("d").unwrap();
//! d.push_back(b"x").unwrap();
//! let report = d.verify().unwrap();
//! assert!(report.is_clean(), "{report:?}");
//! assert_eq!(report.len, 1);
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{RING_HEADER_LEN, START_POS};
use super::ring::Ring;
use super::{DequeError, DequeInner};
use crate::store::verify::{MAINTENANCE_LOCK_WAIT, Problem};
use crate::sync::LockError;
use crate::sync::atomic::Ordering;

/// The result of [`super::Deque::verify`] and [`super::Deque::repair`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DequeReport {
    /// Damage found (after any repair); empty when clean.
    pub problems: Vec<Problem>,
    /// Items (after any repair).
    pub len: u64,
    /// What was repaired (or recovered after a dead lock holder).
    pub repaired: Vec<String>,
    /// Not checked because a live process held the lock longer than
    /// [`MAINTENANCE_LOCK_WAIT`].
    pub busy: Vec<String>,
}

impl DequeReport {
    /// True when the deque was checked and no problems were found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.busy.is_empty()
    }
}

/// Counts and sizes of a deque ([`super::Deque::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DequeStats {
    /// Items.
    pub len: u64,
    /// Bytes of the items.
    pub item_bytes: u64,
    /// Bytes of the ring's data (entries use up to this much).
    pub ring_capacity: u64,
    /// Bytes of entries in the ring (items, framing and padding).
    pub ring_used: u64,
    /// The limit on items, 0 for none.
    pub maxlen: u64,
    /// Items dropped by pushes on a full deque that overwrites.
    pub evicted: u64,
    /// Rings replaced by a larger one.
    pub grows: u64,
    /// Rings replaced by a smaller one.
    pub shrinks: u64,
    /// Repairs after a dead lock holder.
    pub recoveries: u64,
    /// Processes waiting for items now.
    pub pop_waiters: u64,
    /// Processes waiting for room now.
    pub push_waiters: u64,
}

impl DequeInner {
    pub(crate) fn check(&self, repair: bool) -> Result<DequeReport, DequeError> {
        let mut report = DequeReport::default();
        let root = self.root_ref()?;
        let (mut locked, recovered) = match self.lock_within(Some(MAINTENANCE_LOCK_WAIT)) {
            Ok(l) => l,
            Err(DequeError::Lock(LockError::Timeout(_))) => {
                report.busy.push("deque lock".into());
                report.len = root.count.load(Ordering::SeqCst);
                return Ok(report);
            }
            Err(DequeError::Corrupt { offset, reason }) => {
                if repair {
                    report.repaired.push(self.reset(&reason)?);
                } else {
                    report.problems.push(Problem {
                        offset,
                        what: reason,
                    });
                }
                report.len = root.count.load(Ordering::SeqCst);
                return Ok(report);
            }
            Err(e) => return Err(e),
        };
        report.repaired = recovered;
        let walk = locked.walk();
        let (count, bytes) = (locked.count(), root.bytes.load(Ordering::Relaxed));
        if repair {
            report.repaired.extend(locked.recount());
        } else {
            if let Some(damage) = &walk.damage {
                report.problems.push(Problem {
                    offset: self.root,
                    what: format!("damaged entry after {} good ones: {damage}", walk.count),
                });
            }
            if walk.damage.is_none() && (count, bytes) != (walk.count, walk.bytes) {
                report.problems.push(Problem {
                    offset: self.root,
                    what: format!(
                        "the header says {count} items of {bytes} bytes, the entries are {} of {}",
                        walk.count, walk.bytes
                    ),
                });
            }
        }
        report.len = locked.count();
        locked.finish();
        Ok(report)
    }

    /// Replaces an unusable ring by a fresh empty one (under the lock, without validating
    /// what is there); returns what it did.
    fn reset(&self, reason: &str) -> Result<String, DequeError> {
        let root = self.root_ref()?;
        let mut guard = self.store.lock_timeout(&root.lock, MAINTENANCE_LOCK_WAIT)?;
        let _writing = self.store.inner.enter_write();
        let block = self.store.alloc(RING_HEADER_LEN + self.initial_ring)?;
        if let Err(e) = Ring::init(self.region(), block, self.initial_ring) {
            let _ = self.store.free(block);
            return Err(e);
        }
        let lost = root.count.load(Ordering::SeqCst);
        // Positions first (an empty deque in any ring), then the ring.
        root.head.store(START_POS, Ordering::Release);
        root.tail.store(START_POS, Ordering::Release);
        root.ring.store(block, Ordering::Release);
        root.count.store(0, Ordering::SeqCst);
        root.bytes.store(0, Ordering::Relaxed);
        guard.mark_consistent();
        Ok(format!(
            "replaced an unusable ring ({reason}) by an empty one: about {lost} items lost; \
             the leak sweep frees the old ring"
        ))
    }

    pub(crate) fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), DequeError> {
        // Under the lock, so a ring being replaced is not missed.
        let (locked, _) = self.lock_within(Some(MAINTENANCE_LOCK_WAIT))?;
        f(self.root);
        f(locked.ring.block);
        locked.finish();
        Ok(())
    }

    pub(crate) fn stats(&self) -> Result<DequeStats, DequeError> {
        let root = self.root_ref()?;
        let ring = root.ring.load(Ordering::Acquire);
        let capacity = self
            .region()
            .get::<super::layout::RingHeader>(ring)
            .map(|h| h.capacity.load(Ordering::Relaxed))
            .unwrap_or(0);
        Ok(DequeStats {
            len: root.count.load(Ordering::SeqCst),
            item_bytes: root.bytes.load(Ordering::Relaxed),
            ring_capacity: capacity,
            ring_used: root
                .tail
                .load(Ordering::Acquire)
                .wrapping_sub(root.head.load(Ordering::Acquire))
                .min(capacity),
            maxlen: self.maxlen,
            evicted: root.evicted.load(Ordering::Relaxed),
            grows: root.grows.load(Ordering::Relaxed),
            shrinks: root.shrinks.load(Ordering::Relaxed),
            recoveries: root.recoveries.load(Ordering::Relaxed),
            pop_waiters: root.not_empty.waiters() as u64,
            push_waiters: root.not_full.waiters() as u64,
        })
    }
}
