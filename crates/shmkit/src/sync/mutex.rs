//! A robust, cross-process mutex: a 32-bit futex word holding the owner's registry id.
//!
//! Word layout: `0` = unlocked; otherwise bits 0..=30 hold the owner's [`OwnerId`] (registry
//! slot in the low 10 bits, slot generation above) and bit 31 says waiters may be sleeping.
//! Beside it, a `state` word whose bit 0 says "a previous owner died inside the critical
//! section and nobody has marked the protected data consistent since".
//!
//! Invariants:
//! - uncontended lock and unlock are one compare-and-swap / one swap each;
//! - a waiter sleeps on a *shared* futex with a timeout; on a schedule (5 ms after it starts
//!   waiting, backing off to every 100 ms), whatever ended its sleeps (timeouts, signals,
//!   wake-ups meant for others), it asks the [`OwnerRegistry`] whether the owner is alive
//!   (the kernel-held liveness lock plus the slot generation, never the PID). A dead owner's
//!   lock is taken over by compare-and-swap, so exactly one waiter wins it;
//! - the mutex is not fair: an unlocking process may take it straight back before a woken
//!   waiter runs (throughput over hand-off; see `docs/BENCHMARKS.md`);
//! - the winner's guard reports [`MutexGuard::recovered`]; the "needs repair" bit stays set
//!   until a guard calls [`MutexGuard::mark_consistent`], so a holder that dies during repair
//!   hands the duty on to the next owner — the data is never silently used as if intact.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-mutex-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let lock = store.test_mutex().unwrap();
//! {
//!     let guard = lock.lock().unwrap();
//!     assert!(!guard.recovered());
//! }
//! Store::remove(&name).unwrap();
//! ```

use super::atomic::{AtomicU32, Ordering, spin_hint};
use super::futex;
use std::time::{Duration, Instant};
use zerocopy::{FromBytes, KnownLayout};

/// Identity of an attached process in a store: registry slot (low 10 bits) and the slot's
/// generation (bits 10..=30). Never 0.
pub type OwnerId = u32;

const WAITERS: u32 = 1 << 31;
const OWNER_MASK: u32 = !WAITERS;
const STATE_INCONSISTENT: u32 = 1;

/// Who is attached, and who is alive: implemented by the store's process registry.
pub trait OwnerRegistry {
    /// The calling process's id in this store, or [`LockError::NotAttached`] if it has none
    /// (a forked child that could not claim a registry slot must not lock under its
    /// parent's id).
    fn my_owner_id(&self) -> Result<OwnerId, LockError>;
    /// False only when the process that held `owner` is certainly gone (its liveness lock
    /// is free or its slot was reused). Must never report a live process as dead.
    fn is_owner_alive(&self, owner: OwnerId) -> bool;
}

/// Errors from taking one of a store's robust locks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock was not acquired within the given time (its owner is alive and holds it).
    #[error("lock not acquired within {0:?}: held by a live process")]
    Timeout(Duration),
    /// This process has no registry slot in the store (a forked child found the registry
    /// full), so it may not take store locks; it retries on the next call.
    #[error("this process has no registry slot in the store (all process slots are in use)")]
    NotAttached,
}

/// The shared layout of a robust mutex (8 bytes, in shared memory).
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct RobustMutex {
    word: AtomicU32,
    state: AtomicU32,
}

const _: () = assert!(size_of::<RobustMutex>() == 8 && align_of::<RobustMutex>() == 4);

/// How long a waiter sleeps before re-checking the owner's liveness, first and at most.
const FIRST_PROBE: Duration = Duration::from_millis(5);
const MAX_PROBE: Duration = Duration::from_millis(100);
const SPIN_LIMIT: u32 = 64;

impl RobustMutex {
    /// A new, unlocked mutex value (for initialising fresh shared memory).
    #[cfg(any(test, feature = "internals"))]
    pub const fn new() -> RobustMutex {
        RobustMutex {
            word: AtomicU32::new(0),
            state: AtomicU32::new(0),
        }
    }

    /// The current owner id, or `None` if unlocked (a racy snapshot, for diagnostics).
    pub fn owner(&self) -> Option<OwnerId> {
        match self.word.load(Ordering::Relaxed) & OWNER_MASK {
            0 => None,
            id => Some(id),
        }
    }

