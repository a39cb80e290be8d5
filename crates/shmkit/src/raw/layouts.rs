//! The list of types allowed in shared memory ([`super::Shared`] implementations), in one
//! place so every such claim is reviewed together.

use super::Shared;
use crate::store::alloc::{BlockHeader, SizeClass};
use crate::store::directory::{DirectoryEntry, DirectoryPage};
use crate::store::header::StoreHeader;
use crate::store::registry::RegistrySlot;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use crate::sync::{RobustMutex, SeqLock};

// SAFETY: (all impls below) each type is a primitive atomic, or a `#[repr(C)]` struct made
// only of atomics, fixed-width integers and byte arrays, with size asserts beside its
// definition; every bit pattern is a valid value, and all fields that change after
// publication are atomics.
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
