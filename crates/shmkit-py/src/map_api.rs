//! The one place that names the core HashMap API this crate binds (`shmkit::HashMap`).
//!
//! ```ignore
//! let map = map_api::open(&store, "users", true)?;
//! ```

use shmkit::Store;
pub use shmkit::{HashMap, MapError, MapReport, UpdateAction};

/// Opens the hash map `name` of `store`; creates it (default options) if missing and
/// `create` is true, else fails with `MapError::Directory(DirectoryError::NotFound)`.
pub fn open(store: &Store, name: &str, create: bool) -> Result<HashMap, MapError> {
    if create {
        store.hash_map(name)
    } else {
        store.open_hash_map(name)
    }
}