    /// True if a previous owner died and the data has not been marked consistent since.
    pub fn needs_repair(&self) -> bool {
        self.state.load(Ordering::Acquire) & STATE_INCONSISTENT != 0
    }

    /// Takes the lock, waiting as long as its owner is alive.
    pub fn lock<'a, R: OwnerRegistry + ?Sized>(
        &'a self,
        registry: &R,
    ) -> Result<MutexGuard<'a>, LockError> {
        self.lock_inner(registry, None)
    }

    /// Takes the lock, giving up after `timeout` if a live owner still holds it.
    pub fn try_lock_for<'a, R: OwnerRegistry + ?Sized>(
        &'a self,
        registry: &R,
        timeout: Duration,
    ) -> Result<MutexGuard<'a>, LockError> {
        self.lock_inner(registry, Some(timeout))
    }

    /// Takes the lock only if it is free right now.
    #[cfg(any(test, feature = "internals"))]
    pub fn try_lock<'a, R: OwnerRegistry + ?Sized>(
        &'a self,
        registry: &R,
    ) -> Option<MutexGuard<'a>> {
        let me = registry.my_owner_id().ok()?;
        self.word
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| self.guard(false))
    }

    fn guard(&self, took_over: bool) -> MutexGuard<'_> {
        let recovered = took_over || self.needs_repair();
        if took_over {
            self.state.fetch_or(STATE_INCONSISTENT, Ordering::AcqRel);
        }
        MutexGuard {
            mutex: self,
            recovered,
        }
    }

    #[inline]
    fn lock_inner<'a, R: OwnerRegistry + ?Sized>(
        &'a self,
        registry: &R,
        timeout: Option<Duration>,
    ) -> Result<MutexGuard<'a>, LockError> {
        let me = registry.my_owner_id()?;
        debug_assert!(me != 0 && me & WAITERS == 0);
        if self
            .word
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(self.guard(false));
        }
        self.lock_contended(registry, me, timeout)
    }

    #[cold]
    fn lock_contended<'a, R: OwnerRegistry + ?Sized>(
        &'a self,
        registry: &R,
        me: OwnerId,
        timeout: Option<Duration>,
    ) -> Result<MutexGuard<'a>, LockError> {
        // Brief spin: critical sections are short, and a futex sleep costs microseconds.
        for _ in 0..SPIN_LIMIT {
            let cur = self.word.load(Ordering::Relaxed);
            if cur == 0
                && self
                    .word
                    .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Ok(self.guard(false));
            }
            if cur & WAITERS != 0 {
                break;
            }
            spin_hint();
        }
        let start = Instant::now();
        let mut probe = FIRST_PROBE;
        // Liveness probes run on a schedule, whatever ends each sleep: a waiter woken again
        // and again (signals, wake-ups meant for others) must still notice a dead owner.
        let mut next_probe = start + probe;
        loop {
            let cur = self.word.load(Ordering::Relaxed);
            if cur == 0 {
                // Others may still sleep: keep the waiters bit so our unlock wakes them.
                if self
                    .word
                    .compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Ok(self.guard(false));
                }
                continue;
            }
            if cur & WAITERS == 0
                && self
                    .word
                    .compare_exchange(cur, cur | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let expected = cur | WAITERS;
            let now = Instant::now();
            if now >= next_probe {
                let owner = expected & OWNER_MASK;
                if owner != me && !registry.is_owner_alive(owner) {
                    // The owner is gone: take the lock over. Exactly one waiter's CAS wins.
                    if self
                        .word
                        .compare_exchange(
                            expected,
                            me | WAITERS,
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                    {
                        return Ok(self.guard(true));
                    }
                    continue;
                }
                probe = (probe * 2).min(MAX_PROBE);
                next_probe = now + probe;
            }
            let mut wait_for = next_probe.saturating_duration_since(now);
            if let Some(limit) = timeout {
                let left = limit.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(LockError::Timeout(limit));
                }
                wait_for = wait_for.min(left);
            }
            futex::wait(&self.word, expected, wait_for);
        }
    }

    fn unlock(&self) {
        let prev = self.word.swap(0, Ordering::Release);
        if prev & WAITERS != 0 {
            futex::wake_one(&self.word);
        }
    }
}

/// Holds a [`RobustMutex`]; unlocks on drop.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a> {
    mutex: &'a RobustMutex,
    recovered: bool,
}

