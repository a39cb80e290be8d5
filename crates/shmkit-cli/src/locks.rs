//! The store's locks as the commands report them: the core knows them
//! ([`shmkit::store::locks`]: names, roles, owners' liveness, recovery); this module only
//! picks the abandoned ones.
//!
//! ```text
//! for lock in scan(&store) { println!("{}", lock.describe()); }
//! ```

use shmkit::Store;
pub use shmkit::store::locks::{LockRole, LockState as LockIssue};
use std::time::Duration;

/// Locks held by dead processes or marked as needing repair.
pub fn scan(store: &Store) -> Vec<LockIssue> {
    store
        .lock_states()
        .into_iter()
        .filter(LockIssue::is_abandoned)
        .collect()
}

/// Recovers the abandoned all-or-nothing locks: what was done, and what could not be taken.
pub fn repair_all_or_nothing(store: &Store, timeout: Duration) -> (Vec<String>, Vec<String>) {
    store.recover_abandoned_locks(timeout)
}
