//! An eventcount: how a process sleeps until a condition on shared state may have become
//! true (a queue no longer empty, no longer full), and how the process that made it true
//! wakes it, across processes, on a shared futex.
//!
//! Protocol (the waiter's registration and the waker's check are both `SeqCst`, so at least
//! one of them sees the other):
//! - waiter: read `seq`; register (`waiters += 1`); re-check the condition; if still false,
//!   sleep on `seq` while it holds the value read; unregister. Every sleep is at most
//!   [`WAIT_SLICE`], after which the caller re-checks, so a waker killed between its change
//!   and its wake delays a waiter by at most one slice and never strands it;
//! - waker: after making the condition true (its change already stored), if `waiters > 0`,
//!   bump `seq` and wake sleepers. With nobody waiting a notify costs one load.
//!
//! A waiter killed while registered leaves `waiters` raised for good: results stay correct,
//! but every later notify pays a futex wake system call (see `docs/ARCHITECTURE.md`, known
//! gaps). The counts saturate instead of wrapping.
//!
//! ```
//! use shmkit::sync::eventcount::EventCount;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::{Duration, Instant};
//! let ec = EventCount::default();
//! let ready = AtomicBool::new(false);
//! // Nothing sets `ready`: the wait ends at its deadline.
//! let deadline = Instant::now() + Duration::from_millis(5);
//! assert!(!ec.wait_until(|| ready.load(Ordering::SeqCst), Some(deadline)));
//! ready.store(true, Ordering::SeqCst);
//! ec.notify_all();
//! assert!(ec.wait_until(|| ready.load(Ordering::SeqCst), None));
//! ```

use super::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zerocopy::{FromBytes, KnownLayout};

/// Longest single sleep before the waiter re-checks its condition.
pub const WAIT_SLICE: Duration = Duration::from_millis(100);

/// The shared layout of an eventcount (8 bytes).
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct EventCount {
    /// Bumped by every notify that found a waiter; the futex word.
    seq: AtomicU32,
    /// Processes registered to sleep on `seq`.
    waiters: AtomicU32,
}

const _: () = assert!(size_of::<EventCount>() == 8);

/// Unregisters a waiter when dropped (also on unwinding).
struct Registered<'a>(&'a AtomicU32);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        // Saturating: a damaged count must not wrap to "always waiting".
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
}

impl EventCount {
    /// Processes registered as waiting now (a racy snapshot, for statistics).
    pub fn waiters(&self) -> u32 {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Waits until `ready()` returns true (then returns true) or `deadline` passes (then
    /// returns false; `None`: no deadline). `ready` is called once before any registration,
    /// then after registering and after every sleep; it must read the shared state the
    /// waker changes with `SeqCst` loads (or after a `SeqCst` fence).
    pub fn wait_until(&self, mut ready: impl FnMut() -> bool, deadline: Option<Instant>) -> bool {
        if ready() {
            return true;
        }
        loop {
            let seen = self.seq.load(Ordering::SeqCst);
            // Saturated (only a damaged count gets here): sleep without registering (and
            // without unregistering after); every notify wakes anyway, since it sees waiters.
            let registered = self
                .waiters
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_add(1))
                .is_ok()
                .then(|| Registered(&self.waiters));
            if ready() {
                return true;
            }
            let slice = match deadline {
                None => WAIT_SLICE,
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    (deadline - now).min(WAIT_SLICE)
                }
            };
            super::futex::wait(&self.seq, seen, slice);
            drop(registered);
            if ready() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
        }
    }

    /// Wakes up to `count` sleepers if anyone waits (call after the change is stored).
    #[inline]
    pub fn notify(&self, count: u32) {
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.wake(count);
        }
    }

    /// Wakes every sleeper if anyone waits.
    #[inline]
    pub fn notify_all(&self) {
        self.notify(i32::MAX as u32);
    }

    #[cold]
    #[inline(never)]
    fn wake(&self, count: u32) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        super::futex::wake_n(&self.seq, count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn a_notify_wakes_a_sleeping_waiter_long_before_its_slice_ends() {
        let ec = Arc::new(EventCount::default());
        let ready = Arc::new(AtomicBool::new(false));
        let (e, r) = (ec.clone(), ready.clone());
        let waiter = std::thread::spawn(move || {
            let start = Instant::now();
            let ok = e.wait_until(|| r.load(Ordering::SeqCst), None);
            (ok, start.elapsed())
        });
        while ec.waiters() == 0 {
            std::thread::yield_now();
        }
        ready.store(true, Ordering::SeqCst);
        ec.notify(1);
        let (ok, _) = waiter.join().unwrap();
        assert!(ok);
        assert_eq!(ec.waiters(), 0, "the waiter unregistered");
    }

    #[test]
    fn without_a_notify_the_waiter_still_sees_the_change_after_a_slice() {
        // A waker killed before its wake: the waiter's bounded sleep re-checks.
        let ec = Arc::new(EventCount::default());
        let ready = Arc::new(AtomicBool::new(false));
        let (e, r) = (ec.clone(), ready.clone());
        let waiter = std::thread::spawn(move || e.wait_until(|| r.load(Ordering::SeqCst), None));
        while ec.waiters() == 0 {
            std::thread::yield_now();
        }
        ready.store(true, Ordering::SeqCst);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_deadline_ends_the_wait_with_false_and_unregisters() {
        let ec = EventCount::default();
        let deadline = Instant::now() + Duration::from_millis(20);
        assert!(!ec.wait_until(|| false, Some(deadline)));
        assert!(Instant::now() >= deadline);
        assert_eq!(ec.waiters(), 0);
    }

    #[test]
    fn notify_without_waiters_does_not_bump_the_sequence() {
        let ec = EventCount::default();
        ec.notify_all();
        assert_eq!(ec.seq.load(Ordering::SeqCst), 0);
    }
}
