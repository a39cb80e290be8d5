//! The store allocator: blocks addressed by offsets, one free list per size class.
//!
//! Every block is a 16-byte [`BlockHeader`] followed by its payload; blocks are carved from
//! the end of the heap (`heap_top`) and never move. Small classes carve 32 KiB at a time,
//! large ones one block at a time; freed blocks go on their class's free list and are reused
//! by the next allocation of that class, so steady churn keeps the store bounded. Allocation
//! and free are O(1): one lock, one list push or pop.
//!
//! Invariants (checked by [`crate::Store::verify`]):
//! - `[heap_offset, heap_top)` is a gapless sequence of blocks; each header's `class` gives
//!   its length, and its `tag` is [`TAG_FREE`] or [`TAG_USED`];
//! - a class's free list holds only blocks of that class tagged free, without cycles;
//! - every change is made so a process killed at any instruction leaves at worst a *leaked*
//!   block (tagged free but on no list, or tagged used but reachable from nothing): the list
//!   head is published with one store, and a block is tagged free only after it is unlinked
//!   from wherever the caller kept it. Leaked free-tagged blocks are found by [`crate::Store::verify`] and
//!   relinked by `repair`.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-alloc-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let block = store.alloc(100).unwrap();
//! store.write_bytes(block, b"hello").unwrap();
//! store.free(block).unwrap();
//! assert_eq!(store.alloc(100).unwrap(), block); // reused
//! Store::remove(&name).unwrap();
//! ```

use super::alloc_classes::{
    BLOCK_HEADER_LEN, CLASS_COUNT, block_len_of, capacity_of, carve_count, class_for,
};
use super::attach::Attachment;
use super::error::{AllocError, FreeError};
use crate::raw::OutOfBounds;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::{LockError, RobustMutex};
use zerocopy::{FromBytes, KnownLayout};

/// Tag of a block on (or meant for) a free list.
pub const TAG_FREE: u32 = 0xF4EE_B10C;
/// Tag of an allocated block.
pub const TAG_USED: u32 = 0xA110_CA7E;

/// The 16 bytes before every payload.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct BlockHeader {
    /// Size class; the block's length is `block_len_of(class)`.
    pub class: AtomicU32,
    /// [`TAG_FREE`] or [`TAG_USED`].
    pub tag: AtomicU32,
    /// Free: offset of the next free block of the class (0 = end). Used: the owner id of the
    /// process that allocated it (diagnostics).
    pub link: AtomicU64,
}

const _: () = assert!(size_of::<BlockHeader>() as u64 == BLOCK_HEADER_LEN);

/// One size class's shared state (64 bytes).
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct SizeClass {
    /// Guards this class's list and counters.
    pub lock: RobustMutex,
    /// First free block (offset of its header), 0 if none.
    pub free_head: AtomicU64,
    /// Blocks on the free list.
    pub free_count: AtomicU64,
    /// Blocks of this class ever carved.
    pub carved_count: AtomicU64,
    /// Reserved.
    pub _reserved: [AtomicU64; 4],
}

const _: () = assert!(size_of::<SizeClass>() == 64);

/// Allocator usage of one class (see [`crate::Store::alloc_stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Class index.
    pub class: u32,
    /// Payload capacity of each block.
    pub capacity: u64,
    /// Bytes of each block, header included.
    pub block_len: u64,
    /// Blocks carved.
    pub carved: u64,
    /// Blocks on the free list.
    pub free: u64,
}

/// Allocator usage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes from the heap start to the heap top.
    pub heap_bytes: u64,
    /// Bytes in blocks not on a free list (allocated or leaked), headers included.
    pub used_bytes: u64,
    /// Bytes in blocks on free lists, headers included.
    pub free_bytes: u64,
    /// Classes with at least one carved block.
    pub classes: Vec<ClassStats>,
}

impl Attachment {
    fn class_entry(&self, class: u32) -> Result<&SizeClass, OutOfBounds> {
        self.region
            .get(self.fixed.class_table_offset + class as u64 * 64)
    }

    fn block_header(&self, block: u64) -> Result<&BlockHeader, AllocError> {
        if block < self.fixed.heap_offset
            || block >= self.heap().heap_top.load(Ordering::Acquire)
            || block % 16 != 0
        {
            return Err(AllocError::Corrupt {
                offset: block,
                reason: "block outside the heap",
            });
        }
        Ok(self.region.get(block)?)
    }

