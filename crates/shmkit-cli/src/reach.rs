//! Leaked used blocks are found by the core ([`shmkit::Store::find_unreachable`], see
//! `shmkit::store::reach`); the commands decide whether to free them.
//!
//! ```text
//! let leaks = find_unreachable(&store)?;
//! ```

use shmkit::Store;
pub use shmkit::store::reach::LeakReport;

/// See [`Store::find_unreachable`].
pub fn find_unreachable(store: &Store) -> Result<LeakReport, String> {
    store.find_unreachable()
}