impl MutexGuard<'_> {
    /// True if a previous owner died while holding this lock (now or earlier) and the data it
    /// protects has not been marked consistent since: the caller must check and repair it,
    /// then call [`MutexGuard::mark_consistent`].
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// Declares the protected data consistent again (after repair).
    pub fn mark_consistent(&mut self) {
        self.mutex
            .state
            .fetch_and(!STATE_INCONSISTENT, Ordering::AcqRel);
        self.recovered = false;
    }
}

impl Drop for MutexGuard<'_> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

#[cfg(test)]
mod tests {
    //! The mutex's own protocol on process-local memory, with a registry whose answers the
    //! test chooses. Cross-process behaviour (real liveness locks, SIGKILLed owners) is in
    //! `tests/crash_lock.rs` and `tests/store_lock.rs`.
    use super::*;
    use std::sync::Arc;

    /// A registry for owner `me` that reports `dead` (if any) as gone and everyone else alive.
    struct Registry {
        me: OwnerId,
        dead: Option<OwnerId>,
    }

    impl OwnerRegistry for Registry {
        fn my_owner_id(&self) -> Result<OwnerId, LockError> {
            Ok(self.me)
        }
        fn is_owner_alive(&self, owner: OwnerId) -> bool {
            Some(owner) != self.dead
        }
    }

    fn id(me: OwnerId) -> Registry {
        Registry { me, dead: None }
    }

    /// Bit 31 of the word, spelled out: the test must not trust the constant it checks.
    const WAITERS_BIT: u32 = 0x8000_0000;

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(Instant::now() < deadline, "never happened: {what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn try_lock_takes_only_a_free_lock_and_the_guard_releases_it() {
        let m = RobustMutex::new();
        let g = m.try_lock(&id(5)).expect("a free lock is taken");
        assert_eq!(m.owner(), Some(5));
        assert!(m.try_lock(&id(6)).is_none(), "a held lock is not taken");
        drop(g);
        assert_eq!(m.owner(), None);
        assert!(m.try_lock(&id(6)).is_some());
    }

    #[test]
    fn a_blocked_waiter_sets_the_waiters_bit_and_the_unlock_wakes_it() {
        let m = Arc::new(RobustMutex::new());
        let g = m.lock(&id(5)).unwrap();
        let waiter = {
            let m = m.clone();
            std::thread::spawn(move || {
                let g = m.lock(&id(6)).unwrap();
                // Acquired after a sleep: the waiters bit stays set for others who may sleep.
                let word = m.word.load(Ordering::Relaxed);
                drop(g);
                word
            })
        };
        wait_for("the waiter announces itself", || {
            m.word.load(Ordering::Relaxed) == 5 | WAITERS_BIT
        });
        drop(g);
        assert_eq!(waiter.join().unwrap(), 6 | WAITERS_BIT);
        assert_eq!(
            m.word.load(Ordering::Relaxed),
            0,
            "the last unlock clears the word"
        );
    }

    #[test]
    fn a_dead_owners_lock_is_taken_over_and_stays_flagged_until_marked_consistent() {
        let m = RobustMutex::new();
        std::mem::forget(m.lock(&id(9)).unwrap()); // owner 9 "dies" holding it
        let survivor = Registry {
            me: 6,
            dead: Some(9),
        };
        let mut g = m.lock(&survivor).unwrap();
        assert!(g.recovered());
        assert_eq!(m.owner(), Some(6));
        drop(g);
        assert!(m.needs_repair(), "not marked consistent: still flagged");
        g = m.lock(&survivor).unwrap();
        assert!(g.recovered(), "the next owner inherits the repair duty");
        g.mark_consistent();
        assert!(!g.recovered() && !m.needs_repair());
        drop(g);
        assert!(!m.lock(&survivor).unwrap().recovered());
    }

    #[test]
    fn a_live_owner_keeps_its_lock_and_a_timed_waiter_gives_up() {
        let m = RobustMutex::new();
        let g = m.lock(&id(9)).unwrap();
        match m.try_lock_for(&id(6), Duration::from_millis(30)) {
            Err(LockError::Timeout(_)) => {}
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(m.owner(), Some(9));
        assert!(!m.needs_repair());
        drop(g);
        assert!(
            !m.try_lock_for(&id(6), Duration::from_secs(60))
                .unwrap()
                .recovered()
        );
    }
}
