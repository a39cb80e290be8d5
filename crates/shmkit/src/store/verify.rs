//! Consistency check and repair of the store layer: header, registry, heap walk, free lists,
//! directory. Collections add their own checks on top (see each collection's `verify`).
//!
//! The check takes every size-class lock (in ascending order) and then the heap lock, so it
//! sees a quiescent allocator; concurrent allocations wait for it.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-verify-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap();
//! let report = store.verify_allocator().unwrap();
//! assert!(report.is_clean(), "{report:?}");
//! assert!(report.used_blocks >= 1); // the map's blocks
//! Store::remove(&name).unwrap();
//! ```

use super::alloc::{BlockHeader, SizeClass, TAG_FREE, TAG_USED};
use super::alloc_classes::{CLASS_COUNT, block_len_of};
use super::attach::Attachment;
use super::error::VerifyError;
use crate::sync::atomic::Ordering;
use crate::sync::{LockError, MutexGuard};
use std::collections::HashSet;

/// One problem found by a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Offset in the store where it was found.
    pub offset: u64,
    /// What is wrong.
    pub what: String,
}

/// The result of [`crate::Store::verify_allocator`] and [`crate::Store::repair_allocator`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Damage that makes (part of) the store unusable; empty when clean.
    pub problems: Vec<Problem>,
    /// Blocks allocated (including ones leaked by killed processes).
    pub used_blocks: u64,
    /// Blocks on free lists.
    pub free_blocks: u64,
    /// Blocks tagged free but on no free list (left by a process killed mid-operation);
    /// harmless, reclaimed by [`crate::Store::repair`].
    pub leaked_free_blocks: u64,
    /// Bytes in those blocks.
    pub leaked_free_bytes: u64,
    /// Locks whose owner died and whose data was not yet marked consistent.
    pub locks_needing_repair: u64,
    /// What a repair changed (empty for a plain check).
    pub repaired: Vec<String>,
    /// What could not be checked because a live process held its lock for longer than
    /// [`MAINTENANCE_LOCK_WAIT`] (the check then stops: the walk needs every lock).
    pub busy: Vec<String>,
}

impl VerifyReport {
    /// True when everything was checked and no problems were found (leaks are not
    /// problems; a busy lock is: nothing behind it was checked).
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.busy.is_empty()
    }
}

