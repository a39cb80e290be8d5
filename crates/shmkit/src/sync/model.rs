//! Model checking of the real shared-memory code with loom (built only under `cfg(loom)`).
//!
//! [`check`] runs a loom model over code that works on a real store: the facade's atomics and
//! the racy copies of `raw::Region` go to loom shadows of the mapped memory while an
//! execution runs (see `raw::shadow` for how, and its known weakenings).
//!
//! Invariants the caller keeps:
//! - every execution starts from the same memory: `reset` puts back whatever the previous
//!   execution changed (a store's bytes, saved before the model), with no model thread
//!   running and real memory only;
//! - `discover` runs, one after the other on real atomics, the operations the model's threads
//!   run (from the state `reset` leaves), so that every mapped word more than one thread can
//!   touch is known and shadowed before the threads start. A thread whose path does not
//!   depend on the others' (a writer: readers never write) is covered exactly; a reader's
//!   other words are its own (loom reports a causality violation if one is not);
//! - model threads never wait for each other outside loom (no futex sleeps: one writer takes
//!   the locks, readers use the lock-free paths).
//!
//! ```ignore
//! // Only in loom builds; tests/loom_hash_map.rs checks the hash map's lock-free lookups
//! // against each kind of write this way.
//! shmkit::sync::model::check(&loom::model::Builder::new(), reset, discover, body);
//! ```

use crate::raw::shadow;

/// Leaves the model however `check` ends (a failed model panics out of loom).
struct Leave;

impl Drop for Leave {
    fn drop(&mut self) {
        shadow::leave_model();
    }
}

/// Runs `f` as the model's one writer thread: in `discover`, around the writer's part; in
/// the model, inside the writer thread. The words it stores are then loaded by that thread
/// without a loom operation (see `raw::shadow`: this keeps loom's reduction from hiding a
/// reader's load behind the writer's own load of the same word). In an execution the thread
/// stays the writer until the execution ends, and the scheme's assumptions are checked as it
/// runs: a store by another thread to a word the writer stores, a store by the writer to a
/// word `discover` did not see it store, or a second writer thread, panics.
pub fn writer<R>(f: impl FnOnce() -> R) -> R {
    shadow::as_writer(f)
}

/// Checks `body` in every execution `builder` explores, each started from the memory `reset`
/// leaves; `discover` runs the model's operations sequentially first (see the module docs).
pub fn check<R, D, B>(builder: &loom::model::Builder, reset: R, discover: D, body: B)
where
    R: Fn() + Sync + Send + 'static,
    D: FnOnce(),
    B: Fn() + Sync + Send + 'static,
{
    let _leave = Leave;
    reset();
    shadow::start_recording();
    discover();
    let words = shadow::stop_recording();
    reset();
    builder.check(move || {
        shadow::leave_model();
        reset();
        shadow::enter_model(&words);
        body();
    });
}
