//! The objects of a store as the command shows them: name, kind, and (for the kinds this
//! build can open) the entry count.
//!
//! Invariants: listing never fails because one object is unreadable; the error is kept in
//! the listing instead. Only the directory read itself can fail (a corrupt directory).
//!
//! ```text
//! for o in list(&store, true)? { println!("{} {} {:?}", o.name, o.kind, o.entries) }
//! ```

use shmkit::raw::OutOfBounds;
use shmkit::{ObjectInfo, ObjectKind, Store};

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
    let _ = with_entries;
    Ok(store
        .objects()?
        .into_iter()
        .map(|o| ObjectListing {
            name: o.name,
            kind: o.kind.name(),
            object_kind: o.kind,
            entries: None,
            error: None,
        })
        .collect())
}

/// Calls `f` with the payload offset of every store block `obj` owns, if this build knows
/// how to enumerate its kind (`Ok(false)` otherwise).
pub fn owned_blocks(
    store: &Store,
    obj: &ObjectInfo,
    f: &mut dyn FnMut(u64),
) -> Result<bool, String> {
    let _ = (store, obj, f);
    Ok(false)
}

/// What checking one object found.
#[derive(Clone, Debug, Default)]
pub struct ObjectCheck {
    /// Damage found.
    pub problems: Vec<String>,
    /// What a repair changed.
    pub repaired: Vec<String>,
    /// One-line summary (e.g. "1000 entries").
    pub summary: String,
}

/// Checks (or repairs) `obj` with its own consistency check; `None` if this build cannot
/// check its kind.
pub fn check(store: &Store, obj: &ObjectInfo, repair: bool) -> Option<ObjectCheck> {
    let _ = (store, obj, repair);
    None
}
