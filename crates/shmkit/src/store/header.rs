//! The store header: the first page of every store file (see `docs/FORMAT.md`).
//!
//! Invariants:
//! - the *immutable* fields (magic through `heap_offset`) are written once, before the file
//!   is published under its name, and covered by `header_checksum` (XXH3-64, seed 0);
//! - mutable fields are atomics, each group on its own 128-byte line;
//! - `committed_len` only grows, and is published (release) after the file has been grown.
//!
//! ```
//! use shmkit::store::header::{StoreHeader, HEADER_LEN};
//! assert_eq!(size_of::<StoreHeader>() as u64, HEADER_LEN);
//! ```

use crate::sync::RobustMutex;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Bytes 0..8 of every store file.
pub const MAGIC: [u8; 8] = *b"SHMKIT\0\x01";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// `hash_algorithm` value for XXH3-64.
pub const HASH_XXH3_64: u32 = 1;
/// Length of the header page.
pub const HEADER_LEN: u64 = 4096;
/// Number of bytes covered by `header_checksum` (the immutable fields).
pub const CHECKSUMMED_LEN: usize = 80;
/// `flags` bit: the last process to detach removes the store's name
/// (`StoreOptions::remove_when_unused`).
pub const FLAG_REMOVE_WHEN_UNUSED: u32 = 1;
/// Every `flags` bit this build understands.
pub const KNOWN_FLAGS: u32 = FLAG_REMOVE_WHEN_UNUSED;
/// Offset of `committed_len` in the file.
pub const COMMITTED_LEN_OFFSET: u64 = 128;

/// A 128-byte-aligned wrapper: keeps a group of hot fields on its own cache line pair
/// (adjacent-line prefetch makes 128 the right unit on x86). Same size on every target.
#[repr(C, align(128))]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct Line<T>(pub T);

/// Immutable fields, written once at creation (80 bytes, checksummed).
#[repr(C)]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
pub struct ImmutableHeader {
    /// The file's magic, `SHMKIT\0\x01` (see `docs/FORMAT.md`).
    pub magic: [u8; 8],
    /// The format version (1).
    pub format_version: u32,
    /// The key-hash algorithm (1: XXH3-64).
    pub hash_algorithm: u32,
    /// Seed for key hashing in this store.
    pub hash_seed: u64,
    /// Maximum length of the store file; every process reserves this much address space.
    pub reserved_len: u64,
    /// Offset of the process registry.
    pub registry_offset: u64,
    /// Number of registry slots.
    pub registry_slots: u32,
    /// Number of allocator size classes.
    pub class_count: u32,
    /// Offset of the allocator's size-class table.
    pub class_table_offset: u64,
    /// Offset of the first heap byte.
    pub heap_offset: u64,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
    /// Page size the store was laid out with.
    pub page_size: u32,
    /// Options of the store as bits (1: remove when unused, see
    /// [`ImmutableHeader::removes_when_unused`]); other bits are zero.
    pub flags: u32,
}

const _: () = assert!(size_of::<ImmutableHeader>() == CHECKSUMMED_LEN);

/// Growth state: the committed length and the lock serialising growth.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct GrowthState {
    /// Bytes of the file that exist and may be touched. Only grows.
    pub committed_len: AtomicU64,
    /// Serialises `fallocate` + publish.
    pub lock: RobustMutex,
    /// Times the store grew.
    pub grow_count: AtomicU64,
}

/// Heap state: the bump pointer and its lock.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct HeapState {
    /// Serialises carving new blocks from the end of the heap.
    pub lock: RobustMutex,
    /// Reserved, zero.
    pub _pad: u64,
    /// Offset one past the last carved block. Blocks `[heap_offset, heap_top)` are walkable.
    pub heap_top: AtomicU64,
}

/// Directory state: its lock and the first directory page.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct DirectoryState {
    /// Serialises directory changes.
    pub lock: RobustMutex,
    /// Reserved, zero.
    pub _pad: u64,
    /// Offset of the first directory page, 0 if none yet.
    pub first_page: AtomicU64,
    /// Number of published objects.
    pub object_count: AtomicU64,
}

/// Registry state: counters for display.
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct RegistryState {
    /// Total attaches over the store's life.
    pub attach_count: AtomicU64,
    /// Dead processes' slots reclaimed.
    pub reclaimed_count: AtomicU64,
    /// Spare 32-bit word for tests of the robust mutex ([`crate::Store::test_mutex`]).
    pub test_mutex: RobustMutex,
    /// Reserved.
    pub _spare: AtomicU32,
    /// Reserved.
    pub _spare2: AtomicU32,
}

/// The whole header page.
#[repr(C)]
#[derive(Debug, FromBytes, KnownLayout)]
pub struct StoreHeader {
    /// Immutable, checksummed fields.
    pub fixed: ImmutableHeader,
    /// XXH3-64 of `fixed`.
    pub header_checksum: u64,
    /// Zero.
    pub _pad0: [u8; 40],
    /// At [`COMMITTED_LEN_OFFSET`].
    pub growth: Line<GrowthState>,
    /// Heap bump state.
    pub heap: Line<HeapState>,
    /// Directory.
    pub directory: Line<DirectoryState>,
    /// Registry counters.
    pub registry: Line<RegistryState>,
    /// Zero; room for later versions.
    pub _reserved: [u8; HEADER_LEN as usize - 128 - 4 * 128],
}

const _: () = assert!(size_of::<StoreHeader>() as u64 == HEADER_LEN);
const _: () = assert!(std::mem::offset_of!(StoreHeader, growth) as u64 == COMMITTED_LEN_OFFSET);

impl ImmutableHeader {
    internal! {
        /// The bytes covered by the checksum, in file order (little-endian, as stored: the
        /// crate refuses to build for big-endian targets).
        fn to_bytes(self) -> [u8; CHECKSUMMED_LEN] {
            zerocopy::transmute!(self)
        }
    }

    internal! {
        /// Parses the first [`CHECKSUMMED_LEN`] bytes of a file.
        fn from_bytes(b: &[u8; CHECKSUMMED_LEN]) -> ImmutableHeader {
            zerocopy::transmute!(*b)
        }
    }

    /// True if the store was created to be removed by the last process to detach (see
    /// [`crate::StoreOptions::remove_when_unused`]).
    pub fn removes_when_unused(&self) -> bool {
        self.flags & FLAG_REMOVE_WHEN_UNUSED != 0
    }

    internal! {
        /// XXH3-64 of the immutable bytes.
        fn checksum(&self) -> u64 {
            xxhash_rust::xxh3::xxh3_64(&self.to_bytes())
        }
    }
}

// The byte offsets documented in docs/FORMAT.md.
const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(StoreHeader, header_checksum) == 80);
    assert!(offset_of!(StoreHeader, heap) == 256);
    assert!(offset_of!(StoreHeader, directory) == 384);
    assert!(offset_of!(StoreHeader, registry) == 512);
    assert!(offset_of!(GrowthState, lock) == 8);
    assert!(offset_of!(HeapState, heap_top) == 16);
    assert!(offset_of!(DirectoryState, first_page) == 16);
    assert!(offset_of!(RegistryState, test_mutex) == 16);
};
