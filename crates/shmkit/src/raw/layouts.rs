//! The list of types allowed in shared memory ([`super::Shared`] implementations), in one
//! place so every such claim is reviewed together.

use super::Shared;
use crate::collections::hash_map::layout::{MapRoot, RecordHeader, ShardHeader, Slot, TableHeader};
use crate::store::alloc::{BlockHeader, SizeClass};
use crate::store::directory::{DirectoryEntry, DirectoryPage};
use crate::store::header::{Line, StoreHeader};
use crate::store::registry::RegistrySlot;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use crate::sync::{RobustMutex, SeqLock};

// SAFETY: (all impls below) each type is a primitive atomic, or a `#[repr(C)]` struct made
// only of atomics, fixed-width integers and byte arrays, with size asserts beside its
// definition; every bit pattern is a valid value, and all fields that change after
// publication are atomics.
//
// SAFETY: a primitive atomic: any bit pattern is valid and all access is atomic.
unsafe impl Shared for AtomicU32 {}
// SAFETY: see above.
unsafe impl Shared for AtomicU64 {}
// SAFETY: see above.
unsafe impl Shared for RobustMutex {}
// SAFETY: see above.
unsafe impl Shared for SeqLock {}
// SAFETY: see above. The immutable part is plain integers written before publication.
unsafe impl Shared for StoreHeader {}
// SAFETY: see above.
unsafe impl Shared for RegistrySlot {}
// SAFETY: see above.
unsafe impl Shared for BlockHeader {}
// SAFETY: see above.
unsafe impl Shared for SizeClass {}
// SAFETY: see above; `name` is a byte array only ever accessed through racy byte copies.
unsafe impl Shared for DirectoryEntry {}
// SAFETY: see above.
unsafe impl Shared for DirectoryPage {}
// SAFETY: see above (hash map root block header, written before publication).
unsafe impl Shared for MapRoot {}
// SAFETY: see above; `Line` is a `#[repr(C, align(128))]` wrapper adding only tail padding.
unsafe impl Shared for Line<ShardHeader> {}
// SAFETY: see above.
unsafe impl Shared for ShardHeader {}
// SAFETY: see above.
unsafe impl Shared for TableHeader {}
// SAFETY: see above.
unsafe impl Shared for Slot {}
// SAFETY: see above; records are immutable after publication except through atomics.
unsafe impl Shared for RecordHeader {}
