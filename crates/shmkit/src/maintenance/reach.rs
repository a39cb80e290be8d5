//! Leaked *used* blocks: blocks the allocator has handed out that no structure reaches any
//! more (a process was killed between allocating a block and publishing it, or after
//! unpublishing it and before freeing it).
//!
//! The used set comes from a walk of the heap (`[heap_offset, heap_top)`, each block's class
//! gives its length). The reachable set is the directory's pages, every object's root, and
//! every block each object reports owning (`SharedObject::owned_blocks`). Anything used and not
//! reachable is leaked — *if* the reachable set is complete: an object of a kind this build
//! cannot enumerate, or an owned offset that is not an allocated block, makes the result
//! incomplete, and nothing may then be freed.
//!
//! Invariants: read-only; freeing is the caller's decision, and it must make sure no other
//! process is attached (a live process may hold a block it has not published yet).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-reach-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap().set(b"k", b"v").unwrap();
//! let leaks = store.find_unreachable().unwrap();
//! assert!(leaks.complete && leaks.unreachable.is_empty());
//! Store::remove(&name).unwrap();
//! ```

use crate::collections::any::open_any;
use crate::store::Store;
use crate::store::alloc::{BlockHeader, TAG_USED};
use crate::store::alloc_classes::{BLOCK_HEADER_LEN, block_len_of};
use crate::store::directory::DirectoryPage;
use crate::store::header::StoreHeader;
use crate::sync::atomic::Ordering;
use std::collections::HashSet;

/// Result of the reachability analysis.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeakReport {
    /// Payload offsets of allocated blocks no structure reaches.
    pub unreachable: Vec<u64>,
    /// Their total length (headers included).
    pub unreachable_bytes: u64,
    /// False if some object's blocks could not be enumerated: `unreachable` is then an
    /// over-estimate and must not be freed.
    pub complete: bool,
    /// Why the analysis is incomplete.
    pub incomplete_because: Vec<String>,
}

impl Store {
    /// Allocated blocks that no structure reaches (see the module docs). Read-only.
    pub fn find_unreachable(&self) -> Result<LeakReport, String> {
        let store = self;
        let fixed = store.header();
        let header = store.get::<StoreHeader>(0).map_err(|e| e.to_string())?;
        let top = header.heap.0.heap_top.load(Ordering::Acquire);
        // Allocated blocks, by payload offset, with their lengths.
        let mut used: Vec<(u64, u64)> = Vec::new();
        let mut cur = fixed.heap_offset;
        while cur < top {
            let h = store.get::<BlockHeader>(cur).map_err(|e| e.to_string())?;
            let class = h.class.load(Ordering::Relaxed);
            if class >= fixed.class_count {
                return Err(format!(
                    "heap walk stopped at offset {cur}: block class {class}"
                ));
            }
            let len = block_len_of(class);
            if h.tag.load(Ordering::Acquire) == TAG_USED {
                used.push((cur + BLOCK_HEADER_LEN, len));
            }
            cur += len;
        }
        let used_set: HashSet<u64> = used.iter().map(|(p, _)| *p).collect();
        let mut report = LeakReport {
            complete: true,
            ..LeakReport::default()
        };
        let mut reachable: HashSet<u64> = HashSet::new();
        // Directory pages.
        let mut page = header.directory.0.first_page.load(Ordering::Acquire);
        let mut pages = 0u64;
        while page != 0 {
            pages += 1;
            if !used_set.contains(&page) || pages > used.len() as u64 {
                report.complete = false;
                report.incomplete_because.push(format!(
                    "directory page at {page} is not an allocated block"
                ));
                break;
            }
            reachable.insert(page);
            page = store
                .get::<DirectoryPage>(page)
                .map_err(|e| e.to_string())?
                .next
                .load(Ordering::Acquire);
        }
        // Objects.
        for obj in store.objects().map_err(|e| e.to_string())? {
            reachable.insert(obj.root);
            let mut bad: Option<u64> = None;
            let mut mark = |off: u64| {
                if used_set.contains(&off) {
                    reachable.insert(off);
                } else if bad.is_none() {
                    bad = Some(off);
                }
            };
            let owned = match open_any(store, &obj) {
                Ok(Some(object)) => object
                    .owned_blocks(&mut mark)
                    .map(|()| true)
                    .map_err(|e| e.to_string()),
                Ok(None) => Ok(false),
                Err(e) => Err(e.to_string()),
            };
            match owned {
                Ok(true) => {}
                Ok(false) => {
                    report.complete = false;
                    report.incomplete_because.push(format!(
                        "this build cannot list the blocks of {} {:?}",
                        obj.kind.name(),
                        obj.name
                    ));
                }
                Err(e) => {
                    report.complete = false;
                    report.incomplete_because.push(format!(
                        "{} {:?}: {e}",
                        obj.kind.name(),
                        obj.name
                    ));
                }
            }
            if let Some(off) = bad {
                report.complete = false;
                report.incomplete_because.push(format!(
                    "{} {:?} claims offset {off}, which is not an allocated block",
                    obj.kind.name(),
                    obj.name
                ));
            }
        }
        for (payload, len) in used {
            if !reachable.contains(&payload) {
                report.unreachable.push(payload);
                report.unreachable_bytes += len;
            }
        }
        Ok(report)
    }
}