    /// Allocates a block with at least `size` payload bytes; returns the payload offset.
    pub(crate) fn alloc(&self, size: u64) -> Result<u64, AllocError> {
        let class = class_for(size).ok_or(AllocError::TooLarge { size })?;
        let entry = self.class_entry(class)?;
        let mut guard = self.lock(&entry.lock)?;
        if guard.recovered() {
            self.repair_class(class, entry)?;
            guard.mark_consistent();
        }
        let mut head = entry.free_head.load(Ordering::Acquire);
        if head == 0 {
            if carve_count(class) == 1 {
                // Large block: carve it straight into use.
                let block = self.carve(class, 1)?;
                let header: &BlockHeader = self.region.get(block)?;
                header.link.store(self.owner_id() as u64, Ordering::Relaxed);
                header.tag.store(TAG_USED, Ordering::Release);
                entry.carved_count.fetch_add(1, Ordering::Relaxed);
                return Ok(block + BLOCK_HEADER_LEN);
            }
            let n = carve_count(class);
            head = self.carve(class, n)?;
            entry.free_head.store(head, Ordering::Release);
            entry.carved_count.fetch_add(n, Ordering::Relaxed);
            entry.free_count.fetch_add(n, Ordering::Relaxed);
        }
        let header = self.block_header(head)?;
        if header.tag.load(Ordering::Acquire) != TAG_FREE
            || header.class.load(Ordering::Relaxed) != class
        {
            return Err(AllocError::Corrupt {
                offset: head,
                reason: "free list entry not free",
            });
        }
        let next = header.link.load(Ordering::Relaxed);
        // Unlink first, then tag: a crash in between leaks this block, never double-hands it.
        entry.free_head.store(next, Ordering::Release);
        header.link.store(self.owner_id() as u64, Ordering::Relaxed);
        header.tag.store(TAG_USED, Ordering::Release);
        entry.free_count.fetch_sub(1, Ordering::Relaxed);
        Ok(head + BLOCK_HEADER_LEN)
    }

    /// Carves `n` blocks of `class` at the heap top; returns the first. Small runs come back
    /// tagged free and linked to each other; a single large block comes back tagged free too
    /// (the caller tags it used).
    fn carve(&self, class: u32, n: u64) -> Result<u64, AllocError> {
        let heap = self.heap();
        let mut guard = self.lock(&heap.lock)?;
        if guard.recovered() {
            // Carving is all-or-nothing (the heap top is published last): nothing to repair.
            guard.mark_consistent();
        }
        let top = heap.heap_top.load(Ordering::Acquire);
        let len = block_len_of(class);
        let total = len
            .checked_mul(n)
            .ok_or(AllocError::TooLarge { size: len })?;
        let new_top = top
            .checked_add(total)
            .ok_or(AllocError::TooLarge { size: total })?;
        self.ensure_committed(new_top)?;
        for j in 0..n {
            let block = top + j * len;
            let header: &BlockHeader = self.region.get(block)?;
            header.class.store(class, Ordering::Relaxed);
            header.tag.store(TAG_FREE, Ordering::Relaxed);
            let next = if j + 1 < n { block + len } else { 0 };
            header.link.store(next, Ordering::Relaxed);
        }
        heap.heap_top.store(new_top, Ordering::Release);
        Ok(top)
    }

    /// Returns a block (by payload offset) to its class's free list.
    pub(crate) fn free(&self, payload: u64) -> Result<(), FreeError> {
        self.free_within(payload, None)
    }

