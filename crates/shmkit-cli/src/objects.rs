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
            if with_entries && o.kind == ObjectKind::HashMap {
                match store.open_hash_map(&o.name) {
                    Ok(map) => listing.entries = Some(map.len()),
                    Err(e) => listing.error = Some(e.to_string()),
                }
            }
            listing
        })
        .collect())
}

/// What checking one object found.
#[derive(Clone, Debug, Default)]
pub struct ObjectCheck {
    /// Damage found.
    pub problems: Vec<String>,
    /// What a repair changed.
    pub repaired: Vec<String>,
    /// Parts not checked: a live process held their lock too long.
    pub busy: Vec<String>,
    /// One-line summary (e.g. "1000 entries").
    pub summary: String,
}

/// Checks (or repairs) `obj` with its own consistency check; `None` if this build cannot
/// check its kind. (A map's plain check also recovers shards whose writer died, as every
/// taker of a shard lock does; that shows up in `repaired`.)
pub fn check(store: &Store, obj: &ObjectInfo, repair: bool) -> Option<ObjectCheck> {
    if obj.kind != ObjectKind::HashMap {
        return None;
    }
    let mut c = ObjectCheck::default();
    let map = match store.open_hash_map(&obj.name) {
        Ok(m) => m,
        Err(e) => {
            c.problems.push(format!("cannot open: {e}"));
            c.summary = "unreadable".into();
            return Some(c);
        }
    };
    let report = if repair { map.repair() } else { map.verify() };
    match report {
        Ok(r) => {
            c.summary = format!("{} entries", r.entries);
            c.problems = r
                .problems
                .iter()
                .map(|p| format!("offset {}: {}", p.offset, p.what))
                .collect();
            c.repaired = r.repaired;
            c.busy = r.busy;
        }
        Err(e) => {
            c.summary = "check failed".into();
            c.problems.push(e.to_string());
        }
    }
    Some(c)
}
