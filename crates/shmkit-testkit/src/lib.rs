//! Test support shared by the tests of the shmkit workspace (`shmkit`'s and `shmkit-cli`'s
//! integration tests): forked child processes that are always reaped, waits and watchdogs
//! that fail a test instead of hanging it, pipes between processes, unique names for stores
//! and directories, and a small seeded random number generator. Not published.
//!
//! Invariants:
//!
//! - **No `shmkit` types.** The crate does not depend on `shmkit`: `shmkit`'s own integration
//!   tests use it, and a testkit built on `shmkit` would give them a second copy of every
//!   `shmkit` type. Helpers that need a store (store guards, test stores, maps) live in each
//!   crate's `tests/common` and are built on this crate.
//! - **A forked child never returns into the test harness.** [`fork_child`] runs its closure
//!   and leaves with `_exit` (code 101 if the closure panicked), so the harness's destructors
//!   and remaining tests never run twice.
//! - **No child outlives its test.** A [`Child`] is SIGKILLed and reaped when dropped unless
//!   it was waited for (or deliberately [`Child::forget`]-ten); a child of [`fork_child`] is
//!   also SIGKILLed by the kernel when the thread that forked it dies.
//! - **Every wait is bounded.** Waits take a time limit and fail (or report) when it passes;
//!   the limits are guards against hangs, generous for a slow shared machine, never latency
//!   requirements. Nothing here synchronises by sleeping for a guessed time.
//! - **Names carry the creating pid.** [`unique_name`] gives `<prefix>-<test>-<pid>-<n>`, the
//!   form `scripts/clean-test-stores.sh` recognises to remove leftovers of interrupted runs
//!   whose creator is gone (prefixes `test` for the core's tests, `cli` for the CLI's).
//! - **Random runs are reproducible.** [`Rng`] is deterministic per seed and prints its seed
//!   when it is dropped during a panic (a failing test).
//!
//! Linux only (`prctl`, `pipe2`, `/proc`).
//!
//! ```no_run
//! use shmkit_testkit::{Exit, Rng, fork_child, unique_name, wait_until, watchdog};
//! use std::time::Duration;
//!
//! let _dog = watchdog(60); // aborts the test process if the test wedges
//! let name = unique_name("test", "example"); // test-example-<pid>-<n>
//! let mut rng = Rng::new(42);
//! let pick = rng.below(10);
//! let mut child = fork_child(move || if pick < 10 && !name.is_empty() { 0 } else { 1 });
//! assert_eq!(child.wait(), Exit::Code(0)); // at most CHILD_TIMEOUT, then killed + panic
//! assert!(wait_until(Duration::from_secs(10), || true));
//! ```
#![warn(missing_docs)]

mod child;
mod names;
mod pipe;
mod process;
mod rng;
mod wait;

pub use child::{CHILD_TIMEOUT, Child, Exit, KillOnDrop, dead_pid, fork_child, fork_orphanable};
pub use names::{TempDir, unique_name};
pub use pipe::Pipe;
pub use process::{
    cannot_run_here, getpid, gettid, pid_alive, process_running, voluntary_switches,
};
pub use rng::Rng;
pub use wait::{Watchdog, poll_until, wait_for, wait_until, watchdog};