    /// [`Attachment::free`] that gives up with [`FreeError::Busy`] after `wait` while a live
    /// process holds the class lock (maintenance must not hang behind one).
    pub(crate) fn free_within(
        &self,
        payload: u64,
        wait: Option<std::time::Duration>,
    ) -> Result<(), FreeError> {
        let (block, header, class) = self.block_of_payload(payload)?;
        let entry = self
            .class_entry(class)
            .map_err(|_| FreeError::NotABlock(payload))?;
        let locked = match wait {
            None => self.lock(&entry.lock),
            Some(wait) => entry.lock.try_lock_for(self, wait),
        };
        let mut guard = locked.map_err(|e| match e {
            LockError::Timeout(_) => FreeError::Busy(payload),
            _ => FreeError::NotAttached,
        })?;
        if guard.recovered() {
            self.repair_class(class, entry)
                .map_err(|_| FreeError::NotABlock(payload))?;
            guard.mark_consistent();
        }
        match header.tag.load(Ordering::Acquire) {
            TAG_USED => {}
            TAG_FREE => return Err(FreeError::DoubleFree(payload)),
            _ => return Err(FreeError::NotABlock(payload)),
        }
        header
            .link
            .store(entry.free_head.load(Ordering::Relaxed), Ordering::Relaxed);
        header.tag.store(TAG_FREE, Ordering::Release);
        entry.free_head.store(block, Ordering::Release);
        entry.free_count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Payload capacity of an allocated block (by payload offset).
    pub(crate) fn capacity(&self, payload: u64) -> Result<u64, FreeError> {
        let (_, _, class) = self.block_of_payload(payload)?;
        Ok(capacity_of(class))
    }

    /// Capacity of the allocated block whose payload starts at `payload`: an error if it is
    /// not one (outside the heap, misaligned, of no class, or free). For structures that
    /// check a block they are about to write through (a map's spare records, its slab
    /// chunks): one read of the block's header.
    pub(crate) fn used_capacity(&self, payload: u64) -> Result<u64, FreeError> {
        let (_, header, class) = self.block_of_payload(payload)?;
        if header.tag.load(Ordering::Acquire) != TAG_USED {
            return Err(FreeError::NotABlock(payload));
        }
        Ok(capacity_of(class))
    }

    /// The block offset, header and class of the block whose payload starts at `payload`,
    /// after checking it lies in the heap with a valid class.
    fn block_of_payload(&self, payload: u64) -> Result<(u64, &BlockHeader, u32), FreeError> {
        let not_a_block = FreeError::NotABlock(payload);
        let block = payload.checked_sub(BLOCK_HEADER_LEN).ok_or(not_a_block)?;
        let header = self.block_header(block).map_err(|_| not_a_block)?;
        let class = header.class.load(Ordering::Relaxed);
        if class >= CLASS_COUNT {
            return Err(not_a_block);
        }
        Ok((block, header, class))
    }

    /// After a holder of `class`'s lock died: walk the free list, cut it at the first bad
    /// entry (or, on a cycle, once the walk has seen more entries than the heap can hold),
    /// and recount. Blocks cut off are leaked (found and relinked by `repair`).
    fn repair_class(&self, class: u32, entry: &SizeClass) -> Result<(), AllocError> {
        let limit = self.heap().heap_top.load(Ordering::Acquire) / block_len_of(class) + 1;
        let mut count = 0u64;
        let mut prev: Option<&BlockHeader> = None;
        let mut cur = entry.free_head.load(Ordering::Acquire);
        while cur != 0 {
            let ok = count < limit
                && self.block_header(cur).is_ok_and(|h| {
                    h.tag.load(Ordering::Acquire) == TAG_FREE
                        && h.class.load(Ordering::Relaxed) == class
                });
            if !ok {
                match prev {
                    Some(p) => p.link.store(0, Ordering::Release),
                    None => entry.free_head.store(0, Ordering::Release),
                }
                break;
            }
            let h = self.block_header(cur)?;
            count += 1;
            prev = Some(h);
            cur = h.link.load(Ordering::Relaxed);
        }
        if count >= limit {
            // More entries than the heap holds blocks: the walk went round a cycle, and the
            // cut ended it somewhere on it. Count what is left on the list.
            count = 0;
            let mut cur = entry.free_head.load(Ordering::Acquire);
            while cur != 0 && count < limit {
                count += 1;
                cur = self.block_header(cur)?.link.load(Ordering::Relaxed);
            }
        }
        entry.free_count.store(count, Ordering::Relaxed);
        Ok(())
    }

    /// Allocator usage (a racy snapshot while others allocate).
    pub(crate) fn alloc_stats(&self) -> Result<AllocStats, OutOfBounds> {
        let top = self.heap().heap_top.load(Ordering::Acquire);
        let mut stats = AllocStats {
            heap_bytes: top.saturating_sub(self.fixed.heap_offset),
            ..AllocStats::default()
        };
        for class in 0..CLASS_COUNT {
            let e = self.class_entry(class)?;
            let carved = e.carved_count.load(Ordering::Relaxed);
            if carved == 0 {
                continue;
            }
            let free = e.free_count.load(Ordering::Relaxed).min(carved);
            stats.free_bytes += free * block_len_of(class);
            stats.classes.push(ClassStats {
                class,
                capacity: capacity_of(class),
                block_len: block_len_of(class),
                carved,
                free,
            });
        }
        stats.used_bytes = stats.heap_bytes.saturating_sub(stats.free_bytes);
        Ok(stats)
    }
}
