//! The objects of a store as the command shows them: name, kind, and (for the kinds this
//! build can open, through the core's `open_any`) the item count.
//!
//! Invariants: listing never fails because one object is unreadable; the error is kept in
//! the listing instead. Only the directory read itself can fail (a corrupt directory).
//!
//! ```text
//! for o in list(&store, true)? { println!("{} {} {:?}", o.name, o.kind, o.entries) }
//! ```

use shmkit::OutOfBounds;
use shmkit::collections::any::open_any;
use shmkit::{ObjectKind, Store};

/// One object of a store.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectListing {
    /// Its name.
    pub name: String,
    /// Its kind as shown (`hash_map`, `deque`, ...).
    pub kind: String,
    /// The kind itself.
    pub object_kind: ObjectKind,
    /// Entries, when known.
    pub entries: Option<u64>,
    /// Why the object could not be read, if it could not.
    pub error: Option<String>,
}

/// The objects of `store`; with `with_entries`, their entry counts.
pub fn list(store: &Store, with_entries: bool) -> Result<Vec<ObjectListing>, OutOfBounds> {
    Ok(store
        .objects()?
        .into_iter()
        .map(|o| {
            let mut listing = ObjectListing {
                name: o.name.clone(),
                kind: o.kind.name(),
                object_kind: o.kind,
                entries: None,
                error: None,
            };
            if with_entries {
                match open_any(store, &o) {
                    Ok(Some(object)) => listing.entries = object.item_count(),
                    Ok(None) => {}
                    Err(e) => listing.error = Some(e.to_string()),
                }
            }
            listing
        })
        .collect())
}