/// How long a check or repair waits for a lock that a live process holds before it reports
/// that part as busy and moves on. Maintenance must never hang behind a stopped or stuck
/// process (`shmkit check`, `check --repair` and `gc` run it on every store).
pub const MAINTENANCE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Attachment {
    /// Checks the allocator and directory; with `repair`, relinks leaked free blocks and
    /// recounts the free lists.
    pub(crate) fn verify_store(&self, repair: bool) -> Result<VerifyReport, VerifyError> {
        let mut report = VerifyReport::default();
        let mut classes: Vec<(&SizeClass, MutexGuard<'_>)> =
            Vec::with_capacity(CLASS_COUNT as usize);
        for class in 0..CLASS_COUNT {
            let entry: &SizeClass = self
                .region
                .get(self.fixed.class_table_offset + class as u64 * 64)?;
            let guard = match entry.lock.try_lock_for(self, MAINTENANCE_LOCK_WAIT) {
                Ok(guard) => guard,
                Err(LockError::Timeout(_)) => {
                    report.busy.push(format!(
                        "allocator: size class {class} is locked by a live process"
                    ));
                    return Ok(report);
                }
                Err(e) => return Err(e.into()),
            };
            if guard.recovered() {
                report.locks_needing_repair += 1;
            }
            classes.push((entry, guard));
        }
        let heap = self.heap();
        let heap_guard = match heap.lock.try_lock_for(self, MAINTENANCE_LOCK_WAIT) {
            Ok(guard) => guard,
            Err(LockError::Timeout(_)) => {
                report
                    .busy
                    .push("allocator: the heap is locked by a live process".into());
                return Ok(report);
            }
            Err(e) => return Err(e.into()),
        };
        let top = heap.heap_top.load(Ordering::Acquire);
        let committed = self.region.committed_len();
        if top > committed || top < self.fixed.heap_offset {
            report.problems.push(Problem {
                offset: top,
                what: format!("heap top {top} outside [heap start, committed {committed}]"),
            });
            return Ok(report);
        }
        // Walk every block.
        let mut free_tagged: HashSet<u64> = HashSet::new();
        let mut cur = self.fixed.heap_offset;
        while cur < top {
            let header: &BlockHeader = self.region.get(cur)?;
            let class = header.class.load(Ordering::Relaxed);
            if class >= CLASS_COUNT {
                report.problems.push(Problem {
                    offset: cur,
                    what: format!("block class {class}"),
                });
                break;
            }
            match header.tag.load(Ordering::Acquire) {
                TAG_FREE => {
                    free_tagged.insert(cur);
                }
                TAG_USED => report.used_blocks += 1,
                tag => {
                    report.problems.push(Problem {
                        offset: cur,
                        what: format!("block tag {tag:#x}"),
                    });
                    break;
                }
            }
            cur += block_len_of(class);
        }
        if cur > top {
            report.problems.push(Problem {
                offset: cur,
                what: "last block crosses the heap top".into(),
            });
        }
        // Walk every free list.
        let mut on_lists: HashSet<u64> = HashSet::new();
        for (class, (entry, _)) in classes.iter().enumerate() {
            let mut count = 0u64;
            let mut node = entry.free_head.load(Ordering::Acquire);
            let mut prev: Option<&BlockHeader> = None;
            while node != 0 {
                let bad = if !free_tagged.contains(&node) {
                    Some("free list entry is not a free-tagged block")
                } else if on_lists.contains(&node) {
                    Some("free list entry seen twice (cycle or shared tail)")
                } else {
                    let h: &BlockHeader = self.region.get(node)?;
                    (h.class.load(Ordering::Relaxed) != class as u32)
                        .then_some("free list entry of another class")
                };
                if let Some(what) = bad {
                    report.problems.push(Problem {
                        offset: node,
                        what: what.into(),
                    });
                    if repair {
                        match prev {
                            Some(p) => p.link.store(0, Ordering::Release),
                            None => entry.free_head.store(0, Ordering::Release),
                        }
                        report
                            .repaired
                            .push(format!("cut free list of class {class} at {node}"));
                    }
                    break;
                }
                on_lists.insert(node);
                count += 1;
                let h: &BlockHeader = self.region.get(node)?;
                prev = Some(h);
                node = h.link.load(Ordering::Relaxed);
            }
            report.free_blocks += count;
            if repair && entry.free_count.load(Ordering::Relaxed) != count {
                entry.free_count.store(count, Ordering::Relaxed);
            }
        }
        for &block in free_tagged.difference(&on_lists) {
            let h: &BlockHeader = self.region.get(block)?;
            let class = h.class.load(Ordering::Relaxed);
            report.leaked_free_blocks += 1;
            report.leaked_free_bytes += block_len_of(class);
            if repair {
                let (entry, _) = &classes[class as usize];
                h.link
                    .store(entry.free_head.load(Ordering::Relaxed), Ordering::Relaxed);
                entry.free_head.store(block, Ordering::Release);
                entry.free_count.fetch_add(1, Ordering::Relaxed);
            }
        }
        if repair && report.leaked_free_blocks > 0 {
            report.repaired.push(format!(
                "relinked {} leaked free blocks ({} bytes)",
                report.leaked_free_blocks, report.leaked_free_bytes
            ));
        }
        if repair {
            // Recount carved blocks per class from the walk, so statistics are exact again.
            let mut carved = vec![0u64; CLASS_COUNT as usize];
            let mut cur = self.fixed.heap_offset;
            while cur < top && report.problems.is_empty() {
                let h: &BlockHeader = self.region.get(cur)?;
                let class = h.class.load(Ordering::Relaxed);
                carved[class as usize] += 1;
                cur += block_len_of(class);
            }
            if report.problems.is_empty() {
                for (class, (entry, _)) in classes.iter().enumerate() {
                    entry.carved_count.store(carved[class], Ordering::Relaxed);
                }
            }
            for (_, guard) in classes.iter_mut() {
                if guard.recovered() && report.problems.is_empty() {
                    guard.mark_consistent();
                    report
                        .repaired
                        .push("cleared a dead owner's allocator lock".into());
                }
            }
        }
        drop(heap_guard);
        drop(classes);
        // Directory: every ready entry must point at an allocated block. The allocator locks
        // are released by now, so others may have carved blocks and published objects since
        // `top` was read: compare with the heap top loaded after the entries (an entry is
        // published only after its root block was carved and tagged).
        let objects = self.objects()?;
        let top = heap.heap_top.load(Ordering::Acquire);
        for obj in objects {
            let ok = obj.root >= self.fixed.heap_offset + 16
                && obj.root < top
                && self
                    .region
                    .get::<BlockHeader>(obj.root - 16)
                    .is_ok_and(|h| h.tag.load(Ordering::Acquire) == TAG_USED);
            if !ok {
                report.problems.push(Problem {
                    offset: obj.root,
                    what: format!(
                        "object {:?} points outside any allocated block (top {top})",
                        obj.name
                    ),
                });
            }
        }
        Ok(report)
    }
}
