//! Keeps a leak sweep and this process's own writers apart.
//!
//! A repair frees allocated blocks that no structure reaches. A block a writer has allocated
//! and not yet published (or unpublished and not yet freed) is such a block, so the sweep
//! must not run while any writer is between those points. Other processes are kept out by
//! the exclusive "attached" lock; threads of the sweeping process by this gate: every write
//! operation of a collection holds a [`WriteGuard`] from before it allocates until after it
//! has published or freed, and the sweep starts only when it has set `sweeping` and seen no
//! writer, then holds new writers back until it ends.
//!
//! Invariants: `writers` counts the write operations in progress in this process;
//! `sweeping` is set by at most one sweep at a time. Both are `SeqCst` (a writer increments
//! then reads `sweeping`; the sweep sets `sweeping` then reads `writers`), so a writer and a
//! sweep can never both go ahead. A forked child starts with a fresh gate (`reset`): the
//! sweep and the writers it may have inherited do not exist in it.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-sweep-gate-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap().set(b"k", b"v").unwrap(); // a write passes the gate
//! assert!(store.repair().after.is_clean()); // the sweep waits for writers, then runs
//! Store::remove(&name).unwrap();
//! ```

use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct SweepGate {
    writers: AtomicU64,
    sweeping: AtomicBool,
}

/// A write operation in progress (see the module docs).
#[must_use]
pub(crate) struct WriteGuard<'a>(&'a SweepGate);

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        // Never below zero: a child forked inside a write reset its gate to zero, and the
        // guard it inherited must not wrap the count.
        let _ = self
            .0
            .writers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| w.checked_sub(1));
    }
}

impl SweepGate {
    /// Enters a write operation; waits while a sweep of this process runs.
    pub(crate) fn enter_write(&self) -> WriteGuard<'_> {
        loop {
            self.writers.fetch_add(1, Ordering::SeqCst);
            if !self.sweeping.load(Ordering::SeqCst) {
                return WriteGuard(self);
            }
            self.writers.fetch_sub(1, Ordering::SeqCst);
            while self.sweeping.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Starts a sweep: false if another sweep of this process runs, or if writers of this
    /// process did not all finish within `wait` (the sweep must then be skipped).
    pub(crate) fn begin_sweep(&self, wait: Duration) -> Result<(), SweepRefused> {
        if self
            .sweeping
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(SweepRefused::AnotherSweep);
        }
        let deadline = Instant::now() + wait;
        while self.writers.load(Ordering::SeqCst) != 0 {
            if Instant::now() >= deadline {
                self.end_sweep();
                return Err(SweepRefused::Writers);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Ends a sweep started by [`SweepGate::begin_sweep`].
    pub(crate) fn end_sweep(&self) {
        self.sweeping.store(false, Ordering::SeqCst);
    }

    /// True while a sweep of this process runs.
    pub(crate) fn is_sweeping(&self) -> bool {
        self.sweeping.load(Ordering::SeqCst)
    }

    /// A fresh gate in a forked child.
    pub(crate) fn reset(&self) {
        self.writers.store(0, Ordering::SeqCst);
        self.sweeping.store(false, Ordering::SeqCst);
    }
}

/// Why a sweep could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SweepRefused {
    /// Another sweep of this process is running.
    AnotherSweep,
    /// Write operations of this process kept running.
    Writers,
}
